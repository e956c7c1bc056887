/* IP address text as Go's net package parses and prints it (net.ParseIP, IP.String).
 * Shared by the message codec (UDPPacket addresses) and the PROXY protocol builder. */
#ifndef CFRP_PROTO_IPADDR_H
#define CFRP_PROTO_IPADDR_H

#include <stdbool.h>
#include <stdint.h>

#define IPADDR_TEXT 46 /* longest text form + NUL */

/* Parses dotted IPv4 or IPv6 text (no zone, no brackets) into 16 bytes; IPv4 becomes
 * ::ffff:a.b.c.d. Returns false if s is not an address. */
bool ipaddr_parse(const char *s, uint8_t ip[16]);

/* True if ip is an IPv4 or IPv4-mapped address (Go's To4() != nil). */
bool ipaddr_is_v4(const uint8_t ip[16]);

/* Writes Go's IP.String(): dotted for IPv4 and IPv4-mapped, else RFC 5952 with the
 * longest (first on a tie) run of two or more zero groups shortened to "::". */
void ipaddr_format(const uint8_t ip[16], char out[IPADDR_TEXT]);

#endif
