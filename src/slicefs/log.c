/*
 * log.c - where slicefs's messages go: stderr until the daemon leaves its
 * terminal, syslog (daemon facility) after.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "slicefs.h"

static bool to_syslog;

void sfs_log_to_syslog(void)
{
	openlog("slicefs", LOG_PID, LOG_DAEMON);
	to_syslog = true;
}

void sfs_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (to_syslog) {
		vsyslog(LOG_WARNING, fmt, ap);
	} else {
		fputs("slicefs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
