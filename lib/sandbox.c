/*
 * sandbox.c - bubblewrap sandboxes: the host side (argv of bwrap, the
 * job sent in, the results read back, the overall time limit) and the
 * runner (PID 1 inside, running the steps).  See sandbox.h.
 *
 * Wire format, host to runner on the runner's stdin:
 *     "PTJOB1\n" N "\n", then per step:
 *     wall_ms cpu_s mem nproc fsize nofile out err needs "\n"
 *     argc "\n" argc * BLOB, nfiles "\n" nfiles * (BLOB name, BLOB data),
 *     BLOB input
 * where BLOB is its length in decimal, "\n", then the bytes.
 * Runner to host on the runner's stdout:
 *     "R\n" once the job is read (the sandbox has started), then per step
 *     "S status code cpu_us wall_us outlen errlen\n" out err, then "E\n".
 * Nothing the program under test runs can write to that stream: it holds
 * no descriptor of it, and the runner is PID 1 and not dumpable.
 */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define RUNNER_MAGIC "PTJOB1\n"
/* Captured bwrap stderr (setup errors are short). */
#define HOST_ERR_CAP (64 * 1024)
/* Time allowed beyond the steps' own limits: bwrap start, file writes. */
#define HOST_SLACK_SEC 3.0
#define STEP_SLACK_SEC 0.25

/* ======================================================================
 * Jobs and results
 * ====================================================================== */

void
sandbox_limits_default(struct sandbox_limits *l)
{
    l->wall_sec = 5;
    l->cpu_sec = 5;
    l->mem_bytes = (uint64_t)1 << 30;
    l->nproc = 32;
    l->fsize_bytes = (uint64_t)16 << 20;
    l->nofile = 64;
    l->out_bytes = (uint64_t)1 << 20;
    l->err_bytes = (uint64_t)64 << 10;
}

static void
limits_fill(struct sandbox_limits *l, const struct sandbox_limits *src)
{
    struct sandbox_limits d;

    sandbox_limits_default(&d);
    *l = src ? *src : d;
    if (l->wall_sec <= 0)
        l->wall_sec = d.wall_sec;
    if (l->cpu_sec <= 0)
        l->cpu_sec = d.cpu_sec;
    if (!l->mem_bytes)
        l->mem_bytes = d.mem_bytes;
    if (l->nproc <= 0)
        l->nproc = d.nproc;
    if (!l->fsize_bytes)
        l->fsize_bytes = d.fsize_bytes;
    if (l->nofile <= 0)
        l->nofile = d.nofile;
    if (!l->out_bytes)
        l->out_bytes = d.out_bytes;
    if (!l->err_bytes)
        l->err_bytes = d.err_bytes;
}

struct sandbox_step *
sandbox_job_add(struct sandbox_job *job, const struct sandbox_limits *lim)
{
    struct sandbox_step *s;

    if (job->n == job->cap) {
        job->cap = job->cap ? 2 * job->cap : 8;
        job->steps = xrealloc(job->steps, xmul(job->cap, sizeof(*job->steps)));
    }
    s = &job->steps[job->n++];
    memset(s, 0, sizeof(*s));
    limits_fill(&s->lim, lim);
    s->argv = xcalloc(1, sizeof(char *));
    s->needs = -1;
    return s;
}

void
sandbox_step_arg(struct sandbox_step *s, const char *arg)
{
    s->argv = xrealloc(s->argv, xmul(s->argc + 2, sizeof(char *)));
    s->argv[s->argc++] = xstrdup(arg);
    s->argv[s->argc] = NULL;
}

void
sandbox_step_file(struct sandbox_step *s, const char *name, const char *data,
                  size_t len)
{
    struct sandbox_file *f;

    s->files = xrealloc(s->files, xmul(s->nfiles + 1, sizeof(*s->files)));
    f = &s->files[s->nfiles++];
    f->name = xstrdup(name);
    f->data = xmalloc(len + 1);
    memcpy(f->data, data, len);
    f->data[len] = '\0';
    f->len = len;
}

void
sandbox_step_input(struct sandbox_step *s, const char *data, size_t len)
{
    free(s->input);
    s->input = xmalloc(len + 1);
    memcpy(s->input, data, len);
    s->input[len] = '\0';
    s->input_len = len;
}

void
sandbox_job_release(struct sandbox_job *job)
{
    size_t i, j;

    for (i = 0; i < job->n; i++) {
        struct sandbox_step *s = &job->steps[i];

        for (j = 0; j < s->argc; j++)
            free(s->argv[j]);
        free(s->argv);
        for (j = 0; j < s->nfiles; j++) {
            free(s->files[j].name);
            free(s->files[j].data);
        }
        free(s->files);
        free(s->input);
    }
    free(job->steps);
    job->steps = NULL;
    job->n = job->cap = 0;
}

