/*
 * window.h - the in-order window: a ring of slots keyed by sequence
 * number, where work taken in order may complete in any order and is
 * handed back in order.  lib/score's staged scorers (score-code's
 * workers, score-rm's batches and judge), lib/oaic's requests and
 * lib/gen's prompts keep their records in one.
 *
 * Each slot is `size` bytes of the caller's struct, zeroed when first
 * allocated and reused after (buffers in it carry over from one
 * sequence number to the next).  The window holds the slots of
 * sequence numbers [head, tail); head only moves past a slot marked
 * done.  A growable window doubles when full, moving every slot; a
 * fixed one refuses a new slot when full.  A done slot may also leave
 * out of its turn (window_remove: lib/gen's serve mode hands back each
 * prompt as soon as it is done).
 *
 * What it is not: a queue between threads (it has no lock; lib/score's
 * workers keep their own), nor a scheduler (which slot to run next is
 * the caller's).
 *
 *     struct window w;
 *     struct job *j;
 *     window_init(&w, sizeof(struct job), 64, 1);
 *     while ((j = window_slot(&w)) && read_job(j))
 *         j->seq = window_push(&w, 0);     (later: window_done(&w, seq))
 *     while ((j = window_pop(&w)) != NULL)
 *         write_job(j);                   (in input order)
 *     window_release(&w, clear_job, NULL);
 */
#ifndef POSTTRAIN_WINDOW_H
#define POSTTRAIN_WINDOW_H

#include <stddef.h>

struct window {
    char *slots;            /* (cap * size) */
    unsigned char *done;    /* (cap) */
    size_t size, cap;
    size_t head, tail;      /* sequence numbers; tail - head <= cap */
    int grows;
};

/* An empty window of cap (>= 1) slots of size bytes; grows: doubles when full. */
void window_init(struct window *w, size_t size, size_t cap, int grows);
/*
 * The free slot at the tail (borrowed until the next window_slot or
 * window_push), growing a full window that grows; NULL when a fixed
 * window is full.  It joins the window only with window_push.
 */
void *window_slot(struct window *w);
/* The slot of window_slot joins as the tail; returns its sequence number. */
size_t window_push(struct window *w, int done);
/* The slot of seq, in [head, tail) (borrowed until the next window_slot). */
void *window_at(const struct window *w, size_t seq);
/* Whether seq's slot is done. */
int window_is_done(const struct window *w, size_t seq);
/* seq's work is complete: its slot may be popped in its turn. */
void window_done(struct window *w, size_t seq);
/*
 * The head slot if done (head moves past it; the slot is borrowed until
 * the next window_slot), else NULL.
 */
void *window_pop(struct window *w);
/*
 * Takes seq's slot, done, out of the window ahead of its turn: the slots
 * after it move down one sequence number each (their bytes move; a
 * caller that keeps pointers into the window keeps them to records
 * elsewhere), and its bytes go to the free slot past the new tail, so
 * the next window_slot reuses them.  Returns that slot, borrowed until
 * the next window_slot.
 */
void *window_remove(struct window *w, size_t seq);
/* Slots in the window: tail - head. */
size_t window_count(const struct window *w);
/* Calls clear(ctx, slot) on every slot allocated (if clear), then frees them. */
void window_release(struct window *w, void (*clear)(void *ctx, void *slot), void *ctx);

#endif
