/*
 * check.c - `slice-fmd --check`: does the store hold together?
 *
 * What must be true after any crash (every change is one transaction, so
 * it is all there or not at all):
 *   - every name (names table) has its listing record, with the same file
 *     id, type and name, and the other way round;
 *   - every name's directory exists and is a directory, and the inode it
 *     names exists with that type;
 *   - a file's link count is the number of names it has; a directory has
 *     exactly one name (the root none), its parent is the directory that
 *     names it, its link count is 2 + its subdirectories, and its entry
 *     count is the number of names in it;
 *   - no inode without a name (except the root); every symlink has its
 *     target, every regular file its block map;
 *   - every removal queue entry holds a map that decodes.
 * On a volume of several managers this store holds only its part: a name
 * may name a file held elsewhere, a file may have names elsewhere (so its
 * link count is at least the names here), and for every directory held
 * elsewhere the partial count must match the names of it here.
 * O(records) time, memory for one small record per inode.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "data.h"
#include "nfs_op.h"

struct cnt {
	uint64_t fileid;         /* 0: empty slot */
	uint64_t parent;         /* the directory that names it (directories) */
	uint64_t names_in;       /* names in it (directories) */
	uint32_t links, subdirs;
	uint8_t  type;
	bool     has_inode, has_link, has_map, has_partial;
	struct partial partial;
};

struct chk {
	struct fmd  *f;
	MDB_txn     *t;
	struct cnt  *tab;
	uint64_t     cap;        /* power of two */
	uint64_t     inodes, names, listing, problems;
};

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static struct cnt *slot(struct chk *c, uint64_t id)
{
	uint64_t h = (id * 0x9e3779b97f4a7c15ull) & (c->cap - 1);
	while (c->tab[h].fileid && c->tab[h].fileid != id)
		h = (h + 1) & (c->cap - 1);
	c->tab[h].fileid = id;
	return &c->tab[h];
}

#define PROBLEM(c, ...) do {                       \
	(c)->problems++;                           \
	if ((c)->problems <= 50)                   \
		fmd_log(LOG_ERR, "check: " __VA_ARGS__); \
} while (0)

static int on_inode(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct chk *c = arg;
	struct inode ino;
	if (kl != 8 || vl != offsetof(struct inode, x_entries) - 8) {
		PROBLEM(c, "an inode record of %zu bytes", vl);
		return 0;
	}
	memset(&ino, 0, sizeof(ino));
	memcpy((uint8_t *)&ino + 8, v, vl);
	struct cnt *s = slot(c, get_be64(k));
	s->has_inode = true;
	s->type = ino.type;
	c->inodes++;
	return 0;
}

static int on_name(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct chk *c = arg;
	c->names++;
	if (kl < 9 || vl != 22) {
		PROBLEM(c, "a name record of %zu/%zu bytes", kl, vl);
		return 0;
	}
	uint64_t dir = get_be64(k), fid = get_be64(v), cookie = get_be64(v + 8);
	uint8_t type = v[20];
	int nl = (int)(kl - 8);
	const char *name = (const char *)k + 8;

	/* its listing record */
	uint8_t lk[16];
	memcpy(lk, k, 8);
	memcpy(lk + 8, v + 8, 8);
	MDB_val key = { 16, lk }, val;
	int rc = store_get_raw(c->f->st, c->t, T_LISTING, &key, &val);
	if (rc)
		PROBLEM(c, "name %.*s in %llu has no listing record (cookie %llu)", nl, name,
			(unsigned long long)dir, (unsigned long long)cookie);
	else if (val.mv_size != 14 + (size_t)nl + 1 || get_be64(val.mv_data) != fid ||
		 ((uint8_t *)val.mv_data)[12] != type || memcmp((uint8_t *)val.mv_data + 14, name, (size_t)nl))
		PROBLEM(c, "name %.*s in %llu: listing record differs", nl, name, (unsigned long long)dir);

	struct cnt *d = slot(c, dir);
	d->names_in++;
	if (type == NF3DIR)
		d->subdirs++;
	if (c->f->cfg.managers > 1 && !op_is_ours(c->f, fid))
		return 0;   /* its file is held elsewhere */
	struct cnt *s = slot(c, fid);
	s->links++;
	if (type == NF3DIR)
		s->parent = dir;
	return 0;
}

static int on_partial(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct chk *c = arg;
	if (kl != 8 || vl != sizeof(struct partial)) {
		PROBLEM(c, "a partial count record of %zu bytes", vl);
		return 0;
	}
	struct cnt *s = slot(c, get_be64(k));
	s->has_partial = true;
	memcpy(&s->partial, v, sizeof(s->partial));
	return 0;
}

static int on_listing(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	((struct chk *)arg)->listing++;
	return 0;
}

static int on_link(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct chk *c = arg;
	if (kl == 8)
		slot(c, get_be64(k))->has_link = true;
	return 0;
}

static int on_map(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct chk *c = arg;
	struct slice_block_map m;
	if (kl != 8 || map_decode(v, vl, &m)) {
		PROBLEM(c, "a block map that does not decode");
		return 0;
	}
	map_free(&m);
	slot(c, get_be64(k))->has_map = true;
	return 0;
}

