/*
 * futex-pingpong - the floor for a blocking round trip between two processes.
 *
 * Two processes (initiator on CPU 1, responder on CPU 0 by default) share
 * two counters, each on its own cache line, in an anonymous shared mapping.
 * Each side publishes its counter, wakes the other with FUTEX_WAKE and
 * sleeps in FUTEX_WAIT until the other's counter moves.  No spinning: every
 * round trip is two sleeps and two cross-core wake-ups, which is what a
 * blocking messaging layer cannot do better than.  tpz-perf --mode block is
 * compared against this figure.
 *
 * Timing is in batches; the result is the median/min/max of the per-batch
 * mean round trip, printed as one JSON line:
 *   {"test":"futex_pingpong","rtt_us_median":..,"rtt_us_min":..,"rtt_us_max":..}
 *
 * usage: futex-pingpong [-n ROUND_TRIPS_PER_BATCH] [-r BATCHES] [-a CPU] [-b CPU]
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Separate cache lines: each side writes only its own word. */
struct pair {
	_Alignas(64) _Atomic uint32_t ping;   /* written by the initiator */
	_Alignas(64) _Atomic uint32_t pong;   /* written by the responder */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		fprintf(stderr, "futex-pingpong: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

/* Shared (not private) futexes: the two processes have different mms. */
static long futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, (void *)addr, op, val, NULL, NULL, 0);
}

/* Sleep until *w == want.  FUTEX_WAIT returns at once if *w already moved,
 * so a wake that comes before the sleep is never lost. */
static void wait_for(_Atomic uint32_t *w, uint32_t want)
{
	uint32_t cur;

	/* acquire: pairs with the release store in post() on the other side */
	while ((cur = atomic_load_explicit(w, memory_order_acquire)) != want)
		futex(w, FUTEX_WAIT, cur);
}

static void post(_Atomic uint32_t *w, uint32_t val)
{
	atomic_store_explicit(w, val, memory_order_release);
	futex(w, FUTEX_WAKE, 1);
}

static void responder(struct pair *p, uint32_t total)
{
	for (uint32_t i = 1; i <= total; i++) {
		wait_for(&p->ping, i);
		post(&p->pong, i);
	}
}

static double batch(struct pair *p, uint32_t *seq, uint32_t n)
{
	uint64_t t0 = now_ns();

	for (uint32_t i = 0; i < n; i++) {
		++*seq;
		post(&p->ping, *seq);
		wait_for(&p->pong, *seq);
	}
	return (double)(now_ns() - t0) / 1e3 / n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: futex-pingpong [-n ROUND_TRIPS_PER_BATCH] [-r BATCHES] [-a CPU] [-b CPU]\n"
		"Blocking futex ping-pong between two processes; prints one JSON line.\n"
		"  -n N  round trips per batch (default 500)\n"
		"  -r N  timed batches after one warm-up batch (default 40)\n"
		"  -a C  initiator CPU (default 1)\n"
		"  -b C  responder CPU (default 0)\n");
	exit(rc);
}

int main(int argc, char **argv)
{
	uint32_t n = 500, reps = 40, seq = 0;
	int cpu_a = 1, cpu_b = 0, opt, st;
	struct pair *p;
	double *v;
	pid_t pid, me = getpid();

	while ((opt = getopt(argc, argv, "n:r:a:b:h")) != -1) {
		switch (opt) {
		case 'n': n = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'r': reps = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'a': cpu_a = atoi(optarg); break;
		case 'b': cpu_b = atoi(optarg); break;
		case 'h': usage(0); break;
		default:  usage(2);
		}
	}
	if (n == 0 || reps == 0 || (uint64_t)n * (reps + 1) > UINT32_MAX)
		usage(2);
	p = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	v = calloc(reps, sizeof *v);
	if (p == MAP_FAILED || !v) {
		perror("futex-pingpong: mmap");
		return 1;
	}
	alarm(120);   /* never hang a benchmark script */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("futex-pingpong: fork");
		return 1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != me)
			_exit(1);
		pin(cpu_b);
		responder(p, n * (reps + 1));
		_exit(0);
	}
	pin(cpu_a);
	batch(p, &seq, n);    /* warm-up: fault in, settle both cores */
	for (uint32_t r = 0; r < reps; r++)
		v[r] = batch(p, &seq, n);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "futex-pingpong: responder failed\n");
		return 1;
	}
	qsort(v, reps, sizeof *v, cmp_double);
	printf("{\"test\":\"futex_pingpong\",\"cpu_initiator\":%d,\"cpu_responder\":%d,"
	       "\"iters\":%u,\"reps\":%u,\"rtt_us_median\":%.4g,\"rtt_us_min\":%.4g,"
	       "\"rtt_us_max\":%.4g}\n", cpu_a, cpu_b, n, reps,
	       (reps & 1) ? v[reps / 2] : 0.5 * (v[reps / 2 - 1] + v[reps / 2]),
	       v[0], v[reps - 1]);
	free(v);
	return 0;
}
