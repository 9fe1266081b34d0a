/*
 * probe.h - what is at a SysV key, and is it ours, alive, or stale?
 *
 * Two halves, so the decision can be tested without a kernel:
 *   shmchan_probe_gather  collects kernel facts about the semaphore set and
 *                         segment at a key (the OS half, here, probe.c);
 *   shmchan_probe_judge   turns facts into a verdict (pure, judge.h).
 * The verdict decides what the server may reclaim and what shmchanctl
 * shows; the rules are in docs/lifecycle.md, "Key already taken".
 */
#ifndef SHMCHAN_PROBE_H
#define SHMCHAN_PROBE_H

#include "judge.h"
#include "shmchan.h"

/* Gathers facts about `key`. Never modifies anything: the segment, if any,
 * is attached read-only and detached again. Fails only when the kernel
 * refuses in a way that says nothing about the key (then facts are partial). */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_probe_gather(key_t key, unsigned max_mode,
                                                      shmchan_probe_facts_t *facts,
                                                      shmchan_diag_t *diag);

/* Removes what a STALE judgement names, re-checking identity first. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_probe_reclaim(const shmchan_probe_facts_t *facts,
                                                       const shmchan_judgement_t *judgement,
                                                       shmchan_diag_t *diag);

#endif /* SHMCHAN_PROBE_H */
