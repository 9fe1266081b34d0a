/*
 * lane.h - one direction of a client's duplex channel: a single-producer,
 * single-consumer byte ring in shared memory carrying codec frames.
 *
 * The ring shares four words with the peer (docs/protocol.md, "Lanes"):
 *   head  - written by the producer: bytes ever published (free-running u32)
 *   tail  - written by the consumer: bytes ever consumed  (free-running u32)
 *   consumer_waiting, producer_waiting - "I may sleep, post my semaphore".
 * Each side keeps its own index privately and never reads it back, reads the
 * peer's index at most once per operation — and only when the copy it
 * validated last time no longer suffices (a full-looking ring for the
 * producer, an empty-looking one for the consumer), which saves a
 * cross-core cache miss per message — and rejects any value that no honest
 * peer could have written (a fill level over the capacity, a frame that does not
 * decode, a sequence number out of order). Such a lane is "faulted": the
 * fault is sticky and every later call returns SHMCHAN_E_PROTOCOL.
 *
 * Pure code over caller-given memory: no system calls, no allocation. Waking
 * a sleeping peer is the caller's job (channel layer), guided by the
 * waiting flags; see shmchan_lane_consumer_needs_wake and friends.
 */
#ifndef SHMCHAN_LANE_H
#define SHMCHAN_LANE_H

#include <stddef.h>
#include <stdint.h>

#include "shmchan.h"

enum {
    SHMCHAN_LANE_OFF_HEAD = 0,
    SHMCHAN_LANE_OFF_TAIL = 64,
    SHMCHAN_LANE_OFF_CONSUMER_WAITING = 128,
    SHMCHAN_LANE_OFF_PRODUCER_WAITING = 192,
    SHMCHAN_LANE_CTL_SIZE = 256
};

/* The consumer's reassembly of a message sent in fragments. */
typedef enum shmchan_lane_asm {
    SHMCHAN_LANE_ASM_IDLE = 0, /* no message open */
    SHMCHAN_LANE_ASM_OPEN,     /* fragments taken into the stash, more to come */
    SHMCHAN_LANE_ASM_READY     /* a whole message in the stash, too large for the
                                  caller's buffer so far: kept until one fits */
} shmchan_lane_asm_t;

typedef struct shmchan_lane {
    uint8_t *ctl;          /* SHMCHAN_LANE_CTL_SIZE bytes of shared control */
    uint8_t *ring;         /* `capacity` bytes of shared ring */
    uint32_t capacity;     /* power of two, >= SHMCHAN_LANE_CAPACITY_FLOOR */
    uint32_t max_payload;  /* channel limit on a message */
    uint32_t frag_max;     /* payload limit of a frame (shmchan_lane_fragment_max) */
    uint32_t max_frames;   /* frames a message may take: bounds every loop */
    uint32_t pos;          /* private: our head (producer) or tail (consumer) */
    uint32_t peer;         /* private: the peer's index as last read and validated */
    uint64_t seq;          /* private: next sequence number to send / expect */
    shmchan_err_t fault;   /* SHMCHAN_OK, or why the peer broke the lane */
    int progressed;        /* the last try_send/try_recv moved our index */
    /* Producer: the message whose first fragments are published. */
    uint32_t send_len;
    uint32_t send_off;     /* payload bytes published; 0: no message open */
    uint8_t send_type;
    /* Consumer: reassembly, in private memory the caller gave (set_stash). */
    shmchan_lane_asm_t asm_state;
    uint8_t asm_type;
    uint32_t asm_len;      /* bytes of the message in the stash */
    uint8_t *stash;
    size_t stash_cap;
} shmchan_lane_t;

/* The smallest lane: a frame of at least one payload byte fits in half of
 * it (fragment_max > 0). */
#define SHMCHAN_LANE_CAPACITY_FLOOR 64u

/* Payload bytes a frame of this lane carries at most: half the ring minus
 * a header, so the producer can fill one half while the consumer empties
 * the other, and never more than max_payload. A message longer than this
 * travels as fragments of exactly this size and a last one of 1 .. this
 * many bytes (docs/protocol.md, "Fragments"). Capacity >= the floor. */
uint32_t shmchan_lane_fragment_max(uint32_t capacity, uint32_t max_payload);

/* Binds private state to shared memory; pos and seq start at 0. Fails if
 * capacity is not a power of two of at least SHMCHAN_LANE_CAPACITY_FLOOR
 * or max_payload is over SHMCHAN_PAYLOAD_HARD_MAX. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_lane_init(shmchan_lane_t *lane, uint8_t *ctl,
                                                   uint8_t *ring, uint32_t capacity,
                                                   uint32_t max_payload);

/* Consumer: the private buffer (>= max_payload bytes) in which fragments
 * are reassembled. Needed only if max_payload > fragment_max; without it a
 * fragmented message makes try_recv return SHMCHAN_E_INVALID_ARGUMENT. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_lane_set_stash(shmchan_lane_t *lane, uint8_t *stash,
                                                        size_t cap);

/* 1 if the lane's messages may need a stash (max_payload > fragment_max). */
int shmchan_lane_needs_stash(const shmchan_lane_t *lane);

