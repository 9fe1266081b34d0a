/*
 * gen_corpus.c - writes the seed corpora of the fuzz harnesses.
 *
 *   bazel run //fuzz:gen_corpus                 # into <workspace>/fuzz/corpus
 *   bazel run //fuzz:gen_corpus -- OUTDIR       # anywhere else
 *
 * Frames are made by the real encoder (shmchan_codec_encode) and segment
 * headers by the real writer (shmchan_layout_write_header), so the seeds
 * are valid by construction; each invalid seed is a valid one with exactly
 * one documented field broken. Every file is named seed-<what it is>; a run
 * first deletes the seed-* files of each directory and leaves every other
 * file (inputs merged in by campaigns, named by their SHA-1) alone, so it
 * is safe to re-run at any time. Input formats are described at the top of
 * each fuzz/<name>_fuzzer.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/codec_internal.h"
#include "src/endian_le.h"
#include "src/layout.h"
#include "src/shmchan.h"

#define SEED_MAX (64u * 1024u)

typedef struct seed {
    uint8_t bytes[SEED_MAX];
    size_t len;
} seed_t;

static const char *g_outdir;
static int g_failed;
static unsigned g_written;

static void seed_reset(seed_t *s)
{
    s->len = 0;
}

static void put_bytes(seed_t *s, const void *p, size_t n)
{
    if (s->len + n > SEED_MAX) {
        fprintf(stderr, "gen_corpus: seed too large\n");
        exit(1);
    }
    memcpy(s->bytes + s->len, p, n);
    s->len += n;
}

static void put_u8(seed_t *s, uint8_t v)
{
    put_bytes(s, &v, 1);
}

static void put_u16(seed_t *s, uint16_t v)
{
    uint8_t b[2];
    shmchan_le16_store(b, v);
    put_bytes(s, b, sizeof b);
}

static void put_u32(seed_t *s, uint32_t v)
{
    uint8_t b[4];
    shmchan_le32_store(b, v);
    put_bytes(s, b, sizeof b);
}

static void put_u64(seed_t *s, uint64_t v)
{
    uint8_t b[8];
    shmchan_le64_store(b, v);
    put_bytes(s, b, sizeof b);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_corpus: mkdir %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* Deletes the seed-* files of a previous run, keeps everything else. */
static void clear_seeds(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strncmp(e->d_name, "seed-", 5) == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) != 0) {
                g_failed = 1;
            }
        }
    }
    closedir(d);
}

static void start_corpus(const char *name)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", g_outdir, name);
    make_dir(dir);
    clear_seeds(dir);
}

static void emit(const char *corpus, const char *label, const seed_t *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/seed-%s", g_outdir, corpus, label);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(s->bytes, 1, s->len, f) != s->len || fclose(f) != 0) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        g_failed = 1;
        return;
    }
    g_written++;
}

/* The real encoder; aborts the generator if it refuses (a seed bug). */
static size_t encode_frame(uint8_t type, uint64_t seq, const uint8_t *payload, uint32_t len,
                           uint8_t *out, size_t cap)
{
    shmchan_frame_t f;
    memset(&f, 0, sizeof f);
    f.type = type;
    f.seq = seq;
    size_t n = 0;
    if (shmchan_codec_encode(&f, payload, len, out, cap, &n) != SHMCHAN_OK) {
        fprintf(stderr, "gen_corpus: encoder refused a seed frame\n");
        exit(1);
    }
    return n;
}

static void fill_pattern(uint8_t *p, size_t n, uint8_t salt)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 31u + salt);
    }
}

/* ------------------------------------------------------------ decode */

/* [u32 max_payload selector][u8 cap selector][bytes] */
static void decode_seed(const char *label, uint32_t max_payload, uint8_t cap_sel,
                        const uint8_t *bytes, size_t n)
{
    static seed_t s;
    seed_reset(&s);
    put_u32(&s, max_payload);
    put_u8(&s, cap_sel);
    put_bytes(&s, bytes, n);
    emit("decode", label, &s);
}

/* One valid frame with byte `off` set to `value`: exactly one broken field. */
static void decode_broken(const char *label, const uint8_t *frame, size_t n, size_t off,
                          uint8_t value)
{
    uint8_t copy[512];
    memcpy(copy, frame, n);
    copy[off] = value;
    decode_seed(label, 4096, 0, copy, n);
}