const char *
sandbox_status_name(enum sandbox_status st)
{
    switch (st) {
    case SANDBOX_EXITED: return "exited";
    case SANDBOX_SIGNALED: return "signaled";
    case SANDBOX_TIMEOUT: return "timeout";
    case SANDBOX_OUTPUT_LIMIT: return "output_limit";
    case SANDBOX_SKIPPED: return "skipped";
    case SANDBOX_START_FAILED: return "start_failed";
    }
    return "unknown";
}

void
sandbox_result_release(struct sandbox_result *res)
{
    size_t i;

    for (i = 0; i < res->n; i++) {
        sbuf_release(&res->steps[i].out);
        sbuf_release(&res->steps[i].err);
    }
    free(res->steps);
    res->steps = NULL;
    res->n = 0;
    res->killed = 0;
}

/* ======================================================================
 * Shared I/O helpers
 * ====================================================================== */

static double
mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Reads what is available on fd into sb, keeping at most cap bytes; sets
 * *over when more than cap arrived.  Returns 1 at EOF, 0 otherwise.
 */
static int
drain(int fd, struct sbuf *sb, size_t cap, int *over)
{
    char buf[65536];
    ssize_t n;

    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n == 0)
            return 1;
        if (n < 0)
            return errno == EINTR ? 0 : (errno == EAGAIN ? 0 : 1);
        if (sb->len < cap && (size_t)n <= cap - sb->len) {
            sbuf_add(sb, buf, (size_t)n);
        } else {
            if (sb->len < cap)
                sbuf_add(sb, buf, cap - sb->len);
            *over = 1;
        }
    }
}

/*
 * Reads what is available on fd into sb, keeping only its last cap bytes
 * (the buffer grows to at most 2 * cap between trims).  Returns 1 at EOF,
 * 0 otherwise.
 */
static int
drain_tail(int fd, struct sbuf *sb, size_t cap)
{
    char buf[65536];
    ssize_t n;

    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                return 0;
            break;
        }
        if ((size_t)n >= cap) {
            sbuf_reset(sb);
            sbuf_add(sb, buf + (size_t)n - cap, cap);
            continue;
        }
        sbuf_add(sb, buf, (size_t)n);
        if (sb->len > 2 * cap) {
            memmove(sb->buf, sb->buf + sb->len - cap, cap);
            sb->len = cap;
            sb->buf[cap] = '\0';
        }
    }
    if (sb->len > cap) {
        memmove(sb->buf, sb->buf + sb->len - cap, cap);
        sb->len = cap;
        sb->buf[cap] = '\0';
    }
    return 1;
}

static void
put_blob(struct sbuf *sb, const char *p, size_t n)
{
    sbuf_addf(sb, "%zu\n", n);
    sbuf_add(sb, p, n);
}

/* A cursor over a received buffer. */
struct cur {
    const char *p, *end;
};

static int
get_u64(struct cur *c, uint64_t *v, char stop)
{
    uint64_t x = 0;
    const char *q = c->p;

    while (q < c->end && *q >= '0' && *q <= '9') {
        if (x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*q++ - '0');
    }
    if (q == c->p || q >= c->end || *q != stop)
        return -1;
    c->p = q + 1;
    *v = x;
    return 0;
}

static int
get_i64(struct cur *c, int64_t *v, char stop)
{
    uint64_t u;
    int neg = 0;

    if (c->p < c->end && *c->p == '-') {
        neg = 1;
        c->p++;
    }
    if (get_u64(c, &u, stop) || u > INT64_MAX)
        return -1;
    *v = neg ? -(int64_t)u : (int64_t)u;
    return 0;
}

static int
get_bytes(struct cur *c, size_t n, const char **out)
{
    if ((size_t)(c->end - c->p) < n)
        return -1;
    *out = c->p;
    c->p += n;
    return 0;
}

static int
get_blob(struct cur *c, const char **out, size_t *len)
{
    uint64_t n;

    if (get_u64(c, &n, '\n') || get_bytes(c, (size_t)n, out))
        return -1;
    *len = (size_t)n;
    return 0;
}

/* ======================================================================
 * Host side
 * ====================================================================== */

static char *
find_in_path(const char *name)
{
    const char *path = getenv("PATH"), *p, *e;
    struct sbuf sb = SBUF_INIT;

    if (strchr(name, '/'))
        return xstrdup(name);
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (p = path; ; p = e + 1) {
        e = strchr(p, ':');
        if (!e)
            e = p + strlen(p);
        sbuf_reset(&sb);
        if (e > p) {
            sbuf_add(&sb, p, (size_t)(e - p));
            sbuf_addc(&sb, '/');
        }
        sbuf_adds(&sb, name);
        if (access(sbuf_str(&sb), X_OK) == 0) {
            char *r = xstrdup(sbuf_str(&sb));
            sbuf_release(&sb);
            return r;
        }
        if (!*e)
            break;
    }
    sbuf_release(&sb);
    return xstrdup(name);
}

