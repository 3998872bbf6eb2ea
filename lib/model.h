/*
 * model.h - a Llama-family decoder (Llama 2/3.x, Mistral, Qwen2, Qwen3,
 * SmolLM dense models) in fp32: token embeddings, RMSNorm, RoPE with
 * transformers' rope_scaling types (linear, dynamic, llama3, yarn),
 * grouped-query attention with optional q/k/v bias and Qwen3's per-head
 * q/k RMSNorm, SwiGLU MLP, tied or untied LM head,
 * and the scalar-head variant of *ForSequenceClassification (score.weight,
 * num_labels 1) that reward models use.
 *
 * What it is: training forward and backward over a batch of packed
 * sequences, and the per-token log-probabilities and entropies of given
 * targets at a temperature.  What it is not: a decoder with a KV cache
 * (infer.h runs the same blocks, block.h, over its caches), a tokenizer,
 * or a file reader (ckpt.h loads and saves checkpoints).
 *
 * A batch is a list of segments (samples) laid end to end: attention never
 * crosses a segment boundary and positions restart at 0 in each segment.
 * How the segments were packed into rows of length L does not matter to
 * the model, so a batch is just the concatenation of every row.
 *
 * DeepSeek-V3 (deepseek_v3) is the same decoder with Multi-head Latent
 * Attention (struct model_mla) in place of grouped-query attention and
 * DeepSeekMoE layers (struct model_moe).
 *
 * Structs, as in llama2.c: the config (struct model_config, HF field
 * meanings), the weights (struct model_weights: pointers into one float
 * allocation through a size table, struct model_tensor) and the run state
 * (activations of the last forward, carved from one planned arena that
 * grows only when a batch holds more tokens than any before it).
 *
 * Gradients: model_backward() takes dL/dlogp for every target token (and
 * optionally dL/dentropy), or dL/dscore per segment for the scalar head,
 * and accumulates into the gradient buffer; model_zero_grad() is explicit.
 * So every loss fits: SFT cross-entropy is dlogp = -mask/N, the GRPO
 * surrogate gives its own per-token dL/dlogp, Bradley-Terry gives dscore.
 *
 *     struct model *m = model_new(&cfg);        (or ckpt_load())
 *     model_forward(m, &batch, 1.0f, logp, NULL, NULL, 0);
 *     for (t = 0; t < batch.ntok; t++) dlogp[t] = batch.targets[t] < 0 ? 0 : -1.0f / n;
 *     model_zero_grad(m);
 *     model_backward(m, &batch, dlogp, NULL, NULL);
 *     optim_step(opt, m->params, m->grads, ...);
 *     model_free(m);
 *
 * One forward for sampling and training: the forward is block.h's
 * operations (each layer defined once, for this forward and for infer.c's
 * KV-cache forward), on kern.h's kernels, so every token's result is the
 * same float here (whatever the batch, its packing or the threads) as in
 * gen.  The backward keeps
 * OpenBLAS (its rounding depends on shapes; gradients need no identity).
 *
 * Threading: one pool of threads per program (pool.h).  It runs every
 * parallel part of a pass: the forward's products are cut into tiles of
 * rows x output columns, the backward's into row or column blocks, each
 * an OpenBLAS sgemm on one thread; the element-wise kernels (norms,
 * RoPE, SwiGLU, log-softmax rows) into row ranges; attention into
 * (segment, head) tasks.  OpenBLAS is set to one
 * thread, so its own pool never runs beside ours.  model_set_threads()
 * sizes the pool (default: OpenBLAS's thread count, i.e. every core or
 * OPENBLAS_NUM_THREADS); model_threads_env() reads POSTTRAIN_THREADS
 * (tools give --threads precedence over it).  A model is not safe to use
 * from two threads at the same time, and neither are two models at once.
 */
#ifndef POSTTRAIN_MODEL_H
#define POSTTRAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* ---- Config ---- */

enum model_arch {
    MODEL_CAUSAL_LM = 0, /* *ForCausalLM: LM head over the vocabulary */
    MODEL_SEQ_CLS,       /* *ForSequenceClassification: score.weight */
};