static int on_rmq(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct chk *c = arg;
	struct slice_block_map m;
	if (kl != 8 || vl < 8 || map_decode(v + 8, vl - 8, &m)) {
		PROBLEM(c, "a removal queue entry that does not decode");
		return 0;
	}
	map_free(&m);
	return 0;
}

/* The per-inode rules, once everything is counted. */
static void verify(struct chk *c)
{
	struct fmd *f = c->f;
	for (uint64_t i = 0; i < c->cap; i++) {
		struct cnt *s = &c->tab[i];
		if (!s->fileid)
			continue;
		unsigned long long id = (unsigned long long)s->fileid;
		bool multi = f->cfg.managers > 1;
		if (!s->has_inode) {
			if (s->links)
				PROBLEM(c, "%u name(s) of %llu, which does not exist", s->links, id);
			if (multi && !op_is_ours(f, s->fileid)) {
				/* a directory held elsewhere: our partial count of it */
				struct partial *p = &s->partial;
				if ((s->names_in || s->has_partial) &&
				    (p->entries != s->names_in || p->subdirs != s->subdirs))
					PROBLEM(c, "directory %llu (elsewhere): %llu names and %u subdirectories here, "
						"counted %llu and %u", id, (unsigned long long)s->names_in, s->subdirs,
						(unsigned long long)p->entries, p->subdirs);
				continue;
			}
			if (s->names_in)
				PROBLEM(c, "%llu names in %llu, which does not exist", (unsigned long long)s->names_in, id);
			continue;
		}
		struct inode ino;
		if (ino_get(f->st, c->t, s->fileid, &ino)) {
			PROBLEM(c, "%llu vanished while checking", id);
			continue;
		}
		bool root = s->fileid == f->root;
		if (ino.type != NF3DIR && s->names_in)
			PROBLEM(c, "%llu is not a directory but has names in it", id);
		if (ino.type == NF3DIR) {
			if (s->links != (root ? 0u : 1u))
				PROBLEM(c, "directory %llu has %u names", id, s->links);
			if (!root && ino.parent != s->parent)
				PROBLEM(c, "directory %llu: parent %llu, named in %llu", id,
					(unsigned long long)ino.parent, (unsigned long long)s->parent);
			if (ino.nlink != 2 + s->subdirs)
				PROBLEM(c, "directory %llu: nlink %u, subdirectories %u", id, ino.nlink, s->subdirs);
			if (ino.entries != s->names_in)
				PROBLEM(c, "directory %llu: %llu entries counted, %llu names", id,
					(unsigned long long)ino.entries, (unsigned long long)s->names_in);
		} else if (!multi) {
			if (s->links == 0)
				PROBLEM(c, "%llu has no name (an orphan)", id);
			else if (ino.nlink != s->links)
				PROBLEM(c, "%llu: nlink %u, names %u", id, ino.nlink, s->links);
		} else if (ino.nlink < s->links) {
			PROBLEM(c, "%llu: nlink %u, but %u names here alone", id, ino.nlink, s->links);
		}
		if (ino.type == NF3LNK && !s->has_link)
			PROBLEM(c, "symlink %llu has no target", id);
		if (ino.type == NF3REG && !s->has_map)
			PROBLEM(c, "file %llu has no block map", id);
		if (ino.type != NF3REG && s->has_map)
			PROBLEM(c, "%llu is not a regular file but has a block map", id);
	}
}

int fmd_check(struct fmd *f, uint64_t *inodes, uint64_t *names, uint64_t *problems)
{
	struct chk c = { .f = f };
	uint64_t n, used, max;
	int rc;

	if ((rc = store_stats(f->st, &n, &used, &max)))
		return rc;
	c.cap = 1024;
	while (c.cap < 2 * n + 1024)
		c.cap <<= 1;
	c.tab = calloc(c.cap, sizeof(*c.tab));
	if (!c.tab)
		return -ENOMEM;
	if ((rc = store_rd(f->st, &c.t)))
		goto out;
	if ((rc = store_scan(f->st, c.t, T_INODES, on_inode, &c)) ||
	    (rc = store_scan(f->st, c.t, T_NAMES, on_name, &c)) ||
	    (rc = store_scan(f->st, c.t, T_LISTING, on_listing, &c)) ||
	    (rc = store_scan(f->st, c.t, T_SYMLINKS, on_link, &c)) ||
	    (rc = store_scan(f->st, c.t, T_MAPS, on_map, &c)) ||
	    (rc = store_scan(f->st, c.t, T_RMQ, on_rmq, &c)) ||
	    (rc = store_scan(f->st, c.t, T_PARTIALS, on_partial, &c)))
		goto done;
	if (c.listing != c.names)
		PROBLEM(&c, "%llu names but %llu listing records", (unsigned long long)c.names,
			(unsigned long long)c.listing);
	struct cnt *r = slot(&c, f->root);
	if (!r->has_inode && op_is_ours(f, f->root))
		PROBLEM(&c, "the root directory %llu is missing", (unsigned long long)f->root);
	verify(&c);
done:
	store_rd_done(c.t);
out:
	*inodes = c.inodes;
	*names = c.names;
	*problems = c.problems;
	free(c.tab);
	return rc ? rc : (c.problems ? 1 : 0);
}
