/*
 * actors.c - the simulated processes: the real server, honest clients
 * that send sequenced messages and check their echoes, hostile peers, and
 * the "next server" that comes after everyone has gone.
 *
 * Every library call is bracketed by sim_call_begin/sim_call_end, which
 * check that it returns by its deadline (sched.c). Every loop here is
 * bounded by a constant, so a run can only go on forever if the library
 * does.
 */
/* semtimedop(2) is a GNU extension, as in src/sysv.c. */
#define _GNU_SOURCE 1

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "src/shmchan.h"
#include "sim/world.h"
#include "src/lane.h"
#include "src/layout.h"
#include "src/wake.h"

#define SERVER_ROUNDS_MAX 600
#define SEND_TRIES 3
/* The most an echo may take in an honest run: a few hundred system calls
 * of virtual time; a lost wakeup costs a sleep of 20 ms or more. */
#define SIM_LATENCY_NS 5000000

static int task_alive(const sim_task_t *t)
{
    return t != NULL && (t->state == SIM_TASK_RUNNABLE || t->state == SIM_TASK_PARKED);
}

static int task_alive(const sim_task_t *t);

/* Unless the scenario starts clients early: let the server come up first
 * (as a client started after its server). Bounded: a server that never
 * comes up ends (its task ends) within its own bounded loop. It sleeps
 * 20 us of virtual time (about 20 system calls of others) between looks
 * rather than yielding at every slice: waiting clients that took a pick
 * at every slice would dilute the steps of the processes that race (a
 * server being built, a rival reclaiming). */
static void await_server(sim_world_t *w)
{
    for (int i = 0; i < 100000 && !w->sc.early && !w->server_up && task_alive(w->server); i++) {
        sim_sleep(20000);
    }
}

static int others_gone(const sim_world_t *w)
{
    for (uint32_t i = 0; i < w->sc.clients; i++) {
        if (task_alive(w->clients[i].task)) {
            return 0;
        }
    }
    for (uint32_t i = 0; i < w->sc.hostile; i++) {
        if (task_alive(w->hostile[i])) {
            return 0;
        }
    }
    return 1;
}

static int any_connected(const sim_world_t *w)
{
    for (uint32_t s = 0; s < SIM_SLOTS; s++) {
        if (w->server_connected[s]) {
            return 1;
        }
    }
    return 0;
}

/* 1 if a client the final oracle will judge honest
 * (sim_client_judged_honest) has messages the server has not delivered
 * yet. Such a client can connect, send and leave while the
 * server looks elsewhere: its CONNECT, messages and DISCONNECT are still in
 * the channel, and the server must serve on until it has them, as an
 * application that wants every message would (found by the campaign: seeds
 * 848,683 and 994,648, where the server stopped serving when every client
 * had gone and it had no slot connected, before its next scan would have
 * reported the last client's visit). Only runs that used to fail that way
 * see another schedule: in every other run this is 0 whenever the server
 * stops. */
static int messages_pending(const sim_world_t *w)
{
    for (uint32_t i = 0; i < w->sc.clients; i++) {
        const sim_client_rec_t *c = &w->clients[i];
        if (sim_client_judged_honest(w, c) && c->srv_got != c->sent_ok) {
            return 1;
        }
    }
    return 0;
}

/* A message the server delivered: if it is an honest one, it must be the
 * next of its client, intact, on that client's slot. */
static void server_check_message(sim_world_t *w, const shmchan_event_t *ev, const uint8_t *buf)
{
    sim_sched_t *s = &w->sched;
    if (ev->len < 4 || buf[0] != 'H' || buf[1] >= w->sc.clients) {
        return; /* not an honest message: a hostile peer's */
    }
    sim_client_rec_t *c = &w->clients[buf[1]];
    if (!c->connected || c->slot != ev->client || w->slot_attacked[ev->client] ||
        w->header_attacked) {
        if (!w->slot_attacked[ev->client] && !w->header_attacked && c->connected) {
            sim_fail(s, "client %u's message delivered as slot %u's (it holds slot %u)", buf[1],
                     ev->client, c->slot);
        }
        return;
    }
    const uint32_t seq = (uint32_t)buf[2] | ((uint32_t)buf[3] << 8);
    uint8_t want[SIM_MAX_PAYLOAD];
    const uint32_t len = sim_message(buf[1], c->srv_got, want);
    if (seq != c->srv_got || ev->len != len || memcmp(want, buf, len) != 0) {
        sim_fail(s, "client %u: server delivered seq %u (len %u), expected seq %u (len %u): %s",
                 buf[1], seq, ev->len, c->srv_got, len,
                 seq < c->srv_got ? "duplicated" : (seq > c->srv_got ? "lost or reordered"
                                                                      : "altered"));
        return;
    }
    c->srv_got++;
}

