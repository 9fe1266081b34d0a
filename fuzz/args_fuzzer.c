/*
 * args_fuzzer.c - the programs' number parsers on arbitrary strings.
 *
 * Input: [u32 min][u32 max][text bytes]. The text is the rest of the input
 * up to its first NUL (or its end), copied into an exactly sized heap
 * block with a terminating NUL; min/max are shmchan_prog_parse_u32's range.
 *
 * Properties (abort on violation), from src/prog/args.h:
 *  1. shmchan_prog_parse_key accepts exactly the texts an independent
 *     reference accepts: decimal without a leading zero, or 0x/0X and at
 *     least one hex digit (leading zeros allowed), value in 1..0xFFFFFFFF;
 *     the key is that value (as 32 bits). It never accepts 0, and leaves
 *     *out untouched when it refuses.
 *  2. An accepted key re-formatted as %u, 0x%x, 0x%08x and 0X%X parses back
 *     to the same key; a decimal text is exactly its own %u spelling.
 *  3. shmchan_prog_parse_u32 accepts exactly decimal texts (no leading
 *     zero) with min <= value <= max, leaves *out untouched when it
 *     refuses, and an accepted text is exactly the %u spelling of the value
 *     (one spelling per value), which parses back to it.
 *  4. shmchan_prog_parse_mode accepts exactly "0600" (octal 0600), refuses
 *     the former group modes "0620", "0640", "0660" with -2, all else -1.
 *  5. NULL text or output is refused.
 * Reading one byte past the terminating NUL is an ASan report.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz/fuzz_harness.h"
#include "src/prog/args.h"

#define SENTINEL_KEY ((key_t)0x5A5A5A5A)
#define SENTINEL_U32 0xA5A5A5A5u

static int ref_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int ref_hex(char c)
{
    if (ref_digit(c)) {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Returns 1 and the value if `text` is a decimal without a leading zero
 * ("0" itself allowed) that fits in 32 bits. */
static int ref_decimal(const char *text, uint32_t *value)
{
    const size_t n = strlen(text);
    if (n == 0 || (text[0] == '0' && n > 1)) {
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ref_digit(text[i])) {
            return 0;
        }
        v = v * 10 + (uint64_t)(text[i] - '0');
        if (v > UINT32_MAX) {
            return 0;
        }
    }
    *value = (uint32_t)v;
    return 1;
}

static int ref_hexadecimal(const char *text, uint32_t *value)
{
    const size_t n = strlen(text);
    if (n < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 2; i < n; i++) {
        const int d = ref_hex(text[i]);
        if (d < 0) {
            return 0;
        }
        v = v * 16 + (uint64_t)d;
        if (v > UINT32_MAX) {
            return 0;
        }
    }
    *value = (uint32_t)v;
    return 1;
}

static void check_key_reparses(uint32_t value, key_t key)
{
    static const char *const formats[] = {"%u", "0x%x", "0x%08x", "0X%X"};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        char text[32];
        snprintf(text, sizeof text, formats[i], value);
        key_t again = SENTINEL_KEY;
        FUZZ_CHECK(shmchan_prog_parse_key(text, &again) == 0);
        FUZZ_CHECK(again == key);
    }
}

static void check_key(const char *text)
{
    uint32_t want = 0;
    const int is_decimal = ref_decimal(text, &want);
    const int ref_ok = (is_decimal || ref_hexadecimal(text, &want)) && want != 0;

    key_t key = SENTINEL_KEY;
    const int r = shmchan_prog_parse_key(text, &key);
    FUZZ_CHECK(r == 0 || r == -1);
    if (r != 0) {
        FUZZ_CHECK(!ref_ok);
        FUZZ_CHECK(key == SENTINEL_KEY);
        return;
    }
    FUZZ_CHECK(ref_ok);
    const uint32_t got = (uint32_t)key;
    FUZZ_CHECK(got != 0);
    FUZZ_CHECK(got == want);
    if (is_decimal) {
        char canonical[16];
        snprintf(canonical, sizeof canonical, "%u", got);
        FUZZ_CHECK(strcmp(canonical, text) == 0);
    }
    check_key_reparses(got, key);
}

static void check_u32(const char *text, uint32_t min, uint32_t max)
{
    uint32_t want = 0;
    const int ref_ok = ref_decimal(text, &want) && want >= min && want <= max;
    uint32_t got = SENTINEL_U32;
    const int r = shmchan_prog_parse_u32(text, min, max, &got);
    FUZZ_CHECK(r == 0 || r == -1);
    if (r != 0) {
        FUZZ_CHECK(!ref_ok);
        FUZZ_CHECK(got == SENTINEL_U32);
        return;
    }
    FUZZ_CHECK(ref_ok);
    FUZZ_CHECK(got == want);
    char canonical[16];
    snprintf(canonical, sizeof canonical, "%u", got);
    FUZZ_CHECK(strcmp(canonical, text) == 0);
    uint32_t again = SENTINEL_U32;
    FUZZ_CHECK(shmchan_prog_parse_u32(canonical, min, max, &again) == 0);
    FUZZ_CHECK(again == got);
}

static void check_mode(const char *text)
{
    static const char *const refused[] = {"0620", "0640", "0660"};
    const int ref_ok = strcmp(text, "0600") == 0;
    int ref_refused = 0;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ref_refused |= strcmp(text, refused[i]) == 0;
    }
    unsigned got = 0xA5A5u;
    const int r = shmchan_prog_parse_mode(text, &got);
    FUZZ_CHECK(r == (ref_ok ? 0 : ref_refused ? -2 : -1));
    FUZZ_CHECK(got == (ref_ok ? 0600u : 0xA5A5u));
}

static void check_null_arguments(const char *text)
{
    key_t key = SENTINEL_KEY;
    uint32_t u = SENTINEL_U32;
    unsigned mode = 0;
    FUZZ_CHECK(shmchan_prog_parse_key(NULL, &key) == -1 && key == SENTINEL_KEY);
    FUZZ_CHECK(shmchan_prog_parse_key(text, NULL) == -1);
    FUZZ_CHECK(shmchan_prog_parse_u32(NULL, 0, UINT32_MAX, &u) == -1 && u == SENTINEL_U32);
    FUZZ_CHECK(shmchan_prog_parse_u32(text, 0, UINT32_MAX, NULL) == -1);
    FUZZ_CHECK(shmchan_prog_parse_mode(NULL, &mode) == -1);
    FUZZ_CHECK(shmchan_prog_parse_mode(text, NULL) == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t no_bytes[1];
    if (data == NULL) {
        data = no_bytes; /* keeps `data + offset` defined for empty inputs */
    }
    fuzz_cursor_t in = fuzz_cursor_make(data, size);
    const uint32_t min = fuzz_take_u32(&in);
    const uint32_t max = fuzz_take_u32(&in);
    const uint8_t *rest = data + in.pos;
    const size_t left = fuzz_cursor_left(&in);
    const uint8_t *nul = left > 0 ? memchr(rest, 0, left) : NULL;
    const size_t len = nul != NULL ? (size_t)(nul - rest) : left;

    char *text = (char *)fuzz_alloc(len + 1);
    if (len > 0) {
        memcpy(text, rest, len);
    }
    text[len] = '\0';

    check_key(text);
    check_u32(text, min, max);
    check_mode(text);
    check_null_arguments(text);
    free(text);
    return 0;
}
