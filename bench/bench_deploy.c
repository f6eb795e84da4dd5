/*
 * End-to-end deploys through tfchain-dev and a running zos-agent:
 * the load half of bench/bench_deploy.sh, which starts both and registers
 * the node. One-zmount deployments by 1, 8 and 64 concurrent users.
 *
 *   bench_deploy --chain URL --node ID --agent-pid PID [--chain-pid PID]
 *                [--levels 1,8,64] [--seconds S (20)] [--block-ms MS (100)]
 *                [--metrics URL] [--state-dir DIR] [--trace FILE]
 *                [--floor-chain URL (the agent's chain URL; default --chain)]
 *
 * Users are generated keys, funded from //Alice and given a twin at the
 * start (64 at most, shared by the levels). Each user is one thread with
 * its own extrinsic submitter and RMB client (one chain client is shared),
 * and loops for S seconds (then finishes what it started): seal the
 * document for the node, create_node_contract and wait for its block,
 * zos.deployment.deploy over RMB, then wait until one watcher thread, which
 * polls for new blocks every 10 ms (over ws:// it wakes on each announced
 * finalized head instead) and reads each one's body and events,
 * sees its ContractDeployed. The watcher also feeds every block to every
 * user's submitter (chain_submitter_feed), which learns its
 * create_node_contract's block from it: no CLI process and no per-user
 * polling of the chain, so the clients' cost stays small and a user learns
 * its block within the watcher's poll. A deploy refused with
 * "retry later" is retried (50 ms, doubling, at most 8 times) and counted.
 *
 * --trace FILE writes one CSV line per deploy (level, user, contract, the
 * wall-clock ms of: start, create_node_contract handed to the submitter,
 * its block b1, when the watcher saw b1, when the user learned it, the RMB
 * reply, then the Deployed block b2 and when the watcher saw it, and the
 * deploy's retries); bench/deploy_trace.py joins it with the chain's and
 * the agent's logs (bench_deploy.sh's TRACE_DIR).
 *
 * Per level: deploys/s (deployed contracts / wall time), p50/p99 latency
 * from the command's start to Deployed seen on chain, raw and minus two
 * block times (the two extrinsics each wait for a block), and the part
 * from the RMB request to Deployed, raw and minus one block time. The
 * agent's CPU time (its threads' /proc/PID/task/N/schedstat, ns; the
 * process's utime + stime ticks printed beside it) over the level, per
 * deploy, as a multiple of the operation floor (deploy_floor.h: crypto, one
 * durable commit in --state-dir, one nng round trip, two chain round trips
 * to this chain) measured in this run before and after the levels; also
 * with the agent's idle CPU rate (measured before each level for 5 s)
 * subtracted, since the block follower and the submitter poll the chain
 * whether or not anything is deployed. With --metrics (the agent's
 * /metrics URL), the agent's chain requests and store syncs per deploy,
 * from its zos_chain_requests_total and zos_store_syncs_total counters
 * ("-" for an agent without them). The bench's own CPU per level is
 * printed too: it must stay far from a core for the figures to be the
 * agent's and the chain's.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/clock.h"
#include "bench/deploy_floor.h"
#include "bench/thread_use.h"
#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "chainclient/submit.h"
#include "chainclient/xt.h"
#include "common/key.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/zerr.h"
#include "rmb/rmb_chain.h"
#include "rmb/rmb_client.h"

#define MAX_USERS 64
#define MAX_LEVELS 8
#define MAX_SAMPLES 100000
#define DEPLOYED_TIMEOUT_MS 180000
/* The watcher's poll: its lag is measurement error in every latency. */
#define POLL_MS 10
/* The users' submitters poll on their own only during setup (before the
 * watcher feeds them), at half a block. */
#define SETUP_POLL_MS 20
#define IDLE_MS 5000
#define DEPLOY_RETRIES 8
#define RETRY_MS 50

static const char *chain_url;
static const char *floor_url; /* the agent's chain URL: the floor's chain part */
static uint32_t node_id;
static int agent_pid, chain_pid;
static double block_ms = 100, level_s = 20;
static const char *metrics_url, *state_dir;
/* --trace FILE: one line per deploy with the time of each stage. */
static FILE *trace_f;
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned trace_level;

static struct grid_twin node_twin;
static uint8_t node_x_pk[32];
static char node_url[256]; /* the node twin's relay as an nng URL */

struct user {
	struct zkey key;
	uint32_t twin;
	pthread_t th;
	struct chain_submitter *s; /* kept across levels */
	struct rmb_client *r;
	uint8_t x_sk[32];
	/* per level */
	double *lat, *lat_rmb; /* ms */
	size_t n;
	unsigned failed, retries;
	char last_err[200];
};

static struct user users[MAX_USERS];
static double level_end_ms;
static struct chain_client *chain; /* shared: its RPC client is thread-safe */

/* The block watcher: when each contract was seen Deployed (ms, 0 = not yet),
 * from the ContractDeployed events of every new best block. */
