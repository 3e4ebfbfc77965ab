/*
 * fabric.c - the shm fabric segment: processes on one host share it.
 *
 * The segment (/dev/shm/tpz-<fabric>, mode 0600, owned by the user) holds a
 * header, one slot per node (its pid and its "sleeping" announcement), one
 * SPSC ring per ordered pair of nodes, and the frame pool.  The first node
 * to arrive creates and formats it; the last to leave removes its name.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shm.h"

#define FAB_MAGIC   0x626166205a5054ull   /* "TPZ fab" */
#define FAB_VERSION 1u

const volatile uint64_t tpz_cma_probe = CMA_PROBE;
bool tpz_shm_asym_fence;
static void setup_fences(void);

/* ---- the segment ---------------------------------------------------------- */

static void fab_layout(struct fab_hdr *h, uint32_t nodes, uint32_t slots, uint32_t fsize, uint32_t nframes)
{
	h->nodes = nodes;
	h->ring_slots = slots;
	h->frame_size = fsize;
	h->nframes = nframes;
	h->node_off = 4096;
	h->ring_off = h->node_off + (((uint64_t)nodes * sizeof(struct fab_node) + 4095) & ~4095ull);
	h->ring_stride = (tpz_ring_bytes(slots) + 4095) & ~4095ull;
	h->pool_off = h->ring_off + (uint64_t)nodes * nodes * h->ring_stride;
	h->total = h->pool_off + tpz_pool_bytes(fsize, nframes);
}

static int fab_create(struct tpz_endpoint *ep, struct tpz_shm *s, int fd)
{
	struct fab_hdr h = { 0 };

	/* Room for the creator at least, whatever it asked for. */
	uint32_t nodes = ep->cfg.fabric_nodes > ep->cfg.node ? ep->cfg.fabric_nodes : ep->cfg.node + 1;
	fab_layout(&h, nodes, ep->cfg.ring_slots, ep->cfg.frame_size, ep->cfg.pool_frames);
	if (ftruncate(fd, (off_t)h.total) < 0)
		return -errno;
	void *mem = mmap(NULL, h.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	s->hdr = mem;
	s->len = h.total;
	*s->hdr = h;
	s->hdr->magic = FAB_MAGIC;
	s->hdr->version = FAB_VERSION;
	/* The rings are not formatted here: a pair's two rings are reset when
	 * the pair connects (link_shm.c, reset_rings), so tmpfs gives pages
	 * only to pairs that talk - a 64-node fabric costs what its
	 * connections use, not 64 x 64 rings. */
	tpz_pool_format((uint8_t *)mem + h.pool_off, h.frame_size, h.nframes);
	/* release: joiners that see ready see the formatted segment. */
	atomic_store_explicit(&s->hdr->ready, 1, memory_order_release);
	tpz_log(ep, TPZ_LOG_INFO, "fabric %s created: %u nodes, %u-slot rings, %u frames of %u KiB",
		ep->cfg.fabric, h.nodes, h.ring_slots, h.nframes, h.frame_size >> 10);
	return 0;
}

static int fab_join(struct tpz_endpoint *ep, struct tpz_shm *s, int fd)
{
	struct stat st;

	/* The creator may still be formatting it: wait up to 2 s. */
	for (int i = 0; i < 2000; i++) {
		if (fstat(fd, &st) < 0)
			return -errno;
		if (st.st_uid != geteuid()) {
			tpz_log(ep, TPZ_LOG_ERR, "fabric %s belongs to uid %u, not us", ep->cfg.fabric, st.st_uid);
			return -EACCES;
		}
		if ((size_t)st.st_size >= sizeof(struct fab_hdr)) {
			void *mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (mem == MAP_FAILED)
				return -errno;
			struct fab_hdr *h = mem;
			if (atomic_load_explicit(&h->ready, memory_order_acquire)) {
				if (h->magic != FAB_MAGIC || h->version != FAB_VERSION || h->total != (uint64_t)st.st_size) {
					munmap(mem, (size_t)st.st_size);
					tpz_log(ep, TPZ_LOG_ERR, "fabric %s: not a compatible segment", ep->cfg.fabric);
					return -EPROTO;
				}
				s->hdr = h;
				s->len = (size_t)st.st_size;
				return 0;
			}
			munmap(mem, (size_t)st.st_size);
		}
		usleep(1000);
	}
	return -ETIMEDOUT;
}

/* A zombie counts as dead: its memory and its frames' users are gone, it
 * only waits for its parent (which may be the very process asking). */
bool tpz_pid_alive(pid_t pid)
{
	char path[64], buf[256];

	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;   /* no /proc: trust kill() */
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');   /* "pid (comm) S ..." */
	return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/* Take our node slot; a slot left by a dead process is taken over and the
 * frames it held go back to the pool. */
static int claim_slot(struct tpz_endpoint *ep, struct tpz_shm *s)
{
	struct fab_node *me = &s->nodes[ep->cfg.node];
	int32_t old = 0, pid = (int32_t)getpid();

	if (atomic_compare_exchange_strong(&me->pid, &old, pid))
		return 0;
	if (tpz_pid_alive(old)) {
		tpz_log(ep, TPZ_LOG_ERR, "fabric %s: node %u is already taken by pid %d",
			ep->cfg.fabric, ep->cfg.node, old);
		return -EADDRINUSE;
	}
	if (!atomic_compare_exchange_strong(&me->pid, &old, pid))
		return -EADDRINUSE;
	uint32_t n = tpz_pool_reclaim(&ep->pool, TPZ_OWNER(ep->cfg.node));
	tpz_log(ep, TPZ_LOG_INFO, "fabric %s: node %u taken over from dead pid %d (%u frames reclaimed)",
		ep->cfg.fabric, ep->cfg.node, old, n);
	return 0;
}

void tpz_shm_ctl_addr(struct sockaddr_un *a, socklen_t *len, const char *fabric, uint32_t node)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* Abstract namespace: nothing to clean up in the file system. */
	int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "tpz-%s-%u", fabric, node);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}


