/*
 * side.c - the two processes of a cell: warm-up, timed rounds,
 * verification (see side.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/message.h"
#include "bench/side.h"
#include "bench/stats.h"
#include "bench/util.h"

/* No round sends more than this, whatever the clock says. */
#define ROUND_MAX_MSGS (1ull << 34)
#define SYNC_TIMEOUT_MS 30000

struct side_run {
    const bench_side_ctx_t *ctx;
    uint32_t size;
    uint8_t *msg;    /* A: the outgoing message; B: the received one, echoed */
    uint8_t *echo;   /* A, pingpong: the echo */
    int64_t *rtt;    /* A, pingpong: every round trip of the current round */
    uint64_t seq;    /* next sequence number to send (A) or expect (B) */
    uint64_t first_verify_seq; /* seq of the verification round's first message */
    bench_err_t *err;
};

#define FAULT_DROP_SEQ 3u

/* The self-test's damage (see bench_fault_t), done on a copy in r->echo,
 * which is free before a send (the echo is received after it). A "dropped"
 * message is replaced by its successor, as a transport that lost it would
 * deliver; leaving the gap instead would only make pingpong wait forever. */
static const uint8_t *apply_fault(struct side_run *r, const uint8_t *msg)
{
    const bench_fault_t f = r->ctx->plan.fault;
    const int flip = f == BENCH_FAULT_FLIP && r->seq == r->first_verify_seq;
    const int drop = f == BENCH_FAULT_DROP && r->seq == FAULT_DROP_SEQ;
    if (r->ctx->side != BENCH_SIDE_A || !(flip || drop)) {
        return msg;
    }
    memcpy(r->echo, msg, r->size);
    if (flip) {
        r->echo[r->size / 2] ^= 0x10u;
    } else {
        uint32_t ctrl = 0;
        bench_err_t ignored;
        (void)bench_msg_check_stamp(msg, r->size, r->seq, &ctrl, &ignored);
        bench_msg_stamp(r->echo, r->size, r->seq + 1, ctrl);
    }
    return r->echo;
}

static int send_msg(struct side_run *r, const uint8_t *msg)
{
    const bench_side_ctx_t *c = r->ctx;
    const uint8_t *wire = (c->plan.fault == BENCH_FAULT_NONE) ? msg : apply_fault(r, msg);
    return c->transport->send(c->state, wire, r->size, r->err);
}

static int recv_msg(struct side_run *r, uint8_t *buf)
{
    const bench_side_ctx_t *c = r->ctx;
    return c->transport->recv(c->state, buf, r->size, r->err);
}

/* Stream producer: read the clock once per this many messages. The clock
 * costs ~23 ns, more than a 64-byte message on the spin ring; one check per
 * 16 KiB sent keeps the overshoot of a round below a few microseconds for
 * small messages and one message for large ones. */
static uint64_t clock_batch(uint32_t size)
{
    const uint32_t b = 16384u / size;
    return b < 1 ? 1 : (b > 256 ? 256 : b);
}

static int64_t round_stop(double seconds)
{
    return bench_now_ns() + (int64_t)(seconds * 1e9);
}

/* --------------------------------------------------------------- stream */

static int a_stream_timed(struct side_run *r, double seconds, bench_round_t *out)
{
    const uint64_t batch = clock_batch(r->size);
    const int64_t t_start = bench_now_ns();
    const int64_t stop = t_start + (int64_t)(seconds * 1e9);
    for (uint64_t n = 1; n <= ROUND_MAX_MSGS; n++) {
        const int last = n == ROUND_MAX_MSGS || (n % batch == 0 && bench_now_ns() >= stop);
        bench_msg_stamp(r->msg, r->size, r->seq, last ? BENCH_CTRL_END : BENCH_CTRL_DATA);
        if (send_msg(r, r->msg) != 0) {
            return -1;
        }
        r->seq++;
        if (last) {
            break;
        }
    }
    if (out != NULL) {
        out->t_start = t_start;
    }
    return 0;
}