/*
 * rope_scaling of an HF config.json (transformers' modeling_rope_utils):
 * the inverse frequencies of each type and the attention factor that
 * multiplies cos and sin.  Fields absent from the config are 0.
 */
enum model_rope_type {
    MODEL_ROPE_DEFAULT = 0, /* no rope_scaling, or rope_type "default" */
    MODEL_ROPE_LINEAR,      /* inv_freq / factor */
    MODEL_ROPE_DYNAMIC,     /* NTK base rescaling past max_position_embeddings */
    MODEL_ROPE_YARN,        /* YaRN ramp between interpolation and extrapolation */
    MODEL_ROPE_LLAMA3,      /* Llama 3.1's wavelength bands */
};

struct model_rope_scaling {
    enum model_rope_type type;
    double factor;
    double low_freq_factor, high_freq_factor; /* llama3 */
    int orig_max_pos;       /* original_max_position_embeddings (llama3, yarn) */
    double beta_fast, beta_slow; /* yarn (0: 32 and 1) */
    double mscale, mscale_all_dim; /* yarn */
    double attention_factor; /* yarn; 0: from factor and mscale */
    int no_truncate;        /* yarn truncate: false */
};

/*
 * Mixture-of-experts MLP layers (Qwen3-MoE's Qwen3MoeSparseMoeBlock,
 * DeepSeek-V3's DeepseekV3MoE): a router picks top_k of n_experts SwiGLU
 * experts per token and sums their outputs weighted by the router's
 * scores, plus n_shared always-on experts.  Which layers are sparse:
 * those from first_dense on, every sparse_step-th (layer l with
 * (l + 1) % sparse_step == 0), not in mlp_only.
 */
#define MODEL_MAX_LAYERS 4096
struct model_moe {
    int n_experts;        /* num_experts / n_routed_experts; 0: every layer dense */
    int top_k;            /* num_experts_per_tok */
    int hidden;           /* moe_intermediate_size */
    int norm_topk;        /* norm_topk_prob: selected weights divided by their sum */
    int sigmoid;          /* scoring_func "sigmoid" (DeepSeek-V3); else softmax */
    int n_group, topk_group; /* group-limited routing (1, 1: off) */
    float scaling;        /* routed_scaling_factor (1) */
    int n_shared;         /* n_shared_experts (hidden each) */
    int score_bias;       /* e_score_correction_bias: chooses experts, not weights */
    int first_dense;      /* first_k_dense_replace */
    int sparse_step;      /* decoder_sparse_step (1) */
    unsigned char mlp_only[MODEL_MAX_LAYERS / 8]; /* mlp_only_layers, a bit per layer */
};

/*
 * Multi-head Latent Attention (DeepSeek-V2 report, arXiv:2405.04434,
 * section 2.1; transformers' DeepseekV3Attention).  Per token: q from
 * q_proj, or q_a_proj -> q_a_layernorm -> q_b_proj when q_lora_rank is
 * set, each head's q being nope then rope floats; kv_a_proj_with_mqa to
 * the kv_lora_rank latent and one rope key shared by the heads;
 * kv_a_layernorm on the latent; kv_b_proj from it to each head's nope key
 * and v_head_dim value.  RoPE on the rope floats only (rope_interleave:
 * pairs (2i, 2i + 1) of the weights' layout, moved to transformers'
 * rotate_half layout first), softmax scale (nope + rope)^-1/2, times
 * yarn's mscale(factor, mscale_all_dim)^2 when rope_scaling sets it.
 *
 * Computed in the absorbed form: a head's score q_nope . (W_UK c) is
 * (q_nope W_UK) . c, and its value W_UV c enters the output as W_UV
 * (sum_j p_j c_j), so attention runs over the latent and the rope key
 * only (MQA with one key of kv_lora_rank + rope floats whose first
 * kv_lora_rank floats are the value), and that is all a cache keeps.
 * head_dim is qk_rope_head_dim (the RoPE tables' width), as transformers
 * sets it.
 */
struct model_mla {
    int q_lora_rank;      /* 0: q_lora_rank null, a plain q_proj */
    int kv_lora_rank;     /* 0: not MLA */
    int nope, rope;       /* qk_nope_head_dim, qk_rope_head_dim */
    int v_dim;            /* v_head_dim */
    int interleave;       /* rope_interleave */
};

