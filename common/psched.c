/* The scheduling policy of the agent's threads and of what it starts. */
#include "common/psched.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

static atomic_int batch_on;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_rc;

/* In the child of fork: back to the default policy before it executes
 * anything. sched_setscheduler is a plain system call, safe here; a
 * failure leaves the child as it was, which is no worse than before. */
static void child_reset(void)
{
	if (atomic_load(&batch_on)) {
		struct sched_param sp = {.sched_priority = 0};
		(void)sched_setscheduler(0, SCHED_OTHER, &sp);
	}
}

static void register_atfork(void)
{
	atfork_rc = pthread_atfork(NULL, NULL, child_reset);
}

int psched_batch(void)
{
	if (pthread_once(&atfork_once, register_atfork) || atfork_rc)
		return -ENOMEM;
	struct sched_param sp = {.sched_priority = 0};
	if (sched_setscheduler(0, SCHED_BATCH, &sp) < 0)
		return -errno;
	atomic_store(&batch_on, 1);
	return 0;
}

int psched_is_batch(void)
{
	return atomic_load(&batch_on);
}

int psched_spawnattr(posix_spawnattr_t *at, short *flags)
{
	if (!atomic_load(&batch_on))
		return 0;
	struct sched_param sp = {.sched_priority = 0};
	int rc = posix_spawnattr_setschedpolicy(at, SCHED_OTHER);
	if (!rc)
		rc = posix_spawnattr_setschedparam(at, &sp);
	if (rc)
		return -rc;
	*flags |= POSIX_SPAWN_SETSCHEDULER;
	return 0;
}
