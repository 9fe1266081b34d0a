/*
 * transport_posix_mq.c - two POSIX message queues, one per direction,
 * created O_EXCL with mode 0600 and unlinked at once: only the two
 * processes holding descriptors can ever reach them.
 *
 * Limits: mq_msgsize may not exceed fs.mqueue.msgsize_max (8192 by default)
 * for an unprivileged caller, and the queue holds at most fs.mqueue.msg_max
 * (10) messages. As for sysv_mq, larger messages are sent as chunks of
 * msgsize_max bytes, in order (see transport_sysv_mq.c for why). Chunks are
 * received in place; only a final partial chunk goes through a staging
 * buffer, because mq_receive(3) insists on a buffer of mq_msgsize bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/util.h"

struct posix_mq_link {
    mqd_t q[2];     /* [0]: A -> B, [1]: B -> A */
    mqd_t wq, rq;   /* this side's */
    uint32_t chunk; /* bytes per message = mq_msgsize */
    char *staging;
    char name[2][64];
};

static int open_queue(struct posix_mq_link *l, int dir, long maxmsg, bench_err_t *err)
{
    struct mq_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.mq_maxmsg = maxmsg;
    attr.mq_msgsize = (long)l->chunk;
    l->q[dir] = mq_open(l->name[dir], O_CREAT | O_EXCL | O_RDWR, (mode_t)0600, &attr);
    if (l->q[dir] == (mqd_t)-1) {
        bench_err_set(err, "mq_open(%s, O_EXCL, 0600, maxmsg %ld, msgsize %u): %s", l->name[dir],
                      maxmsg, l->chunk, strerror(errno));
        return -1;
    }
    /* Unlinked before anyone else could guess the name and open it. */
    if (mq_unlink(l->name[dir]) != 0) {
        bench_err_set(err, "mq_unlink(%s): %s", l->name[dir], strerror(errno));
        return -1;
    }
    return 0;
}

static void close_queues(struct posix_mq_link *l)
{
    for (int d = 0; d < 2; d++) {
        if (l->q[d] != (mqd_t)-1) {
            (void)mq_close(l->q[d]);
            l->q[d] = (mqd_t)-1;
        }
    }
}

static int posix_mq_create(const bench_cell_t *cell, void **state, bench_err_t *err)
{
    const long msgsize_max = bench_proc_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
    const long msg_max = bench_proc_long("/proc/sys/fs/mqueue/msg_max", 10);
    struct posix_mq_link *l = malloc(sizeof *l);
    if (l == NULL || msgsize_max < 1 || msg_max < 1) {
        bench_err_set(err, "posix_mq: out of memory or unusable limits");
        free(l);
        return -1;
    }
    *l = (struct posix_mq_link){.q = {(mqd_t)-1, (mqd_t)-1}, .wq = (mqd_t)-1, .rq = (mqd_t)-1};
    l->chunk = (uint32_t)((long)cell->size < msgsize_max ? (long)cell->size : msgsize_max);
    const long maxmsg = msg_max < 10 ? msg_max : 10;
    for (int d = 0; d < 2; d++) {
        (void)snprintf(l->name[d], sizeof l->name[d], "/ipcbench.%ld.%u.%d", (long)getpid(),
                       cell->serial, d);
        if (open_queue(l, d, maxmsg, err) != 0) {
            close_queues(l);
            free(l);
            return -1;
        }
    }
    *state = l;
    return 0;
}

static void posix_mq_parent_detach(void *state)
{
    close_queues(state);
}

static int posix_mq_open(void *state, bench_side_t side, bench_err_t *err)
{
    struct posix_mq_link *l = state;
    l->wq = l->q[side == BENCH_SIDE_A ? 0 : 1];
    l->rq = l->q[side == BENCH_SIDE_A ? 1 : 0];
    l->staging = malloc(l->chunk);
    if (l->staging == NULL) {
        bench_err_set(err, "posix_mq: out of memory");
        return -1;
    }
    memset(l->staging, 0, l->chunk);
    return 0;
}

static int posix_mq_send(void *state, const uint8_t *msg, uint32_t len, bench_err_t *err)
{
    const struct posix_mq_link *l = state;
    for (uint32_t off = 0; off < len;) {
        const uint32_t n = (len - off < l->chunk) ? len - off : l->chunk;
        if (mq_send(l->wq, (const char *)msg + off, n, 0) != 0) {
            if (errno == EINTR) {
                continue;
            }
            bench_err_set(err, "mq_send(%u bytes): %s", n, strerror(errno));
            return -1;
        }
        off += n;
    }
    return 0;
}

static int posix_mq_recv(void *state, uint8_t *buf, uint32_t len, bench_err_t *err)
{
    const struct posix_mq_link *l = state;
    for (uint32_t off = 0; off < len;) {
        const uint32_t n = (len - off < l->chunk) ? len - off : l->chunk;
        char *dst = (n == l->chunk) ? (char *)buf + off : l->staging;
        const ssize_t got = mq_receive(l->rq, dst, l->chunk, NULL);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            bench_err_set(err, "mq_receive: %s", strerror(errno));
            return -1;
        }
        if ((size_t)got != n) {
            bench_err_set(err, "mq_receive: chunk of %zd bytes, expected %u", got, n);
            return -1;
        }
        if (dst == l->staging) {
            memcpy(buf + off, l->staging, n);
        }
        off += n;
    }
    return 0;
}

static void posix_mq_close(void *state)
{
    struct posix_mq_link *l = state;
    close_queues(l);
    free(l->staging);
    l->staging = NULL;
}

/* Unlinked at creation and closed by every process: gone. Make sure no
 * name is left behind. */
static int posix_mq_destroy(void *state, bench_err_t *err)
{
    struct posix_mq_link *l = state;
    close_queues(l);
    int rc = 0;
    for (int d = 0; d < 2 && rc == 0; d++) {
        const mqd_t q = mq_open(l->name[d], O_RDONLY);
        if (q != (mqd_t)-1) {
            (void)mq_close(q);
            (void)mq_unlink(l->name[d]);
            bench_err_set(err, "POSIX queue %s was still there", l->name[d]);
            rc = -1;
        }
    }
    free(l);
    return rc;
}

const bench_transport_t bench_transport_posix_mq = {
    .name = "posix_mq",
    .create = posix_mq_create,
    .parent_detach = posix_mq_parent_detach,
    .open = posix_mq_open,
    .send = posix_mq_send,
    .recv = posix_mq_recv,
    .close = posix_mq_close,
    .destroy = posix_mq_destroy,
};