int tpz_shm_attach(struct tpz_endpoint *ep)
{
	struct tpz_shm *s = calloc(1, sizeof(*s));
	int fd, rc;

	if (!s)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "/tpz-%s", ep->cfg.fabric);
	s->listen.fd = -1;
	fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		rc = fab_create(ep, s, fd);
		if (rc < 0)
			shm_unlink(s->name);
	} else if (errno == EEXIST && (fd = shm_open(s->name, O_RDWR | O_CLOEXEC, 0)) >= 0) {
		rc = fab_join(ep, s, fd);
		if (rc == 0 && (s->hdr->ring_slots != ep->cfg.ring_slots || s->hdr->frame_size != ep->cfg.frame_size ||
				s->hdr->nframes != ep->cfg.pool_frames))
			tpz_log(ep, TPZ_LOG_INFO, "fabric %s exists: using its %u-slot rings and %u frames of %u KiB",
				ep->cfg.fabric, s->hdr->ring_slots, s->hdr->nframes, s->hdr->frame_size >> 10);
	} else {
		rc = -errno;
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		goto err;
	if (ep->cfg.node >= s->hdr->nodes) {
		rc = -EINVAL;
		tpz_log(ep, TPZ_LOG_ERR, "fabric %s has %u node slots; node %u does not fit",
			ep->cfg.fabric, s->hdr->nodes, ep->cfg.node);
		goto err_unmap;
	}
	if ((uint64_t)s->hdr->frame_size * TPZ_SG_MAX < ep->max_payload) {
		rc = -EINVAL;
		goto err_unmap;
	}
	s->nodes = (struct fab_node *)((uint8_t *)s->hdr + s->hdr->node_off);
	if ((rc = tpz_pool_open(&ep->pool, (uint8_t *)s->hdr + s->hdr->pool_off)) < 0)
		goto err_unmap;
	if ((rc = claim_slot(ep, s)) < 0)
		goto err_unmap;
	/* Let peers read our memory for one-copy payloads even under Yama. */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	setup_fences();

	struct sockaddr_un a;
	socklen_t alen;
	tpz_shm_ctl_addr(&a, &alen, ep->cfg.fabric, ep->cfg.node);
	s->listen.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->listen.fn = tpz_shm_accept_event;
	if (s->listen.fd < 0 || bind(s->listen.fd, (struct sockaddr *)&a, alen) < 0 ||
	    listen(s->listen.fd, 64) < 0) {
		rc = -errno;
		tpz_log(ep, TPZ_LOG_ERR, "fabric %s: cannot listen for node %u: %s", ep->cfg.fabric,
			ep->cfg.node, strerror(errno));
		goto err_slot;
	}
	if ((rc = tpz_ev_add(ep, &s->listen, EPOLLIN)) < 0)
		goto err_slot;
	ep->shm = s;
	return 0;

err_slot:
	if (s->listen.fd >= 0)
		close(s->listen.fd);
	atomic_store(&s->nodes[ep->cfg.node].pid, 0);
err_unmap:
	munmap(s->hdr, s->len);
	memset(&ep->pool, 0, sizeof(ep->pool));
err:
	free(s);
	return rc;
}

void tpz_shm_detach(struct tpz_endpoint *ep)
{
	struct tpz_shm *s = ep->shm;
	bool others = false;

	tpz_ev_del(ep, &s->listen);
	close(s->listen.fd);
	/* Frames the application still holds go back with us. */
	tpz_pool_reclaim(&ep->pool, TPZ_OWNER(ep->cfg.node));
	atomic_store(&s->nodes[ep->cfg.node].pid, 0);
	for (uint32_t i = 0; i < s->hdr->nodes; i++)
		if (tpz_pid_alive(atomic_load(&s->nodes[i].pid)))
			others = true;
	/* Last one out removes the name (a racing joiner keeps its mapping). */
	if (!others)
		shm_unlink(s->name);
	munmap(s->hdr, s->len);
	memset(&ep->pool, 0, sizeof(ep->pool));
	free(s);
	ep->shm = NULL;
}

void tpz_shm_sleep_prepare(struct tpz_endpoint *ep, bool sleeping)
{
	if (!ep->shm)
		return;
	atomic_store(&ep->shm->nodes[ep->cfg.node].sleeping, sleeping);
	/* Pairs with the barrier in ring_doorbell: either the sender sees our
	 * announcement, or we see its message in anything_pending().  The
	 * membarrier makes every CPU running a registered process execute a
	 * full fence, which is what lets the senders skip theirs. */
	if (!sleeping)
		return;
	if (tpz_shm_asym_fence)
		syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

/* Every process of the fabric runs this library on one kernel, so all of
 * them agree on which fence protocol is in use. */
static void setup_fences(void)
{
	long q = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (q > 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0)
		tpz_shm_asym_fence = true;
}
