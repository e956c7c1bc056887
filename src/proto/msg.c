/* The JSON body codec of frp messages, driven by one field table per message type.
 *
 * Each table lists a struct's JSON keys in Go's declaration order with the field's
 * kind and offset; one encoder and one decoder walk the tables. The encoder mirrors
 * encoding/json's Marshal (omitempty, HTML-safe escapes, sorted map keys); decoding
 * uses jansson for the syntax and Go's rules for matching keys and types. */
#include "proto/msg.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "proto/ipaddr.h"

enum mf_kind {
    MF_STR,        /* char * */
    MF_BOOL,       /* bool */
    MF_I64,        /* int64_t (Go int and int64) */
    MF_U16,        /* uint16_t (Go uint16) */
    MF_STRLIST,    /* msg_strlist */
    MF_STRMAP,     /* msg_strmap */
    MF_OBJ,        /* a nested struct, never omitted (Go omits no struct) */
    MF_ADDR,       /* msg_udp_addr, Go *net.UDPAddr: omitted when not present */
    MF_IP,         /* char *, Go net.IP: text form, validated */
    MF_PORTRANGES  /* the candidate_ports list of msg_detect_behavior */
};

typedef struct mf_obj mf_obj;

typedef struct mf_field {
    const char *key;
    enum mf_kind kind;
    bool always; /* no omitempty tag */
    size_t off;
    const mf_obj *sub; /* MF_OBJ and MF_ADDR: the nested struct's table */
} mf_field;

struct mf_obj {
    const mf_field *f;
    size_t n;
};

#define F(st, key, kind, member) {key, kind, false, offsetof(st, member), NULL}
#define FA(st, key, kind, member) {key, kind, true, offsetof(st, member), NULL}
#define FS(st, key, kind, member, sub) {key, kind, false, offsetof(st, member), sub}
#define OBJ(arr) {arr, sizeof(arr) / sizeof(arr[0])}

static const mf_field f_client_spec[] = {
    F(msg_client_spec, "type", MF_STR, type),
    F(msg_client_spec, "always_auth_pass", MF_BOOL, always_auth_pass),
};
static const mf_obj o_client_spec = OBJ(f_client_spec);

static const mf_field f_login[] = {
    F(msg_login, "version", MF_STR, version),
    F(msg_login, "hostname", MF_STR, hostname),
    F(msg_login, "os", MF_STR, os),
    F(msg_login, "arch", MF_STR, arch),
    F(msg_login, "user", MF_STR, user),
    F(msg_login, "privilege_key", MF_STR, privilege_key),
    F(msg_login, "timestamp", MF_I64, timestamp),
    F(msg_login, "run_id", MF_STR, run_id),
    F(msg_login, "metas", MF_STRMAP, metas),
    FS(msg_login, "client_spec", MF_OBJ, client_spec, &o_client_spec),
    F(msg_login, "pool_count", MF_I64, pool_count),
};

static const mf_field f_login_resp[] = {
    F(msg_login_resp, "version", MF_STR, version),
    F(msg_login_resp, "run_id", MF_STR, run_id),
    F(msg_login_resp, "error", MF_STR, error),
};

static const mf_field f_new_proxy[] = {
    F(msg_new_proxy, "proxy_name", MF_STR, proxy_name),
    F(msg_new_proxy, "proxy_type", MF_STR, proxy_type),
    F(msg_new_proxy, "use_encryption", MF_BOOL, use_encryption),
    F(msg_new_proxy, "use_compression", MF_BOOL, use_compression),
    F(msg_new_proxy, "bandwidth_limit", MF_STR, bandwidth_limit),
    F(msg_new_proxy, "bandwidth_limit_mode", MF_STR, bandwidth_limit_mode),
    F(msg_new_proxy, "group", MF_STR, group),
    F(msg_new_proxy, "group_key", MF_STR, group_key),
    F(msg_new_proxy, "metas", MF_STRMAP, metas),
    F(msg_new_proxy, "annotations", MF_STRMAP, annotations),
    F(msg_new_proxy, "remote_port", MF_I64, remote_port),
    F(msg_new_proxy, "custom_domains", MF_STRLIST, custom_domains),
    F(msg_new_proxy, "subdomain", MF_STR, subdomain),
    F(msg_new_proxy, "locations", MF_STRLIST, locations),
    F(msg_new_proxy, "http_user", MF_STR, http_user),
    F(msg_new_proxy, "http_pwd", MF_STR, http_pwd),
    F(msg_new_proxy, "host_header_rewrite", MF_STR, host_header_rewrite),
    F(msg_new_proxy, "headers", MF_STRMAP, headers),
    F(msg_new_proxy, "response_headers", MF_STRMAP, response_headers),
    F(msg_new_proxy, "route_by_http_user", MF_STR, route_by_http_user),
    F(msg_new_proxy, "sk", MF_STR, sk),
    F(msg_new_proxy, "allow_users", MF_STRLIST, allow_users),
    F(msg_new_proxy, "multiplexer", MF_STR, multiplexer),
};

