/*
 * test_oai.c - the OpenAI JSON of lib/oai.c: what serve takes from a
 * request and refuses, the body gen --server sends, and what it keeps of
 * an answer.
 */
#include <string.h>

#include "check.h"
#include "oai.h"

static const struct oai_limits lim = {16, 100, 8};

static int
parse(struct oai_request *rq, const char *body, enum oai_endpoint ep, struct sbuf *err)
{
    sbuf_reset(err);
    return oai_request_parse(rq, body, strlen(body), ep, &lim, err);
}

int
main(void)
{
    struct sbuf err = SBUF_INIT, body = SBUF_INIT;
    struct oai_request rq;
    struct oai_response r;
    struct oai_params p;
    const char *stops[] = {"\n\n"};
    const char *resp;

    /* a full chat request */
    CHECK(parse(&rq, "{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},"
                     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"U\"}]}],"
                     "\"n\":3,\"temperature\":0.5,\"top_p\":0.9,\"top_k\":-1,\"max_tokens\":7,"
                     "\"stop\":\"x\",\"seed\":42,\"logprobs\":true,\"top_logprobs\":2,"
                     "\"user\":\"p1\"}", OAI_CHAT, &err) == 0);
    CHECK_STREQ(rq.system, "S");
    CHECK_STREQ(rq.user_turn, "U");
    CHECK(rq.n == 3 && rq.max_tokens == 7 && rq.has_seed && rq.seed == 42);
    CHECK(rq.sampler.temperature == 0.5f && rq.sampler.top_p == 0.9f && rq.sampler.top_k == 0);
    CHECK(rq.nstops == 1 && strcmp(rq.stops[0], "x") == 0);
    CHECK(rq.logprobs && rq.top_logprobs == 2);
    CHECK_STREQ(rq.user, "p1");
    oai_request_release(&rq);
    /* a conversation of several turns: every message, no one-turn shortcut */
    CHECK(parse(&rq, "{\"messages\":[{\"role\":\"developer\",\"content\":\"S\"},"
                     "{\"role\":\"user\",\"content\":\"a\"},"
                     "{\"role\":\"assistant\",\"content\":\"b\",\"reasoning_content\":\"r\"},"
                     "{\"role\":\"tool\",\"content\":\"t\"}]}", OAI_CHAT, &err) == 0);
    CHECK(rq.nmsgs == 4 && rq.user_turn == NULL && rq.system == NULL);
    CHECK(rq.msgs[0].role == CHAT_ROLE_SYSTEM && rq.msgs[3].role == CHAT_ROLE_TOOL);
    CHECK(rq.msgs[2].role == CHAT_ROLE_ASSISTANT && strcmp(rq.msgs[2].reasoning, "r") == 0);
    CHECK_STREQ(rq.msgs[1].content, "a");
    oai_request_release(&rq);
    CHECK(parse(&rq, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                     "{\"role\":\"system\",\"content\":\"S\"}]}", OAI_CHAT, &err) == -1);
    CHECK_STREQ(err.buf, "field 'messages': a system message is only allowed first");
    CHECK(parse(&rq, "{\"messages\":[{\"role\":\"system\",\"content\":\"S\"}]}",
                OAI_CHAT, &err) == -1);
    CHECK_STREQ(err.buf, "field 'messages': no user message");
    CHECK(parse(&rq, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\","
                     "\"reasoning_content\":\"r\"}]}", OAI_CHAT, &err) == -1);
    CHECK_STREQ(err.buf, "field 'messages': reasoning_content belongs to assistant messages");
    CHECK(parse(&rq, "{\"messages\":[{\"role\":\"robot\",\"content\":\"a\"}]}",
                OAI_CHAT, &err) == -1);
    CHECK_STREQ(err.buf,
                "field 'messages': a role is not system, developer, user, assistant or tool");
    /* defaults: n 1, the limit's max_tokens, no seed, no user */
    CHECK(parse(&rq, "{\"prompt\":[[1,2],\"ab\"]}", OAI_COMPLETIONS, &err) == 0);
    CHECK(rq.n == 1 && rq.max_tokens == 100 && !rq.has_seed && strcmp(rq.user, "") == 0);
    CHECK(rq.nprompts == 2 && rq.prompts[0].nids == 2 && rq.prompts[0].ids[1] == 2);
    CHECK(rq.prompts[1].text && rq.prompts[1].len == 2);
    oai_request_release(&rq);
    /* refusals name the field */
    CHECK(parse(&rq, "{\"prompt\":\"a\",\"n\":17}", OAI_COMPLETIONS, &err) == -1);
    CHECK_STREQ(err.buf, "field 'n': 17 is not in [1, 16]");
    CHECK(parse(&rq, "{\"prompt\":\"a\",\"temperature\":\"hot\"}", OAI_COMPLETIONS, &err) == -1);
    CHECK_STREQ(err.buf, "field 'temperature': not a number");
    CHECK(parse(&rq, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"prompt\":\"a\"}",
                OAI_CHAT, &err) == -1);
    CHECK_STREQ(err.buf, "unknown field 'prompt' for /v1/chat/completions");
    CHECK(parse(&rq, "{\"prompt\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}",
                OAI_COMPLETIONS, &err) == -1);
    CHECK_STREQ(err.buf, "field 'prompt': 9 prompts, at most 8 in one request");
    CHECK(parse(&rq, "[]", OAI_COMPLETIONS, &err) == -1);
    CHECK_STREQ(err.buf, "the body is not a JSON object");
    CHECK(parse(&rq, "{\"prompt\":\"a\",\"stream_options\":{\"include_usage\":true}}",
                OAI_COMPLETIONS, &err) == -1);
    CHECK_STREQ(err.buf, "field 'stream_options': only with stream: true");

    /* the body gen --server sends */
    memset(&p, 0, sizeof(p));
    p.ep = OAI_CHAT;
    p.model = "m";
    p.n = 2;
    p.temperature = 0.5f;
    p.top_p = -1;
    p.top_k = -1;
    p.max_tokens = 9;
    p.stops = stops;
    p.nstops = 1;
    p.has_seed = 1;
    p.seed = 3;
    p.logprobs = 1;
    p.send_user = 1;
    oai_body(&body, &p, "S", "Q", "id7");
    CHECK_STREQ(body.buf, "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"S\"},"
                          "{\"role\":\"user\",\"content\":\"Q\"}],\"n\":2,\"temperature\":0.5,"
                          "\"max_tokens\":9,\"stop\":[\"\\n\\n\"],\"seed\":3,\"logprobs\":true,"
                          "\"user\":\"id7\"}");

    /* an answer: reasoning_content becomes the think block; token:N are ids */
    resp = "{\"model\":\"t\",\"choices\":[{\"index\":1,\"message\":{\"content\":\"4\"},"
           "\"finish_reason\":\"length\"},{\"index\":0,\"message\":{\"content\":\"4\","
           "\"reasoning_content\":\"2+2\"},\"logprobs\":{\"content\":[{\"token\":\"token:7\","
           "\"logprob\":-0.25}]},\"finish_reason\":\"stop\"}],"
           "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}";
    CHECK(oai_response_parse(&r, resp, strlen(resp), OAI_CHAT, 2, &err) == 0);
    CHECK_STREQ(json_string_value(r.choice[0].completion), "<think>\n2+2\n</think>\n\n4");
    CHECK_STREQ(r.choice[0].finish, "stop");
    CHECK(json_array_size(r.choice[0].ids) == 1 &&
          json_integer_value(json_array_get(r.choice[0].ids, 0)) == 7);
    CHECK(json_real_value(json_array_get(r.choice[0].logprobs, 0)) == -0.25);
    CHECK_STREQ(json_string_value(r.choice[1].completion), "4");
    CHECK(!r.choice[1].logprobs && !r.choice[1].ids);
    CHECK(r.prompt_tokens == 3 && r.completion_tokens == 2);
    CHECK_STREQ(r.model, "t");
    oai_response_release(&r);
    /* not the answer asked for */
    sbuf_reset(&err);
    CHECK(oai_response_parse(&r, resp, strlen(resp), OAI_CHAT, 3, &err) == -1);
    CHECK_STREQ(err.buf, "the response has 2 choices, 3 were asked for");
    resp = "{\"error\":{\"message\":\"bad key\"}}";
    CHECK(oai_response_parse(&r, resp, strlen(resp), OAI_CHAT, 1, &err) == -1);

    sbuf_release(&err);
    sbuf_release(&body);
    return check_done();
}
