/*
 * testlib.h - small helpers shared by the Trapeze test programs.
 *
 * A test is one program that checks one behaviour and exits 0 (pass),
 * 1 (fail) or 77 (skip).  CHECK() prints file:line and the reason and fails
 * the test at once; a watchdog alarm turns a hang into a failure; peer
 * processes are forked with a pair of pipes for the test's own
 * coordination (never for the data under test), and are killed if the test
 * fails.  Every wait is bounded.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "trapeze.h"

#define TL_EXIT_PASS 0
#define TL_EXIT_FAIL 1
#define TL_EXIT_SKIP 77

#define TL_SECRET "trapeze-test-secret"

/* Link kinds a test may run over. */
enum tl_link { TL_SHM = 1, TL_TCP = 2 };

extern char tl_test_name[64];   /* "t-ring-wrap" */
extern char tl_fabric[96];      /* "t-ring-wrap-<pid>": unique shm fabric name */
extern bool tl_is_child;

void tl_fail(void) __attribute__((noreturn));
void tl_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void tl_msg(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* CHECK(cond, fmt, ...): if cond is false print where and why, then fail. */
#define CHECK(cond, ...) do {                                               \
	if (!(cond)) {                                                      \
		tl_msg(__FILE__, __LINE__, "CHECK failed: %s", #cond);      \
		tl_msg(__FILE__, __LINE__, __VA_ARGS__);                    \
		tl_fail();                                                  \
	}                                                                   \
} while (0)

/* CHECK_RC(expr, want): expr returns an int that must equal want. */
#define CHECK_RC(expr, want) do {                                           \
	long _got = (long)(expr), _want = (long)(want);                     \
	if (_got != _want) {                                                \
		tl_msg(__FILE__, __LINE__, "CHECK failed: %s == %s", #expr, #want); \
		tl_msg(__FILE__, __LINE__, "got %ld (%s), want %ld (%s)",   \
		       _got, tpz_strerror((int)_got), _want, tpz_strerror((int)_want)); \
		tl_fail();                                                  \
	}                                                                   \
} while (0)

#define NOTE(...) tl_msg(__FILE__, __LINE__, __VA_ARGS__)

/* EXPECT(cond, fmt, ...): like CHECK, but the test goes on (so that later,
 * independent checks still run) and fails at tl_finish(). */
extern int tl_soft_failures;
#define EXPECT(cond, ...) do {                                              \
	if (!(cond)) {                                                      \
		tl_msg(__FILE__, __LINE__, "EXPECT failed: %s", #cond);     \
		tl_msg(__FILE__, __LINE__, __VA_ARGS__);                    \
		tl_soft_failures++;                                         \
	}                                                                   \
} while (0)
/* The exit code: 1 if any EXPECT failed, else 0. */
int tl_finish(void);

/* Start a test: name from argv[0], unique fabric name, watchdog of `secs`. */
void tl_init(int argc, char **argv, unsigned secs);
void tl_watchdog(unsigned secs);
/* Run by the watchdog before it exits (atexit handlers do not run then):
 * kill daemons the test started.  Must be async-signal-safe. */
extern void (*tl_alarm_hook)(void);

double tl_now_ms(void);
void   tl_pause(void);   /* a short sleep inside wait loops */
/* Idle in a poll loop the way an event loop would: until tpz_event_fd(ep)
 * is readable ("tpz_poll has work"), at most 50 us. */
void   tl_idle(struct tpz_endpoint *ep);

/* Wait until cond holds, driving tpz_poll(ep) meanwhile.  True if it did. */
#define POLL_UNTIL(ep, cond, ms) ({                                         \
	bool _ok = false;                                                   \
	double _end = tl_now_ms() + (ms);                                   \
	for (;;) {                                                          \
		if (cond) { _ok = true; break; }                            \
		if (tl_now_ms() > _end) break;                              \
		int _pr = tpz_poll((ep), 0);                                \
		CHECK(_pr >= 0, "tpz_poll: %s", tpz_strerror(_pr));         \
		if (_pr == 0) tl_idle(ep);                                  \
	}                                                                   \
	_ok;                                                                \
})

