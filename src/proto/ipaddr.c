/* Go-compatible IP address parsing and printing (see ipaddr.h). */
#include "proto/ipaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const uint8_t ipaddr_v4prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool ipaddr_parse(const char *s, uint8_t ip[16])
{
    /* glibc's inet_pton, like Go since 1.17, rejects IPv4 octets with leading zeros. */
    if (inet_pton(AF_INET, s, ip + 12) == 1) {
        memcpy(ip, ipaddr_v4prefix, 12);
        return true;
    }
    return inet_pton(AF_INET6, s, ip) == 1;
}

bool ipaddr_is_v4(const uint8_t ip[16])
{
    return memcmp(ip, ipaddr_v4prefix, 12) == 0;
}

void ipaddr_format(const uint8_t ip[16], char out[IPADDR_TEXT])
{
    if (ipaddr_is_v4(ip)) {
        snprintf(out, IPADDR_TEXT, "%u.%u.%u.%u", ip[12], ip[13], ip[14], ip[15]);
        return;
    }
    unsigned g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (unsigned)ip[2 * i] << 8 | ip[2 * i + 1];
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j > i ? j : i + 1;
    }
    size_t n = 0;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            out[n++] = ':';
            out[n++] = ':';
            i += best_len - 1;
            continue;
        }
        if (n > 0 && out[n - 1] != ':')
            out[n++] = ':';
        n += (size_t)snprintf(out + n, IPADDR_TEXT - n, "%x", g[i]);
    }
    out[n] = '\0';
}