static const mf_field f_new_proxy_resp[] = {
    F(msg_new_proxy_resp, "proxy_name", MF_STR, proxy_name),
    F(msg_new_proxy_resp, "remote_addr", MF_STR, remote_addr),
    F(msg_new_proxy_resp, "error", MF_STR, error),
};

static const mf_field f_close_proxy[] = {
    F(msg_close_proxy, "proxy_name", MF_STR, proxy_name),
};

static const mf_field f_new_work_conn[] = {
    F(msg_new_work_conn, "run_id", MF_STR, run_id),
    F(msg_new_work_conn, "privilege_key", MF_STR, privilege_key),
    F(msg_new_work_conn, "timestamp", MF_I64, timestamp),
};

static const mf_field f_start_work_conn[] = {
    F(msg_start_work_conn, "proxy_name", MF_STR, proxy_name),
    F(msg_start_work_conn, "src_addr", MF_STR, src_addr),
    F(msg_start_work_conn, "dst_addr", MF_STR, dst_addr),
    F(msg_start_work_conn, "src_port", MF_U16, src_port),
    F(msg_start_work_conn, "dst_port", MF_U16, dst_port),
    F(msg_start_work_conn, "error", MF_STR, error),
};

static const mf_field f_new_visitor_conn[] = {
    F(msg_new_visitor_conn, "run_id", MF_STR, run_id),
    F(msg_new_visitor_conn, "proxy_name", MF_STR, proxy_name),
    F(msg_new_visitor_conn, "sign_key", MF_STR, sign_key),
    F(msg_new_visitor_conn, "timestamp", MF_I64, timestamp),
    F(msg_new_visitor_conn, "use_encryption", MF_BOOL, use_encryption),
    F(msg_new_visitor_conn, "use_compression", MF_BOOL, use_compression),
};

static const mf_field f_new_visitor_conn_resp[] = {
    F(msg_new_visitor_conn_resp, "proxy_name", MF_STR, proxy_name),
    F(msg_new_visitor_conn_resp, "error", MF_STR, error),
};

static const mf_field f_ping[] = {
    F(msg_ping, "privilege_key", MF_STR, privilege_key),
    F(msg_ping, "timestamp", MF_I64, timestamp),
};

static const mf_field f_pong[] = {
    F(msg_pong, "error", MF_STR, error),
};

static const mf_field f_udp_addr[] = {
    FA(msg_udp_addr, "IP", MF_IP, ip),
    FA(msg_udp_addr, "Port", MF_I64, port),
    FA(msg_udp_addr, "Zone", MF_STR, zone),
};
static const mf_obj o_udp_addr = OBJ(f_udp_addr);

static const mf_field f_udp_packet[] = {
    F(msg_udp_packet, "c", MF_STR, content),
    FS(msg_udp_packet, "l", MF_ADDR, laddr, &o_udp_addr),
    FS(msg_udp_packet, "r", MF_ADDR, raddr, &o_udp_addr),
};

static const mf_field f_nat_hole_visitor[] = {
    F(msg_nat_hole_visitor, "transaction_id", MF_STR, transaction_id),
    F(msg_nat_hole_visitor, "proxy_name", MF_STR, proxy_name),
    F(msg_nat_hole_visitor, "pre_check", MF_BOOL, pre_check),
    F(msg_nat_hole_visitor, "protocol", MF_STR, protocol),
    F(msg_nat_hole_visitor, "sign_key", MF_STR, sign_key),
    F(msg_nat_hole_visitor, "timestamp", MF_I64, timestamp),
    F(msg_nat_hole_visitor, "mapped_addrs", MF_STRLIST, mapped_addrs),
    F(msg_nat_hole_visitor, "assisted_addrs", MF_STRLIST, assisted_addrs),
};

