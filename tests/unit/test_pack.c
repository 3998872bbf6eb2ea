/*
 * test_pack - best-fit-decreasing against hand-packed examples and on
 * random lengths (capacity kept, every item placed, never more bins than
 * first-fit-decreasing's bound), and packer output read back by
 * pack_row_parse(), and text records' ids and loss mask.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pack.h"
#include "tok.h"

static void
test_bfd_by_hand(void)
{
    /* L 10: 9, 7, 5, 5, 3 -> {9}, {7, 3}, {5, 5} */
    static const size_t len[5] = {5, 9, 3, 5, 7};
    size_t bin[5], nb;

    nb = pack_bfd(len, 5, 10, bin);
    CHECK(nb == 3);
    CHECK(bin[1] == 0);           /* 9 opens bin 0 */
    CHECK(bin[4] == 1);           /* 7 opens bin 1 */
    CHECK(bin[0] == 2);           /* the first 5 opens bin 2 */
    CHECK(bin[3] == 2);           /* the second 5 fills it exactly */
    CHECK(bin[2] == 1);           /* 3 goes where 3 are left */

    /* items of exactly L, and none */
    {
        static const size_t l3[3] = {4, 4, 4};
        size_t b3[3];
        CHECK(pack_bfd(l3, 3, 4, b3) == 3);
        CHECK(pack_bfd(l3, 0, 4, b3) == 0);
    }
}

static void
test_bfd_random(void)
{
    struct rng g;
    size_t n = 2000, L = 300, i, nb, sum = 0, *len, *bin, *used;

    rng_seed(&g, 11);
    len = xmalloc(n * sizeof(size_t));
    bin = xmalloc(n * sizeof(size_t));
    for (i = 0; i < n; i++) {
        len[i] = 1 + (size_t)rng_below(&g, L);
        sum += len[i];
    }
    nb = pack_bfd(len, n, L, bin);
    used = xcalloc(nb, sizeof(size_t));
    for (i = 0; i < n; i++) {
        CHECK(bin[i] < nb);
        used[bin[i]] += len[i];
    }
    for (i = 0; i < nb; i++)
        CHECK(used[i] <= L && used[i] > 0);
    /* BFD uses at most 11/9 OPT + 6/9 bins, and OPT >= sum / L */
    CHECK(nb >= (sum + L - 1) / L);
    CHECK((double)nb <= 11.0 / 9.0 * ((double)sum / (double)L + 1) + 1);
    free(len);
    free(bin);
    free(used);
}

static void
test_packer_roundtrip(void)
{
    struct pack_config cfg;
    struct packer *p;
    struct sbuf why = SBUF_INIT;
    const char *field;
    json_t *rec, *out;
    struct pack_row row;
    size_t nrec = 0, ntok = 0, k;
    int i, ff;

    for (ff = 0; ff < 2; ff++) {
        pack_config_default(&cfg);
        cfg.L = 32;
        cfg.first_fit = ff;
        cfg.max_open = 2;
        p = packer_new(&cfg, NULL);
        for (i = 0; i < 40; i++) {
            json_t *pi = json_array(), *ci = json_array(), *lp = json_array();
            int np = 1 + i % 5, nc = 1 + (i * 7) % 13, j;
            for (j = 0; j < np; j++)
                json_array_append_new(pi, json_integer(j + 1));
            for (j = 0; j < nc; j++) {
                json_array_append_new(ci, json_integer(100 + j));
                json_array_append_new(lp, json_real(-0.5 * j));
            }
            rec = json_pack("{s:s, s:i, s:o, s:o, s:o, s:f}", "group", "g", "k", i,
                            "prompt_ids", pi, "completion_ids", ci, "logprobs", lp,
                            "advantage", (double)(i % 3) - 1);
            CHECK(packer_add(p, rec, &field, &why) == 0);
            json_decref(rec);
        }
        packer_finish(p);
        nrec = ntok = 0;
        while ((out = packer_next(p)) != NULL) {
            sbuf_reset(&why);
            CHECK_MSG(pack_row_parse(out, 32, &row, &field, &why) == 0, "%s",
                      sbuf_str(&why));
            nrec += row.nseg;
            ntok += row.n;
            for (k = 0; k < row.n; k++)
                CHECK(!row.mask[k] || row.ids[k] >= 100);
            pack_row_release(&row);
            json_decref(out);
        }
        CHECK(nrec == 40);
        CHECK(packer_stats(p)->tokens == ntok);
        CHECK(packer_stats(p)->records == 40);
        packer_free(p);
    }
    sbuf_release(&why);
}

/*
 * Routes through pack: samples whose completion token j (id 100 + j) has
 * the experts [[j], [63 - j]], some cut by -L, one without a prompt.
 * Every row t of a packed record then replays the experts of token t + 1
 * where that token is a completion token (pack_row_routes()), and routes
 * afresh (-1) elsewhere.
 */
