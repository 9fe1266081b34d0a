/* stress_peers.c - see stress_peers.h. */
#include "tests/stress/stress_peers.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs these first (its own documentation says so). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/stress/stress_util.h"
#include "tests/testutil.h"

/* A cancel flag that is never set: passing it makes the library take its
 * "cancel != NULL" path on every EINTR, which must still retry. */
static volatile sig_atomic_t g_never_cancel = 0;

/* ---------------------------------------------------------------- server */

void stress_server_cfg_init(stress_server_cfg_t *cfg, key_t key)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->key = key;
    shmchan_server_options_init(&cfg->opts);
    cfg->echo = 1;
    cfg->ctl_fd = -1;
    cfg->ready_fd = -1;
    cfg->result_fd = -1;
    cfg->op_timeout_ms = 20000;
    cfg->run_timeout_ms = 600000;
    cfg->quiesce_timeout_ms = 10000;
    cfg->self_kill_after_events = -1;
}

struct slot_track {
    int active;
    stress_stream_t stream;
};

struct server_run {
    const stress_server_cfg_t *cfg;
    shmchan_server_t *srv;
    struct slot_track *slots;
    uint32_t nslots;
    uint8_t *buf;
    uint32_t cap;
    stress_server_stats_t st;
};

static void note_bad(stress_server_stats_t *st, const char *why)
{
    if (st->first_bad[0] == '\0') {
        snprintf(st->first_bad, sizeof st->first_bad, "%s", why);
    }
}

static void server_report(struct server_run *r)
{
    r->st.signals = stress_signals_caught();
    if (r->cfg->result_fd >= 0) {
        (void)testutil_write_full(r->cfg->result_fd, &r->st, sizeof r->st);
    }
}

static void on_connect(struct server_run *r, const shmchan_event_t *ev)
{
    struct slot_track *t = &r->slots[ev->client];
    if (t->active) {
        /* The slot's previous client never got its DISCONNECT event. */
        r->st.connect_while_active++;
        char why[STRESS_FIRST_BAD_LEN];
        snprintf(why, sizeof why, "CONNECT on slot %u, which never had a DISCONNECT",
                 ev->client);
        note_bad(&r->st, why);
    } else {
        r->st.connected++;
    }
    t->active = 1;
    stress_stream_reset(&t->stream);
    r->st.connects++;
    if (r->st.connected > r->st.max_connected) {
        r->st.max_connected = r->st.connected;
    }
}

static void on_disconnect(struct server_run *r, const shmchan_event_t *ev)
{
    struct slot_track *t = &r->slots[ev->client];
    if (!t->active) {
        r->st.disconnect_while_idle++;
        note_bad(&r->st, "DISCONNECT on a slot without a CONNECT");
    } else {
        r->st.connected--;
    }
    t->active = 0;
    switch (ev->reason) {
    case SHMCHAN_OK:
        r->st.disc_ok++;
        break;
    case SHMCHAN_E_CLOSED:
        r->st.disc_closed++;
        break;
    case SHMCHAN_E_PROTOCOL:
        r->st.disc_protocol++;
        if ((unsigned)ev->detail < SHMCHAN_ERR_COUNT) {
            r->st.protocol_detail[ev->detail]++;
        }
        break;
    default:
        r->st.disc_other++;
        break;
    }
}