/* Misuses the library must refuse from their arguments alone (a caller's
 * slip: a NULL pointer the contract forbids, a negative timeout, a slot out
 * of range, a message over the limit): the documented error, before any
 * system call and before any access to the shared memory, so the run's
 * schedule and input are untouched. Made in every run, before the create
 * and right after it; the oracle is "bad arguments cost nothing"
 * (docs/simulation.md). `steps` is the task's count from before the call. */
static void misuse_check(sim_world_t *w, sim_task_t *t, const char *what, shmchan_err_t got,
                         shmchan_err_t want, uint64_t steps)
{
    if (got != want || t->steps != steps) {
        sim_fail(&w->sched, "%s gave %s after %llu system calls (want %s, none)", what,
                 shmchan_errname(got), (unsigned long long)(t->steps - steps),
                 shmchan_errname(want));
    }
}

/* A misuse the input may make before the real create: a call the library
 * must refuse from its arguments alone, with SHMCHAN_E_INVALID_ARGUMENT,
 * before any system call (so before anything exists that it would have
 * to roll back), leaving the handle NULL. */
static void server_misuse(sim_world_t *w, sim_task_t *t, const shmchan_server_options_t *good)
{
    sim_sched_t *s = &w->sched;
    shmchan_server_options_t bad = *good;
    key_t key = SIM_KEY;
    const char *what = NULL;
    /* Every run: no place for the handle (no input byte: the schedule is
     * the same). */
    const uint64_t before = t->steps; /* read first: argument order is unspecified */
    misuse_check(w, t, "server: create with no place for the handle",
                 shmchan_server_create(SIM_KEY, good, NULL, NULL), SHMCHAN_E_INVALID_ARGUMENT,
                 before);
    switch (sim_choose(s, 8)) {
    case 0:
        key = IPC_PRIVATE;
        what = "key IPC_PRIVATE";
        break;
    case 1:
        bad.mode = 0660;
        what = "a group mode";
        break;
    case 2:
        bad.max_clients = 0;
        what = "max_clients 0";
        break;
    case 3:
        bad.lane_capacity = SIM_LANE_CAPACITY + 1;
        what = "a lane capacity not a power of two";
        break;
    default:
        return; /* most runs: no misuse */
    }
    shmchan_server_t *srv = NULL;
    const uint64_t steps = t->steps;
    sim_call_begin("shmchan_server_create", 0);
    const shmchan_err_t err = shmchan_server_create(key, &bad, &srv, NULL);
    sim_call_end();
    sim_trace(s, "shmchan_server_create with %s = %s", what, shmchan_errname(err));
    if (err != SHMCHAN_E_INVALID_ARGUMENT || srv != NULL || t->steps != steps) {
        sim_fail(s, "server: create with %s gave %s after %llu system calls (want "
                    "INVALID_ARGUMENT, no handle, none)",
                 what, shmchan_errname(err), (unsigned long long)(t->steps - steps));
    }
    shmchan_server_destroy(srv); /* NULL: a no-op, as documented */
}

static void server_misuse_handle(sim_world_t *w, sim_task_t *t, shmchan_server_t *srv)
{
    const uint64_t steps = t->steps;
    shmchan_event_t ev;
    uint8_t buf[SIM_MAX_PAYLOAD + 1];
    memset(buf, 'M', sizeof buf);
    const shmchan_err_t inval = SHMCHAN_E_INVALID_ARGUMENT;
    misuse_check(w, t, "server: shmchan_server_wait(NULL server)",
                 shmchan_server_wait(NULL, 0, &ev, buf, sizeof buf), inval, steps);
    misuse_check(w, t, "server: shmchan_server_wait(NULL event)",
                 shmchan_server_wait(srv, 0, NULL, buf, sizeof buf), inval, steps);
    misuse_check(w, t, "server: shmchan_server_wait(NULL buffer, capacity 1)",
                 shmchan_server_wait(srv, 0, &ev, NULL, 1), inval, steps);
    misuse_check(w, t, "server: shmchan_server_wait(timeout -1)",
                 shmchan_server_wait(srv, -1, &ev, buf, sizeof buf), inval, steps);
    misuse_check(w, t, "server: shmchan_server_send(NULL server)",
                 shmchan_server_send(NULL, 0, buf, 1, 0), inval, steps);
    misuse_check(w, t, "server: shmchan_server_send(NULL data, 1 byte)",
                 shmchan_server_send(srv, 0, NULL, 1, 0), inval, steps);
    misuse_check(w, t, "server: shmchan_server_send(timeout -1)",
                 shmchan_server_send(srv, 0, buf, 1, -1), inval, steps);
    misuse_check(w, t, "server: shmchan_server_send(slot max_clients)",
                 shmchan_server_send(srv, SIM_SLOTS, buf, 1, 0), inval, steps);
    misuse_check(w, t, "server: shmchan_server_send(max_payload + 1 bytes)",
                 shmchan_server_send(srv, 0, buf, SIM_MAX_PAYLOAD + 1, 0),
                 SHMCHAN_E_FRAME_TOO_LONG, steps);
    misuse_check(w, t, "server: shmchan_server_close(NULL)", shmchan_server_close(NULL), inval,
                 steps);
}

