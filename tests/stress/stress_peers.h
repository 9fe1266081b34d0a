/*
 * stress_peers.h - the server and client processes the stress tests run.
 *
 * Both are meant to be the body of a forked child (stress_spawn). They
 * check every message they receive (stress_stream_accept: sender, sequence,
 * length, FNV-1a hash) and report what they saw through pipes as fixed-size
 * records (smaller than PIPE_BUF, so concurrent writers never interleave).
 */
#ifndef SHMCHAN_STRESS_PEERS_H
#define SHMCHAN_STRESS_PEERS_H

#include <stdint.h>
#include <sys/types.h>

#include "src/shmchan.h"

/* ---------------------------------------------------------------- server */

typedef struct stress_server_cfg {
    key_t key;
    shmchan_server_options_t opts; /* opts.cancel is set by the server */
    int echo;                      /* send every message back to its sender */
    /* Stop (after reporting) once this many DISCONNECT events were seen; 0:
     * run until told to on ctl_fd. */
    uint32_t stop_after_disconnects;
    int ctl_fd;    /* read end, or -1: 'Q' report when idle, 'S' report when idle and stop */
    int ready_fd;  /* write end: 'R' once created, 'F' if creation failed */
    int result_fd; /* write end: a stress_server_stats_t per 'Q'/'S'/stop */
    int op_timeout_ms;
    int run_timeout_ms;     /* give up (and report) after this long */
    int quiesce_timeout_ms; /* how long 'Q'/'S' wait for connected == 0 */
    int install_sigusr1;    /* counting SIGUSR1 handler without SA_RESTART */
    int64_t self_kill_after_events; /* raise(SIGKILL) at this event count; -1: never */
} stress_server_cfg_t;

#define STRESS_FIRST_BAD_LEN 200

typedef struct stress_server_stats {
    uint64_t events;
    uint64_t messages;
    uint64_t bytes;
    uint64_t connects;
    uint64_t disc_ok;       /* DISCONNECT, reason SHMCHAN_OK (goodbye) */
    uint64_t disc_closed;   /* DISCONNECT, reason SHMCHAN_E_CLOSED (vanished) */
    uint64_t disc_protocol; /* DISCONNECT, reason SHMCHAN_E_PROTOCOL (kicked) */
    uint64_t disc_other;    /* any other reason: never valid */
    uint64_t echoed;
    uint64_t echo_closed;   /* echo found the client gone */
    uint64_t echo_timeout;
    uint64_t echo_protocol; /* echo found the client's lane corrupt */
    uint64_t bad;           /* messages that failed the integrity check: never valid */
    uint64_t bad_order;     /* intact, but not the stream's next message */
    /* Event pairing: every CONNECT of a slot is followed by exactly one
     * DISCONNECT before the slot's next CONNECT. */
    uint64_t connect_while_active;
    uint64_t disconnect_while_idle;
    uint64_t message_while_idle;
    uint64_t signals;       /* SIGUSR1 handler runs */
    int32_t connected;      /* CONNECTs minus DISCONNECTs when reported */
    int32_t max_connected;
    int32_t last_error;     /* an unexpected API result (SHMCHAN_OK if none) */
    int32_t quiesced;       /* 1 if connected reached 0 before the report */
    uint32_t protocol_detail[SHMCHAN_ERR_COUNT]; /* DISCONNECT(PROTOCOL) details */
    char first_bad[STRESS_FIRST_BAD_LEN];
} stress_server_stats_t;

/* Exit codes of stress_server_main. */
enum {
    STRESS_SERVER_EXIT_OK = 0,
    STRESS_SERVER_EXIT_CREATE = 40, /* shmchan_server_create failed */
    STRESS_SERVER_EXIT_API = 41,    /* an unexpected result from the library */
    STRESS_SERVER_EXIT_RUN_TIMEOUT = 42,
    STRESS_SERVER_EXIT_PARENT_GONE = 43,
    STRESS_SERVER_EXIT_INTERNAL = 44
};

void stress_server_cfg_init(stress_server_cfg_t *cfg, key_t key);
int stress_server_main(void *cfg);

/* ---------------------------------------------------- server, parent side */

/* A stress_server_main child with its control, ready and result pipes, as
 * the test (the parent) drives it. Unlike the rest of this file these run
 * in the parent only: they use cmocka assertions. */
typedef struct stress_server_proc {
    stress_server_cfg_t cfg;
    pid_t pid;
    int ctl[2], ready[2], result[2];
} stress_server_proc_t;

