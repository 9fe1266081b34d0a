/*
 * channel_internal.h - small helpers shared by server.c and client.c.
 */
#ifndef SHMCHAN_CHANNEL_INTERNAL_H
#define SHMCHAN_CHANNEL_INTERNAL_H

#include "lane.h"
#include "shmchan.h"
#include "wake.h"

/* GUARD for functions that return an int status and pass the error out:
 * on failure stores it in *errp and returns -1. */
#define GUARD_INT(expr, errp)                      \
    do {                                           \
        const shmchan_err_t guard_int_ = (expr);   \
        if (guard_int_ != SHMCHAN_OK) {            \
            *(errp) = guard_int_;                  \
            return -1;                             \
        }                                          \
    } while (0)

struct shmchan_writable_arg {
    const shmchan_lane_t *lane;
    uint32_t len;
};

static inline int shmchan_writable_cb(void *p)
{
    const struct shmchan_writable_arg *a = p;
    return shmchan_lane_writable(a->lane, a->len);
}

static inline int shmchan_readable_cb(void *p)
{
    return shmchan_lane_readable((const shmchan_lane_t *)p);
}

/* Spin (bounded) until the lane has room for `len` / has data. */
static inline int spin_until_writable(const shmchan_lane_t *lane, uint32_t len, uint32_t spin_ns)
{
    struct shmchan_writable_arg a = {lane, len};
    return shmchan_spin_until(shmchan_writable_cb, &a, spin_ns);
}

static inline int spin_until_readable(const shmchan_lane_t *lane, uint32_t spin_ns)
{
    return shmchan_spin_until(shmchan_readable_cb, (void *)(uintptr_t)lane, spin_ns);
}

#endif /* SHMCHAN_CHANNEL_INTERNAL_H */