void sim_actor_server(sim_task_t *t)
{
    sim_world_t *w = sim_world();
    sim_sched_t *s = &w->sched;
    shmchan_server_options_t opts;
    shmchan_server_options_init(NULL); /* a no-op, as documented */
    shmchan_server_options_init(&opts);
    opts.max_clients = SIM_SLOTS;
    opts.max_payload = SIM_MAX_PAYLOAD;
    opts.lane_capacity = SIM_LANE_CAPACITY;
    opts.cancel = &t->cancel;
    opts.spin_ns = w->sc.spin ? 3000 : 0;
    server_misuse(w, t, &opts);
    shmchan_server_t *srv = NULL;
    /* Half the runs (by the message count's parity: no input byte, so no
     * schedule changes) ask for the diagnostic; it makes no system call. */
    shmchan_diag_t diag;
    memset(&diag, 0xa5, sizeof diag);
    shmchan_diag_t *want_diag = (w->sc.msgs & 1) ? &diag : NULL;
    sim_call_begin("shmchan_server_create", 0);
    shmchan_err_t err = shmchan_server_create(SIM_KEY, &opts, &srv, want_diag);
    sim_call_end();
    sim_trace(s, "shmchan_server_create = %s", shmchan_errname(err));
    if (want_diag != NULL && (err == SHMCHAN_OK ? diag.code != SHMCHAN_OK || diag.text[0] != 0
                                                : diag.code == SHMCHAN_OK)) {
        sim_fail(s, "server: create = %s, but its diagnostic says %s (\"%.80s\")",
                 shmchan_errname(err), shmchan_errname(diag.code), diag.text);
    }
    if (err != SHMCHAN_OK) {
        if (w->nforeign == 0 && w->rival == NULL && err != SHMCHAN_E_INTERRUPTED &&
            t->faults_injected == 0 && !w->removed_outside) {
            sim_fail(s, "server: create failed on a clear key: %s", shmchan_errname(err));
        }
        w->server_ended = 1;
        return;
    }
    w->server_up = 1;
    if (shmchan_server_max_clients(srv) != SIM_SLOTS ||
        shmchan_server_max_payload(srv) != SIM_MAX_PAYLOAD) {
        sim_fail(s, "server: the handle reports %u clients, %u bytes (asked %u, %u)",
                 shmchan_server_max_clients(srv), shmchan_server_max_payload(srv), SIM_SLOTS,
                 SIM_MAX_PAYLOAD);
    }
    w->server_semid = shmchan_server_semid(srv);
    w->server_shmid = shmchan_server_shmid(srv);
    server_misuse_handle(w, t, srv);
    int after = 0;
    for (int round = 0; round < SERVER_ROUNDS_MAX; round++) {
        if (others_gone(w) && ((!any_connected(w) && !messages_pending(w)) ||
                               ++after > SIM_SERVER_ROUNDS_AFTER)) {
            w->server_served_out = 1;
            break;
        }
        shmchan_event_t ev;
        uint8_t buf[SIM_MAX_PAYLOAD];
        sim_call_begin("shmchan_server_wait", w->sc.server_timeout_ms);
        err = shmchan_server_wait(srv, w->sc.server_timeout_ms, &ev, buf, sizeof buf);
        sim_call_end();
        if (err == SHMCHAN_E_TIMEOUT) {
            continue;
        }
        if (err != SHMCHAN_OK) {
            sim_trace(s, "shmchan_server_wait = %s: stops serving", shmchan_errname(err));
            w->server_cancelled = err == SHMCHAN_E_INTERRUPTED;
            if (err != SHMCHAN_E_INTERRUPTED && err != SHMCHAN_E_CLOSED && !w->header_attacked &&
                !w->removed_outside) {
                sim_fail(s, "server: shmchan_server_wait failed: %s", shmchan_errname(err));
            }
            break;
        }
        if (ev.kind == SHMCHAN_EVENT_CONNECT) {
            sim_trace(s, "event CONNECT slot %u (pid %d)", ev.client, (int)ev.pid);
            if (w->server_connected[ev.client]) {
                sim_fail(s, "slot %u: a second CONNECT without a DISCONNECT", ev.client);
            }
            w->server_connected[ev.client] = 1;
        } else if (ev.kind == SHMCHAN_EVENT_DISCONNECT) {
            sim_trace(s, "event DISCONNECT slot %u (%s)", ev.client, shmchan_errname(ev.reason));
            if (!w->server_connected[ev.client]) {
                sim_fail(s, "slot %u: DISCONNECT without a CONNECT", ev.client);
            }
            w->server_connected[ev.client] = 0;
        } else {
            sim_trace(s, "event MESSAGE slot %u, %u bytes", ev.client, ev.len);
            if (!w->server_connected[ev.client]) {
                sim_fail(s, "slot %u: a MESSAGE outside CONNECT..DISCONNECT", ev.client);
            }
            server_check_message(w, &ev, buf);
            sim_call_begin("shmchan_server_send", w->sc.server_timeout_ms);
            err = shmchan_server_send(srv, ev.client, buf, ev.len, w->sc.server_timeout_ms);
            sim_call_end();
            if (err != SHMCHAN_OK) {
                sim_trace(s, "echo to slot %u: %s", ev.client, shmchan_errname(err));
            }
        }
        if (s->failed) {
            break;
        }
    }
    sim_call_begin("shmchan_server_destroy", 0);
    shmchan_server_destroy(srv);
    sim_call_end();
    w->server_up = 0;
    w->server_ended = 1;
}