/* Opens the three pipes and fills cfg for them, with run_timeout_ms =
 * stress_budget_ms() (a hung server reports before Bazel kills the test).
 * Starts nothing, so the caller can still change any field of cfg. */
void stress_server_proc_init(stress_server_proc_t *s, key_t key, uint32_t max_clients,
                             uint32_t max_payload, uint32_t lane_capacity);

/* Spawns the server and waits for its 'R': clients started after this find
 * the channel there. */
void stress_server_proc_start(stress_server_proc_t *s);

/* Asks for a report once no client is connected ('Q') or that and stop
 * ('S'). */
void stress_server_proc_query(stress_server_proc_t *s, char what, stress_server_stats_t *st);

/* Closes the three pipes; the caller reaps the server (stress_wait). */
void stress_server_proc_finish(stress_server_proc_t *s);

/* ---------------------------------------------------------------- client */

typedef struct stress_client_cfg {
    key_t key;
    uint32_t sender;         /* unique id in [1, 2^31) */
    uint64_t messages;       /* to send; 0 = until stop_fd is readable */
    uint32_t max_len;        /* largest payload to send */
    int op_timeout_ms;
    uint64_t seed;
    uint32_t spin_ns;
    int connect_timeout_ms;
    int stop_fd;             /* read end or -1 */
    int event_fd;            /* write end or -1: 'S' before connect, 'C' after */
    int report_fd;           /* write end or -1: a stress_client_report_t */
    int64_t self_kill_after; /* raise(SIGKILL) after this many operations; -1 never */
    /* >= 0: just before connecting, start a thread that busy-counts to
     * this many and then raises SIGKILL, wherever the other threads are
     * (a kill timed in CPU work, finer than any parent's wake-up). */
    int64_t kill_spins;
    int install_sigusr1;
    int set_cancel;          /* pass a cancel flag that stays 0 */
    /* > 0: on NO_SLOT, retry connecting (yielding the CPU) for up to this
     * long. A slot whose client died is re-offered on the server's next
     * look (within SHMCHAN_LIVENESS_PERIOD_MS), and no event tells a
     * connecting client when that happens. */
    int retry_no_slot_ms;
} stress_client_cfg_t;

typedef struct stress_client_report {
    uint32_t sender;
    int32_t exit_code;
    uint64_t sent;
    uint64_t received;
    uint64_t signals;
    int32_t connect_err;
    uint64_t no_slot_retries;
    int32_t send_err;
    int32_t recv_err;
    char first_bad[STRESS_FIRST_BAD_LEN];
} stress_client_report_t;

/* Exit codes of stress_client_main (and session results). */
enum {
    STRESS_CLIENT_OK = 0,         /* sent all, received every echo */
    STRESS_CLIENT_CLOSED = 20,    /* ended by SHMCHAN_E_CLOSED */
    STRESS_CLIENT_TIMEOUT = 21,   /* ended by SHMCHAN_E_TIMEOUT */
    STRESS_CLIENT_PROTOCOL = 22,  /* ended by SHMCHAN_E_PROTOCOL */
    STRESS_CLIENT_NO_SLOT = 23,   /* connect: SHMCHAN_E_NO_SLOT */
    STRESS_CLIENT_CONNECT = 24,   /* connect: another error */
    STRESS_CLIENT_NOT_FOUND = 25, /* connect: SHMCHAN_E_NOT_FOUND */
    STRESS_CLIENT_BAD = 30,       /* received a message that failed the integrity check */
    STRESS_CLIENT_API = 31,       /* an error no peer can cause */
    STRESS_CLIENT_INTERNAL = 32,
    STRESS_CLIENT_OUT_OF_ORDER = 33 /* an intact message, not the next one of its stream */
};

void stress_client_cfg_init(stress_client_cfg_t *cfg, key_t key, uint32_t sender);

/* One session: connect, a sender thread and a receiver thread on the one
 * handle (echo traffic: the receiver expects its own stream back), then
 * disconnect. Fills *rep; returns the exit code. */
int stress_client_session(const stress_client_cfg_t *cfg, stress_client_report_t *rep);

/* stress_client_session, then writes the report to cfg->report_fd. */
int stress_client_main(void *cfg);

/* A short name for an exit code above, for messages. */
const char *stress_client_code_name(int code);

#endif /* SHMCHAN_STRESS_PEERS_H */
