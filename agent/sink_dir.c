/*
 * The directory sink (see sink_dir.h). The sequence number in a file name comes from
 * an atomic counter, so concurrent producers never share a temporary file; a name
 * left by an earlier run is never replaced (RENAME_NOREPLACE), the counter just moves
 * on.
 */
#define LOG_MODULE "uploader"
#include "sink_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "upload_item.h"

#define SINK_DIR_PATH_MAX UPLOAD_PATH_MAX
#define SINK_DIR_NAME_ATTEMPTS 1000

struct sink_dir {
	char *dir;
	_Atomic uint64_t seq;
	struct log_ratelimit rl;
};

int sink_dir_new(const char *dir, struct sink_dir **out)
{
	struct sink_dir *d;
	int r = -ENOMEM;

	d = calloc(1, sizeof(*d));
	if (!d)
		goto fail;
	d->dir = strdup(dir);
	if (!d->dir)
		goto fail;
	r = upload_make_dirs(dir, 0755);
	if (r) {
		log_error("cannot create the output directory %s: %s", dir, strerror(-r));
		goto fail;
	}
	*out = d;
	return 0;
fail:
	sink_dir_free(d);
	return r;
}

void sink_dir_free(struct sink_dir *d)
{
	if (!d)
		return;
	free(d->dir);
	free(d);
}

void sink_dir_service_name(const char *service, char *out, size_t outlen)
{
	char full[4 * SINK_DIR_SERVICE_MAX];
	size_t n, limit = outlen - 1 < SINK_DIR_SERVICE_MAX ? outlen - 1 : SINK_DIR_SERVICE_MAX;

	n = upload_sanitize_name(service ? service : "", full, sizeof(full));
	if (n == 0) {
		snprintf(out, outlen, "unknown");
		return;
	}
	if (n > limit || strlen(service) >= sizeof(full) - 1) {
		/* cut, but keep names that differ only at the end apart */
		unsigned long long h = (unsigned long long)hash64(service, strlen(service), 0);
		size_t keep = limit > 9 ? limit - 9 : 0;

		if (keep > n)
			keep = n;
		snprintf(out, outlen, "%.*s-%08llx", (int)keep, full, h & 0xffffffffULL);
		return;
	}
	memcpy(out, full, n + 1);
}

/* Renames tmp to path unless path exists: 0, -EEXIST or another negative errno. */
static int rename_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* a file system without RENAME_NOREPLACE: check, then rename */
	if (access(path, F_OK) == 0)
		return -EEXIST;
	return rename(tmp, path) == 0 ? 0 : -errno;
}

int sink_dir_write(struct sink_dir *d, const char *service, const char *kind,
		   int64_t time_ns, const void *body, size_t len)
{
	char svc[SINK_DIR_SERVICE_MAX + 1], k[UPLOAD_KIND_MAX], ts[32], sub[SINK_DIR_PATH_MAX];
	char path[SINK_DIR_PATH_MAX], tmp[SINK_DIR_PATH_MAX];
	time_t t = (time_t)(time_ns / NS_PER_SEC);
	struct tm tm;
	int fd = -1, r, n;

	sink_dir_service_name(service, svc, sizeof(svc));
	if (!kind || upload_sanitize_name(kind, k, sizeof(k)) == 0)
		snprintf(k, sizeof(k), "profile");
	gmtime_r(&t, &tm);
	n = (int)strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	snprintf(ts + n, sizeof(ts) - (size_t)n, ".%03dZ", (int)(time_ns % NS_PER_SEC / NS_PER_MS));
	n = snprintf(sub, sizeof(sub), "%s/%s", d->dir, svc);
	r = -ENAMETOOLONG;
	if (n < 0 || (size_t)n >= sizeof(sub))
		goto out;
	if (mkdir(sub, 0755) != 0 && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	for (int attempt = 0; attempt < SINK_DIR_NAME_ATTEMPTS; attempt++) {
		uint64_t seq = atomic_fetch_add(&d->seq, 1);

		n = snprintf(path, sizeof(path), "%s/%s-%s-%06" PRIu64 ".pb.gz", sub, ts, k, seq);
		r = -ENAMETOOLONG;
		if (n < 0 || (size_t)n >= sizeof(path))
			goto out;
		n = snprintf(tmp, sizeof(tmp), "%s/.%s-%s-%06" PRIu64 ".tmp", sub, ts, k, seq);
		if (n < 0 || (size_t)n >= sizeof(tmp))
			goto out;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0) {
			r = -errno;
			if (r == -EEXIST)
				continue;
			goto out;
		}
		r = upload_write_all(fd, body, len);
		if (close(fd) != 0 && !r)
			r = -errno;
		fd = -1;
		if (!r)
			r = rename_noreplace(tmp, path);
		if (r)
			unlink(tmp);
		if (r != -EEXIST)
			goto out;
	}
out:
	if (r && log_ratelimit_allow(&d->rl, 60 * NS_PER_SEC))
		log_error("cannot write a profile of %s under %s: %s", svc, d->dir, strerror(-r));
	return r;
}
