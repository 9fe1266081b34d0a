/*
 * conn.h - a connection's own objects in a multi-user channel: where they
 * are, and whether the server may take them (pure).
 *
 * docs/multiuser.md has the design. Each client creates a semaphore set
 * and a segment at the key shmchan_conn_key(channel, slot), mode 0600, and
 * gives both to the server with IPC_SET (uid = the server's). The kernel
 * records the client's uid as `cuid` and lets nobody change it, so the
 * creator uid of objects the server owns names the client the way
 * SO_PEERCRED names a socket's peer. shmchan_conn_judge decides, from
 * the kernel's metadata alone (never a byte a process wrote), whether the
 * objects at a connection key are absent, still being set up, a
 * connection to accept, one to refuse, or the leftovers of a dead client.
 */
#ifndef SHMCHAN_CONN_H
#define SHMCHAN_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sysv.h"

/* The connection set: the client's token and the two wake semaphores of
 * today's slot, and the server's verdict on the connection. */
enum {
    SHMCHAN_CONN_SEM_OWNER = 0,   /* 1 while the client holds it (SEM_UNDO token) */
    SHMCHAN_CONN_SEM_RX = 1,      /* binary: wakes the client's receiver */
    SHMCHAN_CONN_SEM_TX = 2,      /* binary: wakes the client's sender */
    SHMCHAN_CONN_SEM_VERDICT = 3, /* shmchan_conn_verdict_value below */
    /* The server's SEM_UNDO token on this connection, taken when it
     * accepts: how the client learns the server died. Only the client and
     * the server may operate on this set, so no third process can move it
     * or become its last operator (the channel's own set, which holds the
     * server's token for inspection, stays 0600 for the same reason:
     * any reader could otherwise complete a wait-for-zero on that token
     * and stand in the kernel's record as its last operator). */
    SHMCHAN_CONN_SEM_SERVER = 4,
    SHMCHAN_CONN_NSEMS = 5
};

/* Values the server sets VERDICT to (0 until it has decided). */
enum {
    SHMCHAN_CONN_VERDICT_PENDING = 0,
    SHMCHAN_CONN_VERDICT_ACCEPTED = 1,
    SHMCHAN_CONN_VERDICT_REFUSED_UID = 2,  /* the creator's uid is not allowed */
    SHMCHAN_CONN_VERDICT_REFUSED_SHAPE = 3 /* not a connection as the server requires */
};

/* The only mode a connection's objects may have: with cuid = the client
 * and uid = the server, 0600 grants exactly those two uids. */
#define SHMCHAN_CONN_MODE 0600u

/* The key of slot `slot`'s objects in the channel at `channel`. The keys of
 * one channel are consecutive from a base mixed from `channel`, so the
 * slots of a channel never share a key; none is IPC_PRIVATE (0) or the
 * channel's own key. slot < SHMCHAN_MAX_CLIENTS_LIMIT is the caller's
 * precondition. */
key_t shmchan_conn_key(key_t channel, uint32_t slot);

/* The key of the channel's doorbell (docs/multiuser.md): the next one after
 * the slots' window. A key, not IPC_PRIVATE, so that a doorbell left by a
 * server killed before it wrote the doorbell's id anywhere is still found
 * (and reclaimed) from the channel key alone. */
key_t shmchan_doorbell_key(key_t channel);

/* Who may connect: the server's own uid always; then any uid in `uids`,
 * and any client whose creator gid, or any group of its account, is in
 * `gids`. */
typedef struct shmchan_allow {
    uid_t server_uid;
    const uid_t *uids;
    size_t nuids;
    const gid_t *gids;
    size_t ngids;
} shmchan_allow_t;

/* What the server learned from the kernel about the objects at one
 * connection key (probe side: IPC_STAT of both, GETVAL and GETPID of
 * OWNER), and the groups of the creator's account (from the system's
 * group database, for the kernel-attested cuid). */
typedef struct shmchan_conn_facts {
    uint64_t conn_size; /* the size the server's layout requires */
    int sem_present;
    int sem_readable;   /* IPC_STAT allowed: a 0600 set not given to us is not */
    shmchan_sys_sem_info_t sem;
    int owner_value;
    pid_t owner_pid;
    int verdict_value; /* VERDICT: 0 until a server decided */
    int shm_present;
    int shm_readable;
    shmchan_sys_shm_info_t shm;
    const gid_t *member_of;
    size_t nmember_of;
} shmchan_conn_facts_t;

typedef enum shmchan_conn_decision {
    SHMCHAN_CONN_ABSENT,        /* nothing at the key: the slot is free */
    SHMCHAN_CONN_PENDING,       /* not (yet) given to the server: look again later */
    SHMCHAN_CONN_ACCEPT,        /* attach it, VERDICT = ACCEPTED */
    SHMCHAN_CONN_REFUSE_UID,    /* VERDICT = REFUSED_UID, attach nothing */
    SHMCHAN_CONN_REFUSE_SHAPE,  /* VERDICT = REFUSED_SHAPE, attach nothing */
    SHMCHAN_CONN_DEAD,          /* given to us, its client gone: remove both */
    SHMCHAN_CONN_JUDGED         /* a verdict is in already (an earlier server's): leave it */
} shmchan_conn_decision_t;