/* Wait until cond holds, without any endpoint. */
#define WAIT_UNTIL(cond, ms) ({                                             \
	bool _ok = false;                                                   \
	double _end = tl_now_ms() + (ms);                                   \
	for (;;) {                                                          \
		if (cond) { _ok = true; break; }                            \
		if (tl_now_ms() > _end) break;                              \
		tl_pause();                                                 \
	}                                                                   \
	_ok;                                                                \
})

/* ---- endpoints ---------------------------------------------------------- */
/* Defaults + node + (shm: the test's fabric) + secret + log to stderr. */
void tl_config(struct tpz_config *cfg, uint32_t node, enum tl_link link);
struct tpz_endpoint *tl_endpoint(const struct tpz_config *cfg);
void tl_log(void *arg, int level, const char *msg);
/* Listen: shm -> "shm" (returns 0); tcp -> 127.0.0.1 port 0 (returns the port). */
int  tl_listen(struct tpz_endpoint *ep, enum tl_link link);
/* Connect to node (tcp: 127.0.0.1:port) and wait until it is up on our side. */
void tl_connect(struct tpz_endpoint *ep, uint32_t node, enum tl_link link, int port);
void tl_wait_up(struct tpz_endpoint *ep, uint32_t node, int ms);
const char *tl_link_name(enum tl_link link);
struct tpz_counters tl_counters(struct tpz_endpoint *ep);
/* tpz_send, retrying -EAGAIN (polling meanwhile) for up to ms. */
int tl_send(struct tpz_endpoint *ep, const struct tpz_send *s, int ms);
int tl_send_inline(struct tpz_endpoint *ep, uint32_t dst, uint8_t h,
		   const void *data, uint32_t len, int ms);
void tl_print_counters(const char *who, const struct tpz_counters *c);

/* ---- data patterns ------------------------------------------------------ */
uint8_t tl_pat(uint32_t seed, size_t off);
void    tl_fill(void *buf, size_t len, uint32_t seed, size_t off0);
/* Offset of the first byte that differs from the pattern, or -1. */
long    tl_verify(const void *buf, size_t len, uint32_t seed, size_t off0);
/* Fill / verify a scatter/gather list as one byte stream. */
void    tl_fill_payload(const struct tpz_payload *pl, size_t len, uint32_t seed);
long    tl_verify_payload(const struct tpz_payload *pl, size_t len, uint32_t seed);
bool    tl_all_bytes(const void *buf, size_t len, uint8_t v);

/* ---- peer processes ----------------------------------------------------- */
struct tl_proc {
	pid_t pid;
	int   rd, wr;    /* our ends of the two pipes */
	int   index;
};
/* Fork a process running fn; returns in the parent.  In the child, fn gets
 * a tl_proc whose rd/wr lead back to the parent; its return is the exit code. */
void tl_spawn(struct tl_proc *p, int (*fn)(struct tl_proc *self, void *arg), void *arg);
/* Wait for the process to exit; fail unless it exits with code 0 within ms. */
void tl_reap(struct tl_proc *p, int ms);
/* Same, but only says why and returns whether it exited 0 (for EXPECT). */
bool tl_reap_ok(struct tl_proc *p, int ms);
/* Wait for exit and return the raw wait status (or -1 on timeout, then killed). */
int  tl_reap_status(struct tl_proc *p, int ms);
void tl_kill(struct tl_proc *p, int sig);

void tl_put(int fd, const void *buf, size_t n);
/* Read exactly n bytes within ms; fails the test on timeout or EOF. */
void tl_get(int fd, void *buf, size_t n, int ms);
/* Same, polling ep while waiting (so links keep moving). */
void tl_get_poll(struct tpz_endpoint *ep, int fd, void *buf, size_t n, int ms);
void tl_put_u32(int fd, uint32_t v);
uint32_t tl_get_u32(int fd, int ms);
uint32_t tl_get_u32_poll(struct tpz_endpoint *ep, int fd, int ms);
bool tl_readable(int fd);

#endif /* TESTLIB_H */