/* Returns 0, or -1 if the library returned something no peer can cause. */
static int on_message(struct server_run *r, const shmchan_event_t *ev)
{
    struct slot_track *t = &r->slots[ev->client];
    r->st.messages++;
    r->st.bytes += ev->len;
    char why[STRESS_FIRST_BAD_LEN];
    if (!t->active) {
        r->st.message_while_idle++;
        snprintf(why, sizeof why, "MESSAGE on slot %u before its CONNECT", ev->client);
        note_bad(&r->st, why);
    } else {
        const int v = stress_stream_accept(&t->stream, r->buf, ev->len, why, sizeof why);
        if (v == STRESS_BAD_INTEGRITY) {
            r->st.bad++;
            note_bad(&r->st, why);
        } else if (v == STRESS_BAD_ORDER) {
            r->st.bad_order++;
            note_bad(&r->st, why);
            stress_stream_resync(&t->stream);
        }
    }
    if (!r->cfg->echo) {
        return 0;
    }
    const shmchan_err_t e =
        shmchan_server_send(r->srv, ev->client, r->buf, ev->len, r->cfg->op_timeout_ms);
    switch (e) {
    case SHMCHAN_OK:
        r->st.echoed++;
        return 0;
    case SHMCHAN_E_CLOSED:
        r->st.echo_closed++;
        return 0;
    case SHMCHAN_E_TIMEOUT:
        r->st.echo_timeout++;
        return 0;
    case SHMCHAN_E_PROTOCOL:
        r->st.echo_protocol++;
        return 0;
    default:
        fprintf(stderr, "stress server: shmchan_server_send(slot %u, %u bytes): %s\n",
                ev->client, ev->len, shmchan_errname(e));
        r->st.last_error = (int32_t)e;
        return -1;
    }
}

static int on_event(struct server_run *r, const shmchan_event_t *ev)
{
    r->st.events++;
    if (r->cfg->self_kill_after_events >= 0 &&
        r->st.events >= (uint64_t)r->cfg->self_kill_after_events) {
        raise(SIGKILL);
    }
    if (ev->client >= r->nslots) {
        char why[STRESS_FIRST_BAD_LEN];
        snprintf(why, sizeof why, "event kind %d names slot %u of %u", (int)ev->kind,
                 ev->client, r->nslots);
        note_bad(&r->st, why);
        r->st.bad++;
        return 0;
    }
    switch (ev->kind) {
    case SHMCHAN_EVENT_CONNECT:
        on_connect(r, ev);
        return 0;
    case SHMCHAN_EVENT_DISCONNECT:
        on_disconnect(r, ev);
        return 0;
    case SHMCHAN_EVENT_MESSAGE:
        return on_message(r, ev);
    case SHMCHAN_EVENT_REFUSED:
        /* Only a multi-user server refuses; the stress servers are
         * single-user, so one would be a bug: counted bad below. */
        break;
    }
    r->st.bad++;
    note_bad(&r->st, "event of an unknown kind");
    return 0;
}

static uint64_t disconnects(const stress_server_stats_t *st)
{
    return st->disc_ok + st->disc_closed + st->disc_protocol + st->disc_other;
}

/* The serving loop. Returns the exit code. */
static int server_loop(struct server_run *r)
{
    const stress_server_cfg_t *cfg = r->cfg;
    const int64_t deadline = stress_now_ns() + (int64_t)cfg->run_timeout_ms * 1000000;
    char pending = 0; /* 'Q' or 'S' once asked */
    int64_t quiesce_deadline = 0;
    for (;;) {
        const int64_t now = stress_now_ns();
        if (now >= deadline) {
            fprintf(stderr, "stress server: still running after %d ms\n", cfg->run_timeout_ms);
            server_report(r);
            return STRESS_SERVER_EXIT_RUN_TIMEOUT;
        }
        if (cfg->ctl_fd >= 0 && pending == 0 && stress_fd_ready(cfg->ctl_fd)) {
            char c = 0;
            ssize_t n;
            do {
                n = read(cfg->ctl_fd, &c, 1);
            } while (n < 0 && errno == EINTR);
            if (n != 1) {
                return STRESS_SERVER_EXIT_PARENT_GONE;
            }
            pending = c;
            quiesce_deadline = now + (int64_t)cfg->quiesce_timeout_ms * 1000000;
        }
        if (pending != 0 && (r->st.connected == 0 || now >= quiesce_deadline)) {
            r->st.quiesced = r->st.connected == 0;
            server_report(r);
            if (pending == 'S') {
                return STRESS_SERVER_EXIT_OK;
            }
            pending = 0;
            continue;
        }
        if (cfg->stop_after_disconnects != 0 &&
            disconnects(&r->st) >= cfg->stop_after_disconnects) {
            r->st.quiesced = r->st.connected == 0;
            server_report(r);
            return STRESS_SERVER_EXIT_OK;
        }
        shmchan_event_t ev;
        const shmchan_err_t e = shmchan_server_wait(r->srv, 100, &ev, r->buf, r->cap);
        if (e == SHMCHAN_E_TIMEOUT) {
            continue;
        }
        if (e != SHMCHAN_OK) {
            fprintf(stderr, "stress server: shmchan_server_wait: %s\n", shmchan_errname(e));
            r->st.last_error = (int32_t)e;
            server_report(r);
            return STRESS_SERVER_EXIT_API;
        }
        if (on_event(r, &ev) != 0) {
            server_report(r);
            return STRESS_SERVER_EXIT_API;
        }
    }
}

