/*
 * safety.h - guard macros that keep the happy path readable (after s2n-tls's
 * s2n_safety.h): each evaluates an expression once and returns early with a
 * shmchan_err_t when it does not hold.
 */
#ifndef SHMCHAN_SAFETY_H
#define SHMCHAN_SAFETY_H

#include "shmchan.h"

/* Propagate a failing shmchan_err_t. */
#define GUARD(expr)                                  \
    do {                                             \
        const shmchan_err_t guard_err_ = (expr);     \
        if (guard_err_ != SHMCHAN_OK) {              \
            return guard_err_;                       \
        }                                            \
    } while (0)

/* Return `err` unless `cond` holds. */
#define ENSURE(cond, err)      \
    do {                       \
        if (!(cond)) {         \
            return (err);      \
        }                      \
    } while (0)

/* Argument checks: a NULL pointer the contract forbids. */
#define ENSURE_REF(ptr) ENSURE((ptr) != NULL, SHMCHAN_E_INVALID_ARGUMENT)

#endif /* SHMCHAN_SAFETY_H */
