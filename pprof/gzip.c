/*
 * gzip with zlib (windowBits 15 + 16 selects the gzip wrapper). Decompression counts
 * every byte it produces against the caller's cap, so a few kilobytes of hostile input
 * that would inflate to gigabytes fail with -E2BIG after at most cap + one chunk of
 * work. Concatenated gzip members are read as one stream, like Go's gzip.Reader.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "pprof.h"

#define GZIP_CHUNK 65536
/* zlib counts input in uInt: hand it at most this much at a time. */
#define GZIP_MAX_FEED ((size_t)1 << 30)

int pprof_is_gzip(const void *data, size_t len)
{
	const unsigned char *p = data;

	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Undoes what a failed call appended to out. */
static void truncate_to(struct buf *out, size_t len)
{
	out->len = len;
	if (out->data)
		out->data[len] = '\0';
}

/* Gives z the next piece of input from *rest (*left bytes remain). */
static void feed(z_stream *z, const unsigned char **rest, size_t *left)
{
	size_t n;

	if (z->avail_in || !*left)
		return;
	n = *left < GZIP_MAX_FEED ? *left : GZIP_MAX_FEED;
	z->next_in = (Bytef *)(uintptr_t)*rest;
	z->avail_in = (uInt)n;
	*rest += n;
	*left -= n;
}

int pprof_gzip(const void *in, size_t len, struct buf *out)
{
	unsigned char chunk[GZIP_CHUNK];
	const unsigned char *rest = in;
	size_t left = len, start = out->len;
	z_stream z;
	int ret = -ENOMEM, zr;

	/* A zeroed stream is safe to deflateEnd() even when the init below fails. */
	memset(&z, 0, sizeof(z));
	/* Best speed, as runtime/pprof writes profiles: the agent's CPU matters more here
	 * than the last tenth of the upload's size. */
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		goto out;
	do {
		feed(&z, &rest, &left);
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, left || z.avail_in ? Z_NO_FLUSH : Z_FINISH);
		if (zr == Z_STREAM_ERROR)
			goto out;
		ret = buf_append(out, chunk, sizeof(chunk) - z.avail_out);
		if (ret)
			goto out;
	} while (zr != Z_STREAM_END);
	ret = 0;
out:
	deflateEnd(&z);
	if (ret)
		truncate_to(out, start);
	return ret;
}

/* The size the gzip trailer announces (of the last member, modulo 2^32), as a first
 * reservation: at most max_out, and at most what deflate's best ratio (1032:1) can
 * make of len bytes, so a lying trailer costs no more than honest input could. */
static size_t size_hint(const unsigned char *in, size_t len, size_t max_out)
{
	size_t hint;

	if (len < 18) /* header and trailer */
		return 0;
	hint = (size_t)in[len - 4] | (size_t)in[len - 3] << 8 | (size_t)in[len - 2] << 16 |
	       (size_t)in[len - 1] << 24;
	if (hint > max_out)
		hint = max_out;
	if (len < SIZE_MAX / 1032 && hint > len * 1032)
		hint = len * 1032;
	return hint;
}

/* want, but no more than allowed + 1 bytes (one past a cap shows it is exceeded) and
 * no more than out's own bound leaves. */
static size_t room_for(const struct buf *out, size_t want, size_t allowed)
{
	if (allowed < SIZE_MAX && want > allowed + 1)
		want = allowed + 1;
	if (want > out->max - out->len)
		want = out->max - out->len;
	return want;
}

int pprof_gunzip(const void *in, size_t len, size_t max_out, struct buf *out)
{
	const unsigned char *rest = in;
	size_t left = len, start = out->len, produced = 0;
	z_stream z;
	int ret = -ENOMEM, zr;

	memset(&z, 0, sizeof(z));
	if (!pprof_is_gzip(in, len)) {
		ret = -EBADMSG;
		goto out;
	}
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		goto out;
	/* Best effort, and one byte more than the hint, so that the call that reads the
	 * trailer has room: without it, out grows as inflate fills it. */
	(void)buf_reserve(out, room_for(out, size_hint(in, len, max_out) + 1, max_out));
	for (;;) {
		/* Inflate straight into out, never more than one byte past max_out: that
		 * byte shows the excess. With no room left under out's bound, one byte of
		 * spare shows whether anything more comes. */
		size_t allowed = max_out - produced, room, n;
		unsigned char spare;

		feed(&z, &rest, &left);
		room = out->data ? out->cap - out->len - 1 : 0;
		if (room == 0 && (room = room_for(out, GZIP_CHUNK, allowed)) != 0) {
			if ((ret = buf_reserve(out, room)))
				goto out;
			room = out->cap - out->len - 1;
		}
		room = room_for(out, room, allowed);
		if (room > UINT_MAX)
			room = UINT_MAX;
		z.next_out = room ? (Bytef *)out->data + out->len : &spare;
		z.avail_out = room ? (uInt)room : 1;
		zr = inflate(&z, Z_NO_FLUSH);
		n = (room ? room : 1) - z.avail_out;
		if (n > allowed || (n && !room)) {
			ret = -E2BIG;
			goto out;
		}
		out->len += n;
		if (out->data)
			out->data[out->len] = '\0';
		produced += n;
		if (zr == Z_STREAM_END) {
			feed(&z, &rest, &left);
			if (!z.avail_in)
				break;
			/* Another member follows, or garbage that Go's reader rejects too. */
			ret = -EBADMSG;
			if (!pprof_is_gzip(z.next_in, z.avail_in) || inflateReset(&z) != Z_OK)
				goto out;
			continue;
		}
		if (zr == Z_MEM_ERROR) {
			ret = -ENOMEM;
			goto out;
		}
		/* Z_BUF_ERROR with all input consumed: truncated; the rest: corrupt. */
		if (zr != Z_OK) {
			ret = -EBADMSG;
			goto out;
		}
	}
	ret = 0;
out:
	inflateEnd(&z);
	if (ret)
		truncate_to(out, start);
	return ret;
}
