/*
 * The on-disk spool (see spool.h for the contract and the file layout).
 *
 * The index of files lives in memory, oldest first, so that choosing what to send or
 * what to delete never lists the directory again; it is built once at open from the
 * directory and then kept in step with every write and delete. The header is text so
 * that a person can look at a spool file with `head` and see what it is:
 *
 *   podprof-spool 1
 *   seq 00000000000000000042
 *   time 1700000000000000000
 *   kind heap
 *   query service.name=%2Fk8s%2Fdefault%2Fapi&pod=api-1
 *   body 12345 1a2b3c4d
 *   <empty line>
 *   <body bytes>
 */
#define LOG_MODULE "spool"
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "upload_item.h"

#define SPOOL_MAGIC "podprof-spool 1\n"
#define SPOOL_HEADER_MAX (UPLOAD_QUERY_MAX + 512)
#define SPOOL_MAX_FILES 100000
#define SPOOL_SUFFIX ".spool"
#define SPOOL_TMP_SUFFIX ".tmp"
/* "<20 digits>-YYYYmmddTHHMMSSZ.spool" */
#define SPOOL_NAME_LEN (20 + 1 + 16 + sizeof(SPOOL_SUFFIX) - 1)
#define SPOOL_PATH_MAX UPLOAD_PATH_MAX
_Static_assert(sizeof(((struct spool_written *)0)->name) > SPOOL_NAME_LEN,
	       "struct spool_written holds a spool file name");

struct spool_file {
	struct list_node node;
	uint64_t seq;
	uint64_t size;
	int inflight;
	int doomed; /* in flight while the bound needed its room: deleted unless sent */
	int synced; /* fdatasync'd (and its directory entry) since it was written */
	char name[SPOOL_NAME_LEN + 1];
};

struct spool {
	char *dir;
	int lock_fd;
	uint64_t max_bytes;
	uint64_t bytes;
	size_t count;
	uint64_t doomed_bytes; /* of the doomed file, counted as gone by the bound */
	size_t doomed_count;
	uint64_t reserved_bytes; /* room taken for files being written (spool_reserve) */
	size_t reserved_count;
	uint64_t next_seq;
	size_t unsynced;        /* files with synced == 0 */
	struct list_node files; /* oldest first */
	struct log_ratelimit rl_write;
};

/* At most this many files per sync batch: a long outage's backlog is synced in a
 * few rounds, each holding a bounded list. */
#define SPOOL_SYNC_BATCH 4096

struct spool_sync {
	char *dir;
	size_t n;
	struct spool_sync_file {
		uint64_t seq;
		char name[SPOOL_NAME_LEN + 1];
	} files[]; /* n of them */
};

static struct log_ratelimit rl_sync;

struct header {
	uint64_t seq;
	int64_t time_ns;
	char kind[UPLOAD_KIND_MAX];
	const char *query; /* points into the parsed text */
	size_t query_len;
	uint64_t body_len;
	unsigned long crc;
	size_t len; /* bytes of header, blank line included */
};

static int is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Recognises a spool file name and returns its sequence. */
static int parse_name(const char *name, uint64_t *seq)
{
	if (strlen(name) != SPOOL_NAME_LEN || !is_digits(name, 20) || name[20] != '-' ||
	    !is_digits(name + 21, 8) || name[29] != 'T' || !is_digits(name + 30, 6) ||
	    name[36] != 'Z' || strcmp(name + 37, SPOOL_SUFFIX) != 0)
		return -EINVAL;
	*seq = strtoull(name, NULL, 10);
	return 0;
}

static int format_name(uint64_t seq, int64_t time_ns, char *out, size_t outlen)
{
	/* the name has a fixed width: keep the year within four digits */
	time_t t = (time_t)(time_ns < 0 ? 0 : time_ns / NS_PER_SEC % INT64_C(253402300800));
	struct tm tm;
	char ts[24];
	int n;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	n = snprintf(out, outlen, "%020" PRIu64 "-%s" SPOOL_SUFFIX, seq, ts);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* Returns the line starting at *p (without its newline) and advances *p past it. */
static int next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (!nl)
		return -EBADMSG;
	*line = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return 0;
}

