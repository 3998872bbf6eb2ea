/*
 * chat.h - chat formats: a prompt record (system + prompt) to prompt ids,
 * a response to target ids ending in the end-of-turn token.
 *
 * Formats (the generation prompt of each model's own chat template, one
 * user turn; [X] is the special token X, other text is encoded):
 *
 *   builtin    [<|bos|>][<|system|>]SYS[<|user|>]PROMPT[<|assistant|>]
 *              response: RESPONSE[<|eos|>]
 *   deepseek3  [<｜begin▁of▁sentence｜>]SYS[<｜User｜>]PROMPT
 *              [<｜Assistant｜>]
 *              response: RESPONSE[<｜end▁of▁sentence｜>]
 *   chatml     [<|im_start|>]system\nSYS[<|im_end|>]\n
 *              [<|im_start|>]user\nPROMPT[<|im_end|>]\n
 *              [<|im_start|>]assistant\n
 *              response: RESPONSE[<|im_end|>]
 *   llama3     [<|begin_of_text|>]
 *              [<|start_header_id|>]system[<|end_header_id|>]\n\n
 *              SYS[<|eot_id|>]
 *              [<|start_header_id|>]user[<|end_header_id|>]\n\n
 *              PROMPT[<|eot_id|>]
 *              [<|start_header_id|>]assistant[<|end_header_id|>]\n\n
 *              response: RESPONSE[<|eot_id|>]
 *
 *   qwen3      chatml with Qwen3's rules: an assistant turn's reasoning
 *              (reasoning_content, or its content up to "</think>") as a
 *              "<think>\n...\n</think>\n\n" block after the last user
 *              question, dropped before it; CHAT_NO_THINK is
 *              enable_thinking false: the generation prompt ends in
 *              "<think>\n\n</think>\n\n"
 *   text       [BOS]SYS\nUser: PROMPT\nAssistant: (no chat markers:
 *              R1-Zero's plain template, for a base model pretrained on
 *              text alone; never detected, only named); always
 *              CHAT_PLAIN, and <think> is text too
 *              response: RESPONSE[EOS]
 *   llama3.1   llama3 with a system turn always, opening "Cutting
 *              Knowledge Date: December 2023\nToday Date: 26 Jul
 *              2024\n\n" (Llama 3.1 and 3.2); tool results under the
 *              ipython header as JSON strings
 *
 * llama3 is the Llama 3 (3.0) template.  deepseek3 follows DeepSeek-V3's
 * template, and R1's (earlier assistant turns keep only what follows
 * their last "</think>") when the chat template is R1's or, without one,
 * with CHAT_THINK.  Conversations (chat_conv) render turn by turn as
 * these templates do, system, user, assistant and tool turns; every
 * format is checked byte for byte against the models' templates under
 * Hugging Face's Jinja engine (tests/cli/tok/reference-jinja.sh).
 *
 * Without a system prompt the system part is left out (builtin: no
 * [<|system|>]; chatml and llama3: no system turn).  llama3 trims
 * leading and trailing white space of SYS and PROMPT as its template's
 * "trim" filter does.  With CHAT_THINK the assistant turn opens with
 * "<think>\n" (DeepSeek-R1 style), [<think>] being the special token when
 * the vocabulary has one.
 *
 * Ids equal what transformers' apply_chat_template(..., tokenize=True,
 * add_generation_prompt=True) gives for [{system}, {user}]: the rendered
 * string's text runs are encoded whole, so a special-token string inside
 * SYS or PROMPT becomes that special token, as there.  CHAT_PLAIN makes
 * the content plain text instead (tokens marked special only; non-special
 * added tokens such as DeepSeek-V3's <｜User｜> still match, as with the
 * tokenizers crate's encode_special_tokens).  A response is encoded on its
 * own, as the tokens a model samples after the prompt.
 *
 *     struct sbuf err = SBUF_INIT;
 *     struct tok *t = tok_load_dir(dir, &err);   (NULL: die("%s", err.buf))
 *     struct chat c;
 *     if (chat_init(&c, t, CHAT_AUTO, 0, &err) < 0) die("%s", sbuf_str(&err));
 *     struct tok_ids p = TOK_IDS_INIT, r = TOK_IDS_INIT;
 *     chat_prompt(&c, system, prompt, &p);  (gen: feed p, sample until
 *                                             chat_is_stop(&c, id))
 *     chat_response(&c, response, &r);  (pack: loss on r; ends in c.eos)
 *     tok_ids_release(&p); tok_ids_release(&r); chat_release(&c); tok_free(t);
 *
 * A struct chat borrows its tokenizer and owns only a scratch buffer; like
 * its tokenizer it serves one thread at a time.
 */
#ifndef POSTTRAIN_CHAT_H
#define POSTTRAIN_CHAT_H

#include "tok.h"

enum chat_format {
    CHAT_AUTO = 0,      /* chat_init: detect from the tokenizer */
    CHAT_BUILTIN,
    CHAT_DEEPSEEK3,
    CHAT_CHATML,
    CHAT_LLAMA3,
    CHAT_QWEN3,         /* ChatML with Qwen3's thinking rules */
    CHAT_LLAMA31,       /* Llama 3.1/3.2: the dated system preamble */
    CHAT_TEXT,          /* no markers: plain text for base models */
};

