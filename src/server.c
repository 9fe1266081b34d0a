/*
 * server.c - the server side of a channel: create, serve, close.
 *
 * Lifecycle (docs/lifecycle.md):
 *   probe the key -> reclaim if stale -> semget(EXCL) -> first semop sets
 *   the marker and takes the liveness token (SEM_UNDO) atomically ->
 *   shmget(EXCL) -> shmat -> write header, magic last -> offer every slot
 *   (FREE_i = 1) -> READY = 1. Any failure rolls back what was created, in
 *   reverse order, using ids held in this process's memory only.
 *
 * Slot life as the server sees it (private state; the segment's copy is
 * for clients and inspectors only):
 *   OFFERED --FREE_i taken--> ACTIVE --OWNER_i back to 0--> drained, reset,
 *   OFFERED again; ACTIVE --lane corrupt--> KICKED --OWNER_i 0--> reset.
 * OWNER_i is the client's SEM_UNDO token, so "back to 0" is the kernel
 * telling us the client released it or died. The server drains the lane
 * before re-offering the slot: every message whose send returned success
 * is delivered, and a frame the client did not finish was never published.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include "channel_internal.h"
#include "lane.h"
#include "layout.h"
#include "probe.h"
#include "safety.h"
#include "shm_atomic.h"
#include "sysv.h"
#include "wake.h"

enum slot_state { SLOT_OFFERED = 0, SLOT_ACTIVE, SLOT_KICKED };

struct server_slot {
    enum slot_state state;
    shmchan_lane_t rx; /* client -> server */
    shmchan_lane_t tx; /* server -> client */
    uint32_t generation;
    int said_goodbye;
    int kick_unreported; /* kicked by server_send: DISCONNECT still owed */
};

struct shmchan_server {
    key_t key;
    int shmid;
    int semid;
    uint8_t *base;
    shmchan_layout_t layout;
    const volatile sig_atomic_t *cancel;
    uint32_t spin_ns;
    int closed;
    int scan_due;       /* look at the slot semaphores before sleeping */
    int64_t next_scan;  /* monotonic ns of the next periodic look */
    uint32_t next_slot; /* round-robin start, so one busy client cannot starve others */
    uint32_t fast_calls; /* wait calls served without a clock read (see below) */
    uint32_t kicks_unreported;
    /* A SERVER_WAKE token was taken and no slot scan has run since. The
     * token is shared by data, connect and release posts, so it must outlive
     * the call that took it: a call that returns a message it found first
     * would otherwise forget that a claim or release may have merged into
     * the same post, and that event would wait for the periodic scan
     * (found by the model, docs/model.md "Finding"). */
    int wake_unscanned;
    unsigned short *semvals;
    struct server_slot *slots;
};

void shmchan_server_options_init(shmchan_server_options_t *opts)
{
    if (opts == NULL) {
        return;
    }
    memset(opts, 0, sizeof *opts);
    opts->max_clients = SHMCHAN_DEFAULT_MAX_CLIENTS;
    opts->max_payload = SHMCHAN_DEFAULT_MAX_PAYLOAD;
    opts->lane_capacity = SHMCHAN_DEFAULT_LANE_CAPACITY;
    opts->mode = SHMCHAN_DEFAULT_MODE;
}

uint32_t shmchan_server_max_clients(const shmchan_server_t *srv)
{
    return srv->layout.params.max_clients;
}

uint32_t shmchan_server_max_payload(const shmchan_server_t *srv)
{
    return srv->layout.params.max_payload;
}

int shmchan_server_shmid(const shmchan_server_t *srv)
{
    return srv->shmid;
}

int shmchan_server_semid(const shmchan_server_t *srv)
{
    return srv->semid;
}

static void set_slot_word(shmchan_server_t *srv, uint32_t slot, unsigned off, uint32_t value)
{
    uint8_t *p = srv->base + shmchan_layout_slot_offset(&srv->layout, slot) + off;
    shmchan_shm_store_u32_release(p, value);
}

/* Zeroes both lanes of a slot, re-binds the private lane state, bumps the
 * generation and marks it FREE. Called only while no client holds the slot
 * (OWNER_i is 0 and FREE_i is 0), so nobody else writes these words. */
