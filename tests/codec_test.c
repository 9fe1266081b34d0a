/* Unit tests for codec.c, the frame codec.
 *
 * The expected bytes are built here, by hand, from the wire format (24-byte
 * little-endian header, CRC-32C over header bytes [0,12) and [16,24) then the
 * payload) with a CRC-32C of the test's own, never with the library's
 * encoder or shmchan_crc32c_update, so a change of the wire format or of the
 * checksum coverage fails a test instead of passing silently.
 *
 * Buffers that bound a read or a write are heap blocks of exactly the
 * allowed size, so that under --config=asan any access past the bound is a
 * crash, not a silent pass.
 *
 * The random round trip prints its seed; replay a failure with
 *   bazel test //tests:codec_test --test_env=SHMCHAN_CODEC_TEST_SEED=0x...
 */
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/codec_internal.h"
#include "src/shmchan.h"
#include "tests/check.h"

#define HDR ((size_t)SHMCHAN_FRAME_HEADER_SIZE)
#define HARD_MAX SHMCHAN_PAYLOAD_HARD_MAX
/* A typical per-channel limit, well under the hard maximum. */
#define CHANNEL_MAX 4096u

/* ------------------------------------------------- failure reporting */

static void check_frame_zeroed_at(const shmchan_frame_t *f, const char *file, int line)
{
    if (f->type != 0 || f->flags != 0 || f->payload_len != 0 || f->seq != 0 ||
        f->checksum != 0) {
        print_error("%s:%d: frame not zeroed on failure: type=%u flags=%u payload_len=%" PRIu32
                    " seq=0x%" PRIx64 " checksum=0x%08" PRIx32 "\n    context: %s\n",
                    file, line, (unsigned)f->type, (unsigned)f->flags, f->payload_len, f->seq,
                    f->checksum, check_ctx_text());
        _fail(file, line);
    }
}

#define CHECK_FRAME_ZEROED(f) check_frame_zeroed_at((f), __FILE__, __LINE__)

/* ------------------------------------------- independent reference code */

/* CRC-32C with a table made by ref_crc32c_bitwise (tests/check.h), for the
 * large and the many frames (the test's own, not shmchan_crc32c_table). */
static uint32_t g_ref_table[256];
static int g_ref_table_ready;

static uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
    if (!g_ref_table_ready) {
        for (uint32_t i = 0; i < 256; i++) {
            const uint8_t byte = (uint8_t)i;
            /* CRC of one byte without the pre/post inversion. */
            g_ref_table[i] = ~ref_crc32c_bitwise(0xFFFFFFFFu, &byte, 1);
        }
        g_ref_table_ready = 1;
    }
    uint32_t c = ~crc;
    for (size_t i = 0; i < n; i++) {
        c = g_ref_table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    }
    return ~c;
}

/* Every header field, including the ones a valid frame fixes, so a test can
 * forge any header. */
typedef struct ref_header {
    uint32_t magic;
    uint8_t version;
    uint8_t type;
    uint8_t flags;
    uint8_t reserved;
    uint32_t length;
    uint64_t seq;
} ref_header_t;

static ref_header_t ref_valid(uint8_t type, uint32_t length, uint64_t seq)
{
    ref_header_t h;
    h.magic = 0x46434853u; /* 'S','H','C','F' read as little-endian u32 */
    h.version = 1;
    h.type = type;
    h.flags = 0;
    h.reserved = 0;
    h.length = length;
    h.seq = seq;
    return h;
}

/* The checksum as the spec defines it: header [0,12), header [16,24),
 * then the payload. */
static uint32_t ref_frame_crc(const uint8_t hdr[24], const uint8_t *payload, size_t n)
{
    uint32_t c = ref_crc32c(0, hdr, 12);
    c = ref_crc32c(c, hdr + 16, 8);
    return ref_crc32c(c, payload, n);
}

/* Writes the 24 header bytes of `h` by hand, with the checksum over hdr and
 * payload[0, n) (n may differ from h->length when forging). */
static void ref_put_header(uint8_t hdr[24], const ref_header_t *h, const uint8_t *payload,
                           size_t n)
{
    ref_put_le32(hdr + 0, h->magic);
    hdr[4] = h->version;
    hdr[5] = h->type;
    hdr[6] = h->flags;
    hdr[7] = h->reserved;
    ref_put_le32(hdr + 8, h->length);
    ref_put_le32(hdr + 12, 0);
    ref_put_le64(hdr + 16, h->seq);
    ref_put_le32(hdr + 12, ref_frame_crc(hdr, payload, n));
}

/* A complete reference frame in a fresh heap block of exactly 24+len bytes. */
static uint8_t *ref_frame_alloc(uint8_t type, uint64_t seq, const uint8_t *payload, uint32_t len)
{
    uint8_t *f = malloc(HDR + len);
    assert_non_null(f);
    const ref_header_t h = ref_valid(type, len, seq);
    ref_put_header(f, &h, payload, len);
    if (len > 0) {
        memcpy(f + HDR, payload, len);
    }
    return f;
}

/* A heap block of exactly n bytes, so ASan flags any access past its end.
 * For n == 0 it is the one-past-the-end pointer of a 1-byte block: ASan
 * does not flag accesses to the byte it reserves for malloc(0), but it does
 * flag any access through this pointer. Release with free_exact(p, n). */
static uint8_t *alloc_exact(size_t n)
{
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    return n > 0 ? p : p + 1;
}

static void free_exact(uint8_t *p, size_t n)
{
    free(n > 0 ? p : p - 1);
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t salt)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)((i * 131u + salt * 17u + (i >> 8) * 7u + 5u) & 0xFFu);
    }
}

static shmchan_frame_t make_frame(uint8_t type, uint64_t seq)
{
    shmchan_frame_t f;
    memset(&f, 0, sizeof f);
    f.type = type;
    f.seq = seq;
    return f;
}

/* Decodes expecting failure `want`; checks the failure contract: *frame
 * zeroed (it is pre-filled with garbage) and *frame_len == 0. */
static void expect_decode_fail_at(const uint8_t *src, size_t src_len, uint32_t max_payload,
                                  uint8_t *payload_out, size_t payload_cap, shmchan_err_t want,
                                  const char *file, int line)
{
    shmchan_frame_t f;
    memset(&f, 0xA5, sizeof f);
    size_t flen = 0xDEADu;
    const shmchan_err_t rc =
        shmchan_codec_decode(src, src_len, max_payload, &f, payload_out, payload_cap, &flen);
    check_err_at(rc, want, "shmchan_codec_decode", file, line);
    check_frame_zeroed_at(&f, file, line);
    check_eq_at(flen, 0, "*frame_len", "0", file, line);
}

#define EXPECT_DECODE_FAIL(src, len, max, out, cap, want) \
    expect_decode_fail_at((src), (len), (max), (out), (cap), (want), __FILE__, __LINE__)

/* xorshift64: tiny, seedable, good enough to pick test inputs. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rng_next(s) % n);
}

/* ----------------------------------------------------------------- tests */

/* Every code has a non-empty, distinct message and its own name; values
 * outside the enum give "unknown error"; the codec codes keep their numbers
 * (the list is append-only, numbers appear in logs). */