static void
test_routes(void)
{
    struct pack_config cfg;
    struct packer *p;
    struct sbuf why = SBUF_INIT;
    struct model_config mc = {0};
    const char *field;
    json_t *rec, *out;
    struct pack_row row;
    size_t k, nseg = 0, replayed = 0, targets = 0;
    int i, W;

    mc.n_layers = 2;
    mc.moe = (struct model_moe){.n_experts = 64, .top_k = 1, .hidden = 4, .n_group = 1,
                                .topk_group = 1, .scaling = 1.0f, .sparse_step = 1};
    W = model_route_width(&mc);
    pack_config_default(&cfg);
    cfg.L = 24;
    cfg.truncate = 1;
    p = packer_new(&cfg, NULL);
    for (i = 0; i < 12; i++) {
        json_t *pi = json_array(), *ci = json_array(), *rt = json_array();
        int np = i == 0 ? 0 : 1 + i % 4, nc = 1 + (i * 5) % 29, j;
        for (j = 0; j < np; j++)
            json_array_append_new(pi, json_integer(j + 1));
        for (j = 0; j < nc; j++) {
            json_array_append_new(ci, json_integer(100 + j));
            json_array_append_new(rt, json_pack("[[i],[i]]", j, 63 - j));
        }
        rec = json_pack("{s:i, s:o, s:o, s:o}", "k", i, "prompt_ids", pi, "completion_ids",
                        ci, "routes", rt);
        CHECK(packer_add(p, rec, &field, &why) == 0);
        json_decref(rec);
    }
    rec = json_pack("{s:[i], s:[i]}", "prompt_ids", 1, "completion_ids", 100);
    CHECK(packer_add(p, rec, &field, &why) < 0);
    CHECK_STREQ(field, "routes");  /* absent here, present in the stream's first */
    json_decref(rec);
    packer_finish(p);
    while ((out = packer_next(p)) != NULL) {
        size_t s, t0;
        sbuf_reset(&why);
        CHECK(pack_row_parse(out, 24, &row, &field, &why) == 0);
        CHECK_MSG(pack_row_routes(&row, out, &mc, &why) == 0, "%s", sbuf_str(&why));
        for (s = 0, t0 = 0; s < row.nseg; t0 += (size_t)row.seg[s], s++, nseg++) {
            for (k = t0; k < t0 + (size_t)row.seg[s]; k++) {
                int next = k + 1 < t0 + (size_t)row.seg[s] && row.mask[k + 1];
                targets += next;
                if (next && row.routes[k * W] >= 0) {
                    replayed++;
                    CHECK(row.routes[k * W] == row.ids[k + 1] - 100);
                    CHECK(row.routes[k * W + 1] == 63 - (row.ids[k + 1] - 100));
                } else
                    CHECK(row.routes[k * W] == -1 && row.routes[k * W + 1] == -1);
            }
        }
        pack_row_release(&row);
        /* a segment's routes as long as it (nothing predicts its first), then none */
        CHECK(pack_row_parse(out, 24, &row, &field, &why) == 0);
        {
            json_t *big = json_array();
            for (k = 0; k < (size_t)row.seg[0]; k++)
                json_array_append_new(big, json_pack("[[i],[i]]", 0, 1));
            json_array_set_new(json_object_get(out, "routes"), 0, big);
        }
        sbuf_reset(&why);
        CHECK(pack_row_routes(&row, out, &mc, &why) < 0);
        CHECK(strstr(sbuf_str(&why), "element 0: ") == sbuf_str(&why));
        json_object_del(out, "routes");
        sbuf_reset(&why);
        CHECK(pack_row_routes(&row, out, &mc, &why) < 0);
        CHECK(strncmp(sbuf_str(&why), "missing", 7) == 0);
        pack_row_release(&row);
        json_decref(out);
    }
    CHECK(nseg == 12);
    CHECK_MSG(replayed == targets && targets > 0, "%zu of %zu targets replayed", replayed,
              targets);
    CHECK(packer_stats(p)->truncated > 0);
    packer_free(p);
    sbuf_release(&why);
}

/*
 * Text records: BOS, the document's bytes (a special-token string in it
 * stays text), EOS; the loss on every token but the first; rejected
 * without a tokenizer and beside chat fields.
 */
static void
test_text(void)
{
    struct pack_config cfg;
    struct packer *p;
    struct tok *tk = tok_builtin();
    struct chat chat;
    struct sbuf why = SBUF_INIT;
    const char *field;
    const char *doc = "a<|user|>b";
    json_t *rec, *out;
    struct pack_row row;
    struct sbuf err = SBUF_INIT;
    size_t i;

    CHECK(chat_init(&chat, tk, CHAT_BUILTIN, 0, &err) == 0);
    pack_config_default(&cfg);
    cfg.L = 64;
    p = packer_new(&cfg, NULL);
    rec = json_pack("{s:s}", "text", doc);
    CHECK(packer_add(p, rec, &field, &why) < 0);
    CHECK_STREQ(field, "text");
    packer_free(p);

    p = packer_new(&cfg, &chat);
    CHECK(packer_add(p, rec, &field, &why) == 0);
    json_decref(rec);
    rec = json_pack("{s:s, s:s}", "text", "x", "prompt", "y");
    sbuf_reset(&why);
    CHECK(packer_add(p, rec, &field, &why) < 0);
    CHECK_STREQ(field, "prompt");
    json_decref(rec);
    packer_finish(p);
    out = packer_next(p);
    CHECK(out != NULL);
    CHECK(pack_row_parse(out, 64, &row, &field, &why) == 0);
    CHECK(row.n == strlen(doc) + 2 && row.nseg == 1);
    CHECK(row.ids[0] == tok_bos(tk) && row.ids[row.n - 1] == tok_eos(tk));
    for (i = 0; i < strlen(doc); i++)
        CHECK(row.ids[i + 1] == (unsigned char)doc[i]);
    CHECK(row.mask[0] == 0);
    for (i = 1; i < row.n; i++)
        CHECK(row.mask[i] == 1);
    pack_row_release(&row);
    json_decref(out);
    CHECK(packer_next(p) == NULL);
    packer_free(p);
    chat_release(&chat);
    tok_free(tk);
    sbuf_release(&why);
    sbuf_release(&err);
}

int
main(void)
{
    test_bfd_by_hand();
    test_bfd_random();
    test_packer_roundtrip();
    test_text();
    test_routes();
    return check_done();
}