static shmchan_err_t slot_reset(shmchan_server_t *srv, uint32_t s)
{
    struct server_slot *slot = &srv->slots[s];
    uint8_t *sb = srv->base + shmchan_layout_slot_offset(&srv->layout, s);
    shmchan_lane_reset_shared(sb + SHMCHAN_SLOT_OFF_C2S_CTL);
    shmchan_lane_reset_shared(sb + SHMCHAN_SLOT_OFF_S2C_CTL);
    const uint32_t cap = srv->layout.params.lane_capacity;
    const uint32_t maxp = srv->layout.params.max_payload;
    GUARD(shmchan_lane_init(&slot->rx, sb + SHMCHAN_SLOT_OFF_C2S_CTL,
                            srv->base + shmchan_layout_c2s_ring_offset(&srv->layout, s), cap,
                            maxp));
    GUARD(shmchan_lane_init(&slot->tx, sb + SHMCHAN_SLOT_OFF_S2C_CTL,
                            srv->base + shmchan_layout_s2c_ring_offset(&srv->layout, s), cap,
                            maxp));
    slot->generation++;
    slot->said_goodbye = 0;
    set_slot_word(srv, s, SHMCHAN_SLOT_OFF_GENERATION, slot->generation);
    set_slot_word(srv, s, SHMCHAN_SLOT_OFF_STATE, SHMCHAN_SLOT_STATE_FREE);
    return SHMCHAN_OK;
}

/* Offers a reset slot to the next client: FREE_i 0 -> 1. */
static shmchan_err_t slot_offer(shmchan_server_t *srv, uint32_t s, shmchan_diag_t *diag)
{
    struct sembuf op = {
        .sem_num = shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_FREE), .sem_op = 1, .sem_flg = 0};
    GUARD(shmchan_sys_semop(srv->semid, &op, 1, 0, NULL, diag));
    srv->slots[s].state = SLOT_OFFERED;
    return SHMCHAN_OK;
}

/* ------------------------------------------------------------- creation */

static shmchan_err_t check_options(const shmchan_server_options_t *o, shmchan_layout_t *layout,
                                   shmchan_diag_t *diag)
{
    /* Owner read/write is required; group bits are allowed for channels
     * shared within a group; world bits never (docs/threat-model.md). */
    if ((o->mode & ~0660u) != 0 || (o->mode & 0600u) != 0600u) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, 0,
                         "mode %04o: must be 0600, 0620, 0640 or 0660", o->mode);
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    shmchan_params_t p = {o->max_clients, o->max_payload, o->lane_capacity};
    const shmchan_err_t err = shmchan_layout_compute(&p, layout);
    if (err != SHMCHAN_OK) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, 0,
                         "invalid channel options: max_clients=%u (1..%u), max_payload=%u "
                         "(1..%u), lane_capacity=%u (power of two, %u..%u, >= max_payload+%u)",
                         o->max_clients, SHMCHAN_MAX_CLIENTS_LIMIT, o->max_payload,
                         SHMCHAN_PAYLOAD_HARD_MAX, o->lane_capacity, SHMCHAN_LANE_CAPACITY_MIN,
                         SHMCHAN_LANE_CAPACITY_MAX, SHMCHAN_FRAME_HEADER_SIZE);
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    return SHMCHAN_OK;
}

/* Probes the key; reclaims a stale channel; refuses anything else. */
static shmchan_err_t clear_key(key_t key, unsigned mode, shmchan_diag_t *diag)
{
    shmchan_probe_facts_t facts;
    GUARD(shmchan_probe_gather(key, mode, &facts, diag));
    shmchan_judgement_t j;
    shmchan_probe_judge(&facts, &j);
    switch (j.verdict) {
    case SHMCHAN_VERDICT_ABSENT:
        return SHMCHAN_OK;
    case SHMCHAN_VERDICT_STALE:
        return shmchan_probe_reclaim(&facts, &j, diag);
    case SHMCHAN_VERDICT_LIVE:
        shmchan_diag_set(diag, SHMCHAN_E_ALREADY_RUNNING, 0, "already running: %s", j.reason);
        return SHMCHAN_E_ALREADY_RUNNING;
    case SHMCHAN_VERDICT_BUSY:
        shmchan_diag_set(diag, SHMCHAN_E_BUSY, 0, "key in use: %s", j.reason);
        return SHMCHAN_E_BUSY;
    case SHMCHAN_VERDICT_FOREIGN:
        shmchan_diag_set(diag, SHMCHAN_E_FOREIGN, 0, "refusing to touch foreign object: %s",
                         j.reason);
        return SHMCHAN_E_FOREIGN;
    }
    return SHMCHAN_E_SYSTEM;
}

