/*
 * layout.h - where everything lives in a channel's segment (pure code).
 *
 * The layout is a function of three parameters (max clients, max payload,
 * lane capacity). The creator computes it and writes the parameters into
 * the segment header; a joiner copies the header once, validates it and
 * recomputes the layout privately, and checks the result against the size
 * the *kernel* reports for the segment (never the header's own claim). From
 * then on each side uses only its private shmchan_layout_t: a peer that
 * rewrites the header later changes nothing.
 *
 * docs/protocol.md, "Segment layout", has the byte map.
 */
#ifndef SHMCHAN_LAYOUT_H
#define SHMCHAN_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "shmchan.h"

#define SHMCHAN_LAYOUT_MAGIC 0x314E4148434D4853ull /* bytes "SHMCHAN1" */
#define SHMCHAN_LAYOUT_VERSION 1u          /* single-user: one segment holds every slot */
#define SHMCHAN_LAYOUT_VERSION_MULTIUSER 2u /* multi-user: the header alone (docs/multiuser.md) */
#define SHMCHAN_LAYOUT_HEADER_SIZE 256u

/* Limits on the parameters (docs/protocol.md says why each). */
#define SHMCHAN_MAX_CLIENTS_LIMIT 256u
#define SHMCHAN_LANE_CAPACITY_MIN 64u /* = SHMCHAN_LANE_CAPACITY_FLOOR (lane.h) */
#define SHMCHAN_LANE_CAPACITY_MAX (1u << 30)

/* Header fields: byte offsets, all little-endian. */
enum {
    SHMCHAN_HDR_OFF_MAGIC = 0,          /* u64 */
    SHMCHAN_HDR_OFF_VERSION = 8,        /* u32 */
    SHMCHAN_HDR_OFF_HEADER_SIZE = 12,   /* u32 */
    SHMCHAN_HDR_OFF_MAX_CLIENTS = 16,   /* u32 */
    SHMCHAN_HDR_OFF_MAX_PAYLOAD = 20,   /* u32 */
    SHMCHAN_HDR_OFF_LANE_CAPACITY = 24, /* u32 */
    SHMCHAN_HDR_OFF_NSEMS = 28,         /* u32 */
    SHMCHAN_HDR_OFF_SEMID = 32,         /* u32 (the kernel's int id) */
    SHMCHAN_HDR_OFF_RESERVED = 36,      /* u32: zero in version 1; in version 2 the
                                           doorbell set's id (the kernel's int id) */
    SHMCHAN_HDR_OFF_DOORBELL = 36,
    SHMCHAN_HDR_OFF_NONCE = 40,         /* u64 instance identity */
    SHMCHAN_HDR_OFF_TOTAL_SIZE = 48,    /* u64 */
    SHMCHAN_HDR_STATIC_END = 56,        /* bytes [56,128) are zero */
    SHMCHAN_HDR_OFF_SERVER_STATE = 128  /* u32, the one mutable word */
};

/* Values of the server-state word. */
enum {
    SHMCHAN_SERVER_STATE_INIT = 0,
    SHMCHAN_SERVER_STATE_READY = 1,
    SHMCHAN_SERVER_STATE_CLOSING = 2
};

/* Within a slot: control words, two lane control blocks, two rings. */
enum {
    SHMCHAN_SLOT_OFF_STATE = 0,      /* u32: server-written slot state */
    SHMCHAN_SLOT_OFF_GENERATION = 4, /* u32: server-written, bumps per reuse */
    SHMCHAN_SLOT_OFF_C2S_CTL = 64,   /* client-to-server lane control */
    SHMCHAN_SLOT_OFF_S2C_CTL = 320,  /* server-to-client lane control */
    SHMCHAN_SLOT_OFF_RINGS = 576     /* c2s ring, then s2c ring */
};

/* Slot states (written by the server only). */
enum {
    SHMCHAN_SLOT_STATE_FREE = 0,
    SHMCHAN_SLOT_STATE_ACTIVE = 1,
    SHMCHAN_SLOT_STATE_KICKED = 2 /* server dropped this client: protocol error */
};

/* Semaphore set: fixed semaphores, then four per slot. */
enum {
    SHMCHAN_SEM_MARKER = 0,      /* SHMCHAN_SEM_MARKER_VALUE once initialised */
    SHMCHAN_SEM_SERVER_ALIVE = 1,/* 1 while the server lives (SEM_UNDO token) */
    SHMCHAN_SEM_READY = 2,       /* 1 once the channel is fully initialised */
    SHMCHAN_SEM_SERVER_WAKE = 3, /* binary: wakes the server */
    SHMCHAN_SEM_FIXED = 4
};
enum {
    SHMCHAN_SEM_SLOT_OWNER = 0, /* 1 while a client holds the slot (SEM_UNDO token) */
    SHMCHAN_SEM_SLOT_FREE = 1,  /* 1 when the server offers the slot */
    SHMCHAN_SEM_SLOT_RX = 2,    /* binary: wakes the client's receiver */
    SHMCHAN_SEM_SLOT_TX = 3,    /* binary: wakes the client's sender */
    SHMCHAN_SEM_PER_SLOT = 4
};
#define SHMCHAN_SEM_MARKER_VALUE 0x5348 /* "SH"; < SEMVMX (32767) */

