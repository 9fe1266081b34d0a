/*
 * crc32c.c - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Three implementations that must agree bit for bit (tests/crc32c_test.c
 * checks each against the published check value and the others): carry-less
 * folding (AVX-512 + VPCLMULQDQ, inputs of 256 bytes and more), the SSE4.2
 * crc32 instruction, and a byte-wise table otherwise. The choice is made per
 * call from CPU probes cached at load time; every path reads only
 * data[0, len).
 */
#include "crc32c.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define SHMCHAN_CRC32C_HAVE_SSE42 1
#include <nmmintrin.h>
/* The fused copy-and-sum path (AVX-512 + VPCLMULQDQ). Frama-C cannot read
 * immintrin.h: the proofs analyse the other paths (docs/proofs.md). */
#ifndef __FRAMAC__
#define SHMCHAN_CRC32C_HAVE_FOLD 1
#include <immintrin.h>
#endif
#endif

/* crc32c_table[i] is the CRC of the single byte i (generated with the bitwise
 * loop in tests/crc32c_test.c, which recomputes and compares every entry). */
const uint32_t shmchan_crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
    0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
    0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
    0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
    0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
    0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
    0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
    0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
    0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
    0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
    0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
    0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
    0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
    0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
    0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
    0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
    0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
    0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
    0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
    0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
    0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
    0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
    0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
    0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
    0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
    0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
    0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
    0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
    0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
    0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

uint32_t shmchan_crc32c_update_portable(uint32_t crc, const uint8_t *data, size_t len)
{
    uint32_t c = ~crc;
    for (size_t i = 0; i < len; i++) {
        c = shmchan_crc32c_table[(c ^ data[i]) & 0xffu] ^ (c >> 8);
    }
    return ~c;
}

#ifdef SHMCHAN_CRC32C_HAVE_SSE42
/* The crc32 instruction has a latency of 3 cycles and a throughput of 1, so
 * one dependent chain runs at a third of the possible speed. Long inputs are
 * cut into three interleaved blocks of CRC32C_BLOCK bytes, each with its own
 * chain, and the three CRC registers are then combined: the register is
 * linear over GF(2), so crc(r, A|B|C) = Z2(crc(r, A)) ^ Z1(crc(0, B)) ^
 * crc(0, C), where Zn shifts a register through n blocks of zero bytes.
 * Z1 and Z2 are 32x32 bit matrices, applied as four 256-entry tables each. */
#define CRC32C_BLOCK 1024u

static uint32_t crc32c_shift1[4][256];
static uint32_t crc32c_shift2[4][256];
static int crc32c_shift_ready;

__attribute__((target("sse4.2"))) static uint32_t crc32c_zeros(uint32_t reg, size_t len)
{
    uint64_t c = reg;
    for (size_t i = 0; i < len; i += 8) {
        c = _mm_crc32_u64(c, 0);
    }
    return (uint32_t)c;
}

static void crc32c_build_shift(uint32_t table[4][256], size_t len)
{
    uint32_t basis[32];
    for (unsigned bit = 0; bit < 32; bit++) {
        basis[bit] = crc32c_zeros(1u << bit, len);
    }
    for (unsigned k = 0; k < 4; k++) {
        for (unsigned v = 0; v < 256; v++) {
            uint32_t out = 0;
            for (unsigned j = 0; j < 8; j++) {
                if (v & (1u << j)) {
                    out ^= basis[8u * k + j];
                }
            }
            table[k][v] = out;
        }
    }
}

/* Built once at load time, before any thread can call the codec, so no
 * lazy initialisation (and no race) is needed. */
__attribute__((constructor)) static void crc32c_init_shift_tables(void)
{
    /* Constructors may run before the compiler runtime's own CPU probe. */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("sse4.2")) {
        return;
    }
    crc32c_build_shift(crc32c_shift1, CRC32C_BLOCK);
    crc32c_build_shift(crc32c_shift2, 2u * CRC32C_BLOCK);
    crc32c_shift_ready = 1;
}