#define MAX_CONTRACTS (1u << 20)
static double *deployed_at;
static uint32_t *deployed_blk; /* the block whose events said Deployed */
/* Wall-clock ms at which the watcher first saw block n (for --trace). */
#define MAX_BLOCKS (1u << 20)
static double *block_seen_at;
static pthread_mutex_t w_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cv = PTHREAD_COND_INITIALIZER;
static int w_stop;
static pthread_t w_thread;

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long long cpu_ticks(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2;
	for (int field = 3; field < 14 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	char *end;
	long long u = strtoll(p, &end, 10);
	return u + strtoll(end, NULL, 10);
}

/* CPU time of every live thread in ns (schedstat, summed by bench/thread_use.h):
 * finer than the ticks of /proc/PID/stat, but a thread that exits takes its
 * time with it, so the ticks are printed beside it as a check. Also the
 * number of times the threads were switched in (schedstat's third field):
 * each is a context switch, the cost a thread hand-off pays. -1 when the
 * process is gone. */
static long long cpu_ns(int pid, struct thread_use *u)
{
	long long ns, switches;
	if (tu_snapshot(pid, u) < 0)
		return -1;
	tu_totals(u, &ns, &switches);
	return ns;
}

/* VmRSS and RssAnon of pid in KiB. */
static void read_mem(int pid, long *rss, long *anon)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	*rss = *anon = -1;
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "VmRSS:", 6))
			*rss = strtol(line + 6, NULL, 10);
		else if (!strncmp(line, "RssAnon:", 8))
			*anon = strtol(line + 8, NULL, 10);
	}
	fclose(f);
}

static double ticks_ms(long long t)
{
	return (double)t * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

struct scrape_buf {
	char b[1 << 16];
	size_t n;
};

static size_t scrape_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct scrape_buf *sb = ud;
	size_t len = sz * nm, room = sizeof sb->b - 1 - sb->n;
	memcpy(sb->b + sb->n, p, len < room ? len : room);
	sb->n += len < room ? len : room;
	return len;
}

static double metric_value(const char *text, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, nl) && p[nl] == ' ')
			return strtod(p + nl + 1, NULL);
	return -1;
}

/* The agent's chain request and store sync counters; -1 each when absent. */
static void scrape(double *chain_req, double *syncs)
{
	static struct scrape_buf sb;
	*chain_req = *syncs = -1;
	if (!metrics_url)
		return;
	CURL *h = curl_easy_init();
	if (!h)
		return;
	sb.n = 0;
	curl_easy_setopt(h, CURLOPT_URL, metrics_url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, scrape_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sb);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(h) == CURLE_OK) {
		sb.b[sb.n] = '\0';
		*chain_req = metric_value(sb.b, "zos_chain_requests_total");
		*syncs = metric_value(sb.b, "zos_store_syncs_total");
	}
	curl_easy_cleanup(h);
}

/* ---- chain helpers ---- */

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned pending, failed;
	char err[200];
};

