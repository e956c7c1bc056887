/* Error conventions shared by every module.
 *
 * Functions return 0 on success or a negative code: libuv's UV_* codes (which are
 * negated errno values) or one of the CFRP_E* codes below. Where a person must read
 * what went wrong, the caller passes an error buffer (char *err, size_t errlen) and
 * the callee writes one line into it with err_set(); err may be NULL. */
#ifndef CFRP_BASE_ERR_H
#define CFRP_BASE_ERR_H

#include <stddef.h>

enum {
    CFRP_EPROTO = -10001,   /* peer broke the protocol: bad frame, bad message */
    CFRP_ETOOBIG = -10002,  /* a size limit was exceeded */
    CFRP_EPARSE = -10003,   /* malformed text input (config, template, HTTP) */
    CFRP_EINVAL = -10004,   /* a value is out of range or not allowed */
    CFRP_EAUTH = -10005,    /* authentication failed */
    CFRP_ECLOSED = -10006,  /* the object was closed */
    CFRP_ETIMEOUT = -10007, /* a deadline passed */
    CFRP_ENOTFOUND = -10008 /* a looked-up name does not exist */
};

/* Writes a printf-style message into err (if err is non-NULL and errlen > 0). */
void err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix" to the message already in err, as "prefix<old message>". */
void err_prefix(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A text for any code this project returns (libuv's or ours). */
const char *err_str(int code);

#endif
