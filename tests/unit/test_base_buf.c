/* Unit tests for base/buf: reference counts, slices, copies and the chunk free list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

static void test_refcount_and_reuse(void **state)
{
    buf_chunk *c = buf_chunk_alloc(0);
    assert_non_null(c);
    assert_int_equal(c->refs, 1);
    assert_int_equal(c->size, BUF_CHUNK_SIZE);
    memset(c->data, 'x', 10);
    buf_ref a = buf_ref_make(c, 2, 5);
    assert_ptr_equal(a.base, c->data + 2);
    assert_int_equal(a.len, 5);
    buf_ref b = buf_ref_dup(&a);
    assert_int_equal(c->refs, 2);
    buf_ref_release(&a);
    assert_null(a.chunk);
    assert_int_equal(a.len, 0);
    assert_int_equal(c->refs, 1);
    buf_ref_release(&b);
    /* The chunk went back to the free list: the next chunk-sized allocation reuses it,
     * a small one gets its own exact allocation. */
    buf_chunk *small = buf_chunk_alloc(100);
    assert_ptr_not_equal(small, c);
    assert_int_equal(small->size, 100);
    buf_chunk *d = buf_chunk_alloc(BUF_SMALL_MAX + 1);
    assert_ptr_equal(d, c);
    assert_int_equal(d->refs, 1);
    assert_int_equal(d->size, BUF_CHUNK_SIZE);
    buf_chunk_release(d);
    buf_chunk_release(small); /* freed, not pooled (ASan would report a leak) */
    buf_ref empty = {NULL, NULL, 0};
    buf_ref_release(&empty); /* safe on an empty ref */
    buf_pool_drain();
}

static void test_large_and_copy(void **state)
{
    buf_chunk *big = buf_chunk_alloc(BUF_CHUNK_SIZE + 1);
    assert_non_null(big);
    assert_int_equal(big->size, BUF_CHUNK_SIZE + 1);
    big->data[BUF_CHUNK_SIZE] = 7;
    buf_chunk_release(big); /* freed, not pooled (ASan would report a leak) */

    buf_ref r = buf_ref_copy("hello", 5);
    assert_non_null(r.chunk);
    assert_int_equal(r.len, 5);
    assert_memory_equal(r.base, "hello", 5);
    buf_ref r0 = buf_ref_copy(NULL, 0);
    assert_non_null(r0.chunk);
    assert_int_equal(r0.len, 0);
    buf_ref_release(&r0);
    buf_ref_release(&r);
    buf_pool_drain();
}

static void test_pool_bounded(void **state)
{
    /* Release 300 chunks: at most 64 are kept, the rest freed (ASan checks leaks). */
    enum { N = 300 };
    buf_chunk *cs[N];
    for (int i = 0; i < N; i++) {
        cs[i] = buf_chunk_alloc(0);
        assert_non_null(cs[i]);
    }
    for (int i = 0; i < N; i++) buf_chunk_release(cs[i]);
    /* 64 reuses come from the pool (LIFO: last released first). */
    buf_chunk *first = buf_chunk_alloc(0);
    assert_ptr_equal(first, cs[63]);
    buf_chunk_release(first);
    buf_pool_drain();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refcount_and_reuse),
        cmocka_unit_test(test_large_and_copy),
        cmocka_unit_test(test_pool_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
