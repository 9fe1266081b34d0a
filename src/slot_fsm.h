/*
 * slot_fsm.h - the life of one client slot as the server sees it (pure).
 *
 * One table, one transition function: every change of a slot's state in
 * server.c goes through shmchan_slot_step, and the server's only other job
 * is to turn what it observed (a semaphore snapshot, one frame taken from a
 * lane) into an event and to carry out the step's actions. docs/protocol.md
 * §5.4 draws the same machine; docs/model.md maps it to the spin model.
 *
 *   UNOFFERED --OFFERED--> OFFERED --CLAIMED--> ACTIVE            (CONNECT)
 *   ACTIVE   --DATA--> ACTIVE                                      (MESSAGE)
 *   ACTIVE   --GOODBYE--> LEAVING          (nothing may follow a goodbye)
 *   ACTIVE   --RELEASED--> DRAINING        (deliver what was published)
 *   LEAVING  --RELEASED--> LEFT
 *   DRAINING --DATA--> DRAINING (MESSAGE); --GOODBYE--> LEFT
 *   DRAINING --EMPTY--> UNOFFERED          (DISCONNECT vanished; reset)
 *   LEFT     --EMPTY--> UNOFFERED          (DISCONNECT clean; reset)
 *   ACTIVE, LEAVING --FAULT--> KICKED      (DISCONNECT protocol; kick)
 *   DRAINING, LEFT --FAULT--> UNOFFERED    (DISCONNECT protocol; reset)
 *   LEAVING, LEFT --DATA or GOODBYE--> as FAULT (a frame after goodbye)
 *   KICKED   --RELEASED--> UNOFFERED       (reset; already reported)
 * Any other (state, event) pair changes nothing and reports nothing.
 *
 * Every path out of a connected state (ACTIVE, LEAVING, DRAINING, LEFT)
 * reports exactly one DISCONNECT, and only CLAIMED reports CONNECT, so the
 * two stay paired whatever a peer does: the table is tested exhaustively
 * (tests/slot_fsm_test.c).
 */
#ifndef SHMCHAN_SLOT_FSM_H
#define SHMCHAN_SLOT_FSM_H

#include "shmchan.h"

typedef enum shmchan_slot_state {
    SHMCHAN_SLOT_UNOFFERED = 0, /* reset; FREE_i not (yet) set: offer pending */
    SHMCHAN_SLOT_OFFERED,       /* FREE_i = 1: the next client may claim it */
    SHMCHAN_SLOT_ACTIVE,        /* claimed, CONNECT reported, frames flow */
    SHMCHAN_SLOT_LEAVING,       /* GOODBYE taken; the owner still holds OWNER_i */
    SHMCHAN_SLOT_DRAINING,      /* OWNER_i back to 0 without a goodbye: drain */
    SHMCHAN_SLOT_LEFT,          /* OWNER_i back to 0 after a goodbye */
    SHMCHAN_SLOT_KICKED,        /* protocol error reported; wait for OWNER_i 0 */
    SHMCHAN_SLOT_STATE_COUNT
} shmchan_slot_state_t;

typedef enum shmchan_slot_event {
    SHMCHAN_SLOT_EV_OFFERED = 0, /* the server set FREE_i to 1 */
    SHMCHAN_SLOT_EV_CLAIMED,     /* snapshot: FREE_i == 0 (a client took it) */
    SHMCHAN_SLOT_EV_RELEASED,    /* snapshot: OWNER_i == 0 (released or died) */
    SHMCHAN_SLOT_EV_DATA,        /* a DATA frame was taken from the c2s lane */
    SHMCHAN_SLOT_EV_GOODBYE,     /* a GOODBYE frame was taken */
    SHMCHAN_SLOT_EV_EMPTY,       /* the c2s lane holds nothing more */
    SHMCHAN_SLOT_EV_FAULT,       /* a lane (either direction) faulted */
    SHMCHAN_SLOT_EVENT_COUNT
} shmchan_slot_event_t;

/* What the caller must do after a step. */
typedef enum shmchan_slot_report {
    SHMCHAN_SLOT_SAY_NOTHING = 0,
    SHMCHAN_SLOT_SAY_CONNECT,
    SHMCHAN_SLOT_SAY_MESSAGE,
    SHMCHAN_SLOT_SAY_DISCONNECT
} shmchan_slot_report_t;

typedef struct shmchan_slot_step {
    shmchan_slot_state_t next;
    shmchan_slot_report_t report;
    shmchan_err_t reason; /* DISCONNECT: OK (goodbye), CLOSED (vanished), PROTOCOL */
    int kick;  /* mark the slot KICKED in the segment and wake the client */
    int reset; /* zero the lanes, bump the generation, then offer again */
} shmchan_slot_step_t;

/* The transition function. Pure and total: any state and event, including
 * values outside the enums (treated as "changes nothing"). */
shmchan_slot_step_t shmchan_slot_step(shmchan_slot_state_t state, shmchan_slot_event_t event);

/* States whose c2s lane belongs to a connected client and is read. */
int shmchan_slot_is_connected(shmchan_slot_state_t state);

const char *shmchan_slot_state_name(shmchan_slot_state_t state);
const char *shmchan_slot_event_name(shmchan_slot_event_t event);

#endif /* SHMCHAN_SLOT_FSM_H */
