/* Basic auth parsing and the route/credential policy of decisions.md #2. */
#include "http/http_auth.h"

#include <string.h>

#include "base/err.h"

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict standard base64 with padding (Go's StdEncoding, minus its CR/LF skipping:
 * header values cannot hold CR/LF anyway). Returns the decoded length or -1. */
static int b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else {
                if (pad)
                    return -1;
                v[k] = b64val(c);
                if (v[k] < 0)
                    return -1;
            }
        }
        unsigned w = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        unsigned char bytes[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8),
                                  (unsigned char)w};
        /* Go rejects non-zero bits in the padding positions only in Strict mode; the
         * default StdEncoding ignores them. */
        size_t nb = 3 - (size_t)pad;
        if (o + nb > cap)
            return -1;
        memcpy(out + o, bytes, nb);
        o += nb;
    }
    return (int)o;
}

int http_auth_parse_basic(const char *value, size_t len, http_creds *c)
{
    memset(c, 0, sizeof(*c));
    unsigned char dec[2 * HTTP_AUTH_MAX];
    if (len < 6 || !http_token_eq(value, 6, "Basic "))
        return CFRP_EPARSE;
    int n = b64_decode(value + 6, len - 6, dec, sizeof(dec));
    if (n < 0)
        return CFRP_EPARSE;
    unsigned char *colon = memchr(dec, ':', (size_t)n);
    if (!colon)
        return CFRP_EPARSE;
    size_t ul = (size_t)(colon - dec), pl = (size_t)n - ul - 1;
    if (ul >= HTTP_AUTH_MAX || pl >= HTTP_AUTH_MAX || memchr(dec, 0, (size_t)n))
        return CFRP_EPARSE;
    memcpy(c->user, dec, ul);
    memcpy(c->pass, colon + 1, pl);
    c->ok = true;
    return 0;
}

bool http_auth_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ (lb ? b[i % lb] : 0));
    return diff == 0;
}

static void creds_from(const http_request *r, const char *header, http_creds *c)
{
    const http_header *h = http_request_header(r, header);
    memset(c, 0, sizeof(*c));
    if (h)
        http_auth_parse_basic(h->value, h->value_len, c);
}

void http_auth_route_user(const http_request *r, char *user, size_t cap)
{
    http_creds c;
    memset(&c, 0, sizeof(c));
    if (r->form == HTTP_TARGET_ABSOLUTE && http_request_header(r, "Proxy-Authorization"))
        creds_from(r, "Proxy-Authorization", &c);
    else
        creds_from(r, "Authorization", &c);
    if (cap > 0) {
        size_t n = strlen(c.user);
        if (n >= cap)
            n = cap - 1;
        memcpy(user, c.user, n);
        user[n] = 0;
    }
}

int http_auth_check(const http_request *r, const char *route_user, const char *route_pwd)
{
    route_user = route_user ? route_user : "";
    route_pwd = route_pwd ? route_pwd : "";
    if (!*route_user && !*route_pwd)
        return 0;
    bool proxy = r->form == HTTP_TARGET_ABSOLUTE;
    http_creds c;
    creds_from(r, proxy ? "Proxy-Authorization" : "Authorization", &c);
    bool u = http_auth_equal(c.user, route_user), p = http_auth_equal(c.pass, route_pwd);
    if (c.ok && u && p)
        return 0;
    return proxy ? 407 : 401;
}

void http_auth_tcpmux_creds(const http_request *r, http_creds *c)
{
    creds_from(r, "Proxy-Authorization", c);
}

bool http_auth_tcpmux_ok(const http_creds *c, const char *route_user, const char *route_pwd)
{
    route_user = route_user ? route_user : "";
    route_pwd = route_pwd ? route_pwd : "";
    if (!*route_user)
        return true;
    bool u = http_auth_equal(c->user, route_user), p = http_auth_equal(c->pass, route_pwd);
    return u && p;
}