int stress_server_main(void *p)
{
    const stress_server_cfg_t *cfg = p;
    if (cfg->install_sigusr1 && stress_install_counting_handler(SIGUSR1) != 0) {
        return STRESS_SERVER_EXIT_INTERNAL;
    }
    struct server_run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    shmchan_server_options_t o = cfg->opts;
    o.cancel = &g_never_cancel;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t e = shmchan_server_create(cfg->key, &o, &r.srv, &d);
    if (e != SHMCHAN_OK) {
        fprintf(stderr, "stress server: shmchan_server_create(0x%08x): %s: %s\n",
                (unsigned)cfg->key, shmchan_errname(e), d.text);
        if (cfg->ready_fd >= 0) {
            (void)testutil_write_full(cfg->ready_fd, "F", 1);
        }
        return STRESS_SERVER_EXIT_CREATE;
    }
    r.nslots = shmchan_server_max_clients(r.srv);
    r.cap = shmchan_server_max_payload(r.srv);
    r.slots = calloc(r.nslots, sizeof *r.slots);
    r.buf = malloc(r.cap);
    int code = STRESS_SERVER_EXIT_INTERNAL;
    if (r.slots != NULL && r.buf != NULL) {
        if (cfg->ready_fd >= 0) {
            (void)testutil_write_full(cfg->ready_fd, "R", 1);
        }
        code = server_loop(&r);
    }
    shmchan_server_destroy(r.srv);
    free(r.slots);
    free(r.buf);
    return code;
}

/* ---------------------------------------------------- server, parent side */

void stress_server_proc_init(stress_server_proc_t *s, key_t key, uint32_t max_clients,
                             uint32_t max_payload, uint32_t lane_capacity)
{
    assert_int_equal(stress_pipe(s->ctl), 0);
    assert_int_equal(stress_pipe(s->ready), 0);
    assert_int_equal(stress_pipe(s->result), 0);
    stress_server_cfg_init(&s->cfg, key);
    s->cfg.opts.max_clients = max_clients;
    s->cfg.opts.max_payload = max_payload;
    s->cfg.opts.lane_capacity = lane_capacity;
    s->cfg.ctl_fd = s->ctl[0];
    s->cfg.ready_fd = s->ready[1];
    s->cfg.result_fd = s->result[1];
    s->cfg.run_timeout_ms = stress_budget_ms();
}

void stress_server_proc_start(stress_server_proc_t *s)
{
    s->pid = stress_spawn(stress_server_main, &s->cfg);
    assert_true(s->pid > 0);
    char c = 0;
    assert_int_equal(testutil_read_full(s->ready[0], &c, 1, 30000), 0);
    assert_int_equal(c, 'R');
}

