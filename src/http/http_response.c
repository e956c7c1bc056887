/* HTTP/1.x response head parser: head collection, tokenizing, framing. */
#include "http/http_response.h"

#include <string.h>

#include "base/err.h"

void http_response_parser_init(http_response_parser *p)
{
    memset(p, 0, sizeof(*p));
    http_head_init(&p->head, false);
}

void http_response_parser_free(http_response_parser *p)
{
    http_head_free(&p->head);
}

void http_response_parser_reset(http_response_parser *p)
{
    http_head_reset(&p->head);
    memset(&p->resp, 0, sizeof(p->resp));
}

static int finish(http_response_parser *p, enum http_method req_method, char *err,
                  size_t errlen)
{
    http_response *r = &p->resp;
    const char *reason;
    size_t reason_len;
    int rc = http_head_tokenize(&p->head, &p->hp, HTTP_RESPONSE, &reason, &reason_len, err,
                                errlen);
    if (rc != 0)
        return rc;
    if (p->hp.http_major != 1 || p->hp.http_minor > 1) {
        err_set(err, errlen, "unsupported HTTP version in response");
        return CFRP_EPARSE;
    }
    if (p->hp.status_code < 100 || p->hp.status_code > 999) {
        err_set(err, errlen, "invalid status code");
        return CFRP_EPARSE;
    }
    rc = http_head_check_headers(&p->head, err, errlen);
    if (rc != 0)
        return rc;
    r->status = (int)p->hp.status_code;
    r->reason = reason_len ? reason : "";
    r->reason_len = reason_len;
    r->version_minor = p->hp.http_minor;
    r->headers = p->head.hdrs;
    r->nheaders = p->head.nhdrs;

    const http_header *te;
    size_t nte = http_header_count(r->headers, r->nheaders, "Transfer-Encoding", &te);
    bool has_cl;
    uint64_t cl;
    rc = http_head_content_length(r->headers, r->nheaders, &has_cl, &cl, err, errlen);
    if (rc != 0)
        return rc;
    bool chunked = false;
    if (nte > 0 && r->version_minor == 1) {
        if (nte > 1 || !http_token_eq(te->value, te->value_len, "chunked")) {
            err_set(err, errlen, "unsupported transfer encoding in response");
            return CFRP_EPARSE;
        }
        chunked = true;
    }
    r->keep_alive = r->version_minor == 1
                        ? !http_header_has_token(r->headers, r->nheaders, "Connection", "close")
                        : http_header_has_token(r->headers, r->nheaders, "Connection",
                                                "keep-alive");
    if (r->status == 101 || (req_method == HTTP_CONNECT && r->status / 100 == 2)) {
        r->body = HTTP_BODY_TUNNEL;
        r->keep_alive = false;
    } else if (r->status / 100 == 1) {
        r->body = HTTP_BODY_NONE;
        r->interim = true;
    } else if (req_method == HTTP_HEAD || r->status == 204 || r->status == 304) {
        r->body = HTTP_BODY_NONE;
        r->has_content_length = has_cl && !chunked;
        r->content_length = r->has_content_length ? cl : 0;
    } else if (chunked) {
        r->body = HTTP_BODY_CHUNKED;
    } else if (has_cl) {
        r->body = cl > 0 ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
        r->has_content_length = true;
        r->content_length = cl;
    } else {
        r->body = HTTP_BODY_CLOSE;
        r->keep_alive = false;
    }
    return HTTP_DONE;
}

int http_response_feed(http_response_parser *p, enum http_method req_method, const char *data,
                       size_t len, size_t *consumed, char *err, size_t errlen)
{
    *consumed = 0;
    int rc = http_head_collect(&p->head, data, len, consumed, err, errlen);
    if (rc != HTTP_DONE)
        return rc;
    return finish(p, req_method, err, errlen);
}