/* eps of q_a_layernorm and kv_a_layernorm (DeepseekV3RMSNorm's default). */
#define MODEL_MLA_NORM_EPS 1e-6f

/* The fields of an HF config.json that shape the model. */
struct model_config {
    enum model_arch arch;
    char model_type[32];  /* "llama", "mistral", "qwen2", "qwen3", "qwen3_moe",
                             "deepseek_v3" */
    int dim;              /* hidden_size */
    int hidden_dim;       /* intermediate_size */
    int n_layers;         /* num_hidden_layers */
    int n_heads;          /* num_attention_heads */
    int n_kv_heads;       /* num_key_value_heads (divides n_heads) */
    int head_dim;         /* head_dim, default hidden_size / heads */
    int vocab_size;
    int max_pos;          /* max_position_embeddings */
    float norm_eps;       /* rms_norm_eps */
    float rope_theta;
    int tie_embeddings;   /* tie_word_embeddings */
    int attn_bias;        /* q/k/v biases (Qwen2: true) */
    int qk_norm;          /* per-head RMSNorm of q and k before RoPE (Qwen3) */
    struct model_rope_scaling rope; /* rope_scaling */
    struct model_moe moe;
    struct model_mla mla; /* kv_lora_rank 0: grouped-query attention */
    int num_labels;       /* scalar head outputs (MODEL_SEQ_CLS: 1) */
    int bos_id, eos_id, pad_id; /* -1 when absent */
};

/*
 * Checks a config for consistency (positive sizes, heads divide, ...).
 * Returns 0, or -1 with a static description in *why.
 */
int model_config_check(const struct model_config *c, const char **why);

/*
 * Widths of a layer's attention buffers.  Grouped-query attention: hd =
 * head_dim, the first product gives q, k, v (A = QKV = QD + 2 KVD), the
 * attention output is QD = OD wide.  MLA: hd = kv_lora_rank + rope (one
 * key), the first product gives q (or q_a) and kv_a (A = QA + hd), the
 * prepared rows are the heads' absorbed queries, the key and a copy of
 * it as value (QKV = (nh + 2) hd), the attention output QD = nh hd, the
 * heads' values OD = nh v_head_dim.  KVD: floats a cache keeps per token
 * and layer for keys (and as many for values unless MLA).
 */
struct model_attn_dims {
    int mla, hd, QD, KVD, QKV, OD, A, QA, QF;
};
void model_attn_dims(const struct model_config *c, struct model_attn_dims *d);

/* Whether layer l's MLP is a mixture of experts. */
int model_layer_moe(const struct model_config *c, int l);
/*
 * Routes: the experts a row chose in every sparse layer, sparse layer by
 * sparse layer (in layer order), top_k each in the router's order.
 * model_sparse_layers() counts the sparse layers; model_route_width() is
 * one row's ints, sparse layers x top_k (0 for a dense model).
 */
int model_sparse_layers(const struct model_config *c);
int model_route_width(const struct model_config *c);

/*
 * RoPE inverse frequencies inv_freq (hd/2) of c's rope type and the
 * factor that multiplies cos and sin, as transformers computes them
 * (dynamic: for sequences within max_position_embeddings, where it is
 * the unscaled table).  Returns the factor.
 */
double model_rope_freqs(const struct model_config *c, double *inv_freq);

/* ---- Weights ---- */

/*
 * One layer's weights.  wq, wk, wv are consecutive in memory, so together
 * they are the (QD + 2 KVD, C) matrix of one fused q/k/v product; so are
 * bq, bk, bv, and w_gate, w_up ((2H, C) for one fused gate/up product).
 */
