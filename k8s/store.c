/*
 * The store (see store.h).
 *
 * Two chained hash tables keyed by (namespace, name): pods and ReplicaSets. Pods that
 * currently have a target are also on a list, so that a ReplicaSet whose owner changes
 * renames its pods' targets without a walk over every pod.
 *
 * Target changes are queued as events while the state lock is held and delivered once
 * it is released. A pod replaced by a new incarnation under the same name (a
 * StatefulSet's pod recreated) is a REMOVED then an ADDED, never an UPDATED: the
 * subscriber's per-target state belongs to a process that is gone.
 */
#define LOG_MODULE "k8s"
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "naming.h"
#include "target.h"

#define INITIAL_BUCKETS 1024

struct event {
	enum k8s_target_event ev;
	const struct k8s_target *target; /* a reference owned by the queue */
};

struct table {
	struct k8s_hentry **buckets;
	size_t nbuckets, count;
};

struct k8s_store {
	struct k8s_store_config cfg;
	pthread_mutex_t deliver_mu; /* recursive; taken before mu */
	pthread_mutex_t mu;
	struct table pods, rs;
	struct list_node with_target; /* pods whose target is not NULL */
	size_t ntargets;
	size_t model_bytes;
	uint32_t pod_gen, rs_gen;
	struct event *queue;
	size_t nqueue, queue_cap;
	int queue_failed; /* an event could not be queued (out of memory) */
};

/* ---- hash tables ------------------------------------------------------------------ */

static void entry_key(const struct k8s_store *s, const struct table *t,
		      const struct k8s_hentry *e, const char **ns, const char **name)
{
	if (t == &s->pods) {
		const struct k8s_pod *p = (const struct k8s_pod *)e;
		*ns = p->namespace;
		*name = p->name;
	} else {
		const struct k8s_replicaset *r = (const struct k8s_replicaset *)e;
		*ns = r->namespace;
		*name = r->name;
	}
}

static int table_init(struct table *t)
{
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	t->nbuckets = INITIAL_BUCKETS;
	t->count = 0;
	return t->buckets ? 0 : -ENOMEM;
}

static struct k8s_hentry **table_slot(struct k8s_store *s, struct table *t, uint64_t hash,
				      const char *ns, const char *name)
{
	struct k8s_hentry **pp = &t->buckets[hash & (t->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		const char *ens, *ename;
		if ((*pp)->hash != hash)
			continue;
		entry_key(s, t, *pp, &ens, &ename);
		if (strcmp(ens, ns) == 0 && strcmp(ename, name) == 0)
			break;
	}
	return pp;
}

/* Doubles the bucket array when the load passes 1 (best effort: a failed growth
 * only makes chains longer). */
static void table_grow(struct k8s_store *s, struct table *t)
{
	size_t n = t->nbuckets * 2;
	struct k8s_hentry **b;

	if (t->count <= t->nbuckets)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct k8s_hentry *e = t->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	s->model_bytes -= k8s_alloc_bytes(t->buckets);
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
	s->model_bytes += k8s_alloc_bytes(b);
}

/* ---- events ----------------------------------------------------------------------- */

/* Queues an event; takes the reference t. */
static void queue(struct k8s_store *s, enum k8s_target_event ev, const struct k8s_target *t)
{
	if (!s->cfg.on_target) {
		k8s_target_unref(t);
		return;
	}
	if (s->nqueue == s->queue_cap) {
		size_t cap = s->queue_cap ? s->queue_cap * 2 : 64;
		struct event *q = realloc(s->queue, cap * sizeof(*q));
		if (!q) {
			s->queue_failed = 1;
			k8s_target_unref(t);
			return;
		}
		s->queue = q;
		s->queue_cap = cap;
	}
	s->queue[s->nqueue].ev = ev;
	s->queue[s->nqueue].target = t;
	s->nqueue++;
}

static void lock(struct k8s_store *s)
{
	pthread_mutex_lock(&s->deliver_mu);
	pthread_mutex_lock(&s->mu);
}

/* Releases the state lock, delivers what was queued, releases the delivery lock. */
static void unlock_and_deliver(struct k8s_store *s)
{
	struct event *q = s->queue;
	size_t n = s->nqueue;

	if (s->queue_failed) {
		log_error("out of memory: target events were lost");
		s->queue_failed = 0;
	}
	s->queue = NULL;
	s->nqueue = s->queue_cap = 0;
	metric_set(s->cfg.pods_gauge, (double)s->pods.count);
	metric_set(s->cfg.targets_gauge, (double)s->ntargets);
	metric_set(s->cfg.replicasets_gauge, (double)s->rs.count);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		s->cfg.on_target(s->cfg.on_target_ctx, q[i].ev, q[i].target);
		k8s_target_unref(q[i].target);
	}
	free(q);
	pthread_mutex_unlock(&s->deliver_mu);
}

