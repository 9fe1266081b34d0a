/*
 * nmmintrin.h - analysis-only stand-in for the SSE4.2 intrinsics header,
 * found before the system's because proofs/stubs/include is first on
 * Frama-C's include path. Frama-C cannot parse GCC's vector-type header.
 *
 * The CRC instructions are modelled as returning any value: a run-time-error
 * proof does not depend on the checksum's value (crc32c_test.c checks that
 * the two implementations agree), only on what memory is read to compute
 * it, and every data byte reaches these functions by value.
 */
#ifndef SHMCHAN_FC_NMMINTRIN_H
#define SHMCHAN_FC_NMMINTRIN_H

#include <stdint.h>

/*@ assigns \result \from crc, v; */
unsigned long long _mm_crc32_u64(unsigned long long crc, unsigned long long v);

/*@ assigns \result \from crc, v; */
unsigned int _mm_crc32_u8(unsigned int crc, unsigned char v);

#endif /* SHMCHAN_FC_NMMINTRIN_H */
