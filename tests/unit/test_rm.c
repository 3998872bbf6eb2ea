/*
 * test_rm.c - lib/rm: verdict parsing on every supported format and on
 * malformed judge output (hand-written cases, expected values by hand),
 * templates, domain routing, normalization statistics, and the scalar
 * scores' independence from batching.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ckpt.h"
#include "rm.h"

struct vcase {
    const char *text;
    int kind;         /* 0 score, 1 pair */
    int found;
    double reward;
    const char *line; /* the verdict line, or NULL when none was tried */
    const char *rationale;
};

static const struct vcase vcases[] = {
    /* score verdicts */
    {"The answer is right.\nScore: 7/10", 0, 1, 0.7, "Score: 7/10", "The answer is right."},
    {"ok\nscore: 7", 0, 1, 0.7, "score: 7", "ok"},
    {"ok\nSCORE : 7 / 10\n", 0, 1, 0.7, "SCORE : 7 / 10", "ok"},
    {"ok\n**Score:** 8/10", 0, 1, 0.8, "**Score:** 8/10", "ok"},
    {"ok\n**Score: 8/10**", 0, 1, 0.8, "**Score: 8/10**", "ok"},
    {"ok\nScore: 3 out of 4.", 0, 1, 0.75, "Score: 3 out of 4.", "ok"},
    {"ok\nRating: [[5]]", 0, 1, 0.5, "Rating: [[5]]", "ok"},
    {"ok\n[[9]]", 0, 1, 0.9, "[[9]]", "ok"},
    {"ok\n[[3/5]]", 0, 1, 0.6, "[[3/5]]", "ok"},
    {"ok\nFinal score: 7.5/10", 0, 1, 0.75, "Final score: 7.5/10", "ok"},
    {"ok\n## Overall rating = 10", 0, 1, 1.0, "## Overall rating = 10", "ok"},
    {"ok\n- score: 0/10", 0, 1, 0.0, "- score: 0/10", "ok"},
    {"Score: 7/10\n", 0, 1, 0.7, "Score: 7/10", ""},
    /* the last verdict line decides, text after it is allowed */
    {"Score: 2/10 would be harsh.\nScore: 6/10\nThanks.", 0, 1, 0.6, "Score: 6/10",
     "Score: 2/10 would be harsh."},
    /* lines that are not verdict attempts are skipped */
    {"Scores vary.\nScore: 4\nRating the style, fine.", 0, 1, 0.4, "Score: 4", "Scores vary."},
    /* malformed: never a guess, never an earlier line */
    {"Score: 7/10\nScore: seven", 0, 0, 0, "Score: seven", "Score: 7/10"},
    {"ok\nScore: 11/10", 0, 0, 0, "Score: 11/10", "ok"},
    {"ok\nScore: 11", 0, 0, 0, "Score: 11", "ok"},
    {"ok\nScore: 7/0", 0, 0, 0, "Score: 7/0", "ok"},
    {"ok\nScore: -1/10", 0, 0, 0, "Score: -1/10", "ok"},
    {"ok\nScore: 7/10 or 8/10", 0, 0, 0, "Score: 7/10 or 8/10", "ok"},
    {"ok\nScore:", 0, 0, 0, "Score:", "ok"},
    {"ok\nScore: [[7]", 0, 0, 0, "Score: [[7]", "ok"},
    {"ok\nScore: 7.", 0, 1, 0.7, "Score: 7.", "ok"},
    {"ok\nScore: .7", 0, 0, 0, "Score: .7", "ok"},
    {"I think it deserves a 7/10.", 0, 0, 0, NULL, "I think it deserves a 7/10."},
    {"", 0, 0, 0, NULL, ""},
    {"  \n\n", 0, 0, 0, NULL, ""},
    /* pairwise verdicts */
    {"A is better.\n[[A]]", 1, 1, 1.0, "[[A]]", "A is better."},
    {"B is better.\nMy final verdict is \"[[B]]\".", 1, 1, 0.0,
     "My final verdict is \"[[B]]\".", "B is better."},
    {"Both fine.\n[[C]]\n", 1, 1, 0.5, "[[C]]", "Both fine."},
    {"I'd not say [[B]].\nVerdict: [[A]]", 1, 1, 1.0, "Verdict: [[A]]", "I'd not say [[B]]."},
    {"ok\n[[A]] or [[B]]", 1, 0, 0, "[[A]] or [[B]]", "ok"},
    {"ok\n[[a]]", 1, 0, 0, "[[a]]", "ok"},
    {"ok\n[[D]]", 1, 0, 0, "[[D]]", "ok"},
    {"ok\n[[A]", 1, 0, 0, "[[A]", "ok"},
    {"A is better.", 1, 0, 0, NULL, "A is better."},
    /* a score line is no pairwise verdict and the reverse */
    {"ok\nScore: 7/10", 1, 0, 0, NULL, "ok\nScore: 7/10"},
    {"ok\n[[A]]", 0, 0, 0, "[[A]]", "ok"},
};