static void on_outcome(void *ud, struct chain_outcome *o)
{
	struct waiter *w = ud;
	pthread_mutex_lock(&w->mu);
	if (o->status != CHAIN_OUTCOME_SUCCESS) {
		w->failed++;
		snprintf(w->err, sizeof w->err, "%s: %s", chain_outcome_status_name(o->status),
			 o->error);
	}
	w->pending--;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void waiter_wait(struct waiter *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->pending)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

/* Submits one call whose outcome w counts, or counts nothing when it
 * cannot be queued. Takes args (NULL when building them failed). */
static int submit_counted(struct chain_submitter *s, const char *pallet, const char *call,
			  cJSON *args, struct waiter *w)
{
	int rc;
	pthread_mutex_lock(&w->mu);
	w->pending++;
	pthread_mutex_unlock(&w->mu);
	rc = args ? chain_submit_async(s, pallet, call, args, on_outcome, w) : -ENOMEM;
	cJSON_Delete(args);
	if (rc < 0) {
		pthread_mutex_lock(&w->mu);
		w->pending--;
		pthread_mutex_unlock(&w->mu);
	}
	return rc;
}

static void fast_opts(struct chain_submit_opts *o)
{
	chain_submit_opts_default(o);
	/* Finalized is best on tfchain-dev (instant finality). Once the
	 * watcher runs it feeds every user's submitter each block (one body
	 * read per block for all of them) and they stop polling: a user then
	 * learns its contract's block POLL_MS after it at most, not half a
	 * block, and the chain is not asked 64 times per poll. */
	o->poll_ms = SETUP_POLL_MS;
	o->give_up_blocks = 64;
}

/* Funds and registers n users (twin ids into users[i].twin). */
static int setup_users(struct chain_client *c, unsigned n)
{
	struct zkey alice;
	struct chain_submitter *as = NULL;
	struct chain_submit_opts so;
	struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	int rc;
	fast_opts(&so);
	if ((rc = key_dev("alice", &alice)) < 0 ||
	    (rc = chain_submitter_new(c, &alice, &so, &as)) < 0)
		return rc;
	key_wipe(&alice);
	/* The devchain's pool takes nonces at most 16 ahead of the account's:
	 * //Alice's transfers go in batches. */
	for (unsigned i = 0; i < n; i++) {
		if (i && i % 16 == 0)
			waiter_wait(&w);
		if ((rc = key_generate(&users[i].key)) < 0)
			goto out;
		if ((rc = submit_counted(as, "Balances", "transfer_keep_alive",
					 grid_args_transfer(users[i].key.pk, (scale_u128)100000000000ull),
					 &w)) < 0)
			goto out;
	}
	waiter_wait(&w);
	if (w.failed) {
		fprintf(stderr, "funding users: %u failed (%s)\n", w.failed, w.err);
		rc = ZE_CHAIN;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		if ((rc = chain_submitter_new(c, &users[i].key, &so, &users[i].s)) < 0) {
			fprintf(stderr, "user %u: submitter: %s\n", i, zerr_str(rc));
			goto out;
		}
		if ((rc = submit_counted(users[i].s, "TfgridModule", "create_twin",
					 grid_args_create_twin(NULL, NULL, 0), &w)) < 0)
			goto out;
	}
	waiter_wait(&w);
	if (w.failed) {
		fprintf(stderr, "user twins: %u failed (%s)\n", w.failed, w.err);
		rc = ZE_CHAIN;
		goto out;
	}
	for (unsigned i = 0; i < n && rc == 0; i++) {
		struct user *u = &users[i];
		struct rmb_client_cfg rcfg;
		if ((rc = grid_twin_id_by_account(c, u->key.pk, &u->twin)) < 0 ||
		    (rc = key_x25519_sk(&u->key, u->x_sk)) < 0) {
			fprintf(stderr, "user %u: twin id or x25519 key: %s\n", i, zerr_str(rc));
			break;
		}
		rmb_client_cfg_init(&rcfg);
		rcfg.url = node_url;
		rcfg.key = &u->key;
		rcfg.src = u->twin;
		rcfg.dst = node_twin.id;
		memcpy(rcfg.dst_pk, node_twin.account, 32);
		rcfg.timeout_ms = 30000;
		if ((rc = rmb_client_new(&rcfg, &u->r)) < 0)
			fprintf(stderr, "user %u: RMB client for %s: %s\n", i, rcfg.url, zerr_str(rc));
	}
out:
	chain_submitter_free(as);
	return rc;
}

/* contract_id anywhere inside the ContractCreated event's data. */
static int find_contract_id(const cJSON *j, int depth, uint64_t *id)
{
	if (!j || depth > 4)
		return -ENOENT;
	const cJSON *c = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "contract_id") : NULL;
	if (cJSON_IsNumber(c) && c->valuedouble >= 1) {
		*id = (uint64_t)c->valuedouble;
		return 0;
	}
	if (cJSON_IsString(c)) {
		char *end;
		unsigned long long v = strtoull(c->valuestring, &end, 10);
		if (*c->valuestring && !*end && v) {
			*id = v;
			return 0;
		}
	}
	const cJSON *k;
	cJSON_ArrayForEach(k, j)
		if (find_contract_id(k, depth + 1, id) == 0)
			return 0;
	return -ENOENT;
}

/* The contract id of a ContractDeployed event's data: (u64, AccountId)
 * as an array, or an object with contract_id. */
static int event_cid(const cJSON *data, uint64_t *id)
{
	const cJSON *v = cJSON_IsArray(data) ? cJSON_GetArrayItem(data, 0)
			 : cJSON_IsObject(data) ? cJSON_GetObjectItemCaseSensitive(data, "contract_id")
						: data;
	if (cJSON_IsNumber(v) && v->valuedouble >= 1) {
		*id = (uint64_t)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v)) {
		char *end;
		unsigned long long x = strtoull(v->valuestring, &end, 10);
		if (*v->valuestring && !*end && x) {
			*id = x;
			return 0;
		}
	}
	return find_contract_id(data, 0, id);
}

static double wall_ms(void)
{
	return clk_seconds(CLOCK_REALTIME) * 1e3;
}

static unsigned n_fed; /* users[0..n_fed) have submitters to feed */

/* Hands block (number, hash, body, events) to every user's submitter, so
 * they resolve their create_node_contract from it without polling. */
static void feed_users(uint64_t number, const uint8_t hash[32], uint8_t **xts, size_t *lens,
		       size_t cnt, const cJSON *ev)
{
	uint8_t(*hashes)[32] = calloc(cnt ? cnt : 1, sizeof(*hashes));
	if (!hashes)
		return; /* the submitters read the block themselves */
	for (size_t i = 0; i < cnt; i++)
		xt_hash(xts[i], lens[i], hashes[i]);
	struct chain_fed_block b = {.number = number,
				    .xt_hashes = (const uint8_t(*)[32])hashes,
				    .xt_count = cnt,
				    .events = ev};
	memcpy(b.hash, hash, 32);
	for (unsigned i = 0; i < n_fed; i++)
		chain_submitter_feed(users[i].s, &b);
	free(hashes);
}

