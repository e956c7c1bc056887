/* Reference-counted byte chunks and slices of them.
 *
 * A chunk is one allocation holding a reference count and bytes. A buf_ref is a slice
 * of a chunk that owns one reference to it. Reads land in chunks and travel onward as
 * buf_refs without copying; only layers that transform bytes (TLS, AES, snappy) copy.
 * Chunks of BUF_CHUNK_SIZE come from a per-thread free list; requests of BUF_SMALL_MAX
 * bytes or less get an exact allocation, so small data never pins a whole chunk. */
#ifndef CFRP_BASE_BUF_H
#define CFRP_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#define BUF_CHUNK_SIZE (64 * 1024)
#define BUF_SMALL_MAX (16 * 1024)

typedef struct buf_chunk {
    uint32_t refs;
    uint32_t size; /* bytes usable in data */
    char data[];
} buf_chunk;

typedef struct buf_ref {
    buf_chunk *chunk; /* one reference owned by this slice; NULL for an empty ref */
    char *base;       /* within chunk->data */
    size_t len;
} buf_ref;

/* A new chunk with refs = 1 and at least size usable bytes (size 0 means
 * BUF_CHUNK_SIZE): exactly size bytes up to BUF_SMALL_MAX, a pooled BUF_CHUNK_SIZE
 * chunk up to BUF_CHUNK_SIZE, exactly size bytes above. NULL when out of memory. */
buf_chunk *buf_chunk_alloc(size_t size);
void buf_chunk_retain(buf_chunk *c);
/* Drops one reference; the last one returns the chunk to the free list or frees it. */
void buf_chunk_release(buf_chunk *c);

/* A slice [off, off+len) of c that takes over one reference the caller holds. */
buf_ref buf_ref_make(buf_chunk *c, size_t off, size_t len);
/* A new chunk holding a copy of data; .chunk is NULL when out of memory. */
buf_ref buf_ref_copy(const void *data, size_t len);
/* A second reference to the same bytes (retains the chunk). */
buf_ref buf_ref_dup(const buf_ref *r);
/* Releases the reference and empties *r. Safe on an empty ref. */
void buf_ref_release(buf_ref *r);

/* Frees the calling thread's free list (at exit, so leak checkers stay quiet). */
void buf_pool_drain(void);

#endif