static uint32_t crc32c_apply_shift(const uint32_t table[4][256], uint32_t reg)
{
    return table[0][reg & 0xffu] ^ table[1][(reg >> 8) & 0xffu] ^
           table[2][(reg >> 16) & 0xffu] ^ table[3][reg >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_update_sse42(uint32_t crc,
                                                                      const uint8_t *data,
                                                                      size_t len)
{
    uint64_t c = (uint64_t)~crc;
    size_t i = 0;
    if (crc32c_shift_ready) {
        for (; len - i >= 3u * CRC32C_BLOCK; i += 3u * CRC32C_BLOCK) {
            const uint8_t *p = data + i;
            uint64_t a = c, b = 0, d = 0;
            for (size_t k = 0; k < CRC32C_BLOCK; k += 8) {
                uint64_t wa, wb, wd;
                /* memcpy: no alignment guarantee; each compiles to a load. */
                memcpy(&wa, p + k, sizeof wa);
                memcpy(&wb, p + CRC32C_BLOCK + k, sizeof wb);
                memcpy(&wd, p + 2u * CRC32C_BLOCK + k, sizeof wd);
                a = _mm_crc32_u64(a, wa);
                b = _mm_crc32_u64(b, wb);
                d = _mm_crc32_u64(d, wd);
            }
            c = crc32c_apply_shift(crc32c_shift2, (uint32_t)a) ^
                crc32c_apply_shift(crc32c_shift1, (uint32_t)b) ^ (uint32_t)d;
        }
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, data + i, sizeof word);
        c = _mm_crc32_u64(c, word);
    }
    uint32_t c32 = (uint32_t)c;
    for (; i < len; i++) {
        c32 = _mm_crc32_u8(c32, data[i]);
    }
    return ~c32;
}
#endif

#ifdef SHMCHAN_CRC32C_HAVE_FOLD
/*
 * Folding: the sum alone (shmchan_crc32c_update) or the copy and the sum in
 * one instruction stream (shmchan_crc32c_copy). The CRC is
 * linear over GF(2), so the register can be carried as sixteen 128-bit
 * partial remainders, one per 16 bytes of a 256-byte window, each moved
 * ("folded") one window forward per round by two carry-less products
 * (Gopal et al., "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ", Intel, 2009). Four AVX-512 registers hold the sixteen; every
 * 64 bytes are loaded once, stored to dst from the register and folded from
 * the same register, so what is summed is exactly what was stored, whatever
 * another process does to src meanwhile.
 *
 * Bit order (reflected CRC): bit i of a 16-byte chunk (byte i/8, bit i%8)
 * is the coefficient of x^(127-i); bit i of the 32-bit register that of
 * x^(31-i). The reflected carry-less product of two qwords a, b is a*b*x in
 * that 128-bit frame. A chunk V = L*x^64 + H (L its low qword) moved d bits
 * forward is V*x^d = L*x^(64+d) + H*x^d, which is
 *   clmul(L, K(63 + d)) ^ clmul(H, K(d - 1)),  K(e) = x^e mod P,
 * each K a polynomial of degree < 32 in the high half of its qword. K(e)
 * is the register x^31 (value 1) run through (e - 31) / 8 zero bytes by the
 * crc32 instruction: computed at load time, so no constant here is magic.
 */
typedef struct crc32c_fold_keys {
    uint64_t k2048[2], k1536[2], k1024[2], k512[2], k384[2], k256[2], k128[2];
} crc32c_fold_keys_t;

static crc32c_fold_keys_t crc32c_keys;
static int crc32c_fold_keys_made; /* the CPU folds and the keys are made */
static int crc32c_fold_ready;     /* ... and the path is on (tests turn it off) */

__attribute__((target("sse4.2"))) static uint64_t crc32c_key(unsigned e)
{
    uint32_t reg = 1u; /* x^31 */
    for (unsigned n = (e - 31u) / 8u; n > 0; n--) {
        reg = _mm_crc32_u8(reg, 0);
    }
    return (uint64_t)reg << 32;
}

static void crc32c_key_pair(uint64_t pair[2], unsigned d)
{
    pair[0] = crc32c_key(63u + d); /* times the low qword, L */
    pair[1] = crc32c_key(d - 1u);  /* times the high qword, H */
}

/* Load time, like the shift tables: no lazy initialisation, no race. */
__attribute__((constructor)) static void crc32c_init_fold_keys(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("vpclmulqdq") ||
        !__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("sse4.2")) {
        return;
    }
    crc32c_key_pair(crc32c_keys.k2048, 2048u);
    crc32c_key_pair(crc32c_keys.k1536, 1536u);
    crc32c_key_pair(crc32c_keys.k1024, 1024u);
    crc32c_key_pair(crc32c_keys.k512, 512u);
    crc32c_key_pair(crc32c_keys.k384, 384u);
    crc32c_key_pair(crc32c_keys.k256, 256u);
    crc32c_key_pair(crc32c_keys.k128, 128u);
    crc32c_fold_keys_made = 1;
    crc32c_fold_ready = 1;
}

