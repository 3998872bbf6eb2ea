/*
 * oai.h - the OpenAI HTTP API's JSON, both ways: a request body as serve
 * reads it (checked field by field: any problem is a message for a 400,
 * never a crash), and the body gen --server sends and the response it
 * reads back.  No I/O here: the HTTP client is oaic.h, the server
 * serve.h.
 *
 * Endpoints: /v1/completions (a prompt: text, texts, token ids, lists of
 * token ids) and /v1/chat/completions (messages: a conversation of
 * system, user, assistant and tool turns, as chat.h renders them).
 *
 * Request fields serve knows (any other is an error, so a typo is never
 * silently ignored): model, prompt | messages, n, temperature, top_p,
 * top_k, min_p, max_tokens (max_completion_tokens for chat), stop, seed,
 * logprobs, top_logprobs (chat), stream, stream_options, user,
 * include_stop_str_in_output and return_token_ids (vLLM's names),
 * echo (false only), frequency_penalty and presence_penalty (0 only).
 * `user` names the random streams, as a prompt record's id does in gen:
 * a request with gen's seed and `user` set to a record's id samples what
 * gen samples for that record.
 *
 *     struct oai_request rq;
 *     struct sbuf err = SBUF_INIT;
 *     if (oai_request_parse(&rq, body, len, OAI_CHAT, &lim, &err) != 0)
 *         reply 400 with err.buf;
 *     ...
 *     oai_request_release(&rq);
 */
#ifndef POSTTRAIN_OAI_H
#define POSTTRAIN_OAI_H

#include <jansson.h>
#include <stdint.h>

#include "chat.h"
#include "sampler.h"
#include "util.h"

enum oai_endpoint {
    OAI_COMPLETIONS,    /* /v1/completions */
    OAI_CHAT,           /* /v1/chat/completions */
};

#define OAI_MAX_STOPS 4
#define OAI_MAX_STOP_LEN 256
#define OAI_MAX_TOP_LOGPROBS 20

/* What serve allows. */
struct oai_limits {
    int max_n;              /* n at most */
    int max_tokens;         /* max_tokens at most, and its default */
    int max_prompts;        /* prompts of one completions request at most */
};

/* One prompt of a request: text, or token ids. */
struct oai_prompt {
    const char *text;       /* borrowed from the request's JSON, or NULL */
    size_t len;
    int *ids;               /* owned, or NULL */
    int nids;
};

struct oai_request {
    enum oai_endpoint ep;
    json_t *root;           /* the parsed body, owned; strings borrow from it */
    const char *model;      /* NULL when absent */
    struct oai_prompt *prompts; /* (nprompts) completions; chat: none */
    int nprompts;
    const char *system;     /* chat: NULL when there is no system message */
    const char *user_turn;  /* chat: the user message of a one-turn request, else NULL */
    struct chat_msg *msgs;  /* chat: every message (owned array, borrowed strings) */
    size_t nmsgs;
    int n;
    struct sampler_config sampler;
    int max_tokens;
    int has_seed;
    uint64_t seed;
    const char *stops[OAI_MAX_STOPS];
    int nstops;
    int logprobs;           /* per-token log-probs asked for */
    int top_logprobs;       /* alternatives per token, 0..OAI_MAX_TOP_LOGPROBS */
    int stream, include_usage, include_stop, token_ids;
    const char *user;       /* "" when absent */
};

/*
 * Parses and checks the body (len bytes) of a request to ep.  Returns 0
 * with rq filled (release it), or -1 with a message for the client in
 * err (rq then needs no release).
 */
int oai_request_parse(struct oai_request *rq, const char *body, size_t len,
                      enum oai_endpoint ep, const struct oai_limits *lim, struct sbuf *err);
void oai_request_release(struct oai_request *rq);

/* ---- the client's side ---- */

/* What gen --server asks for, beside each record's prompt. */
struct oai_params {
    enum oai_endpoint ep;
    const char *model;
    int n;
    float temperature, top_p;   /* < 0: not sent */
    int top_k;                  /* < 0: not sent (an extension: vLLM, serve) */
    int max_tokens;             /* <= 0: not sent */
    int has_seed;
    uint64_t seed;
    const char *const *stops;
    int nstops;
    int logprobs;               /* ask for log-probs */
    int token_ids;              /* ask for token ids (return_token_ids) */
    int send_user;              /* send the record's id as `user` */
};

/*
 * Appends the request body for one prompt to out: chat with system (may
 * be NULL) and prompt, or completions with prompt alone; user is the
 * record's id (sent when p->send_user).
 */
void oai_body(struct sbuf *out, const struct oai_params *p, const char *system,
              const char *prompt, const char *user);
/*
 * The same for a conversation m[0, n) (chat only; the turns the answer
 * follows): each turn's role and content, reasoning_content on assistant
 * turns that have it.
 */
void oai_body_conv(struct sbuf *out, const struct oai_params *p, const struct chat_msg *m,
                   size_t n, const char *user);

/* One choice of a response, as a sample record holds it. */
struct oai_choice {
    json_t *completion;     /* string: reasoning_content as a <think> block, then content */
    const char *finish;     /* "stop", "length", ... (borrowed from the response) */
    json_t *logprobs;       /* array of numbers, or NULL */
    json_t *ids;            /* array of ints, or NULL */
};

struct oai_response {
    json_t *root;           /* owned */
    struct oai_choice *choice;  /* (n), in index order */
    int n;
    json_t *prompt_ids;     /* array, or NULL (borrowed from root) */
    long prompt_tokens, completion_tokens;  /* usage, -1 when absent */
    const char *model;      /* borrowed, or NULL */
};

/*
 * Parses a response to a request of n choices.  Returns 0, or -1 with
 * the reason in err (a body that is not the response asked for).
 */
int oai_response_parse(struct oai_response *r, const char *body, size_t len,
                       enum oai_endpoint ep, int n, struct sbuf *err);
void oai_response_release(struct oai_response *r);

/* The message of an error response ({"error": {"message": ...}}), or NULL. */
const char *oai_error_message(const json_t *root);

#endif
