/*
 * shmchan.h - the one public header of shmchan, safe System V shared-memory IPC.
 *
 * Everything a program needs is declared here: the error codes, the frame
 * codec, the server and client handles and the inspection API. Headers
 * beside it (codec_internal.h, layout.h, lane.h, sysv.h, ...) are the
 * library's internal layers and are not installed.
 *
 * Conventions: every function that can fail returns shmchan_err_t
 * (SHMCHAN_OK == 0); outputs are written only through pointer arguments;
 * the library never prints, never calls exit() and never raises signals.
 */
#ifndef SHMCHAN_H
#define SHMCHAN_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SHMCHAN_MUST_CHECK __attribute__((warn_unused_result))
#else
#define SHMCHAN_MUST_CHECK
#endif

/* ---------------------------------------------------------------- errors */

typedef enum shmchan_err {
#define X(name, message) name,
#include "shmchan_error.inc"
#undef X
    SHMCHAN_ERR_COUNT
} shmchan_err_t;

/* A static, never-NULL English description of `err` ("unknown error" for
 * values outside the enum). */
const char *shmchan_strerror(shmchan_err_t err);

/* The enumerator's own name, e.g. "SHMCHAN_E_TIMEOUT" (for logs and tests). */
const char *shmchan_errname(shmchan_err_t err);

/* Optional detail for calls that touch kernel objects: which object, which
 * call, which errno. Every such call takes a `shmchan_diag_t *` that may be
 * NULL. On failure `text` holds one line such as
 *   shmget(key=0x000004d2, size=1052928, IPC_CREAT|IPC_EXCL|0600): File exists
 * and `sys_errno` the errno of the failing system call (0 if none). */
#define SHMCHAN_DIAG_TEXT_MAX 320
typedef struct shmchan_diag {
    shmchan_err_t code;
    int sys_errno;
    char text[SHMCHAN_DIAG_TEXT_MAX];
} shmchan_diag_t;

/* ----------------------------------------------------------------- codec */

/* A frame is a fixed 24-byte little-endian header followed by the payload;
 * docs/protocol.md specifies every byte. */
#define SHMCHAN_FRAME_HEADER_SIZE 24u
#define SHMCHAN_FRAME_MAGIC 0x46434853u /* bytes "SHCF" */
#define SHMCHAN_FRAME_VERSION 1u
/* No frame, on any channel, carries more payload than this (16 MiB). */
#define SHMCHAN_PAYLOAD_HARD_MAX (16u * 1024u * 1024u)

typedef enum shmchan_frame_type {
    SHMCHAN_FRAME_DATA = 1,    /* an application message */
    SHMCHAN_FRAME_GOODBYE = 2  /* sender sends nothing more (payload empty) */
} shmchan_frame_type_t;

/* Flags of a DATA frame that carries one fragment of a message larger than
 * a frame may be (docs/protocol.md, "Fragments"). A GOODBYE has none. */
#define SHMCHAN_FRAME_FLAG_MORE 0x01u /* another fragment of this message follows */
#define SHMCHAN_FRAME_FLAG_CONT 0x02u /* this frame continues a message */
#define SHMCHAN_FRAME_FLAGS_KNOWN (SHMCHAN_FRAME_FLAG_MORE | SHMCHAN_FRAME_FLAG_CONT)

typedef struct shmchan_frame {
    uint8_t type;         /* shmchan_frame_type_t */
    uint8_t flags;        /* SHMCHAN_FRAME_FLAG_*; 0 for a whole message */
    uint32_t payload_len; /* bytes of payload after the header */
    uint64_t seq;         /* sender's sequence number */
    uint32_t checksum;    /* CRC32C (filled in by encode and decode) */
} shmchan_frame_t;

/* Encodes frame->type, ->flags, ->seq and `payload_len` bytes of `payload`
 * (NULL only when payload_len is 0) into out[0, out_cap). On success
 * *out_len is SHMCHAN_FRAME_HEADER_SIZE + payload_len; on failure it is 0
 * and nothing past out_cap was written. frame->payload_len is ignored in
 * favour of `payload_len`. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_codec_encode(const shmchan_frame_t *frame,
                                                      const uint8_t *payload,
                                                      uint32_t payload_len, uint8_t *out,
                                                      size_t out_cap, size_t *out_len);

/* Decodes the frame at the start of src[0, src_len), which may be shared
 * memory that another process rewrites while this runs: the header is copied
 * once, validated from the copy, then the payload is copied once into
 * payload_out[0, payload_cap) and the checksum is verified over the two
 * private copies, so an accepted frame is exactly the bytes its checksum
 * covered. max_payload (<= SHMCHAN_PAYLOAD_HARD_MAX) is the channel's limit.
 * On success *frame is filled and *frame_len is the frame's total size; on
 * failure *frame is zeroed, *frame_len is 0 and payload_out's first
 * payload_cap bytes are unspecified. Never reads outside src[0, src_len) and
 * never writes outside payload_out[0, payload_cap). */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_codec_decode(const uint8_t *src, size_t src_len,
                                                      uint32_t max_payload,
                                                      shmchan_frame_t *frame,
                                                      uint8_t *payload_out,
                                                      size_t payload_cap, size_t *frame_len);