#define CRC32C_FOLD_TARGET __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.2")))

CRC32C_FOLD_TARGET static __m128i crc32c_fold128(__m128i v, const uint64_t pair[2])
{
    const __m128i k = _mm_loadu_si128((const __m128i *)(const void *)pair);
    return _mm_xor_si128(_mm_clmulepi64_si128(v, k, 0x00), _mm_clmulepi64_si128(v, k, 0x11));
}

CRC32C_FOLD_TARGET static __m512i crc32c_fold512(__m512i v, const uint64_t pair[2])
{
    const __m512i k = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)pair));
    return _mm512_xor_si512(_mm512_clmulepi64_epi128(v, k, 0x00),
                            _mm512_clmulepi64_epi128(v, k, 0x11));
}

/* Makes v opaque to the compiler: it must keep the loaded value in a
 * register and may not load it from src again for the store or the fold
 * (C would allow two loads of one expression; a peer rewriting src between
 * them would make the copy and the sum disagree). */
#define CRC32C_PIN(v) __asm__("" : "+v"(v))

/* len >= 256 (one window). reg is the register (~crc); returns it. With
 * `store` each loaded register is also stored to dst (the copy); without,
 * dst is not touched (the sum alone). Inlined into the two callers below,
 * so `store` is a constant in each and costs no branch. */
CRC32C_FOLD_TARGET static inline __attribute__((always_inline)) uint32_t
crc32c_fold_run(uint32_t reg, uint8_t *dst, const uint8_t *src, size_t len, int store)
{
    /* The register enters as the first four message bytes XORed with it:
     * crc(r, M) = crc(0, M ^ r) for a reflected CRC and |M| >= 4. */
    const __m128i seed = _mm_cvtsi32_si128((int)reg);
    __m512i a0 = _mm512_loadu_si512(src);
    __m512i a1 = _mm512_loadu_si512(src + 64);
    __m512i a2 = _mm512_loadu_si512(src + 128);
    __m512i a3 = _mm512_loadu_si512(src + 192);
    CRC32C_PIN(a0);
    CRC32C_PIN(a1);
    CRC32C_PIN(a2);
    CRC32C_PIN(a3);
    if (store) {
        _mm512_storeu_si512(dst, a0);
        _mm512_storeu_si512(dst + 64, a1);
        _mm512_storeu_si512(dst + 128, a2);
        _mm512_storeu_si512(dst + 192, a3);
    }
    a0 = _mm512_xor_si512(a0, _mm512_zextsi128_si512(seed));
    size_t i;
    for (i = 256u; len - i >= 256u; i += 256u) {
        __m512i d0 = _mm512_loadu_si512(src + i);
        __m512i d1 = _mm512_loadu_si512(src + i + 64);
        __m512i d2 = _mm512_loadu_si512(src + i + 128);
        __m512i d3 = _mm512_loadu_si512(src + i + 192);
        CRC32C_PIN(d0);
        CRC32C_PIN(d1);
        CRC32C_PIN(d2);
        CRC32C_PIN(d3);
        if (store) {
            _mm512_storeu_si512(dst + i, d0);
            _mm512_storeu_si512(dst + i + 64, d1);
            _mm512_storeu_si512(dst + i + 128, d2);
            _mm512_storeu_si512(dst + i + 192, d3);
        }
        a0 = _mm512_xor_si512(crc32c_fold512(a0, crc32c_keys.k2048), d0);
        a1 = _mm512_xor_si512(crc32c_fold512(a1, crc32c_keys.k2048), d1);
        a2 = _mm512_xor_si512(crc32c_fold512(a2, crc32c_keys.k2048), d2);
        a3 = _mm512_xor_si512(crc32c_fold512(a3, crc32c_keys.k2048), d3);
    }
    /* Sixteen chunks to four (the last 64 bytes), then to one. */
    a3 = _mm512_xor_si512(a3, crc32c_fold512(a0, crc32c_keys.k1536));
    a3 = _mm512_xor_si512(a3, crc32c_fold512(a1, crc32c_keys.k1024));
    a3 = _mm512_xor_si512(a3, crc32c_fold512(a2, crc32c_keys.k512));
    __m128i v = _mm512_extracti32x4_epi32(a3, 3);
    v = _mm_xor_si128(v, crc32c_fold128(_mm512_extracti32x4_epi32(a3, 0), crc32c_keys.k384));
    v = _mm_xor_si128(v, crc32c_fold128(_mm512_extracti32x4_epi32(a3, 1), crc32c_keys.k256));
    v = _mm_xor_si128(v, crc32c_fold128(_mm512_extracti32x4_epi32(a3, 2), crc32c_keys.k128));
    for (; len - i >= 16u; i += 16u) {
        __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        CRC32C_PIN(d);
        if (store) {
            _mm_storeu_si128((__m128i *)(void *)(dst + i), d);
        }
        v = _mm_xor_si128(crc32c_fold128(v, crc32c_keys.k128), d);
    }
    /* v stands for everything so far as 16 bytes: run it through the
     * register from 0, then the last < 16 bytes. */
    uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(v));
    c = _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(v, 1));
    uint32_t r = (uint32_t)c;
    for (; i < len; i++) {
        /* volatile: one load, used for both the store and the sum. */
        const uint8_t byte = *(const volatile uint8_t *)(src + i);
        if (store) {
            dst[i] = byte;
        }
        r = _mm_crc32_u8(r, byte);
    }
    return r;
}

