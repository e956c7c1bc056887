/* Error buffers and error texts (see err.h). */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

void err_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void err_prefix(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix), olen = strnlen(err, errlen - 1);
    if (plen >= errlen) plen = errlen - 1;
    if (plen + olen >= errlen) olen = errlen - 1 - plen;
    memmove(err + plen, err, olen);
    memcpy(err, prefix, plen);
    err[plen + olen] = '\0';
}

const char *err_str(int code)
{
    switch (code) {
    case 0: return "success";
    case CFRP_EPROTO: return "protocol error";
    case CFRP_ETOOBIG: return "size limit exceeded";
    case CFRP_EPARSE: return "parse error";
    case CFRP_EINVAL: return "invalid value";
    case CFRP_EAUTH: return "authentication failed";
    case CFRP_ECLOSED: return "closed";
    case CFRP_ETIMEOUT: return "timeout";
    case CFRP_ENOTFOUND: return "not found";
    default: return uv_strerror(code);
    }
}