struct model_layer {
    float *attn_norm;  /* (C) input_layernorm */
    float *wq;         /* (QD, C), QD = n_heads * head_dim */
    float *wk;         /* (KVD, C), KVD = n_kv_heads * head_dim */
    float *wv;         /* (KVD, C) */
    float *bq, *bk, *bv; /* (QD), (KVD), (KVD); NULL without attn_bias */
    float *wo;         /* (C, QD) */
    float *q_norm, *k_norm; /* (hd) each; NULL without qk_norm */
    /* MLA (model_mla): wq is q_proj (QF, C) or q_a_proj (QA, C), wk
       kv_a_proj_with_mqa (kv_lora_rank + rope, C) right after it (one
       (A, C) product), wv NULL, wo (C, OD) */
    float *q_a_norm;   /* (QA) q_a_layernorm, or NULL */
    float *wq_b;       /* (QF, QA) q_b_proj, or NULL */
    float *kv_a_norm;  /* (kv_lora_rank) */
    float *wkv_b;      /* (nh (nope + v), kv_lora_rank) kv_b_proj: per head W_UK then W_UV */
    float *mlp_norm;   /* (C) post_attention_layernorm */
    /* the dense MLP (H = intermediate_size), or a sparse layer's shared
       experts as one (H = n_shared * moe hidden), or NULL */
    float *w_gate;     /* (H, C) */
    float *w_up;       /* (H, C) */
    float *w_down;     /* (C, H) */
    int mlp_hidden;    /* that H, 0 without */
    /* sparse layers: router and experts (gate (Hm, C), up (Hm, C), down
       (C, Hm) each, expert after expert), NULL in dense ones */
    float *router;     /* (E, C) mlp.gate.weight */
    float *router_bias; /* (E) mlp.gate.e_score_correction_bias, or NULL */
    float *experts;    /* (E, 3 Hm C) */
};

struct model_weights {
    float *embed;      /* (V, C) */
    struct model_layer *layers; /* (n_layers) */
    float *norm;       /* (C) */
    float *lm_head;    /* (V, C); == embed when tied; NULL for MODEL_SEQ_CLS */
    float *score;      /* (num_labels, C); MODEL_SEQ_CLS only */
};

/* A named tensor in the flat parameter buffer (HF tensor names). */
struct model_tensor {
    char name[96];     /* e.g. "model.layers.3.self_attn.q_proj.weight" */
    size_t off;        /* offset in floats into params (and grads) */
    size_t n;          /* element count */
    int ndim;          /* 1 or 2 */
    int64_t shape[2];
    int decay;         /* 1 for matrices (weight decay), 0 norms/biases */
};

/* ---- The model ---- */

struct model_acts;
struct lora;
struct model_w16;

struct model {
    struct model_config cfg;
    float *params;          /* (nparams) one allocation */
    float *grads;           /* (nparams) or NULL until first needed */
    size_t nparams;
    struct model_weights w; /* pointers into params */
    struct model_weights g; /* the same pointers into grads */
    struct model_tensor *tensors;
    int ntensors;
    int att_block;          /* attention block (rows and keys), default 128 */
    int logit_chunk;        /* LM-head rows computed at once (64..1024 by vocab) */
    struct model_acts *acts; /* run state of the last forward */
    uint64_t *expert_load;  /* (n_layers, n_experts) choices of training forwards since
                               model_expert_load_reset(), or NULL without experts */
    /*
     * The sequence-wise balance loss (DeepSeek-V3 report, arXiv:2412.19437,
     * eq. 17-20), off at 0: with moe_seq_aux = a, every training forward
     * adds a sum_s sum_l sum_i f_i P_i over its segments s and sparse
     * layers l to moe_aux_loss (the caller zeroes it), and model_backward()
     * adds that term's gradient.  f_i = E / (k T) (choices of expert i in
     * the segment's T tokens), P_i = 1/T sum_t s'_it, s' the router's
     * scores normalized to sum 1 over the experts (a softmax's already
     * do).  f is counted, not differentiated, as in the report.
     */
    float moe_seq_aux;
    double moe_aux_loss;
    /*
     * Low-rank adapters (lora.h; borrowed, NULL by default): every pass
     * runs with them, and the base is frozen: model_backward() gives the
     * adapter's gradients (lora->grads) and leaves m->grads alone.
     */
    struct lora *lora;
    /*
     * bf16 copies of the matrices (w16.h; owned, NULL by default): when
     * set, every forward's products read them (bf16 products, fp32
     * accumulation); the backward still multiplies by the fp32 weights.
     */
    struct model_w16 *w16;
};

/* New model with zeroed parameters (check the config first).  Result is new. */
struct model *model_new(const struct model_config *cfg);
/* Frees m and everything it owns; NULL is allowed. */
void model_free(struct model *m);