static void gen_decode(void)
{
    start_corpus("decode");
    uint8_t payload[300];
    fill_pattern(payload, sizeof payload, 7);
    uint8_t f[512];
    size_t n;

    n = encode_frame(SHMCHAN_FRAME_DATA, 0, NULL, 0, f, sizeof f);
    decode_seed("data-empty", 4096, 0, f, n);
    decode_seed("data-empty-max0", 0, 0, f, n);
    decode_seed("data-empty-cap0", 4096, 0x80, f, n);
    decode_seed("truncated-23", 4096, 0, f, n - 1);
    decode_seed("empty-input", 4096, 0, f, 0);
    n = encode_frame(SHMCHAN_FRAME_GOODBYE, 41, NULL, 0, f, sizeof f);
    decode_seed("goodbye", 4096, 0, f, n);
    n = encode_frame(SHMCHAN_FRAME_DATA, 1, payload, 1, f, sizeof f);
    decode_seed("data-1", 1, 0, f, n);
    decode_seed("data-1-max0", 0, 0, f, n);
    n = encode_frame(SHMCHAN_FRAME_DATA, UINT64_MAX, payload, 100, f, sizeof f);
    decode_seed("data-100-seqmax", 4096, 0, f, n);
    decode_seed("data-100-max100", 100, 0, f, n);
    decode_seed("data-100-max99", 99, 0, f, n);
    decode_seed("data-100-cap100", 4096, 0x80 + 100, f, n);
    decode_seed("data-100-cap99", 4096, 0x80 + 99, f, n);
    decode_seed("data-100-hardmax", SHMCHAN_PAYLOAD_HARD_MAX, 0, f, n);
    decode_seed("data-100-over-hardmax", SHMCHAN_PAYLOAD_HARD_MAX + 1u, 0, f, n);
    decode_seed("data-100-raw-max", 0x80000000u, 0, f, n);
    decode_seed("beyond-buffer", 4096, 0, f, n - 1);
    decode_broken("bad-magic", f, n, 0, 'X');
    decode_broken("bad-version", f, n, 4, 2);
    decode_broken("bad-type-0", f, n, 5, 0);
    decode_broken("bad-type-3", f, n, 5, 3);
    decode_broken("bad-flags", f, n, 6, 1);
    decode_broken("bad-reserved", f, n, 7, 0x80);
    decode_broken("bad-length", f, n, 9, 0x10);
    decode_broken("bad-checksum", f, n, 12, (uint8_t)(f[12] ^ 1u));
    decode_broken("bad-seq", f, n, 16, (uint8_t)(f[16] ^ 1u));
    decode_broken("bad-payload", f, n, 24 + 50, (uint8_t)(f[24 + 50] ^ 0x80u));

    /* A frame followed by more bytes: only the frame is consumed. */
    uint8_t two[600];
    size_t a = encode_frame(SHMCHAN_FRAME_DATA, 5, payload, 24, two, sizeof two);
    size_t b = encode_frame(SHMCHAN_FRAME_GOODBYE, 6, NULL, 0, two + a, sizeof two - a);
    decode_seed("two-frames", 4096, 0, two, a + b);
    n = encode_frame(SHMCHAN_FRAME_DATA, 2, payload, 300, f, sizeof f);
    decode_seed("data-300", 4096, 0, f, n);

    /* Payloads past 3 KiB reach the interleaved CRC path. */
    static uint8_t big_payload[4000];
    static uint8_t big[4096];
    fill_pattern(big_payload, sizeof big_payload, 11);
    n = encode_frame(SHMCHAN_FRAME_DATA, 3, big_payload, 3072, big, sizeof big);
    decode_seed("data-3072", 4096, 0, big, n);
    n = encode_frame(SHMCHAN_FRAME_DATA, 4, big_payload, 4000, big, sizeof big);
    decode_seed("data-4000", 4096, 0, big, n);
}

/* ------------------------------------------------------------ crc32c */

/* [u32 initial crc][u16 length][u16 split][u8 misalignment][data] */
static void crc32c_seed(const char *label, uint32_t crc, uint16_t len, uint16_t split,
                        uint8_t misalign, const char *data)
{
    static seed_t s;
    seed_reset(&s);
    put_u32(&s, crc);
    put_u16(&s, len);
    put_u16(&s, split);
    put_u8(&s, misalign);
    put_bytes(&s, data, strlen(data));
    emit("crc32c", label, &s);
}

