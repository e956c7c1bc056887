/* ClientHello reassembly from TLS records and server_name extraction. */
#include "http/sni.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"

/* A bounds-checked reader over one byte range. */
typedef struct rd {
    const unsigned char *p;
    size_t n;
} rd;

static bool rd_u8(rd *r, unsigned *v)
{
    if (r->n < 1)
        return false;
    *v = r->p[0];
    r->p++;
    r->n--;
    return true;
}

static bool rd_u16(rd *r, unsigned *v)
{
    if (r->n < 2)
        return false;
    *v = (unsigned)r->p[0] << 8 | r->p[1];
    r->p += 2;
    r->n -= 2;
    return true;
}

static bool rd_skip(rd *r, size_t k)
{
    if (r->n < k)
        return false;
    r->p += k;
    r->n -= k;
    return true;
}

/* Reads a length-prefixed (8 or 16 bit) sub-range. */
static bool rd_vec(rd *r, int bits, rd *sub)
{
    unsigned len;
    if (!(bits == 8 ? rd_u8(r, &len) : rd_u16(r, &len)) || r->n < len)
        return false;
    sub->p = r->p;
    sub->n = len;
    r->p += len;
    r->n -= len;
    return true;
}

static int parse_server_name(rd ext, char name[SNI_NAME_MAX + 1], bool *found)
{
    rd list;
    if (!rd_vec(&ext, 16, &list) || ext.n != 0 || list.n == 0)
        return CFRP_EPARSE;
    while (list.n > 0) {
        unsigned type;
        rd host;
        if (!rd_u8(&list, &type) || !rd_vec(&list, 16, &host) || host.n == 0)
            return CFRP_EPARSE;
        if (type != 0)
            continue;
        if (*found || host.n > SNI_NAME_MAX || host.p[host.n - 1] == '.' ||
            memchr(host.p, 0, host.n))
            return CFRP_EPARSE;
        for (size_t i = 0; i < host.n; i++) {
            unsigned char c = host.p[i];
            name[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        }
        name[host.n] = 0;
        *found = true;
    }
    return 0;
}

static int parse_hello(rd m, char name[SNI_NAME_MAX + 1])
{
    rd sid, suites, comp, exts;
    if (!rd_skip(&m, 2 + 32) || !rd_vec(&m, 8, &sid) || sid.n > 32 ||
        !rd_vec(&m, 16, &suites) || suites.n < 2 || suites.n % 2 != 0 ||
        !rd_vec(&m, 8, &comp) || comp.n < 1)
        return CFRP_EPARSE;
    if (m.n == 0)
        return SNI_NONE;
    if (!rd_vec(&m, 16, &exts) || m.n != 0)
        return CFRP_EPARSE;
    bool found = false;
    unsigned seen[64]; /* extension types seen so far; more distinct ones are refused */
    size_t nseen = 0;
    while (exts.n > 0) {
        unsigned type;
        rd data;
        if (!rd_u16(&exts, &type) || !rd_vec(&exts, 16, &data))
            return CFRP_EPARSE;
        for (size_t i = 0; i < nseen; i++)
            if (seen[i] == type)
                return CFRP_EPARSE;
        if (nseen == sizeof(seen) / sizeof(seen[0]))
            return CFRP_EPARSE;
        seen[nseen++] = type;
        if (type == 0) {
            int rc = parse_server_name(data, name, &found);
            if (rc != 0)
                return rc;
        }
    }
    return found ? SNI_FOUND : SNI_NONE;
}

int sni_parse(const unsigned char *data, size_t len, char name[SNI_NAME_MAX + 1])
{
    /* Handshake bytes are gathered from successive records into msg (per thread, so
     * several loops may parse at once); at most 4 + SNI_HANDSHAKE_MAX bytes plus one
     * record's overshoot are kept. */
    static _Thread_local unsigned char msg[4 + SNI_HANDSHAKE_MAX + 16384 + 2048];
    size_t have = 0, need = 4, off = 0;
    name[0] = 0;
    while (have < need) {
        if (len - off < 5)
            return SNI_NEED_MORE;
        const unsigned char *h = data + off;
        size_t rlen = (size_t)h[3] << 8 | h[4];
        if (h[0] != 22 || h[1] != 3 || rlen == 0 || rlen > 16384 + 2048)
            return CFRP_EPARSE;
        if (len - off - 5 < rlen)
            return SNI_NEED_MORE;
        if (rlen > sizeof(msg) - have)
            return CFRP_EPARSE;
        memcpy(msg + have, h + 5, rlen);
        have += rlen;
        off += 5 + rlen;
        if (need == 4 && have >= 4) {
            if (msg[0] != 1)
                return CFRP_EPARSE;
            size_t mlen = (size_t)msg[1] << 16 | (size_t)msg[2] << 8 | msg[3];
            if (mlen > SNI_HANDSHAKE_MAX)
                return CFRP_EPARSE;
            need = 4 + mlen; /* bytes after the ClientHello in its record are left alone */
        }
    }
    rd m = {msg + 4, need - 4};
    return parse_hello(m, name);
}
