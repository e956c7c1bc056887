/* Socket addresses for frps's proxy listeners (proxyBindAddr): IP literals parsed on
 * the spot, host names looked up once per process and remembered, so that acquiring a
 * port or binding a udp proxy does not block the loop on DNS each time. */
#ifndef CFRP_SERVER_BIND_ADDR_H
#define CFRP_SERVER_BIND_ADDR_H

#include <sys/socket.h>

/* Fills *ss and *len with host:port. host is an IPv4 or IPv6 literal (an IPv6 zone,
 * "fe80::1%eth0", is kept) or a name; the wildcard forms ("", "0.0.0.0", "::") are the
 * callers' to handle. A name's first lookup blocks and its outcome is kept for the
 * life of the process; like Go's listeners, an IPv4 address is preferred. Returns 0,
 * or CFRP_ENOTFOUND when the name does not resolve. Thread-safe. */
int svr_bind_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);

/* The numeric text to listen on for host: host itself when it is empty or an IP literal,
 * else the address svr_bind_addr remembers for the name. Returns 0, CFRP_ENOTFOUND, or
 * UV_EINVAL / UV_ENOSPC when out (outlen bytes) is too small. */
int svr_bind_host(const char *host, char *out, size_t outlen);

#endif