static void gen_crc32c(void)
{
    start_corpus("crc32c");
    /* The published check value input, and lengths around the 8-byte
     * words and the 3 x 1024-byte interleaved blocks of the SSE4.2 path. */
    crc32c_seed("check-123456789", 0, 9, 0, 0, "123456789");
    crc32c_seed("empty", 0xFFFFFFFFu, 0, 0, 3, "");
    crc32c_seed("one", 0, 1, 1, 1, "a");
    crc32c_seed("word-7", 0x12345678u, 7, 3, 5, "abcdefg");
    crc32c_seed("word-8", 0, 8, 4, 0, "abcdefgh");
    crc32c_seed("word-9", 0, 9, 8, 7, "abcdefghi");
    crc32c_seed("block-3071", 0, 3071, 1024, 0, "0123456789abcdef");
    crc32c_seed("block-3072", 0, 3072, 3072, 0, "0123456789abcdef");
    crc32c_seed("block-3073", 0xDEADBEEFu, 3073, 17, 9, "The quick brown fox");
    crc32c_seed("blocks-6144", 0, 6144, 3072, 1, "x");
    crc32c_seed("blocks-9221-misaligned", 0xFFFFFFFFu, 9221, 4000, 13, "shmchan frame");
    crc32c_seed("zeros-65535", 0, 65535, 32768, 0, "");
}

/* --------------------------------------------------------- roundtrip */

/* [u8 type][u8 flags][u64 seq][payload] */
static void roundtrip_seed(const char *label, uint8_t type, uint8_t flags, uint64_t seq,
                           size_t payload_len, uint8_t salt)
{
    static seed_t s;
    static uint8_t payload[4096];
    seed_reset(&s);
    put_u8(&s, type);
    put_u8(&s, flags);
    put_u64(&s, seq);
    fill_pattern(payload, payload_len, salt);
    put_bytes(&s, payload, payload_len);
    emit("roundtrip", label, &s);
}

static void gen_roundtrip(void)
{
    start_corpus("roundtrip");
    roundtrip_seed("data-empty", SHMCHAN_FRAME_DATA, 0, 0, 0, 0);
    roundtrip_seed("goodbye", SHMCHAN_FRAME_GOODBYE, 0, 7, 0, 0);
    roundtrip_seed("data-1", SHMCHAN_FRAME_DATA, 0, 1, 1, 3);
    roundtrip_seed("data-23", SHMCHAN_FRAME_DATA, 0, 2, 23, 4);
    roundtrip_seed("data-24", SHMCHAN_FRAME_DATA, 0, 3, 24, 5);
    roundtrip_seed("data-255-seqmax", SHMCHAN_FRAME_DATA, 0, UINT64_MAX, 255, 6);
    roundtrip_seed("data-1000", SHMCHAN_FRAME_DATA, 0, 0x0123456789abcdefull, 1000, 7);
    roundtrip_seed("data-3072", SHMCHAN_FRAME_DATA, 0, 10, 3072, 13);
    roundtrip_seed("data-4096", SHMCHAN_FRAME_DATA, 0, 11, 4096, 14);
    roundtrip_seed("goodbye-payload", SHMCHAN_FRAME_GOODBYE, 0, 9, 16, 8);
    roundtrip_seed("type-0", 0, 0, 0, 4, 9);
    roundtrip_seed("type-3", 3, 0, 0, 4, 10);
    roundtrip_seed("flags-1", SHMCHAN_FRAME_DATA, 1, 0, 4, 11);
    roundtrip_seed("flags-80", SHMCHAN_FRAME_GOODBYE, 0x80, 0, 0, 12);
}

/* ------------------------------------------------------------ layout */

/* [u32 image size][256-byte header]. `mutate` breaks one field, or -1. */
static void layout_seed(const char *label, uint32_t clients, uint32_t payload,
                        uint32_t capacity, int64_t size_delta, int mutate_off,
                        uint32_t mutate_value, int publish)
{
    static seed_t s;
    shmchan_params_t p = {clients, payload, capacity};
    shmchan_layout_t layout;
    if (shmchan_layout_compute(&p, &layout) != SHMCHAN_OK) {
        fprintf(stderr, "gen_corpus: invalid layout seed %s\n", label);
        exit(1);
    }
    /* The header writer needs an aligned image; only the header is kept. */
    uint8_t *image = aligned_alloc(64, SHMCHAN_LAYOUT_HEADER_SIZE);
    if (image == NULL) {
        exit(1);
    }
    shmchan_layout_write_header(image, &layout, 0x1234u + clients, 0, 0x5EED0000ull + capacity);
    if (publish) {
        shmchan_layout_publish_magic(image);
    }
    if (mutate_off >= 0) {
        shmchan_le32_store(image + mutate_off, mutate_value);
    }
    seed_reset(&s);
    put_u32(&s, (uint32_t)((int64_t)layout.total_size + size_delta));
    put_bytes(&s, image, SHMCHAN_LAYOUT_HEADER_SIZE);
    free(image);
    emit("layout", label, &s);
}

