/*
 * tfchain-dev: a single-node development chain with tfchain's pallets
 * behind Substrate's JSON-RPC.
 *
 *   tfchain-dev --dev [--rpc-addr 127.0.0.1:9944] [--block-time 1000]
 *   tfchain-dev --base-path DIR [--genesis FILE]
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/num.h"
#include "common/zerr.h"
#include "devchain/chain.h"
#include "devchain/genesis.h"
#include "devchain/rpc.h"

#define BLOCK_TIME_MIN 10u
#define BLOCK_TIME_MAX 600000u

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tfchain-dev [--dev | --base-path DIR] [options]\n"
		   "  --dev               run on a temporary state directory (the default)\n"
		   "  --base-path DIR     keep the chain in DIR (created if missing)\n"
		   "  --genesis FILE      genesis JSON (a built-in dev genesis otherwise)\n"
		   "  --rpc-addr IP:PORT  JSON-RPC listen address (127.0.0.1:9944; port 0 = any)\n"
		   "  --rpc-port PORT     the same on 127.0.0.1\n"
		   "  --block-time MS     block interval in milliseconds (1000)\n"
		   "  --log-level LEVEL   error, warn, info (default), debug\n");
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	uint64_t v;
	if (num_u64(s, max, &v) < 0 || v < min)
		return ZE_CONFIG;
	*out = (unsigned long)v;
	return 0;
}

static void sleep_until(const struct timespec *t)
{
	/* Returns early on a signal, so a stop request is seen at once. */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL);
}

static void add_ms(struct timespec *t, unsigned long ms)
{
	t->tv_sec += (time_t)(ms / 1000);
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dev", no_argument, NULL, 'd'},	 {"base-path", required_argument, NULL, 'b'},
		{"genesis", required_argument, NULL, 'g'}, {"rpc-addr", required_argument, NULL, 'a'},
		{"rpc-port", required_argument, NULL, 'p'}, {"block-time", required_argument, NULL, 't'},
		{"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *base = NULL, *genesis_path = NULL, *addr = "127.0.0.1:9944";
	char addr_buf[64], tmpdir[] = "/tmp/tfchain-dev.XXXXXX", db[4096];
	unsigned long block_ms = 1000, v;
	enum log_level level = LOG_LVL_INFO;
	int o, rc, temp = 0, status = 1;

	log_setup(LOG_LVL_INFO, LOG_TARGET_AUTO, "tfchain-dev");
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			break;
		case 'b':
			base = optarg;
			break;
		case 'g':
			genesis_path = optarg;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'p':
			if (parse_uint(optarg, 0, 65535, &v)) {
				fprintf(stderr, "tfchain-dev: bad --rpc-port %s\n", optarg);
				return 2;
			}
			snprintf(addr_buf, sizeof(addr_buf), "127.0.0.1:%lu", v);
			addr = addr_buf;
			break;
		case 't':
			if (parse_uint(optarg, BLOCK_TIME_MIN, BLOCK_TIME_MAX, &block_ms)) {
				fprintf(stderr, "tfchain-dev: --block-time must be %u..%u ms\n",
					BLOCK_TIME_MIN, BLOCK_TIME_MAX);
				return 2;
			}
			break;
		case 'l':
			if (log_level_parse(optarg, &level)) {
				fprintf(stderr, "tfchain-dev: bad --log-level %s\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	log_set_level(level);
	if (!base) {
		if (!mkdtemp(tmpdir)) {
			log_err("devchain", "cannot create a temporary state dir: %s", strerror(errno));
			return 1;
		}
		base = tmpdir;
		temp = 1;
	} else if (mkdir(base, 0700) && errno != EEXIST) {
		log_err("devchain", "cannot create %s: %s", base, strerror(errno));
		return 1;
	}
	if ((size_t)snprintf(db, sizeof(db), "%s/chain.sqlite", base) >= sizeof(db)) {
		log_err("devchain", "base path too long");
		return 1;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	cJSON *genesis = NULL;
	struct dev_chain *chain = NULL;
	struct dev_rpc *rpc = NULL;
	if ((rc = dev_genesis_load(genesis_path, &genesis)))
		goto out;
	if ((rc = dev_chain_open(db, genesis, &chain))) {
		if (rc == ZE_MALFORMED)
			log_err("devchain",
				"refusing to start: the store %s is damaged or not ours; move it "
				"aside (it is left untouched) or choose another --base-path",
				db);
		else
			log_err("devchain", "cannot open the chain in %s: %s", base, zerr_str(rc));
		goto out;
	}
	/* A temporary chain is deleted at exit: syncing it to disk would only
	 * make blocks, and the reads waiting behind them, wait for the disk. */
	if (temp && (rc = dev_chain_volatile(chain)))
		goto out;
	if ((rc = dev_rpc_start(chain, addr, &rpc)))
		goto out;
	uint32_t head;
	dev_chain_head(chain, &head, NULL);
	log_info("devchain", "state in %s%s, best block %u, block time %lu ms", base,
		 temp ? " (temporary)" : "", head, block_ms);
	log_info("devchain", "rpc listening on 127.0.0.1:%u", dev_rpc_port(rpc));

	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		add_ms(&next, block_ms);
		sleep_until(&next);
		if (stop)
			break;
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		/* A slot started late (the machine busy, the last block slow)
		 * delays every extrinsic waiting for it. */
		long late_ms = (long)(t.tv_sec - next.tv_sec) * 1000 +
			       (t.tv_nsec - next.tv_nsec) / 1000000;
		if (late_ms >= 10)
			log_info("devchain", "block slot started %ld ms late", late_ms);
		/* A failed block is logged by the chain and retried next slot. */
		dev_chain_produce(chain, clk_wall_ms(), NULL, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec > next.tv_sec + 5) /* after a long stall, do not race */
			next = t;
	}
	log_info("devchain", "stopping (signal %d)", (int)stop);
	status = 0;
out:
	dev_rpc_stop(rpc);
	dev_chain_close(chain);
	cJSON_Delete(genesis);
	if (temp)
		nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return status;
}