/*
 * Deterministic initialisation from seed: matrices and embeddings
 * N(0, std^2) (HF initializer_range, 0.02), norms (q/k norms too) 1,
 * biases 0.
 */
void model_init_random(struct model *m, uint64_t seed, float std);

/* Tensor by HF name (borrowed), or NULL. */
const struct model_tensor *model_find_tensor(const struct model *m, const char *name);

/*
 * Expert load: how often the training forwards (not NOGRAD) since the
 * last reset chose each expert of each sparse layer, (n_layers,
 * n_experts) counts (dense layers' rows stay 0), or NULL for a dense
 * model.
 */
const uint64_t *model_expert_load(const struct model *m);
void model_expert_load_reset(struct model *m);

/* Allocates (once) and zeroes the gradient buffer. */
void model_zero_grad(struct model *m);

/*
 * Sets the thread count of the pool (n >= 1) and OpenBLAS's to one.
 * Call it before a pass, never during one.
 */
void model_set_threads(int n);
/* POSTTRAIN_THREADS as a positive integer, or 0 when unset; dies if invalid. */
int model_threads_env(void);

/* ---- Batches ---- */

struct model_batch {
    size_t ntok;          /* total tokens, sum of seg_len */
    const int *ids;       /* (ntok) input token ids */
    const int *targets;   /* (ntok) target id per position, -1 = none */
    size_t nseg;
    const int *seg_len;   /* (nseg) segment lengths, each >= 1 */
    /*
     * Routing replay (NULL: every row routes): (ntok, model_route_width())
     * experts; a row whose first is >= 0 takes them in every sparse layer
     * instead of its router's top-k, each weighed by the router's score
     * as routing weighs its choice (block.h's block_route_weights()), so
     * the gradient reaches the router through those weights; a row whose
     * first is -1 routes.  (Rollout routing replay, arXiv:2510.11370.)
     */
    const int *routes;
};

/*
 * Fills targets (ntok) with next-token targets: ids[t+1] within a
 * segment where mask (NULL = all) is set at t+1, -1 at the last token of
 * each segment and where the next token is not a training target.
 */
void model_batch_shift_targets(const struct model_batch *b, const unsigned char *mask,
                               int *targets);

enum model_fwd_flags {
    MODEL_FWD_NOGRAD = 1 << 0, /* inference: keep no activations for backward */
    /*
     * LM-head chunks hold one segment's rows only.  Every forward is
     * batch-invariant (see above); the flag is kept for callers.
     */
    MODEL_FWD_EXACT = 1 << 1,
};

/*
 * Forward pass over a batch.  MODEL_CAUSAL_LM: logp[t] receives the
 * log-probability of targets[t] under softmax(logits / temperature) and
 * entropy[t] (if not NULL) that distribution's entropy, both 0 where
 * targets[t] < 0.  MODEL_SEQ_CLS: scores (nseg * num_labels) receives the
 * score at the last token of each segment; logp, entropy may be NULL.
 * Dies on a token id out of range.  Grows the arena when needed.
 */
void model_forward(struct model *m, const struct model_batch *b, float temperature,
                   float *logp, float *entropy, float *scores, int flags);

/*
 * Backward pass of the last model_forward (same batch, no NOGRAD; once
 * per forward, as it consumes the saved activations): adds
 * dL/dparams to m->grads given dlogp[t] = dL/dlogp[t] (ntok; ignored
 * where targets[t] < 0), dentropy (ntok, or NULL), or for MODEL_SEQ_CLS
 * dscores (nseg * num_labels).  Does not zero the gradients.
 */
void model_backward(struct model *m, const struct model_batch *b, const float *dlogp,
                    const float *dentropy, const float *dscores);

/* Floating-point operations of one forward (x3 for forward + backward). */
double model_flops_forward(const struct model *m, const struct model_batch *b);

/* ---- Layers ----
 * llm.c-style kernels over flat buffers: outputs, then inputs, then
 * weights, then sizes.  Backward kernels accumulate (+=) into weight
 * gradients and into input gradients where noted.  Each fast kernel has a
 * naive *_ref beside it that the tests compare it with.
 */