static void gen_layout(void)
{
    start_corpus("layout");
    layout_seed("min", 1, 1, 64, 0, -1, 0, 1);
    layout_seed("tight-40-64", 1, 40, 64, 0, -1, 0, 1);
    layout_seed("two-1000-1024", 2, 1000, 1024, 0, -1, 0, 1);
    layout_seed("default-8", 8, 4096, 65536, 0, -1, 0, 1);
    layout_seed("max-clients", 256, 40, 64, 0, -1, 0, 1);
    layout_seed("big-lane", 1, 100000, 1u << 20, 0, -1, 0, 1);
    layout_seed("size-minus-1", 2, 1000, 1024, -1, -1, 0, 1);
    layout_seed("size-plus-1", 2, 1000, 1024, 1, -1, 0, 1);
    layout_seed("unpublished", 2, 1000, 1024, 0, -1, 0, 0);
    layout_seed("bad-version", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_VERSION, 2, 1);
    layout_seed("bad-header-size", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_HEADER_SIZE, 255, 1);
    layout_seed("bad-reserved", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_RESERVED, 1, 1);
    layout_seed("clients-0", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_MAX_CLIENTS, 0, 1);
    layout_seed("clients-257", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_MAX_CLIENTS, 257, 1);
    layout_seed("payload-0", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_MAX_PAYLOAD, 0, 1);
    layout_seed("payload-over-lane", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_MAX_PAYLOAD, 1001, 1);
    layout_seed("payload-over-hardmax", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_MAX_PAYLOAD,
                SHMCHAN_PAYLOAD_HARD_MAX + 1u, 1);
    layout_seed("lane-not-pow2", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_LANE_CAPACITY, 1536, 1);
    layout_seed("lane-32", 1, 1, 64, 0, SHMCHAN_HDR_OFF_LANE_CAPACITY, 32, 1);
    layout_seed("lane-0", 1, 1, 64, 0, SHMCHAN_HDR_OFF_LANE_CAPACITY, 0, 1);
    layout_seed("lane-2g", 1, 1, 64, 0, SHMCHAN_HDR_OFF_LANE_CAPACITY, 1u << 31, 1);
    layout_seed("bad-nsems", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_NSEMS, 13, 1);
    layout_seed("bad-total", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_TOTAL_SIZE, 1, 1);
    layout_seed("bad-total-high", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_TOTAL_SIZE + 4, 1, 1);
    layout_seed("nonzero-tail", 2, 1000, 1024, 0, SHMCHAN_HDR_OFF_SERVER_STATE, 2, 1);

    static seed_t s;
    seed_reset(&s);
    put_u32(&s, 255);
    emit("layout", "too-small", &s);
}

/* -------------------------------------------------------------- lane */

enum { OP_SEND = 0, OP_RECV = 3, OP_POLL = 6, OP_FLAGS = 7, OP_CTL = 8, OP_FIELD = 9,
       OP_BYTE = 19 };

static void lane_header(seed_t *s, uint8_t cap_exp, uint16_t max_payload, uint32_t base)
{
    seed_reset(s);
    put_u8(s, cap_exp);
    put_u16(s, max_payload);
    put_u32(s, base);
}

static void lane_send(seed_t *s, uint8_t type_sel, uint16_t len, uint8_t salt)
{
    uint8_t payload[4096];
    put_u8(s, OP_SEND);
    put_u8(s, type_sel);
    put_u16(s, len);
    fill_pattern(payload, len, salt);
    put_bytes(s, payload, len);
}

static void lane_recv(seed_t *s, uint8_t cap_sel)
{
    put_u8(s, OP_RECV);
    put_u8(s, cap_sel);
}

static void lane_poll(seed_t *s, uint16_t len)
{
    put_u8(s, OP_POLL);
    put_u16(s, len);
}

static void lane_op(seed_t *s, uint8_t op, uint8_t sel, uint32_t value)
{
    put_u8(s, op);
    put_u8(s, sel);
    put_u32(s, value);
}

