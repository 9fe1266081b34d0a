/*
 * peer_map.h - a test's own view of a channel's segment, for playing a
 * hostile peer (writing control words and ring bytes directly) or watching
 * a waiting flag. Offsets come from the library's own pure layout code
 * (src/layout.h), read from the header the server published.
 */
#ifndef SHMCHAN_TESTS_PEER_MAP_H
#define SHMCHAN_TESTS_PEER_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "src/layout.h"

typedef struct peer_map {
    int shmid;
    uint8_t *base;
    size_t size;
    shmchan_layout_t layout;
} peer_map_t;

/* Attaches the segment at `key` (read-only if asked) and reads its header.
 * 0, or -1 (nothing attached). Detach with shmdt(m->base). */
int peer_attach(key_t key, int readonly, peer_map_t *m);

/* Control block of one lane of `slot`: which is SHMCHAN_SLOT_OFF_C2S_CTL
 * or SHMCHAN_SLOT_OFF_S2C_CTL. */
uint8_t *peer_ctl(const peer_map_t *m, uint32_t slot, unsigned which);

/* The client-to-server ring of `slot`. */
uint8_t *peer_c2s_ring(const peer_map_t *m, uint32_t slot);

#endif /* SHMCHAN_TESTS_PEER_MAP_H */
