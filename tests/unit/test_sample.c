/*
 * test_sample.c - the domain rule, the sampling object and the field and
 * reward readers, case by case with the expected answers written out by
 * hand.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rec.h"
#include "sample.h"

static json_t *
rec(const char *s)
{
    json_t *r = json_loads(s, 0, NULL);

    CHECK(r != NULL);
    return r;
}

static void
test_domains(void)
{
    static const char *const math[] = {"math"}, *const rule[] = {"math", "code"};
    const struct sample_domains score_math = {math, 1, NULL, 0, 1},
                                by_name = {math, 1, NULL, 0, 0}, every = {NULL, 0, NULL, 0, 1},
                                rm = {NULL, 0, rule, 2, 0};
    static const struct {
        const char *rec;
        int math, name, every, rm;
    } c[] = {
        {"{\"domain\":\"math\"}", 1, 1, 1, 0},       {"{\"domain\":\"code\"}", 0, 0, 1, 0},
        {"{\"domain\":\"qa\"}", 0, 0, 1, 1},         {"{}", 1, 0, 1, 0},
        {"{\"domain\":7}", -1, -1, -1, -1},          {"{\"domain\":null}", -1, -1, -1, -1},
        {"{\"domain\":[\"math\"]}", -1, -1, -1, -1},
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(c); i++) {
        json_t *r = rec(c[i].rec);
        const char *why = NULL;

        CHECK_MSG(sample_domain_match(&score_math, r, &why) == c[i].math, "case %zu", i);
        CHECK_MSG(sample_domain_match(&by_name, r, &why) == c[i].name, "case %zu", i);
        CHECK_MSG(sample_domain_match(&every, r, &why) == c[i].every, "case %zu", i);
        CHECK_MSG(sample_domain_match(&rm, r, &why) == c[i].rm, "case %zu", i);
        if (c[i].math < 0)
            CHECK_STREQ(why, "not a string");
        json_decref(r);
    }
}

static void
test_sampling(void)
{
    static const struct {
        const char *rec;
        int rc;
        const char *field, *why;
    } c[] = {
        {"{}", 0, NULL, NULL},
        {"{\"sampling\":{\"temperature\":0.7,\"top_p\":0.95,\"top_k\":40,\"min_p\":0}}", 1,
         NULL, NULL},
        {"{\"sampling\":{\"temperature\":0,\"top_p\":1,\"top_k\":0,\"min_p\":1}}", 1, NULL,
         NULL},
        {"{\"sampling\":3}", -1, "sampling", "not an object"},
        {"{\"sampling\":{\"top_p\":1,\"top_k\":0,\"min_p\":0}}", -1, "sampling.temperature",
         "missing"},
        {"{\"sampling\":{\"temperature\":\"1\",\"top_p\":1,\"top_k\":0,\"min_p\":0}}", -1,
         "sampling.temperature", "not a number"},
        {"{\"sampling\":{\"temperature\":-1,\"top_p\":1,\"top_k\":0,\"min_p\":0}}", -1,
         "sampling.temperature", "not in [0, 1000]"},
        {"{\"sampling\":{\"temperature\":1,\"top_p\":0,\"top_k\":0,\"min_p\":0}}", -1,
         "sampling.top_p", "not in (0, 1]"},
        {"{\"sampling\":{\"temperature\":1,\"top_p\":1,\"top_k\":0,\"min_p\":1.5}}", -1,
         "sampling.min_p", "not in [0, 1]"},
        {"{\"sampling\":{\"temperature\":1,\"top_p\":1,\"top_k\":1.5,\"min_p\":0}}", -1,
         "sampling.top_k", "not an integer >= 0"},
        {"{\"sampling\":{\"temperature\":1,\"top_p\":1,\"top_k\":-1,\"min_p\":0}}", -1,
         "sampling.top_k", "not an integer >= 0"},
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(c); i++) {
        json_t *r = rec(c[i].rec);
        struct sample_sampling s;
        const char *field = NULL, *why = NULL;
        int rc = sample_sampling_get(r, &s, &field, &why);

        CHECK_MSG(rc == c[i].rc, "case %zu: %d", i, rc);
        if (c[i].rc < 0) {
            CHECK_STREQ(field, c[i].field);
            CHECK_STREQ(why, c[i].why);
        }
        json_decref(r);
    }
}

static void
test_roundtrip(void)
{
    struct sampler_config c = SAMPLER_CONFIG_INIT;
    struct sample_sampling s, t;
    json_t *r = json_object();
    const char *field, *why;
    struct sbuf sb = SBUF_INIT;

    c.temperature = 0.7f;
    c.top_p = 0.95f;
    c.top_k = 40;
    c.min_p = 0.05f;
    sample_sampling_of(&s, &c);
    CHECK(s.temperature == 0.7 && s.top_p == 0.95 && s.top_k == 40 && s.min_p == 0.05);
    sample_sampling_set(r, &s);
    /* as the record writer puts it: the decimals given to gen */
    json_emit(&sb, r);
    CHECK_STREQ(sbuf_str(&sb), "{\"sampling\":{\"temperature\":0.7,\"top_p\":0.95,"
                               "\"top_k\":40,\"min_p\":0.05}}");
    sbuf_release(&sb);
    CHECK(sample_sampling_get(r, &t, &field, &why) == 1 && sample_sampling_eq(&s, &t));
    CHECK(sample_logp_temperature(&s) == 0.7);
    s.temperature = 0;
    CHECK(sample_logp_temperature(&s) == 1.0);
    json_decref(r);
}

