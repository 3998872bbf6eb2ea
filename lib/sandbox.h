/*
 * sandbox.h - runs untrusted programs under bubblewrap(1), several steps
 * (compile, then one run per test) in one sandbox.
 *
 * What a sandbox is:
 *   - bwrap with every namespace unshared (user, pid, net, ipc, uts,
 *     cgroup, mount): no network but a private loopback, no view of host
 *     processes, --die-with-parent, --new-session (no controlling terminal,
 *     so TIOCSTI has nothing to inject into), all capabilities dropped, a
 *     clean environment, and no nested user namespaces (so no mounts of
 *     the program's own).
 *   - The file system is a read-only tmpfs root holding read-only binds of
 *     /usr, /bin, /lib*, /sbin and a few /etc files the dynamic loader and
 *     Debian's alternatives need, a fresh /proc and a read-only minimal
 *     /dev, and one writable tmpfs of bounded size at /tmp, the working
 *     directory.  Nothing else of the host is visible.
 *   - When the caller is root, bwrap is started as an unprivileged uid
 *     (uid_base + slot, one per concurrent sandbox) so the kernel applies
 *     RLIMIT_NPROC, which it does not to root.  The kernel counts processes
 *     per user namespace (Linux >= 5.14), so one sandbox's fork bomb cannot
 *     starve another.  When the caller is not root, bwrap runs as the
 *     caller.
 *   - Inside, PID 1 is the runner: this very executable re-entered through
 *     sandbox_runner_main() (see below).  Being PID 1 of the namespace it
 *     cannot be killed from inside, and it is not dumpable, so the program
 *     cannot ptrace it or reach its file descriptors.  It writes each
 *     step's files, forks the step with rlimits (CPU seconds, address
 *     space, processes, file size, open files, no core), feeds its stdin,
 *     captures stdout up to a cap and the tail of stderr (a program may
 *     write any amount of warnings there), enforces a wall-clock limit,
 *     and after each step kills every other process in the namespace.
 *   - The host side enforces a wall-clock limit on the whole sandbox and
 *     kills it (bwrap, hence PID 1, hence the namespace) when exceeded.
 *
 * A sandbox that does not start (bwrap missing, namespaces refused, a
 * setup error) is reported as SANDBOX_INFRA, distinct from anything the
 * program can cause, so a caller never scores a program for it.
 *
 *     struct sandbox sb;
 *     struct sandbox_job job = SANDBOX_JOB_INIT;
 *     struct sandbox_result res = SANDBOX_RESULT_INIT;
 *     sandbox_init(&sb, NULL);
 *     struct sandbox_step *s = sandbox_job_add(&job, NULL);  (default limits)
 *     sandbox_step_file(s, "main.py", src, strlen(src));
 *     sandbox_step_arg(s, "/usr/bin/python3"); sandbox_step_arg(s, "main.py");
 *     if (sandbox_run(&sb, 0, &job, &res) == 0) ... res.steps[0] ...
 *     sandbox_result_release(&res); sandbox_job_release(&job);
 *     sandbox_release(&sb);
 *
 * Every executable that calls sandbox_run() must start main() with
 *     if (sandbox_is_runner(argc, argv)) return sandbox_runner_main();
 */
#ifndef POSTTRAIN_SANDBOX_H
#define POSTTRAIN_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* Path of the runner inside the sandbox; also its argv[0]. */
#define SANDBOX_RUNNER_PATH "/.pt-sandbox-runner"
/* Longest reason sandbox_run gives for a sandbox that did not start. */
#define SANDBOX_ERR_MAX 511

/* Limits of one step.  0 in a field means "the default of sandbox.c". */
struct sandbox_limits {
    double wall_sec;        /* wall clock, killed after */
    double cpu_sec;         /* RLIMIT_CPU (rounded up to whole seconds) */
    uint64_t mem_bytes;     /* RLIMIT_AS */
    long nproc;             /* RLIMIT_NPROC: processes and threads */
    uint64_t fsize_bytes;   /* RLIMIT_FSIZE */
    long nofile;            /* RLIMIT_NOFILE */
    uint64_t out_bytes;     /* cap on stdout: more is SANDBOX_OUTPUT_LIMIT */
    uint64_t err_bytes;     /* stderr kept: its last err_bytes bytes; the
                               rest is read and discarded, never a limit */
};

/* Fills l with the defaults (5 s, 5 s, 1 GiB, 32, 16 MiB, 64, 1 MiB, 64 KiB). */
void sandbox_limits_default(struct sandbox_limits *l);