static const mf_field f_nat_hole_client[] = {
    F(msg_nat_hole_client, "transaction_id", MF_STR, transaction_id),
    F(msg_nat_hole_client, "proxy_name", MF_STR, proxy_name),
    F(msg_nat_hole_client, "sid", MF_STR, sid),
    F(msg_nat_hole_client, "mapped_addrs", MF_STRLIST, mapped_addrs),
    F(msg_nat_hole_client, "assisted_addrs", MF_STRLIST, assisted_addrs),
};

static const mf_field f_port_range[] = {
    F(msg_port_range, "from", MF_I64, from),
    F(msg_port_range, "to", MF_I64, to),
};
static const mf_obj o_port_range = OBJ(f_port_range);

static const mf_field f_detect_behavior[] = {
    F(msg_detect_behavior, "role", MF_STR, role),
    F(msg_detect_behavior, "mode", MF_I64, mode),
    F(msg_detect_behavior, "ttl", MF_I64, ttl),
    F(msg_detect_behavior, "send_delay_ms", MF_I64, send_delay_ms),
    F(msg_detect_behavior, "read_timeout", MF_I64, read_timeout_ms),
    FS(msg_detect_behavior, "candidate_ports", MF_PORTRANGES, candidate_ports, &o_port_range),
    F(msg_detect_behavior, "send_random_ports", MF_I64, send_random_ports),
    F(msg_detect_behavior, "listen_random_ports", MF_I64, listen_random_ports),
};
static const mf_obj o_detect_behavior = OBJ(f_detect_behavior);

static const mf_field f_nat_hole_resp[] = {
    F(msg_nat_hole_resp, "transaction_id", MF_STR, transaction_id),
    F(msg_nat_hole_resp, "sid", MF_STR, sid),
    F(msg_nat_hole_resp, "protocol", MF_STR, protocol),
    F(msg_nat_hole_resp, "candidate_addrs", MF_STRLIST, candidate_addrs),
    F(msg_nat_hole_resp, "assisted_addrs", MF_STRLIST, assisted_addrs),
    FS(msg_nat_hole_resp, "detect_behavior", MF_OBJ, detect_behavior, &o_detect_behavior),
    F(msg_nat_hole_resp, "error", MF_STR, error),
};

static const mf_field f_nat_hole_sid[] = {
    F(msg_nat_hole_sid, "transaction_id", MF_STR, transaction_id),
    F(msg_nat_hole_sid, "sid", MF_STR, sid),
    F(msg_nat_hole_sid, "response", MF_BOOL, response),
    F(msg_nat_hole_sid, "nonce", MF_STR, nonce),
};

static const mf_field f_nat_hole_report[] = {
    F(msg_nat_hole_report, "sid", MF_STR, sid),
    F(msg_nat_hole_report, "success", MF_BOOL, success),
};

typedef struct mf_type {
    char type;
    const char *name;
    mf_obj obj;
} mf_type;

static const mf_type mf_types[] = {
    {MSG_LOGIN, "Login", OBJ(f_login)},
    {MSG_LOGIN_RESP, "LoginResp", OBJ(f_login_resp)},
    {MSG_NEW_PROXY, "NewProxy", OBJ(f_new_proxy)},
    {MSG_NEW_PROXY_RESP, "NewProxyResp", OBJ(f_new_proxy_resp)},
    {MSG_CLOSE_PROXY, "CloseProxy", OBJ(f_close_proxy)},
    {MSG_NEW_WORK_CONN, "NewWorkConn", OBJ(f_new_work_conn)},
    {MSG_REQ_WORK_CONN, "ReqWorkConn", {NULL, 0}},
    {MSG_START_WORK_CONN, "StartWorkConn", OBJ(f_start_work_conn)},
    {MSG_NEW_VISITOR_CONN, "NewVisitorConn", OBJ(f_new_visitor_conn)},
    {MSG_NEW_VISITOR_CONN_RESP, "NewVisitorConnResp", OBJ(f_new_visitor_conn_resp)},
    {MSG_PING, "Ping", OBJ(f_ping)},
    {MSG_PONG, "Pong", OBJ(f_pong)},
    {MSG_UDP_PACKET, "UDPPacket", OBJ(f_udp_packet)},
    {MSG_NAT_HOLE_VISITOR, "NatHoleVisitor", OBJ(f_nat_hole_visitor)},
    {MSG_NAT_HOLE_CLIENT, "NatHoleClient", OBJ(f_nat_hole_client)},
    {MSG_NAT_HOLE_RESP, "NatHoleResp", OBJ(f_nat_hole_resp)},
    {MSG_NAT_HOLE_SID, "NatHoleSid", OBJ(f_nat_hole_sid)},
    {MSG_NAT_HOLE_REPORT, "NatHoleReport", OBJ(f_nat_hole_report)},
};