/* Someone created an object at the key between our probe and our create. */
static shmchan_err_t lost_race(shmchan_err_t err, key_t key, shmchan_diag_t *diag)
{
    if (err == SHMCHAN_E_ALREADY_RUNNING) { /* EEXIST */
        shmchan_diag_set(diag, SHMCHAN_E_BUSY, EEXIST,
                         "key 0x%08x: another server created it at the same moment",
                         (unsigned)key);
        return SHMCHAN_E_BUSY;
    }
    return err;
}

static shmchan_err_t server_build(shmchan_server_t *srv, unsigned mode, shmchan_diag_t *diag)
{
    const shmchan_layout_t *l = &srv->layout;
    GUARD(lost_race(shmchan_sys_sem_create(srv->key, l->nsems, mode, &srv->semid, diag), srv->key,
                    diag));
    /* First semop on the new set: marker and liveness token in one atomic
     * step, so "sem_otime != 0" implies "marked" (judge.c relies on it).
     * SEM_UNDO on the token only: the kernel gives it back when we die. */
    struct sembuf first[2] = {
        {.sem_num = SHMCHAN_SEM_MARKER, .sem_op = SHMCHAN_SEM_MARKER_VALUE, .sem_flg = IPC_NOWAIT},
        {.sem_num = SHMCHAN_SEM_SERVER_ALIVE, .sem_op = 1, .sem_flg = SEM_UNDO | IPC_NOWAIT},
    };
    GUARD(shmchan_sys_semop(srv->semid, first, 2, 0, NULL, diag));

    GUARD(lost_race(shmchan_sys_shm_create(srv->key, l->total_size, mode, &srv->shmid, diag),
                    srv->key, diag));
    GUARD(shmchan_sys_shm_attach(srv->shmid, 0, &srv->base, diag));
    shmchan_sys_shm_info_t info;
    GUARD(shmchan_sys_shm_stat(srv->shmid, &info, diag));
    if (info.segsz != l->total_size) {
        shmchan_diag_set(diag, SHMCHAN_E_LAYOUT_SIZE, 0,
                         "segment %d at key 0x%08x: kernel size %llu, expected %llu", srv->shmid,
                         (unsigned)srv->key, (unsigned long long)info.segsz,
                         (unsigned long long)l->total_size);
        return SHMCHAN_E_LAYOUT_SIZE;
    }
    /* Touch every page now, so memory shortage shows here and not as a
     * fault in the middle of a message. New segments are zero already. */
    memset(srv->base, 0, (size_t)l->total_size);
    shmchan_layout_write_header(srv->base, l, (uint32_t)srv->semid, shmchan_sys_random_u64());
    for (uint32_t s = 0; s < l->params.max_clients; s++) {
        GUARD(slot_reset(srv, s));
    }
    /* Magic last: a joiner that sees it sees a complete header. */
    shmchan_layout_publish_magic(srv->base);
    shmchan_shm_store_u32_release(srv->base + SHMCHAN_HDR_OFF_SERVER_STATE,
                                  SHMCHAN_SERVER_STATE_READY);
    for (uint32_t s = 0; s < l->params.max_clients; s++) {
        GUARD(slot_offer(srv, s, diag));
    }
    /* READY last: clients wait for it before reading the header. */
    struct sembuf ready = {.sem_num = SHMCHAN_SEM_READY, .sem_op = 1, .sem_flg = 0};
    GUARD(shmchan_sys_semop(srv->semid, &ready, 1, 0, NULL, diag));
    return SHMCHAN_OK;
}

/* Keeps the first failure; an object already gone (EIDRM/EINVAL, mapped
 * to CLOSED) is what removal wanted anyway. */
static void keep_first(shmchan_err_t *first, shmchan_err_t err)
{
    if (*first == SHMCHAN_OK && err != SHMCHAN_OK && err != SHMCHAN_E_CLOSED) {
        *first = err;
    }
}