/* One file written into the working directory before a step runs. */
struct sandbox_file {
    char *name;
    char *data;
    size_t len;
};

/* One step: a program run in the working directory. */
struct sandbox_step {
    struct sandbox_limits lim;
    char **argv;            /* owned, NULL-terminated */
    size_t argc;
    struct sandbox_file *files;
    size_t nfiles;
    char *input;            /* stdin (owned, may be NULL = empty) */
    size_t input_len;
    long needs;             /* index of a step that must exit 0 first, or -1 */
};

/* A list of steps run in order in one sandbox. */
struct sandbox_job {
    struct sandbox_step *steps;
    size_t n, cap;
    uint64_t tmpfs_bytes;   /* size of /tmp (0 = 64 MiB) */
};
#define SANDBOX_JOB_INIT { NULL, 0, 0, 0 }

/* Appends a step with limits *lim (copied); result borrowed until the next add. */
struct sandbox_step *sandbox_job_add(struct sandbox_job *job,
                                     const struct sandbox_limits *lim);
/* Appends an argument (copied). */
void sandbox_step_arg(struct sandbox_step *s, const char *arg);
/* Adds a file written before the step (name and data copied). */
void sandbox_step_file(struct sandbox_step *s, const char *name,
                       const char *data, size_t len);
/* Sets stdin (copied). */
void sandbox_step_input(struct sandbox_step *s, const char *data, size_t len);
/* Frees the steps; the job may be reused after. */
void sandbox_job_release(struct sandbox_job *job);

/* How a step ended. */
enum sandbox_status {
    SANDBOX_EXITED,       /* exited normally: code is the exit status */
    SANDBOX_SIGNALED,     /* killed by signal `code` (not by the limits below) */
    SANDBOX_TIMEOUT,      /* wall clock or CPU limit */
    SANDBOX_OUTPUT_LIMIT, /* stdout over the cap, or RLIMIT_FSIZE */
    SANDBOX_SKIPPED,      /* its `needs` step failed, or the sandbox ended */
    SANDBOX_START_FAILED, /* exec of the step failed: code is errno */
};

/* Name of a status ("exited", ...), static. */
const char *sandbox_status_name(enum sandbox_status st);

struct sandbox_step_result {
    enum sandbox_status status;
    int code;
    double cpu_sec, wall_sec;
    struct sbuf out, err;   /* stdout (<= lim.out_bytes), stderr's tail
                               (<= lim.err_bytes) */
};

struct sandbox_result {
    struct sandbox_step_result *steps;  /* one per job step */
    size_t n;
    int killed;             /* the host killed the sandbox (overall wall limit) */
};
#define SANDBOX_RESULT_INIT { NULL, 0, 0 }
void sandbox_result_release(struct sandbox_result *res);

/* Host-side configuration. */
struct sandbox {
    char *bwrap;            /* path of bwrap (owned) */
    uid_t uid_base;         /* when root: slot s runs as uid_base + s */
    int exe_fd;             /* O_PATH of this executable (the runner) */
    int retries;            /* extra attempts after an infrastructure error */
    char **ro_binds;        /* system paths bound read-only (owned) */
    size_t nro_binds;
};

/*
 * Sets up sb: bwrap is the path of bubblewrap (NULL = "bwrap" found in
 * PATH).  Dies if this executable cannot be opened.  Pair with
 * sandbox_release().
 */
void sandbox_init(struct sandbox *sb, const char *bwrap);
void sandbox_release(struct sandbox *sb);

/*
 * Runs job in a fresh sandbox as concurrency slot `slot` (0.. number of
 * sandboxes run at once - 1; selects the uid).  Fills res (released
 * first) with one result per step and returns 0; or, when the sandbox
 * could not be started even after sb->retries more attempts, returns -1
 * with the last attempt's reason appended to err (one line, at most
 * SANDBOX_ERR_MAX bytes of the sandbox's own stderr).  One struct
 * sandbox serves one thread at a time: give each thread its own;
 * sandbox_init is cheap.
 */
int sandbox_run(struct sandbox *sb, int slot, const struct sandbox_job *job,
                struct sandbox_result *res, struct sbuf *err);

/* 1 when this process was started as the runner inside a sandbox. */
int sandbox_is_runner(int argc, char **argv);
/* The runner: reads the job on stdin, writes results on stdout; returns the exit status. */
int sandbox_runner_main(void);

#endif
