/*
 * Spool files written by someone else (a hostile user with access to the spool
 * directory, a torn disk): the input is a file under a spool name in a spool
 * directory. It is read alone (spool_read), then the directory is opened and indexed
 * (spool_open), its oldest file taken, read, released and trimmed, as the uploader
 * does after a restart. A file that reads is written to a second spool (spool_put)
 * and read back. Properties: an item that reads has the sequence of its name, a
 * sanitised kind and a NUL-terminated query without newlines; the index holds at most
 * that file, and the next sequence is past its name's; the round trip keeps sequence,
 * kind, query and body.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "spool.h"
#include "upload_item.h"

#define NAME "00000000000000000042-20240101T000000Z.spool"
#define SEQ 42

static char dir[512], dir2[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(dir, sizeof(dir), "%s/spool", fuzz_tmpdir());
	snprintf(dir2, sizeof(dir2), "%s/spool2", fuzz_tmpdir());
	FUZZ_CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
	FUZZ_CHECK(mkdir(dir2, 0700) == 0 || errno == EEXIST);
	return 0;
}

static void check_item(const struct upload_item *it)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789._-";

	FUZZ_CHECK(it->seq == SEQ);
	FUZZ_CHECK(it->kind[0] && strlen(it->kind) < UPLOAD_KIND_MAX &&
		   strspn(it->kind, allowed) == strlen(it->kind));
	FUZZ_CHECK(it->query_len <= UPLOAD_QUERY_MAX && it->query[it->query_len] == '\0');
	FUZZ_CHECK(!memchr(it->query, '\n', it->query_len) && it->len <= UPLOAD_BODY_MAX);
}

static void roundtrip(const struct upload_item *it)
{
	struct spool *s;
	struct upload_item *back = NULL;
	char path[4096];
	uint64_t seq;
	size_t dropped;

	FUZZ_CHECK(spool_open(dir2, UINT64_MAX, &s) == 0);
	FUZZ_CHECK(spool_put(s, it, &dropped) == 0 && dropped == 0);
	FUZZ_CHECK(spool_count(s) == 1 && spool_oldest_seq(s) == SEQ);
	FUZZ_CHECK(spool_take_oldest(s, path, sizeof(path), &seq) == 0 && seq == SEQ);
	FUZZ_CHECK(spool_read(path, &back) == 0);
	FUZZ_CHECK(back->seq == it->seq && strcmp(back->kind, it->kind) == 0);
	FUZZ_CHECK(back->query_len == it->query_len &&
		   memcmp(back->query, it->query, it->query_len) == 0);
	FUZZ_CHECK(back->len == it->len && memcmp(back->body, it->body, it->len) == 0);
	FUZZ_CHECK(it->time_ns < 0 || back->time_ns == it->time_ns);
	upload_item_free(back);
	FUZZ_CHECK(spool_remove(s, seq) == 0 && spool_count(s) == 0);
	spool_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upload_item *it = NULL;
	struct spool *s;
	char path[1024], taken[4096];
	uint64_t seq;
	int r;

	FUZZ_CHECK(fuzz_write_file("spool/" NAME, data, size, path, sizeof(path)) == 0);
	r = spool_read(path, &it);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r == 0) {
		check_item(it);
		roundtrip(it);
		upload_item_free(it);
		it = NULL;
	}
	/* the directory, as found at start */
	FUZZ_CHECK(spool_open(dir, 1 << 20, &s) == 0);
	FUZZ_CHECK(spool_count(s) <= 1 && spool_next_seq(s) == SEQ + 1);
	if (spool_take_oldest(s, taken, sizeof(taken), &seq) == 0) {
		FUZZ_CHECK(seq == SEQ);
		/* the index checks the header; reading checks the body too: same answer */
		FUZZ_CHECK(spool_read(taken, &it) == r);
		if (it)
			check_item(it);
		upload_item_free(it);
		FUZZ_CHECK(spool_release(s, seq) == 0);
	}
	(void)spool_trim(s);
	FUZZ_CHECK(spool_bytes(s) <= 1 << 20);
	spool_close(s);
	unlink(path);
	return 0;
}