/* Undoes whatever server_build got done, newest first. Carries on past a
 * failure so that one stuck object does not keep the others alive. */
static shmchan_err_t server_teardown(shmchan_server_t *srv)
{
    shmchan_err_t first = SHMCHAN_OK;
    if (srv->semid >= 0) {
        keep_first(&first, shmchan_sys_sem_remove(srv->semid, NULL));
        srv->semid = -1;
    }
    if (srv->shmid >= 0) {
        keep_first(&first, shmchan_sys_shm_remove(srv->shmid, NULL));
        srv->shmid = -1;
    }
    if (srv->base != NULL) {
        keep_first(&first, shmchan_sys_shm_detach(srv->base, NULL));
        srv->base = NULL;
    }
    return first;
}

shmchan_err_t shmchan_server_create(key_t key, const shmchan_server_options_t *opts,
                                    shmchan_server_t **out, shmchan_diag_t *diag)
{
    ENSURE_REF(out);
    *out = NULL;
    shmchan_server_options_t defaults;
    if (opts == NULL) {
        shmchan_server_options_init(&defaults);
        opts = &defaults;
    }
    if (key == IPC_PRIVATE) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, 0,
                         "key 0 is IPC_PRIVATE: clients could never find the channel");
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    shmchan_layout_t layout;
    GUARD(check_options(opts, &layout, diag));
    GUARD(clear_key(key, opts->mode, diag));

    shmchan_server_t *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        shmchan_diag_set(diag, SHMCHAN_E_NO_MEMORY, ENOMEM, "allocating the server handle");
        return SHMCHAN_E_NO_MEMORY;
    }
    srv->key = key;
    srv->shmid = -1;
    srv->semid = -1;
    srv->layout = layout;
    srv->cancel = opts->cancel;
    srv->spin_ns = opts->spin_ns;
    srv->semvals = calloc(layout.nsems, sizeof *srv->semvals);
    srv->slots = calloc(layout.params.max_clients, sizeof *srv->slots);
    shmchan_err_t err = SHMCHAN_E_NO_MEMORY;
    if (srv->semvals != NULL && srv->slots != NULL) {
        err = server_build(srv, opts->mode, diag);
    } else {
        shmchan_diag_set(diag, SHMCHAN_E_NO_MEMORY, ENOMEM, "allocating the server handle");
    }
    if (err != SHMCHAN_OK) {
        (void)server_teardown(srv);
        free(srv->semvals);
        free(srv->slots);
        free(srv);
        return err;
    }
    srv->scan_due = 1;
    *out = srv;
    return SHMCHAN_OK;
}

/* -------------------------------------------------------------- serving */

enum server_lost { SERVER_LOST_SET, SERVER_LOST_SEGMENT };

/* One of the pair was removed from under us (IPC_RMID by ipcrm, by
 * systemd-logind's RemoveIPC=yes, by a careless script): the channel is
 * dead, so close now rather than when the application gets round to it.
 * The state word tells clients that poll; removing the set, if it is the
 * one still there, fails every client blocked in semop with EIDRM; and
 * nothing leaks even if the application never calls close. A removed
 * set's id is forgotten, not removed again: ids are recycled, and the
 * number could already name somebody else's new set. The segment's id
 * stays ours while we are attached, whatever its key now says. */
static void server_mark_closed(shmchan_server_t *srv, enum server_lost lost)
{
    if (srv->closed) {
        return;
    }
    srv->closed = 1;
    if (lost == SERVER_LOST_SET) {
        srv->semid = -1;
    }
    if (srv->base != NULL) {
        shmchan_shm_store_u32_release(srv->base + SHMCHAN_HDR_OFF_SERVER_STATE,
                                      SHMCHAN_SERVER_STATE_CLOSING);
    }
    (void)server_teardown(srv);
}

/* Passes a semaphore call's result through; CLOSED from an operation on
 * our own set can only mean the set was removed (EIDRM/EINVAL). */
static shmchan_err_t server_set_result(shmchan_server_t *srv, shmchan_err_t e)
{
    if (e == SHMCHAN_E_CLOSED) {
        server_mark_closed(srv, SERVER_LOST_SET);
    }
    return e;
}

