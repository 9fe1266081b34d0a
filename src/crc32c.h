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

/* The table-driven path alone, for tests that compare it with the hardware. */
uint32_t shmchan_crc32c_update_portable(uint32_t crc, const uint8_t *data, size_t len);

/* 1 when shmchan_crc32c_update uses the SSE4.2 instruction. */
int shmchan_crc32c_hardware_available(void);

extern const uint32_t shmchan_crc32c_table[256];

#endif /* SHMCHAN_CRC32C_H */
