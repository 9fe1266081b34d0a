/*
 * escape_test.c - peer bytes escaped for a terminal (src/prog/escape.h).
 *
 * Single bytes are checked against a rule written here independently (a
 * lone byte >= 0x80 is never well-formed UTF-8); sequences against a table
 * written by hand from docs/programs.md; and a small output buffer against
 * the one-shot result, so that chunked printing never splits a sequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "src/prog/escape.h"

static void expect_escaped(const char *in, size_t len, const char *want)
{
    char out[256];
    size_t used = 0;
    const size_t n = shmchan_escape_terminal((const uint8_t *)in, len, out, sizeof out, &used);
    if (used != len || n != strlen(want) || strcmp(out, want) != 0) {
        fail_msg("escaped %zu bytes to \"%s\" (%zu used), wanted \"%s\"", len, out, used, want);
    }
}

static void test_every_single_byte(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        const char in[1] = {(char)b};
        char want[8];
        if (b == '\\') {
            (void)snprintf(want, sizeof want, "\\\\");
        } else if (b >= 0x20 && b <= 0x7e) {
            (void)snprintf(want, sizeof want, "%c", (int)b);
        } else {
            (void)snprintf(want, sizeof want, "\\x%02x", b);
        }
        expect_escaped(in, 1, want);
    }
}

static void test_sequences(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } rows[] = {
        {"caf\xc3\xa9", 5, "caf\xc3\xa9"},                        /* U+00E9 */
        {"\xc2\xa0", 2, "\xc2\xa0"},                              /* U+00A0, first after C1 */
        {"\xc2\x80", 2, "\\xc2\\x80"},                            /* U+0080, C1 */
        {"\xc2\x9f", 2, "\\xc2\\x9f"},                            /* U+009F, C1 */
        {"\xe6\x97\xa5", 3, "\xe6\x97\xa5"},                      /* U+65E5 */
        {"\xf0\x9f\x99\x82", 4, "\xf0\x9f\x99\x82"},              /* U+1F642 */
        {"\xc0\xaf", 2, "\\xc0\\xaf"},                            /* overlong '/' */
        {"\xe0\x80\xaf", 3, "\\xe0\\x80\\xaf"},                   /* overlong */
        {"\xed\xa0\x80", 3, "\\xed\\xa0\\x80"},                   /* surrogate D800 */
        {"\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80"},          /* above U+10FFFF */
        {"\xe2\x82", 2, "\\xe2\\x82"},                            /* truncated */
        {"\xe2\x82" "A", 3, "\\xe2\\x82" "A"},                    /* broken by ASCII */
        {"a\\x1b", 5, "a\\\\x1b"},                                /* typed, not ESC */
        {"\x1b[31m", 5, "\\x1b[31m"},
        {"", 0, ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        expect_escaped(rows[i].in, rows[i].len, rows[i].want);
    }
}

/* Every edge of RFC 3629's table of well-formed sequences, on both sides:
 * the first and last code point of each lead-byte range kept, the byte just
 * outside each range escaped (found by mutation testing: moving any one
 * of these bounds by one failed no test before). */
static void test_utf8_edges(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } rows[] = {
        {"\xdf\xbf", 2, "\xdf\xbf"},                         /* U+07FF, last of 2 bytes */
        {"\xe0\xa0\x80", 3, "\xe0\xa0\x80"},               /* U+0800, first of 3 */
        {"\xe0\x9f\xbf", 3, "\\xe0\\x9f\\xbf"},         /* overlong U+07FF */
        {"\xed\x9f\xbf", 3, "\xed\x9f\xbf"},               /* U+D7FF, before surrogates */
        {"\xee\x80\x80", 3, "\xee\x80\x80"},               /* U+E000, after them */
        {"\xef\xbf\xbf", 3, "\xef\xbf\xbf"},               /* U+FFFF, last of 3 */
        {"\xf0\x90\x80\x80", 4, "\xf0\x90\x80\x80"},     /* U+10000, first of 4 */
        {"\xf0\x8f\xbf\xbf", 4, "\\xf0\\x8f\\xbf\\xbf"}, /* overlong U+FFFF */
        {"\xf1\x80\x80\x80", 4, "\xf1\x80\x80\x80"},     /* U+40000 */
        {"\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf"},     /* U+10FFFF, the last */
        {"\xf5\x80\x80\x80", 4, "\\xf5\\x80\\x80\\x80"}, /* no lead byte above F4 */
        {"\x80\x80\x80\x80", 4, "\\x80\\x80\\x80\\x80"}, /* continuations alone */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        expect_escaped(rows[i].in, rows[i].len, rows[i].want);
    }
}

/* The same text escaped through every small buffer size equals the
 * one-shot result, every call consumes something, and no call stops inside
 * a UTF-8 sequence (each chunk is itself a complete escape). */
static void test_chunks_never_split(void **state)
{
    (void)state;
    static const char text[] = "x\xe6\x97\xa5y\xf0\x9f\x99\x82\x1b\\z\xc3\xa9\xc2\x9b\xff";
    const size_t len = sizeof text - 1;
    char whole[256];
    size_t used = 0;
    const size_t n = shmchan_escape_terminal((const uint8_t *)text, len, whole, sizeof whole, &used);
    assert_int_equal(used, len);
    for (size_t cap = SHMCHAN_ESCAPE_MAX_UNIT + 1; cap < 24; cap++) {
        char joined[512] = "";
        size_t at = 0;
        size_t off = 0;
        while (off < len) {
            char chunk[32];
            size_t took = 0;
            const size_t m =
                shmchan_escape_terminal((const uint8_t *)text + off, len - off, chunk, cap, &took);
            assert_true(took > 0);
            assert_true(m < cap);
            char alone[64];
            size_t took_alone = 0;
            (void)shmchan_escape_terminal((const uint8_t *)text + off, took, alone, sizeof alone,
                                          &took_alone);
            assert_string_equal(alone, chunk);
            memcpy(joined + at, chunk, m);
            at += m;
            off += took;
        }
        joined[at] = '\0';
        assert_int_equal(at, n);
        assert_string_equal(joined, whole);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char out[8];
    size_t used = 99;
    assert_int_equal(shmchan_escape_terminal(NULL, 3, out, sizeof out, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(shmchan_escape_terminal((const uint8_t *)"a", 1, NULL, 8, &used), 0);
    assert_int_equal(shmchan_escape_terminal((const uint8_t *)"a", 1, out, 0, &used), 0);
    assert_int_equal(shmchan_escape_terminal((const uint8_t *)"a", 1, out, sizeof out, NULL), 0);
    /* Too small for one unit: nothing consumed, an empty string. */
    assert_int_equal(shmchan_escape_terminal((const uint8_t *)"\x01", 1, out, 4, &used), 0);
    assert_int_equal(used, 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_single_byte),
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_utf8_edges),
        cmocka_unit_test(test_chunks_never_split),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
