/*
 * cluster.c - how nodes find each other: a small cluster file.
 *
 *   # comment
 *   node 0 tcp://10.0.0.1:7000
 *   node 1 shm
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpz_internal.h"

static bool url_ok(const char *u)
{
	if (strcmp(u, "shm") == 0)
		return true;
	if (strncmp(u, "tcp://", 6) != 0)
		return false;
	const char *colon = strrchr(u + 6, ':');
	if (!colon || colon == u + 6)
		return false;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536;
}

int tpz_cluster_parse(const char *text, struct tpz_cluster_node *nodes, int max)
{
	int n = 0;

	if (!text || !nodes || max < 0)
		return -EINVAL;
	while (*text) {
		const char *eol = strchr(text, '\n');
		size_t len = eol ? (size_t)(eol - text) : strlen(text);
		char line[256], word[16], url[160];
		unsigned long id;
		int used = 0;

		if (len >= sizeof(line))
			return -EINVAL;
		memcpy(line, text, len);
		line[len] = '\0';
		text += len + (eol ? 1 : 0);
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (sscanf(line, " %15s", word) != 1)
			continue;   /* blank */
		if (sscanf(line, " %15s %lu %159s %n", word, &id, url, &used) != 3 || strcmp(word, "node") != 0 ||
		    line[used] != '\0' || id >= TPZ_MAX_NODES || strlen(url) >= sizeof(nodes->url) || !url_ok(url))
			return -EINVAL;
		for (int i = 0; i < n && i < max; i++)
			if (nodes[i].node == id)
				return -EINVAL;   /* duplicate id */
		if (n >= max)
			return -ENOSPC;
		nodes[n].node = (uint32_t)id;
		memcpy(nodes[n].url, url, strlen(url) + 1);   /* length checked above */
		n++;
	}
	return n;
}

int tpz_cluster_load(const char *path, struct tpz_cluster_node *nodes, int max)
{
	char buf[65536];
	FILE *f;
	size_t n;

	if (!path)
		return -EINVAL;
	if (!(f = fopen(path, "r")))
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	bool big = !feof(f);
	fclose(f);
	if (big)
		return -EFBIG;
	buf[n] = '\0';
	return tpz_cluster_parse(buf, nodes, max);
}