/* ---- targets ---------------------------------------------------------------------- */

static void set_target(struct k8s_store *s, struct k8s_pod *p, const struct k8s_target *t)
{
	const struct k8s_target *old = p->target;
	int same_id;

	if (old && t && !k8s_target_differs(old, t)) {
		k8s_target_unref(t);
		return;
	}
	same_id = old && t && strcmp(old->id, t->id) == 0 && strcmp(old->pod_uid, t->pod_uid) == 0;
	if (old) {
		s->model_bytes -= k8s_target_bytes(old);
		s->ntargets--;
		list_remove(&p->with_target);
		if (same_id)
			k8s_target_unref(old);
		else
			queue(s, K8S_TARGET_REMOVED, old); /* the queue takes the reference */
	}
	if (t) {
		queue(s, same_id ? K8S_TARGET_UPDATED : K8S_TARGET_ADDED, k8s_target_ref(t));
		s->model_bytes += k8s_target_bytes(t);
		s->ntargets++;
		list_push_back(&s->with_target, &p->with_target);
	}
	p->target = t;
}

static struct k8s_replicaset *find_rs(struct k8s_store *s, const char *ns, const char *name)
{
	return (struct k8s_replicaset *)*table_slot(s, &s->rs, k8s_object_key_hash(ns, name), ns,
						    name);
}

/* Recomputes the target of p; warns about invalid annotations once per change. */
static int refresh_target(struct k8s_store *s, struct k8s_pod *p)
{
	const struct k8s_replicaset *rs = NULL;
	const struct k8s_target *t;
	char workload[K8S_NAME_MAX + 1], reason[512];
	int r;

	if (p->owner_kind == K8S_OWNER_REPLICASET && p->owner_name)
		rs = find_rs(s, p->namespace, p->owner_name);
	k8s_workload_name(p, rs, workload, sizeof(workload));
	r = k8s_target_from_pod(p, workload, &t, reason, sizeof(reason));
	if (r)
		return r;
	if (reason[0]) {
		uint32_t h = (uint32_t)hash64(reason, strlen(reason), 0) | 1;
		if (h != p->warned)
			log_warn("pod %s/%s is not scraped: %s", p->namespace, p->name, reason);
		p->warned = h;
	} else {
		p->warned = 0;
	}
	set_target(s, p, t);
	return 0;
}

/* Renames the targets of the pods of ReplicaSet ns/name. */
static void refresh_rs_pods(struct k8s_store *s, const char *ns, const char *name)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &s->with_target) {
		struct k8s_pod *p = list_entry(n, struct k8s_pod, with_target);
		if (p->owner_kind == K8S_OWNER_REPLICASET && p->owner_name &&
		    strcmp(p->owner_name, name) == 0 && strcmp(p->namespace, ns) == 0)
			refresh_target(s, p);
	}
}

/* ---- pods ------------------------------------------------------------------------- */

static void unlink_pod(struct k8s_store *s, struct k8s_hentry **slot)
{
	struct k8s_pod *p = (struct k8s_pod *)*slot;

	set_target(s, p, NULL);
	*slot = (*slot)->next;
	s->pods.count--;
	s->model_bytes -= k8s_pod_bytes(p);
	free(p);
}

