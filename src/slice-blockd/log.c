/*
 * log.c - slice-blockd's log lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blockd_log.h"

static uint32_t log_node;
static int log_level = BLOG_INFO;

void blog_init(uint32_t node, int level)
{
	log_node = node;
	log_level = level;
}

int blog_level_parse(const char *s)
{
	static const struct { const char *name; int level; } names[] = {
		{ "error", BLOG_ERR }, { "warn", BLOG_WARN }, { "info", BLOG_INFO }, { "debug", BLOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].level;
	return -1;
}

static void vlog(int level, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "slice-blockd[node %u]: %s%s", log_node,
		     level <= BLOG_ERR ? "error: " : level == BLOG_WARN ? "warning: " : "", prefix);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	size_t len = m < 0 ? (size_t)n : (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line: lines from several threads never interleave. */
	if (write(STDERR_FILENO, line, len) < 0) {
		/* nowhere left to say it */
	}
}

void blog(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, "", fmt, ap);
	va_end(ap);
}

static void tpz_line(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, "trapeze: ", fmt, ap);
	va_end(ap);
}

void blog_tpz(void *arg, int level, const char *msg)
{
	(void)arg;
	tpz_line(level, "%s", msg);
}
