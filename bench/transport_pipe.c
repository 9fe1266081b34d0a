/*
 * transport_pipe.c - two anonymous pipes, one per direction, default
 * capacity (64 KiB). Messages larger than that are written in pieces by
 * the kernel; bench_fd_{write,read}_all loop until the whole message moved.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/util.h"

struct pipe_link {
    int ab[2]; /* A writes ab[1], B reads ab[0] */
    int ba[2]; /* B writes ba[1], A reads ba[0] */
    int rfd, wfd;
};

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

static void close_all(struct pipe_link *l)
{
    close_fd(&l->ab[0]);
    close_fd(&l->ab[1]);
    close_fd(&l->ba[0]);
    close_fd(&l->ba[1]);
}

static int pipe_create(const bench_cell_t *cell, void **state, bench_err_t *err)
{
    (void)cell;
    struct pipe_link *l = malloc(sizeof *l);
    if (l == NULL) {
        bench_err_set(err, "pipe: out of memory");
        return -1;
    }
    *l = (struct pipe_link){.ab = {-1, -1}, .ba = {-1, -1}, .rfd = -1, .wfd = -1};
    if (pipe(l->ab) != 0 || pipe(l->ba) != 0) {
        bench_err_set(err, "pipe(): %s", strerror(errno));
        close_all(l);
        free(l);
        return -1;
    }
    *state = l;
    return 0;
}

static void pipe_parent_detach(void *state)
{
    close_all(state);
}

/* Keep only this side's ends, so the peer's exit shows as EOF/EPIPE. */
static int pipe_open(void *state, bench_side_t side, bench_err_t *err)
{
    (void)err;
    struct pipe_link *l = state;
    if (side == BENCH_SIDE_A) {
        l->wfd = l->ab[1];
        l->rfd = l->ba[0];
        close_fd(&l->ab[0]);
        close_fd(&l->ba[1]);
    } else {
        l->wfd = l->ba[1];
        l->rfd = l->ab[0];
        close_fd(&l->ba[0]);
        close_fd(&l->ab[1]);
    }
    return 0;
}

static int pipe_send(void *state, const uint8_t *msg, uint32_t len, bench_err_t *err)
{
    const struct pipe_link *l = state;
    return bench_fd_write_all(l->wfd, msg, len, "pipe", err);
}

static int pipe_recv(void *state, uint8_t *buf, uint32_t len, bench_err_t *err)
{
    const struct pipe_link *l = state;
    return bench_fd_read_all(l->rfd, buf, len, "pipe", err);
}

static void pipe_close(void *state)
{
    close_all(state);
}

static int pipe_destroy(void *state, bench_err_t *err)
{
    (void)err;
    close_all(state);
    free(state);
    return 0;
}

const bench_transport_t bench_transport_pipe = {
    .name = "pipe",
    .create = pipe_create,
    .parent_detach = pipe_parent_detach,
    .open = pipe_open,
    .send = pipe_send,
    .recv = pipe_recv,
    .close = pipe_close,
    .destroy = pipe_destroy,
};
