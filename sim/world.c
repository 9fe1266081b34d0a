/*
 * world.c - one simulated run (see world.h): scenario, injected events,
 * and the oracles checked after the run.
 */
#include "sim/world.h"

#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>

#include "src/shmchan.h"

/* A run that has not ended after this many slices is a failure: every
 * actor's loop is bounded, so only a hang of the library can get here. */
#define SIM_MAX_SLICES 3000000u

static sim_world_t the_world;
static int ipcrm_proc = -1;

sim_world_t *sim_world(void)
{
    return &the_world;
}

sim_client_rec_t *sim_client_by_task(sim_task_t *t)
{
    for (uint32_t i = 0; i < SIM_MAX_CLIENTS; i++) {
        if (the_world.clients[i].task == t) {
            return &the_world.clients[i];
        }
    }
    return NULL;
}

uint32_t sim_message(uint32_t client, uint32_t seq, uint8_t *buf)
{
    const uint32_t len = 4u + (seq * 5u + client * 3u) % 33u; /* 4..36 <= SIM_MAX_PAYLOAD */
    buf[0] = 'H';
    buf[1] = (uint8_t)client;
    buf[2] = (uint8_t)seq;
    buf[3] = (uint8_t)(seq >> 8);
    for (uint32_t i = 4; i < len; i++) {
        buf[i] = (uint8_t)(client * 31u + seq * 7u + i);
    }
    return len;
}

static int is_foreign(const sim_world_t *w, int is_sem, int id)
{
    for (uint32_t i = 0; i < w->nforeign; i++) {
        if (w->foreign_ids[i] == id && w->foreign_is_sem[i] == is_sem) {
            return 1;
        }
    }
    return 0;
}

static int alive(const sim_task_t *t)
{
    return t != NULL && (t->state == SIM_TASK_RUNNABLE || t->state == SIM_TASK_PARKED);
}

/* Oracle: nothing removes what is not ours, nor a live channel: an object
 * whose creating process is alive belongs to it alone (a server's rollback
 * and close remove their own; a reclaim removes only what a dead one left). */
static void on_remove(void *ctx, int proc, int is_sem, int id, pid_t creator)
{
    sim_world_t *w = ctx;
    if (proc == ipcrm_proc) {
        return; /* the outside removal the input asked for */
    }
    const char *who = "?";
    int is_server = 0;
    const sim_task_t *owner = NULL;
    for (int i = 0; i < SIM_MAX_TASKS; i++) {
        const sim_task_t *t = &w->sched.tasks[i];
        if (t->state != SIM_TASK_FREE && t->proc == proc) {
            who = t->name;
            is_server = t == w->server;
        }
        if (t->state != SIM_TASK_FREE && t->pid == creator) {
            owner = t;
        }
    }
    /* lifecycle.md: a marked set whose token is 0 and that has no segment
     * is reclaimed without asking who took the token down (no segment, no
     * creator pid to check it against). A peer that forges the token while
     * the segment is removed from outside gets a live set removed: the
     * documented price of that row, not a finding. */
    const int documented = is_sem && w->header_attacked && w->removed_outside;
    if (owner != NULL && alive(owner) && owner->proc != proc && !documented) {
        sim_fail(&w->sched, "%s removed %s's %s (id %d) while %s lives", who, owner->name,
                 is_sem ? "set" : "segment", id, owner->name);
    }
    if (is_foreign(w, is_sem, id)) {
        sim_fail(&w->sched, "%s removed a foreign %s (id %d)", who, is_sem ? "set" : "segment", id);
    }
    const int live = alive(w->server) && w->server_up && (is_sem ? id == w->server_semid : id == w->server_shmid);
    if (live && !is_server && !documented) {
        sim_fail(&w->sched, "%s removed the live channel's %s (id %d)", who,
                 is_sem ? "set" : "segment", id);
    }
}