/* The client's counterpart of server_misuse_handle: a connect without a
 * place for the handle, with a negative timeout or with its cancel flag
 * already set, and sends and receives a caller got wrong. */
static void client_misuse_connect(sim_world_t *w, sim_task_t *t,
                                  const shmchan_client_options_t *good)
{
    const uint64_t steps = t->steps;
    const shmchan_err_t inval = SHMCHAN_E_INVALID_ARGUMENT;
    shmchan_client_options_t bad = *good;
    shmchan_client_t *cli = NULL;
    misuse_check(w, t, "client: shmchan_client_connect(NULL out)",
                 shmchan_client_connect(SIM_KEY, good, NULL, NULL), inval, steps);
    bad.connect_timeout_ms = -1;
    misuse_check(w, t, "client: shmchan_client_connect(timeout -1)",
                 shmchan_client_connect(SIM_KEY, &bad, &cli, NULL), inval, steps);
    static volatile sig_atomic_t cancelled = 1;
    bad = *good;
    bad.cancel = &cancelled;
    misuse_check(w, t, "client: shmchan_client_connect(cancel flag set)",
                 shmchan_client_connect(SIM_KEY, &bad, &cli, NULL), SHMCHAN_E_INTERRUPTED, steps);
    if (cli != NULL) {
        sim_fail(&w->sched, "client: a refused connect left a handle");
    }
}

static void client_misuse_handle(sim_world_t *w, sim_task_t *t, shmchan_client_t *cli)
{
    const uint64_t steps = t->steps;
    const shmchan_err_t inval = SHMCHAN_E_INVALID_ARGUMENT;
    uint8_t buf[SIM_MAX_PAYLOAD];
    memset(buf, 'M', sizeof buf);
    uint32_t len = 7;
    misuse_check(w, t, "client: shmchan_client_send(NULL client)",
                 shmchan_client_send(NULL, buf, 1, 0), inval, steps);
    misuse_check(w, t, "client: shmchan_client_send(NULL data, 1 byte)",
                 shmchan_client_send(cli, NULL, 1, 0), inval, steps);
    misuse_check(w, t, "client: shmchan_client_send(timeout -1)",
                 shmchan_client_send(cli, buf, 1, -1), inval, steps);
    const uint32_t limit = shmchan_client_max_payload(cli);
    if (limit < UINT32_MAX) {
        misuse_check(w, t, "client: shmchan_client_send(max_payload + 1 bytes)",
                     shmchan_client_send(cli, buf, limit + 1, 0), SHMCHAN_E_FRAME_TOO_LONG,
                     steps);
    }
    misuse_check(w, t, "client: shmchan_client_recv(NULL length)",
                 shmchan_client_recv(cli, buf, sizeof buf, NULL, 0), inval, steps);
    misuse_check(w, t, "client: shmchan_client_recv(NULL client)",
                 shmchan_client_recv(NULL, buf, sizeof buf, &len, 0), inval, steps);
    if (len != 0) {
        sim_fail(&w->sched, "client: a refused recv left *len = %u (want 0)", len);
    }
    misuse_check(w, t, "client: shmchan_client_recv(NULL buffer, capacity 1)",
                 shmchan_client_recv(cli, NULL, 1, &len, 0), inval, steps);
    misuse_check(w, t, "client: shmchan_client_recv(timeout -1)",
                 shmchan_client_recv(cli, buf, sizeof buf, &len, -1), inval, steps);
    misuse_check(w, t, "client: shmchan_client_check(NULL)", shmchan_client_check(NULL), inval,
                 steps);
}