/* out (N,C) = x (N,C) * rstd * w; rstd (N) saved for the backward. */
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w,
                     size_t N, int C, float eps);
/* dx (N,C) += ..., dw (C) += ...; dout (N,C). */
void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x,
                      const float *w, const float *rstd, size_t N, int C);

/* out (N,OC) = in (N,IC) W^T (W (OC,IC)) + bias (OC, or NULL); sgemm. */
void matmul_forward(float *out, const float *in, const float *W, const float *bias,
                    size_t N, int IC, int OC);
void matmul_forward_ref(float *out, const float *in, const float *W, const float *bias,
                        size_t N, int IC, int OC);
/*
 * The backward of matmul_forward, dout (N,OC): din (N,IC) = dout W when
 * din is set (overwritten, not accumulated), dW (OC,IC) += dout^T in
 * when dW is set, dbias (OC) += dout's rows summed when dbias is set.
 * sgemm on the pool; within model_backward, a matrix with a bf16 copy
 * made for the backward (model_use_bf16) has bf16 products (w16.h).
 */
void matmul_backward(float *din, float *dW, float *dbias, const float *dout,
                     const float *in, const float *W, size_t N, int IC, int OC);

/*
 * RoPE in place on x (N, stride), heads of head_dim at columns [0, nh*hd)
 * of each row, HF's rotate_half convention (pairs i, i + hd/2).  cos, sin:
 * (maxpos, hd/2) tables; pos (N) each token's position.  The backward
 * rotates by the opposite angle.
 */
void rope_forward(float *x, const int *pos, const float *cos_t, const float *sin_t,
                  size_t N, int stride, int nh, int hd);
void rope_backward(float *dx, const int *pos, const float *cos_t, const float *sin_t,
                   size_t N, int stride, int nh, int hd);
/* cos, sin (npos, hd/2): cos(p inv_freq_i) attn_factor, likewise sin. */
void rope_tables(float *cos_t, float *sin_t, int npos, int hd, const double *inv_freq,
                 double attn_factor);
/* The tables of c's RoPE (model_rope_freqs) for positions [0, npos). */
void model_rope_tables(const struct model_config *c, float *cos_t, float *sin_t, int npos);

/* h (N,H) = silu(gu[:, :H]) * gu[:, H:]; gu (N,2H). */
void swiglu_forward(float *h, const float *gu, size_t N, int H);
/* h[i] = silu(g[i]) up[i] for i in [a, b): the same value swiglu_forward gives. */
void swiglu_span(float *h, const float *g, const float *up, int a, int b);
/* dgu (N,2H) = ... (overwrites); dh (N,H). */
void swiglu_backward(float *dgu, const float *dh, const float *gu, size_t N, int H);

/*
 * Causal attention within segments.  qkv (N, QKV) holds q (nh heads), k,
 * v (nkv heads each) per row, QKV = (nh + 2 nkv) hd; out (N, nh hd);
 * lse (nh, N) the log-sum-exp of each row's scores, for the backward.
 * Blocked (FlashAttention-2, Dao 2023, arXiv:2307.08691): scores exist
 * only for block x block tiles, so memory is O(N hd) per head; scratch
 * holds 2 block^2 + 3 block floats.  seg_start (nseg + 1) prefix sums.
 */
void attention_forward(float *out, float *lse, const float *qkv, const size_t *seg_start,
                       size_t nseg, int nh, int nkv, int hd, int block, float *scratch);
/* The plain O(T^2) version, scratch (max segment length) floats. */
void attention_forward_ref(float *out, float *lse, const float *qkv,
                           const size_t *seg_start, size_t nseg, int nh, int nkv, int hd,
                           float *scratch);
/* dqkv (N, QKV) += ...; dout (N, nh hd). */
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                        const float *lse, const size_t *seg_start, size_t nseg, int nh,
                        int nkv, int hd, int block, float *scratch);

/*
 * Log-probability of target and entropy of softmax(row / temp) for one
 * row of V logits (logp, ent may be NULL).  With backward set, row is
 * overwritten with dL/dlogits for the given dL/dlogp and dL/dentropy;
 * otherwise it is only read.
 */
void logprob_row(float *logp, float *ent, float *row, int V, int target, float temp,
                 float dlogp, float dent, int backward);

#endif