static void
test_verdicts(void)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(vcases); i++) {
        const struct vcase *c = &vcases[i];
        struct rm_verdict v;
        rm_verdict_parse(c->text, strlen(c->text),
                         c->kind ? RM_VERDICT_PAIR : RM_VERDICT_SCORE, 10, &v);
        CHECK_MSG(v.found == c->found, "case %zu: found %d", i, v.found);
        CHECK_MSG(fabs(v.reward - c->reward) < 1e-12, "case %zu: reward %g", i, v.reward);
        CHECK_MSG(v.has_line == (c->line != NULL), "case %zu: has_line %d", i, v.has_line);
        if (c->line && v.has_line)
            CHECK_MSG(v.line_len == strlen(c->line)
                      && memcmp(c->text + v.line, c->line, v.line_len) == 0,
                      "case %zu: line '%.*s'", i, (int)v.line_len, c->text + v.line);
        CHECK_MSG(v.rationale_len == strlen(c->rationale)
                  && memcmp(c->text, c->rationale, v.rationale_len) == 0,
                  "case %zu: rationale '%.*s'", i, (int)v.rationale_len, c->text);
    }
    /* the default scale applies only without an explicit one */
    {
        struct rm_verdict v;
        rm_verdict_parse("Score: 3", 8, RM_VERDICT_SCORE, 5, &v);
        CHECK(v.found && v.reward == 0.6 && v.scale == 5 && v.value == 3);
        rm_verdict_parse("Score: 3/4", 10, RM_VERDICT_SCORE, 5, &v);
        CHECK(v.found && v.reward == 0.75 && v.scale == 4);
        rm_verdict_parse("Score: 6", 8, RM_VERDICT_SCORE, 5, &v);
        CHECK(!v.found && v.reward == 0);
        rm_verdict_parse("x\n[[B]]", 7, RM_VERDICT_PAIR, 10, &v);
        CHECK(v.found && v.choice == 'B');
    }
}

static void
test_templates(void)
{
    struct rm_template tp;
    struct sbuf out = SBUF_INIT, err = SBUF_INIT;
    const char *val[RM_NSLOTS] = {"Q?", "R.", "resp", "A", "B"};
    const char *t1 = "Q: {question}\nRef: {reference}\n{{x}} {not a slot} {response}!";
    const char *t2 = "[A]{response_a}[B]{response_b}";

    CHECK(rm_template_parse(&tp, t1, strlen(t1), &err) == 0);
    rm_template_render(&tp, val, &out);
    CHECK_STREQ(sbuf_str(&out), "Q: Q?\nRef: R.\n{x} {not a slot} resp!");
    CHECK(!rm_template_pairwise(&tp));
    CHECK(tp.used == (1u << RM_QUESTION | 1u << RM_REFERENCE | 1u << RM_RESPONSE));
    rm_template_release(&tp);

    sbuf_reset(&out);
    CHECK(rm_template_parse(&tp, t2, strlen(t2), &err) == 0);
    rm_template_render(&tp, val, &out);
    CHECK_STREQ(sbuf_str(&out), "[A]A[B]B");
    CHECK(rm_template_pairwise(&tp));
    rm_template_release(&tp);

    /* a misspelt placeholder names its line */
    CHECK(rm_template_parse(&tp, "a\nb {respons}", 13, &err) == -1);
    CHECK(strstr(sbuf_str(&err), "line 2: unknown placeholder '{respons}'") != NULL);
    sbuf_reset(&err);
    CHECK(rm_template_parse(&tp, "{question}", 10, &err) == -1);
    CHECK(strstr(sbuf_str(&err), "no {response}") != NULL);
    sbuf_reset(&err);
    CHECK(rm_template_parse(&tp, "{response}{response_b}", 22, &err) == -1);
    /* an empty template piece at either end */
    sbuf_reset(&out);
    CHECK(rm_template_parse(&tp, "{response}", 10, &err) == 0);
    rm_template_render(&tp, val, &out);
    CHECK_STREQ(sbuf_str(&out), "resp");
    rm_template_release(&tp);
    sbuf_release(&out);
    sbuf_release(&err);
}

