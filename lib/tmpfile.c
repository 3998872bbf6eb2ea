/*
 * tmpfile.c - owner-stamped temporaries and their reclaiming.  See
 * tmpfile.h for the rules.
 *
 * The writer's side closes both windows in which a temporary exists
 * without its lock: after creating it, the writer takes the lock and then
 * checks that the name still leads to it (a reclaimer may have removed it
 * in between, having found the lock free and the pid, in another pid
 * namespace, unknown): if not, it starts again with a new name.  The
 * other window, between unlocking and renaming, does not exist because
 * callers rename before they close.  The pid and start time in the name
 * are a second proof, and the only one where flock(2) is missing.
 */
#include "tmpfile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_KEEP 128   /* bytes of NAME kept in a template */
#define TRIES 8         /* new names tried when a reclaimer took ours */

int
tmpf_proc_start(long pid, unsigned long long *start)
{
    char path[64], buf[1024], *p, *end;
    unsigned long long v;
    ssize_t n;
    int fd, field;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ESRCH)
            return -2;
        /* no such process, if /proc is there at all */
        return access("/proc/self/stat", R_OK) == 0 ? -1 : -2;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return n < 0 && errno == ESRCH ? -1 : -2;
    buf[n] = 0;
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -2;
    p += 2;
    if (*p == 'Z' || *p == 'X')
        return -1;
    /* state is field 3: skip to field 22 */
    for (field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -2;
        p++;
    }
    errno = 0;
    v = strtoull(p, &end, 10);
    if (errno || end == p)
        return -2;
    *start = v;
    return 0;
}

static uint32_t
boot_tag(void)
{
    char buf[64];
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    ssize_t n;
    uint32_t h;

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n <= 0)
        return 0;
    h = (uint32_t)hash64(buf, (size_t)n, 0x746d70666c65ULL);
    return h ? h : 1;
}

void
tmpf_self(struct tmpf_owner *o)
{
    static struct tmpf_owner self;
    static int known;

    if (!known) {
        self.pid = (long)getpid();
        if (tmpf_proc_start(self.pid, &self.start) != 0)
            self.start = 0;
        self.boot = boot_tag();
        known = 1;
    }
    /* a forked child is another owner */
    if (self.pid != (long)getpid()) {
        known = 0;
        tmpf_self(o);
        return;
    }
    *o = self;
}

/* The decimal number ending just before s[end]: its start, or -1. */
static long
digits_before(const char *s, long end)
{
    long i = end;

    while (i > 0 && isdigit((unsigned char)s[i - 1]))
        i--;
    return i < end && end - i <= 20 ? i : -1;
}

int
tmpf_parse(const char *name, struct tmpf_owner *o)
{
    long n = (long)strlen(name), i, j;
    char num[24];

    /* ".NAME.tmp-" + PID "-" START "-" BOOT(8) "-" XXXXXX(6) */
    if (name[0] != '.' || n < 1 + 5 + 1 + 1 + 1 + 1 + 8 + 1 + 6)
        return -1;
    i = n - 6;   /* the random part */
    for (j = i; j < n; j++)
        if (!isalnum((unsigned char)name[j]))
            return -1;
    if (name[--i] != '-')
        return -1;
    i -= 8;
    for (j = i; j < i + 8; j++)
        if (!isxdigit((unsigned char)name[j]) || isupper((unsigned char)name[j]))
            return -1;
    memcpy(num, name + i, 8);
    num[8] = 0;
    o->boot = (uint32_t)strtoul(num, NULL, 16);
    if (name[--i] != '-' || (j = digits_before(name, i)) < 0)
        return -1;
    memcpy(num, name + j, (size_t)(i - j));
    num[i - j] = 0;
    o->start = strtoull(num, NULL, 10);
    i = j;
    if (name[--i] != '-' || (j = digits_before(name, i)) < 0 || i - j > 10)
        return -1;
    memcpy(num, name + j, (size_t)(i - j));
    num[i - j] = 0;
    o->pid = strtol(num, NULL, 10);
    /* the final name is at least one byte */
    if (o->pid <= 0 || j < 1 + 1 + 5 || memcmp(name + j - 5, ".tmp-", 5) != 0)
        return -1;
    return 0;
}

