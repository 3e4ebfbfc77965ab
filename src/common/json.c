/*
 * json.c - the one JSON line a run prints on stdout: flat fields and
 * objects, numbers as the tools have always printed them (%.4g for figures).
 */
#include <stdio.h>

#include "perfkit.h"

/* ,"k<suffix>": (no comma before the first field of the line or object) */
static void key_as(struct pk_json *j, const char *k, const char *suffix)
{
	printf("%s\"%s%s\":", j->more ? "," : "", k, suffix);
	j->more = true;
}

static void key(struct pk_json *j, const char *k)
{
	key_as(j, k, "");
}

void pk_json_begin(struct pk_json *j)
{
	putchar('{');
	j->more = false;
}

void pk_json_str(struct pk_json *j, const char *k, const char *v)
{
	key(j, k);
	printf("\"%s\"", v);
}

void pk_json_bool(struct pk_json *j, const char *k, bool v)
{
	key(j, k);
	fputs(v ? "true" : "false", stdout);
}

void pk_json_int(struct pk_json *j, const char *k, long long v)
{
	key(j, k);
	printf("%lld", v);
}

void pk_json_u64(struct pk_json *j, const char *k, uint64_t v)
{
	key(j, k);
	printf("%llu", (unsigned long long)v);
}

void pk_json_num(struct pk_json *j, const char *k, double v)
{
	key(j, k);
	printf("%.4g", v);
}

void pk_json_summary(struct pk_json *j, const char *k, const double *v, int n)
{
	struct pk_summary s = pk_summarize(v, n);

	key_as(j, k, "_median");
	printf("%.4g", s.median);
	key_as(j, k, "_min");
	printf("%.4g", s.min);
	key_as(j, k, "_max");
	printf("%.4g", s.max);
}

void pk_json_object(struct pk_json *j, const char *k)
{
	key(j, k);
	putchar('{');
	j->more = false;
}

void pk_json_close(struct pk_json *j)
{
	putchar('}');
	j->more = true;
}

void pk_json_end(struct pk_json *j)
{
	fputs("}\n", stdout);
	j->more = false;
	fflush(stdout);
}