static const mf_type *mf_lookup(int b)
{
    for (size_t i = 0; i < sizeof(mf_types) / sizeof(mf_types[0]); i++)
        if (mf_types[i].type == b)
            return &mf_types[i];
    return NULL;
}

bool msg_type_valid(int b)
{
    return mf_lookup(b) != NULL;
}

const char *msg_type_name(int b)
{
    const mf_type *t = mf_lookup(b);
    return t ? t->name : "?";
}

void msg_init(msg *m, enum msg_type type)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
}

/* ---- encoder ---- */

typedef struct mf_out {
    char *p;
    size_t len, cap;
    bool overflow;
} mf_out;

static void out_bytes(mf_out *o, const void *s, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void out_str(mf_out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

static void out_ch(mf_out *o, char c)
{
    out_bytes(o, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (n bytes available) by Go's rules (no
 * overlong forms, no surrogates, at most U+10FFFF), 0 if invalid. Sets *rune. */
static size_t mf_utf8_len(const unsigned char *s, size_t n, uint32_t *rune)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t r, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        r = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        r = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        r = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        r = r << 6 | (s[i] & 0x3f);
    }
    if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
        return 0;
    *rune = r;
    return len;
}

/* Writes s as a JSON string the way Go's encoder with HTML escaping does. */
static void out_json_str(mf_out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    out_ch(o, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c < 0x80) {
            char esc[6];
            switch (c) {
            case '"': out_str(o, "\\\""); break;
            case '\\': out_str(o, "\\\\"); break;
            case '\b': out_str(o, "\\b"); break;
            case '\f': out_str(o, "\\f"); break;
            case '\n': out_str(o, "\\n"); break;
            case '\r': out_str(o, "\\r"); break;
            case '\t': out_str(o, "\\t"); break;
            default:
                if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                    memcpy(esc, "\\u00", 4);
                    esc[4] = hex[c >> 4];
                    esc[5] = hex[c & 15];
                    out_bytes(o, esc, 6);
                } else {
                    out_ch(o, (char)c);
                }
            }
            i++;
            continue;
        }
        uint32_t r;
        size_t len = mf_utf8_len(p + i, n - i, &r);
        if (len == 0) {
            out_str(o, "\\ufffd");
            i++;
        } else if (r == 0x2028 || r == 0x2029) {
            out_str(o, r == 0x2028 ? "\\u2028" : "\\u2029");
            i += len;
        } else {
            out_bytes(o, p + i, len);
            i += len;
        }
    }
    out_ch(o, '"');
}

static void out_i64(mf_out *o, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    out_bytes(o, tmp, (size_t)n);
}