static void read_scenario(sim_world_t *w)
{
    sim_sched_t *s = &w->sched;
    sim_scenario_t *sc = &w->sc;
    const uint8_t a = sim_byte(s);
    const uint8_t b = sim_byte(s);
    const uint8_t c = sim_byte(s);
    static const int server_ms[4] = {5, 20, 60, 150};
    static const int client_ms[4] = {10, 30, 80, 250};
    sc->clients = 1u + a % SIM_MAX_CLIENTS;
    sc->hostile = (a >> 2) % (SIM_MAX_HOSTILE + 1u);
    sc->msgs = 1u + (a >> 4) % SIM_MAX_MSGS;
    sc->kills = b & 1;
    sc->signals = (b >> 1) & 1;
    sc->removal = ((b >> 2) & 7) == 0;
    sc->preempt = (b >> 5) & 1;
    sc->spin = (b >> 6) & 1;
    sc->squat = (c & 15) == 0;
    sc->server_timeout_ms = server_ms[(c >> 4) & 3];
    sc->client_timeout_ms = client_ms[(c >> 6) & 3];
    const uint8_t d = sim_byte(s);
    sc->hostile_moves = 4u + (d & 127u) % 60u;
    sc->early = d >> 7;
    const uint8_t e = sim_byte(s);
    sc->rival = (e & 3) == 0;
    sc->faults = ((e >> 3) & 3) == 0;
    /* A quarter of the runs are honest (no peer, kill, signal, removal,
     * preemption, squatter, rival or early client): only there can the
     * lost-wakeup oracle speak, and a mix of eight independent switches
     * would make such runs one in 150. */
    const int honest = ((a ^ c) & 3) == 0;
    if (honest) {
        sc->hostile = 0;
        sc->kills = sc->signals = sc->removal = sc->preempt = sc->squat = sc->early = 0;
        sc->rival = sc->faults = 0;
    }
    /* Half the other runs carry timed events (see world.h). The kinds are
     * weighted towards the calls whose windows matter: a server's first
     * semops, its SETVALs and scans, the segment's creation and mapping. */
    static const sim_sys_kind_t kinds[8] = {SIM_SYS_SEMOP,      SIM_SYS_SEMOP,  SIM_SYS_SEMCTL_SET,
                                            SIM_SYS_SEMCTL_GET, SIM_SYS_SHMCTL, SIM_SYS_SHMGET,
                                            SIM_SYS_SHMAT,      SIM_SYS_SEMGET};
    static const int afters[8] = {SIM_WHO_NOBODY,   SIM_WHO_NOBODY,   SIM_WHO_NOBODY,
                                  SIM_WHO_HOSTILE0, SIM_WHO_HOSTILE0, SIM_WHO_HOSTILE0,
                                  SIM_WHO_CLIENT0,  SIM_WHO_CLIENT0};
    static const int actions[8] = {SIM_ACT_HOLD,   SIM_ACT_HOLD,   SIM_ACT_HOLD, SIM_ACT_RM_SET,
                                   SIM_ACT_RM_SET, SIM_ACT_RM_SHM, SIM_ACT_KILL, SIM_ACT_KILL};
    const uint8_t f = sim_byte(s);
    /* A slow process in a quarter of the other runs: the rival if there
     * is one (three times in four), else the server, client 0 or peer 0. */
    static const int slows[8] = {SIM_WHO_RIVAL,  SIM_WHO_RIVAL,   SIM_WHO_RIVAL,
                                 SIM_WHO_RIVAL,  SIM_WHO_RIVAL,   SIM_WHO_RIVAL,
                                 SIM_WHO_SERVER, SIM_WHO_CLIENT0};
    sc->slow = (!honest && (f & 6) == 0) ? slows[(f >> 3) & 7] : SIM_WHO_NOBODY;
    if (sc->slow == SIM_WHO_RIVAL && !sc->rival) {
        sc->slow = ((f >> 6) & 1) ? SIM_WHO_SERVER : SIM_WHO_HOSTILE0;
    }
    /* One other run in eight is a reclaim race (world.h): a `clean
     * --stale` gathers its facts one call at a time, and only a rival
     * whose calls straddle the server's build can see them disagree. */
    if (!honest && (f >> 5) == 0) {
        sc->race = 1;
        sc->rival = 1;
        sc->slow = SIM_WHO_RIVAL;
        sc->squat = sc->faults = sc->kills = sc->signals = 0;
    }
    if (!honest && (f & 1)) {
        sc->ntriggers = SIM_TRIGGERS;
        for (uint32_t i = 0; i < SIM_TRIGGERS; i++) {
            sim_trigger_t *tr = &sc->trig[i];
            const uint8_t v = sim_byte(s);
            const uint8_t k = sim_byte(s);
            const uint8_t n = sim_byte(s);
            const uint8_t act = sim_byte(s);
            /* The server half the time; its rival, first client or first
             * peer otherwise. */
            tr->victim = (v & 1) ? SIM_WHO_SERVER : (int)((v >> 1) % 4u);
            tr->after = afters[(v >> 3) & 7];
            tr->kind = kinds[k & 7];
            /* Mostly one of the first four calls; sometimes up to the 32nd. */
            tr->n = (n & 0x80) ? 1u + (n & 31u) : 1u + (n & 3u);
            tr->action = actions[act & 7];
            tr->hold = 4u << ((act >> 3) % 7u); /* 4 .. 256 slices */
        }
    }
    s->faults = sc->faults;
    w->kills_left = sc->kills ? 2 : 0;
    w->signals_left = sc->signals ? 3 : 0;
    w->removals_left = sc->removal ? 1 : 0;
}