void sim_actor_client(sim_task_t *t)
{
    sim_world_t *w = sim_world();
    sim_sched_t *s = &w->sched;
    sim_client_rec_t *c = t->actor;
    const uint32_t id = (uint32_t)(c - w->clients);
    shmchan_client_options_t opts;
    shmchan_client_options_init(NULL); /* a no-op, as documented */
    shmchan_client_options_init(&opts);
    opts.connect_timeout_ms = w->sc.client_timeout_ms * 4;
    opts.cancel = &t->cancel;
    opts.spin_ns = w->sc.spin ? 3000 : 0;
    shmchan_client_t *cli = NULL;
    /* Clients after the first start when they like (half the time 0.1 ..
     * 12.8 ms of virtual time later): a claim that comes while the server
     * serves another client, not only all at once at the start, is what
     * a wake that merges two causes needs (model mutant g). */
    const uint8_t start = sim_byte(s);
    if (id > 0 && (start & 1)) {
        sim_sleep((int64_t)(1 + (start >> 1) % 128u) * 100000);
    }
    await_server(w);
    client_misuse_connect(w, t, &opts);
    sim_call_begin("shmchan_client_connect", opts.connect_timeout_ms);
    shmchan_err_t err = shmchan_client_connect(SIM_KEY, &opts, &cli, NULL);
    sim_call_end();
    sim_trace(s, "shmchan_client_connect = %s", shmchan_errname(err));
    if (err != SHMCHAN_OK) {
        c->cancelled = err == SHMCHAN_E_INTERRUPTED;
        if (err != SHMCHAN_E_NOT_FOUND && err != SHMCHAN_E_NO_SLOT &&
            err != SHMCHAN_E_INTERRUPTED && err != SHMCHAN_E_CLOSED && err != SHMCHAN_E_TIMEOUT &&
            err != SHMCHAN_E_FOREIGN && err != SHMCHAN_E_PERMISSION) {
            sim_trace(s, "connect failed unusually: %s", shmchan_errname(err));
        }
        return;
    }
    c->connected = 1;
    c->slot = shmchan_client_slot(cli);
    client_misuse_handle(w, t, cli);
    /* The limit the client enforces is the server's, from the header it
     * validated (a peer that rewrites the header later changes nothing).
     * A peer of our uid that rewrote max_payload *before* this client read
     * the header is believed: nothing ties that field to the kernel's
     * size, and the threat model gives our own uid the header (seed
     * 133438 found this oracle wrong there). */
    if (!w->header_attacked && shmchan_client_max_payload(cli) != SIM_MAX_PAYLOAD) {
        sim_fail(s, "client %u: max_payload %u, the server's is %u", id,
                 shmchan_client_max_payload(cli), SIM_MAX_PAYLOAD);
    }
    int stop = 0;
    for (uint32_t seq = 0; seq < w->sc.msgs && !stop; seq++) {
        /* Now and then, in an honest run, it thinks before its next
         * message (6 .. 21 ms): an idle but connected client, during which
         * nothing else wakes the server, is what makes a claim it did not
         * notice show as a late echo (model mutant g), and only an honest
         * run can tell a late echo from a lost wakeup. Not in the others:
         * there it made runs five times longer for nothing an oracle
         * could see. */
        const uint8_t think = sim_byte(s);
        if (seq > 0 && (think & 3) == 0 && sim_fully_honest(w)) {
            sim_sleep((int64_t)(6 + (think >> 2) % 16u) * 1000000);
        }
        uint8_t msg[SIM_MAX_PAYLOAD];
        const uint32_t len = sim_message(id, seq, msg);
        err = SHMCHAN_E_TIMEOUT;
        for (int tries = 0; tries < SEND_TRIES && err == SHMCHAN_E_TIMEOUT; tries++) {
            sim_call_begin("shmchan_client_send", w->sc.client_timeout_ms);
            err = shmchan_client_send(cli, msg, len, w->sc.client_timeout_ms);
            sim_call_end();
        }
        sim_trace(s, "send seq %u = %s", seq, shmchan_errname(err));
        if (err != SHMCHAN_OK) {
            c->cancelled |= err == SHMCHAN_E_INTERRUPTED;
            break;
        }
        c->sent_ok++;
        const int64_t sent_at = s->now;
        /* Its echo, and any still owed from a receive that timed out. */
        while (c->echoes <= seq && !stop) {
            uint8_t got[SIM_MAX_PAYLOAD];
            uint32_t got_len = 0;
            sim_call_begin("shmchan_client_recv", w->sc.client_timeout_ms);
            err = shmchan_client_recv(cli, got, sizeof got, &got_len, w->sc.client_timeout_ms);
            sim_call_end();
            if (err == SHMCHAN_E_TIMEOUT) {
                sim_trace(s, "recv echo %u: TIMEOUT", c->echoes);
                break;
            }
            if (err != SHMCHAN_OK) {
                sim_trace(s, "recv echo %u: %s", c->echoes, shmchan_errname(err));
                c->cancelled |= err == SHMCHAN_E_INTERRUPTED;
                stop = 1;
                break;
            }
            uint8_t want[SIM_MAX_PAYLOAD];
            const uint32_t want_len = sim_message(id, c->echoes, want);
            if (!w->slot_attacked[c->slot] && !w->header_attacked &&
                (got_len != want_len || memcmp(got, want, want_len) != 0)) {
                sim_fail(s, "client %u: echo %u is not the message sent (len %u, want %u)", id,
                         c->echoes, got_len, want_len);
            }
            c->echoes++;
            /* In an honest run nothing sleeps while work waits: an echo
             * that took milliseconds was a wakeup lost (a sleeper woke at
             * its timeout), if the timeouts are long enough to show it. */
            if (sim_fully_honest(w) && w->sc.server_timeout_ms >= 20 &&
                s->now - sent_at > SIM_LATENCY_NS) {
                sim_fail(s, "client %u: echo %u took %.3f ms in an honest run: a lost wakeup", id,
                         c->echoes - 1, (double)(s->now - sent_at) / 1e6);
            }
        }
    }
    sim_call_begin("shmchan_client_disconnect", 0);
    shmchan_client_disconnect(cli);
    shmchan_client_disconnect(NULL); /* a no-op, as documented */
    sim_call_end();
}