/* Parses "<key> <rest>" and returns rest. */
static int field(const char **p, const char *end, const char *key, const char **val,
		 size_t *vlen)
{
	size_t klen = strlen(key), len;
	const char *line;

	if (next_line(p, end, &line, &len) || len <= klen || memcmp(line, key, klen) != 0 ||
	    line[klen] != ' ')
		return -EBADMSG;
	*val = line + klen + 1;
	*vlen = len - klen - 1;
	return 0;
}

static int field_u64(const char **p, const char *end, const char *key, uint64_t *out)
{
	const char *v;
	size_t n;

	if (field(p, end, key, &v, &n) || n == 0 || n > 20 || !is_digits(v, n))
		return -EBADMSG;
	*out = strtoull(v, NULL, 10);
	return 0;
}

/* Parses the header at the start of data (n bytes available). */
static int parse_header(const char *data, size_t n, struct header *h)
{
	const char *p = data, *end = data + (n < SPOOL_HEADER_MAX ? n : SPOOL_HEADER_MAX);
	const char *v, *line;
	size_t vlen, len;
	uint64_t t;
	char tail[32];

	if (n < sizeof(SPOOL_MAGIC) - 1 || memcmp(data, SPOOL_MAGIC, sizeof(SPOOL_MAGIC) - 1))
		return -EBADMSG;
	p += sizeof(SPOOL_MAGIC) - 1;
	if (field_u64(&p, end, "seq", &h->seq) || field_u64(&p, end, "time", &t))
		return -EBADMSG;
	h->time_ns = (int64_t)t;
	if (field(&p, end, "kind", &v, &vlen) || vlen >= sizeof(h->kind))
		return -EBADMSG;
	memcpy(h->kind, v, vlen);
	h->kind[vlen] = '\0';
	if (field(&p, end, "query", &h->query, &h->query_len) ||
	    h->query_len > UPLOAD_QUERY_MAX)
		return -EBADMSG;
	if (field(&p, end, "body", &v, &vlen) || vlen >= sizeof(tail))
		return -EBADMSG;
	memcpy(tail, v, vlen);
	tail[vlen] = '\0';
	if (sscanf(tail, "%" SCNu64 " %lx", &h->body_len, &h->crc) != 2 ||
	    h->body_len > UPLOAD_BODY_MAX)
		return -EBADMSG;
	if (next_line(&p, end, &line, &len) || len != 0)
		return -EBADMSG;
	h->len = (size_t)(p - data);
	return 0;
}

/*
 * Opens path and parses its header into h; data (SPOOL_HEADER_MAX bytes) receives the
 * first bytes of the file and *got how many. On success returns the open descriptor
 * (positioned after what was read) and the file size in *size.
 */
static int open_header(const char *path, char *data, size_t *got, struct header *h,
		       uint64_t *size, const char **why)
{
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*why = strerror(errno);
		return -errno;
	}
	r = -EBADMSG;
	*why = "not a regular file";
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto fail;
	n = upload_read_all(fd, data, SPOOL_HEADER_MAX);
	*why = "unreadable";
	if (n < 0) {
		r = (int)n;
		goto fail;
	}
	*why = "bad header";
	if (parse_header(data, (size_t)n, h) != 0)
		goto fail;
	*why = "size does not match the header";
	if ((uint64_t)st.st_size != h->len + h->body_len)
		goto fail;
	*got = (size_t)n;
	*size = (uint64_t)st.st_size;
	return fd;
fail:
	close(fd);
	return r;
}

int spool_read(const char *path, struct upload_item **out)
{
	struct upload_item *it = NULL;
	struct header h;
	const char *why = "", *name;
	uint64_t seq;
	char *data;
	size_t got = 0, have;
	uint64_t size;
	ssize_t n;
	int fd = -1, r = -ENOMEM;

	data = malloc(SPOOL_HEADER_MAX);
	if (!data)
		goto out;
	fd = open_header(path, data, &got, &h, &size, &why);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	/* the uploader settles the file by the item's sequence: it must be the name's (a
	 * file renamed or replaced since the index was built could name another one) */
	name = strrchr(path, '/');
	why = "its header says another sequence than its name";
	r = -EBADMSG;
	if (parse_name(name ? name + 1 : path, &seq) != 0 || seq != h.seq)
		goto out;
	r = -ENOMEM;
	it = upload_item_new(h.seq, h.time_ns, h.kind, h.query, h.query_len, NULL,
			     (size_t)h.body_len);
	if (!it)
		goto out;
	have = got - h.len;
	why = "longer than its header says";
	r = -EBADMSG;
	if (have > it->len) /* it grew since open_header looked at its size */
		goto out;
	memcpy(it->body, data + h.len, have);
	n = upload_read_all(fd, it->body + have, it->len - have);
	r = n < 0 ? (int)n : -EBADMSG;
	why = "truncated";
	if (n < 0 || (size_t)n != it->len - have)
		goto out;
	why = "checksum mismatch";
	if (crc32(0L, it->body, (uInt)it->len) != h.crc)
		goto out;
	*out = it;
	it = NULL;
	r = 0;
out:
	if (r && r != -ENOMEM)
		log_warn("skipping spool file %s: %s", path, why);
	if (fd >= 0)
		close(fd);
	upload_item_free(it);
	free(data);
	return r;
}

