/* UDPPacket payload and address conversions (see udp_packet.h). */
#include "proto/udp_packet.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "proto/ipaddr.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t udp_base64_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

void udp_base64_encode(const void *data, size_t len, char *out)
{
    const uint8_t *p = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
}

int udp_base64_decode(const char *text, void *out, size_t cap, size_t *len)
{
    uint8_t *o = out;
    size_t n = 0, q = 0, pad = 0;
    uint32_t acc = 0;
    bool done = false; /* a padded quad ends the data */
    for (const char *s = text ? text : ""; *s; s++) {
        if (*s == '\r' || *s == '\n')
            continue;
        if (done)
            return CFRP_EPROTO;
        int v = 0;
        if (*s == '=') {
            if (q < 2)
                return CFRP_EPROTO;
            pad++;
        } else {
            v = b64_value(*s);
            if (v < 0 || pad > 0)
                return CFRP_EPROTO;
        }
        acc = acc << 6 | (uint32_t)v;
        if (++q < 4)
            continue;
        size_t bytes = 3 - pad;
        if (cap - n < bytes)
            return CFRP_ETOOBIG;
        o[n++] = (uint8_t)(acc >> 16);
        if (bytes > 1)
            o[n++] = (uint8_t)(acc >> 8);
        if (bytes > 2)
            o[n++] = (uint8_t)acc;
        done = pad > 0;
        q = 0;
        acc = 0;
    }
    if (q != 0)
        return CFRP_EPROTO;
    *len = n;
    return 0;
}

int udp_packet_build(msg *m, const void *data, size_t len, const struct sockaddr *raddr)
{
    char ip[IPADDR_TEXT];
    char zone[IF_NAMESIZE] = "";
    int port;
    msg_init(m, MSG_UDP_PACKET);
    if (raddr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)raddr;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (raddr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)raddr;
        ipaddr_format(in6->sin6_addr.s6_addr, ip);
        port = ntohs(in6->sin6_port);
        if (in6->sin6_scope_id != 0 && !if_indextoname(in6->sin6_scope_id, zone))
            snprintf(zone, sizeof(zone), "%u", in6->sin6_scope_id);
    } else {
        return CFRP_EINVAL;
    }
    msg_udp_packet *p = &m->u.udp_packet;
    p->content = malloc(udp_base64_len(len) + 1);
    p->raddr.ip = strdup(ip);
    p->raddr.zone = strdup(zone);
    if (!p->content || !p->raddr.ip || !p->raddr.zone) {
        msg_clear(m);
        return UV_ENOMEM;
    }
    udp_base64_encode(data, len, p->content);
    p->raddr.present = true;
    p->raddr.port = port;
    return 0;
}

int udp_packet_sockaddr(const msg_udp_addr *a, struct sockaddr_storage *ss)
{
    uint8_t ip[16];
    memset(ss, 0, sizeof(*ss));
    if (!a->present || !a->ip || !ipaddr_parse(a->ip, ip) || a->port < 0 || a->port > 65535)
        return CFRP_EINVAL;
    if (ipaddr_is_v4(ip)) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)a->port);
        memcpy(&in->sin_addr, ip + 12, 4);
        return 0;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)a->port);
    memcpy(&in6->sin6_addr, ip, 16);
    if (a->zone && a->zone[0]) {
        char *end;
        unsigned long idx = strtoul(a->zone, &end, 10);
        if (*end != '\0' || idx == 0 || idx > UINT32_MAX)
            idx = if_nametoindex(a->zone);
        if (idx == 0)
            return CFRP_EINVAL;
        in6->sin6_scope_id = (uint32_t)idx;
    }
    return 0;
}

int udp_packet_addr_text(const msg_udp_addr *a, char *out, size_t cap)
{
    uint8_t ip[16];
    char text[IPADDR_TEXT];
    int n;
    if (!a->present || !a->ip || !ipaddr_parse(a->ip, ip))
        return CFRP_EINVAL;
    ipaddr_format(ip, text);
    if (ipaddr_is_v4(ip))
        n = snprintf(out, cap, "%s:%lld", text, (long long)a->port);
    else if (a->zone && a->zone[0])
        n = snprintf(out, cap, "[%s%%%s]:%lld", text, a->zone, (long long)a->port);
    else
        n = snprintf(out, cap, "[%s]:%lld", text, (long long)a->port);
    return n < 0 || (size_t)n >= cap ? CFRP_EINVAL : 0;
}
