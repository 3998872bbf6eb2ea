/*
 * fuzz_serve.c - serve's request parsing (oai_request_parse): any body,
 * to either endpoint, is a request whose fields are in range, or a 400
 * message; never a crash, a leak or an out-of-range value.  The response
 * parser of gen --server reads the same bytes as a server's answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oai.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oai_limits lim = {16, 1024, 64};
    struct sbuf err = SBUF_INIT;
    struct oai_request rq;
    struct oai_response rs;
    int ep, i;

    for (ep = 0; ep < 2; ep++) {
        sbuf_reset(&err);
        if (oai_request_parse(&rq, (const char *)data, size, (enum oai_endpoint)ep, &lim,
                              &err) == 0) {
            if (rq.n < 1 || rq.n > lim.max_n || rq.max_tokens < 1 ||
                rq.max_tokens > lim.max_tokens || rq.nstops > OAI_MAX_STOPS ||
                rq.top_logprobs < 0 || rq.top_logprobs > OAI_MAX_TOP_LOGPROBS ||
                sampler_config_check(&rq.sampler, NULL) != 0)
                abort();
            if (ep == OAI_CHAT && (!rq.user_turn || rq.nprompts != 0))
                abort();
            if (ep == OAI_COMPLETIONS && (rq.nprompts < 1 || rq.nprompts > lim.max_prompts))
                abort();
            for (i = 0; i < rq.nstops; i++)
                if (!*rq.stops[i] || strlen(rq.stops[i]) > OAI_MAX_STOP_LEN)
                    abort();
            oai_request_release(&rq);
        } else if (err.len == 0) {
            abort();
        }
        for (i = 1; i <= 2; i++)
            if (oai_response_parse(&rs, (const char *)data, size, (enum oai_endpoint)ep, i,
                                   &err) == 0)
                oai_response_release(&rs);
    }
    sbuf_release(&err);
    return 0;
}
