/* frp message frames: 1 type byte, int64 big-endian body length, JSON body.
 *
 * The encoder builds a whole frame (one write). The decoders say "need more bytes"
 * (return 0) distinctly from "invalid" (negative); they never read past the end of a
 * frame, so bytes after it (e.g. ciphertext after LoginResp) stay with the caller. */
#ifndef CFRP_PROTO_FRAME_H
#define CFRP_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

#define MSG_FRAME_HDR 9                              /* type byte + int64 length */
#define MSG_FRAME_MAX (MSG_FRAME_HDR + MSG_MAX_BODY) /* largest frame */

/* Encodes m as a frame into out (capacity cap; MSG_FRAME_MAX always suffices). Returns
 * 0 and sets *len, or CFRP_ETOOBIG when the body exceeds MSG_MAX_BODY (or cap), or
 * CFRP_EINVAL for an unencodable message. */
int msg_frame_encode(const msg *m, char *out, size_t cap, size_t *len);

/* Decodes one frame from the start of a contiguous buffer. Returns 1 with the message
 * in *out and its frame size in *frame_len; 0 if data holds only a prefix of a valid
 * frame; CFRP_EPROTO or CFRP_ETOOBIG (reason in err) if it can never be a valid frame.
 * *out needs msg_clear() only after a return of 1. */
int msg_frame_parse(const void *data, size_t len, size_t *frame_len, msg *out, char *err,
                    size_t errlen);

/* Incremental decoder for frames arriving in pieces. Embeds a body buffer of
 * MSG_MAX_BODY bytes; owns no heap memory. */
typedef struct msg_reader {
    uint8_t hdr[MSG_FRAME_HDR];
    size_t hdr_len;
    size_t body_len;
    size_t body_got;
    int expect; /* 0: decode as the type byte says; else decode as this type */
    int error;  /* sticky: once invalid, always invalid */
    char body[MSG_MAX_BODY];
} msg_reader;

void msg_reader_init(msg_reader *r);

/* Makes the next frame decode as `type` whatever its (registered) type byte, as Go's
 * ReadMsgInto does for an expected reply; 0 restores decoding by the type byte. */
void msg_reader_expect(msg_reader *r, int type);

/* Consumes bytes from data until a frame completes. Returns 1 with *out filled (the
 * caller msg_clear()s it) and *used = bytes of data taken (the rest belongs to the next
 * frame or the next layer); 0 if all len bytes were taken and more are needed; a
 * negative code (reason in err) if the input is invalid, and from then on always. */
int msg_reader_feed(msg_reader *r, const void *data, size_t len, size_t *used, msg *out,
                    char *err, size_t errlen);

#endif
