/* libFuzzer target for the frame + JSON message decoder: the input is fed to the
 * incremental reader in pieces whose sizes come from the input itself and to the
 * one-shot parser; every message that decodes must re-encode, and decoding that
 * encoding must give the same bytes again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/msg.h"

static msg_reader reader;

/* Encode m, decode the body again, encode again: both encodings must be equal. */
static void check_reencode(const msg *m)
{
    static char a[MSG_FRAME_MAX], b[MSG_FRAME_MAX];
    size_t alen, blen;
    if (msg_frame_encode(m, a, sizeof(a), &alen) != 0)
        return; /* too big after escaping: allowed */
    msg again;
    if (msg_decode_body(m->type, a + MSG_FRAME_HDR, alen - MSG_FRAME_HDR, &again, NULL, 0) != 0)
        abort();
    if (msg_frame_encode(&again, b, sizeof(b), &blen) != 0 || blen != alen ||
        memcmp(a, b, alen) != 0)
        abort();
    msg_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* The first byte picks the piece size for the incremental reader. */
    size_t piece = (size_t)data[0] % 17 + 1;
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    msg_reader_init(&reader);
    for (size_t off = 0; off < n;) {
        size_t len = n - off < piece ? n - off : piece;
        size_t used;
        msg m;
        int rc = msg_reader_feed(&reader, p + off, len, &used, &m, NULL, 0);
        if (used > len)
            abort();
        off += used;
        if (rc < 0)
            break;
        if (rc == 1) {
            check_reencode(&m);
            msg_clear(&m);
        } else if (used != len) {
            abort();
        }
    }

    size_t flen;
    msg m;
    if (msg_frame_parse(p, n, &flen, &m, NULL, 0) == 1) {
        if (flen > n)
            abort();
        check_reencode(&m);
        msg_clear(&m);
    }
    /* The body alone, as every message type. */
    static const char types[] = "o1p2cwrsv3h4uinm56";
    enum msg_type t = (enum msg_type)types[data[0] % (sizeof(types) - 1)];
    if (n <= MSG_MAX_BODY && msg_decode_body(t, (const char *)p, n, &m, NULL, 0) == 0) {
        check_reencode(&m);
        msg_clear(&m);
    }
    return 0;
}
