/* frp control and work-connection messages: C types and the JSON body codec.
 *
 * Every message type of frp v0.61.1 (protocol.md §3.3–3.4) has a struct here. The
 * encoder writes the JSON exactly as Go's encoding/json does for frp's structs (field
 * order, omitempty, HTML-safe escaping, sorted map keys); the decoder accepts what Go
 * accepts (case-insensitive keys, unknown keys ignored, null = zero value) and rejects
 * what Go rejects (type mismatches, fractions in integers, out-of-range ports).
 *
 * Ownership: a msg produced by msg_decode() owns every string and array it points to;
 * msg_clear() frees them. A msg the caller fills in for msg_encode() may point at the
 * caller's own memory; such a msg is never passed to msg_clear(). NULL and "" are both
 * the empty string; NULL arrays with n = 0 are empty arrays. */
#ifndef CFRP_PROTO_MSG_H
#define CFRP_PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_MAX_BODY 10240 /* frame body limit, both directions */

enum msg_type {
    MSG_LOGIN = 'o',
    MSG_LOGIN_RESP = '1',
    MSG_NEW_PROXY = 'p',
    MSG_NEW_PROXY_RESP = '2',
    MSG_CLOSE_PROXY = 'c',
    MSG_NEW_WORK_CONN = 'w',
    MSG_REQ_WORK_CONN = 'r',
    MSG_START_WORK_CONN = 's',
    MSG_NEW_VISITOR_CONN = 'v',
    MSG_NEW_VISITOR_CONN_RESP = '3',
    MSG_PING = 'h',
    MSG_PONG = '4',
    MSG_UDP_PACKET = 'u',
    MSG_NAT_HOLE_VISITOR = 'i',
    MSG_NAT_HOLE_CLIENT = 'n',
    MSG_NAT_HOLE_RESP = 'm',
    MSG_NAT_HOLE_SID = '5',
    MSG_NAT_HOLE_REPORT = '6'
};

typedef struct msg_strlist {
    char **v; /* n strings */
    size_t n;
} msg_strlist;

typedef struct msg_kv {
    char *key;
    char *val;
} msg_kv;

/* A JSON object of string values. Order is irrelevant: the encoder sorts by key. */
typedef struct msg_strmap {
    msg_kv *v;
    size_t n;
} msg_strmap;

typedef struct msg_client_spec {
    char *type; /* "ssh-tunnel" for frps's internal SSH gateway clients */
    bool always_auth_pass;
} msg_client_spec;

typedef struct msg_login {
    char *version;
    char *hostname;
    char *os;
    char *arch;
    char *user;
    char *privilege_key;
    int64_t timestamp;
    char *run_id;
    msg_strmap metas;
    msg_client_spec client_spec; /* always emitted, possibly as {} */
    int64_t pool_count;
} msg_login;

typedef struct msg_login_resp {
    char *version;
    char *run_id;
    char *error;
} msg_login_resp;

typedef struct msg_new_proxy {
    char *proxy_name;
    char *proxy_type;
    bool use_encryption;
    bool use_compression;
    char *bandwidth_limit;
    char *bandwidth_limit_mode;
    char *group;
    char *group_key;
    msg_strmap metas;
    msg_strmap annotations;
    int64_t remote_port;
    msg_strlist custom_domains;
    char *subdomain;
    msg_strlist locations;
    char *http_user;
    char *http_pwd;
    char *host_header_rewrite;
    msg_strmap headers;
    msg_strmap response_headers;
    char *route_by_http_user;
    char *sk;
    msg_strlist allow_users;
    char *multiplexer;
} msg_new_proxy;

typedef struct msg_new_proxy_resp {
    char *proxy_name;
    char *remote_addr;
    char *error;
} msg_new_proxy_resp;

typedef struct msg_close_proxy {
    char *proxy_name;
} msg_close_proxy;

typedef struct msg_new_work_conn {
    char *run_id;
    char *privilege_key;
    int64_t timestamp;
} msg_new_work_conn;

typedef struct msg_start_work_conn {
    char *proxy_name;
    char *src_addr;
    char *dst_addr;
    uint16_t src_port;
    uint16_t dst_port;
    char *error;
} msg_start_work_conn;

typedef struct msg_new_visitor_conn {
    char *run_id;
    char *proxy_name;
    char *sign_key;
    int64_t timestamp;
    bool use_encryption;
    bool use_compression;
} msg_new_visitor_conn;

typedef struct msg_new_visitor_conn_resp {
    char *proxy_name;
    char *error;
} msg_new_visitor_conn_resp;

