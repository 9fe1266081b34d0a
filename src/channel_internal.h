/*
 * channel_internal.h - small helpers shared by server.c and client.c.
 */
#ifndef SHMCHAN_CHANNEL_INTERNAL_H
#define SHMCHAN_CHANNEL_INTERNAL_H

#include "shmchan.h"

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

#endif /* SHMCHAN_CHANNEL_INTERNAL_H */