static void *watch_main(void *arg)
{
	uint64_t next = 0, best;
	int first = 1;
	for (;;) {
		pthread_mutex_lock(&w_mu);
		int stop = w_stop;
		pthread_mutex_unlock(&w_mu);
		if (stop)
			break;
		if (chain_block_number(chain, &best) < 0) {
			sleep_ms(POLL_MS);
			continue;
		}
		if (first) {
			next = best;
			first = 0;
		}
		for (; next <= best; next++) {
			uint8_t hash[32], **xts = NULL;
			size_t *lens = NULL, cnt = 0;
			uint64_t num = 0;
			struct chain_runtime *rt;
			cJSON *ev = NULL;
			if (rpc_block_hash(chain_client_rpc(chain), next, hash) < 0 ||
			    rpc_block(chain_client_rpc(chain), hash, &num, &xts, &lens, &cnt) < 0)
				break;
			if (num != next || chain_client_runtime(chain, &rt) < 0) {
				rpc_keys_free(xts, lens, cnt);
				break;
			}
			int rc = chain_events(chain, rt, hash, &ev);
			chain_runtime_put(rt);
			if (rc < 0) {
				rpc_keys_free(xts, lens, cnt);
				break;
			}
			double t = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
			if (next < MAX_BLOCKS)
				block_seen_at[next] = wall_ms();
			feed_users(next, hash, xts, lens, cnt, ev);
			rpc_keys_free(xts, lens, cnt);
			const cJSON *e;
			pthread_mutex_lock(&w_mu);
			cJSON_ArrayForEach(e, ev) {
				const cJSON *pa = cJSON_GetObjectItemCaseSensitive(e, "pallet");
				const cJSON *na = cJSON_GetObjectItemCaseSensitive(e, "event");
				uint64_t cid;
				if (cJSON_IsString(pa) && cJSON_IsString(na) &&
				    !strcmp(pa->valuestring, "SmartContractModule") &&
				    !strcmp(na->valuestring, "ContractDeployed") &&
				    event_cid(cJSON_GetObjectItemCaseSensitive(e, "data"), &cid) == 0 &&
				    cid < MAX_CONTRACTS && deployed_at[cid] == 0) {
					deployed_at[cid] = t;
					deployed_blk[cid] = (uint32_t)next;
				}
			}
			pthread_cond_broadcast(&w_cv);
			pthread_mutex_unlock(&w_mu);
			cJSON_Delete(ev);
		}
		/* Over WebSocket the chain announces each block: wake on it
		 * (and look at w_stop at least every 200 ms); over HTTP, poll. */
		uint64_t ann;
		if (rpc_heads_wait(chain_client_rpc(chain), next ? next - 1 : 0, 200, &ann) ==
		    ZE_UNSUPPORTED)
			sleep_ms(POLL_MS);
	}
	return NULL;
}

/* ms at which cid was seen Deployed; 0 after timeout_ms. */
static double wait_deployed(uint64_t cid, double timeout_ms)
{
	double end = (clk_seconds(CLOCK_MONOTONIC) * 1e3) + timeout_ms, t = 0;
	if (cid >= MAX_CONTRACTS)
		return 0;
	pthread_mutex_lock(&w_mu);
	while ((t = deployed_at[cid]) == 0 && (clk_seconds(CLOCK_MONOTONIC) * 1e3) < end) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w_cv, &w_mu, &ts);
	}
	pthread_mutex_unlock(&w_mu);
	return t;
}

/* ---- one user ---- */