static void
test_temp(void)
{
    struct sample_temp st;
    json_t *a = rec("{\"sampling\":{\"temperature\":0.5,\"top_p\":1,\"top_k\":0,\"min_p\":0}}");
    json_t *b =
        rec("{\"sampling\":{\"temperature\":0.5,\"top_p\":0.9,\"top_k\":0,\"min_p\":0}}");
    json_t *none = rec("{}");
    const char *field = NULL;
    struct sbuf why = SBUF_INIT;

    sample_temp_init(&st, 0, 0);
    CHECK(st.temperature == 1.0);
    CHECK(sample_temp_take(&st, none, &field, &why) == 0 && st.temperature == 1.0);
    CHECK(sample_temp_take(&st, a, &field, &why) == 0 && st.temperature == 0.5);
    CHECK(sample_temp_take(&st, a, &field, &why) == 0);
    CHECK(sample_temp_take(&st, none, &field, &why) == 0);
    CHECK(sample_temp_take(&st, b, &field, &why) == -1);
    CHECK_STREQ(field, "sampling");
    CHECK(strstr(sbuf_str(&why), "top_p 0.9") != NULL);
    sample_temp_release(&st);

    /* the option overrides: every record taken, its temperature kept */
    sample_temp_init(&st, 1, 2.0);
    CHECK(sample_temp_take(&st, a, &field, &why) == 0 && sample_temp_take(&st, b, &field, &why) == 0);
    CHECK(st.temperature == 2.0);
    sample_temp_release(&st);
    json_decref(a);
    json_decref(b);
    sbuf_release(&why);
    json_decref(none);
}

