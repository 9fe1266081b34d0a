/*
 * escape.c - peer bytes made safe for a terminal (see escape.h).
 */
#include "src/prog/escape.h"

/* Length of the well-formed UTF-8 sequence at in[0, len) (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_sequence(const uint8_t *in, size_t len)
{
    const uint8_t b0 = in[0];
    size_t n = 0;
    uint8_t lo = 0x80;
    uint8_t hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        n = 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        n = 3;
        lo = b0 == 0xe0 ? 0xa0 : 0x80; /* overlong */
        hi = b0 == 0xed ? 0x9f : 0xbf; /* surrogates */
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        n = 4;
        lo = b0 == 0xf0 ? 0x90 : 0x80; /* overlong */
        hi = b0 == 0xf4 ? 0x8f : 0xbf; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (len < n || in[1] < lo || in[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (in[i] < 0x80 || in[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

static void put_hex(char *out, uint8_t b)
{
    static const char digits[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    out[2] = digits[b >> 4];
    out[3] = digits[b & 0x0f];
}

size_t shmchan_escape_terminal(const uint8_t *in, size_t len, char *out, size_t cap,
                               size_t *consumed)
{
    if (consumed == NULL) {
        return 0;
    }
    *consumed = 0;
    if (out == NULL || cap == 0 || (len > 0 && in == NULL)) {
        return 0;
    }
    size_t o = 0;
    size_t i = 0;
    /* Each round writes at most SHMCHAN_ESCAPE_MAX_UNIT bytes, so stopping
     * while that much room (and the NUL) is left never overruns out. */
    while (i < len && cap - 1 - o >= SHMCHAN_ESCAPE_MAX_UNIT) {
        const uint8_t b = in[i];
        if (b >= 0x20 && b < 0x7f) {
            if (b == '\\') {
                out[o++] = '\\';
            }
            out[o++] = (char)b;
            i++;
            continue;
        }
        const size_t n = b >= 0x80 ? utf8_sequence(in + i, len - i) : 0;
        /* U+0080..U+009F are the C1 controls in their UTF-8 form. */
        if (n == 0 || (n == 2 && b == 0xc2 && in[i + 1] <= 0x9f)) {
            put_hex(out + o, b);
            o += 4;
            i++;
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            out[o++] = (char)in[i + k];
        }
        i += n;
    }
    out[o] = '\0';
    *consumed = i;
    return o;
}
