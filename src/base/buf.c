/* Reference-counted chunks (see buf.h) and the per-thread free list that keeps
 * BUF_CHUNK_SIZE chunks for reuse, so the read path allocates nothing in steady state.
 * Small requests get an exact allocation instead: a 100-byte message must not pin
 * 64 KiB while it waits in a queue (1,000 idle connections would hold 64 MiB). */
#include "base/buf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Spare chunks kept per thread: 64 * 64 KiB = 4 MiB at most, about the working set of
 * a busy tunnel (yamux in flight, join high-water marks); more would only be memory
 * that an idle process keeps after a burst. */
#define BUF_POOL_MAX 64

/* A spare chunk stores the next pointer at the start of its data. The free list is
 * owned by the thread; chunks in it are owned by the list. */
static _Thread_local buf_chunk *buf_pool_head;
static _Thread_local unsigned buf_pool_len;

static buf_chunk *buf_pool_next(buf_chunk *c)
{
    buf_chunk *next;
    memcpy(&next, c->data, sizeof next);
    return next;
}

buf_chunk *buf_chunk_alloc(size_t size)
{
    if (size == 0) size = BUF_CHUNK_SIZE;
    if (size > UINT32_MAX - sizeof(buf_chunk)) return NULL;
    buf_chunk *c;
    /* Requests above BUF_SMALL_MAX take a whole (recyclable) chunk; smaller ones an
     * exact allocation that is freed after use. */
    bool pooled = size > BUF_SMALL_MAX && size <= BUF_CHUNK_SIZE;
    if (pooled && buf_pool_head) {
        c = buf_pool_head;
        buf_pool_head = buf_pool_next(c);
        buf_pool_len--;
    } else {
        size_t n = pooled ? BUF_CHUNK_SIZE : size;
        c = malloc(sizeof(buf_chunk) + n);
        if (!c) return NULL;
        c->size = (uint32_t)n;
    }
    c->refs = 1;
    return c;
}

void buf_chunk_retain(buf_chunk *c)
{
    if (c->refs == 0 || c->refs == UINT32_MAX) abort(); /* use after free / overflow */
    c->refs++;
}

void buf_chunk_release(buf_chunk *c)
{
    if (!c) return;
    if (c->refs == 0) abort(); /* double release */
    if (--c->refs > 0) return;
    if (c->size == BUF_CHUNK_SIZE && buf_pool_len < BUF_POOL_MAX) {
        memcpy(c->data, &buf_pool_head, sizeof buf_pool_head);
        buf_pool_head = c;
        buf_pool_len++;
        return;
    }
    free(c);
}

buf_ref buf_ref_make(buf_chunk *c, size_t off, size_t len)
{
    if (off > c->size || len > c->size - off) abort(); /* slice outside the chunk */
    buf_ref r = {c, c->data + off, len};
    return r;
}

buf_ref buf_ref_copy(const void *data, size_t len)
{
    buf_ref r = {NULL, NULL, 0};
    buf_chunk *c = buf_chunk_alloc(len ? len : 1);
    if (!c) return r;
    if (len) memcpy(c->data, data, len);
    return buf_ref_make(c, 0, len);
}

buf_ref buf_ref_dup(const buf_ref *r)
{
    if (r->chunk) buf_chunk_retain(r->chunk);
    return *r;
}

void buf_ref_release(buf_ref *r)
{
    if (r->chunk) buf_chunk_release(r->chunk);
    r->chunk = NULL;
    r->base = NULL;
    r->len = 0;
}

void buf_pool_drain(void)
{
    while (buf_pool_head) {
        buf_chunk *c = buf_pool_head;
        buf_pool_head = buf_pool_next(c);
        free(c);
    }
    buf_pool_len = 0;
}
