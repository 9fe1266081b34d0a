/*
 * transport_sysv_mq.c - one System V message queue (IPC_PRIVATE, 0600);
 * A -> B messages have mtype 1, B -> A mtype 2.
 *
 * Limits: the kernel refuses a message larger than kernel.msgmax (8192 by
 * default) and holds at most kernel.msgmnb bytes (16384) per queue. Messages
 * above that are split into msgmax-sized chunks, sent in order; a row counts
 * whole messages. Raising the sysctls would change a machine-wide setting
 * under other users' feet, and "not applicable" would hide the cost a real
 * program pays; chunking measures what an unprivileged program gets.
 * msgsnd(2) wants {long mtype; char mtext[]} contiguous, so every chunk is
 * copied into a staging buffer on both sides: one extra copy the API forces.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "bench/bench.h"
#include "bench/util.h"

struct sysv_mq_msg {
    long mtype;
    char mtext[];
};

struct sysv_mq_link {
    int msqid;
    uint32_t chunk;  /* bytes per msgsnd, <= msgmax */
    long send_type;
    long recv_type;
    struct sysv_mq_msg *staging;
};

static int sysv_mq_create(const bench_cell_t *cell, void **state, bench_err_t *err)
{
    long limit = bench_proc_long("/proc/sys/kernel/msgmax", 8192);
    const long mnb = bench_proc_long("/proc/sys/kernel/msgmnb", 16384);
    limit = (mnb < limit) ? mnb : limit;
    struct sysv_mq_link *l = malloc(sizeof *l);
    if (l == NULL || limit < 1) {
        bench_err_set(err, "sysv_mq: out of memory or msgmax %ld unusable", limit);
        free(l);
        return -1;
    }
    *l = (struct sysv_mq_link){.msqid = -1};
    l->chunk = (uint32_t)((long)cell->size < limit ? (long)cell->size : limit);
    l->msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (l->msqid < 0) {
        bench_err_set(err, "msgget(IPC_PRIVATE, 0600): %s", strerror(errno));
        free(l);
        return -1;
    }
    *state = l;
    return 0;
}

static void sysv_mq_parent_detach(void *state)
{
    (void)state; /* nothing to let go of: the queue is removed in destroy */
}

static int sysv_mq_open(void *state, bench_side_t side, bench_err_t *err)
{
    struct sysv_mq_link *l = state;
    l->send_type = side == BENCH_SIDE_A ? 1 : 2;
    l->recv_type = side == BENCH_SIDE_A ? 2 : 1;
    l->staging = malloc(sizeof *l->staging + l->chunk);
    if (l->staging == NULL) {
        bench_err_set(err, "sysv_mq: out of memory");
        return -1;
    }
    memset(l->staging, 0, sizeof *l->staging + l->chunk);
    return 0;
}

static int sysv_mq_send(void *state, const uint8_t *msg, uint32_t len, bench_err_t *err)
{
    struct sysv_mq_link *l = state;
    for (uint32_t off = 0; off < len;) {
        const uint32_t n = (len - off < l->chunk) ? len - off : l->chunk;
        l->staging->mtype = l->send_type;
        memcpy(l->staging->mtext, msg + off, n);
        if (msgsnd(l->msqid, l->staging, n, 0) != 0) {
            if (errno == EINTR) {
                continue;
            }
            bench_err_set(err, "msgsnd(%u bytes): %s", n, strerror(errno));
            return -1;
        }
        off += n;
    }
    return 0;
}

static int sysv_mq_recv(void *state, uint8_t *buf, uint32_t len, bench_err_t *err)
{
    struct sysv_mq_link *l = state;
    for (uint32_t off = 0; off < len;) {
        const uint32_t n = (len - off < l->chunk) ? len - off : l->chunk;
        const ssize_t got = msgrcv(l->msqid, l->staging, l->chunk, l->recv_type, 0);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            bench_err_set(err, "msgrcv: %s", strerror(errno));
            return -1;
        }
        if ((size_t)got != n) {
            bench_err_set(err, "msgrcv: chunk of %zd bytes, expected %u", got, n);
            return -1;
        }
        memcpy(buf + off, l->staging->mtext, n);
        off += n;
    }
    return 0;
}

static void sysv_mq_close(void *state)
{
    struct sysv_mq_link *l = state;
    free(l->staging);
    l->staging = NULL;
}

static int sysv_mq_destroy(void *state, bench_err_t *err)
{
    struct sysv_mq_link *l = state;
    const int id = l->msqid;
    int rc = 0;
    if (msgctl(id, IPC_RMID, NULL) != 0) {
        bench_err_set(err, "msgctl(%d, IPC_RMID): %s", id, strerror(errno));
        rc = -1;
    } else if (bench_sysvipc_present("msg", 0, id) != 0) {
        bench_err_set(err, "message queue %d still listed in /proc/sysvipc/msg", id);
        rc = -1;
    }
    free(l);
    return rc;
}

const bench_transport_t bench_transport_sysv_mq = {
    .name = "sysv_mq",
    .create = sysv_mq_create,
    .parent_detach = sysv_mq_parent_detach,
    .open = sysv_mq_open,
    .send = sysv_mq_send,
    .recv = sysv_mq_recv,
    .close = sysv_mq_close,
    .destroy = sysv_mq_destroy,
};