/* ------------------------------------------------------------ hostile */

/* A peer of the same user: it may do anything the kernel lets it do to
 * the channel's objects (docs/threat-model.md). It connects like a client
 * (so it owns a slot), then makes moves the input chooses. */
typedef struct hostile {
    uint8_t *base;
    shmchan_layout_t layout;
    int semid;
    uint32_t slot;
    int has_lane;
    shmchan_lane_t lane; /* its own c2s lane, driven raw */
} hostile_t;

static void mark_offset(sim_world_t *w, const shmchan_layout_t *l, uint64_t off)
{
    if (off < SHMCHAN_LAYOUT_HEADER_SIZE) {
        w->header_attacked = 1;
        return;
    }
    for (uint32_t s = 0; s < l->params.max_clients && s < SIM_SLOTS; s++) {
        const uint64_t start = shmchan_layout_slot_offset(l, s);
        if (off >= start && off < start + l->slot_stride) {
            w->slot_attacked[s] = 1;
        }
    }
}

static void mark_sem(sim_world_t *w, uint32_t sem)
{
    if (sem < SHMCHAN_SEM_FIXED) {
        w->header_attacked = 1;
    } else if ((sem - SHMCHAN_SEM_FIXED) / SHMCHAN_SEM_PER_SLOT < SIM_SLOTS) {
        w->slot_attacked[(sem - SHMCHAN_SEM_FIXED) / SHMCHAN_SEM_PER_SLOT] = 1;
    }
}

static int hostile_map(hostile_t *h, uint32_t slot)
{
    const int shmid = shmget(SIM_KEY, 0, 0);
    if (shmid < 0) {
        return -1;
    }
    struct shmid_ds ds;
    void *p = shmat(shmid, NULL, 0);
    if (p == (void *)-1) {
        return -1;
    }
    h->base = p;
    if (shmctl(shmid, IPC_STAT, &ds) != 0) {
        return -1;
    }
    shmchan_header_info_t hdr;
    if (shmchan_layout_read_header(h->base, ds.shm_segsz, &hdr) != SHMCHAN_OK) {
        return -1;
    }
    h->layout = hdr.layout;
    h->semid = (int)hdr.semid;
    h->slot = slot;
    const uint64_t sb = shmchan_layout_slot_offset(&h->layout, slot);
    if (shmchan_lane_init(&h->lane, h->base + sb + SHMCHAN_SLOT_OFF_C2S_CTL,
                          h->base + shmchan_layout_c2s_ring_offset(&h->layout, slot),
                          h->layout.params.lane_capacity,
                          h->layout.params.max_payload) != SHMCHAN_OK) {
        return -1;
    }
    uint32_t gen;
    memcpy(&gen, h->base + sb + SHMCHAN_SLOT_OFF_GENERATION, sizeof gen);
    shmchan_lane_set_first_seq(&h->lane, shmchan_layout_first_seq(gen));
    h->has_lane = 1;
    return 0;
}

