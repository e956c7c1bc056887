/* TLS ClientHello server_name (SNI) extraction for the https vhost router, without
 * consuming anything: the caller keeps every byte it read (to replay them to the
 * backend) and calls sni_parse on the whole prefix each time more arrive.
 * The ClientHello may span several TLS records; it is reassembled up to Go's limit
 * of 65536 bytes per handshake message and checked as strictly as Go's crypto/tls
 * parses it (frps uses Go's parser): lengths consistent, no duplicate extensions, one
 * host_name, no trailing dot. */
#ifndef CFRP_HTTP_SNI_H
#define CFRP_HTTP_SNI_H

#include <stddef.h>

#define SNI_NAME_MAX 255
#define SNI_HANDSHAKE_MAX 65536
/* Most bytes a ClientHello can occupy on the wire (1-byte records, each with a
 * 5-byte header). Callers may buffer less and treat overflow as invalid: real
 * ClientHellos are a few KiB. */
#define SNI_BYTES_MAX ((4 + SNI_HANDSHAKE_MAX) * 6)

enum { SNI_NEED_MORE = 0, SNI_FOUND = 1, SNI_NONE = 2 };

/* Parses the ClientHello at the start of data. Returns SNI_NEED_MORE, SNI_FOUND
 * (name lower-cased and NUL-terminated in name, which holds SNI_NAME_MAX + 1 bytes),
 * SNI_NONE (a valid ClientHello without server_name: route by "") or CFRP_EPARSE
 * (not a TLS ClientHello: close the connection). */
int sni_parse(const unsigned char *data, size_t len, char name[SNI_NAME_MAX + 1]);

#endif
