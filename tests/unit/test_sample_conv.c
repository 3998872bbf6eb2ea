/*
 * test_sample_conv.c - a record's conversation (sample.h): messages, or
 * system/prompt/response, as chat turns, and the bad records named by
 * their field.
 */
#include <string.h>

#include "check.h"
#include "sample.h"

/* The record of the last get(): the turns borrow its strings. */
static json_t *rec;

/* sample_conv_get on the JSON text s: its return value, and the field and
 * message of a failure */
static int
get(struct sample_conv *cv, const char *s, const char *field, const char *why_part)
{
    const char *why = NULL;
    int rc;

    json_decref(rec);
    rec = json_loads(s, 0, NULL);
    CHECK(rec != NULL);
    rc = sample_conv_get(cv, rec, &why);
    if (field) {
        CHECK(rc == -1);
        CHECK_STREQ(sbuf_str(&cv->field), field);
        CHECK_MSG(why && strstr(why, why_part), "%s", why ? why : "(null)");
    }
    return rc;
}

int
main(void)
{
    struct sample_conv cv = SAMPLE_CONV_INIT;

    /* the flat form: [system,] user [, assistant] */
    CHECK(get(&cv, "{\"prompt\":\"p\",\"system\":\"s\",\"response\":\"r\"}", NULL, NULL) == 0);
    CHECK(cv.n == 3 && !cv.messages && cv.response);
    CHECK(cv.m[0].role == CHAT_ROLE_SYSTEM && cv.m[1].role == CHAT_ROLE_USER &&
          cv.m[2].role == CHAT_ROLE_ASSISTANT);
    /* an empty or null system is no turn */
    CHECK(get(&cv, "{\"prompt\":\"p\",\"system\":null}", NULL, NULL) == 0);
    CHECK(cv.n == 1 && !cv.response);
    CHECK(get(&cv, "{\"prompt\":\"p\",\"system\":\"\"}", NULL, NULL) == 0 && cv.n == 1);

    /* messages, with reasoning on an assistant turn (null: none) */
    CHECK(get(&cv, "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
              "{\"role\":\"assistant\",\"content\":\"a\",\"reasoning_content\":\"r\"},"
              "{\"role\":\"tool\",\"content\":\"t\"},"
              "{\"role\":\"assistant\",\"content\":\"b\",\"reasoning_content\":null}]}",
              NULL, NULL) == 0);
    CHECK(cv.n == 4 && cv.messages && cv.response);
    CHECK_STREQ(cv.m[1].reasoning, "r");
    CHECK(cv.m[2].role == CHAT_ROLE_TOOL && cv.m[3].reasoning == NULL);

    /* bad records, each named by its field */
    get(&cv, "{\"prompt\":\"p\",\"messages\":[]}", "prompt", "not both");
    get(&cv, "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"response\":\"r\"}",
        "response", "not both");
    get(&cv, "{\"messages\":{}}", "messages", "not an array");
    get(&cv, "{\"messages\":[]}", "messages", "empty");
    get(&cv, "{\"messages\":[1]}", "messages[0]", "not an object");
    get(&cv, "{\"messages\":[{\"content\":\"q\"}]}", "messages[0].role", "missing");
    get(&cv, "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"bot\",\"content\":\"a\"}]}",
        "messages[1].role", "not one of");
    get(&cv, "{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content", "missing");
    get(&cv, "{\"messages\":[{\"role\":\"user\",\"content\":[1]}]}", "messages[0].content",
        "not a string");
    get(&cv, "{\"messages\":[{\"role\":\"user\",\"content\":\"q\",\"reasoning_content\":\"r\"}]}",
        "messages[0].reasoning_content", "assistant");
    get(&cv, "{\"messages\":[{\"role\":\"assistant\",\"content\":\"q\",\"tool_calls\":[]}]}",
        "messages[0].tool_calls", "tool calls");
    get(&cv, "{\"system\":\"s\"}", "prompt", "missing");
    get(&cv, "{\"prompt\":3}", "prompt", "not a string");
    get(&cv, "{\"prompt\":\"p\",\"response\":{}}", "response", "not a string");
    sample_conv_release(&cv);
    json_decref(rec);
    return check_done();
}
