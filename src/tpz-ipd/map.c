/*
 * map.c - the cluster file as tpz-ipd reads it: where the nodes are, and
 * which node owns which IP address (the role ARP plays on a LAN).
 *
 *   node 1 shm                   # given to tpz_cluster_parse, unchanged
 *   node 2 tcp://10.99.0.2:7400
 *   ip 1 10.77.0.1/24            # node 1's interface has this address
 *   ip 1 fd77::1/64
 *   ip 2 10.77.0.2/24
 *
 * The library's parser refuses words it does not know, so the "ip" lines
 * are taken out here and the rest is handed to it: one file describes the
 * whole cluster, and the other modules read the same file untouched as
 * long as they skip "ip" lines the same way.
 *
 * Lookups are exact matches on the destination address in an open-address
 * hash table: O(1) per packet whatever the cluster's size.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tip.h"

static int alen(int family) { return family == AF_INET ? 4 : 16; }

int tip_addr_parse(const char *s, struct tip_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash, *end;
	long plen = -1;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/'))) {
		*slash = '\0';
		plen = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0')
			return -EINVAL;
	}
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, a->a) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->a) == 1)
		a->family = AF_INET6;
	else
		return -EINVAL;
	int max = alen(a->family) * 8;
	if (plen < 0)
		plen = max;
	if (plen < 1 || plen > max)
		return -EINVAL;
	a->plen = (uint8_t)plen;
	return 0;
}

const char *tip_addr_str(const struct tip_addr *a, bool with_plen, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family, a->a, s, sizeof(s)))
		snprintf(s, sizeof(s), "?");
	if (with_plen)
		snprintf(buf, len, "%s/%u", s, a->plen);
	else
		snprintf(buf, len, "%s", s);
	return buf;
}

bool tip_addr_in(const struct tip_addr *p, const struct tip_addr *a)
{
	if (p->family != a->family)
		return false;
	unsigned bits = p->plen, i = 0;
	for (; bits >= 8; bits -= 8, i++)
		if (p->a[i] != a->a[i])
			return false;
	return bits == 0 || ((p->a[i] ^ a->a[i]) & (0xffu << (8 - bits)) & 0xffu) == 0;
}

/* FNV-1a over family and address: spreads consecutive addresses well. */
static uint32_t addr_hash(int family, const uint8_t *addr)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;
	for (int i = 0; i < alen(family); i++)
		h = (h ^ addr[i]) * 16777619u;
	return h;
}

static int find(const struct tip_map *m, int family, const uint8_t *addr)
{
	if (!m->slot)
		return -1;
	for (uint32_t i = addr_hash(family, addr) & m->mask;; i = (i + 1) & m->mask) {
		uint32_t s = m->slot[i];
		if (!s)
			return -1;
		const struct tip_addr *e = &m->ent[s - 1].addr;
		if (e->family == family && memcmp(e->a, addr, (size_t)alen(family)) == 0)
			return (int)(s - 1);
	}
}

int tip_map_lookup(const struct tip_map *m, int family, const uint8_t *addr)
{
	int i = find(m, family, addr);
	return i < 0 ? -1 : (int)m->ent[i].node;
}

