/*
 * sample_conv.c - the conversation of a record (sample.h): "messages",
 * or system/prompt/response, as chat turns.
 */
#include "sample.h"

#include <stdlib.h>
#include <string.h>

#include "rec.h"

static int
bad(struct sample_conv *cv, const char *why_s, const char **why,
    int indexed, size_t i, const char *sub)
{
    sbuf_reset(&cv->field);
    if (indexed)
        sbuf_addf(&cv->field, "messages[%zu]%s", i, sub);
    else
        sbuf_adds(&cv->field, sub);
    *why = why_s;
    return -1;
}

static void
push(struct sample_conv *cv, enum chat_role role, const char *content,
     const char *reasoning)
{
    if (cv->n == cv->cap) {
        cv->cap = cv->cap ? 2 * cv->cap : 8;
        cv->m = xrealloc(cv->m, cv->cap * sizeof(*cv->m));
    }
    cv->m[cv->n++] = (struct chat_msg){role, content, reasoning};
}

/* A string field of rec or NULL; -1 when there but not a string. */
static int
str_field(const json_t *rec, const char *name, const char **out)
{
    const json_t *v = json_object_get(rec, name);

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = json_string_value(v);
    return 0;
}

static int
get_messages(struct sample_conv *cv, const json_t *msgs, const char **why)
{
    size_t i;
    const json_t *m;

    if (!json_is_array(msgs))
        return bad(cv, "not an array", why, 0, 0, "messages");
    if (json_array_size(msgs) == 0)
        return bad(cv, "empty", why, 0, 0, "messages");
    json_array_foreach(msgs, i, m) {
        const json_t *role = json_object_get(m, "role");
        const char *content, *reasoning = NULL;
        enum chat_role r;

        if (!json_is_object(m))
            return bad(cv, "not an object", why, 1, i, "");
        if (!role)
            return bad(cv, "missing", why, 1, i, ".role");
        if (!json_is_string(role) ||
            chat_parse_role(json_string_value(role), &r) < 0)
            return bad(cv, "not one of system, user, assistant, tool", why, 1,
                       i, ".role");
        if (str_field(m, "content", &content) < 0)
            return bad(cv, "not a string", why, 1, i, ".content");
        if (!content)
            return bad(cv, "missing", why, 1, i, ".content");
        if (json_object_get(m, "tool_calls"))
            return bad(cv, "tool calls are not part of posttrain's "
                       "conversations (give the call as content)", why, 1,
                       i, ".tool_calls");
        if (json_is_null(json_object_get(m, "reasoning_content")))
            reasoning = NULL;
        else if (str_field(m, "reasoning_content", &reasoning) < 0)
            return bad(cv, "not a string", why, 1, i, ".reasoning_content");
        if (reasoning && r != CHAT_ROLE_ASSISTANT)
            return bad(cv, "only an assistant turn has reasoning", why, 1,
                       i, ".reasoning_content");
        push(cv, r, content, reasoning);
    }
    cv->messages = 1;
    cv->response = cv->m[cv->n - 1].role == CHAT_ROLE_ASSISTANT;
    return 0;
}

int
sample_conv_get(struct sample_conv *cv, const json_t *rec, const char **why)
{
    static const char *const flat[] = {"prompt", "system", "response"};
    const json_t *msgs = json_object_get(rec, "messages");
    const char *prompt, *system, *response;
    size_t i;

    cv->n = 0;
    cv->messages = cv->response = 0;
    sbuf_reset(&cv->field);
    if (msgs) {
        for (i = 0; i < 3; i++)
            if (json_object_get(rec, flat[i]) &&
                !json_is_null(json_object_get(rec, flat[i])))
                return bad(cv, "a record has messages or prompt/system/"
                           "response, not both", why, 0, 0, flat[i]);
        return get_messages(cv, msgs, why);
    }
    if (str_field(rec, "prompt", &prompt) < 0)
        return bad(cv, "not a string", why, 0, 0, "prompt");
    if (!prompt)
        return bad(cv, "missing", why, 0, 0, "prompt");
    if (str_field(rec, "system", &system) < 0)
        return bad(cv, "not a string", why, 0, 0, "system");
    if (str_field(rec, "response", &response) < 0)
        return bad(cv, "not a string", why, 0, 0, "response");
    if (system && *system)
        push(cv, CHAT_ROLE_SYSTEM, system, NULL);
    push(cv, CHAT_ROLE_USER, prompt, NULL);
    if (response) {
        push(cv, CHAT_ROLE_ASSISTANT, response, NULL);
        cv->response = 1;
    }
    return 0;
}

void
sample_conv_release(struct sample_conv *cv)
{
    free(cv->m);
    sbuf_release(&cv->field);
    cv->m = NULL;
    cv->n = cv->cap = 0;
}

int
sample_prompt_get(struct sample_conv *cv, json_t *rec, const char *system,
                  const char **text, const char **sys, size_t *n, const char **why)
{
    json_t *msgs = json_object_get(rec, "messages"), *sv;

    *text = *sys = NULL;
    *n = 0;
    sbuf_reset(&cv->field);
    if (msgs) {
        json_t *first = json_array_get(msgs, 0);

        if (system && json_is_array(msgs)) {
            json_t *role = json_is_object(first) ? json_object_get(first, "role") : NULL;

            if (json_is_string(role) && !strcmp(json_string_value(role), "system"))
                json_object_set_new(first, "content", json_string(system));
            else
                json_array_insert_new(msgs, 0, json_pack("{s:s,s:s}", "role", "system",
                                                         "content", system));
        }
        if (sample_conv_get(cv, rec, why) < 0)
            return -1;
        *n = cv->n - (size_t)cv->response;
        if (*n == 0) {
            sbuf_adds(&cv->field, "messages");
            *why = "no turn before the assistant's";
            return -1;
        }
        return 0;
    }
    if (rec_get_str(rec, "prompt", text, why) != 0) {
        sbuf_adds(&cv->field, "prompt");
        return -1;
    }
    if (**text == '\0') {
        sbuf_adds(&cv->field, "prompt");
        *why = "empty";
        return -1;
    }
    sv = json_object_get(rec, "system");
    if (sv && !json_is_null(sv) && !json_is_string(sv)) {
        sbuf_adds(&cv->field, "system");
        *why = "not a string";
        return -1;
    }
    *sys = system ? system : sv ? json_string_value(sv) : NULL;
    return 0;
}
