/*
 * channel_internal.h - small helpers shared by server.c and client.c.
 */
#ifndef SHMCHAN_CHANNEL_INTERNAL_H
#define SHMCHAN_CHANNEL_INTERNAL_H

#include <stdlib.h>

#include "conn.h"
#include "lane.h"
#include "layout.h"
#include "shmchan.h"
#include "spin_adapt.h"
#include "sysv.h"
#include "wake.h"

/* GUARD for functions that return an int status and pass the error out:
 * on failure stores it in *errp and returns -1. */
#define GUARD_INT(expr, errp)                      \
    do {                                           \
        const shmchan_err_t guard_int_ = (expr);   \
        if (guard_int_ != SHMCHAN_OK) {            \
            *(errp) = guard_int_;                  \
            return -1;                             \
        }                                          \
    } while (0)

/* A slot semaphore's number: in the channel's own set (single-user), or in
 * the connection's set (multi-user, conn.h), which has no FREE token (the
 * kernel's IPC_EXCL on the connection key is the claim). `which` is
 * SHMCHAN_SEM_SLOT_OWNER, _RX or _TX. */
static inline unsigned short shmchan_slot_semnum(int multiuser, uint32_t slot, unsigned which)
{
    if (!multiuser) {
        return shmchan_layout_slot_sem(slot, which);
    }
    return which == SHMCHAN_SEM_SLOT_OWNER ? SHMCHAN_CONN_SEM_OWNER
           : which == SHMCHAN_SEM_SLOT_RX  ? SHMCHAN_CONN_SEM_RX
                                           : SHMCHAN_CONN_SEM_TX;
}

struct shmchan_writable_arg {
    const shmchan_lane_t *lane;
    uint32_t len;
};

static inline int shmchan_writable_cb(void *p)
{
    const struct shmchan_writable_arg *a = p;
    return shmchan_lane_writable(a->lane, a->len);
}

static inline int shmchan_readable_cb(void *p)
{
    return shmchan_lane_readable((const shmchan_lane_t *)p);
}

/* Spinning while a message is in flight (docs/protocol.md §3.1, "Waking
 * across fragments"): once the first fragments of a message have moved,
 * the rest follows within a copy's time, far sooner than a sleeping peer
 * is woken (14-55 us on this machine kind, docs/benchmarks.md), so a call
 * part-way through a message spins up to this long before it sleeps. An
 * idle channel has nothing in flight and never spins; a peer that opens a
 * message and stops costs at most this much per round of the wait's
 * gate, each round being a sleep of up to the liveness period. */
#define SHMCHAN_IN_MESSAGE_SPIN_NS 50000u

static inline uint32_t shmchan_spin_budget(uint32_t spin_ns, int in_message)
{
    return in_message && spin_ns < SHMCHAN_IN_MESSAGE_SPIN_NS ? SHMCHAN_IN_MESSAGE_SPIN_NS
                                                              : spin_ns;
}

/* One waiting direction's spinning: a fixed spin_ns, or adaptive
 * (SHMCHAN_SPIN_ADAPTIVE, spin_adapt.h). One per direction and per thread
 * that may wait (a client's send and recv may run in two threads at once;
 * the server's wait and send learn from different peers), so no two
 * threads ever write one. A round of a wait loop, after its gate gave
 * sleep_ns: budget = shmchan_spinner_budget(s, open, sleep_ns, &started);
 * spin; if the spin found nothing and budget != 0, pass the gate again
 * (the spin took time: the deadline is looked at again and the sleep
 * shortened); sleep; shmchan_spinner_slept(s, started, answered). */
typedef struct shmchan_spinner {
    uint32_t spin_ns;
    shmchan_spin_adapt_t adapt;
} shmchan_spinner_t;

static inline void shmchan_spinner_init(shmchan_spinner_t *s, uint32_t spin_ns)
{
    s->spin_ns = spin_ns;
    shmchan_spin_adapt_init(&s->adapt);
}

/* This round's spin: never longer than the sleep the gate allowed, so a
 * spin ends by the call's deadline and by its next liveness look, whatever
 * the budget or a fixed spin_ns says. *started: when the round began
 * (adaptive only; 0 otherwise). */
static inline uint32_t shmchan_spinner_budget(const shmchan_spinner_t *s, int in_message,
                                              int64_t sleep_ns, int64_t *started)
{
    uint32_t want;
    if (s->spin_ns == SHMCHAN_SPIN_ADAPTIVE) {
        *started = shmchan_sys_now_ns();
        want = shmchan_spin_budget(s->adapt.budget_ns, in_message);
    } else {
        *started = 0;
        want = shmchan_spin_budget(s->spin_ns, in_message);
    }
    return (int64_t)want < sleep_ns ? want : (uint32_t)sleep_ns;
}

/* After a sleep that followed this round's spin: `answered` if it was
 * woken and what the loop waits for is there (a post alone proves
 * nothing: any client may post the server's semaphore). */
static inline void shmchan_spinner_slept(shmchan_spinner_t *s, int64_t started, int answered)
{
    if (s->spin_ns == SHMCHAN_SPIN_ADAPTIVE) {
        shmchan_spin_adapt_slept(&s->adapt, answered, shmchan_sys_now_ns() - started);
    }
}

/* Spin (bounded) until the lane has room for `len` / has data. */
static inline int spin_until_writable(const shmchan_lane_t *lane, uint32_t len, uint32_t spin_ns)
{
    struct shmchan_writable_arg a = {lane, len};
    return shmchan_spin_until(shmchan_writable_cb, &a, spin_ns);
}

static inline int spin_until_readable(const shmchan_lane_t *lane, uint32_t spin_ns)
{
    return shmchan_spin_until(shmchan_readable_cb, (void *)(uintptr_t)lane, spin_ns);
}

/* Gives a receiving lane its reassembly stash if its messages can come in
 * fragments, allocating *stash (max_payload bytes, private) the first
 * time; the owner frees *stash with the handle. Pre-allocated rather than
 * on the first fragment: a peer must not be able to make us allocate in
 * the middle of a wait. */
static inline shmchan_err_t shmchan_lane_provide_stash(shmchan_lane_t *lane, uint8_t **stash)
{
    if (!shmchan_lane_needs_stash(lane)) {
        return SHMCHAN_OK;
    }
    if (*stash == NULL) {
        *stash = calloc(1, lane->max_payload); /* calloc like the handles: sim/ tracks it */
        if (*stash == NULL) {
            return SHMCHAN_E_NO_MEMORY;
        }
    }
    return shmchan_lane_set_stash(lane, *stash, lane->max_payload);
}

#endif /* SHMCHAN_CHANNEL_INTERNAL_H */