CRC32C_FOLD_TARGET static uint32_t crc32c_copy_fold(uint32_t reg, uint8_t *dst,
                                                    const uint8_t *src, size_t len)
{
    return crc32c_fold_run(reg, dst, src, len, 1);
}

CRC32C_FOLD_TARGET static uint32_t crc32c_sum_fold(uint32_t reg, const uint8_t *src, size_t len)
{
    return crc32c_fold_run(reg, NULL, src, len, 0);
}
#endif

int shmchan_crc32c_copy_fused_available(void)
{
#ifdef SHMCHAN_CRC32C_HAVE_FOLD
    return crc32c_fold_ready;
#else
    return 0;
#endif
}

int shmchan_crc32c_fold_enable(int on)
{
#ifdef SHMCHAN_CRC32C_HAVE_FOLD
    const int was = crc32c_fold_ready;
    crc32c_fold_ready = (on && crc32c_fold_keys_made) ? 1 : 0;
    return was;
#else
    (void)on;
    return 0;
#endif
}

uint32_t shmchan_crc32c_copy(uint32_t crc, uint8_t *dst, const uint8_t *src, size_t len)
{
#ifdef SHMCHAN_CRC32C_HAVE_FOLD
    if (crc32c_fold_ready && len >= SHMCHAN_CRC32C_COPY_FUSED_MIN) {
        return ~crc32c_copy_fold(~crc, dst, src, len);
    }
#endif
    /* Elsewhere through a bounce buffer: each source byte is fetched once
     * into private memory, and the sum and the copy are both made from it. */
    uint8_t bounce[256];
    for (size_t done = 0; done < len;) {
        const size_t step = len - done < sizeof bounce ? len - done : sizeof bounce;
        memcpy(bounce, src + done, step);
        memcpy(dst + done, bounce, step);
        crc = shmchan_crc32c_update(crc, bounce, step);
        done += step;
    }
    return crc;
}

int shmchan_crc32c_hardware_available(void)
{
#ifdef SHMCHAN_CRC32C_HAVE_SSE42
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    return 0;
#endif
}

uint32_t shmchan_crc32c_update_interleaved(uint32_t crc, const uint8_t *data, size_t len)
{
#ifdef SHMCHAN_CRC32C_HAVE_SSE42
    if (__builtin_cpu_supports("sse4.2")) {
        return crc32c_update_sse42(crc, data, len);
    }
#endif
    return shmchan_crc32c_update_portable(crc, data, len);
}

uint32_t shmchan_crc32c_update(uint32_t crc, const uint8_t *data, size_t len)
{
#ifdef SHMCHAN_CRC32C_HAVE_FOLD
    if (crc32c_fold_ready && len >= SHMCHAN_CRC32C_COPY_FUSED_MIN) {
        return ~crc32c_sum_fold(~crc, data, len);
    }
#endif
    return shmchan_crc32c_update_interleaved(crc, data, len);
}