static void gen_lane(void)
{
    start_corpus("lane");
    static seed_t s;

    /* capacity 256 (exp 2), max_payload 100: ping-pong of every kind. */
    lane_header(&s, 2, 100, 0);
    lane_send(&s, 0, 0, 0);
    lane_recv(&s, 0);
    lane_send(&s, 1, 100, 1);
    lane_poll(&s, 10);
    lane_recv(&s, 0x80 + 10); /* too small: kept */
    lane_recv(&s, 0);
    lane_recv(&s, 0); /* empty */
    lane_send(&s, 0, 101, 2); /* too long */
    lane_send(&s, 0xF3, 5, 3); /* unknown type */
    emit("lane", "pingpong", &s);

    /* Fill until WOULD_BLOCK, drain, across the end of the ring. */
    lane_header(&s, 0, 40, 0); /* capacity 64 */
    for (int i = 0; i < 6; i++) {
        lane_send(&s, (uint8_t)i, (uint16_t)(i * 7 % 41), (uint8_t)i);
        lane_poll(&s, 40);
        lane_recv(&s, 0);
    }
    lane_send(&s, 0, 10, 9);
    lane_send(&s, 0, 10, 9); /* full */
    emit("lane", "wrap-64", &s);

    /* The largest lane the harness makes (4096 bytes) with frames past
     * 3 KiB, wrapping. */
    lane_header(&s, 6, 4072, 0);
    lane_send(&s, 0, 3100, 1);
    lane_recv(&s, 0);
    lane_send(&s, 1, 4072, 2);
    lane_recv(&s, 0);
    emit("lane", "big-frames", &s);

    /* Counters about to wrap at 2^32. */
    lane_header(&s, 1, 60, 0xFFFFFFC0u);
    for (int i = 0; i < 5; i++) {
        lane_send(&s, 0, 30, (uint8_t)i);
        lane_recv(&s, 0);
    }
    emit("lane", "counter-wrap", &s);

    /* Waiting flags. */
    lane_header(&s, 3, 200, 0);
    put_u8(&s, OP_FLAGS);
    put_u8(&s, 3);
    put_u8(&s, OP_FLAGS);
    put_u8(&s, 2);
    put_u8(&s, OP_FLAGS);
    put_u8(&s, 1);
    put_u8(&s, OP_FLAGS);
    put_u8(&s, 0);
    put_u8(&s, OP_FLAGS);
    put_u8(&s, 4);
    emit("lane", "flags", &s);

    /* Corruptions, each after one frame is in flight. */
    static const struct {
        const char *label;
        uint8_t op, sel;
        uint32_t value;
    } hits[] = {
        {"head-plus-1", OP_CTL, 0 | (1 << 2), 1},
        {"head-minus-1", OP_CTL, 0 | (1 << 2), 0xFF},
        {"head-huge", OP_CTL, 0, 0x80000000u},
        {"head-at-consumer-plus-10", OP_CTL, 0 | (3 << 2), 10},
        {"tail-ahead", OP_CTL, 1 | (3 << 2), 8},
        {"tail-behind", OP_CTL, 1 | (1 << 2), 0x80},
        {"tail-bitflip", OP_CTL, 1 | (2 << 2), 31},
        {"cw-set", OP_CTL, 2, 7},
        {"frame-length", OP_FIELD, 8, 1000},
        {"frame-length-short", OP_FIELD, 8, 2},
        {"frame-checksum", OP_FIELD, 12, 0},
        {"frame-seq", OP_FIELD, 16, 1},
        {"frame-type", OP_FIELD, 4, 0x00000301u},
        {"frame-magic", OP_FIELD, 0, 0},
        {"payload-byte", OP_BYTE, 30, 0x55},
    };
    for (size_t i = 0; i < sizeof hits / sizeof hits[0]; i++) {
        lane_header(&s, 2, 100, 0);
        lane_send(&s, 0, 20, 1);
        lane_send(&s, 1, 0, 2);
        lane_op(&s, hits[i].op, hits[i].sel, hits[i].value);
        lane_poll(&s, 100);
        /* Whoever moves next meets the lie: the producer for a lying tail,
         * the consumer otherwise (the other side's next honest store of
         * its own index would repair it first). */
        const int tail_lie = hits[i].op == OP_CTL && (hits[i].sel & 3u) == 1u;
        if (tail_lie) {
            /* The producer re-reads tail only when its cached one leaves
             * too little room: two large frames get it there. */
            lane_send(&s, 0, 100, 3);
            lane_send(&s, 0, 100, 6);
        }
        lane_recv(&s, 0);
        lane_recv(&s, 0);
        lane_poll(&s, 10);
        lane_send(&s, 0, 100, 4);
        lane_send(&s, 0, 100, 5);
        lane_recv(&s, 0);
        emit("lane", hits[i].label, &s);
    }

    /* A length within max_payload but past what head covers. */
    lane_header(&s, 2, 100, 0);
    lane_send(&s, 0, 20, 1);
    lane_op(&s, OP_FIELD, 8, 50);
    lane_recv(&s, 0);
    lane_poll(&s, 1);
    emit("lane", "frame-length-beyond", &s);

    /* A replayed frame with a valid checksum: after two frames of 32 bytes
     * in a 64-byte ring, the consumer's next position holds frame 0 again;
     * a head moved one frame forward makes it read that stale frame, whose
     * sequence number (0) is not the expected one (2). */
    lane_header(&s, 0, 40, 0);
    lane_send(&s, 0, 8, 1);
    lane_recv(&s, 0);
    lane_send(&s, 0, 8, 2);
    lane_recv(&s, 0);
    lane_op(&s, OP_CTL, 0 | (3 << 2), 32);
    lane_recv(&s, 0);
    lane_poll(&s, 8);
    emit("lane", "stale-frame-replay", &s);
}