/* IPC_RMID on the segment alone leaves the set, and the kernel does not
 * destroy an attached segment: it renames it to IPC_PRIVATE (shmctl(2),
 * SHM_DEST) and our mapping keeps working. Nothing else would tell us that
 * no new client can ever find the channel. */
static shmchan_err_t server_segment_still_named(const shmchan_server_t *srv)
{
    shmchan_sys_shm_info_t info;
    GUARD(shmchan_sys_shm_stat(srv->shmid, &info, NULL));
    return info.key == srv->key ? SHMCHAN_OK : SHMCHAN_E_CLOSED;
}

/* Drops a client that broke its lane: tell it (slot state), wake it, and
 * keep the slot out of service until its token goes back to 0. */
static void slot_kick(shmchan_server_t *srv, uint32_t s, shmchan_event_t *ev)
{
    struct server_slot *slot = &srv->slots[s];
    ev->kind = SHMCHAN_EVENT_DISCONNECT;
    ev->client = s;
    ev->reason = SHMCHAN_E_PROTOCOL;
    ev->detail = shmchan_lane_fault(&slot->rx) != SHMCHAN_OK ? shmchan_lane_fault(&slot->rx)
                                                             : shmchan_lane_fault(&slot->tx);
    slot->state = SLOT_KICKED;
    set_slot_word(srv, s, SHMCHAN_SLOT_OFF_STATE, SHMCHAN_SLOT_STATE_KICKED);
    (void)shmchan_wake_post(srv->semid, shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_RX), NULL);
    (void)shmchan_wake_post(srv->semid, shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_TX), NULL);
}

/* Takes one message from slot s if there is one. Returns 1 with *ev filled
 * (a MESSAGE, or a DISCONNECT for a kick), 0 if nothing, or -1 with *err
 * set (OUTPUT_TOO_SMALL: message kept). */
static int slot_poll(shmchan_server_t *srv, uint32_t s, shmchan_event_t *ev, void *buf,
                     size_t cap, shmchan_err_t *err)
{
    struct server_slot *slot = &srv->slots[s];
    for (;;) {
        uint8_t type = 0;
        uint32_t len = 0;
        const shmchan_err_t r = shmchan_lane_try_recv(&slot->rx, &type, buf, cap, &len);
        if (r == SHMCHAN_E_WOULD_BLOCK) {
            return 0;
        }
        if (r == SHMCHAN_E_OUTPUT_TOO_SMALL) {
            ev->kind = SHMCHAN_EVENT_MESSAGE;
            ev->client = s;
            ev->len = len;
            *err = r;
            return -1;
        }
        if (r != SHMCHAN_OK) {
            slot_kick(srv, s, ev);
            return 1;
        }
        if (shmchan_lane_producer_needs_wake(&slot->rx)) {
            (void)shmchan_wake_post(srv->semid, shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_TX), NULL);
        }
        if (type == SHMCHAN_FRAME_GOODBYE) {
            slot->said_goodbye = 1;
            continue; /* nothing follows a goodbye; look for the release */
        }
        ev->kind = SHMCHAN_EVENT_MESSAGE;
        ev->client = s;
        ev->len = len;
        return 1;
    }
}

/* Looks at every slot's semaphores (one GETALL) and reports the first slot
 * whose ownership changed: a claim (CONNECT) or a release after the lane is
 * drained (DISCONNECT). Returns 1 with *ev, 0 if nothing changed, or -1
 * with *err. */
