/*
 * peer_map.c - see peer_map.h.
 */
#include "tests/peer_map.h"

#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int peer_attach(key_t key, int readonly, peer_map_t *m)
{
    memset(m, 0, sizeof *m);
    m->shmid = shmget(key, 0, 0);
    if (m->shmid < 0) {
        return -1;
    }
    struct shmid_ds ds;
    if (shmctl(m->shmid, IPC_STAT, &ds) < 0) {
        return -1;
    }
    void *p = shmat(m->shmid, NULL, readonly ? SHM_RDONLY : 0);
    if (p == (void *)-1) {
        return -1;
    }
    m->base = p;
    m->size = (size_t)ds.shm_segsz;
    shmchan_header_info_t hdr;
    if (shmchan_layout_read_header(m->base, m->size, &hdr) != SHMCHAN_OK) {
        (void)shmdt(p);
        m->base = NULL;
        return -1;
    }
    m->layout = hdr.layout;
    return 0;
}

uint8_t *peer_ctl(const peer_map_t *m, uint32_t slot, unsigned which)
{
    return m->base + shmchan_layout_slot_offset(&m->layout, slot) + which;
}

uint8_t *peer_c2s_ring(const peer_map_t *m, uint32_t slot)
{
    return m->base + shmchan_layout_c2s_ring_offset(&m->layout, slot);
}