static void test_error_strings(void **state)
{
    (void)state;
    check_ctx_clear();
    static const struct {
        shmchan_err_t code;
        const char *name;
    } codes[] = {
#define X(name, message) {name, #name},
#include "src/shmchan_error.inc"
#undef X
    };
    const size_t count = sizeof codes / sizeof codes[0];
    CHECK_EQ(count, SHMCHAN_ERR_COUNT);

    for (size_t i = 0; i < count; i++) {
        check_ctx_set("code %zu (%s)", i, codes[i].name);
        CHECK_EQ(codes[i].code, i);
        const shmchan_err_t e = (shmchan_err_t)i;
        const char *msg = shmchan_strerror(e);
        const char *name = shmchan_errname(e);
        CHECK(msg != NULL);
        CHECK(name != NULL);
        CHECK(msg[0] != '\0');
        CHECK(strcmp(msg, "unknown error") != 0);
        CHECK(strcmp(name, codes[i].name) == 0);
        for (size_t j = 0; j < i; j++) {
            const shmchan_err_t other = (shmchan_err_t)j;
            CHECK(strcmp(msg, shmchan_strerror(other)) != 0);
            CHECK(strcmp(name, shmchan_errname(other)) != 0);
        }
    }

    const shmchan_err_t out_of_range[] = {
        SHMCHAN_ERR_COUNT,
        (shmchan_err_t)((int)SHMCHAN_ERR_COUNT + 1),
        (shmchan_err_t)1000,
        (shmchan_err_t)INT_MAX,
        (shmchan_err_t)-1,
    };
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        check_ctx_set("out-of-range value #%zu (%d)", i, (int)out_of_range[i]);
        CHECK(strcmp(shmchan_strerror(out_of_range[i]), "unknown error") == 0);
        CHECK(strcmp(shmchan_errname(out_of_range[i]), "SHMCHAN_E_UNKNOWN") == 0);
    }

    check_ctx_clear();
    CHECK_EQ(SHMCHAN_OK, 0);
    CHECK_EQ(SHMCHAN_E_INVALID_ARGUMENT, 1);
    CHECK_EQ(SHMCHAN_E_FRAME_TRUNCATED, 2);
    CHECK_EQ(SHMCHAN_E_FRAME_MAGIC, 3);
    CHECK_EQ(SHMCHAN_E_FRAME_VERSION, 4);
    CHECK_EQ(SHMCHAN_E_FRAME_TYPE, 5);
    CHECK_EQ(SHMCHAN_E_FRAME_FLAGS, 6);
    CHECK_EQ(SHMCHAN_E_FRAME_RESERVED, 7);
    CHECK_EQ(SHMCHAN_E_FRAME_TOO_LONG, 8);
    CHECK_EQ(SHMCHAN_E_FRAME_BEYOND_BUFFER, 9);
    CHECK_EQ(SHMCHAN_E_FRAME_CHECKSUM, 10);
    CHECK_EQ(SHMCHAN_E_OUTPUT_TOO_SMALL, 11);
}

/* Known-answer vectors written out byte by byte from the spec: the encoder
 * must produce them exactly and the decoder must read them back. */
static void test_known_answer_vectors(void **state)
{
    (void)state;
    check_ctx_clear();

    /* The test's own CRC first: the published CRC-32C check value. */
    const uint8_t check[] = "123456789";
    CHECK_EQ(ref_crc32c_bitwise(0, check, 9), 0xE3069283u);
    CHECK_EQ(ref_crc32c(0, check, 9), 0xE3069283u);
    CHECK_EQ(ref_crc32c_bitwise(ref_crc32c_bitwise(0, check, 4), check + 4, 5), 0xE3069283u);

    /* The constants and field offsets of the wire format. */
    CHECK_EQ(SHMCHAN_FRAME_HEADER_SIZE, 24);
    CHECK_EQ(SHMCHAN_FRAME_MAGIC, 0x46434853u);
    CHECK_EQ(SHMCHAN_FRAME_VERSION, 1);
    CHECK_EQ(SHMCHAN_PAYLOAD_HARD_MAX, 16u * 1024u * 1024u);
    CHECK_EQ(SHMCHAN_FRAME_DATA, 1);
    CHECK_EQ(SHMCHAN_FRAME_GOODBYE, 2);
    CHECK_EQ(SHMCHAN_FRAME_OFF_MAGIC, 0);
    CHECK_EQ(SHMCHAN_FRAME_OFF_VERSION, 4);
    CHECK_EQ(SHMCHAN_FRAME_OFF_TYPE, 5);
    CHECK_EQ(SHMCHAN_FRAME_OFF_FLAGS, 6);
    CHECK_EQ(SHMCHAN_FRAME_OFF_RESERVED, 7);
    CHECK_EQ(SHMCHAN_FRAME_OFF_LENGTH, 8);
    CHECK_EQ(SHMCHAN_FRAME_OFF_CHECKSUM, 12);
    CHECK_EQ(SHMCHAN_FRAME_OFF_SEQ, 16);

    /* DATA, seq 0x0102030405060708, payload "abc". */
    static const uint8_t data_frame[] = {
        'S',  'H',  'C',  'F',  /* magic */
        0x01,                   /* version */
        0x01,                   /* type DATA */
        0x00,                   /* flags */
        0x00,                   /* reserved */
        0x03, 0x00, 0x00, 0x00, /* payload length 3 */
        0x61, 0x8A, 0x97, 0xDE, /* CRC-32C 0xDE978A61 */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* seq */
        'a',  'b',  'c',
    };
    /* GOODBYE, seq 0xFEDCBA9876543210, empty payload. */
    static const uint8_t goodbye_frame[] = {
        'S',  'H',  'C',  'F',  0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x06, 0x03, 0xD3, 0xC7, /* CRC-32C 0xC7D30306 */
        0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE,
    };
    const struct {
        const char *name;
        const uint8_t *bytes;
        size_t size;
        uint8_t type;
        uint64_t seq;
        uint32_t crc;
    } vectors[] = {
        {"DATA abc", data_frame, sizeof data_frame, SHMCHAN_FRAME_DATA, 0x0102030405060708u,
         0xDE978A61u},
        {"GOODBYE empty", goodbye_frame, sizeof goodbye_frame, SHMCHAN_FRAME_GOODBYE,
         0xFEDCBA9876543210u, 0xC7D30306u},
    };

    for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
        check_ctx_set("vector %s", vectors[v].name);
        const uint8_t *bytes = vectors[v].bytes;
        const size_t size = vectors[v].size;
        const uint32_t len = (uint32_t)(size - HDR);

        /* The written-down checksum is the bitwise CRC over the covered bytes. */
        uint32_t crc = ref_crc32c_bitwise(0, bytes, 12);
        crc = ref_crc32c_bitwise(crc, bytes + 16, 8);
        crc = ref_crc32c_bitwise(crc, bytes + HDR, len);
        CHECK_EQ(crc, vectors[v].crc);
        CHECK_EQ(ref_get_le32(bytes + 12), vectors[v].crc);
        CHECK_EQ(shmchan_codec_checksum(bytes, bytes + HDR, len), vectors[v].crc);

        /* Encode: byte-exact, and nothing written after the frame. */
        const shmchan_frame_t in = make_frame(vectors[v].type, vectors[v].seq);
        uint8_t out[64];
        memset(out, 0xEE, sizeof out);
        size_t out_len = 0;
        CHECK_ERR(shmchan_codec_encode(&in, len > 0 ? bytes + HDR : NULL, len, out, sizeof out,
                                       &out_len),
                  SHMCHAN_OK);
        CHECK_EQ(out_len, size);
        CHECK_MEM(out, bytes, size);
        CHECK_FILLED(out + size, sizeof out - size, 0xEE);

        /* encode_header alone gives the same 24 bytes. */
        uint8_t hdr[24];
        CHECK_ERR(shmchan_codec_encode_header(&in, bytes + HDR, len, hdr), SHMCHAN_OK);
        CHECK_MEM(hdr, bytes, HDR);

        /* Decode the hand-written bytes. */
        shmchan_frame_t got;
        memset(&got, 0xA5, sizeof got);
        uint8_t payload[8];
        size_t frame_len = 0;
        CHECK_ERR(shmchan_codec_decode(bytes, size, CHANNEL_MAX, &got, payload, sizeof payload,
                                       &frame_len),
                  SHMCHAN_OK);
        CHECK_EQ(frame_len, size);
        CHECK_EQ(got.type, vectors[v].type);
        CHECK_EQ(got.flags, 0);
        CHECK_EQ(got.payload_len, len);
        CHECK_EQ(got.seq, vectors[v].seq);
        CHECK_EQ(got.checksum, vectors[v].crc);
        CHECK_MEM(payload, bytes + HDR, len);
    }
}

/* Encode's argument and field errors: exact code, *out_len == 0, and the
 * output buffer untouched. */