/* A squatter of another user got to the key first, with a world-readable
 * set: the server must refuse it (FOREIGN) and never remove it. */
static void squat(sim_world_t *w)
{
    simk_t *k = &w->sched.kernel;
    const int proc = simk_proc_new(k, 90, 2000);
    int id = -1;
    if (proc >= 0 && simk_semget(k, proc, SIM_KEY, 8, IPC_CREAT | IPC_EXCL | 0666, &id) == 0) {
        w->foreign_ids[w->nforeign] = id;
        w->foreign_is_sem[w->nforeign] = 1;
        w->nforeign++;
        sim_trace(&w->sched, "squatter (uid 2000) created set %d at the key, mode 0666", id);
    }
}

static sim_task_t *pick_alive(sim_world_t *w)
{
    sim_task_t *alive[SIM_MAX_TASKS];
    uint32_t n = 0;
    for (int i = 0; i < SIM_MAX_TASKS; i++) {
        sim_task_t *t = &w->sched.tasks[i];
        if (t->state == SIM_TASK_RUNNABLE || t->state == SIM_TASK_PARKED) {
            alive[n++] = t;
        }
    }
    return n == 0 ? NULL : alive[sim_choose(&w->sched, n)];
}

/* Oracle: once the server is killed, every call of a client returns within
 * two liveness periods (docs/lifecycle.md: "noticed within" one period of
 * sleeping, plus the one being slept). */
static void death_check(sim_world_t *w)
{
    sim_sched_t *s = &w->sched;
    /* Killed between semget and its first semop, a server leaves a set
     * that nothing proves is a shmchan channel: connect waits its timeout
     * (docs/lifecycle.md, the one-syscall window). A peer that forged the
     * liveness token (SETVAL clears the server's undo) makes the death
     * unprovable: clients then trust the server until their deadlines. */
    if (w->server_killed_at == 0 || w->rival != NULL || w->header_attacked ||
        sim_unmarked_set_at_key(w)) {
        return;
    }
    for (uint32_t i = 0; i < SIM_MAX_CLIENTS + SIM_MAX_HOSTILE; i++) {
        const sim_task_t *t = i < SIM_MAX_CLIENTS ? w->clients[i].task
                                                  : w->hostile[i - SIM_MAX_CLIENTS];
        if (!alive(t) || t->call == NULL) {
            continue;
        }
        const int64_t since = t->call_start > w->server_killed_at ? t->call_start
                                                                  : w->server_killed_at;
        if (s->now > since + 2 * SIM_PERIOD_NS + SIM_SLACK_NS) {
            sim_fail(s, "%s: %s has not noticed in %.3f ms that the server was killed", t->name,
                     t->call, (double)(s->now - since) / 1e6);
        }
    }
}

/* 1 if t is inside shmchan_server_create: the server, or a rival that
 * reclaims and then builds a channel of its own. */
static int building(const sim_task_t *t)
{
    return t != NULL && t->call != NULL && strcmp(t->call, "shmchan_server_create") == 0;
}

static void kill_task(sim_world_t *w, sim_task_t *t)
{
    w->killed_any = 1;
    if (building(t)) {
        w->server_killed_in_build = 1;
    }
    if (t == w->server) {
        w->server_killed_at = w->sched.now;
        if (!w->server_up && !w->server_ended) {
            w->server_killed_in_build = 1;
        }
    }
    sim_kill(&w->sched, t);
}