static int a_stream_verify(struct side_run *r)
{
    const uint32_t n = r->ctx->plan.verify_msgs;
    r->first_verify_seq = r->seq;
    for (uint32_t i = 0; i < n; i++) {
        bench_msg_fill_body(r->msg, r->size, r->seq, BENCH_BODY_PER_SEQ);
        bench_msg_stamp(r->msg, r->size, r->seq, i + 1 == n ? BENCH_CTRL_END : BENCH_CTRL_DATA);
        if (send_msg(r, r->msg) != 0) {
            return -1;
        }
        r->seq++;
    }
    return 0;
}

/* Receives until the END message. Timed rounds check the stamp of every
 * message and, once the clock is read, the whole body of the last one;
 * the verification round checks every byte of every message. */
static int b_stream_round(struct side_run *r, bench_body_t body, bench_round_t *out)
{
    uint64_t *verified = &r->ctx->shared->verified_msgs[BENCH_SIDE_B];
    for (uint64_t n = 1; n <= ROUND_MAX_MSGS; n++) {
        uint32_t ctrl = 0;
        if (recv_msg(r, r->msg) != 0 ||
            bench_msg_check_stamp(r->msg, r->size, r->seq, &ctrl, r->err) != 0) {
            return -1;
        }
        if (ctrl == BENCH_CTRL_END && out != NULL) {
            out->t_end = bench_now_ns();
            out->count = n;
        }
        if (body == BENCH_BODY_PER_SEQ || ctrl == BENCH_CTRL_END) {
            if (bench_msg_check_body(r->msg, r->size, r->seq, body, r->err) != 0) {
                return -1;
            }
            (*verified)++;
        }
        r->seq++;
        if (ctrl == BENCH_CTRL_END) {
            r->ctx->shared->total_msgs += n;
            return 0;
        }
    }
    bench_err_set(r->err, "stream round did not end after %llu messages", ROUND_MAX_MSGS);
    return -1;
}

/* ------------------------------------------------------------- pingpong */

static void rtt_summarise(struct side_run *r, size_t n, bench_round_t *out)
{
    bench_sort_i64(r->rtt, n);
    out->p50_ns = bench_percentile(r->rtt, n, 0.50);
    out->p99_ns = bench_percentile(r->rtt, n, 0.99);
    out->p999_ns = bench_percentile(r->rtt, n, 0.999);
}

/* One round trip of the message in r->msg (already stamped with ctrl);
 * checks the echo's stamp. */
static int a_round_trip(struct side_run *r, uint32_t ctrl)
{
    uint32_t got = 0;
    if (send_msg(r, r->msg) != 0 || recv_msg(r, r->echo) != 0 ||
        bench_msg_check_stamp(r->echo, r->size, r->seq, &got, r->err) != 0) {
        return -1;
    }
    if (got != ctrl) {
        bench_err_set(r->err, "echo of seq %llu: ctrl %u, sent %u", (unsigned long long)r->seq,
                      got, ctrl);
        return -1;
    }
    return 0;
}

static int a_pingpong_timed(struct side_run *r, double seconds, bench_round_t *out)
{
    const size_t cap = r->ctx->plan.rtt_cap;
    const int64_t stop = round_stop(seconds);
    int64_t t_start = 0;
    int64_t t_end = 0;
    size_t n = 0;
    for (int last = 0; !last;) {
        const int64_t t1 = bench_now_ns();
        last = t1 >= stop || n + 1 >= cap;
        const uint32_t ctrl = last ? BENCH_CTRL_END : BENCH_CTRL_DATA;
        bench_msg_stamp(r->msg, r->size, r->seq, ctrl);
        if (a_round_trip(r, ctrl) != 0) {
            return -1;
        }
        const int64_t t2 = bench_now_ns();
        t_start = (n == 0) ? t1 : t_start;
        t_end = t2;
        r->rtt[n++] = t2 - t1;
        r->seq++;
    }
    if (bench_msg_check_body(r->echo, r->size, r->seq - 1, BENCH_BODY_FIXED, r->err) != 0) {
        return -1;
    }
    r->ctx->shared->verified_msgs[BENCH_SIDE_A]++;
    if (out != NULL) {
        out->t_start = t_start;
        out->t_end = t_end;
        out->count = n;
        rtt_summarise(r, n, out);
    }
    return 0;
}