/* One deploy; 0 with the two latencies, or negative with u->last_err. */
static int deploy_one(struct user *u, unsigned seq, double *lat, double *lat_rmb)
{
	char doc[512], pl[64];
	uint8_t hash[32], *data = NULL;
	size_t dlen = 0;
	uint64_t cid = 0, b1 = 0;
	double t0 = (clk_seconds(CLOCK_MONOTONIC) * 1e3), w0 = trace_f ? wall_ms() : 0, wsub = 0;
	unsigned tries = 0;
	int dl = floor_doc(u->twin, seq, doc, sizeof doc);
	int rc = dl < 0 ? -EINVAL : seal_box((const uint8_t *)doc, (size_t)dl, node_x_pk, u->x_sk, 0,
							  &data, &dlen);
	if (rc < 0)
		return rc;
	seal_hash(doc, (size_t)dl, hash);
	cJSON *args = grid_args_create_node_contract(node_id, hash, data, dlen, 0);
	free(data);
	struct chain_outcome o;
	memset(&o, 0, sizeof o);
	if (trace_f)
		wsub = wall_ms();
	rc = args ? chain_submit_wait(u->s, "SmartContractModule", "create_node_contract", args, &o)
		  : -ENOMEM;
	cJSON_Delete(args);
	if (rc < 0)
		return rc;
	if (o.status != CHAIN_OUTCOME_SUCCESS) {
		snprintf(u->last_err, sizeof u->last_err, "create_node_contract %s: %s",
			 chain_outcome_status_name(o.status), o.error);
		chain_outcome_clear(&o);
		return ZE_CHAIN;
	}
	const cJSON *ev = chain_event_find(o.events, "SmartContractModule", "ContractCreated");
	rc = ev ? find_contract_id(cJSON_GetObjectItemCaseSensitive(ev, "data"), 0, &cid) : -ENOENT;
	b1 = o.block_number;
	chain_outcome_clear(&o);
	if (rc < 0) {
		snprintf(u->last_err, sizeof u->last_err, "no ContractCreated event");
		return rc;
	}
	double t1 = (clk_seconds(CLOCK_MONOTONIC) * 1e3), w1 = trace_f ? wall_ms() : 0;
	snprintf(pl, sizeof pl, "{\"contract_id\":\"%" PRIu64 "\"}", cid);
	struct rmb_result res;
	memset(&res, 0, sizeof res);
	/* A refusal that says "retry later" (a busy server, a twin lookup that
	 * timed out) is retried as a client would: it is load, not a failure.
	 * Its time counts in the latency; the retries are counted per level. */
	for (int attempt = 0;; attempt++) {
		rc = rmb_client_call(u->r, "zos.deployment.deploy", pl, &res);
		if (rc < 0 || res.ok || attempt >= DEPLOY_RETRIES ||
		    !(res.err.retry || strstr(res.err.message, "retry later")))
			break;
		rmb_result_clear(&res);
		memset(&res, 0, sizeof res);
		u->retries++;
		tries++;
		sleep_ms(RETRY_MS << (attempt < 4 ? attempt : 4));
	}
	if (rc < 0 || !res.ok) {
		snprintf(u->last_err, sizeof u->last_err, "deploy %" PRIu64 ": %s %u %.120s", cid,
			 rc < 0 ? zerr_str(rc) : "refused", rc < 0 ? 0 : res.err.code,
			 rc < 0 ? "" : res.err.message);
		if (rc == 0)
			rmb_result_clear(&res);
		return rc < 0 ? rc : ZE_STATE;
	}
	rmb_result_clear(&res);
	double w2 = trace_f ? wall_ms() : 0;
	double t3 = wait_deployed(cid, DEPLOYED_TIMEOUT_MS);
	if (t3 > 0) {
		*lat = t3 - t0;
		*lat_rmb = t3 - t1;
		if (trace_f) {
			uint32_t b2 = deployed_blk[cid];
			pthread_mutex_lock(&trace_mu);
			fprintf(trace_f,
				"%u,%u,%" PRIu64 ",%.1f,%.1f,%" PRIu64 ",%.1f,%.1f,%.1f,%u,%.1f,%u\n",
				trace_level, (unsigned)(u - users), cid, w0, wsub, b1,
				b1 < MAX_BLOCKS ? block_seen_at[b1] : 0, w1, w2, b2,
				b2 < MAX_BLOCKS ? block_seen_at[b2] : 0, tries);
			pthread_mutex_unlock(&trace_mu);
		}
		return 0;
	}
	snprintf(u->last_err, sizeof u->last_err, "contract %" PRIu64 " not Deployed in time", cid);
	return ZE_TIMEOUT;
}

static void *user_main(void *arg)
{
	struct user *u = arg;
	static unsigned seq;
	while ((clk_seconds(CLOCK_MONOTONIC) * 1e3) < level_end_ms && u->n < MAX_SAMPLES) {
		double lat, lat_rmb;
		if (deploy_one(u, __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED), &lat, &lat_rmb) == 0) {
			u->lat[u->n] = lat;
			u->lat_rmb[u->n++] = lat_rmb;
		} else if (++u->failed > 20) {
			break;
		}
	}
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

struct level_result {
	unsigned users;
	size_t ok;
	unsigned failed, retries;
	double wall_s, per_s;
	double p50, p99, r50, r99;
	double agent_ms, agent_tick_ms, agent_idle_ms_per_s, chain_ms;
	double chain_req, syncs; /* the agent's, over the level; -1 unknown */
	double switches;         /* the agent's threads switched in, over the level */
	struct thread_use threads; /* the same, and their CPU, by thread role */
	double bench_ms;         /* this process's CPU over the level */
};