/* The first sequence number of a fresh lane (shmchan_lane_init starts at
 * 0). The channel starts each slot's lanes at shmchan_layout_first_seq of
 * the slot's generation, so that no frame of an earlier client of the slot
 * can ever be the next one expected (docs/protocol.md §5.4). */
static inline void shmchan_lane_set_first_seq(shmchan_lane_t *lane, uint64_t seq)
{
    lane->seq = seq;
}

/* Zeroes the shared control words (the server does this before it offers a
 * slot to a new client, while no client can touch the lane). */
void shmchan_lane_reset_shared(uint8_t *ctl);

/* Producer: sends one message. If it fits in one frame (len <=
 * fragment_max): that frame, or SHMCHAN_E_WOULD_BLOCK with nothing
 * written. A longer one goes as fragments, as many as there is room for:
 * SHMCHAN_E_WOULD_BLOCK with the message still open, and the next call,
 * with the same message, continues it; SHMCHAN_OK once its last fragment
 * is published. While a message is open, a call with another length or
 * type is SHMCHAN_E_INVALID_ARGUMENT (nothing written): a caller that gives
 * up on a message says so with shmchan_lane_abandon_send.
 * SHMCHAN_E_FRAME_TOO_LONG for len > max_payload. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_lane_try_send(shmchan_lane_t *lane, uint8_t type,
                                                       const uint8_t *payload, uint32_t len);

/* Producer: gives up the open message, if any (a send that timed out or
 * was interrupted). The next message starts afresh, and the consumer drops
 * the part it holds: nothing is ever delivered in part. */
void shmchan_lane_abandon_send(shmchan_lane_t *lane);

/* 1 if a message is open: its first fragments are published, not its last. */
static inline int shmchan_lane_send_open(const shmchan_lane_t *lane)
{
    return lane->send_off != 0;
}

/* 1 if fragments of a message are taken and its last is not yet in. */
static inline int shmchan_lane_recv_open(const shmchan_lane_t *lane)
{
    return lane->asm_state == SHMCHAN_LANE_ASM_OPEN;
}

/* Consumer: takes one whole message into buf[0, cap). SHMCHAN_E_WOULD_BLOCK
 * if none is complete yet (fragments taken so far stay in the stash);
 * SHMCHAN_E_OUTPUT_TOO_SMALL if the message is larger than cap (nothing
 * lost: a one-frame message stays in the ring, a fragmented one in the
 * stash; *len says how large). At most max_frames frames per call. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_lane_try_recv(shmchan_lane_t *lane, uint8_t *type,
                                                       uint8_t *buf, size_t cap,
                                                       uint32_t *len);

/* 1 if the last try_send (try_recv) published (consumed) any bytes, even
 * when it returned SHMCHAN_E_WOULD_BLOCK part-way through a message: the
 * caller must then wake a sleeping peer (consumer_needs_wake /
 * producer_needs_wake), or a producer waiting for room and a consumer
 * waiting for the rest could each sleep until their deadline. */
int shmchan_lane_progressed(const shmchan_lane_t *lane);

/* Why the lane faulted (a codec or layout code, or SHMCHAN_OK). */
shmchan_err_t shmchan_lane_fault(const shmchan_lane_t *lane);

/* Consumer: has the producer published anything we have not consumed? (Any
 * change counts, even a corrupt one: try_recv will judge it.) */
int shmchan_lane_readable(const shmchan_lane_t *lane);

/* Producer: is there room now for the next frame of a `len`-byte message
 * (its next fragment, if it is the open one)? */
int shmchan_lane_writable(const shmchan_lane_t *lane, uint32_t len);

/* Waiting flags. set_* is a plain store; the caller follows it with a full
 * fence before re-checking the lane (docs/protocol.md, "Waking a sleeper"). */
void shmchan_lane_set_consumer_waiting(shmchan_lane_t *lane, int waiting);
void shmchan_lane_set_producer_waiting(shmchan_lane_t *lane, int waiting);

/* After a successful try_send (resp. try_recv): full fence, then reads the
 * peer's waiting flag. Non-zero means the caller must post the peer's
 * semaphore. */
int shmchan_lane_consumer_needs_wake(const shmchan_lane_t *lane);
int shmchan_lane_producer_needs_wake(const shmchan_lane_t *lane);

#endif /* SHMCHAN_LANE_H */
