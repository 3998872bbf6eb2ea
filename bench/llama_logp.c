/*
 * llama_logp.c - per-token log-probabilities of one token sequence under
 * a GGUF model through llama.cpp's C API (llama.h), for bench/llama.sh's
 * check that bench/to_gguf.py converted a checkpoint right: the figures
 * are compared with logp(1)'s on the same checkpoint.  Built by
 * bench/llama.sh against a llama.cpp build given from outside.
 *
 *   llama_logp MODEL.gguf THREADS FA ID0 ID1 ... IDn
 *       -> n lines: log p(ID_i | ID_0 .. ID_i-1), i = 1 .. n (fp64 softmax
 *          over llama.cpp's fp32 logits; its KV cache in fp32)
 * FA 1: flash attention on.  llama.cpp's CPU flash attention rounds through
 * fp16 whatever the cache type (log-probs ~4e-4 off an fp64 reference at
 * SmolLM-135M's shape, against ~5e-7 with FA 0), so the check runs at 0.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void
quiet(enum ggml_log_level level, const char *text, void *user)
{
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR)
        fputs(text, stderr);
}

int
main(int argc, char **argv)
{
    struct llama_model_params mp;
    struct llama_context_params cp;
    struct llama_model *model;
    struct llama_context *ctx;
    struct llama_batch b;
    int n = argc - 4, i, j, V;

    if (argc < 6 || (strcmp(argv[3], "0") && strcmp(argv[3], "1"))) {
        fprintf(stderr, "usage: llama_logp MODEL.gguf THREADS 0|1 ID0 ID1 ...\n");
        return 2;
    }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    mp = llama_model_default_params();
    model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "llama_logp: cannot load '%s'\n", argv[1]);
        return 1;
    }
    cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)(n + 16);
    cp.n_threads = cp.n_threads_batch = atoi(argv[2]);
    /* the KV cache in fp32 (llama.cpp's default is f16, ~1e-3 off) */
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type =
        atoi(argv[3]) ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "llama_logp: cannot make a context\n");
        return 1;
    }
    V = llama_vocab_n_tokens(llama_model_get_vocab(model));
    b = llama_batch_init(n, 0, 1);
    for (i = 0; i < n; i++) {
        b.token[i] = atoi(argv[4 + i]);
        b.pos[i] = i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = 1;
    }
    b.n_tokens = n;
    if (llama_decode(ctx, b) != 0) {
        fprintf(stderr, "llama_logp: llama_decode failed\n");
        return 1;
    }
    for (i = 0; i + 1 < n; i++) {
        const float *lg = llama_get_logits_ith(ctx, i);
        double mx = lg[0], s = 0;
        for (j = 1; j < V; j++)
            mx = lg[j] > mx ? lg[j] : mx;
        for (j = 0; j < V; j++)
            s += exp(lg[j] - mx);
        printf("%.7f\n", lg[b.token[i + 1]] - mx - log(s));
    }
    llama_batch_free(b);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