static int a_pingpong_verify(struct side_run *r)
{
    const uint32_t n = r->ctx->plan.verify_msgs;
    r->first_verify_seq = r->seq;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t ctrl = (i + 1 == n) ? BENCH_CTRL_END : BENCH_CTRL_DATA;
        bench_msg_fill_body(r->msg, r->size, r->seq, BENCH_BODY_PER_SEQ);
        bench_msg_stamp(r->msg, r->size, r->seq, ctrl);
        if (a_round_trip(r, ctrl) != 0 ||
            bench_msg_check_body(r->echo, r->size, r->seq, BENCH_BODY_PER_SEQ, r->err) != 0) {
            return -1;
        }
        r->ctx->shared->verified_msgs[BENCH_SIDE_A]++;
        r->seq++;
    }
    return 0;
}

/* Echoes until the END message, checking what it echoes: stamps always,
 * bodies in the verification round (before echoing) and of the last
 * message of a timed round (after echoing, outside A's clock). */
static int b_echo_round(struct side_run *r, bench_body_t body)
{
    uint64_t *verified = &r->ctx->shared->verified_msgs[BENCH_SIDE_B];
    for (uint64_t n = 1; n <= ROUND_MAX_MSGS; n++) {
        uint32_t ctrl = 0;
        if (recv_msg(r, r->msg) != 0 ||
            bench_msg_check_stamp(r->msg, r->size, r->seq, &ctrl, r->err) != 0) {
            return -1;
        }
        const int check = body == BENCH_BODY_PER_SEQ || ctrl == BENCH_CTRL_END;
        if (body == BENCH_BODY_PER_SEQ &&
            bench_msg_check_body(r->msg, r->size, r->seq, body, r->err) != 0) {
            return -1;
        }
        if (send_msg(r, r->msg) != 0) {
            return -1;
        }
        if (body == BENCH_BODY_FIXED && ctrl == BENCH_CTRL_END &&
            bench_msg_check_body(r->msg, r->size, r->seq, body, r->err) != 0) {
            return -1;
        }
        *verified += check ? 1u : 0u;
        r->seq++;
        if (ctrl == BENCH_CTRL_END) {
            r->ctx->shared->total_msgs += n;
            return 0;
        }
    }
    bench_err_set(r->err, "pingpong round did not end after %llu messages", ROUND_MAX_MSGS);
    return -1;
}

/* --------------------------------------------------------------- rounds */

/* Round i of the schedule: 0 warm-up, 1..reps timed, reps+1 verification. */
static int a_round(struct side_run *r, uint32_t i)
{
    const bench_plan_t *p = &r->ctx->plan;
    if (r->ctx->cell.mode == BENCH_MODE_PINGPONG) {
        return (i == p->reps + 1) ? a_pingpong_verify(r)
                                  : a_pingpong_timed(r, i == 0 ? p->warmup_seconds : p->seconds,
                                                     i == 0 ? NULL : &r->ctx->shared->rounds[i - 1]);
    }
    const int rc = (i == p->reps + 1)
                       ? a_stream_verify(r)
                       : a_stream_timed(r, i == 0 ? p->warmup_seconds : p->seconds,
                                        i == 0 ? NULL : &r->ctx->shared->rounds[i - 1]);
    /* Wait until B has taken the whole round, so that the next round's
     * clock does not start while B still drains this one's backlog. */
    return rc != 0 ? rc
                   : bench_fd_wait_byte(r->ctx->ready_fd, SYNC_TIMEOUT_MS, "waiting for side B "
                                        "to finish a round", r->err);
}