static int cmp_seq(const void *a, const void *b)
{
	const struct spool_file *fa = *(struct spool_file *const *)a;
	const struct spool_file *fb = *(struct spool_file *const *)b;

	return fa->seq < fb->seq ? -1 : fa->seq > fb->seq;
}

static int path_of(const struct spool *s, const char *name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", s->dir, name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* Looks at one directory entry during the scan; adds spool files to *arr. */
static int scan_entry(struct spool *s, const char *name, char *hdr,
		      struct spool_file ***arr, size_t *n, size_t *cap)
{
	char path[SPOOL_PATH_MAX];
	struct spool_file *f;
	struct header h;
	const char *why;
	uint64_t seq, size;
	size_t got, nlen = strlen(name);
	int fd;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, ".lock") == 0)
		return 0;
	if (path_of(s, name, path, sizeof(path)))
		return 0;
	if (name[0] == '.' && nlen == SPOOL_NAME_LEN + 1 + sizeof(SPOOL_TMP_SUFFIX) - 1 &&
	    strcmp(name + 1 + SPOOL_NAME_LEN, SPOOL_TMP_SUFFIX) == 0) {
		char base[SPOOL_NAME_LEN + 1];

		memcpy(base, name + 1, SPOOL_NAME_LEN);
		base[SPOOL_NAME_LEN] = '\0';
		if (parse_name(base, &seq) != 0)
			goto foreign;
		/* a write interrupted by a crash: never renamed, so never complete */
		if (unlink(path) == 0)
			log_info("removed the unfinished spool file %s", path);
		return 0;
	}
	if (parse_name(name, &seq) != 0)
		goto foreign;
	/* even a corrupt file's sequence is taken: a new file must never replace it */
	if (seq >= s->next_seq)
		s->next_seq = seq + 1;
	fd = open_header(path, hdr, &got, &h, &size, &why);
	if (fd < 0) {
		log_warn("ignoring spool file %s: %s", path, why);
		return 0;
	}
	close(fd);
	if (h.seq != seq) {
		log_warn("ignoring spool file %s: its header says sequence %" PRIu64, path, h.seq);
		return 0;
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct spool_file **na = realloc(*arr, ncap * sizeof(*na));
		if (!na)
			return -ENOMEM;
		*arr = na;
		*cap = ncap;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->seq = seq;
	f->size = size;
	memcpy(f->name, name, SPOOL_NAME_LEN + 1);
	(*arr)[(*n)++] = f;
	return 0;
foreign:
	log_warn("ignoring %s: not a spool file", path);
	return 0;
}

