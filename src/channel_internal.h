/*
 * channel_internal.h - small helpers shared by server.c and client.c.
 */
#ifndef SHMCHAN_CHANNEL_INTERNAL_H
#define SHMCHAN_CHANNEL_INTERNAL_H

#include <stdlib.h>

#include "lane.h"
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

/* A handle's spinning: a fixed spin_ns, or adaptive (SHMCHAN_SPIN_ADAPTIVE,
 * spin_adapt.h). shmchan_spinner_budget is called once per round, right
 * before the spin; shmchan_spinner_slept right after a sleep that followed
 * it, with what the sleep returned. */
typedef struct shmchan_spinner {
    uint32_t spin_ns;
    shmchan_spin_adapt_t adapt;
    int64_t spin_started; /* adaptive: when this round's spin began */
} shmchan_spinner_t;

static inline void shmchan_spinner_init(shmchan_spinner_t *s, uint32_t spin_ns)
{
    s->spin_ns = spin_ns;
    shmchan_spin_adapt_init(&s->adapt);
    s->spin_started = 0;
}

static inline uint32_t shmchan_spinner_budget(shmchan_spinner_t *s, int in_message)
{
    if (s->spin_ns != SHMCHAN_SPIN_ADAPTIVE) {
        return shmchan_spin_budget(s->spin_ns, in_message);
    }
    s->spin_started = shmchan_sys_now_ns();
    return shmchan_spin_budget(s->adapt.budget_ns, in_message);
}

static inline void shmchan_spinner_slept(shmchan_spinner_t *s, shmchan_err_t waited)
{
    if (s->spin_ns == SHMCHAN_SPIN_ADAPTIVE) {
        shmchan_spin_adapt_slept(&s->adapt, waited == SHMCHAN_OK,
                                 shmchan_sys_now_ns() - s->spin_started);
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
