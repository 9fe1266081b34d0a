/*
 * slot_fsm.c - the slot state machine (see slot_fsm.h for the drawing).
 */
#include "slot_fsm.h"

static shmchan_slot_step_t stay(shmchan_slot_state_t state)
{
    shmchan_slot_step_t s = {state, SHMCHAN_SLOT_SAY_NOTHING, SHMCHAN_OK, 0, 0};
    return s;
}

static shmchan_slot_step_t go(shmchan_slot_state_t next, shmchan_slot_report_t report)
{
    shmchan_slot_step_t s = {next, report, SHMCHAN_OK, 0, 0};
    return s;
}

/* The one way out of a connected state: a DISCONNECT with its reason. A
 * client that still holds OWNER_i is kicked and its slot waits for the
 * release; one that let go is reset at once. */
static shmchan_slot_step_t disconnect(int owner_gone, shmchan_err_t reason)
{
    shmchan_slot_step_t s = {owner_gone ? SHMCHAN_SLOT_UNOFFERED : SHMCHAN_SLOT_KICKED,
                             SHMCHAN_SLOT_SAY_DISCONNECT, reason, !owner_gone, owner_gone};
    return s;
}

shmchan_slot_step_t shmchan_slot_step(shmchan_slot_state_t state, shmchan_slot_event_t event)
{
    switch (state) {
    case SHMCHAN_SLOT_UNOFFERED:
        return event == SHMCHAN_SLOT_EV_OFFERED ? go(SHMCHAN_SLOT_OFFERED, SHMCHAN_SLOT_SAY_NOTHING)
                                                : stay(state);
    case SHMCHAN_SLOT_OFFERED:
        /* Even if the claimant is already gone again, report the connect:
         * its messages are delivered before its disconnect. */
        return event == SHMCHAN_SLOT_EV_CLAIMED ? go(SHMCHAN_SLOT_ACTIVE, SHMCHAN_SLOT_SAY_CONNECT)
                                                : stay(state);
    case SHMCHAN_SLOT_ACTIVE:
        switch (event) {
        case SHMCHAN_SLOT_EV_DATA:
            return go(state, SHMCHAN_SLOT_SAY_MESSAGE);
        case SHMCHAN_SLOT_EV_GOODBYE:
            return go(SHMCHAN_SLOT_LEAVING, SHMCHAN_SLOT_SAY_NOTHING);
        case SHMCHAN_SLOT_EV_RELEASED:
            return go(SHMCHAN_SLOT_DRAINING, SHMCHAN_SLOT_SAY_NOTHING);
        case SHMCHAN_SLOT_EV_FAULT:
            return disconnect(0, SHMCHAN_E_PROTOCOL);
        default:
            return stay(state);
        }
    case SHMCHAN_SLOT_LEAVING:
        switch (event) {
        case SHMCHAN_SLOT_EV_RELEASED:
            return go(SHMCHAN_SLOT_LEFT, SHMCHAN_SLOT_SAY_NOTHING);
        case SHMCHAN_SLOT_EV_DATA:    /* nothing may follow a goodbye: a */
        case SHMCHAN_SLOT_EV_GOODBYE: /* peer that keeps talking is broken */
        case SHMCHAN_SLOT_EV_FAULT:
            return disconnect(0, SHMCHAN_E_PROTOCOL);
        default:
            return stay(state);
        }
    case SHMCHAN_SLOT_DRAINING:
        switch (event) {
        case SHMCHAN_SLOT_EV_DATA:
            return go(state, SHMCHAN_SLOT_SAY_MESSAGE);
        case SHMCHAN_SLOT_EV_GOODBYE:
            return go(SHMCHAN_SLOT_LEFT, SHMCHAN_SLOT_SAY_NOTHING);
        case SHMCHAN_SLOT_EV_EMPTY:
            return disconnect(1, SHMCHAN_E_CLOSED);
        case SHMCHAN_SLOT_EV_FAULT:
            return disconnect(1, SHMCHAN_E_PROTOCOL);
        default:
            return stay(state);
        }
    case SHMCHAN_SLOT_LEFT:
        switch (event) {
        case SHMCHAN_SLOT_EV_EMPTY:
            return disconnect(1, SHMCHAN_OK);
        case SHMCHAN_SLOT_EV_DATA:
        case SHMCHAN_SLOT_EV_GOODBYE:
        case SHMCHAN_SLOT_EV_FAULT:
            return disconnect(1, SHMCHAN_E_PROTOCOL);
        default:
            return stay(state);
        }
    case SHMCHAN_SLOT_KICKED: {
        shmchan_slot_step_t s = stay(state);
        if (event == SHMCHAN_SLOT_EV_RELEASED) {
            s.next = SHMCHAN_SLOT_UNOFFERED;
            s.reset = 1;
        }
        return s;
    }
    case SHMCHAN_SLOT_STATE_COUNT:
        break;
    }
    return stay(state);
}

int shmchan_slot_is_connected(shmchan_slot_state_t state)
{
    return state == SHMCHAN_SLOT_ACTIVE || state == SHMCHAN_SLOT_LEAVING ||
           state == SHMCHAN_SLOT_DRAINING || state == SHMCHAN_SLOT_LEFT;
}

const char *shmchan_slot_state_name(shmchan_slot_state_t state)
{
    switch (state) {
    case SHMCHAN_SLOT_UNOFFERED:
        return "UNOFFERED";
    case SHMCHAN_SLOT_OFFERED:
        return "OFFERED";
    case SHMCHAN_SLOT_ACTIVE:
        return "ACTIVE";
    case SHMCHAN_SLOT_LEAVING:
        return "LEAVING";
    case SHMCHAN_SLOT_DRAINING:
        return "DRAINING";
    case SHMCHAN_SLOT_LEFT:
        return "LEFT";
    case SHMCHAN_SLOT_KICKED:
        return "KICKED";
    case SHMCHAN_SLOT_STATE_COUNT:
        break;
    }
    return "?";
}

const char *shmchan_slot_event_name(shmchan_slot_event_t event)
{
    switch (event) {
    case SHMCHAN_SLOT_EV_OFFERED:
        return "OFFERED";
    case SHMCHAN_SLOT_EV_CLAIMED:
        return "CLAIMED";
    case SHMCHAN_SLOT_EV_RELEASED:
        return "RELEASED";
    case SHMCHAN_SLOT_EV_DATA:
        return "DATA";
    case SHMCHAN_SLOT_EV_GOODBYE:
        return "GOODBYE";
    case SHMCHAN_SLOT_EV_EMPTY:
        return "EMPTY";
    case SHMCHAN_SLOT_EV_FAULT:
        return "FAULT";
    case SHMCHAN_SLOT_EVENT_COUNT:
        break;
    }
    return "?";
}
