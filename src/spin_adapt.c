/*
 * spin_adapt.c - the adaptive spin budget (see spin_adapt.h).
 */
#include "spin_adapt.h"

void shmchan_spin_adapt_init(shmchan_spin_adapt_t *a)
{
    a->budget_ns = 0;
}

void shmchan_spin_adapt_slept(shmchan_spin_adapt_t *a, int woken, int64_t waited_ns)
{
    if (woken && waited_ns >= 0 && waited_ns <= (int64_t)SHMCHAN_SPIN_ADAPT_MAX_NS) {
        /* The peer answered within reach: spin twice that long next time
         * (at least what we had, and at least the floor - below it a
         * budget means "do not spin"; at most the cap). */
        const uint64_t want = 2u * (uint64_t)waited_ns;
        uint32_t capped =
            want > SHMCHAN_SPIN_ADAPT_MAX_NS ? SHMCHAN_SPIN_ADAPT_MAX_NS : (uint32_t)want;
        if (capped < SHMCHAN_SPIN_ADAPT_MIN_NS) {
            capped = SHMCHAN_SPIN_ADAPT_MIN_NS;
        }
        if (capped > a->budget_ns) {
            a->budget_ns = capped;
        }
        return;
    }
    /* The spin was wasted and the answer (if any) came too late for one. */
    a->budget_ns /= 2u;
    if (a->budget_ns < SHMCHAN_SPIN_ADAPT_MIN_NS) {
        a->budget_ns = 0;
    }
}