static void
test_ids(void)
{
    static const struct {
        const char *rec;
        int vocab, nonempty, rc;
        const char *why;
    } c[] = {
        {"{\"x\":[0,5,263]}", 264, 1, 0, ""},
        {"{\"x\":[0,5,264]}", 264, 1, -1, "element 2 is not a token id in [0, 264)"},
        {"{\"x\":[0,-1]}", 0, 1, -1, "element 1 is not a token id (an integer >= 0)"},
        {"{\"x\":[0,1.5]}", 0, 1, -1, "element 1 is not a token id (an integer >= 0)"},
        {"{\"x\":[0,3000000000]}", 0, 1, -1, "element 1 is not a token id (an integer >= 0)"},
        {"{\"x\":[]}", 0, 1, -1, "empty"},
        {"{\"x\":[]}", 0, 0, 0, ""},
        {"{\"x\":\"1 2\"}", 0, 0, -1, "not an array"},
        {"{}", 0, 0, -1, "missing"},
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(c); i++) {
        json_t *r = rec(c[i].rec);
        struct sbuf why = SBUF_INIT;
        const json_t *a = NULL;

        CHECK_MSG(sample_get_ids(r, "x", c[i].vocab, c[i].nonempty, &a, &why) == c[i].rc,
                  "case %zu", i);
        CHECK_STREQ(sbuf_str(&why), c[i].why);
        CHECK(c[i].rc < 0 || a == json_object_get(r, "x"));
        sbuf_release(&why);
        json_decref(r);
    }
}

static void
test_path(void)
{
    json_t *r = json_loads("{\"a.b\": 1, \"rewards\": {\"math\": 2},"
                           " \"x\": {\"y\": {\"z\": 3}}}", 0, NULL);

    CHECK(json_integer_value(sample_field(r, "a.b")) == 1);
    CHECK(json_integer_value(sample_field(r, "rewards.math")) == 2);
    CHECK(json_integer_value(sample_field(r, "x.y.z")) == 3);
    CHECK(sample_field(r, "rewards.code") == NULL);
    CHECK(sample_field(r, "x.y.z.w") == NULL);
    json_decref(r);
}

static void
test_reward(void)
{
    json_t *r = json_loads("{\"reward\": 1.5, \"n\": 2, \"s\": \"1\", \"z\": null,"
                           " \"b\": true, \"rewards\": {\"format\": 1, \"math\": 0},"
                           " \"a.b\": 7, \"a\": {\"b\": 8}, \"deep\": {\"x\": {\"y\": -2}}}",
                           0, NULL);
    const char *why = NULL;
    double x = 0;

    CHECK(r != NULL);
    CHECK(sample_reward(r, "reward", &x, &why) == 0 && x == 1.5);
    CHECK(sample_reward(r, "n", &x, &why) == 0 && x == 2);
    CHECK(sample_reward(r, "rewards.format", &x, &why) == 0 && x == 1);
    CHECK(sample_reward(r, "rewards.math", &x, &why) == 0 && x == 0);
    CHECK(sample_reward(r, "deep.x.y", &x, &why) == 0 && x == -2);
    /* The field named "a.b" wins over the path a -> b. */
    CHECK(sample_reward(r, "a.b", &x, &why) == 0 && x == 7);
    x = 42;
    CHECK(sample_reward(r, "missing", &x, &why) == -1 && x == 42);
    CHECK_STREQ(why, "missing");
    CHECK(sample_reward(r, "rewards.code", &x, &why) == -1);
    CHECK_STREQ(why, "missing");
    CHECK(sample_reward(r, "reward.x", &x, &why) == -1);
    CHECK_STREQ(why, "missing");
    CHECK(sample_reward(r, "s", &x, &why) == -1);
    CHECK_STREQ(why, "not a number");
    CHECK(sample_reward(r, "z", &x, &why) == -1);
    CHECK_STREQ(why, "not a number");
    CHECK(sample_reward(r, "b", &x, &why) == -1);
    CHECK_STREQ(why, "not a number");
    CHECK(sample_reward(r, "rewards", &x, &why) == -1);
    CHECK_STREQ(why, "not a number");
    CHECK(sample_field(r, "deep.x") == json_object_get(json_object_get(r, "deep"), "x"));
    CHECK(sample_field(r, "deep.") == NULL);
    json_object_set_new(r, "inf", json_real(INFINITY));
    if (json_object_get(r, "inf")) {
        CHECK(sample_reward(r, "inf", &x, &why) == -1);
        CHECK_STREQ(why, "not a finite number");
    }
    json_decref(r);
}

/*
 * Routes against a model of 3 layers, the first dense, 8 experts, top 2:
 * each token holds 2 sparse layers of 2 distinct experts in [0, 8).
 */
