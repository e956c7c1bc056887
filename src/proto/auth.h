/* frp's authentication keys: privilege_key (token auth) and sign_key (visitors). */
#ifndef CFRP_PROTO_AUTH_H
#define CFRP_PROTO_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#define AUTH_KEY_HEX 33 /* 32 lowercase hex digits + NUL */

/* out = lowercase hex of MD5(key bytes || decimal ASCII of timestamp). key may be NULL
 * for the empty string. Used for Login/Ping/NewWorkConn privilege_key (key = token)
 * and NewVisitorConn/NatHoleVisitor sign_key (key = secret key). */
void auth_key(const char *key, int64_t timestamp, char out[AUTH_KEY_HEX]);

/* Compares a received key with auth_key(key, timestamp) in constant time. The
 * timestamp is not checked against the clock (frp does not). */
bool auth_key_verify(const char *key, int64_t timestamp, const char *received);

#endif