static void post(int semid, uint32_t sem, short op, short flg)
{
    struct sembuf b = {.sem_num = (unsigned short)sem, .sem_op = op, .sem_flg = flg};
    struct timespec zero = {0, 0};
    (void)semtimedop(semid, &b, 1, &zero);
}

static void hostile_move(sim_world_t *w, hostile_t *h, sim_task_t *t)
{
    sim_sched_t *s = &w->sched;
    const uint32_t move = sim_choose(s, 8);
    const uint32_t nsems = h->layout.nsems;
    const unsigned short wake = SHMCHAN_SEM_SERVER_WAKE;
    (void)t;
    switch (move) {
    case 0: { /* any byte of the segment */
        const uint64_t off = ((uint64_t)sim_byte(s) << 8 | sim_byte(s)) % h->layout.total_size;
        const uint8_t v = sim_byte(s);
        sim_trace(s, "writes 0x%02x at segment offset %llu", v, (unsigned long long)off);
        mark_offset(w, &h->layout, off);
        h->base[off] = v;
        break;
    }
    case 1: { /* a semaphore up or down */
        const uint32_t sem = sim_choose(s, nsems);
        const short op = (sim_byte(s) & 1) ? 1 : -1;
        sim_trace(s, "semop sem %u %+d", sem, op);
        mark_sem(w, sem);
        post(h->semid, sem, op, IPC_NOWAIT);
        break;
    }
    case 2: { /* SETVAL */
        static const int vals[4] = {0, 1, 2, 32767};
        const uint32_t sem = sim_choose(s, nsems);
        const int v = vals[sim_byte(s) & 3];
        sim_trace(s, "SETVAL sem %u = %d", sem, v);
        mark_sem(w, sem);
        (void)semctl(h->semid, (int)sem, SETVAL, v);
        break;
    }
    case 3:
    case 4: { /* a flood of frames on its own lane, after GOODBYE too */
        const uint8_t type = (move == 3) ? SHMCHAN_FRAME_GOODBYE : SHMCHAN_FRAME_DATA;
        const uint32_t n = 1u + sim_byte(s) % 8u;
        uint8_t junk[8] = {'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X'};
        uint32_t sent = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (shmchan_lane_try_send(&h->lane, type, junk, type == SHMCHAN_FRAME_DATA ? 8u : 0u) ==
                SHMCHAN_OK) {
                sent++;
            }
        }
        sim_trace(s, "sends %u %s frames on its lane", sent,
                  type == SHMCHAN_FRAME_GOODBYE ? "GOODBYE" : "DATA");
        post(h->semid, wake, 1, IPC_NOWAIT);
        break;
    }
    case 5: /* wake the server for nothing */
        sim_trace(s, "posts the server's wake semaphore");
        post(h->semid, wake, 1, IPC_NOWAIT);
        break;
    case 6: { /* a waiting flag or index word of its own lanes */
        const uint64_t off = shmchan_layout_slot_offset(&h->layout, h->slot) +
                             SHMCHAN_SLOT_OFF_C2S_CTL + (uint64_t)(sim_byte(s) % 4u) * 64u;
        const uint32_t v = (uint32_t)sim_byte(s) * 8u;
        sim_trace(s, "writes %u into its lane's control word at %llu", v, (unsigned long long)off);
        mark_offset(w, &h->layout, off);
        memcpy(h->base + off, &v, sizeof v);
        break;
    }
    default: { /* pause 0..15 ms (on its own TX semaphore) before the next move */
        struct sembuf b = {.sem_num = shmchan_layout_slot_sem(h->slot, SHMCHAN_SEM_SLOT_TX),
                           .sem_op = -1,
                           .sem_flg = 0};
        struct timespec pause = {0, (long)sim_choose(s, 16) * 1000000};
        (void)semtimedop(h->semid, &b, 1, &pause);
        break;
    }
    }
}

