/*
 * window.c - the in-order window of window.h: slots in one allocation,
 * sequence number seq in slot seq % cap.
 */
#include "window.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void
window_init(struct window *w, size_t size, size_t cap, int grows)
{
    assert(size > 0 && cap > 0);
    memset(w, 0, sizeof(*w));
    w->size = size;
    w->cap = cap;
    w->grows = grows;
    w->slots = xcalloc(cap, size);
    w->done = xcalloc(cap, 1);
}

/* Doubles a full window: every slot is live, so none is left behind. */
static void
grow(struct window *w)
{
    size_t nc = 2 * w->cap, i;
    char *slots = xcalloc(nc, w->size);
    unsigned char *done = xcalloc(nc, 1);

    for (i = w->head; i < w->tail; i++) {
        memcpy(slots + i % nc * w->size, w->slots + i % w->cap * w->size, w->size);
        done[i % nc] = w->done[i % w->cap];
    }
    free(w->slots);
    free(w->done);
    w->slots = slots;
    w->done = done;
    w->cap = nc;
}

void *
window_slot(struct window *w)
{
    if (w->tail - w->head == w->cap) {
        if (!w->grows)
            return NULL;
        grow(w);
    }
    return w->slots + w->tail % w->cap * w->size;
}

size_t
window_push(struct window *w, int done)
{
    assert(w->tail - w->head < w->cap);
    w->done[w->tail % w->cap] = done != 0;
    return w->tail++;
}

void *
window_at(const struct window *w, size_t seq)
{
    assert(seq >= w->head && seq < w->tail);
    return w->slots + seq % w->cap * w->size;
}

int
window_is_done(const struct window *w, size_t seq)
{
    assert(seq >= w->head && seq < w->tail);
    return w->done[seq % w->cap];
}

void
window_done(struct window *w, size_t seq)
{
    assert(seq >= w->head && seq < w->tail && !w->done[seq % w->cap]);
    w->done[seq % w->cap] = 1;
}

void *
window_pop(struct window *w)
{
    void *slot;

    if (w->head == w->tail || !w->done[w->head % w->cap])
        return NULL;
    slot = w->slots + w->head % w->cap * w->size;
    w->head++;
    return slot;
}

/* Swaps the bytes of slots a and b. */
static void
swap_slots(struct window *w, size_t a, size_t b)
{
    unsigned char *x = (unsigned char *)w->slots + a % w->cap * w->size;
    unsigned char *y = (unsigned char *)w->slots + b % w->cap * w->size;
    unsigned char c;
    size_t i;

    for (i = 0; i < w->size; i++) {
        c = x[i];
        x[i] = y[i];
        y[i] = c;
    }
}

void *
window_remove(struct window *w, size_t seq)
{
    size_t i;

    assert(seq >= w->head && seq < w->tail && w->done[seq % w->cap]);
    /* rotate [seq, tail) down by one: seq's bytes end at tail - 1 */
    for (i = seq; i + 1 < w->tail; i++) {
        swap_slots(w, i, i + 1);
        w->done[i % w->cap] = w->done[(i + 1) % w->cap];
    }
    w->tail--;
    return w->slots + w->tail % w->cap * w->size;
}

size_t
window_count(const struct window *w)
{
    return w->tail - w->head;
}

void
window_release(struct window *w, void (*clear)(void *ctx, void *slot), void *ctx)
{
    size_t i;

    if (clear && w->slots)
        for (i = 0; i < w->cap; i++)
            clear(ctx, w->slots + i * w->size);
    free(w->slots);
    free(w->done);
    memset(w, 0, sizeof(*w));
}