/* --------------------------------------------------------------- channel */

/* A channel is one SysV segment and one SysV semaphore set, both at the
 * caller's key, owned by the server's user. Clients connect into numbered
 * slots; each slot has one lane (ring) each way. docs/protocol.md and
 * docs/lifecycle.md describe the whole; docs/threat-model.md what it
 * defends against.
 *
 * Timeouts are in milliseconds; 0 means "do not block". Every blocking call
 * has one: nothing in shmchan waits forever.
 *
 * Thread safety: a server handle is used by one thread at a time. A client
 * handle allows one thread in shmchan_client_send and another in
 * shmchan_client_recv at the same time (each lane has one producer and one
 * consumer), plus shmchan_client_check from any thread; connect and
 * disconnect must not overlap any other call on the handle. */

typedef struct shmchan_server shmchan_server_t;
typedef struct shmchan_client shmchan_client_t;

/* Defaults (shmchan_*_options_init). */
#define SHMCHAN_DEFAULT_MAX_CLIENTS 8u
#define SHMCHAN_DEFAULT_MAX_PAYLOAD 4096u
#define SHMCHAN_DEFAULT_LANE_CAPACITY 65536u
#define SHMCHAN_DEFAULT_MODE 0600u
#define SHMCHAN_DEFAULT_CONNECT_TIMEOUT_MS 3000
/* The most uids, and the most gids, one server may allow. */
#define SHMCHAN_ALLOW_MAX 256u
/* How often a blocked call re-checks that its peer is still alive. A peer
 * that dies without a word is noticed within this (docs/lifecycle.md). */
#define SHMCHAN_LIVENESS_PERIOD_MS 100

/* spin_ns: adapt the spin to the peer (see shmchan_server_options_t). */
#define SHMCHAN_SPIN_ADAPTIVE UINT32_MAX
#define SHMCHAN_DEFAULT_SPIN_NS SHMCHAN_SPIN_ADAPTIVE

typedef struct shmchan_server_options {
    uint32_t max_clients;   /* 1..256 */
    uint32_t max_payload;   /* 1..SHMCHAN_PAYLOAD_HARD_MAX */
    uint32_t lane_capacity; /* bytes per lane, a power of two, 64..2^30; a message
                               longer than half a lane goes in fragments */
    unsigned mode;          /* 0600 (default), 0620, 0640 or 0660: never world bits */
    /* Before sleeping, poll the lanes for up to this many nanoseconds (0:
     * sleep at once). Trades a core for latency. The default,
     * SHMCHAN_SPIN_ADAPTIVE, learns it per handle, from 0 up to 50 us,
     * from how soon the peer answered the last waits: a channel that goes
     * idle stops spinning after a few waits (docs/benchmarks.md has the
     * figures, idle CPU included). */
    uint32_t spin_ns;
    /* Optional: when a signal interrupts a blocking call and *cancel is
     * non-zero, the call returns SHMCHAN_E_INTERRUPTED (for programs whose
     * handler only sets a flag). */
    const volatile sig_atomic_t *cancel;
    /* Who may connect besides the server's own uid (docs/multiuser.md):
     * the uids in allow_uids, and any client whose kernel-recorded gid, or
     * one of whose account's groups, is in allow_gids. Both empty (the
     * default): the server's own uid only. The arrays are copied at
     * create. */
    const uid_t *allow_uids;
    size_t allow_uids_count;
    const gid_t *allow_gids;
    size_t allow_gids_count;
} shmchan_server_options_t;

typedef struct shmchan_client_options {
    int connect_timeout_ms; /* how long to wait for a server still starting */
    uid_t expected_uid;     /* the server's uid: owner and creator its objects must
                               have (default: euid; `client --server-uid`) */
    unsigned max_mode;      /* refuse objects granting more than this (default 0600) */
    uint32_t spin_ns;       /* as in shmchan_server_options_t */
    const volatile sig_atomic_t *cancel;
} shmchan_client_options_t;

