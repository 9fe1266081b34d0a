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
 * waiting flags; see shmchan_lane_publish_needs_wake and friends.
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

typedef struct shmchan_lane {
    uint8_t *ctl;          /* SHMCHAN_LANE_CTL_SIZE bytes of shared control */
    uint8_t *ring;         /* `capacity` bytes of shared ring */
    uint32_t capacity;     /* power of two */
    uint32_t max_payload;  /* channel limit, + frame header <= capacity */
    uint32_t pos;          /* private: our head (producer) or tail (consumer) */
    uint32_t peer;         /* private: the peer's index as last read and validated */
    uint64_t seq;          /* private: next sequence number to send / expect */
    shmchan_err_t fault;   /* SHMCHAN_OK, or why the peer broke the lane */
} shmchan_lane_t;

/* Binds private state to shared memory; pos and seq start at 0. Fails if
 * capacity is not a power of two or cannot hold a max_payload frame. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_lane_init(shmchan_lane_t *lane, uint8_t *ctl,
                                                   uint8_t *ring, uint32_t capacity,
                                                   uint32_t max_payload);

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

/* Producer: appends one frame, or SHMCHAN_E_WOULD_BLOCK if the ring lacks
 * room (nothing written). SHMCHAN_E_FRAME_TOO_LONG for len > max_payload. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_lane_try_send(shmchan_lane_t *lane, uint8_t type,
                                                       const uint8_t *payload, uint32_t len);

/* Consumer: takes one frame into buf[0, cap). SHMCHAN_E_WOULD_BLOCK if the
 * lane is empty; SHMCHAN_E_OUTPUT_TOO_SMALL if the next payload is larger
 * than cap (nothing consumed; *len says how large). */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_lane_try_recv(shmchan_lane_t *lane, uint8_t *type,
                                                       uint8_t *buf, size_t cap,
                                                       uint32_t *len);

/* Why the lane faulted (a codec or layout code, or SHMCHAN_OK). */
shmchan_err_t shmchan_lane_fault(const shmchan_lane_t *lane);

/* Consumer: has the producer published anything we have not consumed? (Any
 * change counts, even a corrupt one: try_recv will judge it.) */
int shmchan_lane_readable(const shmchan_lane_t *lane);

/* Producer: is there room for a frame of `len` payload bytes now? */
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