/* A multi-user channel's own set: readable by every client (mode 0644),
 * altered by the server only. MARKER and SERVER_ALIVE are where they are
 * in the single-user set, so the stale judgement reads both alike. */
enum {
    SHMCHAN_SEM_MU_NOT_READY = 2, /* 1 until the channel is ready: clients wait for zero */
    SHMCHAN_SEM_MU_COUNT = 3
};
/* The doorbell (IPC_PRIVATE, its id in the header): clients may post, not
 * read. It carries no data. */
enum {
    SHMCHAN_DOORBELL_WAKE = 0,  /* binary: wakes the server */
    SHMCHAN_DOORBELL_HELLO = 1, /* binary: a connection waits to be judged */
    SHMCHAN_DOORBELL_COUNT = 2
};

typedef struct shmchan_params {
    uint32_t max_clients;   /* 1 .. SHMCHAN_MAX_CLIENTS_LIMIT */
    uint32_t max_payload;   /* 1 .. SHMCHAN_PAYLOAD_HARD_MAX */
    uint32_t lane_capacity; /* power of two, LANE_CAPACITY_MIN .. _MAX */
} shmchan_params_t;

typedef struct shmchan_layout {
    shmchan_params_t params;
    uint32_t nsems;
    uint64_t slot_stride; /* multi-user: the size of each connection's segment */
    uint64_t total_size;  /* of the channel's own segment */
    uint32_t multiuser;   /* 1: version 2, slots live in the connections' objects */
} shmchan_layout_t;

/* What a validated header says besides the layout. */
typedef struct shmchan_header_info {
    shmchan_layout_t layout;
    uint32_t semid;
    uint32_t doorbell_semid; /* multi-user only */
    uint64_t nonce;
} shmchan_header_info_t;

/* Validates `params` and computes the layout. SHMCHAN_E_LAYOUT_PARAMS for
 * any parameter out of range. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_layout_compute(const shmchan_params_t *params,
                                                        shmchan_layout_t *out);

/* The same layout for a multi-user channel (docs/multiuser.md): the
 * channel's own segment is the header alone, its set has
 * SHMCHAN_SEM_MU_COUNT semaphores, and each connection's segment holds one
 * slot (slot_stride bytes, the slot offsets of slot 0 less the header). */
void shmchan_layout_make_multiuser(shmchan_layout_t *layout);

/* Writes every static header field of a fresh image except the magic, which
 * the creator stores last (shmchan_layout_publish_magic) so that a header
 * with a valid magic is always complete. image must hold total_size bytes. */
void shmchan_layout_write_header(uint8_t *image, const shmchan_layout_t *layout,
                                 uint32_t semid, uint32_t doorbell_semid, uint64_t nonce);
void shmchan_layout_publish_magic(uint8_t *image);

/* Copies the header of `image` (image_len = the kernel's segment size) once
 * and validates it: magic, version, parameters, the header's size claim and
 * the kernel's size must all agree with the recomputed layout. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_layout_read_header(const uint8_t *image,
                                                            size_t image_len,
                                                            shmchan_header_info_t *out);

/* Offsets inside a validated layout. slot < max_clients is the caller's
 * precondition (checked: an out-of-range slot returns total_size, which no
 * caller can use without failing its own bounds check). */
uint64_t shmchan_layout_slot_offset(const shmchan_layout_t *layout, uint32_t slot);
uint64_t shmchan_layout_c2s_ring_offset(const shmchan_layout_t *layout, uint32_t slot);
uint64_t shmchan_layout_s2c_ring_offset(const shmchan_layout_t *layout, uint32_t slot);

/* The first sequence number of both lanes of a slot in `generation`: the
 * generation in the high 32 bits. A lane would need 2^32 frames to reach
 * the next generation's range, so a frame left in a ring by an earlier
 * client never decodes as the next one of a later client. */
static inline uint64_t shmchan_layout_first_seq(uint32_t generation)
{
    return (uint64_t)generation << 32;
}

/* Semaphore numbers. */
uint32_t shmchan_layout_nsems(uint32_t max_clients);
/* 1 if a set of nsems semaphores has a shmchan shape (4 + 4k, 1 <= k <= 256). */
int shmchan_layout_nsems_valid(uint32_t nsems);
unsigned short shmchan_layout_slot_sem(uint32_t slot, unsigned which);

#endif /* SHMCHAN_LAYOUT_H */
