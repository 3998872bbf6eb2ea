/*
 * test_tmpfile.c - owner-stamped temporaries: names, the owner's identity
 * from /proc, and reclaiming (a dead writer's file and directory go, a
 * live writer's stay, whatever its name says, and other names are never
 * touched).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tmpfile.h"

static int
exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static void
touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

    CHECK_MSG(fd >= 0, "%s: %s", path, strerror(errno));
    if (fd >= 0) {
        CHECK(write(fd, "x\n", 2) == 2);
        close(fd);
    }
}

/* "d/.NAME.tmp-PID-START-BOOT-abc123" for an owner */
static char *
name_for(const char *dir, const char *base, long pid, unsigned long long start, uint32_t boot)
{
    struct sbuf sb = SBUF_INIT;

    sbuf_addf(&sb, "%s/.%s.tmp-%ld-%llu-%08x-abc123", dir, base, pid, start, (unsigned)boot);
    return sb.buf;
}

/* A pid that ran and is gone: a child's, reaped. */
static long
dead_pid(void)
{
    pid_t p = fork();

    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return (long)p;
}

static void
test_identity(void)
{
    struct tmpf_owner me, o;
    unsigned long long start = 0;
    struct sbuf sb = SBUF_INIT;
    const char *base;

    tmpf_self(&me);
    CHECK(me.pid == (long)getpid());
    CHECK(me.start > 0);
    CHECK(me.boot != 0);
    CHECK(tmpf_proc_start(me.pid, &start) == 0 && start == me.start);
    CHECK(tmpf_proc_start(1, &start) == 0);
    CHECK(tmpf_proc_start(dead_pid(), &start) == -1);

    tmpf_template(&sb, "out/x.jsonl.zst");
    CHECK(strncmp(sb.buf, "out/.x.jsonl.zst.tmp-", 21) == 0);
    CHECK(strcmp(sb.buf + sb.len - 7, "-XXXXXX") == 0);
    memcpy(sb.buf + sb.len - 6, "Zq09aB", 6);
    base = strrchr(sb.buf, '/') + 1;
    CHECK(tmpf_parse(base, &o) == 0);
    CHECK(o.pid == me.pid && o.start == me.start && o.boot == me.boot);
    sbuf_reset(&sb);
    tmpf_template(&sb, "ck");
    CHECK(strncmp(sb.buf, ".ck.tmp-", 8) == 0);
    sbuf_release(&sb);

    /* a long NAME is cut in the template, so the name stays under NAME_MAX */
    {
        char longname[301];
        memset(longname, 'n', 300);
        longname[300] = 0;
        tmpf_template(&sb, longname);
        CHECK(sb.len < 200);
        sbuf_release(&sb);
    }

    CHECK(tmpf_parse(".a.tmp-12-345-0badcafe-abc123", &o) == 0);
    CHECK(o.pid == 12 && o.start == 345 && o.boot == 0x0badcafe);
    CHECK(tmpf_parse(".a.b-c.tmp-7-0-00000001-zzzzzz", &o) == 0);
    CHECK(o.pid == 7 && o.start == 0 && o.boot == 1);
    /* other forms: never ours */
    CHECK(tmpf_parse(".a.tmp-XXXXXX", &o) == -1);            /* older release */
    CHECK(tmpf_parse(".a.tmpAbC123", &o) == -1);
    CHECK(tmpf_parse("a.tmp-12-345-0badcafe-abc123", &o) == -1);   /* not hidden */
    CHECK(tmpf_parse("..tmp-12-345-0badcafe-abc123", &o) == -1);   /* no NAME */
    CHECK(tmpf_parse(".a.tmp-12-345-0BADCAFE-abc123", &o) == -1);
    CHECK(tmpf_parse(".a.tmp-12-345-badcafe-abc123", &o) == -1);
    CHECK(tmpf_parse(".a.tmp--345-0badcafe-abc123", &o) == -1);
    CHECK(tmpf_parse(".a.tmp-0-345-0badcafe-abc123", &o) == -1);
    CHECK(tmpf_parse(".a.tmp-12-345-0badcafe-abc12", &o) == -1);
    CHECK(tmpf_parse(".a.tmp-12-345-0badcafe-abc1234", &o) == -1);
    CHECK(tmpf_parse(".a.tmp-12-345-0badcafe-abc.23", &o) == -1);
    CHECK(tmpf_parse(".a.TMP-12-345-0badcafe-abc123", &o) == -1);
}

