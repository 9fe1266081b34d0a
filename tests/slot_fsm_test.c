/*
 * slot_fsm_test.c - the slot state machine (src/slot_fsm.h), exhaustively.
 *
 * Every sequence of up to SEQ_LEN events from a freshly offered slot is run
 * through shmchan_slot_step, and after every step the properties the
 * server's users rely on are checked:
 *   P1 CONNECT and DISCONNECT alternate, CONNECT first: never two
 *      CONNECTs without a DISCONNECT between them, never a DISCONNECT
 *      without a CONNECT before it;
 *   P2 only CLAIMED in OFFERED reports CONNECT; MESSAGE only for DATA;
 *   P3 a state is connected exactly while a CONNECT is unanswered (so the
 *      server reads a lane only for a client it reported);
 *   P4 a reset happens only with no client left (OWNER_i seen 0): the step
 *      reporting DISCONNECT for a released client, or a kicked slot's
 *      release; and a reset slot is UNOFFERED;
 *   P5 once a GOODBYE was taken, any further frame ends the session with
 *      DISCONNECT(PROTOCOL): nothing may follow a goodbye.
 * Then every state is shown to reach UNOFFERED (no dead end), and a few
 * rows are checked by name against docs/protocol.md §5.4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "src/slot_fsm.h"

#define SEQ_LEN 8

struct walk {
    shmchan_slot_state_t state;
    int connected;    /* CONNECT reported, DISCONNECT not yet */
    int owner_gone;   /* RELEASED seen since the last CONNECT */
    int said_goodbye; /* GOODBYE taken since the last CONNECT */
};

static unsigned long g_steps;

static void check_step(struct walk *w, shmchan_slot_event_t ev, const char *path)
{
    const shmchan_slot_step_t s = shmchan_slot_step(w->state, ev);
    g_steps++;
    const int was_connected_state = shmchan_slot_is_connected(w->state);
    if (s.report == SHMCHAN_SLOT_SAY_CONNECT) {
        if (w->connected || w->state != SHMCHAN_SLOT_OFFERED || ev != SHMCHAN_SLOT_EV_CLAIMED) {
            fail_msg("P1/P2: CONNECT from %s on %s (%s)", shmchan_slot_state_name(w->state),
                     shmchan_slot_event_name(ev), path);
        }
        w->connected = 1;
        w->owner_gone = 0;
        w->said_goodbye = 0;
    } else if (s.report == SHMCHAN_SLOT_SAY_DISCONNECT) {
        if (!w->connected) {
            fail_msg("P1: DISCONNECT without CONNECT (%s)", path);
        }
        w->connected = 0;
    } else if (s.report == SHMCHAN_SLOT_SAY_MESSAGE) {
        if (ev != SHMCHAN_SLOT_EV_DATA || !was_connected_state || w->said_goodbye) {
            fail_msg("P2/P5: MESSAGE from %s on %s (%s)", shmchan_slot_state_name(w->state),
                     shmchan_slot_event_name(ev), path);
        }
    }
    if (w->said_goodbye && was_connected_state &&
        (ev == SHMCHAN_SLOT_EV_DATA || ev == SHMCHAN_SLOT_EV_GOODBYE) &&
        !(s.report == SHMCHAN_SLOT_SAY_DISCONNECT && s.reason == SHMCHAN_E_PROTOCOL)) {
        fail_msg("P5: a frame after GOODBYE did not end the session (%s)", path);
    }
    if (was_connected_state && ev == SHMCHAN_SLOT_EV_GOODBYE) {
        w->said_goodbye = 1;
    }
    if (ev == SHMCHAN_SLOT_EV_RELEASED) {
        w->owner_gone = 1;
    }
    if (s.reset && (!w->owner_gone || s.next != SHMCHAN_SLOT_UNOFFERED)) {
        fail_msg("P4: reset while a client may hold the slot, or not to UNOFFERED (%s)", path);
    }
    w->state = s.next;
    if (shmchan_slot_is_connected(w->state) != w->connected) {
        fail_msg("P3: state %s with connected=%d (%s)", shmchan_slot_state_name(w->state),
                 w->connected, path);
    }
}

static void walk_all(struct walk w, int depth, char *path, size_t used)
{
    if (depth == SEQ_LEN) {
        return;
    }
    for (int e = 0; e < SHMCHAN_SLOT_EVENT_COUNT; e++) {
        struct walk next = w;
        const int n = snprintf(path + used, 16, "%s%s", used ? "," : "",
                               shmchan_slot_event_name((shmchan_slot_event_t)e));
        check_step(&next, (shmchan_slot_event_t)e, path);
        walk_all(next, depth + 1, path, used + (size_t)n);
        path[used] = '\0';
    }
}

static void test_every_sequence_keeps_reports_paired(void **state)
{
    (void)state;
    char path[16 * SEQ_LEN + 1] = "";
    struct walk w = {SHMCHAN_SLOT_OFFERED, 0, 0, 0};
    g_steps = 0;
    walk_all(w, 0, path, 0);
    print_message("%lu steps checked (sequences up to %d events)\n", g_steps, SEQ_LEN);
    assert_true(g_steps > 1000000ul);
}

/* From every state, RELEASED then EMPTY (what the server sees when a
 * client goes and its lane is drained) leads back to UNOFFERED. */
