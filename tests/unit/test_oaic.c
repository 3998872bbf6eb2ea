/*
 * test_oaic.c - lib/oaic.c against a scripted in-process HTTP server
 * (libmicrohttpd): answers come back in the order the jobs went in
 * whatever order they finish, 429 with Retry-After and 500 are retried,
 * a 400 is not, an exhausted job carries the server's message and the
 * number of attempts, and a job without a body sends nothing.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "oaic.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int hits[8];             /* requests seen per job */

struct up {
    struct sbuf body;
};

/* Body "J": job J's script (see main). */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct up *u = *con_cls;
    struct MHD_Response *rs;
    enum MHD_Result ret;
    unsigned status = 200;
    char out[64];
    int j, n;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    if (!u) {
        *con_cls = u = xcalloc(1, sizeof(*u));
        return MHD_YES;
    }
    if (*upload_size) {
        sbuf_add(&u->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    j = u->body.len == 1 ? u->body.buf[0] - '0' : 7;
    pthread_mutex_lock(&mu);
    n = hits[j]++;
    pthread_mutex_unlock(&mu);
    snprintf(out, sizeof(out), "{\"job\":%d}", j);
    if (j == 0)
        usleep(200 * 1000);      /* the first job finishes last */
    if (j == 1 && n == 0)
        status = 429;
    if (j == 2 && n < 2)
        status = 500;
    if (j == 3)
        status = 400;
    if (j == 4)
        status = 503;
    if (status != 200)
        snprintf(out, sizeof(out), "{\"error\":{\"message\":\"no %d\"}}", j);
    rs = MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_COPY);
    if (status == 429)
        MHD_add_response_header(rs, "Retry-After", "0");
    ret = MHD_queue_response(conn, status, rs);
    MHD_destroy_response(rs);
    sbuf_release(&u->body);
    free(u);
    *con_cls = NULL;
    return ret;
}

struct ctx {
    int next, ndone, order[8], ok[8], attempts[8];
    char why[8][128], body[8][32];
};

static int
next(void *cp, void **user, struct sbuf *body)
{
    struct ctx *c = cp;

    if (c->next == 6)
        return 0;
    *user = (void *)(intptr_t)c->next;
    if (c->next != 5)            /* job 5 has no body */
        sbuf_addc(body, (char)('0' + c->next));
    c->next++;
    return 1;
}

static void
done(void *cp, void *user, const struct oaic_result *r)
{
    struct ctx *c = cp;
    int j = (int)(intptr_t)user;

    c->order[c->ndone++] = j;
    c->ok[j] = r->ok;
    c->attempts[j] = r->attempts;
    snprintf(c->why[j], sizeof(c->why[j]), "%s", r->why);
    snprintf(c->body[j], sizeof(c->body[j]), "%.*s", (int)r->len, r->body);
}

int
main(void)
{
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    struct oaic_config cfg = {NULL, NULL, 4, 2, 0.01, 5};
    struct ctx c;
    char url[64];
    struct oaic *cl;
    int i;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                         NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d)
        return check_done();
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/",
             MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    cfg.url = url;
    memset(&c, 0, sizeof(c));
    cl = oaic_new(&cfg);
    oaic_run(cl, "/x", next, done, &c);
    oaic_free(cl);
    MHD_stop_daemon(d);

    CHECK(c.ndone == 6);
    for (i = 0; i < 6; i++)
        CHECK(c.order[i] == i);
    CHECK(c.ok[0] && c.attempts[0] == 1);
    CHECK_STREQ(c.body[0], "{\"job\":0}");
    CHECK(c.ok[1] && c.attempts[1] == 2 && hits[1] == 2);
    CHECK(c.ok[2] && c.attempts[2] == 3 && hits[2] == 3);
    CHECK(!c.ok[3] && c.attempts[3] == 1 && hits[3] == 1);
    CHECK_STREQ(c.why[3], "HTTP 400: no 3 (1 attempt)");
    CHECK(!c.ok[4] && c.attempts[4] == 3 && hits[4] == 3);
    CHECK_STREQ(c.why[4], "HTTP 503: no 4 (3 attempts)");
    CHECK(c.ok[5] && c.attempts[5] == 0 && hits[7] == 0);
    return check_done();
}