void
tmpf_template(struct sbuf *sb, const char *final)
{
    const char *slash = strrchr(final, '/'), *base = slash ? slash + 1 : final;
    size_t n = strlen(base);
    struct tmpf_owner me;

    tmpf_self(&me);
    if (slash)
        sbuf_add(sb, final, (size_t)(slash - final + 1));
    sbuf_addc(sb, '.');
    sbuf_add(sb, base, n > NAME_KEEP ? NAME_KEEP : n);
    sbuf_addf(sb, ".tmp-%ld-%llu-%08x-XXXXXX", me.pid, me.start, (unsigned)me.boot);
}

static int
rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

void
tmpf_rm_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode))
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        unlink(path);
}

enum tmpf_verdict
tmpf_check(const char *dir, const char *name, int remove)
{
    struct tmpf_owner o, me;
    struct sbuf path = SBUF_INIT;
    unsigned long long start;
    enum tmpf_verdict v = TMPF_LIVE;
    struct stat st;
    int fd = -1, locks = 1, r;

    if (tmpf_parse(name, &o) != 0)
        return TMPF_NOT_OURS;
    if (dir && *dir)
        sbuf_addf(&path, "%s/", dir);
    sbuf_adds(&path, name);
    if (lstat(path.buf, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
        goto out;
    fd = open(path.buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
                        (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
    if (fd < 0)
        goto out;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK || errno == EINTR)
            goto out;   /* held: its writer is alive */
        locks = 0;
    }
    tmpf_self(&me);
    if (o.boot && o.boot == me.boot) {
        r = tmpf_proc_start(o.pid, &start);
        if (r == 0 && (start == o.start || !o.start))
            goto out;   /* alive (or not to be told apart) */
        if (r == -2 && !locks)
            goto out;   /* nothing proves it */
    } else if (!locks) {
        goto out;       /* another boot or host, and no lock to ask */
    }
    v = TMPF_STALE;
    if (remove)
        tmpf_rm_tree(path.buf);
out:
    if (fd >= 0)
        close(fd);
    sbuf_release(&path);
    return v;
}

int
tmpf_reclaim(const char *dir)
{
    DIR *d = opendir(dir && *dir ? dir : ".");
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp-") &&
            tmpf_check(dir, e->d_name, 1) == TMPF_STALE)
            n++;
    closedir(d);
    return n;
}

/* The directory part of final ("" for a bare name): new. */
static char *
dir_of(const char *final)
{
    const char *slash = strrchr(final, '/');

    if (!slash)
        return xstrdup("");
    if (slash == final)
        return xstrdup("/");
    return xstrndup(final, (size_t)(slash - final));
}

/*
 * Locks a new temporary's descriptor and checks that its name still
 * leads to it: 1 locked and in place, 0 lost to a reclaimer (fd closed).
 */
static int
lock_new(int fd, const char *tmp)
{
    struct stat a, b;

    /* ENOLCK and the like: a file system without locks, the pid proves */
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    if (fstat(fd, &a) == 0 && lstat(tmp, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        return 1;
    close(fd);
    return 0;
}

/* Makes and locks a new temporary for final: its descriptor, or -1. */
static int
create(const char *final, int is_dir, char **tmp, struct sbuf *err)
{
    const char *what = is_dir ? "directory" : "file";
    char *dir = dir_of(final);
    struct sbuf t = SBUF_INIT;
    mode_t um = umask(0);
    int fd = -1, i;

    umask(um);
    tmpf_reclaim(dir);
    for (i = 0; i < TRIES && fd < 0; i++) {
        sbuf_reset(&t);
        tmpf_template(&t, final);
        if (is_dir) {
            if (mkdtemp(t.buf)) {
                /* mkdtemp makes 0700; a directory gets the usual 0777 & ~umask */
                chmod(t.buf, 0777 & ~um);
                fd = open(t.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                    rmdir(t.buf);
            }
        } else if ((fd = mkostemp(t.buf, O_CLOEXEC)) >= 0) {
            fchmod(fd, 0644);
        }
        if (fd < 0) {
            sbuf_addf(err, "%s: cannot create a temporary %s: %s", final, what,
                      strerror(errno));
            goto out;
        }
        if (!lock_new(fd, t.buf))
            fd = -1;
    }
    if (fd < 0) {
        sbuf_addf(err, "%s: cannot create a temporary %s: removed as fast as made", final,
                  what);
        goto out;
    }
    *tmp = xstrdup(t.buf);
out:
    sbuf_release(&t);
    free(dir);
    return fd;
}

int
tmpf_open(const char *final, char **tmp, struct sbuf *err)
{
    return create(final, 0, tmp, err);
}

int
tmpf_mkdir(const char *final, char **tmp, struct sbuf *err)
{
    return create(final, 1, tmp, err);
}
