/*
 * lane_driver.c - EVA driver for src/lane.c (with the codec it calls):
 * every entry point, every input within the bounds (docs/proofs.md).
 *
 * One entry function per analysis (frama-c -main): eva_lane_init,
 * eva_lane_others (the small entry points), eva_lane_send, eva_lane_recv.
 * They run with the ring copies replaced by their contracts
 * (proofs/stubs/lane_ring_spec.h, -eva-use-spec), which EVA checks at every
 * call; lane_ring_driver.c proves the copies' bodies against them. So no
 * state per ring offset is needed here: pos is any value, as one state.
 *
 * Bound: the ring's storage is CAP bytes (a power of two, override with -D);
 * the lane is bound to it with every capacity the lane accepts up to CAP
 * and every max_payload init accepts up to MSG_MAX. The shared words (head,
 * tail, the waiting flags) are read through the atomic stubs, so each read
 * returns any value, as a hostile peer may store; the ring's bytes are any
 * bytes. The private state (pos, peer, seq, fault, the fragment and stash
 * fields) is given ANY value, not only the ones an honest history reaches:
 * memory safety must not depend on it.
 */
#include "driver.h"
#include "lane.h"
#include "shmchan.h"

#ifndef CAP
#define CAP 64
#endif
#define CAP_MIN 64 /* SHMCHAN_LANE_CAPACITY_FLOOR: half of it holds a header and a byte */

static uint8_t ctl_store[SHMCHAN_LANE_CTL_SIZE];
/* Messages (max_payload) of up to MSG_MAX bytes (proofs_test.sh passes 8:
 * at most fragment_max at every capacity, so one frame each). */
#ifndef MSG_MAX
#define MSG_MAX 32
#endif

static uint8_t ring_store[CAP];
static uint8_t pay_store[MSG_MAX];
static uint8_t buf_store[MSG_MAX];
/* The consumer's stash, or none. */
static uint8_t stash_store[MSG_MAX];

/* Any uint32_t, as one EVA state per value in [0, MSG_MAX] and one for
 * all larger values: a count of message bytes (send_off, asm_len), whose
 * relation with the lengths it is compared with must survive. */
#define ANY_SMALL_OR_LARGE()                                                    \
    (Frama_C_nondet(0, 1) ? (uint32_t)SPLIT(0, MSG_MAX)                         \
                          : Frama_C_unsigned_int_interval(MSG_MAX + 1u, UINT32_MAX))

/* Binds `lane` to a ring that ends where ring_store ends, with any
 * capacity in {CAP_MIN, ..., CAP} and any max_payload; then any private
 * state. send_off_ and asm_len_ give the producer's and the consumer's
 * count of message bytes: ANY_SMALL_OR_LARGE() where the entry point
 * compares it with a length (the relation must survive), ANY_U32() (one
 * state) where it does not. stash_: whether to try a stash (the consumer's
 * entry points). Evaluates to 0 when init refused (the caller stops). A
 * macro: the splits must survive. */
#define ANY_LANE(lane, send_off_, asm_len_, stash_)                             \
    ({                                                                          \
        uint32_t cap_ = CAP;                                                    \
        while (cap_ > CAP_MIN && Frama_C_nondet(0, 1)) {                        \
            cap_ /= 2u;                                                         \
        }                                                                       \
        const shmchan_err_t ierr_ = shmchan_lane_init(                          \
            &(lane), ctl_store, TAIL(ring_store, cap_), cap_,                   \
            (uint32_t)Frama_C_interval(0, MSG_MAX));                            \
        if (ierr_ == SHMCHAN_OK) {                                              \
            (lane).pos = ANY_U32();                                             \
            (lane).peer = ANY_U32();                                            \
            (lane).seq = ANY_U64();                                             \
            (lane).fault = (shmchan_err_t)Frama_C_interval(0, SHMCHAN_ERR_COUNT - 1); \
            /* What init computes at these bounds (max_payload <= MSG_MAX =  \
             * fragment_max: one frame per message), which EVA's intervals  \
             * cannot see (ceil(p / f) with p, f in [1, 8] is [0, 15]).     \
             * Larger messages: docs/proofs.md, "Bounds". */                \
            (lane).max_frames = 1u;                                             \
            (lane).send_len = ANY_U32();                                        \
            (lane).send_off = (send_off_);                                      \
            (lane).send_type = Frama_C_unsigned_char_interval(0, 255);          \
            (lane).asm_state = (shmchan_lane_asm_t)Frama_C_interval(0, 2);      \
            (lane).asm_type = Frama_C_unsigned_char_interval(0, 255);           \
            (lane).asm_len = (asm_len_);                                        \
            (lane).progressed = Frama_C_interval(0, 1);                         \
            if ((stash_) && Frama_C_nondet(0, 1)) {                            \
                (void)shmchan_lane_set_stash(&(lane), stash_store,              \
                                             (size_t)Frama_C_interval(0, MSG_MAX)); \
            }                                                                   \
        }                                                                       \
        ierr_ == SHMCHAN_OK;                                                    \
    })

