/*
 * log.c - tpz-ipd's log lines: "HH:MM:SS.mmm tpz-ipd[node]: text" on
 * stderr, one write per line so the threads' lines never interleave.
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tip.h"

int tip_log_level = TIP_INFO;
uint32_t tip_log_node = UINT32_MAX;

uint64_t tip_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void vlog(int level, const char *suffix, const char *fmt, va_list ap)
{
	char line[640];
	struct timeval tv;
	struct tm tm;
	int n;

	if (level > tip_log_level)
		return;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld " TIP_PROG, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (long)tv.tv_usec / 1000);
	if (tip_log_node != UINT32_MAX)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "[%u]", tip_log_node);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s",
		      level <= TIP_ERR ? "error: " : level == TIP_WARN ? "warning: " : "");
	if (n < (int)sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (n < (int)sizeof(line) && suffix)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s", suffix);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) { /* nowhere else to say it */ }
}

void tip_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

#define RL_WINDOW_NS 1000000000ull
#define RL_BURST     5

void tip_log_rl(struct tip_ratelimit *rl, int level, const char *fmt, ...)
{
	uint64_t now = tip_now_ns();
	char more[64] = "";
	va_list ap;

	if (now - rl->window_ns >= RL_WINDOW_NS) {
		rl->window_ns = now;
		rl->in_window = 0;
	}
	if (rl->in_window >= RL_BURST) {
		rl->suppressed++;
		return;
	}
	rl->in_window++;
	if (rl->suppressed)
		snprintf(more, sizeof(more), " (and %u more like it not shown)", rl->suppressed);
	rl->suppressed = 0;
	va_start(ap, fmt);
	vlog(level, more, fmt, ap);
	va_end(ap);
}

/* Trapeze's own lines: its info lines (fabric created, peer up) only with
 * -v, its warnings always. */
void tip_tpz_log(void *arg, int level, const char *msg)
{
	int l = level <= TPZ_LOG_ERR ? TIP_ERR : level == TPZ_LOG_WARN ? TIP_WARN :
		level == TPZ_LOG_INFO ? TIP_DEBUG : TIP_DEBUG + 1;
	tip_log(l, "trapeze: %s", msg);
}