void stress_server_proc_query(stress_server_proc_t *s, char what, stress_server_stats_t *st)
{
    assert_int_equal(testutil_write_full(s->ctl[1], &what, 1), 0);
    memset(st, 0, sizeof *st);
    assert_int_equal(testutil_read_full(s->result[0], st, sizeof *st, stress_budget_ms()), 0);
}

void stress_server_proc_finish(stress_server_proc_t *s)
{
    stress_close_pair(s->ctl);
    stress_close_pair(s->ready);
    stress_close_pair(s->result);
}

/* ---------------------------------------------------------------- client */

void stress_client_cfg_init(stress_client_cfg_t *cfg, key_t key, uint32_t sender)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->key = key;
    cfg->sender = sender;
    cfg->messages = 100;
    cfg->max_len = SHMCHAN_DEFAULT_MAX_PAYLOAD;
    cfg->op_timeout_ms = 20000;
    cfg->seed = sender;
    cfg->connect_timeout_ms = 5000;
    cfg->stop_fd = -1;
    cfg->event_fd = -1;
    cfg->report_fd = -1;
    cfg->self_kill_after = -1;
    cfg->kill_spins = -1;
}

const char *stress_client_code_name(int code)
{
    switch (code) {
    case STRESS_CLIENT_OK:
        return "ok";
    case STRESS_CLIENT_CLOSED:
        return "ended: CLOSED";
    case STRESS_CLIENT_TIMEOUT:
        return "ended: TIMEOUT";
    case STRESS_CLIENT_PROTOCOL:
        return "ended: PROTOCOL";
    case STRESS_CLIENT_NO_SLOT:
        return "connect: NO_SLOT";
    case STRESS_CLIENT_CONNECT:
        return "connect: other error";
    case STRESS_CLIENT_NOT_FOUND:
        return "connect: NOT_FOUND";
    case STRESS_CLIENT_BAD:
        return "BAD MESSAGE";
    case STRESS_CLIENT_API:
        return "unexpected library error";
    case STRESS_CLIENT_INTERNAL:
        return "test-internal failure";
    case STRESS_CLIENT_OUT_OF_ORDER:
        return "MESSAGE OUT OF ORDER";
    case 128 + SIGKILL:
        return "SIGKILLed";
    default:
        return "?";
    }
}

struct session {
    const stress_client_cfg_t *cfg;
    shmchan_client_t *cli;
    uint32_t max_len;
    int abort;    /* atomic: one side ended with an error; the other stops */
    uint64_t ops; /* atomic: operations done by both threads */
    /* Written by one thread each, read after both are joined. */
    uint64_t sent, received;
    shmchan_err_t send_err, recv_err;
    int fin_sent, fin_received, bad; /* bad: 0 or a STRESS_BAD_* */
    char first_bad[STRESS_FIRST_BAD_LEN];
};

static void count_op(struct session *s)
{
    const uint64_t n = __atomic_add_fetch(&s->ops, 1, __ATOMIC_RELAXED);
    if (s->cfg->self_kill_after >= 0 && n >= (uint64_t)s->cfg->self_kill_after) {
        raise(SIGKILL);
    }
}

static int aborted(struct session *s)
{
    return __atomic_load_n(&s->abort, __ATOMIC_ACQUIRE);
}

static void set_abort(struct session *s)
{
    __atomic_store_n(&s->abort, 1, __ATOMIC_RELEASE);
}

