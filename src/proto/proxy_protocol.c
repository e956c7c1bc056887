/* PROXY protocol header builder (see proxy_protocol.h). */
#include "proto/proxy_protocol.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "proto/ipaddr.h"

static const char pp_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* Parses "ip" or "ip%zone" (the zone is dropped, as in a Go TCPAddr's IP). */
static bool pp_parse(const char *s, uint8_t ip[16])
{
    char tmp[IPADDR_TEXT];
    size_t n = strcspn(s, "%");
    if (n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return ipaddr_parse(tmp, ip);
}

int proxy_protocol_build(int version, const char *src_addr, uint16_t src_port,
                         const char *dst_addr, uint16_t dst_port, char *out, size_t cap,
                         size_t *len)
{
    uint8_t src[16], dst[16];
    if (version != 1 && version != 2)
        return CFRP_EINVAL;
    if (!dst_addr || !dst_addr[0])
        dst_addr = "127.0.0.1";
    if (!src_addr || !pp_parse(src_addr, src) || !pp_parse(dst_addr, dst))
        return CFRP_EINVAL;
    bool v4 = strchr(src_addr, '.') != NULL;
    if (v4 && (!ipaddr_is_v4(src) || !ipaddr_is_v4(dst)))
        return CFRP_EINVAL;
    if (version == 1) {
        char s[IPADDR_TEXT], d[IPADDR_TEXT];
        ipaddr_format(src, s);
        ipaddr_format(dst, d);
        int n = snprintf(out, cap, "PROXY %s %s %s %u %u\r\n", v4 ? "TCP4" : "TCP6", s, d,
                         src_port, dst_port);
        if (n < 0 || (size_t)n >= cap)
            return CFRP_ETOOBIG;
        *len = (size_t)n;
        return 0;
    }
    size_t alen = v4 ? 4 : 16;
    size_t total = 16 + 2 * alen + 4;
    if (cap < total)
        return CFRP_ETOOBIG;
    uint8_t *p = (uint8_t *)out;
    memcpy(p, pp_sig, sizeof(pp_sig));
    p[12] = 0x21;              /* version 2, command PROXY */
    p[13] = v4 ? 0x11 : 0x21;  /* AF_INET or AF_INET6, STREAM */
    p[14] = (uint8_t)((2 * alen + 4) >> 8);
    p[15] = (uint8_t)(2 * alen + 4);
    memcpy(p + 16, src + 16 - alen, alen);
    memcpy(p + 16 + alen, dst + 16 - alen, alen);
    p[16 + 2 * alen] = (uint8_t)(src_port >> 8);
    p[17 + 2 * alen] = (uint8_t)src_port;
    p[18 + 2 * alen] = (uint8_t)(dst_port >> 8);
    p[19 + 2 * alen] = (uint8_t)dst_port;
    *len = total;
    return 0;
}
