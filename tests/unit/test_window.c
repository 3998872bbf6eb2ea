/*
 * test_window - lib/window: slots taken in order and completed in any
 * order come back in order; a growable window keeps its slots through
 * growth, a fixed one refuses a slot when full; the end of a stream
 * drains every slot; release clears each slot once; a done slot taken
 * out of its turn leaves the others in order and its bytes to the next
 * slot taken.
 */
#include "check.h"
#include "window.h"

struct rec {
    int id;
    int buf;    /* stands for a buffer reused from one record to the next */
};

/* Takes record id into a new slot; returns its sequence number. */
static size_t
take(struct window *w, int id, int done)
{
    struct rec *r = window_slot(w);

    r->id = id;
    return window_push(w, done);
}

/* Pops every ready slot into out[*n...]. */
static void
pop_all(struct window *w, int *out, int *n)
{
    struct rec *r;

    while ((r = window_pop(w)) != NULL)
        out[(*n)++] = r->id;
}

/* Checks that out[0, n) is 0, 1, ..., n - 1. */
static void
check_order(const int *out, int n)
{
    int i;

    for (i = 0; i < n; i++)
        CHECK_MSG(out[i] == i, "out[%d] = %d", i, out[i]);
}

static void
test_out_of_order(void)
{
    struct window w;
    int out[8], n = 0;
    size_t s0, s1, s2, s3;

    window_init(&w, sizeof(struct rec), 4, 0);
    s0 = take(&w, 10, 0);
    s1 = take(&w, 11, 0);
    s2 = take(&w, 12, 1);       /* done on taking: a record passed through */
    s3 = take(&w, 13, 0);
    CHECK(s0 == 0 && s1 == 1 && s2 == 2 && s3 == 3);
    CHECK(window_count(&w) == 4);
    CHECK(window_slot(&w) == NULL);     /* fixed and full */
    CHECK(window_pop(&w) == NULL);      /* the head is not done */
    window_done(&w, s3);
    window_done(&w, s1);
    pop_all(&w, out, &n);
    CHECK(n == 0);                      /* 10 still holds the rest back */
    CHECK(window_is_done(&w, s1) && !window_is_done(&w, s0));
    CHECK(((struct rec *)window_at(&w, s2))->id == 12);
    window_done(&w, s0);
    pop_all(&w, out, &n);
    CHECK(n == 4);
    CHECK(out[0] == 10 && out[1] == 11 && out[2] == 12 && out[3] == 13);
    CHECK(window_count(&w) == 0);
    CHECK(window_slot(&w) != NULL);     /* room again */
    window_release(&w, NULL, NULL);
}

static void
test_reuse(void)
{
    struct window w;
    struct rec *r;
    size_t s;

    /* one slot: every record gets the same one, its buffer as left */
    window_init(&w, sizeof(struct rec), 1, 0);
    r = window_slot(&w);
    CHECK(r->buf == 0);                 /* zeroed when allocated */
    r->buf = 7;
    s = take(&w, 1, 0);
    window_done(&w, s);
    CHECK(window_pop(&w) == r);
    r = window_slot(&w);
    CHECK(r->buf == 7);
    s = take(&w, 2, 0);
    CHECK(s == 1);
    window_done(&w, s);
    CHECK(((struct rec *)window_pop(&w))->id == 2);
    window_release(&w, NULL, NULL);
}

static void
test_growth(void)
{
    struct window w;
    int out[100], n = 0, i;
    size_t seq[100];

    /* the head stays behind while 100 records are taken: 2 slots grow to 128 */
    window_init(&w, sizeof(struct rec), 2, 1);
    seq[0] = take(&w, 0, 0);
    window_done(&w, take(&w, 1, 0));
    pop_all(&w, out, &n);
    CHECK(n == 0);
    for (i = 2; i < 100; i++) {
        CHECK(window_slot(&w) != NULL);
        seq[i] = take(&w, i, 0);
        if (i % 3 == 0)
            window_done(&w, seq[i]);
    }
    CHECK(w.cap == 128);
    CHECK(window_count(&w) == 100);
    CHECK(window_is_done(&w, 1) && window_is_done(&w, 99) && !window_is_done(&w, 98));
    for (i = 2; i < 100; i++)
        if (i % 3 != 0)
            window_done(&w, seq[i]);
    pop_all(&w, out, &n);
    CHECK(n == 0);
    window_done(&w, seq[0]);
    pop_all(&w, out, &n);
    CHECK(n == 100);
    check_order(out, n);
    window_release(&w, NULL, NULL);
}