void shmchan_server_options_init(shmchan_server_options_t *opts);
void shmchan_client_options_init(shmchan_client_options_t *opts);

typedef enum shmchan_event_kind {
    SHMCHAN_EVENT_CONNECT = 1,    /* a client took slot `client` */
    SHMCHAN_EVENT_MESSAGE = 2,    /* `len` bytes from `client` are in the buffer */
    SHMCHAN_EVENT_DISCONNECT = 3, /* `client` is gone; `reason` says how */
    /* Multi-user: a connection at slot `client`'s key was refused before any
     * byte of it was read: `uid`/`gid` are its creator's (the kernel's),
     * `reason` PERMISSION (that uid may not connect) or PROTOCOL (objects
     * not of the shape a connection must have). Once per connection. */
    SHMCHAN_EVENT_REFUSED = 4
} shmchan_event_kind_t;

typedef struct shmchan_event {
    shmchan_event_kind_t kind;
    uint32_t client;      /* slot number, 0 .. max_clients-1 */
    uint32_t len;         /* MESSAGE: payload length */
    /* DISCONNECT: SHMCHAN_OK (said goodbye), SHMCHAN_E_CLOSED (vanished:
     * crashed or killed), SHMCHAN_E_PROTOCOL (corrupted its lane, dropped). */
    shmchan_err_t reason;
    shmchan_err_t detail; /* DISCONNECT by PROTOCOL: the codec's finding */
    /* CONNECT: the last process the kernel saw operate on the slot's
     * ownership token (the claiming client), or 0 if nobody held the token
     * at the scan. For logs: not authentication (any process of the uid can
     * operate on the token). */
    pid_t pid;
    /* CONNECT, DISCONNECT, REFUSED: the client's uid and gid as the kernel
     * recorded them (the creator of its connection's objects,
     * docs/multiuser.md), never a value read from shared memory. In a
     * single-user channel: the server's own (its 0600 objects admit no
     * other uid but root). */
    uid_t uid;
    gid_t gid;
} shmchan_event_t;

/* Creates a channel at `key` (IPC_CREAT|IPC_EXCL). The calling process holds
 * the channel's liveness token (SEM_UNDO): it must outlive the handle. A
 * process that creates the server and then forks and exits (daemon()
 * style) gives the token back as it exits, and the live channel is then
 * judged stale: create the server in the process that serves.
 * If the key is taken:
 * a live server -> SHMCHAN_E_ALREADY_RUNNING; a stale channel of ours ->
 * removed, then created afresh; anything else -> SHMCHAN_E_FOREIGN or
 * SHMCHAN_E_BUSY, with diag naming key, owner, mode and reason. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_server_create(key_t key,
                                                       const shmchan_server_options_t *opts,
                                                       shmchan_server_t **out,
                                                       shmchan_diag_t *diag);

/* Waits up to timeout_ms for the next event. A MESSAGE's payload goes to
 * buf[0, cap); if it does not fit, SHMCHAN_E_OUTPUT_TOO_SMALL with
 * ev->client and ev->len set, and the message stays queued. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_server_wait(shmchan_server_t *srv, int timeout_ms,
                                                     shmchan_event_t *ev, void *buf,
                                                     size_t cap);

/* Sends one message to a connected client, waiting up to timeout_ms for
 * room. SHMCHAN_E_CLOSED if that client is gone. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_server_send(shmchan_server_t *srv, uint32_t client,
                                                     const void *data, uint32_t len,
                                                     int timeout_ms);

/* Number of slots, maximum payload, kernel ids, key (for display). */
uint32_t shmchan_server_max_clients(const shmchan_server_t *srv);
uint32_t shmchan_server_max_payload(const shmchan_server_t *srv);
int shmchan_server_shmid(const shmchan_server_t *srv);
int shmchan_server_semid(const shmchan_server_t *srv);

/* Multi-user channels: how many of the server's sleeps ran to their
 * timeout although a client had written (or made room) and rung - wakes
 * somebody else took from the doorbell, which anyone who may post it can
 * do (docs/multiuser.md, "The doorbell: what is left"). After each, the
 * server sleeps in 1 ms slices for one liveness period. Always 0 on a
 * single-user channel. */
uint64_t shmchan_server_robbed_wakes(const shmchan_server_t *srv);

