/* Go's DetectContentType: the signatures of the WHATWG MIME Sniffing Standard (HTML
 * tags after leading whitespace, XML, PDF, PostScript, byte order marks, images,
 * audio/video, fonts, archives, wasm), tried in Go's order, then the text check. */
#include "http/http_sniff.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define CT_HTML "text/html; charset=utf-8"
#define CT_TEXT "text/plain; charset=utf-8"

/* A byte pattern: data[i] & mask[i] must equal pat[i] for every i < n (mask NULL:
 * all 0xFF); ws: matched after the leading whitespace. */
typedef struct sniff_pat {
    const char *pat;
    const char *mask;
    size_t n;
    bool ws;
    const char *type;
} sniff_pat;

#define EXACT(p, t) {p, NULL, sizeof(p) - 1, false, t}
#define MASKED(p, m, t) {p, m, sizeof(p) - 1, false, t}

/* HTML tags (upper case here; matched case-insensitively), then a space or '>'. */
static const char *const sniff_html[] = {"<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME",
                                         "<H1", "<DIV", "<FONT", "<TABLE", "<A", "<STYLE",
                                         "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--"};

/* After the HTML tags and before mp4 and the text check, in Go's order. */
static const sniff_pat sniff_before_mp4[] = {
    {"<?xml", NULL, 5, true, "text/xml; charset=utf-8"},
    EXACT("%PDF-", "application/pdf"),
    EXACT("%!PS-Adobe-", "application/postscript"),
    MASKED("\xFE\xFF\x00\x00", "\xFF\xFF\x00\x00", "text/plain; charset=utf-16be"),
    MASKED("\xFF\xFE\x00\x00", "\xFF\xFF\x00\x00", "text/plain; charset=utf-16le"),
    MASKED("\xEF\xBB\xBF\x00", "\xFF\xFF\xFF\x00", CT_TEXT),
    EXACT("\x00\x00\x01\x00", "image/x-icon"),
    EXACT("\x00\x00\x02\x00", "image/x-icon"),
    EXACT("BM", "image/bmp"),
    EXACT("GIF87a", "image/gif"),
    EXACT("GIF89a", "image/gif"),
    MASKED("RIFF\x00\x00\x00\x00WEBPVP", "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF",
           "image/webp"),
    EXACT("\x89PNG\r\n\x1A\n", "image/png"),
    EXACT("\xFF\xD8\xFF", "image/jpeg"),
    MASKED("FORM\x00\x00\x00\x00" "AIFF", "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
           "audio/aiff"),
    EXACT("ID3", "audio/mpeg"),
    EXACT("OggS\x00", "application/ogg"),
    EXACT("MThd\x00\x00\x00\x06", "audio/midi"),
    MASKED("RIFF\x00\x00\x00\x00" "AVI ", "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
           "video/avi"),
    MASKED("RIFF\x00\x00\x00\x00WAVE", "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
           "audio/wave"),
};

/* After mp4. */
static const sniff_pat sniff_after_mp4[] = {
    EXACT("\x1A\x45\xDF\xA3", "video/webm"),
    /* Embedded OpenType: 34 bytes of anything, then "LP". */
    MASKED("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
           "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00LP",
           "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
           "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xFF\xFF",
           "application/vnd.ms-fontobject"),
    EXACT("\x00\x01\x00\x00", "font/ttf"),
    EXACT("OTTO", "font/otf"),
    EXACT("ttcf", "font/collection"),
    EXACT("wOFF", "font/woff"),
    EXACT("wOF2", "font/woff2"),
    EXACT("\x1F\x8B\x08", "application/x-gzip"),
    EXACT("PK\x03\x04", "application/zip"),
    EXACT("Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    EXACT("Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    EXACT("\x00\x61\x73\x6D", "application/wasm"),
};

static bool sniff_is_ws(unsigned char c)
{
    return c == '\t' || c == '\n' || c == '\x0c' || c == '\r' || c == ' ';
}

static bool sniff_match(const sniff_pat *p, const unsigned char *d, size_t n, size_t ws)
{
    if (p->ws) {
        d += ws;
        n -= ws;
    }
    if (n < p->n) return false;
    for (size_t i = 0; i < p->n; i++) {
        unsigned char m = p->mask ? (unsigned char)p->mask[i] : 0xFF;
        if ((d[i] & m) != (unsigned char)p->pat[i]) return false;
    }
    return true;
}

/* tag (upper case) at d, letters compared without case, then ' ' or '>'. */
static bool sniff_html_tag(const char *tag, const unsigned char *d, size_t n)
{
    size_t tl = strlen(tag);
    if (n < tl + 1) return false;
    for (size_t i = 0; i < tl; i++) {
        unsigned char c = d[i];
        if (tag[i] >= 'A' && tag[i] <= 'Z') c &= 0xDF;
        if (c != (unsigned char)tag[i]) return false;
    }
    return d[tl] == ' ' || d[tl] == '>';
}

/* An ISO base media file whose "ftyp" box names an "mp4" brand (major or compatible). */
static bool sniff_mp4(const unsigned char *d, size_t n)
{
    if (n < 12) return false;
    uint32_t box = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    if (box % 4 != 0 || n < box || memcmp(d + 4, "ftyp", 4) != 0) return false;
    for (uint32_t at = 8; at < box; at += 4) {
        if (at == 12) continue; /* the major brand's version */
        if (memcmp(d + at, "mp4", 3) == 0) return true;
    }
    return false;
}

/* No byte that only binary data has (controls other than TAB, LF, FF, CR and ESC). */
static bool sniff_text(const unsigned char *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = d[i];
        if (c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1A) || (c >= 0x1C && c <= 0x1F))
            return false;
    }
    return true;
}

const char *http_sniff(const void *data, size_t len)
{
    const unsigned char *d = data;
    size_t n = len < HTTP_SNIFF_LEN ? len : HTTP_SNIFF_LEN;
    size_t ws = 0;
    while (ws < n && sniff_is_ws(d[ws])) ws++;
    for (size_t i = 0; i < sizeof sniff_html / sizeof sniff_html[0]; i++)
        if (sniff_html_tag(sniff_html[i], d + ws, n - ws)) return CT_HTML;
    for (size_t i = 0; i < sizeof sniff_before_mp4 / sizeof sniff_before_mp4[0]; i++)
        if (sniff_match(&sniff_before_mp4[i], d, n, ws)) return sniff_before_mp4[i].type;
    if (sniff_mp4(d, n)) return "video/mp4";
    for (size_t i = 0; i < sizeof sniff_after_mp4 / sizeof sniff_after_mp4[0]; i++)
        if (sniff_match(&sniff_after_mp4[i], d, n, ws)) return sniff_after_mp4[i].type;
    if (sniff_text(d + ws, n - ws)) return CT_TEXT;
    return "application/octet-stream";
}
