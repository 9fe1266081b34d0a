/*
 * error.c - messages and names for shmchan_err_t.
 *
 * Both tables are generated from shmchan_error.inc, the same list the enum is
 * made from, so a code cannot exist without its message.
 */
#include "shmchan.h"

static const char *const shmchan_messages[SHMCHAN_ERR_COUNT] = {
#define X(name, message) [name] = message,
#include "shmchan_error.inc"
#undef X
};

static const char *const shmchan_names[SHMCHAN_ERR_COUNT] = {
#define X(name, message) [name] = #name,
#include "shmchan_error.inc"
#undef X
};

const char *shmchan_strerror(shmchan_err_t err)
{
    /* The enum's underlying type may be signed: test both ends. */
    if ((int)err < 0 || (int)err >= (int)SHMCHAN_ERR_COUNT) {
        return "unknown error";
    }
    return shmchan_messages[err];
}

const char *shmchan_errname(shmchan_err_t err)
{
    if ((int)err < 0 || (int)err >= (int)SHMCHAN_ERR_COUNT) {
        return "SHMCHAN_E_UNKNOWN";
    }
    return shmchan_names[err];
}