static void
test_domains(void)
{
    const char *names[] = {"writing", "qa"};
    struct rm_domains def = {NULL, 0, 0}, some = {names, 2, 0}, all = {NULL, 0, 1};
    json_t *math = json_pack("{s:s}", "domain", "math");
    json_t *code = json_pack("{s:s}", "domain", "code");
    json_t *wr = json_pack("{s:s}", "domain", "writing");
    json_t *rp = json_pack("{s:s}", "domain", "roleplay");
    json_t *none = json_object();
    json_t *bad = json_pack("{s:i}", "domain", 3);
    const char *why = NULL;

    CHECK(rm_domain_match(&def, math, &why) == 0);
    CHECK(rm_domain_match(&def, code, &why) == 0);
    CHECK(rm_domain_match(&def, wr, &why) == 1);
    CHECK(rm_domain_match(&def, rp, &why) == 1);
    CHECK(rm_domain_match(&def, none, &why) == 0);
    CHECK(rm_domain_match(&some, wr, &why) == 1);
    CHECK(rm_domain_match(&some, rp, &why) == 0);
    CHECK(rm_domain_match(&some, math, &why) == 0);
    CHECK(rm_domain_match(&all, math, &why) == 1);
    CHECK(rm_domain_match(&all, none, &why) == 1);
    CHECK(rm_domain_match(&def, bad, &why) == -1);
    CHECK_STREQ(why, "not a string");
    json_decref(math);
    json_decref(code);
    json_decref(wr);
    json_decref(rp);
    json_decref(none);
    json_decref(bad);
}

static void
test_norm(void)
{
    /* 1, 2, 3, 4: mean 2.5, sample variance 5/3 */
    struct rm_moments mo = {0};
    struct rm_norm nm, back;
    struct sbuf err = SBUF_INIT;
    const char *why;
    json_t *js;
    int i;

    rm_moments_add(&mo, 1);
    CHECK(rm_norm_from_moments(&mo, &nm, &why) == -1);
    for (i = 2; i <= 4; i++)
        rm_moments_add(&mo, i);
    memset(&nm, 0, sizeof(nm));
    CHECK(rm_norm_from_moments(&mo, &nm, &why) == 0);
    CHECK_NEAR(nm.mean, 2.5, 1e-12);
    CHECK_NEAR(nm.std, sqrt(5.0 / 3.0), 1e-12);
    CHECK(nm.count == 4);
    strcpy(nm.model, "0123456789abcdef");
    nm.with_reference = 1;
    js = rm_norm_to_json(&nm);
    CHECK(rm_norm_from_json(js, &back, &err) == 0);
    CHECK(back.mean == nm.mean && back.std == nm.std && back.count == 4);
    CHECK_STREQ(back.model, "0123456789abcdef");
    CHECK(back.with_reference == 1);
    json_object_set_new(js, "std", json_real(0));
    CHECK(rm_norm_from_json(js, &back, &err) == -1);
    CHECK(strstr(sbuf_str(&err), "field 'std'") != NULL);
    json_decref(js);
    /* equal scores cannot be scaled */
    memset(&mo, 0, sizeof(mo));
    rm_moments_add(&mo, 2);
    rm_moments_add(&mo, 2);
    CHECK(rm_norm_from_moments(&mo, &nm, &why) == -1);
    sbuf_release(&err);
}

/* Scores of samples alone equal their scores in any batch, bit for bit. */
static void
test_batching(void)
{
    struct model_config cfg;
    struct model *m;
    struct rm_batch one = RM_BATCH_INIT, all = RM_BATCH_INIT;
    int ids[5][12];
    int len[5] = {3, 12, 7, 1, 9}, i, j;
    float alone[5];

    memset(&cfg, 0, sizeof(cfg));
    CHECK(ckpt_preset("tiny", &cfg) == 0);
    cfg.dim = 32;
    cfg.hidden_dim = 64;
    cfg.n_layers = 2;
    cfg.n_heads = 4;
    cfg.n_kv_heads = 2;
    cfg.head_dim = 8;
    cfg.max_pos = 64;
    cfg.arch = MODEL_SEQ_CLS;
    cfg.num_labels = 1;
    cfg.tie_embeddings = 0;
    m = model_new(&cfg);
    model_init_random(m, 7, 0.2f);
    for (i = 0; i < 5; i++)
        for (j = 0; j < 12; j++)
            ids[i][j] = (i * 31 + j * 7) % 250;
    for (i = 0; i < 5; i++) {
        rm_batch_clear(&one);
        rm_batch_add(&one, ids[i], (size_t)len[i]);
        rm_batch_score(m, &one);
        alone[i] = one.scores[0];
        rm_batch_add(&all, ids[i], (size_t)len[i]);
    }
    rm_batch_score(m, &all);
    for (i = 0; i < 5; i++)
        CHECK_MSG(memcmp(&alone[i], &all.scores[i], sizeof(float)) == 0,
                  "sample %d: %.9g vs %.9g", i, alone[i], all.scores[i]);
    CHECK(alone[0] != alone[1]);
    rm_batch_release(&one);
    rm_batch_release(&all);
    model_free(m);
}

int
main(void)
{
    test_verdicts();
    test_templates();
    test_domains();
    test_norm();
    test_batching();
    return check_done();
}
