/* UDPPacket helpers: the datagram as base64 in "c", the peer address in "r"
 * (protocol.md §6.2). */
#ifndef CFRP_PROTO_UDP_PACKET_H
#define CFRP_PROTO_UDP_PACKET_H

#include <stddef.h>
#include <sys/socket.h>

#include "proto/msg.h"

/* Standard base64 (with '=' padding) of len bytes into out, NUL-terminated; out needs
 * udp_base64_len(len) + 1 bytes. */
size_t udp_base64_len(size_t len);
void udp_base64_encode(const void *data, size_t len, char *out);

/* Decodes standard base64 as Go's base64.StdEncoding does (padding required, CR and LF
 * skipped). Writes at most cap bytes. Returns 0 and sets *len, CFRP_EPROTO for bad
 * input or CFRP_ETOOBIG if cap is too small. */
int udp_base64_decode(const char *text, void *out, size_t cap, size_t *len);

/* Makes m a UDPPacket carrying data for peer raddr (AF_INET or AF_INET6; the zone of a
 * link-local IPv6 peer is kept). m owns what this allocates: msg_clear() it. Returns 0,
 * UV_ENOMEM or CFRP_EINVAL (unsupported address family). */
int udp_packet_build(msg *m, const void *data, size_t len, const struct sockaddr *raddr);

/* The socket address of a decoded "r"/"l" address. Returns 0 or CFRP_EINVAL when it is
 * absent, has no IP, a port outside 0-65535 or an unknown zone. */
int udp_packet_sockaddr(const msg_udp_addr *a, struct sockaddr_storage *ss);

/* The address as "ip:port" (IPv6 in brackets, with "%zone"), as frpc keys its per-peer
 * sockets. out needs 72 bytes. Returns 0 or CFRP_EINVAL. */
int udp_packet_addr_text(const msg_udp_addr *a, char *out, size_t cap);

#endif