static void
add_arg(struct sandbox *sb, const char *a)
{
    sb->ro_binds = xrealloc(sb->ro_binds, xmul(sb->nro_binds + 1, sizeof(char *)));
    sb->ro_binds[sb->nro_binds++] = xstrdup(a);
}

/*
 * The system part of the file system: /usr, and each of /bin /sbin /lib*
 * as the symlink it is on merged-/usr systems or a read-only bind where it
 * is a directory; the loader cache and Debian's alternatives, which the
 * /usr/bin symlinks of compilers point into; and the JDKs' configuration
 * (/etc/java-*: the JVM does not start without its java.security, which
 * Debian keeps there).  Nothing else of /etc.
 */
static void
build_fs_args(struct sandbox *sb)
{
    static const char *const top[] = {
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    };
    static const char *const etc[] = {
        "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
        "/etc/alternatives",
    };
    size_t i;
    struct stat st;
    char target[4096];
    ssize_t n;
    DIR *dir;
    struct dirent *de;

    for (i = 0; i < ARRAY_LEN(top); i++) {
        if (lstat(top[i], &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            n = readlink(top[i], target, sizeof(target) - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            add_arg(sb, "--symlink");
            add_arg(sb, target);
            add_arg(sb, top[i]);
        } else if (S_ISDIR(st.st_mode)) {
            add_arg(sb, "--ro-bind");
            add_arg(sb, top[i]);
            add_arg(sb, top[i]);
        }
    }
    for (i = 0; i < ARRAY_LEN(etc); i++) {
        add_arg(sb, "--ro-bind-try");
        add_arg(sb, etc[i]);
        add_arg(sb, etc[i]);
    }
    if ((dir = opendir("/etc")) != NULL) {
        while ((de = readdir(dir)) != NULL) {
            if (strncmp(de->d_name, "java-", 5) != 0)
                continue;
            snprintf(target, sizeof(target), "/etc/%s", de->d_name);
            add_arg(sb, "--ro-bind-try");
            add_arg(sb, target);
            add_arg(sb, target);
        }
        closedir(dir);
    }
}

void
sandbox_init(struct sandbox *sb, const char *bwrap)
{
    memset(sb, 0, sizeof(*sb));
    sb->bwrap = find_in_path(bwrap ? bwrap : "bwrap");
    sb->uid_base = 64000;
    sb->retries = 2;
    sb->exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
    if (sb->exe_fd < 0)
        die_errno("/proc/self/exe");
    build_fs_args(sb);
}

void
sandbox_release(struct sandbox *sb)
{
    size_t i;

    for (i = 0; i < sb->nro_binds; i++)
        free(sb->ro_binds[i]);
    free(sb->ro_binds);
    free(sb->bwrap);
    if (sb->exe_fd >= 0)
        close(sb->exe_fd);
    memset(sb, 0, sizeof(*sb));
    sb->exe_fd = -1;
}

static void
serialize_job(const struct sandbox_job *job, struct sbuf *sb)
{
    size_t i, j;

    sbuf_adds(sb, RUNNER_MAGIC);
    sbuf_addf(sb, "%zu\n", job->n);
    for (i = 0; i < job->n; i++) {
        const struct sandbox_step *s = &job->steps[i];
        const struct sandbox_limits *l = &s->lim;

        sbuf_addf(sb, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %ld %" PRIu64
                  " %ld %" PRIu64 " %" PRIu64 " %ld\n",
                  (uint64_t)ceil(l->wall_sec * 1000), (uint64_t)ceil(l->cpu_sec),
                  l->mem_bytes, l->nproc, l->fsize_bytes, l->nofile,
                  l->out_bytes, l->err_bytes, s->needs);
        sbuf_addf(sb, "%zu\n", s->argc);
        for (j = 0; j < s->argc; j++)
            put_blob(sb, s->argv[j], strlen(s->argv[j]));
        sbuf_addf(sb, "%zu\n", s->nfiles);
        for (j = 0; j < s->nfiles; j++) {
            put_blob(sb, s->files[j].name, strlen(s->files[j].name));
            put_blob(sb, s->files[j].data, s->files[j].len);
        }
        put_blob(sb, s->input ? s->input : "", s->input_len);
    }
}

/* argv of bwrap for one run; strings borrowed from sb or static, or from sizebuf. */
static char **
build_argv(const struct sandbox *sb, const struct sandbox_job *job,
           char *sizebuf, size_t sizelen)
{
    static const char *const head[] = {
        "--unshare-all", "--unshare-user", "--disable-userns", "--as-pid-1",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--clearenv",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
        "--setenv", "PYTHONHASHSEED", "0",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--hostname", "sandbox",
    };
    static const char *const tail[] = {
        "--proc", "/proc",
        "--dev", "/dev",
        "--remount-ro", "/dev",
        "--size", NULL, "--tmpfs", "/tmp",
        "--ro-bind-fd", "3", SANDBOX_RUNNER_PATH,
        "--remount-ro", "/",
        "--chdir", "/tmp",
        "--", SANDBOX_RUNNER_PATH,
    };
    size_t n = 1 + ARRAY_LEN(head) + sb->nro_binds + ARRAY_LEN(tail) + 1, k = 0, i;
    char **argv = xcalloc(n, sizeof(char *));

    snprintf(sizebuf, sizelen, "%" PRIu64,
             job->tmpfs_bytes ? job->tmpfs_bytes : (uint64_t)64 << 20);
    argv[k++] = sb->bwrap;
    for (i = 0; i < ARRAY_LEN(head); i++)
        argv[k++] = (char *)head[i];
    for (i = 0; i < sb->nro_binds; i++)
        argv[k++] = sb->ro_binds[i];
    for (i = 0; i < ARRAY_LEN(tail); i++)
        argv[k++] = tail[i] ? (char *)tail[i] : sizebuf;
    argv[k] = NULL;
    return argv;
}

/*
 * The forked child: becomes the unprivileged uid and execs bwrap.  Only
 * async-signal-safe calls: the parent may have other threads.
 */
PT_NORETURN static void
host_child(const struct sandbox *sb, char **argv, uid_t uid, int in, int out,
           int err)
{
    static char *const envp[] = { NULL };
    static const char msg[] = "sandbox: cannot become the sandbox uid\n";
    static const char emsg[] = "sandbox: cannot execute bwrap\n";
    sigset_t none;
    int exe;

    /* Move the pipe ends above 3 first so the dup2s below cannot clobber them. */
    exe = fcntl(sb->exe_fd, F_DUPFD, 10);
    in = fcntl(in, F_DUPFD, 10);
    out = fcntl(out, F_DUPFD, 10);
    err = fcntl(err, F_DUPFD, 10);
    if (exe < 0 || in < 0 || out < 0 || err < 0)
        _exit(126);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 || dup2(exe, 3) < 0)
        _exit(126);
    syscall(SYS_close_range, 4U, ~0U, 0U);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (getuid() == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0
            || setresuid(uid, uid, uid) != 0 || getuid() == 0) {
            if (write(2, msg, sizeof(msg) - 1) < 0)
                _exit(126);
            _exit(126);
        }
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execve(argv[0], argv, envp);
    if (write(2, emsg, sizeof(emsg) - 1) < 0)
        _exit(127);
    _exit(127);
}

/*
 * Appends src[0, len) to dst as one line: trailing newlines and spaces
 * cut, at most SANDBOX_ERR_MAX bytes, inner newlines as spaces.
 */
static void
trim_add(struct sbuf *dst, const char *src, size_t len)
{
    size_t n, i;

    while (len && (src[len - 1] == '\n' || src[len - 1] == ' '))
        len--;
    n = PT_MIN(len, SANDBOX_ERR_MAX);
    for (i = 0; i < n; i++)
        sbuf_addc(dst, src[i] == '\n' ? ' ' : src[i]);
}

/* Parses the runner's output; returns 0, or -1 if it is malformed or cut. */
static int
parse_results(const struct sandbox_job *job, const struct sbuf *out,
              struct sandbox_result *res, size_t *done)
{
    struct cur c = { out->buf + 2, out->buf + out->len };
    size_t i;

    *done = 0;
    for (i = 0; i < job->n; i++) {
        struct sandbox_step_result *r = &res->steps[i];
        uint64_t st, olen, elen;
        int64_t code;
        uint64_t cpu_us, wall_us;
        const char *p;

        if (c.p + 2 > c.end || c.p[0] != 'S' || c.p[1] != ' ')
            return -1;
        c.p += 2;
        if (get_u64(&c, &st, ' ') || get_i64(&c, &code, ' ')
            || get_u64(&c, &cpu_us, ' ') || get_u64(&c, &wall_us, ' ')
            || get_u64(&c, &olen, ' ') || get_u64(&c, &elen, '\n')
            || st > SANDBOX_START_FAILED)
            return -1;
        r->status = (enum sandbox_status)st;
        r->code = (int)code;
        r->cpu_sec = (double)cpu_us * 1e-6;
        r->wall_sec = (double)wall_us * 1e-6;
        if (get_bytes(&c, (size_t)olen, &p))
            return -1;
        sbuf_add(&r->out, p, (size_t)olen);
        if (get_bytes(&c, (size_t)elen, &p))
            return -1;
        sbuf_add(&r->err, p, (size_t)elen);
        *done = i + 1;
    }
    return (c.end - c.p == 2 && c.p[0] == 'E' && c.p[1] == '\n') ? 0 : -1;
}

/* One attempt: 0 = results, -1 = infrastructure error (why in *why). */
static int
run_once(struct sandbox *sb, int slot, const struct sandbox_job *job,
         const struct sbuf *jobbuf, struct sandbox_result *res, struct sbuf *why)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    struct sbuf obuf = SBUF_INIT, ebuf = SBUF_INIT;
    char sizebuf[32];
    char **argv = NULL;
    size_t off = 0, i, ocap = 64, done;
    double wall = HOST_SLACK_SEC, deadline, hard = 0;
    int ofin = 0, efin = 0, over = 0, status = 0, rc = -1;
    pid_t pid;

    for (i = 0; i < job->n; i++) {
        wall += job->steps[i].lim.wall_sec + STEP_SLACK_SEC;
        ocap += job->steps[i].lim.out_bytes + job->steps[i].lim.err_bytes + 128;
    }
    if (access(sb->bwrap, X_OK) != 0) {
        sbuf_addf(why, "cannot execute '%s': %s", sb->bwrap,
                 strerror(errno));
        goto out;
    }
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
        sbuf_addf(why, "pipe: %s", strerror(errno));
        goto out;
    }
    argv = build_argv(sb, job, sizebuf, sizeof(sizebuf));
    pid = fork();
    if (pid < 0) {
        sbuf_addf(why, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0)
        host_child(sb, argv, sb->uid_base + (uid_t)slot, in[0], out[1], err[1]);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    in[0] = out[1] = err[1] = -1;
    set_nonblock(in[1]);
    set_nonblock(out[0]);
    set_nonblock(err[0]);
    deadline = mono_now() + wall;
    while (!ofin || !efin) {
        struct pollfd pf[3];
        int np = 0, tmo;
        double left;

        if (!ofin)
            pf[np++] = (struct pollfd){ out[0], POLLIN, 0 };
        if (!efin)
            pf[np++] = (struct pollfd){ err[0], POLLIN, 0 };
        if (in[1] >= 0)
            pf[np++] = (struct pollfd){ in[1], POLLOUT, 0 };
        left = (hard ? hard : deadline) - mono_now();
        if (left <= 0) {
            if (hard)
                break;      /* killed, and still no EOF: give up */
            kill(pid, SIGKILL);
            res->killed = 1;
            hard = mono_now() + 5;
            continue;
        }
        tmo = (int)ceil(left * 1000);
        if (poll(pf, (nfds_t)np, tmo) < 0 && errno != EINTR)
            break;
        for (i = 0; i < (size_t)np; i++) {
            if (!pf[i].revents)
                continue;
            if (pf[i].fd == out[0])
                ofin = drain(out[0], &obuf, ocap, &over);
            else if (pf[i].fd == err[0])
                efin = drain(err[0], &ebuf, HOST_ERR_CAP, &over);
            else if (pf[i].fd == in[1]) {
                ssize_t n = write(in[1], jobbuf->buf + off, jobbuf->len - off);

                if (n > 0)
                    off += (size_t)n;
                if ((n < 0 && errno != EAGAIN && errno != EINTR)
                    || off == jobbuf->len) {
                    close(in[1]);
                    in[1] = -1;
                }
            }
        }
    }
    if (in[1] >= 0) {
        close(in[1]);
        in[1] = -1;
    }
    if (!ofin || !efin)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;

    if (obuf.len < 2 || memcmp(obuf.buf, "R\n", 2) != 0) {
        if (ebuf.len)
            trim_add(why, ebuf.buf, ebuf.len);
        else if (res->killed)
            sbuf_addf(why, "sandbox did not start within %.0f s", wall);
        else
            sbuf_addf(why, "sandbox ended before starting (status %d)", status);
        goto out;
    }
    res->steps = xcalloc(job->n ? job->n : 1, sizeof(*res->steps));
    res->n = job->n;
    if (parse_results(job, &obuf, res, &done) != 0) {
        if (!res->killed || over) {
            sbuf_addf(why, "sandbox runner ended early (%s)",
                     over ? "result stream too long" : "no result");
            sandbox_result_release(res);
            goto out;
        }
        /* The host killed it: the step under way timed out. */
        for (i = done; i < job->n; i++) {
            sbuf_reset(&res->steps[i].out);
            sbuf_reset(&res->steps[i].err);
            res->steps[i].status = i == done ? SANDBOX_TIMEOUT : SANDBOX_SKIPPED;
            res->steps[i].code = 0;
        }
    }
    rc = 0;
out:
    for (i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    free(argv);
    sbuf_release(&obuf);
    sbuf_release(&ebuf);
    return rc;
}

int
sandbox_run(struct sandbox *sb, int slot, const struct sandbox_job *job,
            struct sandbox_result *res, struct sbuf *err)
{
    struct sbuf jobbuf = SBUF_INIT, why = SBUF_INIT;
    sigset_t pipe_set, old;
    int attempt, rc = -1;

    sandbox_result_release(res);
    serialize_job(job, &jobbuf);
    /* A bwrap that dies early must give EPIPE, not kill this process. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    for (attempt = 0; attempt <= sb->retries; attempt++) {
        if (attempt) {
            struct timespec ts = { 0, 50000000L * attempt };
            nanosleep(&ts, NULL);
        }
        sbuf_reset(&why);       /* the last attempt's reason is the one told */
        rc = run_once(sb, slot, job, &jobbuf, res, &why);
        if (rc == 0)
            break;
    }
    if (rc != 0)
        sbuf_add(err, sbuf_str(&why), why.len);
    if (!sigismember(&old, SIGPIPE)) {
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    sbuf_release(&jobbuf);
    sbuf_release(&why);
    return rc;
}

/* ======================================================================
 * Runner (PID 1 inside the sandbox)
 * ====================================================================== */

int
sandbox_is_runner(int argc, char **argv)
{
    return argc >= 1 && argv[0] && strcmp(argv[0], SANDBOX_RUNNER_PATH) == 0
           && getpid() == 1;
}

struct rstep {
    struct sandbox_limits lim;
    uint64_t wall_ms;
    long needs;
    size_t argc, nfiles;
    char **argv;
    const char **fname, **fdata;
    size_t *flen;
    const char *input;
    size_t input_len;
};

static int
write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n) {
        ssize_t w = write(fd, c, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Kills every other process of the namespace and reaps them all. */
static void
kill_all(void)
{
    int st;

    for (;;) {
        kill(-1, SIGKILL);
        if (waitpid(-1, &st, 0) < 0 && errno == ECHILD)
            break;
    }
}

static void
set_limit(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = { soft, hard };

    setrlimit(res, &rl);
}

/* Child of the runner: limits, descriptors, exec.  Reports errno on efd. */
PT_NORETURN static void
step_child(const struct rstep *s, int in, int out, int err, int efd)
{
    int e;

    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(127);
    if (efd <= 2)
        _exit(127);
    if (fcntl(efd, F_SETFD, FD_CLOEXEC) < 0)
        _exit(127);
    signal(SIGPIPE, SIG_DFL);
    set_limit(RLIMIT_CPU, (rlim_t)s->lim.cpu_sec, (rlim_t)s->lim.cpu_sec + 1);
    set_limit(RLIMIT_AS, s->lim.mem_bytes, s->lim.mem_bytes);
    /* The runner itself counts against the uid's processes. */
    set_limit(RLIMIT_NPROC, (rlim_t)s->lim.nproc + 1, (rlim_t)s->lim.nproc + 1);
    set_limit(RLIMIT_FSIZE, s->lim.fsize_bytes, s->lim.fsize_bytes);
    set_limit(RLIMIT_NOFILE, (rlim_t)s->lim.nofile, (rlim_t)s->lim.nofile);
    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_MEMLOCK, 0, 0);
    set_limit(RLIMIT_MSGQUEUE, 0, 0);
    /* Every descriptor but 0-2 and the exec-error pipe (close-on-exec). */
    syscall(SYS_close_range, 3U, (unsigned)efd - 1, 0U);
    syscall(SYS_close_range, (unsigned)efd + 1, ~0U, 0U);
    execve(s->argv[0], s->argv, environ);
    e = errno;
    if (write(efd, &e, sizeof(e)) < 0)
        _exit(127);
    _exit(127);
}

struct rres {
    enum sandbox_status status;
    int code;
    uint64_t cpu_us, wall_us;
    struct sbuf out, err;
};

static void
run_step(const struct rstep *s, struct rres *r)
{
    int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
    int pexec[2] = { -1, -1 }, pidfd = -1, st = 0, exited = 0, timed = 0;
    int over = 0, ofin = 0, efin = 0, e = 0;
    size_t off = 0, i;
    double t0 = mono_now(), deadline = t0 + (double)s->wall_ms / 1000;
    struct rusage ru;
    pid_t pid;

    memset(&ru, 0, sizeof(ru));
    for (i = 0; i < s->nfiles; i++) {
        int fd = open(s->fname[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

        if (fd < 0 || write_all(fd, s->fdata[i], s->flen[i]) != 0) {
            r->status = SANDBOX_START_FAILED;
            r->code = errno;
            if (fd >= 0)
                close(fd);
            return;
        }
        close(fd);
    }
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC)
        || pipe2(pexec, O_CLOEXEC)) {
        r->status = SANDBOX_START_FAILED;
        r->code = errno;
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        r->status = SANDBOX_START_FAILED;
        r->code = errno;
        goto out;
    }
    if (pid == 0)
        step_child(s, pin[0], pout[1], perr[1], pexec[1]);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    close(pexec[1]);
    pin[0] = pout[1] = perr[1] = pexec[1] = -1;
    if (read(pexec[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
        kill_all();
        r->status = SANDBOX_START_FAILED;
        r->code = e;
        goto out;
    }
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    set_nonblock(pin[1]);
    set_nonblock(pout[0]);
    set_nonblock(perr[0]);
    if (s->input_len == 0) {
        close(pin[1]);
        pin[1] = -1;
    }
    while (!exited) {
        struct pollfd pf[4];
        int np = 0, tmo;
        double left = deadline - mono_now();

        if (left <= 0) {
            timed = 1;
            break;
        }
        if (!ofin)
            pf[np++] = (struct pollfd){ pout[0], POLLIN, 0 };
        if (!efin)
            pf[np++] = (struct pollfd){ perr[0], POLLIN, 0 };
        if (pin[1] >= 0)
            pf[np++] = (struct pollfd){ pin[1], POLLOUT, 0 };
        if (pidfd >= 0)
            pf[np++] = (struct pollfd){ pidfd, POLLIN, 0 };
        tmo = (int)ceil(left * 1000);
        /* Without a pidfd (old kernels), poll the child every 5 ms. */
        if (pidfd < 0 && tmo > 5)
            tmo = 5;
        if (poll(pf, (nfds_t)np, tmo) < 0 && errno != EINTR)
            break;
        for (i = 0; i < (size_t)np; i++) {
            if (!pf[i].revents)
                continue;
            if (pf[i].fd == pout[0])
                ofin = drain(pout[0], &r->out, s->lim.out_bytes, &over);
            else if (pf[i].fd == perr[0])
                efin = drain_tail(perr[0], &r->err, s->lim.err_bytes);
            else if (pf[i].fd == pin[1]) {
                ssize_t n = write(pin[1], s->input + off, s->input_len - off);

                if (n > 0)
                    off += (size_t)n;
                if ((n < 0 && errno != EAGAIN && errno != EINTR)
                    || off == s->input_len) {
                    close(pin[1]);
                    pin[1] = -1;
                }
            }
        }
        if (over)
            break;
        if (wait4(pid, &st, WNOHANG, &ru) == pid)
            exited = 1;
    }
    if (!exited) {
        kill(-1, SIGKILL);
        while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
            ;
    }
    /* Whatever the step left behind dies now; then the pipes reach EOF. */
    kill_all();
    if (!ofin)
        drain(pout[0], &r->out, s->lim.out_bytes, &over);
    if (!efin)
        drain_tail(perr[0], &r->err, s->lim.err_bytes);
    r->wall_us = (uint64_t)((mono_now() - t0) * 1e6);
    r->cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec
                + (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
    if (over) {
        r->status = SANDBOX_OUTPUT_LIMIT;
    } else if (timed) {
        r->status = SANDBOX_TIMEOUT;
    } else if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);

        if (sig == SIGXCPU
            || (sig == SIGKILL && (double)r->cpu_us * 1e-6 >= s->lim.cpu_sec))
            r->status = SANDBOX_TIMEOUT;
        else if (sig == SIGXFSZ)
            r->status = SANDBOX_OUTPUT_LIMIT;
        else
            r->status = SANDBOX_SIGNALED;
        r->code = sig;
    } else {
        r->status = SANDBOX_EXITED;
        r->code = WEXITSTATUS(st);
    }
out:
    if (pidfd >= 0)
        close(pidfd);
    for (i = 0; i < 2; i++) {
        if (pin[i] >= 0)
            close(pin[i]);
        if (pout[i] >= 0)
            close(pout[i]);
        if (perr[i] >= 0)
            close(perr[i]);
        if (pexec[i] >= 0)
            close(pexec[i]);
    }
}

static int
parse_job(struct cur *c, struct rstep **stepsp, size_t *np)
{
    uint64_t n, v[9], k;
    size_t i, j;
    struct rstep *steps;
    const char *p;

    if (get_bytes(c, strlen(RUNNER_MAGIC), &p) || memcmp(p, RUNNER_MAGIC, strlen(RUNNER_MAGIC))
        || get_u64(c, &n, '\n') || n > 1000000)
        return -1;
    steps = calloc(n ? n : 1, sizeof(*steps));
    if (!steps)
        return -1;
    *stepsp = steps;
    *np = 0;
    for (i = 0; i < n; i++) {
        struct rstep *s = &steps[i];
        int64_t needs;

        for (j = 0; j < 8; j++)
            if (get_u64(c, &v[j], ' '))
                return -1;
        if (get_i64(c, &needs, '\n'))
            return -1;
        s->wall_ms = v[0];
        s->lim.cpu_sec = (double)v[1];
        s->lim.mem_bytes = v[2];
        s->lim.nproc = (long)v[3];
        s->lim.fsize_bytes = v[4];
        s->lim.nofile = (long)v[5];
        s->lim.out_bytes = v[6];
        s->lim.err_bytes = v[7];
        s->needs = (long)needs;
        if (get_u64(c, &k, '\n') || k == 0 || k > 4096)
            return -1;
        s->argc = (size_t)k;
        s->argv = calloc(k + 1, sizeof(char *));
        if (!s->argv)
            return -1;
        *np = i + 1;
        for (j = 0; j < k; j++) {
            size_t len;

            if (get_blob(c, &p, &len))
                return -1;
            s->argv[j] = strndup(p, len);
            if (!s->argv[j])
                return -1;
        }
        if (get_u64(c, &k, '\n') || k > 4096)
            return -1;
        s->nfiles = (size_t)k;
        s->fname = calloc(k + 1, sizeof(char *));
        s->fdata = calloc(k + 1, sizeof(char *));
        s->flen = calloc(k + 1, sizeof(size_t));
        if (!s->fname || !s->fdata || !s->flen)
            return -1;
        for (j = 0; j < k; j++) {
            size_t len;

            if (get_blob(c, &p, &len))
                return -1;
            s->fname[j] = strndup(p, len);
            if (!s->fname[j] || strchr(s->fname[j], '/'))
                return -1;
            if (get_blob(c, &s->fdata[j], &s->flen[j]))
                return -1;
        }
        if (get_blob(c, &s->input, &s->input_len))
            return -1;
    }
    return c->p == c->end ? 0 : -1;
}

int
sandbox_runner_main(void)
{
    struct sbuf job = SBUF_INIT, hdr = SBUF_INIT;
    struct rstep *steps = NULL;
    struct rres *res;
    size_t n = 0, i, j;
    struct cur c;
    int over = 0;

    /* Not dumpable: no ptrace, no /proc/1/fd or /proc/1/mem for the program. */
    prctl(PR_SET_DUMPABLE, 0);
    signal(SIGPIPE, SIG_IGN);
    syscall(SYS_close_range, 3U, ~0U, 0U);
    while (!drain(0, &job, SIZE_MAX, &over))
        ;
    c.p = job.buf;
    c.end = job.buf + job.len;
    if (job.len == 0 || parse_job(&c, &steps, &n) != 0) {
        static const char m[] = "sandbox runner: malformed job\n";
        if (write(2, m, sizeof(m) - 1) < 0)
            _exit(2);
        _exit(2);
    }
    if (write_all(1, "R\n", 2) != 0)
        _exit(1);
    res = calloc(n ? n : 1, sizeof(*res));
    if (!res)
        _exit(1);
    for (i = 0; i < n; i++) {
        struct rres *r = &res[i];
        long nd = steps[i].needs;

        if (nd >= 0 && ((size_t)nd >= i || res[nd].status != SANDBOX_EXITED
                        || res[nd].code != 0))
            r->status = SANDBOX_SKIPPED;
        else
            run_step(&steps[i], r);
        sbuf_reset(&hdr);
        sbuf_addf(&hdr, "S %d %d %" PRIu64 " %" PRIu64 " %zu %zu\n", (int)r->status,
                  r->code, r->cpu_us, r->wall_us, r->out.len, r->err.len);
        if (write_all(1, hdr.buf, hdr.len) || write_all(1, r->out.buf, r->out.len)
            || write_all(1, r->err.buf, r->err.len))
            _exit(1);
        sbuf_release(&r->out);
        sbuf_release(&r->err);
    }
    if (write_all(1, "E\n", 2) != 0)
        _exit(1);
    /* _exit: the process ends with the namespace; nothing to flush. */
    for (i = 0; i < n; i++) {
        for (j = 0; j < steps[i].argc; j++)
            free(steps[i].argv[j]);
        for (j = 0; j < steps[i].nfiles; j++)
            free((char *)steps[i].fname[j]);
        free(steps[i].argv);
        free(steps[i].fname);
        free(steps[i].fdata);
        free(steps[i].flen);
    }
    free(steps);
    free(res);
    sbuf_release(&job);
    sbuf_release(&hdr);
    _exit(0);
}
