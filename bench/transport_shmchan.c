/*
 * transport_shmchan.c - the library under test, used as an application
 * would: side B is the server (max_clients 1), side A the one client.
 * A -> B is the client's lane to the server, B -> A the server's reply lane.
 *
 * Four variants: `shmchan` keeps the library defaults (spin_ns
 * SHMCHAN_SPIN_ADAPTIVE), `shmchan_spin` sets a fixed spin_ns on both ends
 * (the --spin-ns option), `shmchan_sleep` sets 0 (sleep on the semaphore at
 * once: the default until round 2 of the performance work),
 * `shmchan_multiuser` the defaults on a multi-user channel (the client's
 * own objects, the doorbell: docs/multiuser.md). max_payload is the message size; lane_capacity is
 * --lane-bytes if given (messages longer than half a lane then travel in
 * fragments), else bench_lane_bytes(size): at least four frames, at least
 * 64 KiB, the same byte budget as spin_ring's ring.
 *
 * The key is chosen per cell and checked to be free; destroy makes sure the
 * server removed both kernel objects (shmchan_inspect and /proc/sysvipc)
 * and, if a side died, removes the stale channel itself and says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/util.h"
#include "src/shmchan.h"

/* At most this many non-message events (the CONNECT) before a message. */
#define MAX_EVENTS_BEFORE_MESSAGE 8

struct shmchan_link {
    key_t key;
    uint32_t size;
    uint32_t spin_ns;
    uint32_t lane_bytes;   /* lane_capacity */
    shmchan_server_t *srv; /* side B */
    shmchan_client_t *cli; /* side A */
    uint32_t client;       /* side B: A's slot, from the CONNECT event */
    int multiuser;         /* shmchan_multiuser: the server also allows uid 65534 */
};

static int report(bench_err_t *err, const char *call, shmchan_err_t code,
                  const shmchan_diag_t *diag)
{
    bench_err_set(err, "%s: %s (%s)%s%s", call, shmchan_errname(code), shmchan_strerror(code),
                  (diag != NULL && diag->text[0] != '\0') ? ": " : "",
                  diag != NULL ? diag->text : "");
    return -1;
}

/* A key derived from our pid and the cell, moved on until nothing is there. */
static int pick_key(uint32_t serial, key_t *out, bench_err_t *err)
{
    uint32_t k = 0x49500000u ^ ((uint32_t)getpid() << 12) ^ (serial << 4);
    for (int attempt = 0; attempt < 64; attempt++, k += 0x10001u) {
        if (k == 0u || k == (uint32_t)-1) {
            continue;
        }
        shmchan_channel_info_t info;
        if (shmchan_inspect((key_t)k, &info, NULL) == SHMCHAN_OK &&
            info.status == SHMCHAN_STATUS_ABSENT) {
            *out = (key_t)k;
            return 0;
        }
    }
    bench_err_set(err, "shmchan: no free key found");
    return -1;
}

static int link_create(const bench_cell_t *cell, uint32_t spin_ns, void **state,
                       bench_err_t *err)
{
    struct shmchan_link *l = calloc(1, sizeof *l);
    if (l == NULL) {
        bench_err_set(err, "shmchan: out of memory");
        return -1;
    }
    l->size = cell->size;
    l->spin_ns = spin_ns;
    l->lane_bytes = cell->lane_bytes != 0 ? cell->lane_bytes : bench_lane_bytes(cell->size);
    if (pick_key(cell->serial, &l->key, err) != 0) {
        free(l);
        return -1;
    }
    *state = l;
    return 0;
}

static int shmchan_create(const bench_cell_t *cell, void **state, bench_err_t *err)
{
    return link_create(cell, SHMCHAN_DEFAULT_SPIN_NS, state, err);
}

static int shmchan_sleep_create(const bench_cell_t *cell, void **state, bench_err_t *err)
{
    return link_create(cell, 0, state, err);
}

static int shmchan_spin_create(const bench_cell_t *cell, void **state, bench_err_t *err)
{
    return link_create(cell, cell->spin_ns, state, err);
}

/* The library defaults on a multi-user channel (docs/multiuser.md): the
 * client, of our own uid, brings its own set and segment, and wakes the
 * server through the doorbell. Allowing a uid nobody runs as is what makes
 * the channel multi-user; the client is ours, so no second uid is needed. */
static int shmchan_multiuser_create(const bench_cell_t *cell, void **state, bench_err_t *err)
{
    if (link_create(cell, SHMCHAN_DEFAULT_SPIN_NS, state, err) != 0) {
        return -1;
    }
    ((struct shmchan_link *)*state)->multiuser = 1;
    return 0;
}

static void shmchan_parent_detach(void *state)
{
    (void)state; /* the parent never touches the channel */
}

static int open_server(struct shmchan_link *l, bench_err_t *err)
{
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = 1;
    o.max_payload = l->size;
    o.lane_capacity = l->lane_bytes;
    o.spin_ns = l->spin_ns;
    const uid_t nobody = 65534;
    if (l->multiuser) {
        o.allow_uids = &nobody;
        o.allow_uids_count = 1;
    }
    shmchan_diag_t diag = {0};
    const shmchan_err_t e = shmchan_server_create(l->key, &o, &l->srv, &diag);
    return e == SHMCHAN_OK ? 0 : report(err, "shmchan_server_create", e, &diag);
}

static int open_client(struct shmchan_link *l, bench_err_t *err)
{
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.connect_timeout_ms = BENCH_STEP_TIMEOUT_MS;
    o.spin_ns = l->spin_ns;
    shmchan_diag_t diag = {0};
    const shmchan_err_t e = shmchan_client_connect(l->key, &o, &l->cli, &diag);
    return e == SHMCHAN_OK ? 0 : report(err, "shmchan_client_connect", e, &diag);
}