static void *sender_main(void *p)
{
    struct session *s = p;
    const stress_client_cfg_t *cfg = s->cfg;
    uint64_t rng = stress_derive_seed(cfg->seed, 1);
    uint8_t *buf = malloc(s->max_len + 1u);
    if (buf == NULL) {
        s->send_err = SHMCHAN_E_NO_MEMORY;
        set_abort(s);
        return NULL;
    }
    for (uint64_t seq = 0;; seq++) {
        if (aborted(s)) {
            break;
        }
        int last = cfg->messages != 0 && seq + 1 >= cfg->messages;
        if (!last && cfg->stop_fd >= 0 && seq % 8 == 0 && stress_fd_ready(cfg->stop_fd)) {
            last = 1;
        }
        const uint32_t len = stress_msg_pick_len(&rng, s->max_len, seq == 0 || last);
        stress_msg_build(buf, len, last ? cfg->sender | STRESS_SENDER_FIN : cfg->sender, seq);
        count_op(s);
        const shmchan_err_t e = shmchan_client_send(s->cli, buf, len, cfg->op_timeout_ms);
        if (e != SHMCHAN_OK) {
            s->send_err = e;
            set_abort(s);
            break;
        }
        s->sent++;
        if (last) {
            s->fin_sent = 1;
            break;
        }
    }
    free(buf);
    return NULL;
}

static void *receiver_main(void *p)
{
    struct session *s = p;
    const uint32_t cap = shmchan_client_max_payload(s->cli);
    uint8_t *buf = malloc(cap + 1u);
    if (buf == NULL) {
        s->recv_err = SHMCHAN_E_NO_MEMORY;
        set_abort(s);
        return NULL;
    }
    stress_stream_t stream;
    stress_stream_reset(&stream);
    while (!aborted(s)) {
        uint32_t len = 0;
        const shmchan_err_t e = shmchan_client_recv(s->cli, buf, cap, &len, s->cfg->op_timeout_ms);
        if (e != SHMCHAN_OK) {
            s->recv_err = e;
            set_abort(s);
            break;
        }
        count_op(s);
        const int v = stress_stream_accept(&stream, buf, len, s->first_bad, sizeof s->first_bad);
        if (v != 0) {
            s->bad = v;
            set_abort(s);
            break;
        }
        s->received++;
        if (stream.fin) {
            s->fin_received = 1;
            break;
        }
    }
    free(buf);
    return NULL;
}

static void *killer_main(void *p)
{
    const int64_t spins = *(const int64_t *)p;
    volatile int64_t n = 0;
    while (n < spins) {
        n = n + 1;
    }
    raise(SIGKILL);
    return NULL;
}

static int is_peer_caused(shmchan_err_t e)
{
    return e == SHMCHAN_OK || e == SHMCHAN_E_CLOSED || e == SHMCHAN_E_TIMEOUT ||
           e == SHMCHAN_E_PROTOCOL;
}

static int code_of(shmchan_err_t e)
{
    switch (e) {
    case SHMCHAN_E_CLOSED:
        return STRESS_CLIENT_CLOSED;
    case SHMCHAN_E_TIMEOUT:
        return STRESS_CLIENT_TIMEOUT;
    case SHMCHAN_E_PROTOCOL:
        return STRESS_CLIENT_PROTOCOL;
    default:
        return STRESS_CLIENT_API;
    }
}

static int connect_code(shmchan_err_t e)
{
    switch (e) {
    case SHMCHAN_E_NO_SLOT:
        return STRESS_CLIENT_NO_SLOT;
    case SHMCHAN_E_NOT_FOUND:
        return STRESS_CLIENT_NOT_FOUND;
    case SHMCHAN_E_CLOSED:
        return STRESS_CLIENT_CLOSED;
    case SHMCHAN_E_TIMEOUT:
        return STRESS_CLIENT_TIMEOUT;
    default:
        return STRESS_CLIENT_CONNECT;
    }
}

static int session_code(const struct session *s)
{
    if (s->bad == STRESS_BAD_INTEGRITY) {
        return STRESS_CLIENT_BAD;
    }
    if (s->bad == STRESS_BAD_ORDER) {
        return STRESS_CLIENT_OUT_OF_ORDER;
    }
    if (s->fin_sent && s->fin_received) {
        return STRESS_CLIENT_OK;
    }
    if (!is_peer_caused(s->send_err) || !is_peer_caused(s->recv_err)) {
        return STRESS_CLIENT_API;
    }
    return code_of(s->recv_err != SHMCHAN_OK ? s->recv_err : s->send_err);
}

