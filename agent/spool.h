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
 * calls under its own mutex, except spool_read() and spool_sync_run(), which touch no
 * shared state.
 *
 * Durability comes in two steps. A written and renamed file survives a SIGKILL of
 * podprof (the kernel holds its pages), which is all a profile needs while Coroot
 * takes it within moments. Surviving a crash of the node needs an fsync, which costs
 * a disk flush: spool_sync_take/run/done make the files written since the last sync
 * durable (each file's data, then the directory's entries) in a batch, with the
 * expensive part outside the caller's lock.
 */
#ifndef PODPROF_SPOOL_H
#define PODPROF_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

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

/* A spool file on its way: its header, size and name, then its room, then the file. */
struct spool_written {
	uint64_t seq;
	uint64_t size;
	char name[64];
	struct buf header;
};

/*
 * Formats the header of it's spool file into *w (free it with spool_written_free)
 * and computes the file's size and name. Touches no spool state (thread-safe).
 * Returns 0, -EFBIG when the item alone exceeds the bound, or -ENOMEM.
 */
int spool_prepare(struct spool *s, const struct upload_item *it, struct spool_written *w);
void spool_written_free(struct spool_written *w);

/*
 * Takes room for the file of w before it is written, deleting the oldest files first
 * as the bound needs (one in flight is deleted by spool_release unless it was
 * delivered), so that the directory never holds more than the bound. Returns how many
 * were deleted (counted by the caller). Every reservation ends in spool_add or
 * spool_unreserve.
 */
size_t spool_reserve(struct spool *s, const struct spool_written *w);
void spool_unreserve(struct spool *s, const struct spool_written *w);

/*
 * Writes it as the spool file of w (temporary name, then renamed; not synced) without
 * touching the spool's state: producers write without the uploader's lock. Returns 0,
 * or a negative errno from the file system (logged at most once a minute; the caller
 * then calls spool_unreserve).
 */
int spool_write(struct spool *s, const struct upload_item *it, const struct spool_written *w);

/*
 * Indexes the file spool_write wrote, in place of its reservation. Returns 0, or
 * -ENOMEM (the file is then deleted: an unindexed file would never be sent in this
 * run).
 */
int spool_add(struct spool *s, const struct spool_written *w);

/*
 * spool_prepare + reserve + write + add, under the caller's lock: writes it as a spool
 * file (it stays the caller's), not yet synced. To stay within the bound, the
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

/* Files written (or found at open) and not yet synced. */
size_t spool_unsynced(const struct spool *s);

/* A batch of files to make durable. */
struct spool_sync;

/*
 * Takes up to a few thousand of the files not yet synced, oldest first, into a new
 * batch (*out, NULL when there are none). Returns 0 or -ENOMEM. The batch is the
 * caller's until spool_sync_done.
 */
int spool_sync_take(struct spool *s, struct spool_sync **out);

/*
 * fdatasyncs every file of the batch (one deleted meanwhile, delivered or evicted, is
 * skipped), then fsyncs the directory so that their names are durable too. Touches no
 * spool state: call it without the uploader's lock. Returns 0 or the first negative
 * errno (logged at most once a minute).
 */
int spool_sync_run(struct spool_sync *b);

/* Marks the batch's files that still exist synced (also after a failed run: an fsync
 * that failed is not retried, since Linux may report a lost write only once) and
 * frees the batch. NULL is ignored. */
void spool_sync_done(struct spool *s, struct spool_sync *b);

/* take + run + done at once, under the caller's lock (at stop). Returns 0 or the
 * first negative errno. */
int spool_sync(struct spool *s);

#endif
