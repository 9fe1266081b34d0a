/*
 * handmade.h - a shmchan channel assembled by a test, object by object, so
 * that each property a client checks can be made wrong alone: who created
 * and who owns each object, which set the header names, the set's shape.
 * Everything else is what a real server leaves: marker, liveness token,
 * READY, both slots offered, a published header. A handmade channel that
 * breaks nothing is accepted by a client (each test shows that first), so
 * a refusal is about the one property the test changed.
 */
#ifndef SHMCHAN_TESTS_HANDMADE_H
#define SHMCHAN_TESTS_HANDMADE_H

#include <sys/types.h>

/* "nobody": the second uid of the real-uid tests. */
#define HANDMADE_OTHER_UID ((uid_t)65534)

typedef struct handmade_spec {
    int set_by_other;      /* semget run as HANDMADE_OTHER_UID */
    int shm_by_other;      /* shmget run as HANDMADE_OTHER_UID */
    int header_names_other_set; /* the header names a second set, not the one at the key */
    int set_one_slot_more; /* the set has the semaphores of one more slot than the header */
    int token_untouched;   /* the liveness token never operated: value 0, last pid 0 */
} handmade_spec_t;

/* Builds the channel at `key` (2 slots, max_payload 64, lane 256).
 * Returns 0, or 77 if an object could not be made by the other uid
 * (not root, or the uid is not mapped here). Both objects are 0600. */
int handmade_build(key_t key, const handmade_spec_t *spec);

/* IPC_SET the owner uid of the set / segment at `key`: 0 or -1 (errno). */
int handmade_set_owner(key_t key, int which_shm, uid_t uid);

/* IPC_SET the mode bits of the set / segment at `key`: 0 or -1. */
int handmade_set_mode(key_t key, int which_shm, unsigned mode);

/* Removes the set and segment at `key` and the second set, if any. */
void handmade_remove(key_t key);

#endif /* SHMCHAN_TESTS_HANDMADE_H */
