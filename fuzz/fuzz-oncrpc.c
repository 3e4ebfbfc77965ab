/*
 * fuzz-oncrpc.c - libFuzzer target for the ONC RPC request decoder: record
 * marking, the call header with its credentials, and the NFSv3 / MOUNTv3
 * argument decoders, exactly as the server runs them on bytes from a
 * socket.
 *
 * Input: byte 0 picks how the stream is cut into reads (1 .. 256 bytes at
 * a time, as recv might deliver it); the rest is the stream.  Each record
 * that comes out is parsed as a call; a call to NFS 3 or MOUNT 3 has its
 * arguments decoded and every decoded length is checked against the
 * record.  A reply header is encoded for every verdict.
 */
#include <stdlib.h>
#include <string.h>

#include "oncrpc.h"
#include "oncrpc_nfs3.h"

static void check_inside(const uint8_t *rec, uint32_t len, const void *p, uint32_t n)
{
	const uint8_t *b = p;
	if (n && (b < rec || b + n > rec + len))
		abort();
}

static void serve(const uint8_t *rec, uint32_t len)
{
	struct orpc_call_hdr h;
	enum orpc_auth_stat why;
	uint8_t out[ORPC_REPLY_HDR_MAX];
	static struct orpc_nfs3_args a;
	static struct orpc_mnt3_args m;

	switch (orpc_parse_call(rec, len, &h, &why)) {
	case ORPC_CALL_OK:
		break;
	case ORPC_CALL_RPC_MISMATCH:
		orpc_encode_rpc_mismatch(out, h.xid);
		return;
	case ORPC_CALL_AUTH_ERROR:
		orpc_encode_auth_error(out, h.xid, why);
		return;
	case ORPC_CALL_GARBAGE:
		orpc_encode_accepted(out, h.xid, ORPC_GARBAGE_ARGS, 0, 0);
		return;
	case ORPC_CALL_DROP:
		return;
	}
	if (h.args_off > len || h.cred.ngids > ORPC_AUTH_GIDS_MAX)
		abort();
	const uint8_t *args = rec + h.args_off;
	uint32_t alen = len - h.args_off;
	if (h.prog == MOUNT_PROGRAM) {
		if (orpc_mnt3_decode(h.proc % ORPC_MNT3_NPROCS, args, alen, &m) == 0 &&
		    strlen(m.path) > MNTPATHLEN)
			abort();
		return;
	}
	if (orpc_nfs3_decode(h.proc % ORPC_NFS3_NPROCS, args, alen, &a) != 0)
		return;
	switch (h.proc % ORPC_NFS3_NPROCS) {
	case NFS3_WRITE:
		check_inside(rec, len, a.u.write.data.data_val, a.u.write.data.data_len);
		check_inside(rec, len, a.u.write.file.data.data_val, a.u.write.file.data.data_len);
		if (a.u.write.file.data.data_len > NFS3_FHSIZE)
			abort();
		break;
	case NFS3_RENAME:
		if (strlen(a.u.rename.from.name) > ORPC_NFS3_NAME_MAX ||
		    strlen(a.u.rename.to.name) > ORPC_NFS3_NAME_MAX)
			abort();
		check_inside(rec, len, a.u.rename.to.dir.data.data_val, a.u.rename.to.dir.data.data_len);
		break;
	case NFS3_SYMLINK:
		if (strlen(a.u.symlink.symlink.symlink_data) > ORPC_NFS3_PATH_MAX)
			abort();
		break;
	default:
		break;
	}
	orpc_encode_accepted(out, h.xid, ORPC_SUCCESS, 0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 1)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	struct orpc_rm rm;
	orpc_rm_init(&rm, 64u << 10);
	data++;
	len--;
	while (len > 0) {
		size_t n = len < chunk ? len : chunk, used;
		const uint8_t *p = data;
		data += n;
		len -= n;
		while (n > 0) {
			int rc = orpc_rm_feed(&rm, p, n, &used);
			if (used > n)
				abort();
			p += used;
			n -= used;
			if (rc < 0)
				goto out;
			if (rc == 1) {
				uint32_t rlen;
				uint8_t *rec = orpc_rm_take(&rm, &rlen);
				if (rlen > rm.max_record)
					abort();
				serve(rec, rlen);
				free(rec);
			} else if (n > 0) {
				abort();   /* 0 means everything was consumed */
			}
		}
	}
out:
	orpc_rm_reset(&rm);
	return 0;
}