static int scan_slots(shmchan_server_t *srv, shmchan_event_t *ev, void *buf, size_t cap,
                      shmchan_err_t *err)
{
    shmchan_err_t r = shmchan_sys_sem_getall(srv->semid, srv->semvals, NULL);
    if (r != SHMCHAN_OK) {
        *err = r;
        return -1;
    }
    /* Only a definite "gone" closes. Another failure (EACCES after an
     * IPC_SET by the owner) says nothing about the channel, which our
     * mapping still serves: carry on rather than stop reporting slots. */
    if (server_segment_still_named(srv) == SHMCHAN_E_CLOSED) {
        server_mark_closed(srv, SERVER_LOST_SEGMENT);
        *err = SHMCHAN_E_CLOSED;
        return -1;
    }
    const uint32_t n = srv->layout.params.max_clients;
    for (uint32_t s = 0; s < n; s++) {
        struct server_slot *slot = &srv->slots[s];
        const unsigned owner = srv->semvals[shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_OWNER)];
        const unsigned free_tok = srv->semvals[shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_FREE)];
        if (slot->state == SLOT_OFFERED && free_tok == 0) {
            /* Taken; even if its owner is already gone again, report the
             * connect: its messages are delivered before the disconnect. */
            slot->state = SLOT_ACTIVE;
            set_slot_word(srv, s, SHMCHAN_SLOT_OFF_STATE, SHMCHAN_SLOT_STATE_ACTIVE);
            pid_t pid = 0;
            (void)shmchan_sys_sem_getpid(srv->semid,
                                         shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_OWNER), &pid,
                                         NULL);
            ev->kind = SHMCHAN_EVENT_CONNECT;
            ev->client = s;
            ev->pid = pid;
            srv->scan_due = 1; /* look again: more may have changed */
            return 1;
        }
        if (slot->state == SLOT_ACTIVE && owner == 0) {
            /* Released or died. Deliver what it published first. */
            const int got = slot_poll(srv, s, ev, buf, cap, err);
            if (got != 0) {
                srv->scan_due = 1;
                return got;
            }
            const int clean = slot->said_goodbye;
            GUARD_INT(slot_reset(srv, s), err);
            GUARD_INT(slot_offer(srv, s, NULL), err);
            ev->kind = SHMCHAN_EVENT_DISCONNECT;
            ev->client = s;
            ev->reason = clean ? SHMCHAN_OK : SHMCHAN_E_CLOSED;
            srv->scan_due = 1;
            return 1;
        }
        if (slot->state == SLOT_KICKED && owner == 0) {
            GUARD_INT(slot_reset(srv, s), err);
            GUARD_INT(slot_offer(srv, s, NULL), err);
        }
    }
    return 0;
}

static int poll_all(shmchan_server_t *srv, shmchan_event_t *ev, void *buf, size_t cap,
                    shmchan_err_t *err)
{
    const uint32_t n = srv->layout.params.max_clients;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t s = (srv->next_slot + i) % n;
        if (srv->slots[s].state != SLOT_ACTIVE) {
            continue;
        }
        const int got = slot_poll(srv, s, ev, buf, cap, err);
        if (got != 0) {
            srv->next_slot = (s + 1) % n;
            return got;
        }
    }
    return 0;
}

/* Before sleeping: raise our waiting flag on every active lane, then look
 * once more (Dekker: flag store, full fence, index load; the producer does
 * index store, full fence, flag load, so one of us sees the other). */
static int arm_and_recheck(shmchan_server_t *srv, int waiting)
{
    const uint32_t n = srv->layout.params.max_clients;
    int readable = 0;
    for (uint32_t s = 0; s < n; s++) {
        if (srv->slots[s].state == SLOT_ACTIVE) {
            shmchan_lane_set_consumer_waiting(&srv->slots[s].rx, waiting);
        }
    }
    if (!waiting) {
        return 0;
    }
    shmchan_shm_fence_seq_cst();
    for (uint32_t s = 0; s < n; s++) {
        if (srv->slots[s].state == SLOT_ACTIVE && shmchan_lane_readable(&srv->slots[s].rx)) {
            readable = 1;
        }
    }
    return readable;
}

static int any_readable_cb(void *p)
{
    const shmchan_server_t *srv = p;
    for (uint32_t s = 0; s < srv->layout.params.max_clients; s++) {
        if (srv->slots[s].state == SLOT_ACTIVE && shmchan_lane_readable(&srv->slots[s].rx)) {
            return 1;
        }
    }
    return 0;
}

/* A DISCONNECT owed for a client that server_send dropped. */
static int report_owed_kick(shmchan_server_t *srv, shmchan_event_t *ev)
{
    for (uint32_t s = 0; s < srv->layout.params.max_clients; s++) {
        struct server_slot *slot = &srv->slots[s];
        if (slot->kick_unreported) {
            slot->kick_unreported = 0;
            srv->kicks_unreported--;
            ev->kind = SHMCHAN_EVENT_DISCONNECT;
            ev->client = s;
            ev->reason = SHMCHAN_E_PROTOCOL;
            ev->detail = shmchan_lane_fault(&slot->tx);
            return 1;
        }
    }
    return 0;
}

