/*
 * oaic.c - the ordered, retrying libcurl multi client of oaic.h.
 *
 * Jobs sit in lib/window's ring in input order.  Each loop: start waiting jobs
 * (oldest first) while fewer than `concurrency` run, let curl work for at
 * most 100 ms, sort out the finished transfers (done, to retry at a
 * time, or failed), and hand back the done jobs at the head of the ring.
 */
#include "oaic.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "window.h"

enum job_state { JOB_WAIT, JOB_RUN, JOB_DONE };

struct job {
    void *user;
    struct sbuf body, resp;
    enum job_state state;
    int attempts, ok;
    long status;
    double not_before, retry_after;
    CURL *h;
    size_t seq;             /* in the window */
    char why[512];
};

struct oaic {
    struct oaic_config cfg;
    CURLM *multi;
    struct curl_slist *headers;
    char *url;
    struct window win;      /* of struct job, 4 * concurrency */
    int running;
};

static int curl_ready;

struct oaic *
oaic_new(const struct oaic_config *cfg)
{
    struct oaic *c = xcalloc(1, sizeof(*c));
    struct sbuf sb = SBUF_INIT;

    if (cfg->concurrency < 1 || cfg->retries < 0 || !(cfg->timeout > 0))
        die("oaic: concurrency, retries and timeout out of range");
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
            die("libcurl cannot start");
        curl_ready = 1;
    }
    c->cfg = *cfg;
    c->multi = curl_multi_init();
    if (!c->multi)
        die("libcurl cannot start");
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    c->headers = curl_slist_append(c->headers, "Expect:");
    if (cfg->api_key) {
        sbuf_addf(&sb, "Authorization: Bearer %s", cfg->api_key);
        c->headers = curl_slist_append(c->headers, sb.buf);
        sbuf_release(&sb);
    }
    window_init(&c->win, sizeof(struct job), 4 * (size_t)cfg->concurrency, 0);
    return c;
}

static void
free_job(void *ctx, void *slot)
{
    struct oaic *c = ctx;
    struct job *j = slot;

    if (j->h) {
        curl_multi_remove_handle(c->multi, j->h);
        curl_easy_cleanup(j->h);
    }
    sbuf_release(&j->body);
    sbuf_release(&j->resp);
}

void
oaic_free(struct oaic *c)
{
    if (!c)
        return;
    window_release(&c->win, free_job, c);
    free(c->url);
    curl_slist_free_all(c->headers);
    curl_multi_cleanup(c->multi);
    free(c);
}

static size_t
on_data(char *p, size_t size, size_t n, void *ud)
{
    struct job *j = ud;

    sbuf_add(&j->resp, p, size * n);
    return size * n;
}

/* Retry-After: delta-seconds or an HTTP date. */
static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
    struct job *j = ud;
    size_t len = size * n;
    char buf[128];

    if (len > 12 && len < sizeof(buf) && strncasecmp(p, "Retry-After:", 12) == 0) {
        char *v = buf, *end;
        double d;
        memcpy(buf, p + 12, len - 12);
        buf[len - 12] = '\0';
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\r\n")] = '\0';
        d = strtod(v, &end);
        if (end != v && *end == '\0' && d >= 0) {
            j->retry_after = d;
        } else {
            time_t t = curl_getdate(v, NULL);
            if (t != -1)
                j->retry_after = PT_MAX(0.0, difftime(t, time(NULL)));
        }
    }
    return len;
}

static void
start(struct oaic *c, struct job *j)
{
    CURL *h = j->h ? j->h : curl_easy_init();

    if (!h)
        die("libcurl cannot make a handle");
    curl_easy_reset(h);
    sbuf_reset(&j->resp);
    j->retry_after = -1;
    j->status = 0;
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->body.buf);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body.len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->cfg.timeout * 1000));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PRIVATE, j);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "posttrain/" PT_VERSION);
    j->h = h;
    j->state = JOB_RUN;
    j->attempts++;
    c->running++;
    curl_multi_add_handle(c->multi, h);
}

/* A short reason from an error body: the server's message, else its first bytes. */
static void
body_reason(struct job *j, char *out, size_t n)
{
    const char *m = memmem(j->resp.buf ? j->resp.buf : "", j->resp.len, "\"message\"", 9);
    size_t len = PT_MIN(j->resp.len, 200);

    if (m) {
        const char *q = strchr(m + 9, '"');
        const char *e = q ? strchr(q + 1, '"') : NULL;
        while (e && e[-1] == '\\')
            e = strchr(e + 1, '"');
        if (q && e) {
            snprintf(out, n, "%.*s", (int)PT_MIN((size_t)(e - q - 1), 300), q + 1);
            return;
        }
    }
    snprintf(out, n, "%.*s", (int)len, j->resp.buf ? j->resp.buf : "");
    out[strcspn(out, "\r\n")] = '\0';
}

