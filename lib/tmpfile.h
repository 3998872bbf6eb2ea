/*
 * tmpfile.h - temporary files and directories that carry their owner's
 * identity, and the reclaiming of those whose owner is gone.
 *
 * Every named output (rout_open's -o file, a checkpoint directory of
 * ckpt_save, a plot) is written under a hidden name beside its final one
 *
 *     DIR/.NAME.tmp-PID-START-BOOT-XXXXXX
 *
 * PID and START identify the writer: its process id and its start time
 * (field 22 of /proc/PID/stat, clock ticks since boot), so a reused pid
 * is told apart; BOOT is 8 hex digits of a hash of the kernel's boot id;
 * XXXXXX makes the name unique.  The writer also holds an exclusive
 * flock(2) on the file (or on the directory) from its creation until it
 * has been renamed into place: the kernel drops the lock when the writer
 * dies in any way, SIGKILL included, and sees it from every process on
 * the host whatever its pid namespace.
 *
 * A process that dies before the rename leaves the temporary behind.
 * The next tmpf_open() or tmpf_mkdir() in the same directory (any tool's
 * named output there) removes every temporary it can prove dead:
 *   - its lock is free (a live writer holds it: never touched), and, when
 *     it was made in this boot, no process PID with start time START
 *     exists (a writer between its creation and its lock, or between
 *     its unlock and its rename, is alive: never touched);
 *   - on a file system without flock(2) (the lock attempt fails with an
 *     error other than EWOULDBLOCK), only a temporary of this boot whose
 *     PID is gone or runs a process with another START.
 * Names of any other form (a user's ".x.tmp-1", an older release's
 * ".NAME.tmp-XXXXXX") are never touched.  Reclaiming is best effort: a
 * temporary that cannot be examined or removed stays, silently.
 *
 *     char *tmp;
 *     struct sbuf err = SBUF_INIT;
 *     int fd = tmpf_open("out/x.jsonl", &tmp, &err);   // reclaims out/
 *     if (fd < 0) die("%s", sbuf_str(&err));
 *     ...write, fsync(fd)...
 *     rename(tmp, "out/x.jsonl");   // while fd (the lock) is still open
 *     close(fd);
 *     free(tmp);
 */
#ifndef POSTTRAIN_TMPFILE_H
#define POSTTRAIN_TMPFILE_H

#include <stdint.h>

#include "util.h"

/* A temporary's owner, as its name carries it. */
struct tmpf_owner {
    long pid;
    unsigned long long start;   /* /proc/PID/stat field 22; 0 = unknown */
    uint32_t boot;              /* hash of the boot id; 0 = unknown */
};

/* The calling process's identity (the same on every call). */
void tmpf_self(struct tmpf_owner *o);

/*
 * The start time of process pid (field 22 of /proc/PID/stat): 0 with
 * *start set when it runs; -1 when there is no such process or it has
 * ended (a zombie 'Z' or 'X' counts as ended: it writes nothing more);
 * -2 when /proc cannot tell.
 */
int tmpf_proc_start(long pid, unsigned long long *start);

/*
 * Parses a directory entry name of the form above: 0 and *o filled (the
 * final NAME is not returned), or -1 for any other name.
 */
int tmpf_parse(const char *name, struct tmpf_owner *o);

/*
 * Appends the template "DIR/.NAME.tmp-PID-START-BOOT-XXXXXX" for the
 * final path to sb (DIR is what precedes the last '/', none for a bare
 * name; a NAME over 128 bytes is cut to its first 128 in the template).
 */
void tmpf_template(struct sbuf *sb, const char *final);

enum tmpf_verdict {
    TMPF_NOT_OURS,   /* a name of another form */
    TMPF_LIVE,       /* its owner may be writing it: kept */
    TMPF_STALE,      /* its owner is gone: removed (when asked to) */
};

/*
 * The verdict on DIR/NAME by the rules above; with remove set, a stale
 * temporary is removed (a directory with everything in it) while its
 * lock is held, so two reclaimers never race.  Returns the verdict.
 */
enum tmpf_verdict tmpf_check(const char *dir, const char *name, int remove);

/*
 * Removes every stale temporary in dir ("" or NULL: the current
 * directory).  Returns how many were removed.
 */
int tmpf_reclaim(const char *dir);

/*
 * Reclaims final's directory, then creates a new temporary file for
 * final (mode 0644, O_CLOEXEC) and locks it.  Returns its descriptor (the
 * lock lives as long as it stays open) and *tmp its name (new: the
 * caller frees it), or -1 with "FINAL: message" appended to err.
 */
int tmpf_open(const char *final, char **tmp, struct sbuf *err);

/*
 * The same for a directory (mode 0777 & ~umask): returns a locked
 * O_RDONLY descriptor of it and *tmp its name, or -1.
 */
int tmpf_mkdir(const char *final, char **tmp, struct sbuf *err);

/* Removes path and, for a directory, everything below it (no links followed). */
void tmpf_rm_tree(const char *path);

#endif