/* A child that makes a file and a directory temporary in d, writes, and is killed. */
static void
killed_writer(const char *d, char **file, char **dir)
{
    int pfd[2];
    pid_t p;
    char buf[512];
    ssize_t n;

    CHECK(pipe(pfd) == 0);
    p = fork();
    if (p == 0) {
        struct sbuf err = SBUF_INIT, path = SBUF_INIT;
        char *t1 = NULL, *t2 = NULL;
        int fd, dfd;

        close(pfd[0]);
        sbuf_addf(&path, "%s/out.jsonl", d);
        fd = tmpf_open(path.buf, &t1, &err);
        sbuf_reset(&path);
        sbuf_addf(&path, "%s/ckpt", d);
        dfd = tmpf_mkdir(path.buf, &t2, &err);
        if (fd < 0 || dfd < 0 || write(fd, "{}\n", 3) != 3)
            _exit(1);
        sbuf_reset(&path);
        sbuf_addf(&path, "%s/model.safetensors", t2);
        close(open(path.buf, O_WRONLY | O_CREAT, 0644));
        dprintf(pfd[1], "%s\n%s\n", t1, t2);
        close(pfd[1]);
        pause();
        _exit(0);
    }
    close(pfd[1]);
    n = read(pfd[0], buf, sizeof(buf) - 1);
    close(pfd[0]);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = 0;
    *file = xstrndup(buf, strcspn(buf, "\n"));
    *dir = xstrndup(strchr(buf, '\n') ? strchr(buf, '\n') + 1 : "",
                    strcspn(strchr(buf, '\n') ? strchr(buf, '\n') + 1 : "", "\n"));
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
}