/* -------------------------------------------------------------- args */

/* [u32 min][u32 max][text] */
static void gen_args(void)
{
    start_corpus("args");
    static const struct {
        const char *label;
        uint32_t min, max;
        const char *text;
    } seeds[] = {
        {"key-1234", 1, 256, "1234"},
        {"key-hex", 0, UINT32_MAX, "0x4d2"},
        {"key-hex-upper", 0, UINT32_MAX, "0X4D2"},
        {"key-hex-printed", 0, UINT32_MAX, "0x000004d2"},
        {"u32-max", 0, UINT32_MAX, "4294967295"},
        {"u32-overflow", 0, UINT32_MAX, "4294967296"},
        {"hex-max", 0, UINT32_MAX, "0xffffffff"},
        {"hex-overflow", 0, UINT32_MAX, "0x100000000"},
        {"zero", 0, 10, "0"},
        {"hex-zero", 0, 10, "0x0"},
        {"leading-zero", 0, 10000, "01234"},
        {"double-zero", 0, 10, "00"},
        {"plus", 0, 10, "+1"},
        {"minus", 0, 10, "-1"},
        {"space-before", 0, 10, " 1"},
        {"space-after", 0, 10, "1 "},
        {"hex-no-digits", 0, 10, "0x"},
        {"junk", 0, 100, "12a"},
        {"empty", 0, 10, ""},
        {"range-low", 5, 10, "4"},
        {"range-high", 5, 10, "11"},
        {"range-edge", 5, 10, "10"},
        {"mode-0600", 0, 1000, "0600"},
        {"mode-0660", 0, 1000, "0660"},
        {"mode-0601", 0, 1000, "0601"},
    };
    static seed_t s;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        seed_reset(&s);
        put_u32(&s, seeds[i].min);
        put_u32(&s, seeds[i].max);
        put_bytes(&s, seeds[i].text, strlen(seeds[i].text));
        emit("args", seeds[i].label, &s);
    }
    /* Text ends at the first NUL: what follows is ignored. */
    seed_reset(&s);
    put_u32(&s, 0);
    put_u32(&s, 100);
    put_bytes(&s, "42\0" "99", 5);
    emit("args", "embedded-nul", &s);
}

int main(int argc, char **argv)
{
    static char defdir[4096];
    if (argc > 1) {
        g_outdir = argv[1];
    } else {
        const char *ws = getenv("BUILD_WORKSPACE_DIRECTORY");
        if (ws == NULL) {
            fprintf(stderr, "usage: gen_corpus OUTDIR (or run it with `bazel run`)\n");
            return 2;
        }
        snprintf(defdir, sizeof defdir, "%s/fuzz/corpus", ws);
        g_outdir = defdir;
    }
    make_dir(g_outdir);
    gen_decode();
    gen_crc32c();
    gen_roundtrip();
    gen_layout();
    gen_lane();
    gen_args();
    printf("gen_corpus: %u seeds written under %s\n", g_written, g_outdir);
    return g_failed;
}