static int scan(struct spool *s)
{
	struct spool_file **arr = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	char *hdr = NULL;
	DIR *d = NULL;
	int r = -ENOMEM;

	hdr = malloc(SPOOL_HEADER_MAX);
	if (!hdr)
		goto out;
	d = opendir(s->dir);
	if (!d) {
		r = -errno;
		log_error("cannot list the spool directory %s: %s", s->dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		r = scan_entry(s, de->d_name, hdr, &arr, &n, &cap);
		if (r)
			goto out;
	}
	if (n)
		qsort(arr, n, sizeof(arr[0]), cmp_seq);
	for (size_t i = 0; i < n; i++) {
		list_push_back(&s->files, &arr[i]->node);
		s->bytes += arr[i]->size;
		s->count++;
		/* an earlier run may have been killed before it synced them */
		s->unsynced++;
		arr[i] = NULL;
	}
	r = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
	free(hdr);
	if (d)
		closedir(d);
	return r;
}

int spool_open(const char *dir, uint64_t max_bytes, struct spool **out)
{
	struct spool *s;
	char path[SPOOL_PATH_MAX];
	int r = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->lock_fd = -1;
	s->max_bytes = max_bytes;
	s->next_seq = 1;
	list_init(&s->files);
	s->dir = strdup(dir);
	if (!s->dir)
		goto fail;
	r = upload_make_dirs(dir, 0700); /* profiles may be private: owner only */
	if (r) {
		log_error("cannot create the spool directory %s: %s", dir, strerror(-r));
		goto fail;
	}
	r = path_of(s, ".lock", path, sizeof(path));
	if (r) {
		log_error("spool directory path too long: %s", dir);
		goto fail;
	}
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		r = -errno;
		log_error("cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		log_error("the spool directory %s is in use by another podprof process", dir);
		goto fail;
	}
	r = scan(s);
	if (r)
		goto fail;
	*out = s;
	return 0;
fail:
	spool_close(s);
	return r;
}

void spool_close(struct spool *s)
{
	struct list_node *pos, *tmp;

	if (!s)
		return;
	list_for_each_safe(pos, tmp, &s->files)
		free(list_entry(pos, struct spool_file, node));
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	free(s->dir);
	free(s);
}

uint64_t spool_next_seq(const struct spool *s)
{
	return s->next_seq;
}

size_t spool_count(const struct spool *s)
{
	return s->count;
}

uint64_t spool_bytes(const struct spool *s)
{
	return s->bytes;
}

static struct spool_file *oldest_idle(const struct spool *s)
{
	for (struct list_node *n = s->files.next; n != &s->files; n = n->next) {
		struct spool_file *f = list_entry(n, struct spool_file, node);
		if (!f->inflight)
			return f;
	}
	return NULL;
}

static void forget(struct spool *s, struct spool_file *f)
{
	if (f->doomed) {
		s->doomed_bytes -= f->size;
		s->doomed_count--;
	}
	if (!f->synced)
		s->unsynced--;
	list_remove(&f->node);
	s->bytes -= f->size;
	s->count--;
	free(f);
}

static void delete_file(struct spool *s, struct spool_file *f)
{
	char path[SPOOL_PATH_MAX];

	if (path_of(s, f->name, path, sizeof(path)) == 0 && unlink(path) != 0 &&
	    errno != ENOENT)
		log_warn("cannot delete the spool file %s: %s", path, strerror(errno));
	forget(s, f);
}

/*
 * Deletes the oldest files until need more bytes and one more file fit. The oldest
 * may be in flight: it cannot be deleted under the sender, so it is doomed instead
 * (its room counts as free, and spool_release deletes it unless it was delivered).
 * That way exactly the oldest go, whatever the sender is doing.
 */
static size_t make_room(struct spool *s, uint64_t need)
{
	size_t dropped = 0;

	while (s->bytes - s->doomed_bytes + s->reserved_bytes + need > s->max_bytes ||
	       s->count - s->doomed_count + s->reserved_count + (need ? 1 : 0) >
		       SPOOL_MAX_FILES) {
		struct spool_file *f = NULL;

		for (struct list_node *n = s->files.next; n != &s->files && !f; n = n->next) {
			f = list_entry(n, struct spool_file, node);
			if (f->doomed)
				f = NULL;
		}
		if (!f)
			break;
		if (f->inflight) {
			f->doomed = 1;
			s->doomed_bytes += f->size;
			s->doomed_count++;
			continue;
		}
		delete_file(s, f);
		dropped++;
	}
	return dropped;
}

size_t spool_trim(struct spool *s)
{
	return make_room(s, 0);
}

/* Writes the header and body of it to a new file at path. */
static int write_file(const char *path, const struct upload_item *it, const char *hdr,
		      size_t hlen)
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = upload_write_all(fd, hdr, hlen);
	if (!r)
		r = upload_write_all(fd, it->body, it->len);
	/* no fsync here: the rename makes a complete file visible, which survives a
	 * SIGKILL of podprof; spool_sync makes it survive the node (see spool.h) */
	if (close(fd) != 0 && !r)
		r = -errno;
	return r;
}