void sim_actor_hostile(sim_task_t *t)
{
    sim_world_t *w = sim_world();
    sim_sched_t *s = &w->sched;
    shmchan_client_options_t opts;
    shmchan_client_options_init(&opts);
    opts.connect_timeout_ms = w->sc.client_timeout_ms * 4;
    opts.cancel = &t->cancel;
    shmchan_client_t *cli = NULL;
    await_server(w);
    sim_call_begin("shmchan_client_connect", opts.connect_timeout_ms);
    const shmchan_err_t err = shmchan_client_connect(SIM_KEY, &opts, &cli, NULL);
    sim_call_end();
    sim_trace(s, "connects: %s", shmchan_errname(err));
    if (err != SHMCHAN_OK) {
        return;
    }
    hostile_t h;
    memset(&h, 0, sizeof h);
    if (hostile_map(&h, shmchan_client_slot(cli)) == 0) {
        for (uint32_t i = 0; i < w->sc.hostile_moves && !s->failed; i++) {
            hostile_move(w, &h, t);
        }
    }
    /* Half the time it leaves a FREE token on its own slot behind (a
     * ticket for the next client without an offer, which the server's
     * scan must withdraw), just before it goes. */
    if (h.has_lane && !s->failed && (sim_byte(s) & 1) == 0) {
        const uint32_t sem = shmchan_layout_slot_sem(h.slot, SHMCHAN_SEM_SLOT_FREE);
        sim_trace(s, "posts its own slot's FREE token before leaving");
        mark_sem(w, sem);
        post(h.semid, sem, 1, IPC_NOWAIT);
    }
    if (h.base != NULL) {
        (void)shmdt(h.base);
    }
    /* Leaves without a word half the time: the kernel's undo releases it. */
    if (sim_byte(s) & 1) {
        sim_call_begin("shmchan_client_disconnect", 0);
        shmchan_client_disconnect(cli);
        sim_call_end();
    } else {
        sim_trace(s, "exits without disconnecting");
    }
}

/* After everyone: `clean --stale`, then a new server at the same key must
 * start (unless the key is squatted, or a peer tampered with the fixed
 * semaphores: then refusing is right), and close without a trace. */
void sim_actor_epilogue(sim_task_t *t)
{
    sim_world_t *w = sim_world();
    sim_sched_t *s = &w->sched;
    (void)t;
    shmchan_channel_info_t info;
    sim_call_begin("shmchan_remove_stale", 0);
    shmchan_err_t err = shmchan_remove_stale(SIM_KEY, 0, &info, NULL);
    sim_call_end();
    sim_trace(s, "clean --stale: %s (%s)", shmchan_errname(err), shmchan_status_name(info.status));
    shmchan_server_options_t opts;
    shmchan_server_options_init(&opts);
    opts.max_clients = SIM_SLOTS;
    opts.max_payload = SIM_MAX_PAYLOAD;
    opts.lane_capacity = SIM_LANE_CAPACITY;
    shmchan_server_t *srv = NULL;
    sim_call_begin("shmchan_server_create", 0);
    err = shmchan_server_create(SIM_KEY, &opts, &srv, NULL);
    sim_call_end();
    sim_trace(s, "next server: %s", shmchan_errname(err));
    if (err != SHMCHAN_OK) {
        if (w->nforeign == 0 && !w->header_attacked && !sim_unmarked_set_at_key(w) &&
            !sim_orphaned_build(w)) {
            sim_fail(s, "the next server cannot start: %s", shmchan_errname(err));
        }
        return;
    }
    sim_call_begin("shmchan_server_destroy", 0);
    shmchan_server_destroy(srv);
    sim_call_end();
}

/* A second server started at the same key while the first may live, and
 * `clean --stale` before it: both must refuse a live channel, and may
 * reclaim only what a dead one left. */
void sim_actor_rival(sim_task_t *t)
{
    sim_world_t *w = sim_world();
    sim_sched_t *s = &w->sched;
    (void)t;
    /* It starts after 0..63 switch points of its own, or (half the runs)
     * once the server has entered its n-th system call: reclaim races
     * with a server being built are a few system calls wide. */
    const uint8_t how = sim_byte(s);
    if ((how & 1) || w->sc.race) {
        /* In a reclaim race, one of the server's first four calls (its
         * own probe of the key, before its semget). */
        const uint64_t at = (how >> 1) % (w->sc.race ? 4u : 16u);
        for (int i = 0; i < 100000 && task_alive(w->server) && w->server->steps < at; i++) {
            sim_switch_point();
        }
    } else {
        for (uint32_t i = 0; i < (how >> 1) % 64u; i++) {
            sim_switch_point();
        }
    }
    shmchan_channel_info_t info;
    sim_call_begin("shmchan_remove_stale", 0);
    shmchan_err_t err = shmchan_remove_stale(SIM_KEY, 0, &info, NULL);
    sim_call_end();
    sim_trace(s, "clean --stale: %s (%s)", shmchan_errname(err), shmchan_status_name(info.status));
    shmchan_server_options_t opts;
    shmchan_server_options_init(&opts);
    opts.max_clients = SIM_SLOTS;
    opts.max_payload = SIM_MAX_PAYLOAD;
    opts.lane_capacity = SIM_LANE_CAPACITY;
    shmchan_server_t *srv = NULL;
    sim_call_begin("shmchan_server_create", 0);
    err = shmchan_server_create(SIM_KEY, &opts, &srv, NULL);
    sim_call_end();
    sim_trace(s, "second server: %s", shmchan_errname(err));
    if (err == SHMCHAN_OK) {
        sim_call_begin("shmchan_server_destroy", 0);
        shmchan_server_destroy(srv);
        sim_call_end();
    }
}
