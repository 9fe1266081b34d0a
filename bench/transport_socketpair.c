/*
 * transport_socketpair.c - one AF_UNIX SOCK_STREAM socketpair, default
 * buffer sizes. A stream socket may return fewer bytes than asked for (and
 * does, for 64 KiB and up); bench_fd_read_all loops until the whole message
 * is in, which is what ipc-bench's single recv() got wrong.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/util.h"

struct socketpair_link {
    int sv[2]; /* A uses sv[0], B uses sv[1] */
    int fd;
};

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

static int socketpair_create(const bench_cell_t *cell, void **state, bench_err_t *err)
{
    (void)cell;
    struct socketpair_link *l = malloc(sizeof *l);
    if (l == NULL) {
        bench_err_set(err, "socketpair: out of memory");
        return -1;
    }
    *l = (struct socketpair_link){.sv = {-1, -1}, .fd = -1};
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, l->sv) != 0) {
        bench_err_set(err, "socketpair(AF_UNIX, SOCK_STREAM): %s", strerror(errno));
        free(l);
        return -1;
    }
    *state = l;
    return 0;
}

static void socketpair_parent_detach(void *state)
{
    struct socketpair_link *l = state;
    close_fd(&l->sv[0]);
    close_fd(&l->sv[1]);
}

static int socketpair_open(void *state, bench_side_t side, bench_err_t *err)
{
    (void)err;
    struct socketpair_link *l = state;
    const int mine = side == BENCH_SIDE_A ? 0 : 1;
    l->fd = l->sv[mine];
    close_fd(&l->sv[1 - mine]);
    return 0;
}

static int socketpair_send(void *state, const uint8_t *msg, uint32_t len, bench_err_t *err)
{
    const struct socketpair_link *l = state;
    return bench_fd_write_all(l->fd, msg, len, "socketpair", err);
}

static int socketpair_recv(void *state, uint8_t *buf, uint32_t len, bench_err_t *err)
{
    const struct socketpair_link *l = state;
    return bench_fd_read_all(l->fd, buf, len, "socketpair", err);
}

static void socketpair_close(void *state)
{
    struct socketpair_link *l = state;
    close_fd(&l->sv[0]);
    close_fd(&l->sv[1]);
    l->fd = -1;
}

static int socketpair_destroy(void *state, bench_err_t *err)
{
    (void)err;
    socketpair_parent_detach(state);
    free(state);
    return 0;
}

const bench_transport_t bench_transport_socketpair = {
    .name = "socketpair",
    .create = socketpair_create,
    .parent_detach = socketpair_parent_detach,
    .open = socketpair_open,
    .send = socketpair_send,
    .recv = socketpair_recv,
    .close = socketpair_close,
    .destroy = socketpair_destroy,
};