/* Tells connected clients goodbye, then removes (IPC_RMID) the semaphore
 * set and the segment and detaches. Returns the first failure of those
 * steps (an object someone already removed is not a failure), but always
 * attempts all three. Idempotent: a second call does nothing and returns
 * SHMCHAN_OK; every other call on the handle returns SHMCHAN_E_CLOSED.
 * Uses only ids kept in private memory. */
shmchan_err_t shmchan_server_close(shmchan_server_t *srv);

/* shmchan_server_close, then frees the handle. NULL is a no-op. */
void shmchan_server_destroy(shmchan_server_t *srv);

/* Connects to the channel at `key`: verifies owner, creator, mode and size
 * of both kernel objects, validates the layout, claims a free slot. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_client_connect(key_t key,
                                                        const shmchan_client_options_t *opts,
                                                        shmchan_client_t **out,
                                                        shmchan_diag_t *diag);

SHMCHAN_MUST_CHECK shmchan_err_t shmchan_client_send(shmchan_client_t *cli, const void *data,
                                                     uint32_t len, int timeout_ms);

/* Receives one message into buf[0, cap); *len is its length. If it does not
 * fit: SHMCHAN_E_OUTPUT_TOO_SMALL, *len = its length, message kept. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_client_recv(shmchan_client_t *cli, void *buf,
                                                     size_t cap, uint32_t *len,
                                                     int timeout_ms);

/* SHMCHAN_OK while the server lives and keeps us; SHMCHAN_E_CLOSED once it
 * is gone or closing; SHMCHAN_E_PROTOCOL if it dropped us. No waiting. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_client_check(shmchan_client_t *cli);

uint32_t shmchan_client_max_payload(const shmchan_client_t *cli);
uint32_t shmchan_client_slot(const shmchan_client_t *cli);

/* Says goodbye (if the lane has room), releases the slot, detaches and
 * frees the handle. NULL is a no-op. */
void shmchan_client_disconnect(shmchan_client_t *cli);

/* ------------------------------------------------------------ inspection */

typedef enum shmchan_status {
    SHMCHAN_STATUS_ABSENT = 0,
    SHMCHAN_STATUS_LIVE,    /* a server runs */
    SHMCHAN_STATUS_BUSY,    /* being initialised or still attached */
    SHMCHAN_STATUS_STALE,   /* ours, server dead: removable */
    SHMCHAN_STATUS_FOREIGN  /* not provably ours: never touched */
} shmchan_status_t;

typedef struct shmchan_channel_info {
    key_t key;
    int shmid, semid;        /* -1 when absent */
    uid_t uid, cuid;         /* of the segment (else the set) */
    unsigned mode;
    uint64_t size;           /* kernel's shm_segsz */
    uint64_t nattch;
    shmchan_status_t status;
    pid_t server_pid;        /* kernel's last pid on the liveness token */
    uint32_t max_clients, max_payload, lane_capacity; /* 0 if no valid header */
    uint32_t clients;        /* slots marked active */
    /* shmchan_remove_stale: multi-user connections at the key's connection
     * keys that are over and ours to remove (we created them, or they were
     * given to us), removed unless dry_run. */
    uint32_t dead_connections;
    char reason[200];
} shmchan_channel_info_t;

const char *shmchan_status_name(shmchan_status_t status);

/* What is at `key` (SHMCHAN_OK with status ABSENT if nothing). */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_inspect(key_t key, shmchan_channel_info_t *info,
                                                 shmchan_diag_t *diag);

/* Every channel-like object visible to us: fills up to cap entries and sets
 * *count to how many there are. Foreign segments are included only if
 * include_foreign. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_list(shmchan_channel_info_t *infos, size_t cap,
                                              size_t *count, int include_foreign,
                                              shmchan_diag_t *diag);

/* Removes the channel at `key` if and only if it is stale and ours
 * (dry_run: only says so), and whatever the channel, every multi-user
 * connection at its connection keys that is over and ours (a client's uid
 * cleans its own this way; info->dead_connections says how many).
 * SHMCHAN_E_ALREADY_RUNNING, _BUSY, _FOREIGN or _NOT_FOUND if the channel
 * is not stale and no connection was ours to remove; *info says what was
 * found. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_remove_stale(key_t key, int dry_run,
                                                      shmchan_channel_info_t *info,
                                                      shmchan_diag_t *diag);

#ifdef __cplusplus
}
#endif

#endif /* SHMCHAN_H */