typedef struct msg_ping {
    char *privilege_key;
    int64_t timestamp;
} msg_ping;

typedef struct msg_pong {
    char *error;
} msg_pong;

/* Go's *net.UDPAddr: absent (present = false) or all three keys. ip is the text form
 * Go prints (dotted IPv4, also for IPv4-mapped IPv6; RFC 5952 IPv6) or empty. */
typedef struct msg_udp_addr {
    bool present;
    char *ip;
    int64_t port;
    char *zone;
} msg_udp_addr;

typedef struct msg_udp_packet {
    char *content;        /* "c": standard base64 of the datagram (udp_packet.h) */
    msg_udp_addr laddr;   /* "l": never sent by frp 0.61.1 */
    msg_udp_addr raddr;   /* "r": the user's address */
} msg_udp_packet;

typedef struct msg_nat_hole_visitor {
    char *transaction_id;
    char *proxy_name;
    bool pre_check;
    char *protocol;
    char *sign_key;
    int64_t timestamp;
    msg_strlist mapped_addrs;
    msg_strlist assisted_addrs;
} msg_nat_hole_visitor;

typedef struct msg_nat_hole_client {
    char *transaction_id;
    char *proxy_name;
    char *sid;
    msg_strlist mapped_addrs;
    msg_strlist assisted_addrs;
} msg_nat_hole_client;

typedef struct msg_port_range {
    int64_t from;
    int64_t to;
} msg_port_range;

typedef struct msg_port_ranges {
    msg_port_range *v;
    size_t n;
} msg_port_ranges;

typedef struct msg_detect_behavior {
    char *role; /* "sender" or "receiver" */
    int64_t mode;
    int64_t ttl;
    int64_t send_delay_ms;
    int64_t read_timeout_ms; /* JSON key "read_timeout" */
    msg_port_ranges candidate_ports;
    int64_t send_random_ports;
    int64_t listen_random_ports;
} msg_detect_behavior;

typedef struct msg_nat_hole_resp {
    char *transaction_id;
    char *sid;
    char *protocol;
    msg_strlist candidate_addrs;
    msg_strlist assisted_addrs;
    msg_detect_behavior detect_behavior; /* always emitted, possibly as {} */
    char *error;
} msg_nat_hole_resp;

typedef struct msg_nat_hole_sid {
    char *transaction_id;
    char *sid;
    bool response;
    char *nonce;
} msg_nat_hole_sid;

typedef struct msg_nat_hole_report {
    char *sid;
    bool success;
} msg_nat_hole_report;

typedef struct msg {
    enum msg_type type;
    union {
        msg_login login;
        msg_login_resp login_resp;
        msg_new_proxy new_proxy;
        msg_new_proxy_resp new_proxy_resp;
        msg_close_proxy close_proxy;
        msg_new_work_conn new_work_conn;
        msg_start_work_conn start_work_conn;
        msg_new_visitor_conn new_visitor_conn;
        msg_new_visitor_conn_resp new_visitor_conn_resp;
        msg_ping ping;
        msg_pong pong;
        msg_udp_packet udp_packet;
        msg_nat_hole_visitor nat_hole_visitor;
        msg_nat_hole_client nat_hole_client;
        msg_nat_hole_resp nat_hole_resp;
        msg_nat_hole_sid nat_hole_sid;
        msg_nat_hole_report nat_hole_report;
    } u; /* ReqWorkConn has no fields */
} msg;

/* True if b is one of the 18 registered type bytes. */
bool msg_type_valid(int b);

/* Go's struct name of a type ("Login", "NewProxyResp", ...), "?" if unknown. */
const char *msg_type_name(int b);

/* Zeroes m and sets its type. */
void msg_init(msg *m, enum msg_type type);

/* Frees everything a decoded m owns and zeroes it (the type is kept). */
void msg_clear(msg *m);

/* Encodes the JSON body of m into out (capacity cap). On success returns 0 and sets
 * *len. CFRP_ETOOBIG if the body does not fit in cap, CFRP_EINVAL for an unencodable
 * value (an ip that is not an IP address). */
int msg_encode_body(const msg *m, char *out, size_t cap, size_t *len);

/* Decodes a JSON body as message type `type` into m (which is initialised here).
 * Returns 0, or CFRP_EPROTO with a reason in err; m is left empty on error. */
int msg_decode_body(enum msg_type type, const char *body, size_t len, msg *m, char *err,
                    size_t errlen);

#endif