static int mf_kv_cmp(const void *a, const void *b)
{
    const msg_kv *x = *(const msg_kv *const *)a, *y = *(const msg_kv *const *)b;
    return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

static int out_strmap(mf_out *o, const msg_strmap *m)
{
    if (m->n == 0) {
        out_str(o, "{}");
        return 0;
    }
    const msg_kv **sorted = malloc(m->n * sizeof(*sorted));
    if (!sorted)
        return UV_ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        sorted[i] = &m->v[i];
    qsort(sorted, m->n, sizeof(*sorted), mf_kv_cmp);
    out_ch(o, '{');
    for (size_t i = 0; i < m->n; i++) {
        if (i > 0)
            out_ch(o, ',');
        out_json_str(o, sorted[i]->key);
        out_ch(o, ':');
        out_json_str(o, sorted[i]->val);
    }
    out_ch(o, '}');
    free(sorted);
    return 0;
}

static bool mf_str_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* True if Go's omitempty leaves the field out. */
static bool mf_is_empty(const mf_field *f, const char *base)
{
    const void *p = base + f->off;
    switch (f->kind) {
    case MF_STR:
    case MF_IP: return mf_str_empty(*(char *const *)p);
    case MF_BOOL: return !*(const bool *)p;
    case MF_I64: return *(const int64_t *)p == 0;
    case MF_U16: return *(const uint16_t *)p == 0;
    case MF_STRLIST: return ((const msg_strlist *)p)->n == 0;
    case MF_STRMAP: return ((const msg_strmap *)p)->n == 0;
    case MF_OBJ: return false;
    case MF_ADDR: return !((const msg_udp_addr *)p)->present;
    case MF_PORTRANGES: return ((const msg_port_ranges *)p)->n == 0;
    }
    return true;
}

static int out_obj(mf_out *o, const mf_obj *obj, const char *base);

static int out_value(mf_out *o, const mf_field *f, const char *base)
{
    const void *p = base + f->off;
    switch (f->kind) {
    case MF_STR: out_json_str(o, *(char *const *)p); return 0;
    case MF_BOOL: out_str(o, *(const bool *)p ? "true" : "false"); return 0;
    case MF_I64: out_i64(o, *(const int64_t *)p); return 0;
    case MF_U16: out_i64(o, *(const uint16_t *)p); return 0;
    case MF_IP: {
        const char *s = *(char *const *)p;
        uint8_t ip[16];
        char text[IPADDR_TEXT];
        if (mf_str_empty(s)) {
            out_str(o, "\"\"");
            return 0;
        }
        if (!ipaddr_parse(s, ip))
            return CFRP_EINVAL;
        ipaddr_format(ip, text);
        out_json_str(o, text);
        return 0;
    }
    case MF_STRLIST: {
        const msg_strlist *l = p;
        out_ch(o, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i > 0)
                out_ch(o, ',');
            out_json_str(o, l->v[i]);
        }
        out_ch(o, ']');
        return 0;
    }
    case MF_STRMAP: return out_strmap(o, p);
    case MF_OBJ:
    case MF_ADDR: return out_obj(o, f->sub, p);
    case MF_PORTRANGES: {
        const msg_port_ranges *l = p;
        out_ch(o, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i > 0)
                out_ch(o, ',');
            int rc = out_obj(o, f->sub, (const char *)&l->v[i]);
            if (rc < 0)
                return rc;
        }
        out_ch(o, ']');
        return 0;
    }
    }
    return CFRP_EINVAL;
}

static int out_obj(mf_out *o, const mf_obj *obj, const char *base)
{
    bool first = true;
    out_ch(o, '{');
    for (size_t i = 0; i < obj->n; i++) {
        const mf_field *f = &obj->f[i];
        if (!f->always && mf_is_empty(f, base))
            continue;
        if (!first)
            out_ch(o, ',');
        first = false;
        out_json_str(o, f->key);
        out_ch(o, ':');
        int rc = out_value(o, f, base);
        if (rc < 0)
            return rc;
    }
    out_ch(o, '}');
    return 0;
}

int msg_encode_body(const msg *m, char *out, size_t cap, size_t *len)
{
    const mf_type *t = mf_lookup(m->type);
    if (!t)
        return CFRP_EINVAL;
    mf_out o = {out, 0, cap, false};
    int rc = out_obj(&o, &t->obj, (const char *)&m->u);
    if (rc < 0)
        return rc;
    if (o.overflow)
        return CFRP_ETOOBIG;
    *len = o.len;
    return 0;
}

/* ---- freeing ---- */

static void strlist_clear(msg_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void strmap_clear(msg_strmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].key);
        free(m->v[i].val);
    }
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

static void clear_obj(const mf_obj *obj, char *base);

static void clear_field(const mf_field *f, char *base)
{
    void *p = base + f->off;
    switch (f->kind) {
    case MF_STR:
    case MF_IP:
        free(*(char **)p);
        *(char **)p = NULL;
        break;
    case MF_BOOL: *(bool *)p = false; break;
    case MF_I64: *(int64_t *)p = 0; break;
    case MF_U16: *(uint16_t *)p = 0; break;
    case MF_STRLIST: strlist_clear(p); break;
    case MF_STRMAP: strmap_clear(p); break;
    case MF_OBJ: clear_obj(f->sub, p); break;
    case MF_ADDR:
        clear_obj(f->sub, p);
        ((msg_udp_addr *)p)->present = false;
        break;
    case MF_PORTRANGES: {
        msg_port_ranges *l = p;
        free(l->v);
        l->v = NULL;
        l->n = 0;
        break;
    }
    }
}

