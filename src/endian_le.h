/*
 * endian_le.h - explicit little-endian loads and stores on byte arrays.
 *
 * Every multi-byte field shmchan puts on the wire or reads from a private
 * copy of shared bytes goes through these: byte shifts, never a cast of a
 * uint8_t* to a wider pointer (alignment, strict aliasing, host byte order).
 */
#ifndef SHMCHAN_ENDIAN_LE_H
#define SHMCHAN_ENDIAN_LE_H

#include <stdint.h>

static inline uint16_t shmchan_le16_load(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

static inline uint32_t shmchan_le32_load(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t shmchan_le64_load(const uint8_t *p)
{
    return (uint64_t)shmchan_le32_load(p) | ((uint64_t)shmchan_le32_load(p + 4) << 32);
}

static inline void shmchan_le16_store(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)(v >> 8);
}

static inline void shmchan_le32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)((v >> 8) & 0xffu);
    p[2] = (uint8_t)((v >> 16) & 0xffu);
    p[3] = (uint8_t)(v >> 24);
}

static inline void shmchan_le64_store(uint8_t *p, uint64_t v)
{
    shmchan_le32_store(p, (uint32_t)(v & 0xffffffffu));
    shmchan_le32_store(p + 4, (uint32_t)(v >> 32));
}

#endif /* SHMCHAN_ENDIAN_LE_H */
