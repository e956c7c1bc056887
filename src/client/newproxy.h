/* NewProxy messages built from the typed proxy config exactly as frpc's
 * ProxyConfigurer.MarshalToMsg fills them (protocol.md 3.4, vectors/messages.txt). */
#ifndef CFRP_CLIENT_NEWPROXY_H
#define CFRP_CLIENT_NEWPROXY_H

#include "config/client_config.h"
#include "proto/msg.h"

/* Fills m (initialised here as MSG_NEW_PROXY) from the completed proxy p. Strings and
 * string lists point into p (keep p alive while m is used); the key/value arrays of
 * the maps are allocated: release them with client_new_proxy_release(), never with
 * msg_clear(). Returns 0 or UV_ENOMEM (m then holds nothing to release). */
int client_new_proxy_build(const struct cfg_proxy *p, msg *m);
void client_new_proxy_release(msg *m);

#endif