static void clear_obj(const mf_obj *obj, char *base)
{
    for (size_t i = 0; i < obj->n; i++)
        clear_field(&obj->f[i], base);
}

void msg_clear(msg *m)
{
    const mf_type *t = mf_lookup(m->type);
    enum msg_type type = m->type;
    if (t)
        clear_obj(&t->obj, (char *)&m->u);
    msg_init(m, type);
}

/* ---- decoder ---- */

/* Go matches JSON keys to field names with Unicode simple case folding. The field names
 * are ASCII; the only non-ASCII runes folding to ASCII letters are U+212A KELVIN SIGN
 * (k) and U+017F LONG S (s). */
static bool mf_key_matches(const char *key, const char *name)
{
    const unsigned char *k = (const unsigned char *)key;
    for (const char *n = name; *n; n++) {
        char want = (char)(*n >= 'A' && *n <= 'Z' ? *n + 32 : *n);
        if (k[0] < 0x80) {
            char c = (char)(k[0] >= 'A' && k[0] <= 'Z' ? k[0] + 32 : k[0]);
            if (c != want)
                return false;
            k++;
        } else if (want == 'k' && k[0] == 0xe2 && k[1] == 0x84 && k[2] == 0xaa) {
            k += 3;
        } else if (want == 's' && k[0] == 0xc5 && k[1] == 0xbf) {
            k += 2;
        } else {
            return false;
        }
    }
    return *k == '\0';
}

static const char *mf_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "number";
    case JSON_REAL: return "number (not an integer)";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_NULL: return "null";
    }
    return "?";
}

static int mf_type_err(const char *key, const json_t *v, const char *want, char *err,
                       size_t errlen)
{
    err_set(err, errlen, "json: cannot unmarshal %s into field \"%s\" of type %s",
            mf_json_kind(v), key, want);
    return CFRP_EPROTO;
}

static int dec_obj(const mf_obj *obj, const json_t *j, char *base, char *err,
                   size_t errlen);

/* A string or null (as ""), into a new heap copy in *out. */
static int dec_elem_str(const char *key, const json_t *v, char **out, char *err,
                        size_t errlen)
{
    const char *s = "";
    if (json_is_string(v))
        s = json_string_value(v);
    else if (!json_is_null(v))
        return mf_type_err(key, v, "string", err, errlen);
    *out = strdup(s);
    return *out ? 0 : UV_ENOMEM;
}