static void
finished(struct oaic *c, CURLMsg *msg)
{
    struct job *j;
    CURLcode rc = msg->data.result;
    long st = 0;
    char reason[400];
    int retry;

    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
    curl_multi_remove_handle(c->multi, j->h);
    c->running--;
    if (rc == CURLE_OK)
        curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &st);
    j->status = st;
    if (rc == CURLE_OK && st == 200) {
        j->state = JOB_DONE;
        j->ok = 1;
        window_done(&c->win, j->seq);
        return;
    }
    if (rc != CURLE_OK) {
        retry = 1;
        if (rc == CURLE_OPERATION_TIMEDOUT)
            snprintf(reason, sizeof(reason), "timeout after %g s", c->cfg.timeout);
        else
            snprintf(reason, sizeof(reason), "%s", curl_easy_strerror(rc));
        /* a URL that can never work is not retried */
        if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT ||
            rc == CURLE_COULDNT_RESOLVE_HOST)
            retry = 0;
    } else {
        char msgtext[320];
        retry = st == 408 || st == 429 || st >= 500;
        body_reason(j, msgtext, sizeof(msgtext));
        snprintf(reason, sizeof(reason), "HTTP %ld%s%s", st, *msgtext ? ": " : "", msgtext);
    }
    if (retry && j->attempts <= c->cfg.retries) {
        double wait = c->cfg.retry_wait;
        int i;
        for (i = 1; i < j->attempts && wait < 60; i++)
            wait *= 2;
        if (j->retry_after >= 0)
            wait = j->retry_after;
        wait = PT_MIN(wait, 60.0);
        j->not_before = now_sec() + wait;
        j->state = JOB_WAIT;
        return;
    }
    snprintf(j->why, sizeof(j->why), "%s (%d attempt%s)", reason, j->attempts,
             j->attempts == 1 ? "" : "s");
    j->state = JOB_DONE;
    j->ok = 0;
    window_done(&c->win, j->seq);
}

void
oaic_run(struct oaic *c, const char *path, oaic_next_fn *next, oaic_done_fn *done, void *ctx)
{
    struct sbuf u = SBUF_INIT;
    size_t n = strlen(c->cfg.url);
    int eof = 0;

    while (n > 0 && c->cfg.url[n - 1] == '/')
        n--;
    sbuf_add(&u, c->cfg.url, n);
    sbuf_adds(&u, path);
    free(c->url);
    c->url = xstrdup(sbuf_str(&u));
    sbuf_release(&u);
    for (;;) {
        double now = now_sec(), wake = now + 0.1;
        int still, nm;
        CURLMsg *msg;
        struct job *j;
        size_t i;
        /* take new jobs while the window has room */
        while (!eof && (j = window_slot(&c->win)) != NULL) {
            sbuf_reset(&j->body);
            if (!next(ctx, &j->user, &j->body)) {
                eof = 1;
                break;
            }
            j->state = j->body.len ? JOB_WAIT : JOB_DONE;
            j->attempts = 0;
            j->ok = j->body.len == 0;
            j->status = 0;
            sbuf_reset(&j->resp);
            j->not_before = 0;
            j->why[0] = '\0';
            j->seq = window_push(&c->win, j->state == JOB_DONE);
        }
        /* start waiting jobs, oldest first */
        for (i = c->win.head; i < c->win.tail && c->running < c->cfg.concurrency; i++) {
            j = window_at(&c->win, i);
            if (j->state == JOB_WAIT && j->not_before <= now)
                start(c, j);
        }
        for (i = c->win.head; i < c->win.tail; i++) {
            j = window_at(&c->win, i);
            if (j->state == JOB_WAIT && j->not_before > now)
                wake = PT_MIN(wake, j->not_before);
        }
        /* hand back the done jobs at the head */
        while ((j = window_pop(&c->win)) != NULL) {
            struct oaic_result r;
            r.ok = j->ok;
            r.status = j->status;
            r.body = j->resp.buf ? j->resp.buf : "";
            r.len = j->resp.len;
            r.why = j->why;
            r.attempts = j->attempts;
            done(ctx, j->user, &r);
        }
        if (eof && window_count(&c->win) == 0)
            break;
        curl_multi_perform(c->multi, &still);
        curl_multi_poll(c->multi, NULL, 0, (int)PT_MAX(1.0, (wake - now) * 1000), &nm);
        curl_multi_perform(c->multi, &still);
        while ((msg = curl_multi_info_read(c->multi, &nm)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                finished(c, msg);
    }
}