/* Rebuild the table at twice the entries, a power of two (load <= 1/2). */
static int rehash(struct tip_map *m)
{
	uint32_t size = 16;
	while (size < 2 * m->n)
		size *= 2;
	uint32_t *slot = calloc(size, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	free(m->slot);
	m->slot = slot;
	m->mask = size - 1;
	for (uint32_t k = 0; k < m->n; k++) {
		uint32_t i = addr_hash(m->ent[k].addr.family, m->ent[k].addr.a) & m->mask;
		while (slot[i])
			i = (i + 1) & m->mask;
		slot[i] = k + 1;
	}
	return 0;
}

static int add_entry(struct tip_map *m, const struct tip_addr *a, uint32_t node)
{
	if (m->n == m->cap) {
		uint32_t cap = m->cap ? 2 * m->cap : 16;
		struct tip_map_entry *e = realloc(m->ent, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		m->ent = e;
		m->cap = cap;
	}
	m->ent[m->n++] = (struct tip_map_entry){ *a, node };
	return rehash(m);
}

const char *tip_map_url(const struct tip_map *m, uint32_t node)
{
	for (int i = 0; i < m->nnodes; i++)
		if (m->nodes[i].node == node)
			return m->nodes[i].url;
	return NULL;
}

/* One "ip NODE ADDR[/PREFIX]" line (without its keyword). */
static int ip_line(struct tip_map *m, const char *rest, char *why, size_t wlen)
{
	char addr[96], extra[8];
	unsigned long node;
	struct tip_addr a;

	if (sscanf(rest, "%lu %95s %7s", &node, addr, extra) != 2) {
		snprintf(why, wlen, "'ip' wants NODE ADDRESS[/PREFIX]");
		return -EINVAL;
	}
	if (node >= TPZ_MAX_NODES) {
		snprintf(why, wlen, "node id %lu out of range (0..%u)", node, TPZ_MAX_NODES - 1);
		return -EINVAL;
	}
	if (tip_addr_parse(addr, &a) < 0) {
		snprintf(why, wlen, "'%s' is not an IPv4 or IPv6 address with an optional /prefix", addr);
		return -EINVAL;
	}
	int dup = find(m, a.family, a.a);
	if (dup >= 0) {
		snprintf(why, wlen, "address %s already belongs to node %u", addr, m->ent[dup].node);
		return -EINVAL;
	}
	return add_entry(m, &a, (uint32_t)node);
}

int tip_map_parse(struct tip_map *m, const char *text, const char *name, char *err, size_t errlen)
{
	size_t tlen = strlen(text);
	char *nodes = malloc(tlen + 2), why[160];
	size_t nlen = 0;
	int lineno = 0, rc = 0;

	memset(m, 0, sizeof(*m));
	if (!nodes)
		return -ENOMEM;
	for (const char *p = text; *p && rc == 0;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[256], word[16];
		lineno++;
		if (len >= sizeof(line)) {
			snprintf(why, sizeof(why), "line too long");
			rc = -EINVAL;
			break;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (eol ? 1 : 0);
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		int used = 0;
		if (sscanf(line, " %15s %n", word, &used) != 1)
			continue;
		if (strcmp(word, "ip") == 0) {
			rc = ip_line(m, line + used, why, sizeof(why));
		} else {
			/* Check it alone, to name the line if it is wrong. */
			struct tpz_cluster_node one;
			if (tpz_cluster_parse(line, &one, 1) != 1) {
				snprintf(why, sizeof(why), "not a 'node ID URL' or 'ip NODE ADDRESS' line");
				rc = -EINVAL;
			}
			memcpy(nodes + nlen, line, strlen(line));
			nlen += strlen(line);
			nodes[nlen++] = '\n';
		}
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
		goto out;
	}
	nodes[nlen] = '\0';
	m->nnodes = tpz_cluster_parse(nodes, m->nodes, TPZ_MAX_NODES);
	if (m->nnodes < 0) {
		rc = m->nnodes;
		m->nnodes = 0;
		snprintf(err, errlen, "%s: %s", name,
			 rc == -EINVAL ? "a node id is listed twice" : "too many nodes");
		goto out;
	}
	for (int i = 0; i < m->nnodes; i++) {
		m->known[m->nodes[i].node] = true;
		if (m->nodes[i].node > m->max_node)
			m->max_node = m->nodes[i].node;
	}
	for (uint32_t k = 0; k < m->n; k++) {
		if (!tip_map_url(m, m->ent[k].node)) {
			char a[64];
			snprintf(err, errlen, "%s: address %s belongs to node %u, which has no 'node' line", name,
				 tip_addr_str(&m->ent[k].addr, false, a, sizeof(a)), m->ent[k].node);
			rc = -EINVAL;
			goto out;
		}
	}
out:
	free(nodes);
	if (rc < 0)
		tip_map_free(m);
	return rc;
}

int tip_map_load(struct tip_map *m, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	memset(m, 0, sizeof(*m));
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot read the cluster file %s: %s", path, strerror(errno));
		return rc;
	}
	buf = malloc(1 << 20);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, (1 << 20) - 1, f);
	bool big = !feof(f);
	fclose(f);
	buf[n] = '\0';
	if (big) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		free(buf);
		return -EFBIG;
	}
	rc = tip_map_parse(m, buf, path, err, errlen);
	free(buf);
	return rc;
}

void tip_map_free(struct tip_map *m)
{
	free(m->ent);
	free(m->slot);
	memset(m, 0, sizeof(*m));
}