static void
test_reclaim(void)
{
    struct tmpf_owner me;
    struct sbuf err = SBUF_INIT;
    char *file, *dir, *mine, *p1, *p2, *p3, *p4, *p5, *p6;
    int fd, dfd;
    long gone = dead_pid();

    tmpf_self(&me);
    CHECK(mkdir("d", 0777) == 0);

    /* a killed writer's leftovers: both there, with their contents */
    killed_writer("d", &file, &dir);
    CHECK(exists(file) && exists(dir));

    /* names of other forms, and plain files */
    touch("d/.out.jsonl.tmpAbC123");
    touch("d/.ck.tmp-AbC123");
    touch("d/x.jsonl");
    CHECK(symlink(".out.jsonl.tmpAbC123", "d/.l.tmp-1-2-00000003-abc123") == 0);

    /* a live writer: this process, lock held */
    fd = tmpf_open("d/live.jsonl", &mine, &err);
    CHECK_MSG(fd >= 0, "%s", sbuf_str(&err));
    /* tmpf_open reclaimed d already: the dead writer's file and directory are gone */
    CHECK(!exists(file));
    CHECK(!exists(dir));
    CHECK(exists(mine));
    CHECK(tmpf_check("d", strrchr(mine, '/') + 1, 1) == TMPF_LIVE);

    /* unlocked, named after a live process (a writer between creating and
     * locking it): kept */
    p1 = name_for("d", "a", me.pid, me.start, me.boot);
    touch(p1);
    /* unlocked, its pid gone: removed */
    p2 = name_for("d", "b", gone, 12345, me.boot);
    touch(p2);
    /* unlocked, pid alive but reused (another start time): removed */
    p3 = name_for("d", "c", me.pid, me.start + 1, me.boot);
    touch(p3);
    /* unlocked, from another boot: removed */
    p4 = name_for("d", "e", me.pid, me.start, me.boot ^ 0x5a5a5a5a);
    touch(p4);
    /* a dead pid's name, but locked by a live process (a writer of another
     * pid namespace): kept */
    p5 = name_for("d", "f", gone, 1, me.boot);
    touch(p5);
    dfd = open(p5, O_RDONLY | O_CLOEXEC);
    CHECK(dfd >= 0 && flock(dfd, LOCK_EX) == 0);
    /* a directory of a dead pid, with files below: removed whole */
    p6 = name_for("d", "g", gone, 1, me.boot);
    CHECK(mkdir(p6, 0777) == 0);
    {
        struct sbuf sub = SBUF_INIT;
        sbuf_addf(&sub, "%s/sub", p6);
        CHECK(mkdir(sub.buf, 0777) == 0);
        sbuf_adds(&sub, "/w.bin");
        touch(sub.buf);
        sbuf_release(&sub);
    }

    CHECK(tmpf_check("d", strrchr(p2, '/') + 1, 0) == TMPF_STALE);
    CHECK(exists(p2));   /* asked, not removed */
    CHECK(tmpf_check("d", "x.jsonl", 1) == TMPF_NOT_OURS);
    CHECK(tmpf_reclaim("d") == 4);
    CHECK(exists(mine));
    CHECK(exists(p1));
    CHECK(!exists(p2));
    CHECK(!exists(p3));
    CHECK(!exists(p4));
    CHECK(exists(p5));
    CHECK(!exists(p6));
    CHECK(exists("d/.out.jsonl.tmpAbC123"));
    CHECK(exists("d/.ck.tmp-AbC123"));
    CHECK(exists("d/x.jsonl"));
    CHECK(exists("d/.l.tmp-1-2-00000003-abc123"));
    CHECK(tmpf_reclaim("d") == 0);

    /* the lock dropped: p5's pid is gone, so it goes now */
    close(dfd);
    CHECK(tmpf_reclaim("d") == 1);
    CHECK(!exists(p5));

    /* a live writer's directory, and its file once renamed */
    {
        char *tdir;
        int lfd = tmpf_mkdir("d/ck", &tdir, &err);
        CHECK_MSG(lfd >= 0, "%s", sbuf_str(&err));
        CHECK(tmpf_reclaim("d") == 0);
        CHECK(exists(tdir));
        CHECK(rename(tdir, "d/ck") == 0);
        close(lfd);
        free(tdir);
    }
    CHECK(rename(mine, "d/live.jsonl") == 0);
    close(fd);
    free(mine);
    CHECK(tmpf_reclaim("d") == 0);
    CHECK(exists("d/live.jsonl") && exists("d/ck"));

    /* a bare name reclaims the current directory */
    free(p2);
    p2 = name_for(".", "h", gone, 1, me.boot);
    touch(p2);
    fd = tmpf_open("here.jsonl", &mine, &err);
    CHECK(fd >= 0);
    CHECK(!exists(p2));
    CHECK(strncmp(mine, ".here.jsonl.tmp-", 16) == 0);
    close(fd);
    unlink(mine);
    free(mine);

    /* errors name the final path */
    sbuf_reset(&err);
    CHECK(tmpf_open("nodir/x.jsonl", &mine, &err) == -1);
    CHECK(strstr(sbuf_str(&err), "nodir/x.jsonl: cannot create a temporary file: "
                                 "No such file or directory") != NULL);

    free(file);
    free(dir);
    free(p1);
    free(p2);
    free(p3);
    free(p4);
    free(p5);
    free(p6);
    sbuf_release(&err);
}

int
main(void)
{
    test_identity();
    test_reclaim();
    return check_done();
}
