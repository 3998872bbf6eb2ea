/*
 * score.c - the scorer loop of score.h.
 */
#include "score.h"

#include <string.h>

#include "rec.h"

void
score_run(struct tool *t, const struct scorer *s, struct score_counts *c)
{
    struct sbuf why = SBUF_INIT;
    json_t *r;

    memset(c, 0, sizeof(*c));
    while ((r = tool_next(t)) != NULL) {
        const char *comp, *field, *w;
        double reward = 0;
        int k;

        switch (sample_domain_match(&s->domains, r, &w)) {
        case -1:
            tool_reject(t, r, "domain", "%s", w);
            goto next;
        case 0:
            tool_write(t, r);
            c->passed++;
            goto next;
        }
        if (rec_check_rewards(r, &w)) {
            tool_reject(t, r, "rewards", "%s", w);
            goto next;
        }
        if (rec_get_str(r, "completion", &comp, &w)) {
            tool_reject(t, r, "completion", "%s", w);
            goto next;
        }
        sbuf_reset(&why);
        field = NULL;
        k = s->score(s->ctx, r, comp, &reward, &field, &why);
        if (k < 0) {
            tool_reject(t, r, field, "%s", sbuf_str(&why));
            goto next;
        }
        rec_set_reward(r, s->name, reward);
        c->scored++;
        c->hits += k > 0;
        tool_write(t, r);
        tool_progress(t, "%ld records, %ld %s", t->nread, c->hits, s->hit);
    next:
        json_decref(r);
    }
    sbuf_release(&why);
}