static int dec_strlist(const mf_field *f, const json_t *v, msg_strlist *l, char *err,
                       size_t errlen)
{
    strlist_clear(l);
    if (json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return mf_type_err(f->key, v, "[]string", err, errlen);
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    l->v = calloc(n, sizeof(*l->v));
    if (!l->v)
        return UV_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = dec_elem_str(f->key, json_array_get(v, i), &l->v[i], err, errlen);
        l->n = i + (rc == 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int dec_strmap(const mf_field *f, const json_t *v, msg_strmap *m, char *err,
                      size_t errlen)
{
    strmap_clear(m);
    if (json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return mf_type_err(f->key, v, "map[string]string", err, errlen);
    size_t n = json_object_size(v);
    if (n == 0)
        return 0;
    m->v = calloc(n, sizeof(*m->v));
    if (!m->v)
        return UV_ENOMEM;
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e)
    {
        msg_kv *kv = &m->v[m->n];
        kv->key = strdup(k);
        if (!kv->key)
            return UV_ENOMEM;
        m->n++;
        int rc = dec_elem_str(f->key, e, &kv->val, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int dec_portranges(const mf_field *f, const json_t *v, msg_port_ranges *l,
                          char *err, size_t errlen)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
    if (json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return mf_type_err(f->key, v, "[]PortsRange", err, errlen);
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    l->v = calloc(n, sizeof(*l->v));
    if (!l->v)
        return UV_ENOMEM;
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (json_is_null(e))
            continue;
        if (!json_is_object(e))
            return mf_type_err(f->key, e, "PortsRange", err, errlen);
        int rc = dec_obj(f->sub, e, (char *)&l->v[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int dec_field(const mf_field *f, const json_t *v, char *base, char *err,
                     size_t errlen)
{
    void *p = base + f->off;
    switch (f->kind) {
    case MF_STR:
        if (json_is_null(v))
            return 0; /* null leaves a string as it is */
        if (!json_is_string(v))
            return mf_type_err(f->key, v, "string", err, errlen);
        free(*(char **)p);
        *(char **)p = strdup(json_string_value(v));
        return *(char **)p ? 0 : UV_ENOMEM;
    case MF_IP: {
        uint8_t ip[16];
        char text[IPADDR_TEXT];
        if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
            free(*(char **)p);
            *(char **)p = NULL;
            return 0;
        }
        if (!json_is_string(v))
            return mf_type_err(f->key, v, "net.IP", err, errlen);
        if (!ipaddr_parse(json_string_value(v), ip)) {
            err_set(err, errlen, "invalid IP address in field \"%s\"", f->key);
            return CFRP_EPROTO;
        }
        ipaddr_format(ip, text);
        free(*(char **)p);
        *(char **)p = strdup(text);
        return *(char **)p ? 0 : UV_ENOMEM;
    }
    case MF_BOOL:
        if (json_is_null(v))
            return 0;
        if (!json_is_boolean(v))
            return mf_type_err(f->key, v, "bool", err, errlen);
        *(bool *)p = json_is_true(v);
        return 0;
    case MF_I64:
        if (json_is_null(v))
            return 0;
        if (!json_is_integer(v))
            return mf_type_err(f->key, v, "int", err, errlen);
        *(int64_t *)p = (int64_t)json_integer_value(v);
        return 0;
    case MF_U16:
        if (json_is_null(v))
            return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 65535)
            return mf_type_err(f->key, v, "uint16", err, errlen);
        *(uint16_t *)p = (uint16_t)json_integer_value(v);
        return 0;
    case MF_STRLIST: return dec_strlist(f, v, p, err, errlen);
    case MF_STRMAP: return dec_strmap(f, v, p, err, errlen);
    case MF_OBJ:
        if (json_is_null(v))
            return 0;
        if (!json_is_object(v))
            return mf_type_err(f->key, v, "object", err, errlen);
        return dec_obj(f->sub, v, p, err, errlen);
    case MF_ADDR:
        if (json_is_null(v)) {
            clear_field(f, base);
            return 0;
        }
        if (!json_is_object(v))
            return mf_type_err(f->key, v, "net.UDPAddr", err, errlen);
        ((msg_udp_addr *)p)->present = true;
        return dec_obj(f->sub, v, p, err, errlen);
    case MF_PORTRANGES: return dec_portranges(f, v, p, err, errlen);
    }
    return CFRP_EINVAL;
}

static int dec_obj(const mf_obj *obj, const json_t *j, char *base, char *err,
                   size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        for (size_t i = 0; i < obj->n; i++) {
            if (!mf_key_matches(key, obj->f[i].key))
                continue;
            int rc = dec_field(&obj->f[i], v, base, err, errlen);
            if (rc < 0)
                return rc;
            break;
        }
    }
    return 0;
}

int msg_decode_body(enum msg_type type, const char *body, size_t len, msg *m, char *err,
                    size_t errlen)
{
    const mf_type *t = mf_lookup(type);
    msg_init(m, type);
    if (!t) {
        err_set(err, errlen, "message type error");
        return CFRP_EPROTO;
    }
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    if (!j) {
        err_set(err, errlen, "invalid JSON in %s: %s", t->name, jerr.text);
        return CFRP_EPROTO;
    }
    int rc = 0;
    if (json_is_object(j)) {
        rc = dec_obj(&t->obj, j, (char *)&m->u, err, errlen);
    } else if (!json_is_null(j)) {
        err_set(err, errlen, "json: cannot unmarshal %s into %s", mf_json_kind(j), t->name);
        rc = CFRP_EPROTO;
    }
    json_decref(j);
    if (rc == UV_ENOMEM)
        err_set(err, errlen, "out of memory");
    if (rc < 0)
        msg_clear(m);
    return rc;
}