int spool_prepare(struct spool *s, const struct upload_item *it, struct spool_written *w)
{
	int r;

	memset(w, 0, sizeof(*w));
	buf_init(&w->header, SPOOL_HEADER_MAX);
	/* fixed-width numbers: a file's size depends on its content only */
	r = buf_printf(&w->header, SPOOL_MAGIC "seq %020" PRIu64 "\ntime %019" PRId64 "\nkind %s\n",
		       it->seq, it->time_ns < 0 ? 0 : it->time_ns, it->kind);
	if (!r)
		r = buf_append_str(&w->header, "query ");
	if (!r)
		r = buf_append(&w->header, it->query, it->query_len);
	if (!r)
		r = buf_printf(&w->header, "\nbody %zu %08lx\n\n", it->len,
			       crc32(0L, it->body, (uInt)it->len));
	if (!r)
		r = format_name(it->seq, it->time_ns, w->name, sizeof(w->name));
	if (r)
		goto fail;
	w->seq = it->seq;
	w->size = w->header.len + it->len;
	/* s->max_bytes never changes after spool_open: read without a lock */
	if (w->size > s->max_bytes) {
		r = -EFBIG;
		goto fail;
	}
	return 0;
fail:
	spool_written_free(w);
	return r;
}

void spool_written_free(struct spool_written *w)
{
	buf_free(&w->header);
}

size_t spool_reserve(struct spool *s, const struct spool_written *w)
{
	size_t dropped = make_room(s, w->size);

	s->reserved_bytes += w->size;
	s->reserved_count++;
	return dropped;
}

void spool_unreserve(struct spool *s, const struct spool_written *w)
{
	s->reserved_bytes -= w->size;
	s->reserved_count--;
}

int spool_write(struct spool *s, const struct upload_item *it, const struct spool_written *w)
{
	char path[SPOOL_PATH_MAX], tmp[SPOOL_PATH_MAX];
	int r;

	/* s->dir never changes after spool_open and rl_write is atomic: nothing here
	 * needs the caller's lock */
	r = path_of(s, w->name, path, sizeof(path));
	if (!r) {
		int n = snprintf(tmp, sizeof(tmp), "%s/.%s" SPOOL_TMP_SUFFIX, s->dir, w->name);
		r = n < 0 || (size_t)n >= sizeof(tmp) ? -ENAMETOOLONG : 0;
	}
	if (r)
		return r;
	r = write_file(tmp, it, w->header.data, w->header.len);
	if (!r && rename(tmp, path) != 0)
		r = -errno;
	if (r) {
		/* a full disk fails every write: say it once a minute (drops are counted) */
		if (log_ratelimit_allow(&s->rl_write, 60 * NS_PER_SEC))
			log_error("cannot write the spool file %s: %s", path, strerror(-r));
		unlink(tmp);
	}
	return r;
}

int spool_add(struct spool *s, const struct spool_written *w)
{
	struct spool_file *f = calloc(1, sizeof(*f));
	struct list_node *pos;

	spool_unreserve(s, w);
	if (!f) {
		char path[SPOOL_PATH_MAX];
		/* not indexed, it would never be sent; the next start would find it */
		if (path_of(s, w->name, path, sizeof(path)) == 0)
			unlink(path);
		return -ENOMEM;
	}
	f->seq = w->seq;
	f->size = w->size;
	memcpy(f->name, w->name, sizeof(f->name));
	if (w->seq >= s->next_seq)
		s->next_seq = w->seq + 1;
	/* normally the newest; one written beside another producer's, or one that was in
	 * flight while newer ones overflowed, is older than some: its place from the tail */
	for (pos = s->files.prev; pos != &s->files; pos = pos->prev)
		if (list_entry(pos, struct spool_file, node)->seq < f->seq)
			break;
	list_insert_before(pos->next, &f->node);
	s->bytes += w->size;
	s->count++;
	s->unsynced++;
	return 0;
}

int spool_put(struct spool *s, const struct upload_item *it, size_t *dropped)
{
	struct spool_written w;
	int r;

	*dropped = 0;
	r = spool_prepare(s, it, &w);
	if (r)
		return r;
	*dropped = spool_reserve(s, &w);
	r = spool_write(s, it, &w);
	if (r)
		spool_unreserve(s, &w);
	else
		r = spool_add(s, &w);
	spool_written_free(&w);
	return r;
}