/* A window wrapped round its ring grows with its slots in order. */
static void
test_growth_wrapped(void)
{
    struct window w;
    int out[16], n = 0, i;

    window_init(&w, sizeof(struct rec), 4, 1);
    for (i = 0; i < 3; i++)
        window_done(&w, take(&w, i, 0));
    pop_all(&w, out, &n);               /* head 3: the next slots wrap */
    CHECK(n == 3);
    for (i = 3; i < 10; i++)            /* 3..6 fill the ring, 7 grows it */
        take(&w, i, 0);
    CHECK(w.cap == 8 && window_count(&w) == 7);
    for (i = 9; i >= 3; i--)
        window_done(&w, (size_t)i);
    pop_all(&w, out, &n);
    CHECK(n == 10);
    check_order(out, n);
    window_release(&w, NULL, NULL);
}

/* window_remove from the middle, at the head and at the tail, wrapped. */
static void
test_remove(void)
{
    struct window w;
    struct rec *r;
    int out[8], n = 0, i;

    window_init(&w, sizeof(struct rec), 4, 0);
    window_done(&w, take(&w, 0, 0));
    pop_all(&w, out, &n);               /* head 1: the ring wraps below */
    CHECK(n == 1);
    for (i = 1; i <= 4; i++)            /* seqs 1..4 hold 1..4 */
        take(&w, i, 0);
    ((struct rec *)window_at(&w, 3))->buf = 33;
    window_done(&w, 3);
    r = window_remove(&w, 3);           /* record 3, from the middle */
    CHECK(r->id == 3 && r->buf == 33);
    CHECK(window_count(&w) == 3);
    CHECK(((struct rec *)window_at(&w, 3))->id == 4);  /* moved down */
    CHECK(!window_is_done(&w, 3));
    CHECK(window_slot(&w) == r);        /* its bytes are the next slot's */
    CHECK(take(&w, 5, 0) == 4);
    window_done(&w, 1);
    r = window_remove(&w, 1);           /* the head */
    CHECK(r->id == 1);
    CHECK(((struct rec *)window_at(&w, 1))->id == 2);
    window_done(&w, 3);
    CHECK(((struct rec *)window_remove(&w, 3))->id == 5);  /* the tail */
    CHECK(window_count(&w) == 2);
    window_done(&w, 2);
    window_done(&w, 1);
    n = 0;
    pop_all(&w, out, &n);
    CHECK(n == 2 && out[0] == 2 && out[1] == 4);
    CHECK(window_count(&w) == 0);
    window_release(&w, NULL, NULL);
}

static void
count_clear(void *ctx, void *slot)
{
    (void)slot;
    (*(int *)ctx)++;
}

static void
test_end(void)
{
    struct window w;
    int out[4], n = 0, cleared = 0;

    /* an empty stream: nothing to pop */
    window_init(&w, sizeof(struct rec), 3, 0);
    CHECK(window_count(&w) == 0 && window_pop(&w) == NULL);
    /* the last records end the stream done: all come out, then none */
    window_done(&w, take(&w, 1, 0));
    take(&w, 2, 1);
    pop_all(&w, out, &n);
    CHECK(n == 2 && out[0] == 1 && out[1] == 2);
    CHECK(window_pop(&w) == NULL && window_count(&w) == 0);
    window_release(&w, count_clear, &cleared);
    CHECK(cleared == 3);                /* every slot allocated, once */
    CHECK(w.slots == NULL && w.cap == 0);
}

int
main(void)
{
    test_out_of_order();
    test_reuse();
    test_growth();
    test_growth_wrapped();
    test_remove();
    test_end();
    return check_done();
}