int stress_client_session(const stress_client_cfg_t *cfg, stress_client_report_t *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->sender = cfg->sender;
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.connect_timeout_ms = cfg->connect_timeout_ms;
    o.spin_ns = cfg->spin_ns;
    if (cfg->set_cancel) {
        o.cancel = &g_never_cancel;
    }
    if (cfg->event_fd >= 0) {
        (void)testutil_write_full(cfg->event_fd, "S", 1);
    }
    if (cfg->kill_spins >= 0) {
        pthread_t killer;
        if (pthread_create(&killer, NULL, killer_main, (void *)&cfg->kill_spins) != 0) {
            rep->exit_code = STRESS_CLIENT_INTERNAL;
            return rep->exit_code;
        }
        (void)pthread_detach(killer);
    }
    struct session s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const int64_t retry_end = stress_now_ns() + (int64_t)cfg->retry_no_slot_ms * 1000000;
    shmchan_err_t ce = shmchan_client_connect(cfg->key, &o, &s.cli, &d);
    while (ce == SHMCHAN_E_NO_SLOT && stress_now_ns() < retry_end) {
        rep->no_slot_retries++;
        (void)sched_yield();
        ce = shmchan_client_connect(cfg->key, &o, &s.cli, &d);
    }
    if (ce != SHMCHAN_OK) {
        rep->connect_err = (int32_t)ce;
        snprintf(rep->first_bad, sizeof rep->first_bad, "connect: %s: %s", shmchan_errname(ce),
                 d.text);
        rep->exit_code = connect_code(ce);
        return rep->exit_code;
    }
    count_op(&s);
    if (cfg->event_fd >= 0) {
        (void)testutil_write_full(cfg->event_fd, "C", 1);
    }
    const uint32_t channel_max = shmchan_client_max_payload(s.cli);
    s.max_len = cfg->max_len < channel_max ? cfg->max_len : channel_max;
    pthread_t tx, rx;
    int code;
    if (pthread_create(&rx, NULL, receiver_main, &s) != 0) {
        code = STRESS_CLIENT_INTERNAL;
    } else {
        if (pthread_create(&tx, NULL, sender_main, &s) != 0) {
            set_abort(&s);
            s.send_err = SHMCHAN_E_SYSTEM;
        } else {
            pthread_join(tx, NULL);
        }
        pthread_join(rx, NULL);
        code = session_code(&s);
    }
    shmchan_client_disconnect(s.cli);
    rep->sent = s.sent;
    rep->received = s.received;
    rep->send_err = (int32_t)s.send_err;
    rep->recv_err = (int32_t)s.recv_err;
    memcpy(rep->first_bad, s.first_bad, sizeof rep->first_bad);
    rep->exit_code = code;
    return code;
}

int stress_client_main(void *p)
{
    const stress_client_cfg_t *cfg = p;
    if (cfg->install_sigusr1 && stress_install_counting_handler(SIGUSR1) != 0) {
        return STRESS_CLIENT_INTERNAL;
    }
    stress_client_report_t rep;
    const int code = stress_client_session(cfg, &rep);
    rep.signals = stress_signals_caught();
    if (code == STRESS_CLIENT_BAD || code == STRESS_CLIENT_API ||
        code == STRESS_CLIENT_OUT_OF_ORDER) {
        fprintf(stderr, "stress client %u: %s: %s (send %s, recv %s)\n", cfg->sender,
                stress_client_code_name(code), rep.first_bad,
                shmchan_errname((shmchan_err_t)rep.send_err),
                shmchan_errname((shmchan_err_t)rep.recv_err));
    }
    if (cfg->report_fd >= 0) {
        (void)testutil_write_full(cfg->report_fd, &rep, sizeof rep);
    }
    return code;
}