static void test_encode_errors(void **state)
{
    (void)state;
    check_ctx_clear();
    const uint8_t payload[3] = {1, 2, 3};
    uint8_t out[64];
    size_t out_len;
    shmchan_frame_t f = make_frame(SHMCHAN_FRAME_DATA, 7);

    memset(out, 0xA5, sizeof out);
    CHECK_ERR(shmchan_codec_encode(&f, payload, 3, out, sizeof out, NULL),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_FILLED(out, sizeof out, 0xA5);

    out_len = 99;
    CHECK_ERR(shmchan_codec_encode(NULL, payload, 3, out, sizeof out, &out_len),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_EQ(out_len, 0);
    CHECK_FILLED(out, sizeof out, 0xA5);

    out_len = 99;
    CHECK_ERR(shmchan_codec_encode(&f, payload, 3, NULL, sizeof out, &out_len),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_EQ(out_len, 0);

    out_len = 99;
    CHECK_ERR(shmchan_codec_encode(&f, NULL, 3, out, sizeof out, &out_len),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_EQ(out_len, 0);
    CHECK_FILLED(out, sizeof out, 0xA5);

    /* NULL payload is allowed when its length is 0. */
    out_len = 99;
    CHECK_ERR(shmchan_codec_encode(&f, NULL, 0, out, sizeof out, &out_len), SHMCHAN_OK);
    CHECK_EQ(out_len, HDR);
    CHECK_FILLED(out + HDR, sizeof out - HDR, 0xA5);

    const uint8_t bad_types[] = {0, 3, 4, 0x7F, 0x80, 0x81, 0xFE, 0xFF};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        check_ctx_set("type 0x%02x", (unsigned)bad_types[i]);
        memset(out, 0xA5, sizeof out);
        f = make_frame(bad_types[i], 7);
        out_len = 99;
        CHECK_ERR(shmchan_codec_encode(&f, payload, 3, out, sizeof out, &out_len),
                  SHMCHAN_E_FRAME_TYPE);
        CHECK_EQ(out_len, 0);
        CHECK_FILLED(out, sizeof out, 0xA5);
    }

    for (unsigned bit = 0; bit <= 8; bit++) {
        const uint8_t flags = bit < 8 ? (uint8_t)(1u << bit) : (uint8_t)0xFF;
        check_ctx_set("flags 0x%02x", (unsigned)flags);
        memset(out, 0xA5, sizeof out);
        f = make_frame(SHMCHAN_FRAME_GOODBYE, 7);
        f.flags = flags;
        out_len = 99;
        CHECK_ERR(shmchan_codec_encode(&f, payload, 3, out, sizeof out, &out_len),
                  SHMCHAN_E_FRAME_FLAGS);
        CHECK_EQ(out_len, 0);
        CHECK_FILLED(out, sizeof out, 0xA5);
    }

    /* frame->payload_len and ->checksum are inputs of nobody: garbage there
     * changes nothing. */
    check_ctx_clear();
    uint8_t expected[HDR + 3];
    const ref_header_t h = ref_valid(SHMCHAN_FRAME_DATA, 3, 7);
    ref_put_header(expected, &h, payload, 3);
    memcpy(expected + HDR, payload, 3);
    f = make_frame(SHMCHAN_FRAME_DATA, 7);
    f.payload_len = 0xFFFFFFFFu;
    f.checksum = 0x12345678u;
    out_len = 0;
    CHECK_ERR(shmchan_codec_encode(&f, payload, 3, out, sizeof out, &out_len), SHMCHAN_OK);
    CHECK_EQ(out_len, sizeof expected);
    CHECK_MEM(out, expected, sizeof expected);
}

/* Each decode error, produced with only the one thing wrong (the checksum is
 * recomputed over every forged header), with the failure contract checked
 * each time; at the end, every codec error code must have been produced. */
static void test_decode_each_error(void **state)
{
    (void)state;
    check_ctx_clear();
    int seen[SHMCHAN_ERR_COUNT] = {0};
    uint8_t payload[8];
    fill_pattern(payload, sizeof payload, 1);
    const uint32_t len = sizeof payload;
    uint8_t *good = ref_frame_alloc(SHMCHAN_FRAME_DATA, 0x1122334455667788u, payload, len);
    const size_t n = HDR + len;
    uint8_t *src = alloc_exact(n);
    uint8_t *pout = alloc_exact(len);
    shmchan_frame_t f;
    size_t flen;

    /* Sanity: the untouched frame decodes. */
    CHECK_ERR(shmchan_codec_decode(good, n, CHANNEL_MAX, &f, pout, len, &flen), SHMCHAN_OK);
    CHECK_EQ(flen, n);

    /* Arguments. */
    check_ctx_set("frame_len NULL");
    memset(&f, 0xA5, sizeof f);
    CHECK_ERR(shmchan_codec_decode(good, n, CHANNEL_MAX, &f, pout, len, NULL),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_FRAME_ZEROED(&f);
    seen[SHMCHAN_E_INVALID_ARGUMENT] = 1;

    check_ctx_set("frame NULL");
    CHECK_ERR(shmchan_codec_decode(good, n, CHANNEL_MAX, NULL, pout, len, &flen),
              SHMCHAN_E_INVALID_ARGUMENT);

    check_ctx_set("src NULL, src_len > 0");
    EXPECT_DECODE_FAIL(NULL, n, CHANNEL_MAX, pout, len, SHMCHAN_E_INVALID_ARGUMENT);
    check_ctx_set("payload_out NULL, payload_cap > 0");
    EXPECT_DECODE_FAIL(good, n, CHANNEL_MAX, NULL, len, SHMCHAN_E_INVALID_ARGUMENT);
    check_ctx_set("max_payload = hard max + 1");
    EXPECT_DECODE_FAIL(good, n, HARD_MAX + 1u, pout, len, SHMCHAN_E_INVALID_ARGUMENT);
    check_ctx_set("max_payload = UINT32_MAX");
    EXPECT_DECODE_FAIL(good, n, UINT32_MAX, pout, len, SHMCHAN_E_INVALID_ARGUMENT);
    /* The caller's error first, whatever the bytes: with too few of them
     * too, a bad max_payload is reported, not the truncation. */
    check_ctx_set("max_payload = hard max + 1, src_len 23");
    EXPECT_DECODE_FAIL(good, HDR - 1, HARD_MAX + 1u, pout, len, SHMCHAN_E_INVALID_ARGUMENT);

    /* Too few bytes for a header, including none at all. */
    check_ctx_set("src NULL, src_len 0");
    EXPECT_DECODE_FAIL(NULL, 0, CHANNEL_MAX, pout, len, SHMCHAN_E_FRAME_TRUNCATED);
    check_ctx_set("src_len 23");
    EXPECT_DECODE_FAIL(good, HDR - 1, CHANNEL_MAX, pout, len, SHMCHAN_E_FRAME_TRUNCATED);
    seen[SHMCHAN_E_FRAME_TRUNCATED] = 1;

    /* One bad header field at a time, checksum recomputed. */
    struct {
        const char *what;
        ref_header_t h;
        shmchan_err_t want;
    } cases[32];
    size_t ncases = 0;
    const ref_header_t valid = ref_valid(SHMCHAN_FRAME_DATA, len, 0x1122334455667788u);
#define ADD_CASE(desc, field, value, code)    \
    do {                                      \
        cases[ncases].what = (desc);          \
        cases[ncases].h = valid;              \
        cases[ncases].h.field = (value);      \
        cases[ncases].want = (code);          \
        ncases++;                             \
    } while (0)
    ADD_CASE("magic 0", magic, 0u, SHMCHAN_E_FRAME_MAGIC);
    ADD_CASE("magic byte-swapped (big-endian SHCF)", magic, 0x53484346u, SHMCHAN_E_FRAME_MAGIC);
    ADD_CASE("magic +1", magic, 0x46434854u, SHMCHAN_E_FRAME_MAGIC);
    ADD_CASE("magic top byte", magic, 0xC6434853u, SHMCHAN_E_FRAME_MAGIC);
    ADD_CASE("version 0", version, 0, SHMCHAN_E_FRAME_VERSION);
    ADD_CASE("version 2", version, 2, SHMCHAN_E_FRAME_VERSION);
    ADD_CASE("version 0xff", version, 0xFF, SHMCHAN_E_FRAME_VERSION);
    ADD_CASE("type 0", type, 0, SHMCHAN_E_FRAME_TYPE);
    ADD_CASE("type 3", type, 3, SHMCHAN_E_FRAME_TYPE);
    ADD_CASE("type 0xff", type, 0xFF, SHMCHAN_E_FRAME_TYPE);
    /* Bits 0 and 1 are the fragment flags (docs/protocol.md, "Fragments"):
     * every other bit is refused, alone or beside a known one. */
    ADD_CASE("flags 0x04", flags, 0x04, SHMCHAN_E_FRAME_FLAGS);
    ADD_CASE("flags 0x07", flags, 0x07, SHMCHAN_E_FRAME_FLAGS);
    ADD_CASE("flags 0x80", flags, 0x80, SHMCHAN_E_FRAME_FLAGS);
    ADD_CASE("reserved 0x01", reserved, 0x01, SHMCHAN_E_FRAME_RESERVED);
    ADD_CASE("reserved 0x80", reserved, 0x80, SHMCHAN_E_FRAME_RESERVED);
    ADD_CASE("length max+1", length, CHANNEL_MAX + 1u, SHMCHAN_E_FRAME_TOO_LONG);
    ADD_CASE("length UINT32_MAX", length, UINT32_MAX, SHMCHAN_E_FRAME_TOO_LONG);
    ADD_CASE("length 9 of 8 bytes present", length, len + 1u, SHMCHAN_E_FRAME_BEYOND_BUFFER);
    ADD_CASE("length = max, 8 bytes present", length, CHANNEL_MAX,
             SHMCHAN_E_FRAME_BEYOND_BUFFER);
#undef ADD_CASE
    /* A GOODBYE is never a fragment: either fragment flag on one is refused. */
    for (uint8_t fl = 1; fl <= 3; fl++) {
        cases[ncases].what = fl == 1 ? "GOODBYE with FLAG_MORE"
                             : fl == 2 ? "GOODBYE with FLAG_CONT"
                                       : "GOODBYE with both fragment flags";
        cases[ncases].h = valid;
        cases[ncases].h.type = SHMCHAN_FRAME_GOODBYE;
        cases[ncases].h.flags = fl;
        cases[ncases].want = SHMCHAN_E_FRAME_FLAGS;
        ncases++;
    }
    for (size_t i = 0; i < ncases; i++) {
        check_ctx_set("forged header: %s", cases[i].what);
        memcpy(src, good, n);
        ref_put_header(src, &cases[i].h, payload, len);
        EXPECT_DECODE_FAIL(src, n, CHANNEL_MAX, pout, len, cases[i].want);
        seen[cases[i].want] = 1;
    }

    /* Checksum: the stored value off by one bit, or the seq changed without
     * recomputing it. */
    check_ctx_set("checksum field ^ 1");
    memcpy(src, good, n);
    src[12] ^= 0x01u;
    EXPECT_DECODE_FAIL(src, n, CHANNEL_MAX, pout, len, SHMCHAN_E_FRAME_CHECKSUM);
    check_ctx_set("seq changed, checksum stale");
    memcpy(src, good, n);
    src[23] ^= 0x80u;
    EXPECT_DECODE_FAIL(src, n, CHANNEL_MAX, pout, len, SHMCHAN_E_FRAME_CHECKSUM);
    seen[SHMCHAN_E_FRAME_CHECKSUM] = 1;

    /* Payload does not fit the caller's buffer. */
    check_ctx_set("payload_cap len-1");
    EXPECT_DECODE_FAIL(good, n, CHANNEL_MAX, pout, len - 1u, SHMCHAN_E_OUTPUT_TOO_SMALL);
    check_ctx_set("payload_out NULL, payload_cap 0");
    EXPECT_DECODE_FAIL(good, n, CHANNEL_MAX, NULL, 0, SHMCHAN_E_OUTPUT_TOO_SMALL);
    seen[SHMCHAN_E_OUTPUT_TOO_SMALL] = 1;

    check_ctx_clear();
    for (int code = SHMCHAN_E_INVALID_ARGUMENT; code <= SHMCHAN_E_OUTPUT_TOO_SMALL; code++) {
        check_ctx_set("codec error %s never produced", shmchan_errname((shmchan_err_t)code));
        CHECK(seen[code]);
    }
    free_exact(pout, len);
    free_exact(src, n);
    free(good);
}

/* The header checks run in the documented order (magic, version, type,
 * flags, reserved, length): with several fields bad, the first one wins. */
static void test_decode_validation_order(void **state)
{
    (void)state;
    check_ctx_clear();
    uint8_t payload[4] = {9, 8, 7, 6};
    uint8_t src[HDR + 4];
    uint8_t pout[4];
    ref_header_t h = ref_valid(SHMCHAN_FRAME_DATA, 4, 1);
    h.magic = 0x12345678u;
    h.version = 9;
    h.type = 9;
    h.flags = 9;
    h.reserved = 9;
    h.length = CHANNEL_MAX + 1u;
    memcpy(src + HDR, payload, 4);

    const shmchan_err_t order[] = {
        SHMCHAN_E_FRAME_MAGIC,    SHMCHAN_E_FRAME_VERSION,  SHMCHAN_E_FRAME_TYPE,
        SHMCHAN_E_FRAME_FLAGS,    SHMCHAN_E_FRAME_RESERVED, SHMCHAN_E_FRAME_TOO_LONG,
        SHMCHAN_E_FRAME_BEYOND_BUFFER, SHMCHAN_E_OUTPUT_TOO_SMALL, SHMCHAN_E_FRAME_CHECKSUM,
    };
    for (size_t step = 0; step < sizeof order / sizeof order[0]; step++) {
        check_ctx_set("step %zu", step);
        size_t cap = sizeof pout;
        uint8_t tail = 0;
        ref_put_header(src, &h, payload, 4);
        if (order[step] == SHMCHAN_E_OUTPUT_TOO_SMALL) {
            cap = 3;
        }
        if (order[step] == SHMCHAN_E_FRAME_CHECKSUM) {
            tail = 1; /* stale checksum */
        }
        src[12] ^= tail;
        EXPECT_DECODE_FAIL(src, sizeof src, CHANNEL_MAX, pout, cap, order[step]);
        /* Repair the field just reported. */
        switch (order[step]) {
        case SHMCHAN_E_FRAME_MAGIC: h.magic = 0x46434853u; break;
        case SHMCHAN_E_FRAME_VERSION: h.version = 1; break;
        case SHMCHAN_E_FRAME_TYPE: h.type = SHMCHAN_FRAME_GOODBYE; break;
        case SHMCHAN_E_FRAME_FLAGS: h.flags = 0; break;
        case SHMCHAN_E_FRAME_RESERVED: h.reserved = 0; break;
        case SHMCHAN_E_FRAME_TOO_LONG: h.length = 5; break; /* 4 bytes present */
        case SHMCHAN_E_FRAME_BEYOND_BUFFER: h.length = 4; break;
        default: break;
        }
    }
    check_ctx_clear();
    ref_put_header(src, &h, payload, 4);
    shmchan_frame_t f;
    size_t flen = 0;
    CHECK_ERR(shmchan_codec_decode(src, sizeof src, CHANNEL_MAX, &f, pout, sizeof pout, &flen),
              SHMCHAN_OK);
    CHECK_EQ(f.type, SHMCHAN_FRAME_GOODBYE);
    CHECK_EQ(flen, sizeof src);
}

/* The failure contract holds for each output pointer on its own: a NULL
 * frame is an error, but the caller's *frame_len must still read 0
 * (shmchan.h: "on failure ... *frame_len is 0"). */
static void test_decode_null_frame_still_zeroes_frame_len(void **state)
{
    (void)state;
    check_ctx_clear();
    /* Stack buffers only: this test fails against the current codec.c, and
     * a failing test must not add a leak report to the noise. */
    uint8_t payload[2] = {1, 2};
    uint8_t good[HDR + 2];
    const ref_header_t h = ref_valid(SHMCHAN_FRAME_DATA, 2, 3);
    ref_put_header(good, &h, payload, 2);
    memcpy(good + HDR, payload, 2);
    uint8_t pout[2];
    size_t flen = 0;
    /* Sanity: the frame is valid, so only the NULL frame is wrong below. */
    shmchan_frame_t f;
    CHECK_ERR(shmchan_codec_decode(good, sizeof good, CHANNEL_MAX, &f, pout, sizeof pout, &flen),
              SHMCHAN_OK);
    CHECK_EQ(flen, sizeof good);

    flen = 0xDEADu;
    CHECK_ERR(shmchan_codec_decode(good, sizeof good, CHANNEL_MAX, NULL, pout, sizeof pout,
                                   &flen),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_EQ(flen, 0);
}

/* Payload lengths 0, 1, max-1, max, max+1 against a per-channel max of
 * 4096: the encoder accepts all (its only limit is the hard max), the
 * decoder rejects max+1 with FRAME_TOO_LONG; max_payload is inclusive. */
static void test_channel_max_boundaries(void **state)
{
    (void)state;
    check_ctx_clear();
    const uint32_t lens[] = {0, 1, CHANNEL_MAX - 1u, CHANNEL_MAX, CHANNEL_MAX + 1u};
    uint8_t *payload = alloc_exact(CHANNEL_MAX + 1u);
    fill_pattern(payload, CHANNEL_MAX + 1u, 2);

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        const uint32_t len = lens[i];
        check_ctx_set("payload length %" PRIu32, len);
        const size_t n = HDR + len;
        uint8_t *wire = alloc_exact(n);
        uint8_t *pout = alloc_exact(len);
        size_t out_len = 0;
        const shmchan_frame_t in = make_frame(SHMCHAN_FRAME_DATA, 1000u + len);
        CHECK_ERR(shmchan_codec_encode(&in, payload, len, wire, n, &out_len), SHMCHAN_OK);
        CHECK_EQ(out_len, n);
        uint8_t *expected = ref_frame_alloc(SHMCHAN_FRAME_DATA, 1000u + len, payload, len);
        CHECK_MEM(wire, expected, n);
        free(expected);

        shmchan_frame_t f;
        size_t flen = 0;
        if (len <= CHANNEL_MAX) {
            memset(pout, 0, len);
            CHECK_ERR(shmchan_codec_decode(wire, n, CHANNEL_MAX, &f, pout, len, &flen),
                      SHMCHAN_OK);
            CHECK_EQ(flen, n);
            CHECK_EQ(f.payload_len, len);
            CHECK_MEM(pout, payload, len);
        } else {
            EXPECT_DECODE_FAIL(wire, n, CHANNEL_MAX, pout, len, SHMCHAN_E_FRAME_TOO_LONG);
        }
        /* max_payload == length is accepted, length - 1 is not. */
        CHECK_ERR(shmchan_codec_decode(wire, n, len, &f, pout, len, &flen), SHMCHAN_OK);
        CHECK_EQ(flen, n);
        if (len > 0) {
            EXPECT_DECODE_FAIL(wire, n, len - 1u, pout, len, SHMCHAN_E_FRAME_TOO_LONG);
        }
        free_exact(pout, len);
        free_exact(wire, n);
    }
    free_exact(payload, CHANNEL_MAX + 1u);
}

/* The hard maximum (16 MiB): max-1 and max round-trip into exactly-sized
 * buffers, max+1 is FRAME_TOO_LONG on encode, and a forged header claiming
 * max+1 (all else valid, all bytes present) is FRAME_TOO_LONG on decode. */
static void test_hard_max_boundaries(void **state)
{
    (void)state;
    check_ctx_clear();
    const size_t big = HDR + (size_t)HARD_MAX + 1u;
    uint8_t *payload = alloc_exact((size_t)HARD_MAX + 1u);
    uint8_t *buf = alloc_exact(big);
    uint8_t *pout = alloc_exact(HARD_MAX);
    fill_pattern(payload, (size_t)HARD_MAX + 1u, 3);
    shmchan_frame_t f;
    size_t out_len;
    size_t flen;

    /* max - 1 */
    check_ctx_set("hard max - 1");
    const shmchan_frame_t in = make_frame(SHMCHAN_FRAME_DATA, 0xABCDEFu);
    out_len = 0;
    CHECK_ERR(shmchan_codec_encode(&in, payload, HARD_MAX - 1u, buf, big, &out_len), SHMCHAN_OK);
    CHECK_EQ(out_len, HDR + HARD_MAX - 1u);
    CHECK_EQ(ref_get_le32(buf + 8), HARD_MAX - 1u);
    flen = 0;
    CHECK_ERR(shmchan_codec_decode(buf, out_len, HARD_MAX, &f, pout, HARD_MAX - 1u, &flen),
              SHMCHAN_OK);
    CHECK_EQ(flen, HDR + HARD_MAX - 1u);
    CHECK_EQ(f.payload_len, HARD_MAX - 1u);
    CHECK(memcmp(pout, payload, HARD_MAX - 1u) == 0);

    /* max, into an output of exactly 24 + max (the byte after is a canary) */
    check_ctx_set("hard max");
    buf[big - 1] = 0x77;
    out_len = 0;
    CHECK_ERR(shmchan_codec_encode(&in, payload, HARD_MAX, buf, big - 1u, &out_len), SHMCHAN_OK);
    CHECK_EQ(out_len, big - 1u);
    CHECK_EQ(buf[big - 1], 0x77);
    uint8_t hdr[24];
    const ref_header_t hmax = ref_valid(SHMCHAN_FRAME_DATA, HARD_MAX, 0xABCDEFu);
    ref_put_header(hdr, &hmax, payload, HARD_MAX);
    CHECK_MEM(buf, hdr, HDR);
    flen = 0;
    CHECK_ERR(shmchan_codec_decode(buf, big - 1u, HARD_MAX, &f, pout, HARD_MAX, &flen),
              SHMCHAN_OK);
    CHECK_EQ(flen, big - 1u);
    CHECK_EQ(f.payload_len, HARD_MAX);
    CHECK(memcmp(pout, payload, HARD_MAX) == 0);

    /* max + 1: refused by encode, output untouched even with room for it. */
    check_ctx_set("hard max + 1, encode");
    memset(buf, 0xA5, HDR);
    out_len = 99;
    CHECK_ERR(shmchan_codec_encode(&in, payload, HARD_MAX + 1u, buf, big, &out_len),
              SHMCHAN_E_FRAME_TOO_LONG);
    CHECK_EQ(out_len, 0);
    CHECK_FILLED(buf, HDR, 0xA5);

    /* max + 1: forged on the wire, with every byte present and a correct
     * checksum, so the length is the only thing wrong. */
    check_ctx_set("hard max + 1, forged for decode");
    memcpy(buf + HDR, payload, (size_t)HARD_MAX + 1u);
    const ref_header_t hover = ref_valid(SHMCHAN_FRAME_DATA, HARD_MAX + 1u, 5);
    ref_put_header(buf, &hover, payload, (size_t)HARD_MAX + 1u);
    EXPECT_DECODE_FAIL(buf, big, HARD_MAX, pout, HARD_MAX, SHMCHAN_E_FRAME_TOO_LONG);
    EXPECT_DECODE_FAIL(buf, big, HARD_MAX + 1u, pout, HARD_MAX, SHMCHAN_E_INVALID_ARGUMENT);
    /* The same forging with length = max is a valid frame: the forgery is
     * sound and only the length made the difference. */
    check_ctx_set("hard max, forged for decode");
    const ref_header_t hok = ref_valid(SHMCHAN_FRAME_DATA, HARD_MAX, 5);
    ref_put_header(buf, &hok, payload, HARD_MAX);
    CHECK_ERR(shmchan_codec_decode(buf, big, HARD_MAX, &f, pout, HARD_MAX, &flen), SHMCHAN_OK);
    CHECK_EQ(flen, big - 1u);
    CHECK_EQ(f.seq, 5);

    free_exact(pout, HARD_MAX);
    free_exact(buf, big);
    free_exact(payload, (size_t)HARD_MAX + 1u);
}

/* A valid frame of N bytes cut at every length 0..N-1, placed at the end of
 * a heap block of exactly that length: TRUNCATED below 24 bytes,
 * BEYOND_BUFFER from there, and no read past the end (ASan). */
static void test_truncation_every_offset(void **state)
{
    (void)state;
    check_ctx_clear();
    const uint32_t lens[] = {0, 1, 5, 23, 24, 25, 200};
    uint8_t payload[200];
    fill_pattern(payload, sizeof payload, 4);

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        const uint32_t len = lens[i];
        const size_t n = HDR + len;
        uint8_t *wire = ref_frame_alloc(SHMCHAN_FRAME_GOODBYE, 42u + len, payload, len);
        uint8_t *pout = alloc_exact(len);
        for (size_t cut = 0; cut <= n; cut++) {
            check_ctx_set("payload length %" PRIu32 ", src_len %zu of %zu", len, cut, n);
            uint8_t *src = alloc_exact(cut);
            if (cut > 0) {
                memcpy(src, wire, cut);
            }
            if (cut == n) {
                shmchan_frame_t f;
                size_t flen = 0;
                CHECK_ERR(shmchan_codec_decode(src, cut, CHANNEL_MAX, &f, pout, len, &flen),
                          SHMCHAN_OK);
                CHECK_EQ(flen, n);
                CHECK_MEM(pout, payload, len);
            } else {
                EXPECT_DECODE_FAIL(src, cut, CHANNEL_MAX, pout, len,
                                   cut < HDR ? SHMCHAN_E_FRAME_TRUNCATED
                                             : SHMCHAN_E_FRAME_BEYOND_BUFFER);
            }
            free_exact(src, cut);
        }
        free_exact(pout, len);
        free(wire);
    }
}

/* Flip each bit of each byte of a frame: always rejected, with the code
 * the flipped field determines. */
static void test_bit_flips_every_bit(void **state)
{
    (void)state;
    check_ctx_clear();
    uint8_t payload[40];
    fill_pattern(payload, sizeof payload, 5);
    const struct {
        uint8_t type;
        uint32_t len;
        uint64_t seq;
    } frames[] = {
        {SHMCHAN_FRAME_DATA, 0, 0},
        {SHMCHAN_FRAME_GOODBYE, 3, 0x0123456789ABCDEFu},
        {SHMCHAN_FRAME_DATA, 40, 0xFFFFFFFFFFFFFFFFu},
    };
    const uint32_t maxes[] = {CHANNEL_MAX, HARD_MAX};

    for (size_t fi = 0; fi < sizeof frames / sizeof frames[0]; fi++) {
        const uint32_t len = frames[fi].len;
        const size_t n = HDR + len;
        uint8_t *src = ref_frame_alloc(frames[fi].type, frames[fi].seq, payload, len);
        uint8_t *pout = alloc_exact(len);
        for (size_t mi = 0; mi < sizeof maxes / sizeof maxes[0]; mi++) {
            const uint32_t max = maxes[mi];
            for (size_t byte = 0; byte < n; byte++) {
                for (unsigned bit = 0; bit < 8; bit++) {
                    check_ctx_set("frame %zu (len %" PRIu32 "), max_payload %" PRIu32
                                  ", byte %zu bit %u",
                                  fi, len, max, byte, bit);
                    shmchan_err_t want;
                    if (byte < 4) {
                        want = SHMCHAN_E_FRAME_MAGIC;
                    } else if (byte == 4) {
                        want = SHMCHAN_E_FRAME_VERSION;
                    } else if (byte == 5) {
                        want = SHMCHAN_E_FRAME_TYPE;
                    } else if (byte == 6) {
                        /* A fragment flag on a DATA frame is valid, and the
                         * checksum covers it; on a GOODBYE it is not. */
                        want = bit <= 1 && frames[fi].type == SHMCHAN_FRAME_DATA
                                   ? SHMCHAN_E_FRAME_CHECKSUM
                                   : SHMCHAN_E_FRAME_FLAGS;
                    } else if (byte == 7) {
                        want = SHMCHAN_E_FRAME_RESERVED;
                    } else if (byte < 12) {
                        const uint32_t flipped =
                            len ^ (uint32_t)(1u << (8u * (unsigned)(byte - 8u) + bit));
                        if (flipped > max) {
                            want = SHMCHAN_E_FRAME_TOO_LONG;
                        } else if (flipped > len) {
                            want = SHMCHAN_E_FRAME_BEYOND_BUFFER;
                        } else {
                            want = SHMCHAN_E_FRAME_CHECKSUM;
                        }
                    } else {
                        /* checksum field, seq, payload */
                        want = SHMCHAN_E_FRAME_CHECKSUM;
                    }
                    src[byte] ^= (uint8_t)(1u << bit);
                    shmchan_frame_t f;
                    memset(&f, 0xA5, sizeof f);
                    size_t flen = 0xDEADu;
                    const shmchan_err_t rc =
                        shmchan_codec_decode(src, n, max, &f, pout, len, &flen);
                    src[byte] ^= (uint8_t)(1u << bit);
                    CHECK(rc != SHMCHAN_OK);
                    if (byte >= 8 && byte < 12) {
                        CHECK(rc == SHMCHAN_E_FRAME_TOO_LONG ||
                              rc == SHMCHAN_E_FRAME_BEYOND_BUFFER ||
                              rc == SHMCHAN_E_FRAME_CHECKSUM);
                    }
                    CHECK_ERR(rc, want);
                    CHECK_FRAME_ZEROED(&f);
                    CHECK_EQ(flen, 0);
                }
            }
        }
        /* Restored after every flip: the original still decodes. */
        check_ctx_set("frame %zu after all flips", fi);
        shmchan_frame_t f;
        size_t flen = 0;
        CHECK_ERR(shmchan_codec_decode(src, n, CHANNEL_MAX, &f, pout, len, &flen), SHMCHAN_OK);
        free_exact(pout, len);
        free(src);
    }
}

/* decode(encode(m)) == m for a few thousand random frames, byte-exact
 * against the reference encoding, and re-encoding gives the same bytes. */
static void test_round_trip_random(void **state)
{
    (void)state;
    check_ctx_clear();
    uint64_t seed = 0x9E3779B97F4A7C15u;
    const char *env = getenv("SHMCHAN_CODEC_TEST_SEED");
    if (env != NULL && env[0] != '\0') {
        seed = (uint64_t)strtoull(env, NULL, 0);
    }
    if (seed == 0) {
        seed = 1; /* xorshift's one forbidden state */
    }
    print_message("codec round trip seed: 0x%016" PRIx64
                  " (replay with --test_env=SHMCHAN_CODEC_TEST_SEED=0x%016" PRIx64 ")\n",
                  seed, seed);
    uint64_t rng = seed;

    enum { FRAMES = 3000, SLACK = 16 };
    const size_t cap = HDR + CHANNEL_MAX + SLACK;
    uint8_t *payload = alloc_exact(CHANNEL_MAX);
    uint8_t *wire = alloc_exact(cap);
    uint8_t *wire2 = alloc_exact(cap);
    uint8_t *expected = alloc_exact(HDR + CHANNEL_MAX);
    uint8_t *pout = alloc_exact(CHANNEL_MAX);
    const uint64_t special_seqs[] = {0, 1, UINT64_MAX, (uint64_t)1 << 63, 0xFFFFFFFFu};

    for (unsigned iter = 0; iter < FRAMES; iter++) {
        uint32_t len;
        const uint32_t pick = rng_below(&rng, 8);
        if (pick == 0) {
            len = rng_below(&rng, 9);
        } else if (pick == 1) {
            len = CHANNEL_MAX - rng_below(&rng, 3);
        } else {
            len = rng_below(&rng, CHANNEL_MAX + 1u);
        }
        const uint8_t type =
            rng_below(&rng, 2) == 0 ? (uint8_t)SHMCHAN_FRAME_DATA : (uint8_t)SHMCHAN_FRAME_GOODBYE;
        const uint64_t seq = rng_below(&rng, 16) == 0
                                 ? special_seqs[rng_below(&rng, sizeof special_seqs /
                                                                    sizeof special_seqs[0])]
                                 : rng_next(&rng);
        for (uint32_t k = 0; k < len; k++) {
            payload[k] = (uint8_t)(rng_next(&rng) >> 56);
        }
        check_ctx_set("seed 0x%016" PRIx64 ", frame %u: type %u, length %" PRIu32
                      ", seq 0x%016" PRIx64,
                      seed, iter, (unsigned)type, len, seq);

        shmchan_frame_t in = make_frame(type, seq);
        in.payload_len = (uint32_t)rng_next(&rng); /* ignored by encode */
        in.checksum = (uint32_t)rng_next(&rng);    /* ignored by encode */
        memset(wire, 0xC3, cap);
        size_t out_len = 0;
        CHECK_ERR(shmchan_codec_encode(&in, len > 0 ? payload : NULL, len, wire, cap, &out_len),
                  SHMCHAN_OK);
        CHECK_EQ(out_len, HDR + len);
        CHECK_FILLED(wire + out_len, cap - out_len, 0xC3);
        const ref_header_t h = ref_valid(type, len, seq);
        ref_put_header(expected, &h, payload, len);
        if (len > 0) {
            memcpy(expected + HDR, payload, len);
        }
        CHECK_MEM(wire, expected, HDR + len);

        const uint32_t max = len + rng_below(&rng, CHANNEL_MAX - len + 1u);
        shmchan_frame_t out;
        memset(&out, 0x5A, sizeof out);
        memset(pout, 0x3C, CHANNEL_MAX);
        size_t flen = 0;
        CHECK_ERR(shmchan_codec_decode(wire, out_len, max, &out, pout, len, &flen), SHMCHAN_OK);
        CHECK_EQ(flen, HDR + len);
        CHECK_EQ(out.type, type);
        CHECK_EQ(out.flags, 0);
        CHECK_EQ(out.payload_len, len);
        CHECK_EQ(out.seq, seq);
        CHECK_EQ(out.checksum, ref_get_le32(expected + 12));
        CHECK_MEM(pout, payload, len);

        memset(wire2, 0x96, cap);
        size_t out_len2 = 0;
        CHECK_ERR(shmchan_codec_encode(&out, len > 0 ? pout : NULL, out.payload_len, wire2,
                                       out_len, &out_len2),
                  SHMCHAN_OK);
        CHECK_EQ(out_len2, out_len);
        CHECK_MEM(wire2, wire, out_len);
    }
    free_exact(pout, CHANNEL_MAX);
    free_exact(expected, HDR + CHANNEL_MAX);
    free_exact(wire2, cap);
    free_exact(wire, cap);
    free_exact(payload, CHANNEL_MAX);
}

/* Encode into every too-small output size 0..24+len-1, each an exact heap
 * block filled with a canary: OUTPUT_TOO_SMALL, *out_len == 0, no byte
 * written. The exact size then works. */
static void test_encode_output_too_small_every_size(void **state)
{
    (void)state;
    check_ctx_clear();
    const uint32_t lens[] = {0, 1, 2, 23, 24, 25, 100, 257};
    uint8_t payload[257];
    fill_pattern(payload, sizeof payload, 6);

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        const uint32_t len = lens[i];
        const size_t total = HDR + len;
        const shmchan_frame_t in = make_frame(SHMCHAN_FRAME_DATA, 77u);
        for (size_t out_cap = 0; out_cap < total; out_cap++) {
            check_ctx_set("payload length %" PRIu32 ", out_cap %zu", len, out_cap);
            uint8_t *out = alloc_exact(out_cap);
            memset(out, 0xA5, out_cap);
            size_t out_len = 12345;
            CHECK_ERR(shmchan_codec_encode(&in, payload, len, out, out_cap, &out_len),
                      SHMCHAN_E_OUTPUT_TOO_SMALL);
            CHECK_EQ(out_len, 0);
            CHECK_FILLED(out, out_cap, 0xA5);
            free_exact(out, out_cap);
        }
        check_ctx_set("payload length %" PRIu32 ", out_cap exact %zu", len, total);
        uint8_t *out = alloc_exact(total);
        size_t out_len = 0;
        CHECK_ERR(shmchan_codec_encode(&in, payload, len, out, total, &out_len), SHMCHAN_OK);
        CHECK_EQ(out_len, total);
        uint8_t *expected = ref_frame_alloc(SHMCHAN_FRAME_DATA, 77u, payload, len);
        CHECK_MEM(out, expected, total);
        free(expected);
        free_exact(out, total);
    }
}

/* Decode into every too-small payload buffer 0..len-1 (exact heap blocks):
 * OUTPUT_TOO_SMALL with the failure contract; payload_cap == len works. */
static void test_decode_payload_cap_every_size(void **state)
{
    (void)state;
    check_ctx_clear();
    const uint32_t lens[] = {1, 2, 3, 24, 100, 257};
    uint8_t payload[257];
    fill_pattern(payload, sizeof payload, 7);

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        const uint32_t len = lens[i];
        const size_t n = HDR + len;
        uint8_t *src = ref_frame_alloc(SHMCHAN_FRAME_DATA, 99u, payload, len);
        for (size_t cap = 0; cap < len; cap++) {
            check_ctx_set("payload length %" PRIu32 ", payload_cap %zu", len, cap);
            uint8_t *pout = alloc_exact(cap);
            EXPECT_DECODE_FAIL(src, n, CHANNEL_MAX, pout, cap, SHMCHAN_E_OUTPUT_TOO_SMALL);
            free_exact(pout, cap);
        }
        check_ctx_set("payload length %" PRIu32 ", payload_cap exact", len);
        uint8_t *pout = alloc_exact(len);
        shmchan_frame_t f;
        size_t flen = 0;
        CHECK_ERR(shmchan_codec_decode(src, n, CHANNEL_MAX, &f, pout, len, &flen), SHMCHAN_OK);
        CHECK_EQ(flen, n);
        CHECK_EQ(f.payload_len, len);
        CHECK_MEM(pout, payload, len);
        free_exact(pout, len);
        free(src);
    }

    /* An empty payload needs no buffer at all. */
    check_ctx_clear();
    uint8_t *empty = ref_frame_alloc(SHMCHAN_FRAME_GOODBYE, 1, NULL, 0);
    shmchan_frame_t f;
    size_t flen = 0;
    CHECK_ERR(shmchan_codec_decode(empty, HDR, CHANNEL_MAX, &f, NULL, 0, &flen), SHMCHAN_OK);
    CHECK_EQ(flen, HDR);
    CHECK_EQ(f.type, SHMCHAN_FRAME_GOODBYE);
    CHECK_EQ(f.payload_len, 0);
    free(empty);
}

/* Bytes after a frame are not part of it: decoding reports only the frame's
 * own length, so a stream of frames can be walked with frame_len. */
static void test_trailing_bytes_ignored(void **state)
{
    (void)state;
    check_ctx_clear();
    uint8_t pa[10];
    fill_pattern(pa, sizeof pa, 8);
    uint8_t *a = ref_frame_alloc(SHMCHAN_FRAME_DATA, 1, pa, sizeof pa);
    uint8_t *b = ref_frame_alloc(SHMCHAN_FRAME_GOODBYE, 2, NULL, 0);
    const size_t na = HDR + sizeof pa;
    const size_t nb = HDR;
    const size_t garbage = 5;
    const size_t total = na + nb + garbage;
    uint8_t *stream = alloc_exact(total);
    memcpy(stream, a, na);
    memcpy(stream + na, b, nb);
    memset(stream + na + nb, 0xFF, garbage);

    uint8_t pout[sizeof pa];
    shmchan_frame_t f;
    size_t flen = 0;
    check_ctx_set("first frame of the stream");
    CHECK_ERR(shmchan_codec_decode(stream, total, CHANNEL_MAX, &f, pout, sizeof pout, &flen),
              SHMCHAN_OK);
    CHECK_EQ(flen, na);
    CHECK_EQ(f.type, SHMCHAN_FRAME_DATA);
    CHECK_EQ(f.seq, 1);
    CHECK_EQ(f.payload_len, sizeof pa);
    CHECK_MEM(pout, pa, sizeof pa);

    check_ctx_set("second frame of the stream");
    size_t off = flen;
    CHECK_ERR(shmchan_codec_decode(stream + off, total - off, CHANNEL_MAX, &f, pout, sizeof pout,
                                   &flen),
              SHMCHAN_OK);
    CHECK_EQ(flen, nb);
    CHECK_EQ(f.type, SHMCHAN_FRAME_GOODBYE);
    CHECK_EQ(f.seq, 2);
    CHECK_EQ(f.payload_len, 0);

    check_ctx_set("the garbage tail");
    off += flen;
    CHECK_EQ(total - off, garbage);
    EXPECT_DECODE_FAIL(stream + off, total - off, CHANNEL_MAX, pout, sizeof pout,
                       SHMCHAN_E_FRAME_TRUNCATED);

    /* A frame followed by more than a header's worth of arbitrary bytes. */
    check_ctx_set("frame + 100 trailing bytes");
    uint8_t *longer = alloc_exact(na + 100);
    memcpy(longer, a, na);
    fill_pattern(longer + na, 100, 9);
    flen = 0;
    CHECK_ERR(shmchan_codec_decode(longer, na + 100, CHANNEL_MAX, &f, pout, sizeof pout, &flen),
              SHMCHAN_OK);
    CHECK_EQ(flen, na);
    CHECK_MEM(pout, pa, sizeof pa);

    free_exact(longer, na + 100);
    free_exact(stream, total);
    free(b);
    free(a);
}

/* The lanes' building blocks: the checksum covers every byte but its own
 * field, encode_header leaves its output alone on failure, parse_header
 * reports the checksum without verifying it and zeroes *frame on failure. */
/* The fragment flags (docs/protocol.md, "Fragments") on a DATA frame:
 * encoded in byte 6 exactly as the reference does, covered by the
 * checksum, and handed back by decode; any other bit refused by encode,
 * on DATA as on GOODBYE. */
static void test_fragment_flags(void **state)
{
    (void)state;
    uint8_t payload[5];
    fill_pattern(payload, sizeof payload, 11);
    for (uint8_t fl = 0; fl <= 3; fl++) {
        check_ctx_set("DATA flags 0x%02x", (unsigned)fl);
        shmchan_frame_t f = make_frame(SHMCHAN_FRAME_DATA, 0x77);
        f.flags = fl;
        uint8_t out[HDR + sizeof payload];
        size_t out_len = 0;
        CHECK_ERR(shmchan_codec_encode(&f, payload, sizeof payload, out, sizeof out, &out_len),
                  SHMCHAN_OK);
        ref_header_t h = ref_valid(SHMCHAN_FRAME_DATA, sizeof payload, 0x77);
        h.flags = fl;
        uint8_t want[HDR + sizeof payload];
        ref_put_header(want, &h, payload, sizeof payload);
        memcpy(want + HDR, payload, sizeof payload);
        CHECK_MEM(out, want, sizeof want);
        shmchan_frame_t got;
        uint8_t pout[sizeof payload];
        size_t flen = 0;
        CHECK_ERR(shmchan_codec_decode(out, out_len, CHANNEL_MAX, &got, pout, sizeof pout, &flen),
                  SHMCHAN_OK);
        CHECK_EQ(got.flags, fl);
        CHECK_MEM(pout, payload, sizeof payload);
    }
    for (unsigned bit = 2; bit < 8; bit++) {
        check_ctx_set("DATA flags bit %u", bit);
        shmchan_frame_t f = make_frame(SHMCHAN_FRAME_DATA, 1);
        f.flags = (uint8_t)((1u << bit) | SHMCHAN_FRAME_FLAG_MORE);
        uint8_t out[HDR + sizeof payload];
        size_t out_len = 99;
        CHECK_ERR(shmchan_codec_encode(&f, payload, sizeof payload, out, sizeof out, &out_len),
                  SHMCHAN_E_FRAME_FLAGS);
        CHECK_EQ(out_len, 0);
    }
    check_ctx_clear();
}

static void test_internal_helpers(void **state)
{
    (void)state;
    check_ctx_clear();
    uint8_t payload[16];
    fill_pattern(payload, sizeof payload, 10);
    uint8_t *frame = ref_frame_alloc(SHMCHAN_FRAME_DATA, 0x55u, payload, sizeof payload);
    uint8_t hdr[24];
    memcpy(hdr, frame, HDR);
    const uint32_t crc = ref_get_le32(hdr + 12);

    /* shmchan_codec_checksum */
    CHECK_EQ(shmchan_codec_checksum(hdr, payload, sizeof payload), crc);
    for (size_t byte = 0; byte < HDR; byte++) {
        check_ctx_set("checksum coverage, header byte %zu", byte);
        hdr[byte] ^= 0x10u;
        const uint32_t c = shmchan_codec_checksum(hdr, payload, sizeof payload);
        hdr[byte] ^= 0x10u;
        if (byte >= 12 && byte < 16) {
            CHECK_EQ(c, crc);
        } else {
            CHECK(c != crc);
        }
    }
    check_ctx_clear();
    payload[15] ^= 1u;
    CHECK(shmchan_codec_checksum(hdr, payload, sizeof payload) != crc);
    payload[15] ^= 1u;

    /* shmchan_codec_encode_header: failure leaves the header alone. */
    uint8_t out[24];
    shmchan_frame_t in = make_frame(SHMCHAN_FRAME_DATA, 0x55u);
    CHECK_ERR(shmchan_codec_encode_header(&in, payload, sizeof payload, out), SHMCHAN_OK);
    CHECK_MEM(out, hdr, HDR);
    memset(out, 0xA5, sizeof out);
    CHECK_ERR(shmchan_codec_encode_header(NULL, payload, sizeof payload, out),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_codec_encode_header(&in, payload, sizeof payload, NULL),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_codec_encode_header(&in, NULL, 1, out), SHMCHAN_E_INVALID_ARGUMENT);
    in.type = 0;
    CHECK_ERR(shmchan_codec_encode_header(&in, payload, sizeof payload, out),
              SHMCHAN_E_FRAME_TYPE);
    in.type = SHMCHAN_FRAME_DATA;
    in.flags = 0x40;
    CHECK_ERR(shmchan_codec_encode_header(&in, payload, sizeof payload, out),
              SHMCHAN_E_FRAME_FLAGS);
    CHECK_FILLED(out, sizeof out, 0xA5);

    /* shmchan_codec_parse_header: a wrong checksum is not its business. */
    shmchan_frame_t f;
    hdr[12] ^= 0xFFu;
    memset(&f, 0xA5, sizeof f);
    CHECK_ERR(shmchan_codec_parse_header(hdr, CHANNEL_MAX, &f), SHMCHAN_OK);
    CHECK_EQ(f.type, SHMCHAN_FRAME_DATA);
    CHECK_EQ(f.flags, 0);
    CHECK_EQ(f.payload_len, sizeof payload);
    CHECK_EQ(f.seq, 0x55u);
    CHECK_EQ(f.checksum, crc ^ 0xFFu);
    hdr[12] ^= 0xFFu;

    memset(&f, 0xA5, sizeof f);
    CHECK_ERR(shmchan_codec_parse_header(hdr, sizeof payload - 1u, &f), SHMCHAN_E_FRAME_TOO_LONG);
    CHECK_FRAME_ZEROED(&f);
    memset(&f, 0xA5, sizeof f);
    CHECK_ERR(shmchan_codec_parse_header(hdr, HARD_MAX + 1u, &f), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_FRAME_ZEROED(&f);
    memset(&f, 0xA5, sizeof f);
    CHECK_ERR(shmchan_codec_parse_header(NULL, CHANNEL_MAX, &f), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_FRAME_ZEROED(&f);
    CHECK_ERR(shmchan_codec_parse_header(hdr, CHANNEL_MAX, NULL), SHMCHAN_E_INVALID_ARGUMENT);
    hdr[7] = 1;
    memset(&f, 0xA5, sizeof f);
    CHECK_ERR(shmchan_codec_parse_header(hdr, CHANNEL_MAX, &f), SHMCHAN_E_FRAME_RESERVED);
    CHECK_FRAME_ZEROED(&f);

    free(frame);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_strings),
        cmocka_unit_test(test_known_answer_vectors),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_decode_each_error),
        cmocka_unit_test(test_decode_validation_order),
        cmocka_unit_test(test_decode_null_frame_still_zeroes_frame_len),
        cmocka_unit_test(test_channel_max_boundaries),
        cmocka_unit_test(test_hard_max_boundaries),
        cmocka_unit_test(test_truncation_every_offset),
        cmocka_unit_test(test_bit_flips_every_bit),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_encode_output_too_small_every_size),
        cmocka_unit_test(test_decode_payload_cap_every_size),
        cmocka_unit_test(test_trailing_bytes_ignored),
        cmocka_unit_test(test_fragment_flags),
        cmocka_unit_test(test_internal_helpers),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
