/* check.c - see check.h. */
#include "tests/check.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/testutil.h"

/* ------------------------------------------------- failure reporting */

/* Room for a judge reason quoted in full (judge.h: 200 bytes) beside the
 * case's name and key. */
static char g_ctx[512];

void check_ctx_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(g_ctx, sizeof g_ctx, fmt, ap);
    va_end(ap);
}

void check_ctx_clear(void)
{
    g_ctx[0] = '\0';
}

const char *check_ctx_text(void)
{
    return g_ctx;
}

void check_err_at(shmchan_err_t got, shmchan_err_t want, const char *expr, const char *file,
                  int line)
{
    if (got != want) {
        print_error("%s:%d: %s\n    returned %s (%d), expected %s (%d)\n    context: %s\n", file,
                    line, expr, shmchan_errname(got), (int)got, shmchan_errname(want), (int)want,
                    g_ctx);
        _fail(file, line);
    }
}

void check_true_at(int cond, const char *expr, const char *file, int line)
{
    if (!cond) {
        print_error("%s:%d: check failed: %s\n    context: %s\n", file, line, expr, g_ctx);
        _fail(file, line);
    }
}

/* "0x... (unsigned decimal)", and the signed reading too when the top bit
 * is set, since a negative pid, key or id arrives here sign-extended. */
static const char *value_text(uint64_t v, char *buf, size_t cap)
{
    if ((v >> 63) != 0) {
        int64_t s;
        memcpy(&s, &v, sizeof s); /* two's complement, without a conversion */
        (void)snprintf(buf, cap, "0x%" PRIx64 " (%" PRIu64 ", signed %" PRId64 ")", v, v, s);
    } else {
        (void)snprintf(buf, cap, "0x%" PRIx64 " (%" PRIu64 ")", v, v);
    }
    return buf;
}

void check_eq_at(uint64_t a, uint64_t b, const char *ea, const char *eb, const char *file, int line)
{
    if (a != b) {
        char ta[80], tb[80];
        print_error("%s:%d: %s == %s failed: %s != %s\n    context: %s\n", file, line, ea, eb,
                    value_text(a, ta, sizeof ta), value_text(b, tb, sizeof tb), g_ctx);
        _fail(file, line);
    }
}

void check_mem_at(const uint8_t *a, const uint8_t *b, size_t n, const char *ea, const char *eb,
                  const char *file, int line)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            print_error("%s:%d: %s and %s differ at byte %zu of %zu: 0x%02x != 0x%02x\n"
                        "    context: %s\n",
                        file, line, ea, eb, i, n, (unsigned)a[i], (unsigned)b[i], g_ctx);
            _fail(file, line);
        }
    }
}

void check_filled_at(const uint8_t *p, size_t n, uint8_t value, const char *ep, const char *file,
                     int line)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != value) {
            print_error("%s:%d: %s[%zu] is 0x%02x, expected untouched 0x%02x (of %zu bytes)\n"
                        "    context: %s\n",
                        file, line, ep, i, (unsigned)p[i], (unsigned)value, n, g_ctx);
            _fail(file, line);
        }
    }
}

void check_str_at(const char *got, const char *want, const char *egot, const char *file, int line)
{
    if (strcmp(got, want) != 0) {
        print_error("%s:%d: %s is \"%s\", expected \"%s\"\n    context: %s\n", file, line, egot,
                    got, want, g_ctx);
        _fail(file, line);
    }
}

void check_contains_at(const char *text, const char *part, const char *etext, const char *file,
                       int line)
{
    if (strstr(text, part) == NULL) {
        print_error("%s:%d: %s \"%s\" does not contain \"%s\"\n    context: %s\n", file, line,
                    etext, text, part, g_ctx);
        _fail(file, line);
    }
}

/* ------------------------------------------------------- randomness */

uint64_t check_random_seed(const char *what)
{
    const uint64_t seed = testutil_seed();
    print_message("%s seed: 0x%016" PRIx64
                  " (replay with --test_env=SHMCHAN_TEST_SEED=0x%016" PRIx64 ")\n",
                  what, seed, seed);
    return seed;
}

/* ------------------------------------------- independent reference code */

void ref_put_le32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)((v >> (8u * i)) & 0xFFu);
    }
}

void ref_put_le64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        p[i] = (uint8_t)((v >> (8u * i)) & 0xFFu);
    }
}

uint32_t ref_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint64_t ref_get_le64(const uint8_t *p)
{
    return (uint64_t)ref_get_le32(p) | ((uint64_t)ref_get_le32(p + 4) << 32);
}

uint32_t ref_crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    uint32_t c = ~crc;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
    }
    return ~c;
}