static void
test_routes(void)
{
    static const struct {
        const char *a;
        size_t n;
        int rc;
        const char *why;
    } c[] = {
        {"[[[0,7],[3,1]],[[2,3],[4,5]]]", 2, 0, ""},
        {"[[[0,7],[3,1]]]", 2, -1, "1 tokens for 2 completion_ids"},
        {"[[[0,7]]]", 1, -1, "token 0: 1 layers, the model has 2 sparse layers"},
        {"[[[0,7],[3]]]", 1, -1, "token 0, layer 2: 1 experts, the model routes each token"
                                 " to 2"},
        {"[[[0,8],[3,1]]]", 1, -1, "token 0, layer 1: element 1 is not an expert in [0, 8)"},
        {"[[[0,-1],[3,1]]]", 1, -1, "token 0, layer 1: element 1 is not an expert in [0, 8)"},
        {"[[[0,1],[3,3]]]", 1, -1, "token 0, layer 2: expert 3 twice"},
        {"[[[0,1],7]]", 1, -1, "token 0, layer 2: not an array of experts"},
        {"[3]", 1, -1, "token 0: not an array of layers"},
        {"{}", 1, -1, "not an array"},
    };
    struct model_config cf = {0};
    int out[8], want[8] = {0, 7, 3, 1, 2, 3, 4, 5}, rows[16];
    size_t i;
    json_t *a, *b;
    char *s;

    cf.n_layers = 3;
    cf.moe = (struct model_moe){.n_experts = 8, .top_k = 2, .hidden = 4, .n_group = 1,
                                .topk_group = 1, .scaling = 1.0f, .sparse_step = 1,
                                .first_dense = 1};
    CHECK(model_sparse_layers(&cf) == 2 && model_route_width(&cf) == 4);
    for (i = 0; i < ARRAY_LEN(c); i++) {
        struct sbuf why = SBUF_INIT;
        a = json_loads(c[i].a, 0, NULL);
        CHECK_MSG(sample_routes_get(a, &cf, c[i].n, "completion_ids", out, &why) == c[i].rc,
                  "case %zu", i);
        CHECK_STREQ(sbuf_str(&why), c[i].why);
        sbuf_release(&why);
        json_decref(a);
    }
    {
        struct sbuf why = SBUF_INIT;
        CHECK(sample_routes_get(NULL, &cf, 1, "x", NULL, &why) < 0);
        CHECK_STREQ(sbuf_str(&why), "missing (gen --routes writes it)");
        sbuf_release(&why);
    }
    /* read, written back the same; laid on rows: prompt of 2, so rows 1 and 2 */
    a = json_loads(c[0].a, 0, NULL);
    CHECK(sample_routes_get(a, &cf, 2, "x", out, NULL) == 0);
    CHECK(memcmp(out, want, sizeof(want)) == 0);
    b = sample_routes_new(out, 2, &cf);
    s = json_dumps(b, JSON_COMPACT);
    CHECK_STREQ(s, c[0].a);
    free(s);
    json_decref(b);
    CHECK(sample_routes_place(a, &cf, 2, 2, rows, NULL) == 0);
    for (i = 0; i < 16; i++)
        CHECK(rows[i] == (i >= 4 && i < 12 ? want[i - 4] : -1));
    json_decref(a);
    cf.moe.n_experts = 0;
    {
        struct sbuf why = SBUF_INIT;
        a = json_loads(c[0].a, 0, NULL);
        CHECK(sample_routes_get(a, &cf, 2, "x", NULL, &why) < 0);
        CHECK_STREQ(sbuf_str(&why), "the model has no mixture-of-experts layers to replay");
        sbuf_release(&why);
        json_decref(a);
    }
}

int
main(void)
{
    test_path();
    test_reward();
    test_routes();
    test_ids();
    test_domains();
    test_sampling();
    test_roundtrip();
    test_temp();
    return check_done();
}
