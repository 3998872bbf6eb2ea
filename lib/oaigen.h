/*
 * oaigen.h - gen --server: prompt records in, one request each to an
 * OpenAI-compatible server (oaic.h), sample records out in input order.
 *
 * Each record asks for n = G choices; choice k is sample k of group id.
 * A request that still fails after the retries is a rejected record
 * (tool_reject_at: fail fast, or --rejects with the reason), never a
 * sample; an answer that is not the response asked for is rejected the
 * same way.
 *
 * Resume (-o FILE --resume): FILE is written in place, a whole group at
 * a time, flushed after each.  At start an existing FILE is read back:
 * a last line without its newline is cut off, and so is a last group
 * with fewer than G records (a run killed while writing it); any other
 * line that is not a sample record of a whole group stops the run.  The
 * groups left are skipped in the input (matched by id), so only the
 * rest is asked for.  Records rejected by the earlier run are in no
 * group: they are asked for again.
 *
 *     struct oaigen_config gc = {...};
 *     tool_start_noout(&t, argc, argv);   (resume) or tool_start()
 *     oaigen_run(&t, &gc);
 */
#ifndef POSTTRAIN_OAIGEN_H
#define POSTTRAIN_OAIGEN_H

#include "oai.h"
#include "oaic.h"
#include "tool.h"

struct oaigen_config {
    struct oai_params params;   /* params.n = G */
    struct oaic_config client;
    const char *system;         /* replaces the records' own, or NULL */
    const char *resume;         /* the output FILE written in place, or NULL */
};

/*
 * Checks FILE for --resume before tool_start (so a usage problem is
 * found before any request): dies unless FILE is a plain file name.
 */
void oaigen_check_resume(const struct tool *t, const char *path);
/* Runs over t's input; t is started (tool_start_noout when resuming). */
void oaigen_run(struct tool *t, const struct oaigen_config *gc);

#endif