uint64_t spool_oldest_seq(const struct spool *s)
{
	const struct spool_file *f = oldest_idle(s);

	return f ? f->seq : UINT64_MAX;
}

int spool_take_oldest(struct spool *s, char *path, size_t pathlen, uint64_t *seq)
{
	struct spool_file *f = oldest_idle(s);

	if (!f)
		return -ENOENT;
	if (path_of(s, f->name, path, pathlen) != 0)
		return -ENAMETOOLONG;
	f->inflight = 1;
	*seq = f->seq;
	return 0;
}

static struct spool_file *find(const struct spool *s, uint64_t seq)
{
	for (struct list_node *n = s->files.next; n != &s->files; n = n->next) {
		struct spool_file *f = list_entry(n, struct spool_file, node);
		if (f->seq == seq)
			return f;
	}
	return NULL;
}

int spool_release(struct spool *s, uint64_t seq)
{
	struct spool_file *f = find(s, seq);

	if (!f)
		return 0;
	f->inflight = 0;
	if (!f->doomed)
		return 0;
	delete_file(s, f);
	return 1;
}

int spool_remove(struct spool *s, uint64_t seq)
{
	struct spool_file *f = find(s, seq);

	if (!f)
		return -ENOENT;
	delete_file(s, f);
	return 0;
}

size_t spool_unsynced(const struct spool *s)
{
	return s->unsynced;
}

int spool_sync_take(struct spool *s, struct spool_sync **out)
{
	size_t max = s->unsynced < SPOOL_SYNC_BATCH ? s->unsynced : SPOOL_SYNC_BATCH;
	struct spool_sync *b;

	*out = NULL;
	if (!max)
		return 0;
	b = calloc(1, sizeof(*b) + max * sizeof(b->files[0]));
	if (!b || !(b->dir = strdup(s->dir))) {
		free(b);
		return -ENOMEM;
	}
	for (struct list_node *n = s->files.next; n != &s->files && b->n < max; n = n->next) {
		const struct spool_file *f = list_entry(n, struct spool_file, node);
		if (f->synced)
			continue;
		b->files[b->n].seq = f->seq;
		memcpy(b->files[b->n].name, f->name, sizeof(b->files[0].name));
		b->n++;
	}
	*out = b;
	return 0;
}

/* fsync (data only when datasync) of the file at path; a missing file is no error. */
static int sync_path(const char *path, int flags, int datasync)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if ((datasync ? fdatasync(fd) : fsync(fd)) != 0)
		r = -errno;
	close(fd);
	return r;
}

int spool_sync_run(struct spool_sync *b)
{
	char path[SPOOL_PATH_MAX];
	const char *what = b->dir;
	int r = 0, e;

	for (size_t i = 0; i < b->n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", b->dir, b->files[i].name) >=
		    (int)sizeof(path))
			continue;
		e = sync_path(path, O_RDONLY, 1);
		if (e && !r) {
			r = e;
			what = b->files[i].name;
		}
	}
	/* the renames: the directory's entries */
	e = sync_path(b->dir, O_RDONLY | O_DIRECTORY, 0);
	if (e && !r)
		r = e;
	if (r && log_ratelimit_allow(&rl_sync, 60 * NS_PER_SEC))
		log_error("cannot sync the spool (%s): %s; its files may not survive a crash of "
			  "the node", what, strerror(-r));
	return r;
}

void spool_sync_done(struct spool *s, struct spool_sync *b)
{
	struct list_node *n;
	size_t i = 0;

	if (!b)
		return;
	/* both oldest first: one walk */
	for (n = s->files.next; n != &s->files && i < b->n; n = n->next) {
		struct spool_file *f = list_entry(n, struct spool_file, node);
		while (i < b->n && b->files[i].seq < f->seq)
			i++;
		if (i < b->n && b->files[i].seq == f->seq && !f->synced) {
			f->synced = 1;
			s->unsynced--;
		}
	}
	free(b->dir);
	free(b);
}

int spool_sync(struct spool *s)
{
	struct spool_sync *b;
	int r = 0, e;

	while (s->unsynced) {
		e = spool_sync_take(s, &b);
		if (e || !b)
			return e;
		e = spool_sync_run(b);
		if (e && !r)
			r = e;
		spool_sync_done(s, b);
	}
	return r;
}
