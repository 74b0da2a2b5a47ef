/*
 * The on-disk spool: where queued profiles overflow while Coroot is unreachable, and
 * where the memory queue goes at shutdown, so that they survive a restart.
 *
 * One file per profile, named "<20-digit sequence>-<UTC time>.spool" so that the
 * names sort by age, holding a small text header (format version, sequence, time,
 * kind, query, body length and CRC-32) followed by the gzip pprof body. Files are
 * written to a hidden temporary name and renamed, so a crash never leaves a torn
 * file under a spool name. The directory is locked (flock on ".lock") by one
 * uploader at a time. Private to agent/; not thread-safe: the uploader serialises
 * calls under its own mutex, except spool_read(), which touches no shared state.
 */
#ifndef PODPROF_SPOOL_H
#define PODPROF_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;
struct upload_item;

/*
 * Opens dir (created if missing), locks it and indexes the spool files already there,
 * oldest first. Foreign and corrupt files are skipped with a warning (and left
 * alone); stale temporary files of an interrupted write are removed. Returns 0,
 * -EBUSY when another process holds the lock, or a negative errno (logged with the
 * path). The caller owns *out (spool_close).
 */
int spool_open(const char *dir, uint64_t max_bytes, struct spool **out);

/*
 * Deletes the oldest files (not in flight) until the spool is within its bounds (bytes
 * and number of files), e.g. after opening a spool written with a larger bound.
 * Returns how many were deleted.
 */
size_t spool_trim(struct spool *s);

/* Releases the lock and the index; the files stay. NULL is ignored. */
void spool_close(struct spool *s);

/* Sequence number following the newest file found at open (1 when none). */
uint64_t spool_next_seq(const struct spool *s);

size_t spool_count(const struct spool *s);
uint64_t spool_bytes(const struct spool *s);

/*
 * Writes it as a spool file (it stays the caller's). To stay within the bound, the
 * oldest files are deleted first (one in flight is deleted by spool_release unless it
 * was delivered); *dropped receives how many were deleted now (counted by the
 * caller). Returns 0, -EFBIG when the item alone exceeds the bound
 * (nothing is written or deleted), or a negative errno from the file system (logged).
 */
int spool_put(struct spool *s, const struct upload_item *it, size_t *dropped);

/*
 * Names the oldest file that is not in flight and marks it in flight: copies its file
 * path into path (pathlen bytes) and its sequence into *seq. Returns 0, or -ENOENT
 * when there is none.
 */
int spool_take_oldest(struct spool *s, char *path, size_t pathlen, uint64_t *seq);

/* Sequence of the oldest file not in flight, or UINT64_MAX when there is none. */
uint64_t spool_oldest_seq(const struct spool *s);

/*
 * Reads the spool file at path into a new item (the caller owns it). Verifies the
 * header (its sequence must be the one of the file's name), the length and the CRC.
 * Returns 0, -EBADMSG for a corrupt file (logged), or a negative errno. Touches nothing
 * shared: call it without the uploader's lock.
 */
int spool_read(const char *path, struct upload_item **out);

/* Ends the flight of seq (not delivered): the file goes back in the queue at its
 * place. Returns 1 when the bound needed its room meanwhile: the file is then deleted
 * and the caller counts it dropped; else 0. */
int spool_release(struct spool *s, uint64_t seq);

/* Deletes the file of seq (delivered, dropped or unreadable) and forgets it. Returns 0
 * or -ENOENT. */
int spool_remove(struct spool *s, uint64_t seq);

#endif
