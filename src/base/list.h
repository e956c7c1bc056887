/* Intrusive doubly linked list: a struct list_link lives inside each element, a lone
 * list_link is the head. No allocation; the owner of the elements owns the memory. */
#ifndef CFRP_BASE_LIST_H
#define CFRP_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_link {
    struct list_link *prev, *next;
};

static inline void list_init(struct list_link *l)
{
    l->prev = l->next = l;
}
static inline bool list_empty(const struct list_link *l)
{
    return l->next == l;
}
/* Appends n at the tail of head. */
static inline void list_push(struct list_link *head, struct list_link *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}
/* Unlinks n (safe on an unlinked, self-pointing node). */
static inline void list_del(struct list_link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}
/* The element that holds the link ptr as its member `field`. */
#define LIST_ITEM(ptr, type, field) ((type *)((char *)(ptr) - offsetof(type, field)))

#endif
