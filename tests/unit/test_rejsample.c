/*
 * test_rejsample.c - the ranking (reward, then shorter,
 * then first), exact-duplicate removal and the SFT record.
 */
#include <string.h>

#include "check.h"
#include "rejsample.h"
#include "util.h"

static void
test_utf8(void)
{
    CHECK(rejsample_utf8_len("", 0) == 0);
    CHECK(rejsample_utf8_len("abc", 3) == 3);
    /* é (2 bytes), 中 (3 bytes), 😀 (4 bytes) */
    CHECK(rejsample_utf8_len("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 9) == 3);
}

static struct rejsample_cand
cand(double reward, size_t length, size_t index, const char *resp)
{
    struct rejsample_cand c;

    c.reward = reward;
    c.length = length;
    c.index = index;
    c.resp = resp;
    c.resp_len = strlen(resp);
    c.hash = hash64(resp, c.resp_len, 0);
    return c;
}

static void
test_select(void)
{
    struct rejsample_cand c[6];
    long dups = 0;

    /* Reward first, then shorter, then the earlier index. */
    c[0] = cand(1, 50, 0, "a");
    c[1] = cand(0, 5, 1, "b");
    c[2] = cand(1, 20, 2, "c");
    c[3] = cand(1, 20, 3, "d");
    c[4] = cand(2, 99, 4, "e");
    c[5] = cand(0.5, 1, 5, "f");
    CHECK(rejsample_select(c, 6, 6, &dups) == 6);
    CHECK(c[0].index == 4 && c[1].index == 2 && c[2].index == 3 && c[3].index == 0 &&
          c[4].index == 5 && c[5].index == 1);
    CHECK(dups == 0);

    /* best 2 of the same set */
    c[0] = cand(1, 50, 0, "a");
    c[1] = cand(0, 5, 1, "b");
    c[2] = cand(1, 20, 2, "c");
    c[3] = cand(1, 20, 3, "d");
    c[4] = cand(2, 99, 4, "e");
    c[5] = cand(0.5, 1, 5, "f");
    CHECK(rejsample_select(c, 6, 2, &dups) == 2);
    CHECK(c[0].index == 4 && c[1].index == 2);

    /*
     * Duplicates: ranks are 0 "x", 1 "x", 2 "y", 3 "x", 4 "z".  best 2
     * keeps 0 and 2, passing over 1; best 3 keeps 0, 2, 4, passing over
     * 1 and 3.
     */
    c[0] = cand(1, 3, 3, "x");
    c[1] = cand(1, 1, 0, "x");
    c[2] = cand(1, 4, 4, "z");
    c[3] = cand(1, 2, 1, "x");
    c[4] = cand(1, 2, 2, "y");
    dups = 0;
    CHECK(rejsample_select(c, 5, 2, &dups) == 2);
    CHECK(c[0].index == 0 && c[1].index == 2 && dups == 1);
    c[0] = cand(1, 3, 3, "x");
    c[1] = cand(1, 1, 0, "x");
    c[2] = cand(1, 4, 4, "z");
    c[3] = cand(1, 2, 1, "x");
    c[4] = cand(1, 2, 2, "y");
    dups = 0;
    CHECK(rejsample_select(c, 5, 3, &dups) == 3);
    CHECK(c[0].index == 0 && c[1].index == 2 && c[2].index == 4 && dups == 2);
    /* All the same: one kept. */
    c[0] = cand(1, 1, 0, "x");
    c[1] = cand(1, 1, 1, "x");
    c[2] = cand(1, 1, 2, "x");
    dups = 0;
    CHECK(rejsample_select(c, 3, 8, &dups) == 1 && dups == 2 && c[0].index == 0);
    /* Responses differing only past a shared prefix are distinct. */
    c[0] = cand(1, 1, 0, "ab");
    c[1] = cand(1, 1, 1, "a");
    dups = 0;
    CHECK(rejsample_select(c, 2, 2, &dups) == 2 && dups == 0);
    CHECK(rejsample_select(c, 0, 2, &dups) == 0);
}

static void
test_record(void)
{
    json_t *s = json_loads("{\"id\":\"p1\",\"domain\":\"math\",\"prompt\":\"1+1?\","
                           "\"system\":\"be brief\",\"answer\":\"2\",\"response\":\"ref\","
                           "\"group\":\"p1\",\"k\":3,\"completion\":\"<think>a</think>2\","
                           "\"finish\":\"stop\",\"prompt_ids\":[1],\"completion_ids\":[2],"
                           "\"logprobs\":[-0.5],\"policy\":\"abc\",\"advantage\":0.5,"
                           "\"rewards\":{\"math\":1},\"reward\":1,\"extra\":[true]}",
                           0, NULL);
    json_t *r, *want;
    char *txt;

    CHECK(s != NULL);
    r = rejsample_record(s, "2", 1, 0);
    want = json_loads("{\"id\":\"p1\",\"domain\":\"math\",\"prompt\":\"1+1?\","
                      "\"system\":\"be brief\",\"answer\":\"2\","
                      "\"rewards\":{\"math\":1},\"reward\":1,\"extra\":[true],"
                      "\"response\":\"2\",\"source\":{\"group\":\"p1\",\"k\":3,"
                      "\"policy\":\"abc\",\"finish\":\"stop\"}}",
                      0, NULL);
    CHECK(json_equal(r, want));
    txt = json_dumps(r, JSON_COMPACT);
    CHECK_STREQ(txt, "{\"id\":\"p1\",\"domain\":\"math\",\"prompt\":\"1+1?\","
                     "\"system\":\"be brief\",\"answer\":\"2\","
                     "\"rewards\":{\"math\":1},\"reward\":1,\"extra\":[true],"
                     "\"response\":\"2\",\"source\":{\"group\":\"p1\",\"k\":3,"
                     "\"policy\":\"abc\",\"finish\":\"stop\"}}");
    free(txt);
    json_decref(r);
    json_decref(want);
    /* The input is untouched. */
    CHECK(json_object_get(s, "completion") != NULL);
    r = rejsample_record(s, "<think>a</think>2", 17, 1);
    CHECK_STREQ(json_string_value(json_object_get(r, "id")), "p1/3");
    CHECK_STREQ(json_string_value(json_object_get(r, "response")), "<think>a</think>2");
    json_decref(r);
    json_decref(s);
    /* Only the source fields present. */
    s = json_loads("{\"prompt\":\"q\",\"group\":\"g\",\"k\":0,\"completion\":\"c\"}", 0, NULL);
    r = rejsample_record(s, "c", 1, 1);
    txt = json_dumps(r, JSON_COMPACT);
    CHECK_STREQ(txt, "{\"prompt\":\"q\",\"response\":\"c\",\"source\":{\"group\":\"g\",\"k\":0}}");
    free(txt);
    json_decref(r);
    json_decref(s);
}

int
main(void)
{
    test_utf8();
    test_select();
    test_record();
    return check_done();
}