/* 1 if the creator (cuid, cgid, and the groups of its account) may
 * connect under `allow`. */
int shmchan_conn_allowed(const shmchan_allow_t *allow, uid_t cuid, gid_t cgid,
                         const gid_t *member_of, size_t nmember_of);

/* The one rule for a connection's objects. `why` (len bytes) gets the
 * reason of every decision but ACCEPT and ABSENT. Pure. */
shmchan_conn_decision_t shmchan_conn_judge(const shmchan_conn_facts_t *facts,
                                           const shmchan_allow_t *allow, char *why,
                                           size_t len);

const char *shmchan_conn_decision_name(shmchan_conn_decision_t decision);

/* The OS half (conn_probe.c): what the kernel says about the objects at
 * `key`, metadata only (nothing is attached), as the calling process may
 * see it: a set it may not stat is present but unreadable. The creator's
 * groups go into groups[0..cap). Fails only when the kernel refuses in a
 * way that says nothing about the key. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_conn_gather(key_t key, uint64_t conn_size,
                                                     gid_t *groups, size_t cap,
                                                     shmchan_conn_facts_t *facts,
                                                     shmchan_diag_t *diag);

/* 1 if the connection described is over and `me` may remove it: a
 * connection's shape, operated on, its client's token down (the kernel's
 * undo of a dead client, or a client that let go), and `me` its owner (the
 * server it was given to) or its creator (the client's uid). Pure. */
int shmchan_conn_dead_for(const shmchan_conn_facts_t *facts, uid_t me);

/* Removes a connection that is dead for `me` by the ids gathered: the set,
 * and the segment only if it is the same client's and ours too. */
void shmchan_conn_remove_dead(const shmchan_conn_facts_t *facts, uid_t me);

/* Every connection of the channel at `channel` that is dead for the calling
 * uid, at each of the channel's connection keys (SHMCHAN_MAX_CLIENTS_LIMIT
 * of them), removed unless dry_run; returns how many. The sweep of a
 * multi-user server as it starts and closes, of a stale channel's reclaim,
 * and of `shmchanctl clean --stale` run by a server's or a client's uid. A
 * connection whose client holds its token is left to that client. */
uint32_t shmchan_conn_sweep_dead(key_t channel, int dry_run);

/* The modes of the server's shared objects under an allow list
 * (docs/multiuser.md, "Objects"). Only the server's own uid: everything
 * 0600, as a single-user channel. Otherwise the header is readable by
 * everyone (0644: it holds no message, and only the server writes it), the
 * channel's set stays 0600 (see SHMCHAN_CONN_SEM_SERVER), and the doorbell
 * is alterable but not readable by the fewest it can be: the one allowed
 * group (0620, group = it) when only one group and no other uid is
 * allowed, else everyone (0622). The doorbell carries no data: what a
 * ringer can do with it is bounded in the threat model. */
typedef struct shmchan_conn_modes {
    unsigned server_mode;   /* the header segment (the set is always 0600) */
    unsigned doorbell_mode;
    int doorbell_set_gid;   /* 1: give the doorbell to doorbell_gid */
    gid_t doorbell_gid;
} shmchan_conn_modes_t;

void shmchan_conn_modes(const shmchan_allow_t *allow, shmchan_conn_modes_t *out);

/* A client's own objects for one connection. */
typedef struct shmchan_conn_objects {
    key_t key;
    int semid;
    int shmid;
    uint8_t *base; /* attached read-write */
    int token_taken;
} shmchan_conn_objects_t;

/* The client's half (conn_probe.c): at `key`, create the set (IPC_EXCL:
 * the kernel lets exactly one creator win a key), take the token with
 * SEM_UNDO (from here on the kernel tells the server if this process
 * dies), create and attach the segment of `size` bytes, then give both to
 * `server_uid` - the segment first, the set last, because the set's owner
 * is what the server looks at first. SHMCHAN_E_ALREADY_RUNNING if the key
 * is taken (try the next). On any other failure everything created is
 * removed again (as its creator) and `out` is reset. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_conn_create(key_t key, uint64_t size, uid_t server_uid,
                                                     shmchan_conn_objects_t *out,
                                                     shmchan_diag_t *diag);

/* Releases the token, detaches and removes both objects (creator's right),
 * whatever of them exists: the client's cleanup when the server refused it
 * or is gone. Carries on past a failure and reports none: there is nothing
 * a caller could do about one (an object already gone is what removal
 * wanted). */
void shmchan_conn_destroy(shmchan_conn_objects_t *objects);

#endif /* SHMCHAN_CONN_H */
