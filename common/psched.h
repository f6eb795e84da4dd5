/*
 * The scheduling policy of the agent's own threads.
 *
 * The agent's work is a pipeline of short steps on several threads (the
 * RMB workers, the follower, the engine's workers, nng's and the chain
 * client's I/O threads), each waking the next. Under the default policy a
 * woken thread preempts the one that woke it whenever it can, so the waker
 * is switched out in the middle of its step and switched in again later:
 * two thread switches for nothing, several per deploy. SCHED_BATCH keeps
 * the same share of the CPU (the nice value is unchanged) and only stops
 * wakeups from preempting; the woken step runs when the CPU is free or the
 * waker's slice ends, which costs the agent's latency nothing measurable
 * against a block time (docs/performance.md).
 *
 * What the agent starts (container runtimes, qemu, wireguard-go, system
 * programs) is not the agent's pipeline: it goes back to SCHED_OTHER.
 */
#ifndef ZOS_COMMON_PSCHED_H
#define ZOS_COMMON_PSCHED_H

#include <spawn.h>

/* Puts the calling thread under SCHED_BATCH, and with it every thread it
 * starts afterwards (threads inherit their creator's policy): call it
 * before the first thread starts. Children forked from then on go back to
 * SCHED_OTHER (a pthread_atfork handler). Returns 0 or a negative errno
 * (-EPERM where the process may not change its policy). */
int psched_batch(void);

/* Whether psched_batch put the process under SCHED_BATCH. */
int psched_is_batch(void);

/* Makes a posix_spawn through at start its program under SCHED_OTHER when
 * psched_batch is in effect; *flags gets POSIX_SPAWN_SETSCHEDULER then, for
 * the caller's posix_spawnattr_setflags. Returns 0 or a negative errno. */
int psched_spawnattr(posix_spawnattr_t *at, short *flags);

#endif
