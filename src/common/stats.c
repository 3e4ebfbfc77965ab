/*
 * stats.c - median, min and max of a tool's per-rep figures.
 */
#include <stdlib.h>

#include "perfkit.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct pk_summary pk_summarize(const double *v, int n)
{
	double *s = malloc(sizeof *s * (size_t)(n ? n : 1));
	struct pk_summary r = { 0, 0, 0 };

	if (!s || n == 0) {
		free(s);
		return r;
	}
	for (int i = 0; i < n; i++)
		s[i] = v[i];
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	r.median = (n & 1) ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
	r.min = s[0];
	r.max = s[n - 1];
	free(s);
	return r;
}
