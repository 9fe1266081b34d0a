/*
 * crc32c.h - CRC-32C, the frame checksum (docs/protocol.md says why CRC-32C).
 * Pure: no state, no allocation, no system calls.
 */
#ifndef SHMCHAN_CRC32C_H
#define SHMCHAN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over data[0, len). data may be NULL if len is 0.
 * crc32c("123456789") == 0xE3069283. */
uint32_t shmchan_crc32c_update(uint32_t crc, const uint8_t *data, size_t len);

/* Copies src[0, len) to dst (not overlapping) and extends crc over the
 * bytes copied, fetching each source byte exactly once: the sum is of the
 * bytes stored into dst, even if another process rewrites src meanwhile
 * (the receiver's copy-then-validate) or dst afterwards (the sender's).
 * dst and src may be NULL if len is 0. */
uint32_t shmchan_crc32c_copy(uint32_t crc, uint8_t *dst, const uint8_t *src, size_t len);

/* 1 when shmchan_crc32c_copy runs in one pass at memory speed for len >=
 * SHMCHAN_CRC32C_COPY_FUSED_MIN (AVX-512 and VPCLMULQDQ: ~45 GB/s against
 * ~18 GB/s for sum, then copy, at 64 KiB on this machine kind). Shorter
 * inputs, and every input without it, go through a 256-byte bounce buffer
 * (the 16-byte fold steps are one dependent chain: 5 GB/s below 256 bytes,
 * against 8 GB/s for sum, then copy), so lane.c asks first. */
#define SHMCHAN_CRC32C_COPY_FUSED_MIN 256u
int shmchan_crc32c_copy_fused_available(void);

/* Tests: turns the folding path off (0) or on again (1: only if the CPU
 * has it), so that the paths every other CPU takes (the SSE4.2 sum, the
 * lane's blocked copies) run on this one too. Returns the previous state.
 * Not thread-safe: call it while no other thread uses the codec. */
int shmchan_crc32c_fold_enable(int on);

/* The table-driven path alone, for tests that compare it with the hardware. */
uint32_t shmchan_crc32c_update_portable(uint32_t crc, const uint8_t *data, size_t len);

/* The SSE4.2 path without the folding (the table without SSE4.2): what
 * shmchan_crc32c_update runs on x86 CPUs without VPCLMULQDQ, and for
 * inputs shorter than SHMCHAN_CRC32C_COPY_FUSED_MIN. For tests, which must
 * reach it on a CPU that folds. */
uint32_t shmchan_crc32c_update_interleaved(uint32_t crc, const uint8_t *data, size_t len);

/* 1 when shmchan_crc32c_update uses the SSE4.2 instruction. */
int shmchan_crc32c_hardware_available(void);

extern const uint32_t shmchan_crc32c_table[256];

#endif /* SHMCHAN_CRC32C_H */
