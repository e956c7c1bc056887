/* Unit tests for Content-Type sniffing (http/http_sniff.h) with the outcomes Go's
 * http.DetectContentType documents in its own tests, plus the table's other rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_sniff.h"

#define SNIFF(lit) http_sniff(lit, sizeof(lit) - 1)

static void test_go_outcomes(void **state)
{
    assert_string_equal(http_sniff("", 0), "text/plain; charset=utf-8");
    assert_string_equal(SNIFF("\x01\x02\x03"), "application/octet-stream");
    assert_string_equal(SNIFF("<HtMl><bOdY>blah blah blah</body></html>"), "text/html; charset=utf-8");
    assert_string_equal(SNIFF("<HTML></HTML>"), "text/html; charset=utf-8");
    assert_string_equal(SNIFF("   <!DOCTYPE HTML>..."), "text/html; charset=utf-8");
    assert_string_equal(SNIFF("\r\n<html>..."), "text/html; charset=utf-8");
    assert_string_equal(SNIFF("This is not HTML. It has \xe2\x98\x83 though."), "text/plain; charset=utf-8");
    assert_string_equal(SNIFF("\n<?xml!"), "text/xml; charset=utf-8");
    assert_string_equal(SNIFF("GIF87a"), "image/gif");
    assert_string_equal(SNIFF("GIF89a..."), "image/gif");
    assert_string_equal(SNIFF("MThd\x00\x00\x00\x06\x00\x01"), "audio/midi");
    assert_string_equal(SNIFF("ID3\x03\x00\x00\x00\x00\x0f"), "audio/mpeg");
    assert_string_equal(SNIFF("RIFFb\xb8\x00\x00WAVEfmt \x12\x00\x00\x00\x06"), "audio/wave");
    assert_string_equal(SNIFF("RIFF,\x00\x00\x00WAVEfmt \x12\x00\x00\x00\x06"), "audio/wave");
    assert_string_equal(SNIFF("FORM\x00\x00\x00\x00" "AIFFCOMM\x00\x00\x00\x12\x00\x01\x00\x00\x57\x55"),
                        "audio/aiff");
    assert_string_equal(SNIFF("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x7e\x46"), "application/ogg");
    assert_string_equal(SNIFF("\x00\x00\x00\x18" "ftypmp42\x00\x00\x00\x00mp42isom<\x06t\xbfmdat"),
                        "video/mp4");
    assert_string_equal(SNIFF("RIFF,O\n\x00" "AVI LIST\xc3\x80"), "video/avi");
    assert_string_equal(SNIFF("RIFF,\n\x00\x00" "AVI LIST\xc3\x80"), "video/avi");
}

static void test_table_rows(void **state)
{
    assert_string_equal(SNIFF("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "image/png");
    assert_string_equal(SNIFF("\xff\xd8\xff\xe0\x00\x10JFIF"), "image/jpeg");
    assert_string_equal(SNIFF("BM\x36\x00"), "image/bmp");
    assert_string_equal(SNIFF("\x00\x00\x01\x00\x01\x00"), "image/x-icon");
    assert_string_equal(SNIFF("RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp");
    assert_string_equal(SNIFF("%PDF-1.7\n"), "application/pdf");
    assert_string_equal(SNIFF("%!PS-Adobe-3.0"), "application/postscript");
    assert_string_equal(SNIFF("\xfe\xff\x00h"), "text/plain; charset=utf-16be");
    assert_string_equal(SNIFF("\xff\xfeh\x00"), "text/plain; charset=utf-16le");
    assert_string_equal(SNIFF("\xef\xbb\xbfhi"), "text/plain; charset=utf-8");
    assert_string_equal(SNIFF("\x1a\x45\xdf\xa3\x9f"), "video/webm");
    assert_string_equal(SNIFF("wOF2\x00\x01\x00\x00"), "font/woff2");
    assert_string_equal(SNIFF("wOFF\x00\x01\x00\x00"), "font/woff");
    assert_string_equal(SNIFF("\x00\x01\x00\x00\x00\x10"), "font/ttf");
    assert_string_equal(SNIFF("OTTO\x00\x0b"), "font/otf");
    assert_string_equal(SNIFF("ttcf\x00\x01"), "font/collection");
    char eot[40] = {0};
    eot[34] = 'L';
    eot[35] = 'P';
    eot[8] = 0x02; /* anything before "LP" */
    assert_string_equal(http_sniff(eot, sizeof eot), "application/vnd.ms-fontobject");
    assert_string_equal(SNIFF("\x1f\x8b\x08\x00"), "application/x-gzip");
    assert_string_equal(SNIFF("PK\x03\x04\x14\x00"), "application/zip");
    assert_string_equal(SNIFF("Rar!\x1a\x07\x00\xcf"), "application/x-rar-compressed");
    assert_string_equal(SNIFF("Rar!\x1a\x07\x01\x00"), "application/x-rar-compressed");
    assert_string_equal(SNIFF("\x00" "asm\x01\x00\x00\x00"), "application/wasm");
    assert_string_equal(SNIFF("{\"json\": true}\n"), "text/plain; charset=utf-8");
}

static void test_edges(void **state)
{
    /* a tag must end with a space or '>' */
    assert_string_equal(SNIFF("<htmlx>"), "text/plain; charset=utf-8");
    assert_string_equal(SNIFF("<p class=x>hi"), "text/html; charset=utf-8");
    assert_string_equal(SNIFF("<!-- c -->"), "text/html; charset=utf-8");
    assert_string_equal(SNIFF("<b"), "text/plain; charset=utf-8"); /* too short */
    /* XML after whitespace, but binary signatures only at the very start */
    assert_string_equal(SNIFF(" \t<?xml version"), "text/xml; charset=utf-8");
    assert_string_equal(SNIFF(" %PDF-1.4"), "text/plain; charset=utf-8");
    /* ESC, TAB, LF, FF and CR are text; other controls are not */
    assert_string_equal(SNIFF("a\x1b[0m\t\r\n\x0c"), "text/plain; charset=utf-8");
    assert_string_equal(SNIFF("abc\x7f\x80\xff"), "text/plain; charset=utf-8");
    assert_string_equal(SNIFF("abc\x0b"), "application/octet-stream");
    assert_string_equal(SNIFF("abc\x1c"), "application/octet-stream");
    /* only the first 512 bytes count */
    char big[700];
    memset(big, 'a', sizeof big);
    big[600] = 0x01;
    assert_string_equal(http_sniff(big, sizeof big), "text/plain; charset=utf-8");
    big[511] = 0x01;
    assert_string_equal(http_sniff(big, sizeof big), "application/octet-stream");
    /* an mp4 box larger than the data, or not a multiple of 4, is not mp4 */
    assert_string_equal(SNIFF("\x00\x00\x01\x00" "ftypmp42\x00\x00\x00\x00"), "image/x-icon");
    assert_string_equal(SNIFF("\x00\x00\x00\x13" "ftypmp42\x00\x00\x00\x00mp42isom"),
                        "application/octet-stream");
    assert_string_equal(SNIFF("\x00\x00\x00\x10" "ftypisom\x00\x00\x00\x00"), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_outcomes),
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