static void drive_init(void)
{
    shmchan_lane_t lane;
    (void)shmchan_lane_init(OR_NULL(&lane), OR_NULL(&ctl_store[0]), OR_NULL(&ring_store[0]),
                            ANY_U32(), ANY_U32());
}

static void drive_try_send(void)
{
    shmchan_lane_t lane;
    if (!ANY_LANE(lane, ANY_SMALL_OR_LARGE(), ANY_U32(), 0)) {
        return;
    }
    /* Every message length up to MSG_MAX, and every longer one (rejected
     * untouched: the lane's max_payload is at most MSG_MAX). */
    uint32_t len;
    const uint8_t *payload;
    if (Frama_C_nondet(0, 1)) {
        len = (uint32_t)SPLIT(0, MSG_MAX);
        payload = OR_NULL(TAIL(pay_store, len));
    } else {
        len = Frama_C_unsigned_int_interval(MSG_MAX + 1u, UINT32_MAX);
        payload = OR_NULL(&pay_store[0]);
    }
    (void)shmchan_lane_try_send(OR_NULL(&lane), Frama_C_unsigned_char_interval(0, 255),
                                payload, len);
}

static void drive_try_recv(void)
{
    shmchan_lane_t lane;
    if (!ANY_LANE(lane, ANY_U32(), ANY_SMALL_OR_LARGE(), 1)) {
        return;
    }
    const size_t cap = SPLIT(0, MSG_MAX);
    uint8_t type;
    uint32_t len;
    (void)shmchan_lane_try_recv(OR_NULL(&lane), OR_NULL(&type), OR_NULL(TAIL(buf_store, cap)),
                                cap, OR_NULL(&len));
}

/* The small entry points: no buffer, so no split. */
static void drive_others(void)
{
    shmchan_lane_t lane;
    if (!ANY_LANE(lane, ANY_U32(), ANY_U32(), 1)) {
        return;
    }
    shmchan_lane_reset_shared(ctl_store);
    (void)shmchan_lane_fault(&lane);
    (void)shmchan_lane_readable(&lane);
    (void)shmchan_lane_writable(&lane, ANY_U32());
    shmchan_lane_set_consumer_waiting(&lane, Frama_C_interval(INT32_MIN, INT32_MAX));
    shmchan_lane_set_producer_waiting(&lane, Frama_C_interval(INT32_MIN, INT32_MAX));
    (void)shmchan_lane_consumer_needs_wake(&lane);
    (void)shmchan_lane_producer_needs_wake(&lane);
    (void)shmchan_lane_progressed(&lane);
    (void)shmchan_lane_needs_stash(&lane);
    shmchan_lane_abandon_send(&lane);
}

/* Every entry point starts from fresh unknown memory: what one call wrote
 * must not narrow what the next one is given. */
static void any_memory(void)
{
    ANY_BYTES(ctl_store);
    ANY_BYTES(ring_store);
    ANY_BYTES(pay_store);
    ANY_BYTES(buf_store);
    ANY_BYTES(stash_store);
}

/* Entry points, one per analysis (frama-c -main): each starts from the
 * constructor and fresh unknown memory. */
void eva_lane_init(void)
{
    fc_crc32c_run_constructors();
    any_memory();
    drive_init();
}

void eva_lane_others(void)
{
    fc_crc32c_run_constructors();
    any_memory();
    drive_others();
}

void eva_lane_send(void)
{
    fc_crc32c_run_constructors();
    any_memory();
    drive_try_send();
}

void eva_lane_recv(void)
{
    fc_crc32c_run_constructors();
    any_memory();
    drive_try_recv();
}

int main(void)
{
    eva_lane_init();
    eva_lane_others();
    eva_lane_send();
    eva_lane_recv();
    return 0;
}
