/*
 * spin_adapt.h - adaptive spinning: how long to poll before sleeping,
 * learned from how soon the peer answered the last waits.
 *
 * Chosen with spin_ns = SHMCHAN_SPIN_ADAPTIVE (shmchan.h). The budget is
 * 0 until a wait that slept was ended by the peer within
 * SHMCHAN_SPIN_ADAPT_MAX_NS of its start: a spin of twice that long would
 * have caught the answer and saved the sleep and the wakeup (14-55 us on
 * this machine kind, docs/benchmarks.md). Every spin that ends in a sleep
 * halves it, so an idle channel stops spinning after a few waits: from the
 * largest budget, at most 2 x SHMCHAN_SPIN_ADAPT_MAX_NS of polling in all
 * before it sleeps at once again. The budget never exceeds
 * SHMCHAN_SPIN_ADAPT_MAX_NS, and the wait's gate (wake.h) bounds the
 * rounds, so a peer that answers promptly can make a call spin, never
 * make it wait longer.
 *
 * Pure: no clock, no system call; the caller measures.
 */
#ifndef SHMCHAN_SPIN_ADAPT_H
#define SHMCHAN_SPIN_ADAPT_H

#include <stdint.h>

/* The largest budget: beyond a cross-core sleep-and-wake round trip
 * (~22 us p50 for a 64-byte ping-pong with both sides sleeping), so that a
 * ping-pong that sleeps learns to spin. */
#define SHMCHAN_SPIN_ADAPT_MAX_NS 50000u
/* Below this, halving has reached "do not spin". */
#define SHMCHAN_SPIN_ADAPT_MIN_NS 500u

typedef struct shmchan_spin_adapt {
    uint32_t budget_ns; /* 0 .. SHMCHAN_SPIN_ADAPT_MAX_NS */
} shmchan_spin_adapt_t;

void shmchan_spin_adapt_init(shmchan_spin_adapt_t *a);

/* A wait spun for the budget, found nothing, and slept: `woken` if a post
 * ended the sleep (not a timeout), `waited_ns` from the start of the spin
 * to the end of the sleep. */
void shmchan_spin_adapt_slept(shmchan_spin_adapt_t *a, int woken, int64_t waited_ns);

#endif /* SHMCHAN_SPIN_ADAPT_H */