static int run_level(unsigned nu, struct level_result *lr)
{
	memset(lr, 0, sizeof *lr);
	lr->users = nu;
	/* The agent's idle CPU rate just before. */
	struct thread_use tu0, tu1, tu2;
	long long a0 = cpu_ns(agent_pid, &tu0);
	double i0 = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
	sleep_ms(IDLE_MS);
	long long a1 = cpu_ns(agent_pid, &tu1), k1 = cpu_ticks(agent_pid);
	if (a0 < 0 || a1 < 0 || k1 < 0) {
		fprintf(stderr, "agent pid %d is gone\n", agent_pid);
		return -1;
	}
	lr->agent_idle_ms_per_s = (double)(a1 - a0) / 1e6 / (((clk_seconds(CLOCK_MONOTONIC) * 1e3) - i0) / 1000.0);

	long long c0 = chain_pid ? cpu_ticks(chain_pid) : 0;
	double q0, y0, q1, y1;
	scrape(&q0, &y0);
	double b0 = self_cpu_ms();
	double t0 = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
	level_end_ms = t0 + level_s * 1000.0;
	for (unsigned i = 0; i < nu; i++) {
		struct user *u = &users[i];
		u->n = 0;
		u->failed = 0;
		u->retries = 0;
		u->last_err[0] = '\0';
		if (pthread_create(&u->th, NULL, user_main, u) != 0)
			return -1;
	}
	for (unsigned i = 0; i < nu; i++)
		pthread_join(users[i].th, NULL);
	double t1 = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
	long long a2 = cpu_ns(agent_pid, &tu2), k2 = cpu_ticks(agent_pid);
	if (a2 >= 0) {
		long long ns, switches;
		tu_diff(&tu1, &tu2, &lr->threads);
		tu_totals(&lr->threads, &ns, &switches);
		lr->switches = (double)switches;
	}
	long long c1 = chain_pid ? cpu_ticks(chain_pid) : 0;
	lr->bench_ms = self_cpu_ms() - b0;
	scrape(&q1, &y1);
	lr->chain_req = q0 >= 0 && q1 >= 0 ? q1 - q0 : -1;
	lr->syncs = y0 >= 0 && y1 >= 0 ? y1 - y0 : -1;

	size_t total = 0;
	for (unsigned i = 0; i < nu; i++) {
		total += users[i].n;
		lr->failed += users[i].failed;
		lr->retries += users[i].retries;
		if (users[i].failed)
			fprintf(stderr, "user %u: %u failed, last: %s\n", i, users[i].failed,
				users[i].last_err);
	}
	double *all = malloc((total ? total : 1) * sizeof *all);
	double *rmb = malloc((total ? total : 1) * sizeof *rmb);
	if (!all || !rmb) {
		free(all);
		free(rmb);
		return -1;
	}
	size_t k = 0;
	for (unsigned i = 0; i < nu; i++)
		for (size_t j = 0; j < users[i].n; j++, k++) {
			all[k] = users[i].lat[j];
			rmb[k] = users[i].lat_rmb[j];
		}
	qsort(all, total, sizeof *all, cmp_d);
	qsort(rmb, total, sizeof *rmb, cmp_d);
	lr->ok = total;
	lr->wall_s = (t1 - t0) / 1000.0;
	lr->per_s = (double)total / lr->wall_s;
	lr->p50 = pct(all, total, 0.5);
	lr->p99 = pct(all, total, 0.99);
	lr->r50 = pct(rmb, total, 0.5);
	lr->r99 = pct(rmb, total, 0.99);
	lr->agent_ms = a2 >= 0 ? (double)(a2 - a1) / 1e6 : -1;
	lr->agent_tick_ms = k2 >= 0 ? ticks_ms(k2 - k1) : -1;
	lr->chain_ms = chain_pid && c1 >= 0 ? ticks_ms(c1 - c0) : -1;
	free(all);
	free(rmb);
	return 0;
}

static int parse_levels(const char *s, unsigned *lv, unsigned *n)
{
	*n = 0;
	while (*s && *n < MAX_LEVELS) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || v == 0 || v > MAX_USERS)
			return -1;
		lv[(*n)++] = (unsigned)v;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return *n ? 0 : -1;
}