static int b_round(struct side_run *r, uint32_t i)
{
    const bench_plan_t *p = &r->ctx->plan;
    const bench_body_t body = (i == p->reps + 1) ? BENCH_BODY_PER_SEQ : BENCH_BODY_FIXED;
    if (r->ctx->cell.mode == BENCH_MODE_PINGPONG) {
        return b_echo_round(r, body);
    }
    bench_round_t *out = (i == 0 || i == p->reps + 1) ? NULL : &r->ctx->shared->rounds[i - 1];
    static const uint8_t ack = 'K';
    if (b_stream_round(r, body, out) != 0) {
        return -1;
    }
    return bench_fd_write_all(r->ctx->ready_fd, &ack, 1, "round acknowledgement", r->err);
}

/* Buffers are allocated and touched before the first round, so no page
 * fault lands in a timed one. */
static int side_alloc(struct side_run *r)
{
    const size_t padded = ((size_t)r->size + 63u) & ~(size_t)63u;
    r->msg = aligned_alloc(64, padded);
    r->echo = aligned_alloc(64, padded);
    const int pinger = r->ctx->side == BENCH_SIDE_A && r->ctx->cell.mode == BENCH_MODE_PINGPONG;
    if (pinger) {
        r->rtt = malloc(r->ctx->plan.rtt_cap * sizeof *r->rtt);
    }
    if (r->msg == NULL || r->echo == NULL || (pinger && r->rtt == NULL)) {
        bench_err_set(r->err, "out of memory for %u-byte buffers", r->size);
        return -1;
    }
    memset(r->msg, 0, padded);
    memset(r->echo, 0, padded);
    if (pinger) {
        memset(r->rtt, 0, r->ctx->plan.rtt_cap * sizeof *r->rtt);
    }
    bench_msg_fill_body(r->msg, r->size, 0, BENCH_BODY_FIXED);
    return 0;
}

static void side_free(struct side_run *r)
{
    free(r->msg);
    free(r->echo);
    free(r->rtt);
}

static int side_open(struct side_run *r)
{
    const bench_side_ctx_t *c = r->ctx;
    static const uint8_t go = 'R';
    if (c->side == BENCH_SIDE_B) {
        if (c->transport->open(c->state, BENCH_SIDE_B, r->err) != 0) {
            return -1;
        }
        return bench_fd_write_all(c->ready_fd, &go, 1, "ready signal", r->err);
    }
    if (bench_fd_wait_byte(c->ready_fd, SYNC_TIMEOUT_MS, "waiting for side B to open",
                           r->err) != 0) {
        return -1;
    }
    return c->transport->open(c->state, BENCH_SIDE_A, r->err);
}

/* A closes first and says so; B closes only then, so nothing A still
 * reads disappears under it. */
static int side_close(struct side_run *r)
{
    const bench_side_ctx_t *c = r->ctx;
    static const uint8_t done = 'D';
    if (c->side == BENCH_SIDE_A) {
        c->transport->close(c->state);
        return bench_fd_write_all(c->done_fd, &done, 1, "done signal", r->err);
    }
    const int rc = bench_fd_wait_byte(c->done_fd, SYNC_TIMEOUT_MS, "waiting for side A to finish",
                                      r->err);
    c->transport->close(c->state);
    return rc;
}

int bench_side_run(const bench_side_ctx_t *ctx)
{
    struct side_run r = {.ctx = ctx,
                         .size = ctx->cell.size,
                         .first_verify_seq = UINT64_MAX,
                         .err = &ctx->shared->err[ctx->side]};
    int rc = side_alloc(&r);
    if (rc == 0) {
        rc = side_open(&r);
        if (rc == 0) {
            for (uint32_t i = 0; rc == 0 && i <= ctx->plan.reps + 1; i++) {
                rc = (ctx->side == BENCH_SIDE_A) ? a_round(&r, i) : b_round(&r, i);
            }
            if (rc == 0) {
                rc = side_close(&r);
            } else {
                /* Give back what this side holds; the parent kills the
                 * other side and checks that nothing is left. */
                ctx->transport->close(ctx->state);
            }
        }
    }
    side_free(&r);
    return rc;
}
