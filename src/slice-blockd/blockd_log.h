/*
 * blockd_log.h - slice-blockd's log: one line per event on stderr,
 * "slice-blockd[node N]: ...", warnings and errors marked as such.
 * Thread-safe (each line is one write).
 */
#ifndef BLOCKD_LOG_H
#define BLOCKD_LOG_H

#include <stdint.h>

enum { BLOG_ERR = 3, BLOG_WARN = 4, BLOG_INFO = 6, BLOG_DEBUG = 7 };

void blog_init(uint32_t node, int level);
/* "error", "warn", "info", "debug" -> a level; -1 if none of those. */
int  blog_level_parse(const char *s);
void blog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Trapeze's log callback (tpz_config.log). */
void blog_tpz(void *arg, int level, const char *msg);

#endif