int sim_orphaned_build(const sim_world_t *w)
{
    return w->removed_in_build && w->server_killed_in_build;
}

static sim_task_t *who(sim_world_t *w, int code)
{
    switch (code) {
    case SIM_WHO_SERVER:
        return w->server;
    case SIM_WHO_RIVAL:
        return w->rival != NULL ? w->rival : w->server;
    case SIM_WHO_CLIENT0:
        return w->clients[0].task;
    case SIM_WHO_HOSTILE0:
        return w->hostile[0] != NULL ? w->hostile[0] : w->clients[0].task;
    default:
        return NULL;
    }
}

/* ipcrm of whatever set or segment of ours is at the key (the channel
 * being built has no id in the world yet). */
static void remove_at_key(sim_world_t *w, int set)
{
    simk_t *k = &w->sched.kernel;
    for (int i = 0; i < (set ? SIMK_SEMMNI : SIMK_SHMMNI); i++) {
        const int used = set ? k->sem[i].used : k->shm[i].used;
        const key_t key = set ? k->sem[i].perm.key : k->shm[i].perm.key;
        const int id = set ? k->sem[i].id : k->shm[i].id;
        if (used && key == SIM_KEY && !is_foreign(w, set, id)) {
            w->removed_outside = 1;
            if ((!w->server_up && !w->server_ended) || building(w->server) ||
                building(w->rival)) {
                w->removed_in_build = 1;
            }
            sim_trace(&w->sched, "ipcrm removes %s %d at the key", set ? "set" : "segment", id);
            if (set) {
                (void)simk_sem_rmid(k, ipcrm_proc, id);
            } else {
                (void)simk_shm_rmid(k, ipcrm_proc, id);
            }
        }
    }
}

/* The timed events (world.h): the task that ran the last slice stopped at
 * the entry of a system call; count it, and act if a trigger says so. */
static void timed_events(sim_world_t *w)
{
    sim_sched_t *s = &w->sched;
    if (s->last < 0) {
        return;
    }
    sim_task_t *t = &s->tasks[s->last];
    if (t->at_sys == SIM_SYS_NONE || !alive(t)) {
        return;
    }
    if (w->sc.slow != SIM_WHO_NOBODY && who(w, w->sc.slow) == t) {
        /* Half its calls wait for 1..4 changes of the IPC state by others:
         * only a step of another process that changes what this one looks
         * at can make facts gathered one call at a time disagree. */
        const uint8_t b = sim_byte(s);
        if (b & 1) {
            sim_hold_changes(t, 1u + (b >> 1) % 4u);
        }
    }
    for (uint32_t i = 0; i < w->sc.ntriggers; i++) {
        sim_trigger_t *tr = &w->sc.trig[i];
        const sim_task_t *after = who(w, tr->after);
        if (tr->fired || who(w, tr->victim) != t || tr->kind != t->at_sys ||
            (tr->after != SIM_WHO_NOBODY && (after == NULL || alive(after)))) {
            continue;
        }
        if (++tr->count < tr->n) {
            continue;
        }
        tr->fired = 1;
        switch (tr->action) {
        case SIM_ACT_HOLD:
            sim_trace(s, "%s is preempted at its system call for %u slices of others", t->name,
                      tr->hold);
            t->hold = tr->hold;
            break;
        case SIM_ACT_KILL:
            kill_task(w, t);
            return;
        default:
            remove_at_key(w, tr->action == SIM_ACT_RM_SET);
            break;
        }
    }
}

/* Between two slices: what the input makes happen to the world. */
static void world_events(sim_world_t *w)
{
    sim_sched_t *s = &w->sched;
    death_check(w);
    timed_events(w);
    const uint8_t b = sim_byte(s);
    if (b < 236) {
        return;
    }
    if (b < 243) {
        if (w->sc.preempt) {
            const int64_t ns = (int64_t)(1 + sim_byte(s)) * 20000;
            sim_trace(s, "preemption: the clock moves %.3f ms", (double)ns / 1e6);
            s->now += ns;
            s->preempted_ns += ns;
        }
        return;
    }
    if (b < 245) {
        if (w->removals_left > 0 && w->server_up) {
            w->removals_left--;
            w->removed_outside = 1;
            const int set = sim_byte(s) & 1;
            sim_trace(s, "ipcrm removes the channel's %s", set ? "set" : "segment");
            if (set) {
                (void)simk_sem_rmid(&s->kernel, ipcrm_proc, w->server_semid);
            } else {
                (void)simk_shm_rmid(&s->kernel, ipcrm_proc, w->server_shmid);
            }
        }
        return;
    }
    if (b < 250) {
        if (w->signals_left > 0) {
            sim_task_t *t = pick_alive(w);
            if (t != NULL) {
                w->signals_left--;
                w->signalled_any = 1;
                sim_signal(s, t, sim_byte(s) & 1);
            }
        }
        return;
    }
    if (w->kills_left > 0) {
        sim_task_t *t = pick_alive(w);
        if (t != NULL) {
            w->kills_left--;
            kill_task(w, t);
        }
    }
}