static int shmchan_open(void *state, bench_side_t side, bench_err_t *err)
{
    struct shmchan_link *l = state;
    return side == BENCH_SIDE_B ? open_server(l, err) : open_client(l, err);
}

static int server_recv(struct shmchan_link *l, uint8_t *buf, uint32_t len, bench_err_t *err)
{
    for (int i = 0; i < MAX_EVENTS_BEFORE_MESSAGE; i++) {
        shmchan_event_t ev;
        const shmchan_err_t e = shmchan_server_wait(l->srv, BENCH_STEP_TIMEOUT_MS, &ev, buf, len);
        if (e != SHMCHAN_OK) {
            return report(err, "shmchan_server_wait", e, NULL);
        }
        if (ev.kind == SHMCHAN_EVENT_CONNECT) {
            l->client = ev.client;
            continue;
        }
        if (ev.kind == SHMCHAN_EVENT_DISCONNECT) {
            bench_err_set(err, "shmchan_server_wait: client %u left (%s)", ev.client,
                          shmchan_errname(ev.reason));
            return -1;
        }
        if (ev.len != len) {
            bench_err_set(err, "shmchan_server_wait: %u-byte message, expected %u", ev.len, len);
            return -1;
        }
        return 0;
    }
    bench_err_set(err, "shmchan_server_wait: %d events and no message", MAX_EVENTS_BEFORE_MESSAGE);
    return -1;
}

static int client_recv(struct shmchan_link *l, uint8_t *buf, uint32_t len, bench_err_t *err)
{
    uint32_t got = 0;
    const shmchan_err_t e = shmchan_client_recv(l->cli, buf, len, &got, BENCH_STEP_TIMEOUT_MS);
    if (e != SHMCHAN_OK) {
        return report(err, "shmchan_client_recv", e, NULL);
    }
    if (got != len) {
        bench_err_set(err, "shmchan_client_recv: %u-byte message, expected %u", got, len);
        return -1;
    }
    return 0;
}

static int shmchan_recv(void *state, uint8_t *buf, uint32_t len, bench_err_t *err)
{
    struct shmchan_link *l = state;
    return l->srv != NULL ? server_recv(l, buf, len, err) : client_recv(l, buf, len, err);
}

static int shmchan_send(void *state, const uint8_t *msg, uint32_t len, bench_err_t *err)
{
    struct shmchan_link *l = state;
    const shmchan_err_t e =
        l->srv != NULL ? shmchan_server_send(l->srv, l->client, msg, len, BENCH_STEP_TIMEOUT_MS)
                       : shmchan_client_send(l->cli, msg, len, BENCH_STEP_TIMEOUT_MS);
    return e == SHMCHAN_OK ? 0 : report(err, l->srv != NULL ? "shmchan_server_send"
                                                            : "shmchan_client_send",
                                        e, NULL);
}

static void shmchan_close(void *state)
{
    struct shmchan_link *l = state;
    shmchan_client_disconnect(l->cli);
    l->cli = NULL;
    shmchan_server_destroy(l->srv);
    l->srv = NULL;
}

/* After both sides exited nothing may be left at the key. If something is
 * (a side was killed), remove it if it is our stale channel and fail. */
static int shmchan_destroy(void *state, bench_err_t *err)
{
    struct shmchan_link *l = state;
    const long key = (long)l->key;
    shmchan_channel_info_t info;
    const shmchan_err_t e = shmchan_inspect(l->key, &info, NULL);
    const int in_proc =
        (bench_sysvipc_present("shm", key, -1) > 0) + (bench_sysvipc_present("sem", key, -1) > 0);
    int rc = 0;
    if (e != SHMCHAN_OK || info.status != SHMCHAN_STATUS_ABSENT || in_proc != 0) {
        shmchan_channel_info_t removed;
        const shmchan_err_t r = shmchan_remove_stale(l->key, 0, &removed, NULL);
        bench_err_set(err, "shmchan key 0x%08lx left behind (%s; /proc/sysvipc lines %d); "
                           "remove_stale: %s",
                      (unsigned long)(uint32_t)l->key,
                      e == SHMCHAN_OK ? shmchan_status_name(info.status) : shmchan_errname(e),
                      in_proc, shmchan_errname(r));
        rc = -1;
    }
    free(l);
    return rc;
}

const bench_transport_t bench_transport_shmchan = {
    .name = "shmchan",
    .create = shmchan_create,
    .parent_detach = shmchan_parent_detach,
    .open = shmchan_open,
    .send = shmchan_send,
    .recv = shmchan_recv,
    .close = shmchan_close,
    .destroy = shmchan_destroy,
};

const bench_transport_t bench_transport_shmchan_spin = {
    .name = "shmchan_spin",
    .create = shmchan_spin_create,
    .parent_detach = shmchan_parent_detach,
    .open = shmchan_open,
    .send = shmchan_send,
    .recv = shmchan_recv,
    .close = shmchan_close,
    .destroy = shmchan_destroy,
};

const bench_transport_t bench_transport_shmchan_sleep = {
    .name = "shmchan_sleep",
    .create = shmchan_sleep_create,
    .parent_detach = shmchan_parent_detach,
    .open = shmchan_open,
    .send = shmchan_send,
    .recv = shmchan_recv,
    .close = shmchan_close,
    .destroy = shmchan_destroy,
};

const bench_transport_t bench_transport_shmchan_multiuser = {
    .name = "shmchan_multiuser",
    .create = shmchan_multiuser_create,
    .parent_detach = shmchan_parent_detach,
    .open = shmchan_open,
    .send = shmchan_send,
    .recv = shmchan_recv,
    .close = shmchan_close,
    .destroy = shmchan_destroy,
};