/* Slot scan with the bookkeeping of when the next one is due. */
static int scan_now(shmchan_server_t *srv, shmchan_event_t *ev, void *buf, size_t cap,
                    shmchan_err_t *err)
{
    srv->scan_due = 0;
    srv->wake_unscanned = 0;
    srv->next_scan = shmchan_sys_now_ns() + (int64_t)SHMCHAN_LIVENESS_PERIOD_MS * 1000000;
    const int got = scan_slots(srv, ev, buf, cap, err);
    if (got < 0) {
        /* GETALL or an offer may have found the set gone (a no-op if the
         * scan already closed us for the segment). */
        (void)server_set_result(srv, *err);
    }
    return got;
}

shmchan_err_t shmchan_server_wait(shmchan_server_t *srv, int timeout_ms, shmchan_event_t *ev,
                                  void *buf, size_t cap)
{
    ENSURE_REF(srv);
    ENSURE_REF(ev);
    ENSURE(buf != NULL || cap == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(timeout_ms >= 0, SHMCHAN_E_INVALID_ARGUMENT);
    memset(ev, 0, sizeof *ev);
    ENSURE(!srv->closed, SHMCHAN_E_CLOSED);
    if (srv->kicks_unreported > 0 && report_owed_kick(srv, ev)) {
        return SHMCHAN_OK;
    }

    shmchan_err_t err = SHMCHAN_OK;
    /* Fast path for a busy server: a message is waiting, take it without
     * reading the clock. Every 64th call goes the slow way, so a server
     * that never runs dry still looks at its slots (connects, releases,
     * deaths) at least that often. */
    if (!srv->scan_due && (++srv->fast_calls & 63u) != 0) {
        const int got = poll_all(srv, ev, buf, cap, &err);
        if (got != 0) {
            return got > 0 ? SHMCHAN_OK : err;
        }
    }

    const int64_t deadline = shmchan_deadline_after_ms(timeout_ms);
    for (;;) {
        if (srv->scan_due || shmchan_sys_now_ns() >= srv->next_scan) {
            const int got = scan_now(srv, ev, buf, cap, &err);
            if (got != 0) {
                return got > 0 ? SHMCHAN_OK : err;
            }
        }
        int got = poll_all(srv, ev, buf, cap, &err);
        if (got != 0) {
            return got > 0 ? SHMCHAN_OK : err;
        }
        if (srv->wake_unscanned) {
            /* Woken, yet no lane has data: a connect or a release. */
            got = scan_now(srv, ev, buf, cap, &err);
            if (got != 0) {
                return got > 0 ? SHMCHAN_OK : err;
            }
        }
        if (shmchan_spin_until(any_readable_cb, srv, srv->spin_ns)) {
            continue;
        }
        if (arm_and_recheck(srv, 1)) {
            (void)arm_and_recheck(srv, 0);
            continue;
        }
        const int64_t sleep_ns = shmchan_next_sleep_ns(deadline);
        if (sleep_ns <= 0) {
            (void)arm_and_recheck(srv, 0);
            return SHMCHAN_E_TIMEOUT;
        }
        err = shmchan_wake_wait(srv->semid, SHMCHAN_SEM_SERVER_WAKE, sleep_ns, srv->cancel);
        /* Lower the flags before a removed set closes us: closing detaches
         * the segment they live in. */
        (void)arm_and_recheck(srv, 0);
        err = server_set_result(srv, err);
        if (err == SHMCHAN_OK) {
            srv->wake_unscanned = 1;
        } else if (err != SHMCHAN_E_TIMEOUT) {
            return err;
        }
    }
}

shmchan_err_t shmchan_server_send(shmchan_server_t *srv, uint32_t client, const void *data,
                                  uint32_t len, int timeout_ms)
{
    ENSURE_REF(srv);
    ENSURE(data != NULL || len == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(timeout_ms >= 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(!srv->closed, SHMCHAN_E_CLOSED);
    ENSURE(client < srv->layout.params.max_clients, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(len <= srv->layout.params.max_payload, SHMCHAN_E_FRAME_TOO_LONG);
    struct server_slot *slot = &srv->slots[client];
    ENSURE(slot->state == SLOT_ACTIVE, SHMCHAN_E_CLOSED);

    const unsigned short owner_sem = shmchan_layout_slot_sem(client, SHMCHAN_SEM_SLOT_OWNER);
    int64_t deadline = 0; /* read the clock only once we have to wait */
    for (;;) {
        const shmchan_err_t r =
            shmchan_lane_try_send(&slot->tx, SHMCHAN_FRAME_DATA, (const uint8_t *)data, len);
        if (r == SHMCHAN_OK) {
            if (shmchan_lane_consumer_needs_wake(&slot->tx)) {
                (void)shmchan_wake_post(srv->semid,
                                        shmchan_layout_slot_sem(client, SHMCHAN_SEM_SLOT_RX), NULL);
            }
            return SHMCHAN_OK;
        }
        if (r == SHMCHAN_E_PROTOCOL) {
            shmchan_event_t ignored;
            slot_kick(srv, client, &ignored);
            /* The caller of send learns it here; the event loop still owes
             * the DISCONNECT, so that every CONNECT has one. */
            slot->kick_unreported = 1;
            srv->kicks_unreported++;
            return r;
        }
        if (r != SHMCHAN_E_WOULD_BLOCK) {
            return r;
        }
        if (deadline == 0) {
            deadline = shmchan_deadline_after_ms(timeout_ms);
        }
        /* Full. Is the client still there to make room? */
        int owner = 0;
        shmchan_err_t e =
            server_set_result(srv, shmchan_sys_sem_getval(srv->semid, owner_sem, &owner, NULL));
        if (e != SHMCHAN_OK) {
            return e;
        }
        if (owner == 0) {
            srv->scan_due = 1;
            return SHMCHAN_E_CLOSED;
        }
        if (spin_until_writable(&slot->tx, len, srv->spin_ns)) {
            continue;
        }
        shmchan_lane_set_producer_waiting(&slot->tx, 1);
        shmchan_shm_fence_seq_cst();
        if (shmchan_lane_writable(&slot->tx, len)) {
            shmchan_lane_set_producer_waiting(&slot->tx, 0);
            continue;
        }
        const int64_t sleep_ns = shmchan_next_sleep_ns(deadline);
        if (sleep_ns <= 0) {
            shmchan_lane_set_producer_waiting(&slot->tx, 0);
            return SHMCHAN_E_TIMEOUT;
        }
        e = shmchan_wake_wait(srv->semid, SHMCHAN_SEM_SERVER_WAKE, sleep_ns, srv->cancel);
        shmchan_lane_set_producer_waiting(&slot->tx, 0);
        /* The wake may have been meant for shmchan_server_wait (a connect,
         * a release): make sure it looks. */
        srv->scan_due = 1;
        e = server_set_result(srv, e); /* after the flag: closing detaches the segment */
        if (e != SHMCHAN_OK && e != SHMCHAN_E_TIMEOUT) {
            return e;
        }
    }
}

shmchan_err_t shmchan_server_close(shmchan_server_t *srv)
{
    ENSURE_REF(srv);
    if (srv->base != NULL && !srv->closed) {
        /* Tell clients first: the state word for those polling, a goodbye
         * frame and a wake for those blocked in recv. Removing the set next
         * fails every blocked semop with EIDRM anyway; this only makes the
         * ending orderly. */
        shmchan_shm_store_u32_release(srv->base + SHMCHAN_HDR_OFF_SERVER_STATE,
                                      SHMCHAN_SERVER_STATE_CLOSING);
        for (uint32_t s = 0; s < srv->layout.params.max_clients; s++) {
            if (srv->slots[s].state == SLOT_ACTIVE) {
                (void)shmchan_lane_try_send(&srv->slots[s].tx, SHMCHAN_FRAME_GOODBYE, NULL, 0);
                (void)shmchan_wake_post(srv->semid,
                                        shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_RX), NULL);
            }
        }
    }
    srv->closed = 1;
    return server_teardown(srv);
}

void shmchan_server_destroy(shmchan_server_t *srv)
{
    if (srv == NULL) {
        return;
    }
    (void)shmchan_server_close(srv);
    free(srv->semvals);
    free(srv->slots);
    free(srv);
}