int sim_fully_honest(const sim_world_t *w)
{
    return w->sc.hostile == 0 && !w->sc.early && !w->killed_any && !w->signalled_any &&
           !w->removed_outside && !w->sc.preempt && !w->sc.squat && w->rival == NULL &&
           !w->sc.faults;
}

int sim_client_judged_honest(const sim_world_t *w, const sim_client_rec_t *c)
{
    return c->connected && c->task->state == SIM_TASK_DONE && !c->cancelled &&
           !w->server_cancelled && !w->removed_outside && !w->slot_attacked[c->slot] &&
           !w->header_attacked && !w->signalled_any;
}

static int pair_honest(const sim_world_t *w, const sim_client_rec_t *c)
{
    return sim_client_judged_honest(w, c) && w->server->state == SIM_TASK_DONE;
}


static void final_checks(sim_world_t *w)
{
    sim_sched_t *s = &w->sched;
    for (uint32_t i = 0; i < w->sc.clients; i++) {
        const sim_client_rec_t *c = &w->clients[i];
        if (pair_honest(w, c) && c->srv_got != c->sent_ok) {
            sim_fail(s, "client %u: %u messages sent, %u delivered: lost", i, c->sent_ok,
                     c->srv_got);
        }
        if (sim_fully_honest(w) && (c->sent_ok != w->sc.msgs || c->echoes != w->sc.msgs)) {
            sim_fail(s,
                     "client %u in an honest run: %u of %u sent, %u echoes (a lost wakeup or "
                     "a stall)",
                     i, c->sent_ok, w->sc.msgs, c->echoes);
        }
    }
    /* Every CONNECT has its DISCONNECT once the clients have gone (died,
     * left, or been dropped), if the server served to the end and nobody
     * forged the slot's tokens or wrote its words. */
    if (w->server_served_out && !w->header_attacked && !w->removed_outside) {
        for (uint32_t slot = 0; slot < SIM_SLOTS; slot++) {
            if (w->server_connected[slot] && !w->slot_attacked[slot]) {
                sim_fail(s, "slot %u: CONNECT reported, no DISCONNECT %d server waits after every "
                            "client had gone",
                         slot, SIM_SERVER_ROUNDS_AFTER);
            }
        }
    }
}

int sim_unmarked_set_at_key(const sim_world_t *w)
{
    for (int i = 0; i < SIMK_SEMMNI; i++) {
        const simk_sem_t *set = &w->sched.kernel.sem[i];
        if (set->used && set->perm.key == SIM_KEY && set->otime == 0 &&
            !is_foreign(w, 1, set->id)) {
            return 1;
        }
    }
    return 0;
}

/* After every process has exited: nothing is left that the next server or
 * `clean --stale` would not reclaim (the epilogue task tried both). */
static void leftover_check(sim_world_t *w)
{
    sim_sched_t *s = &w->sched;
    for (int i = 0; i < SIMK_SEMMNI; i++) {
        /* docs/lifecycle.md: a creator killed between semget and its first
         * semop leaves a set nothing proves is shmchan's (BUSY, then
         * FOREIGN after 10 s): by design, removed by hand. */
        if (s->kernel.sem[i].used && !is_foreign(w, 1, s->kernel.sem[i].id) &&
            s->kernel.sem[i].otime != 0) {
            sim_fail(s, "set %d (key 0x%x) left behind after the next server came and went",
                     s->kernel.sem[i].id, (unsigned)s->kernel.sem[i].perm.key);
        }
    }
    for (int i = 0; i < SIMK_SHMMNI; i++) {
        if (s->kernel.shm[i].used && !is_foreign(w, 0, s->kernel.shm[i].id)) {
            sim_fail(s, "segment %d (key 0x%x, nattch %u) left behind", s->kernel.shm[i].id,
                     (unsigned)s->kernel.shm[i].perm.key, s->kernel.shm[i].nattch);
        }
    }
}