enum chat_flags {
    CHAT_THINK = 1 << 0,    /* open the assistant turn with "<think>\n" */
    CHAT_PLAIN = 1 << 1,    /* special-token strings in content are text */
    CHAT_NO_THINK = 1 << 2, /* never CHAT_THINK, even if detected; qwen3:
                               enable_thinking false */
};

enum chat_role {
    CHAT_ROLE_SYSTEM,
    CHAT_ROLE_USER,
    CHAT_ROLE_ASSISTANT,
    CHAT_ROLE_TOOL,
};

/* One turn of a conversation; the strings are borrowed. */
struct chat_msg {
    enum chat_role role;
    const char *content;        /* never NULL */
    const char *reasoning;      /* assistant: reasoning_content, or NULL */
};

#define CHAT_MAX_STOP 4

struct chat {
    struct tok *tok;        /* borrowed */
    enum chat_format format;
    unsigned flags;
    int eos;                /* ends a response (the target's last id) */
    int stop[CHAT_MAX_STOP];/* ids that end generation (eos first) */
    int nstop;
    int mark[8];            /* the format's special tokens */
    int think;              /* id of <think> or -1 */
    char *default_system;   /* chatml: the template's system turn for a
                               conversation without one, or NULL (owned) */
    int tool_response;      /* chatml: tool results as Qwen2's template
                               writes them, in a user turn of
                               <tool_response> blocks */
    struct sbuf text;       /* scratch */
};

/*
 * Sets up c for tokenizer t (borrowed: it must outlive c).  CHAT_AUTO
 * picks the format from the tokenizer_config.json chat template, else
 * from the special tokens present (<｜Assistant｜>, <|im_start|>,
 * <|start_header_id|>), else builtin for the built-in tokenizer; a chat
 * template whose generation prompt opens "<think>\n" (DeepSeek-R1) turns
 * CHAT_THINK on unless CHAT_NO_THINK is given.  Returns 0, or -1 with a
 * message in err when the format cannot be told or the tokenizer lacks
 * one of its special tokens ("FILE: ..." appended to err).
 */
int chat_init(struct chat *c, struct tok *t, enum chat_format format, unsigned flags,
              struct sbuf *err);
/* Frees the scratch buffer. */
void chat_release(struct chat *c);

/* "auto", "builtin", "deepseek3", "chatml", "llama3", "qwen3", "text",
 * "llama3.1" -> format; -1 if unknown. */
int chat_parse_format(const char *name, enum chat_format *out);
/* The name of a format (static). */
const char *chat_format_name(enum chat_format f);
/* "system", "user", "assistant", "tool" -> role; -1 if unknown. */
int chat_parse_role(const char *name, enum chat_role *out);

/*
 * Appends the prompt ids of one user turn (system may be NULL or "") to
 * out, ending with the opening of the assistant turn.
 */
void chat_prompt(struct chat *c, const char *system, const char *prompt,
                 struct tok_ids *out);
/* Appends the ids of response followed by c->eos to out. */
void chat_response(struct chat *c, const char *response, struct tok_ids *out);
/*
 * An SFT sample: prompt ids then response ids appended to ids, and to
 * mask 0 for each prompt id and 1 for each response id (mask may be NULL).
 */
void chat_sample(struct chat *c, const char *system, const char *prompt,
                 const char *response, struct tok_ids *ids,
                 struct tok_ids *mask);
/* 1 if id ends generation. */
int chat_is_stop(const struct chat *c, int id);
/*
 * Appends the prompt as text (specials written out) to out, for
 * inspection: decoding chat_prompt()'s ids gives the same text.
 */
void chat_render(struct chat *c, const char *system, const char *prompt,
                 struct sbuf *out);

/* ---- conversations ---- */

/*
 * Appends the ids of the conversation m[0, n) as the model's template
 * renders it (with its generation prompt when gen is 1) to ids, and to
 * mask (may be NULL) 1 for each id of an assistant output (after the
 * assistant header, to its end-of-turn token), else 0.  Text is encoded
 * in runs that end at special tokens and at the edges of assistant
 * outputs, so an output's ids are those the model samples.
 */
void chat_conv(struct chat *c, const struct chat_msg *m, size_t n, int gen,
               struct tok_ids *ids, struct tok_ids *mask);
/*
 * chat_conv() as text (specials written out), appended to out; spans
 * (may be NULL) gets the byte offsets in out where assistant outputs
 * start and end, in pairs.
 */
void chat_conv_render(struct chat *c, const struct chat_msg *m, size_t n,
                      int gen, struct sbuf *out, struct tok_ids *spans);
/*
 * An SFT sample of the conversation m[0, n), which must end in an
 * assistant turn: the turns before it as chat_conv() renders them with
 * the generation prompt, then the last turn as the model writes it after
 * that prompt (qwen3: the template's think block; other formats: with
 * reasoning, "<think>\n" (unless the prompt opened it) REASONING
 * "\n</think>\n\n" then the content), then c->eos.  mask gets 1 on
 * the last turn and, unless last_only, on the earlier assistant outputs.
 * Returns 0, or -1 with *why (static) saying why (no final assistant
 * turn; reasoning under qwen3's enable_thinking false).
 */
int chat_conv_sample(struct chat *c, const struct chat_msg *m, size_t n,
                     int last_only, struct tok_ids *ids, struct tok_ids *mask,
                     const char **why);
/* chat_conv_sample() as text appended to out. */
int chat_conv_sample_render(struct chat *c, const struct chat_msg *m, size_t n,
                            struct sbuf *out, const char **why);

#endif