static void test_every_state_gets_back_on_offer(void **state)
{
    (void)state;
    for (int st = 0; st < SHMCHAN_SLOT_STATE_COUNT; st++) {
        shmchan_slot_state_t s = (shmchan_slot_state_t)st;
        if (s == SHMCHAN_SLOT_OFFERED) {
            s = shmchan_slot_step(s, SHMCHAN_SLOT_EV_CLAIMED).next;
        }
        s = shmchan_slot_step(s, SHMCHAN_SLOT_EV_RELEASED).next;
        s = shmchan_slot_step(s, SHMCHAN_SLOT_EV_EMPTY).next;
        if (s != SHMCHAN_SLOT_UNOFFERED) {
            fail_msg("from %s: ends in %s", shmchan_slot_state_name((shmchan_slot_state_t)st),
                     shmchan_slot_state_name(s));
        }
        assert_int_equal(shmchan_slot_step(s, SHMCHAN_SLOT_EV_OFFERED).next,
                         SHMCHAN_SLOT_OFFERED);
    }
}

static void expect(shmchan_slot_state_t from, shmchan_slot_event_t ev, shmchan_slot_state_t to,
                   shmchan_slot_report_t report, shmchan_err_t reason, int kick, int reset)
{
    const shmchan_slot_step_t s = shmchan_slot_step(from, ev);
    if (s.next != to || s.report != report || s.kick != kick || s.reset != reset ||
        (report == SHMCHAN_SLOT_SAY_DISCONNECT && s.reason != reason)) {
        fail_msg("%s --%s--> %s report %d reason %d kick %d reset %d", shmchan_slot_state_name(from),
                 shmchan_slot_event_name(ev), shmchan_slot_state_name(s.next), (int)s.report,
                 (int)s.reason, s.kick, s.reset);
    }
}

static void test_rows_of_the_drawing(void **state)
{
    (void)state;
    const shmchan_slot_report_t none = SHMCHAN_SLOT_SAY_NOTHING;
    const shmchan_slot_report_t bye = SHMCHAN_SLOT_SAY_DISCONNECT;
    expect(SHMCHAN_SLOT_OFFERED, SHMCHAN_SLOT_EV_CLAIMED, SHMCHAN_SLOT_ACTIVE,
           SHMCHAN_SLOT_SAY_CONNECT, SHMCHAN_OK, 0, 0);
    expect(SHMCHAN_SLOT_ACTIVE, SHMCHAN_SLOT_EV_DATA, SHMCHAN_SLOT_ACTIVE,
           SHMCHAN_SLOT_SAY_MESSAGE, SHMCHAN_OK, 0, 0);
    expect(SHMCHAN_SLOT_ACTIVE, SHMCHAN_SLOT_EV_GOODBYE, SHMCHAN_SLOT_LEAVING, none, SHMCHAN_OK,
           0, 0);
    expect(SHMCHAN_SLOT_LEAVING, SHMCHAN_SLOT_EV_DATA, SHMCHAN_SLOT_KICKED, bye,
           SHMCHAN_E_PROTOCOL, 1, 0);
    expect(SHMCHAN_SLOT_LEAVING, SHMCHAN_SLOT_EV_RELEASED, SHMCHAN_SLOT_LEFT, none, SHMCHAN_OK, 0,
           0);
    expect(SHMCHAN_SLOT_LEFT, SHMCHAN_SLOT_EV_EMPTY, SHMCHAN_SLOT_UNOFFERED, bye, SHMCHAN_OK, 0,
           1);
    expect(SHMCHAN_SLOT_ACTIVE, SHMCHAN_SLOT_EV_RELEASED, SHMCHAN_SLOT_DRAINING, none,
           SHMCHAN_OK, 0, 0);
    expect(SHMCHAN_SLOT_DRAINING, SHMCHAN_SLOT_EV_DATA, SHMCHAN_SLOT_DRAINING,
           SHMCHAN_SLOT_SAY_MESSAGE, SHMCHAN_OK, 0, 0);
    expect(SHMCHAN_SLOT_DRAINING, SHMCHAN_SLOT_EV_EMPTY, SHMCHAN_SLOT_UNOFFERED, bye,
           SHMCHAN_E_CLOSED, 0, 1);
    expect(SHMCHAN_SLOT_ACTIVE, SHMCHAN_SLOT_EV_FAULT, SHMCHAN_SLOT_KICKED, bye,
           SHMCHAN_E_PROTOCOL, 1, 0);
    expect(SHMCHAN_SLOT_DRAINING, SHMCHAN_SLOT_EV_FAULT, SHMCHAN_SLOT_UNOFFERED, bye,
           SHMCHAN_E_PROTOCOL, 0, 1);
    expect(SHMCHAN_SLOT_KICKED, SHMCHAN_SLOT_EV_RELEASED, SHMCHAN_SLOT_UNOFFERED, none,
           SHMCHAN_OK, 0, 1);
    expect(SHMCHAN_SLOT_KICKED, SHMCHAN_SLOT_EV_DATA, SHMCHAN_SLOT_KICKED, none, SHMCHAN_OK, 0, 0);
    expect(SHMCHAN_SLOT_UNOFFERED, SHMCHAN_SLOT_EV_OFFERED, SHMCHAN_SLOT_OFFERED, none,
           SHMCHAN_OK, 0, 0);
    /* Outside the enums: changes nothing. */
    expect((shmchan_slot_state_t)99, SHMCHAN_SLOT_EV_DATA, (shmchan_slot_state_t)99, none,
           SHMCHAN_OK, 0, 0);
    expect(SHMCHAN_SLOT_ACTIVE, (shmchan_slot_event_t)99, SHMCHAN_SLOT_ACTIVE, none, SHMCHAN_OK,
           0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sequence_keeps_reports_paired),
        cmocka_unit_test(test_every_state_gets_back_on_offer),
        cmocka_unit_test(test_rows_of_the_drawing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