static void run_until_done(sim_world_t *w, int events)
{
    while (!w->sched.failed) {
        if (events) {
            world_events(w);
        }
        if (!sim_sched_step(&w->sched)) {
            break;
        }
        if (w->sched.slices > SIM_MAX_SLICES) {
            sim_fail(&w->sched, "the run did not end within %u slices", SIM_MAX_SLICES);
        }
    }
}

void sim_run(const uint8_t *data, size_t size, int trace, sim_result_t *out)
{
    sim_world_t *w = &the_world;
    memset(w, 0, sizeof *w);
    sim_sched_t *s = &w->sched;
    sim_sched_init(s, data, size, trace);
    s->kernel.on_remove = on_remove;
    s->kernel.on_remove_ctx = w;
    ipcrm_proc = simk_proc_new(&s->kernel, 99, 1000);
    read_scenario(w);
    sim_trace(s, "scenario: %u clients x %u messages, %u hostile (%u moves), kills %d, signals %d, "
                 "removal %d, preemption %d, squatter %d, spin %d, early %d, rival %d, faults %d, "
                 "timeouts %d/%d ms",
              w->sc.clients, w->sc.msgs, w->sc.hostile, w->sc.hostile_moves, w->sc.kills,
              w->sc.signals, w->sc.removal, w->sc.preempt, w->sc.squat, w->sc.spin,
              w->sc.early, w->sc.rival, w->sc.faults, w->sc.server_timeout_ms,
              w->sc.client_timeout_ms);
    static const char *const whos[] = {"server", "rival", "client0", "hostile0", "start"};
    if (w->sc.slow != SIM_WHO_NOBODY) {
        sim_trace(s, "slow process: %s", whos[w->sc.slow]);
    }
    for (uint32_t i = 0; i < w->sc.ntriggers; i++) {
        static const char *const acts[] = {"hold", "kill", "ipcrm set", "ipcrm segment"};
        const sim_trigger_t *tr = &w->sc.trig[i];
        sim_trace(s, "timed event: %s at %s's call %u of kind %d (counted from %s%s)",
                  acts[tr->action], whos[tr->victim], tr->n, (int)tr->kind,
                  tr->after == SIM_WHO_NOBODY ? "the " : "the end of ", whos[tr->after]);
    }
    if (w->sc.squat) {
        squat(w);
    }
    w->server = sim_spawn(s, "server", 1000, sim_actor_server, NULL);
    for (uint32_t i = 0; i < w->sc.clients; i++) {
        char name[16];
        (void)snprintf(name, sizeof name, "client%u", i);
        w->clients[i].task = sim_spawn(s, name, 1000, sim_actor_client, &w->clients[i]);
    }
    if (w->sc.rival) {
        w->rival = sim_spawn(s, "rival", 1000, sim_actor_rival, NULL);
    }
    for (uint32_t i = 0; i < w->sc.hostile; i++) {
        char name[16];
        (void)snprintf(name, sizeof name, "hostile%u", i);
        w->hostile[i] = sim_spawn(s, name, 1000, sim_actor_hostile, NULL);
    }
    run_until_done(w, 1);
    if (!s->failed) {
        final_checks(w);
    }
    if (!s->failed) {
        /* The next server and `clean --stale` judge what is left: with
         * resources back, so that a leftover is the run's fault, not theirs. */
        s->faults = 0;
        (void)sim_spawn(s, "next", 1000, sim_actor_epilogue, NULL);
        run_until_done(w, 0);
    }
    /* A peer that rewrote the header or a fixed semaphore (the liveness
     * token, the marker) can make a dead channel look live or foreign: the
     * library then refuses to touch it, which is the promise (fail closed). */
    if (!s->failed && !w->header_attacked && !sim_orphaned_build(w)) {
        leftover_check(w);
    }
    out->failed = s->failed;
    (void)snprintf(out->failure, sizeof out->failure, "%s", s->failure);
    out->slices = s->slices;
    out->virtual_ms = (double)(s->now - 1000000000) / 1e6;
    sim_sched_fini(s);
}