int k8s_store_pod_upsert(struct k8s_store *s, struct k8s_pod *pod)
{
	struct k8s_hentry **slot;
	struct k8s_pod *old;
	int r = 0;

	lock(s);
	slot = table_slot(s, &s->pods, pod->h.hash, pod->namespace, pod->name);
	old = (struct k8s_pod *)*slot;
	if (old && strcmp(old->uid, pod->uid) != 0) {
		/* a new incarnation: the old pod is gone */
		unlink_pod(s, slot);
		old = NULL;
	}
	if (!old && s->pods.count >= s->cfg.max_pods) {
		free(pod);
		r = -E2BIG;
		goto out;
	}
	pod->gen = s->pod_gen;
	list_init(&pod->with_target);
	if (old) {
		/* the new version takes over the old one's place and bookkeeping */
		pod->h.next = old->h.next;
		pod->target = old->target;
		pod->warned = old->warned;
		if (old->target)
			list_insert_before(&old->with_target, &pod->with_target);
		list_remove(&old->with_target);
		s->model_bytes -= k8s_pod_bytes(old);
		free(old);
	} else {
		pod->h.next = NULL;
		s->pods.count++;
	}
	*slot = &pod->h;
	s->model_bytes += k8s_pod_bytes(pod);
	r = refresh_target(s, pod);
	if (!old)
		table_grow(s, &s->pods);
out:
	unlock_and_deliver(s);
	return r;
}

int k8s_store_pod_delete(struct k8s_store *s, const char *namespace, const char *name,
			 const char *uid)
{
	struct k8s_hentry **slot;
	int r = -ENOENT;

	lock(s);
	slot = table_slot(s, &s->pods, k8s_object_key_hash(namespace, name), namespace, name);
	if (*slot && (!uid || strcmp(((struct k8s_pod *)*slot)->uid, uid) == 0)) {
		unlink_pod(s, slot);
		r = 0;
	}
	unlock_and_deliver(s);
	return r;
}

void k8s_store_pods_begin(struct k8s_store *s)
{
	lock(s);
	s->pod_gen++;
	unlock_and_deliver(s);
}

size_t k8s_store_pods_end(struct k8s_store *s)
{
	size_t removed = 0;

	lock(s);
	for (size_t i = 0; i < s->pods.nbuckets; i++) {
		struct k8s_hentry **slot = &s->pods.buckets[i];
		while (*slot) {
			if (((struct k8s_pod *)*slot)->gen != s->pod_gen) {
				unlink_pod(s, slot);
				removed++;
			} else {
				slot = &(*slot)->next;
			}
		}
	}
	unlock_and_deliver(s);
	return removed;
}

/* ---- ReplicaSets ------------------------------------------------------------------ */

static int same_owner(const struct k8s_replicaset *a, const struct k8s_replicaset *b)
{
	if (!a->owner_name || !b->owner_name)
		return a->owner_name == b->owner_name;
	return strcmp(a->owner_name, b->owner_name) == 0;
}

int k8s_store_replicaset_upsert(struct k8s_store *s, struct k8s_replicaset *rs)
{
	struct k8s_hentry **slot;
	struct k8s_replicaset *old;
	int renamed;

	lock(s);
	slot = table_slot(s, &s->rs, rs->h.hash, rs->namespace, rs->name);
	old = (struct k8s_replicaset *)*slot;
	rs->gen = s->rs_gen;
	rs->h.next = old ? old->h.next : NULL;
	renamed = !old || !same_owner(old, rs);
	*slot = &rs->h;
	s->model_bytes += k8s_replicaset_bytes(rs);
	if (old) {
		s->model_bytes -= k8s_replicaset_bytes(old);
		free(old);
	} else {
		s->rs.count++;
		table_grow(s, &s->rs);
	}
	if (renamed)
		refresh_rs_pods(s, rs->namespace, rs->name);
	unlock_and_deliver(s);
	return 0;
}

static void unlink_rs(struct k8s_store *s, struct k8s_hentry **slot)
{
	struct k8s_replicaset *rs = (struct k8s_replicaset *)*slot;

	*slot = (*slot)->next;
	s->rs.count--;
	s->model_bytes -= k8s_replicaset_bytes(rs);
	/* its pods fall back to the pod-template-hash rule */
	refresh_rs_pods(s, rs->namespace, rs->name);
	free(rs);
}

