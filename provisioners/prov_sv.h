/*
 * The supervisor both containers and VMs run under (prov_sv.c): a
 * double-forked process that outlives the agent, starts the workload's
 * process, keeps its output in a size-rotated log in the workload's
 * directory, restarts it with backoff when it dies and, on SIGTERM, stops
 * it. What differs between workload types (how to start, how to stop, what
 * to say when the process ended) comes in as a small table of callbacks;
 * prov_supervisor.c (containers) and prov_vm_super.c (VMs) fill it.
 *
 * Files in the workload's directory: supervisor.pid and the pid files the
 * callbacks write, each "<pid> <starttime>" so that a recycled pid is
 * never mistaken for ours.
 *
 * After the fork the supervisor only uses system calls and stack buffers,
 * never locks another agent thread might have held at fork time; the
 * callbacks must keep to that too.
 */
#ifndef ZOS_PROVISIONERS_PROV_SV_H
#define ZOS_PROVISIONERS_PROV_SV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "provisioners/prov_int.h"

/* The output log: <dir>/<name>, rotated to <name>.1 .. <name>.<keep> when
 * it would grow beyond max bytes. */
struct prov_sv_log {
	const char *dir;  /* borrowed */
	const char *name; /* borrowed */
	uint64_t max;
	unsigned keep;
	int fd;
	uint64_t size;
};

/* What a callback may use while the supervisor runs: the log, and the pipe
 * the workload's process writes its output into (out_wr, for the child's
 * stdout and stderr; out_rd is non-blocking, drained into the log). */
struct prov_sv_run {
	struct prov_sv_log log;
	int out_rd;
	int out_wr;
};

struct prov_sv_ops {
	/* "container" or "VM": in the errors prov_sv_start returns. */
	const char *what;
	/* A process that ran this long counts as healthy: backoff starts over. */
	long healthy_ms;
	/* How long prov_sv_start waits for the first start's verdict. */
	long report_ms;
	/* How long prov_sv_stop waits for the supervisor after a failed start. */
	long stop_ms;
	/* Optional: nonzero while the workload must stay down (paused); only
	 * asked after the first start. */
	int (*paused)(void *arg);
	/* One start: the pid of the supervisor's child whose exit means the
	 * workload ended, or a negative error with the reason in why. On
	 * success it writes its own pid files and the "started" log line. */
	pid_t (*start)(void *arg, struct prov_sv_run *r, char *why, size_t whysz);
	/* The child of the last start ended with wait status st (reaped, its
	 * output drained): drop its pid files and say why in the log. */
	void (*exited)(void *arg, struct prov_sv_run *r, int st);
	/* Optional: some other child of the supervisor, pid w, was reaped. */
	void (*reaped)(void *arg, pid_t w);
	/* The supervisor was told to stop: stop the workload (child is 0 when
	 * it is not running) and reap what it started. */
	void (*stop)(void *arg, struct prov_sv_run *r, pid_t child);
};

struct prov_sv {
	const struct prov_sv_ops *ops;
	/* Passed to every callback; the supervisor works on its own copy of
	 * the caller's memory (it is a forked process), so callbacks may keep
	 * state there. */
	void *arg;
	const char *dir; /* the workload's directory, borrowed */
	const char *log_name;
	uint64_t log_max;
	unsigned log_keep;
};

/* Starts the supervisor and waits (ops->report_ms at most) until the first
 * start succeeded or failed; the failure's reason is in err. */
int prov_sv_start(const struct prov_sv *sv, char *err, size_t errsz);

/* Stops the supervisor of dir (SIGTERM, then SIGKILL after wait_ms);
 * 0 also when none runs. */
int prov_sv_stop(const char *dir, long wait_ms);

/* The live process recorded in <dir>/<file>: 1 and *pid when it runs,
 * 0 when not, a negative error when the file cannot be read. */
int prov_sv_alive(const char *dir, const char *file, pid_t *pid);
/* Records pid in <dir>/<file> (atomically, not fsynced: a pid means
 * nothing after the machine restarts). */
int prov_sv_write_pid(const char *dir, const char *file, pid_t pid);
void prov_sv_drop_pid(const char *dir, const char *file);

void prov_sv_log_write(struct prov_sv_log *l, const char *buf, size_t n);
/* A "[zos-supervisor] ..." line in the log. */
void prov_sv_log_note(struct prov_sv_log *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Moves what is readable on fd (non-blocking) into the log; when tail is
 * given it keeps the last bytes read there (NUL-terminated). */
void prov_sv_drain(struct prov_sv_log *l, int fd, char *tail, size_t tailsz);

void prov_sv_nap_ms(long ms);

#endif
