/* PROXY protocol v1/v2 headers that frpc writes to the local service (protocol.md §7,
 * go-proxyproto v0.7.0's Header.Format as frp uses it). */
#ifndef CFRP_PROTO_PROXY_PROTOCOL_H
#define CFRP_PROTO_PROXY_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define PROXY_PROTOCOL_MAX 108 /* fits any header this module builds */

/* Builds the header for StartWorkConn addresses. version is 1 or 2. src_addr is an IP
 * text, possibly with a "%zone" (ignored); dst_addr NULL or "" means 127.0.0.1. The
 * family is TCP4 if src_addr contains a '.', else TCP6 (IPv4 addresses then appear
 * IPv4-mapped). Writes into out (capacity cap) and sets *len. Returns 0, or
 * CFRP_EINVAL when an address is not an IP or does not fit the family (an IPv6
 * destination with TCP4), or CFRP_ETOOBIG if cap is too small. The caller writes a
 * header only when src_addr is non-empty and src_port non-zero. */
int proxy_protocol_build(int version, const char *src_addr, uint16_t src_port,
                         const char *dst_addr, uint16_t dst_port, char *out, size_t cap,
                         size_t *len);

#endif