int k8s_store_replicaset_delete(struct k8s_store *s, const char *namespace, const char *name)
{
	struct k8s_hentry **slot;
	int r = -ENOENT;

	lock(s);
	slot = table_slot(s, &s->rs, k8s_object_key_hash(namespace, name), namespace, name);
	if (*slot) {
		unlink_rs(s, slot);
		r = 0;
	}
	unlock_and_deliver(s);
	return r;
}

void k8s_store_replicasets_begin(struct k8s_store *s)
{
	lock(s);
	s->rs_gen++;
	unlock_and_deliver(s);
}

size_t k8s_store_replicasets_end(struct k8s_store *s)
{
	size_t removed = 0;

	lock(s);
	for (size_t i = 0; i < s->rs.nbuckets; i++) {
		struct k8s_hentry **slot = &s->rs.buckets[i];
		while (*slot) {
			if (((struct k8s_replicaset *)*slot)->gen != s->rs_gen) {
				unlink_rs(s, slot);
				removed++;
			} else {
				slot = &(*slot)->next;
			}
		}
	}
	unlock_and_deliver(s);
	return removed;
}

/* ---- the rest --------------------------------------------------------------------- */

static int by_id(const void *a, const void *b)
{
	const struct k8s_target *ta = *(const struct k8s_target *const *)a;
	const struct k8s_target *tb = *(const struct k8s_target *const *)b;
	return strcmp(ta->id, tb->id);
}

int k8s_store_snapshot(struct k8s_store *s, struct k8s_target_set *out)
{
	struct list_node *n, *tmp;
	size_t i = 0;
	int r = 0;

	out->targets = NULL;
	out->n = 0;
	lock(s);
	if (s->ntargets) {
		out->targets = malloc(s->ntargets * sizeof(*out->targets));
		if (!out->targets) {
			r = -ENOMEM;
			goto out;
		}
		list_for_each_safe(n, tmp, &s->with_target)
			out->targets[i++] = k8s_target_ref(
				list_entry(n, struct k8s_pod, with_target)->target);
		out->n = i;
	}
out:
	/* nothing is queued: the delivery lock is held, the queue is empty */
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_unlock(&s->deliver_mu);
	if (out->n)
		qsort(out->targets, out->n, sizeof(*out->targets), by_id);
	return r;
}

void k8s_target_set_free(struct k8s_target_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		k8s_target_unref(set->targets[i]);
	free(set->targets);
	set->targets = NULL;
	set->n = 0;
}

void k8s_store_get_stats(struct k8s_store *s, struct k8s_store_stats *out)
{
	pthread_mutex_lock(&s->mu);
	out->pods = s->pods.count;
	out->replicasets = s->rs.count;
	out->targets = s->ntargets;
	out->model_bytes = s->model_bytes;
	pthread_mutex_unlock(&s->mu);
}

int k8s_store_new(const struct k8s_store_config *cfg, struct k8s_store **out)
{
	pthread_mutexattr_t attr;
	struct k8s_store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (table_init(&s->pods) || table_init(&s->rs)) {
		free(s->pods.buckets);
		free(s->rs.buckets);
		free(s);
		return -ENOMEM;
	}
	s->model_bytes = k8s_alloc_bytes(s->pods.buckets) + k8s_alloc_bytes(s->rs.buckets);
	list_init(&s->with_target);
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->deliver_mu, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void k8s_store_free(struct k8s_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->pods.nbuckets; i++) {
		struct k8s_hentry *e = s->pods.buckets[i], *next;
		for (; e; e = next) {
			struct k8s_pod *p = (struct k8s_pod *)e;
			next = e->next;
			k8s_target_unref(p->target);
			free(p);
		}
	}
	for (size_t i = 0; i < s->rs.nbuckets; i++) {
		struct k8s_hentry *e = s->rs.buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(s->pods.buckets);
	free(s->rs.buckets);
	for (size_t i = 0; i < s->nqueue; i++)
		k8s_target_unref(s->queue[i].target);
	free(s->queue);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->deliver_mu);
	free(s);
}