/* Strict decimal in [1, max]; 0 on a bad value. */
static unsigned long num_arg(const char *s, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	return !*s || *end || errno || v > max ? 0 : v;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_deploy --chain URL --node ID --agent-pid PID [--chain-pid PID]\n"
		   "                    [--levels 1,8,64] [--seconds S (20)] [--block-ms MS (100)]\n"
		   "                    [--metrics URL] [--state-dir DIR] [--trace FILE]\n"
		   "                    [--floor-chain URL]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"chain", required_argument, NULL, 'c'},   {"node", required_argument, NULL, 'n'},
		{"floor-chain", required_argument, NULL, 'F'},
		{"agent-pid", required_argument, NULL, 'a'}, {"chain-pid", required_argument, NULL, 'p'},
		{"levels", required_argument, NULL, 'l'},  {"seconds", required_argument, NULL, 's'},
		{"block-ms", required_argument, NULL, 'b'}, {"metrics", required_argument, NULL, 'm'},
		{"state-dir", required_argument, NULL, 'd'}, {"trace", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	unsigned levels[MAX_LEVELS] = {1, 8, 64}, nlevels = 3;
	int opt;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': chain_url = optarg; break;
		case 'F': floor_url = optarg; break;
		case 'n': node_id = (uint32_t)num_arg(optarg, UINT32_MAX); break;
		case 'a': agent_pid = (int)num_arg(optarg, INT32_MAX); break;
		case 'p': chain_pid = (int)num_arg(optarg, INT32_MAX); break;
		case 'l':
			if (parse_levels(optarg, levels, &nlevels) < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 's': level_s = (double)num_arg(optarg, 600); break;
		case 'b': block_ms = (double)num_arg(optarg, 60000); break;
		case 'm': metrics_url = optarg; break;
		case 'd': state_dir = optarg; break;
		case 't':
			if (!(trace_f = fopen(optarg, "w"))) {
				fprintf(stderr, "--trace %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			break;
		default: usage(stderr); return 2;
		}
	}
	if (!chain_url || !node_id || agent_pid <= 0 || level_s <= 0 || level_s > 600 ||
	    block_ms <= 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	/* Before any thread: the nng floor's server is a forked child. */
	struct floor_nng srv;
	if (floor_nng_start(&srv) < 0)
		fprintf(stderr, "nng floor server did not start: the nng part counts 0\n");
	log_setup(LOG_LVL_ERROR, LOG_TARGET_STDERR, "bench_deploy");

	struct chain_client *c;
	struct grid_node gn;
	int rc = chain_client_new(chain_url, NULL, &c);
	chain = c;
	/* The floor's chain round trips go over the transport the agent uses. */
	struct rpc_client *frpc = NULL;
	if (rc == 0 && floor_url && rpc_client_new(floor_url, NULL, &frpc) < 0) {
		fprintf(stderr, "floor chain client for %s failed\n", floor_url);
		return 1;
	}
	struct rpc_client *fchain = frpc ? frpc : rc == 0 ? chain_client_rpc(c) : NULL;
	struct deploy_floor f0, f1;
	if (rc == 0 && deploy_floor_all(5000, state_dir, srv.pid ? &srv : NULL, fchain, &f0) < 0)
		return 1;
	if (rc == 0)
		deploy_floor_all_print(&f0, stdout);
	fflush(stdout);
	deployed_at = calloc(MAX_CONTRACTS, sizeof *deployed_at);
	deployed_blk = calloc(MAX_CONTRACTS, sizeof *deployed_blk);
	block_seen_at = calloc(MAX_BLOCKS, sizeof *block_seen_at);
	if (!deployed_at || !deployed_blk || !block_seen_at)
		return 1;
	if (rc == 0 && (rc = grid_node(c, node_id, &gn)) == 0 &&
	    (rc = grid_twin(c, gn.twin_id, &node_twin)) == 0)
		rc = seal_twin_x25519(node_twin.pk_len ? node_twin.pk : NULL, node_twin.pk_len,
				      node_twin.account, node_x_pk);
	if (rc == 0 && node_twin.has_relay &&
	    (rc = rmb_relay_first(node_twin.relay, node_url, sizeof node_url)) < 0)
		fprintf(stderr, "node relay %s: %s\n", node_twin.relay, zerr_str(rc));
	if (rc < 0 || !node_twin.has_relay) {
		fprintf(stderr, "node %u: %s\n", node_id, rc < 0 ? zerr_str(rc) : "no relay");
		return 1;
	}
	unsigned maxu = 0;
	for (unsigned i = 0; i < nlevels; i++)
		maxu = levels[i] > maxu ? levels[i] : maxu;
	double ts = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
	if ((rc = setup_users(c, maxu)) < 0) {
		fprintf(stderr, "user setup: %s\n", zerr_str(rc));
		return 1;
	}
	printf("node %u (twin %u, %s); %u users funded with twins in %.1f s; block time %.0f ms\n",
	       node_id, node_twin.id, node_url, maxu, ((clk_seconds(CLOCK_MONOTONIC) * 1e3) - ts) / 1000.0, block_ms);
	fflush(stdout);
	for (unsigned i = 0; i < maxu; i++) {
		users[i].lat = calloc(MAX_SAMPLES, sizeof(double));
		users[i].lat_rmb = calloc(MAX_SAMPLES, sizeof(double));
		if (!users[i].lat || !users[i].lat_rmb)
			return 1;
	}
	n_fed = maxu;
	if (trace_f)
		fprintf(trace_f, "level,user,contract,start,submit,b1,b1_seen,created_seen,"
				 "rmb_reply,b2,b2_seen,retries\n");
	if (pthread_create(&w_thread, NULL, watch_main, NULL) != 0)
		return 1;
	struct level_result lr[MAX_LEVELS];
	for (unsigned i = 0; i < nlevels; i++) {
		trace_level = levels[i];
		if (run_level(levels[i], &lr[i]) < 0)
			return 1;
		printf("level %u users: %zu deployed (%u failed, %u deploy commands retried) in %.1f s\n",
		       levels[i], lr[i].ok, lr[i].failed, lr[i].retries, lr[i].wall_s);
		fflush(stdout);
	}
	if (deploy_floor_all(5000, state_dir, srv.pid ? &srv : NULL, fchain, &f1) < 0)
		return 1;
	rpc_client_free(frpc);
	floor_nng_stop(&srv);
	double floor_us = (f0.total_us + f1.total_us) / 2;
	printf("\noperation floor, before / after the levels (us CPU): crypto %.0f / %.0f, "
	       "commit %.0f / %.0f, nng %.0f / %.0f, 2 chain %.0f / %.0f; total %.0f / %.0f, "
	       "mean %.0f us\n",
	       f0.crypto.us[FLOOR_PARTS - 1], f1.crypto.us[FLOOR_PARTS - 1], f0.commit.cpu_us,
	       f1.commit.cpu_us, f0.nng.cpu_us, f1.nng.cpu_us, f0.chain.cpu_us, f1.chain.cpu_us,
	       f0.total_us, f1.total_us, floor_us);
	printf("(wall: commit %.0f / %.0f us, nng %.0f / %.0f us, 2 chain %.0f / %.0f us)\n\n",
	       f0.commit.wall_us, f1.commit.wall_us, f0.nng.wall_us, f1.nng.wall_us,
	       f0.chain.wall_us, f1.chain.wall_us);
	printf("%5s %8s %8s | %7s %7s %7s | %7s %7s | %7s %7s | %8s %8s\n", "users", "deploys",
	       "per s", "p50 ms", "p99 ms", "p99 blk", "-2blk50", "-2blk99", "rmb p50", "rmb p99",
	       "chain/d", "syncs/d");
	for (unsigned i = 0; i < nlevels; i++) {
		struct level_result *r = &lr[i];
		double d = r->ok ? (double)r->ok : 1;
		char q[16] = "-", y[16] = "-";
		if (r->chain_req >= 0)
			snprintf(q, sizeof q, "%.2f", r->chain_req / d);
		if (r->syncs >= 0)
			snprintf(y, sizeof y, "%.2f", r->syncs / d);
		printf("%5u %8zu %8.2f | %7.0f %7.0f %7.2f | %7.0f %7.0f | %7.0f %7.0f | %8s %8s\n",
		       r->users, r->ok, r->per_s, r->p50, r->p99, r->p99 / block_ms,
		       r->p50 - 2 * block_ms, r->p99 - 2 * block_ms, r->r50 - block_ms,
		       r->r99 - block_ms, q, y);
	}
	printf("\n%5s | %10s %7s | %10s %7s | %8s | %9s | %9s %7s\n", "users", "agent us/d",
	       "x floor", "-idle us/d", "x floor", "switch/d", "chain us/d", "bench us/d", "bench %");
	for (unsigned i = 0; i < nlevels; i++) {
		struct level_result *r = &lr[i];
		double d = r->ok ? (double)r->ok : 1;
		double per = r->agent_ms * 1000.0 / d;
		double net = (r->agent_ms - r->agent_idle_ms_per_s * r->wall_s) * 1000.0 / d;
		printf("%5u | %10.0f %7.2f | %10.0f %7.2f | %8.1f | %9.0f | %9.0f %6.1f%%\n", r->users,
		       per, per / floor_us, net, net / floor_us, r->switches / d,
		       r->chain_ms >= 0 ? r->chain_ms * 1000.0 / d : -1, r->bench_ms * 1000.0 / d,
		       r->bench_ms / (r->wall_s * 1000.0) * 100.0);
	}
	printf("\n(rmb p50/p99: from the deploy request to Deployed on chain, minus one block time;\n"
	       " agent idle CPU before each level:");
	for (unsigned i = 0; i < nlevels; i++)
		printf(" %.0f", lr[i].agent_idle_ms_per_s);
	printf(" ms/s;\n agent CPU over each level, threads' schedstat / process ticks:");
	for (unsigned i = 0; i < nlevels; i++)
		printf(" %.0f/%.0f", lr[i].agent_ms, lr[i].agent_tick_ms);
	printf(" ms)\n");
	/* Where the agent's CPU and switches go, by thread role. */
	static struct thread_use tu[MAX_LEVELS];
	double dd[MAX_LEVELS];
	unsigned uu[MAX_LEVELS];
	for (unsigned i = 0; i < nlevels; i++) {
		tu[i] = lr[i].threads;
		dd[i] = lr[i].ok ? (double)lr[i].ok : 1;
		uu[i] = lr[i].users;
	}
	printf("\nagent threads by role, per deploy (CPU us/d, switches sw/d):\n");
	tu_print(stdout, tu, dd, uu, nlevels);
	long rss, anon;
	size_t made = 0;
	for (unsigned i = 0; i < nlevels; i++)
		made += lr[i].ok;
	read_mem(agent_pid, &rss, &anon);
	printf("agent memory after %zu deployments: RSS %.1f MiB, RssAnon %.2f MiB\n", made,
	       rss / 1024.0, anon / 1024.0);
	pthread_mutex_lock(&w_mu);
	w_stop = 1;
	pthread_mutex_unlock(&w_mu);
	pthread_join(w_thread, NULL);
	for (unsigned i = 0; i < maxu; i++) {
		rmb_client_free(users[i].r);
		chain_submitter_free(users[i].s);
		sodium_memzero(users[i].x_sk, sizeof users[i].x_sk);
		key_wipe(&users[i].key);
		free(users[i].lat);
		free(users[i].lat_rmb);
	}
	chain_client_free(c);
	free(deployed_at);
	free(deployed_blk);
	free(block_seen_at);
	if (trace_f)
		fclose(trace_f);
	return 0;
}
