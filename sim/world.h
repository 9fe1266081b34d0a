/*
 * world.h - one simulated run: the scenario read from the input's first
 * bytes, the actors (sim/actors.c), the events the input injects (kills,
 * signals, removals from outside, preemption) and the oracles checked on
 * every run (docs/simulation.md, "Oracles").
 */
#ifndef SHMCHAN_SIM_WORLD_H
#define SHMCHAN_SIM_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sched.h"

#define SIM_KEY 0x5eed
#define SIM_MAX_CLIENTS 3
#define SIM_MAX_HOSTILE 2
#define SIM_MAX_MSGS 8
#define SIM_SLOTS 3
#define SIM_MAX_PAYLOAD 40
#define SIM_LANE_CAPACITY 128
#define SIM_MAX_FOREIGN 4
#define SIM_SERVER_ROUNDS_AFTER 60 /* server waits once every client has gone */

/* A timed event: at the entry of the n-th system call of kind `kind` that
 * process `victim` makes (counted from the start, or from the end of
 * process `after`), the world acts on it: holds it off the processor for a
 * while (a long preemption), kills it, or removes the channel's set or
 * segment from outside. Random events between slices almost never land in
 * a window one system call wide; these aim at such a window on purpose. */
#define SIM_TRIGGERS 3
enum { SIM_WHO_SERVER, SIM_WHO_RIVAL, SIM_WHO_CLIENT0, SIM_WHO_HOSTILE0, SIM_WHO_NOBODY };
enum { SIM_ACT_HOLD, SIM_ACT_KILL, SIM_ACT_RM_SET, SIM_ACT_RM_SHM };
typedef struct sim_trigger {
    int victim, after; /* SIM_WHO_*; after == SIM_WHO_NOBODY: from the start */
    sim_sys_kind_t kind;
    uint32_t n, count;
    int action;
    uint32_t hold; /* slices of other tasks, for SIM_ACT_HOLD */
    int fired;
} sim_trigger_t;

typedef struct sim_scenario {
    uint32_t clients;  /* honest clients, 1..SIM_MAX_CLIENTS */
    uint32_t hostile;  /* hostile peers, 0..SIM_MAX_HOSTILE */
    uint32_t msgs;     /* messages per honest client */
    int kills, signals, removal, preempt, squat, spin;
    int early; /* clients may start before the server is up */
    int rival; /* a second server and a `clean --stale` try the key meanwhile */
    int faults; /* resource faults in calls that allocate (sysv_wrap.c) */
    int server_timeout_ms, client_timeout_ms;
    uint32_t hostile_moves;
    uint32_t ntriggers; /* timed events (never in an honest run) */
    /* A slow process (SIM_WHO_*, or SIM_WHO_NOBODY): at each of its system
     * calls the input may hold it off the processor for 2..17 slices of
     * others, as a loaded machine would; facts it gathers one call at a
     * time then straddle other processes' steps (never in an honest run). */
    int slow;
    /* The reclaim-race family: a slow rival that starts at one of the
     * server's first system calls, and nothing else that would end the
     * race early (no squatter, kill, signal or resource fault). */
    int race;
    sim_trigger_t trig[SIM_TRIGGERS];
} sim_scenario_t;

typedef struct sim_client_rec {
    sim_task_t *task;
    int connected;
    uint32_t slot;
    uint32_t sent_ok;  /* sends that returned SHMCHAN_OK */
    uint32_t echoes;   /* echoes received, in order */
    uint32_t srv_got;  /* messages of this client the server delivered */
    int ended;
    int cancelled;
} sim_client_rec_t;

typedef struct sim_world {
    sim_sched_t sched;
    sim_scenario_t sc;
    sim_task_t *server;
    int server_up;       /* created and not yet destroyed */
    int server_semid, server_shmid;
    int server_cancelled;
    int server_ended;
    int server_served_out; /* its loop ended because everyone had gone */
    int64_t server_killed_at;
    sim_task_t *rival;
    int server_connected[SIM_SLOTS];
    sim_client_rec_t clients[SIM_MAX_CLIENTS];
    sim_task_t *hostile[SIM_MAX_HOSTILE];
    int slot_attacked[SIM_SLOTS];
    int header_attacked;
    int removed_outside;
    /* The set was removed from outside while the server (or a rival that
     * builds a channel after reclaiming) was building its channel, and a
     * builder was then killed before its create returned (found by the
     * campaign at seed 237,021: the rival, not the server):
     * what it had made (a segment with no header yet) is nobody's by the
     * judge's rules (docs/lifecycle.md), left for the operator. */
    int removed_in_build;
    int server_killed_in_build;
    int killed_any;
    int signalled_any;
    int foreign_ids[SIM_MAX_FOREIGN]; /* sets/segments a squatter made */
    int foreign_is_sem[SIM_MAX_FOREIGN];
    uint32_t nforeign;
    uint32_t kills_left, signals_left, removals_left;
    int epilogue_pid;
} sim_world_t;

typedef struct sim_result {
    int failed;
    char failure[320];
    uint64_t slices;
    double virtual_ms;
} sim_result_t;

/* Runs the simulation the input describes; never aborts. trace: print the
 * story of the run on stderr. */
void sim_run(const uint8_t *data, size_t size, int trace, sim_result_t *out);

/* Actors (sim/actors.c). */
void sim_actor_server(sim_task_t *t);
void sim_actor_client(sim_task_t *t);
void sim_actor_hostile(sim_task_t *t);
void sim_actor_epilogue(sim_task_t *t);
void sim_actor_rival(sim_task_t *t);

/* No hostile peer, kill, signal, removal, preemption, squatter or rival
 * so far, and clients started after the server. */
int sim_fully_honest(const sim_world_t *w);

/* 1 if the final oracle's "no honest message lost" will judge client c
 * once the server is done too: c connected and ran to completion, nothing
 * cancelled, removed, attacked or signalled (world.c, pair_honest). */
int sim_client_judged_honest(const sim_world_t *w, const sim_client_rec_t *c);

/* The world of the run in progress. */
sim_world_t *sim_world(void);

/* 1 if the key holds a set of ours never semop'ed: what a creator killed
 * between semget and its first semop leaves (docs/lifecycle.md). */
int sim_unmarked_set_at_key(const sim_world_t *w);

/* 1 if the run left a half-built channel the library may not reclaim
 * (removed_in_build and server_killed_in_build, above). */
int sim_orphaned_build(const sim_world_t *w);

/* The client record whose honest messages name `id`, or NULL. */
sim_client_rec_t *sim_client_by_task(sim_task_t *t);

/* An honest message: 'H', client, seq (LE16), a pattern; its length. */
uint32_t sim_message(uint32_t client, uint32_t seq, uint8_t *buf);

#endif /* SHMCHAN_SIM_WORLD_H */
