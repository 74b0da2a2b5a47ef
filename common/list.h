/*
 * The one list type of podprof: an intrusive, circular, doubly linked list. An element
 * embeds a struct list_node and is found back with list_entry(). Not thread-safe: the
 * owner of a list holds whatever lock protects it.
 */
#ifndef PODPROF_LIST_H
#define PODPROF_LIST_H

#include <stddef.h>

struct list_node {
	struct list_node *prev, *next;
};

#define LIST_INIT(name) {&(name), &(name)}
#define list_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))
#define list_for_each_safe(pos, tmp, head)                                              \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                \
	     (pos) = (tmp), (tmp) = (pos)->next)

static inline void list_init(struct list_node *head)
{
	head->prev = head->next = head;
}

static inline int list_empty(const struct list_node *head)
{
	return head->next == head;
}

static inline void list_insert_before(struct list_node *pos, struct list_node *n)
{
	n->prev = pos->prev;
	n->next = pos;
	pos->prev->next = n;
	pos->prev = n;
}

/* Appends n at the tail of the list headed by head. */
static inline void list_push_back(struct list_node *head, struct list_node *n)
{
	list_insert_before(head, n);
}

static inline void list_push_front(struct list_node *head, struct list_node *n)
{
	list_insert_before(head->next, n);
}

static inline void list_remove(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

/* Removes and returns the first node, or NULL when the list is empty. */
static inline struct list_node *list_pop_front(struct list_node *head)
{
	struct list_node *n = head->next;
	if (n == head)
		return NULL;
	list_remove(n);
	return n;
}

#endif
