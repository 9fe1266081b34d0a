/* Unit tests for spin_adapt.c: the adaptive spin budget (spin_adapt.h).
 * The properties the channel relies on: no spin until a peer answered
 * within reach; a prompt answer arms a spin of twice the wait, capped; an
 * idle channel stops spinning after a bounded number of waits and a
 * bounded total of polling; a late or missing answer never raises it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "src/spin_adapt.h"

static void test_starts_without_spinning(void **state)
{
    (void)state;
    shmchan_spin_adapt_t a;
    a.budget_ns = 12345;
    shmchan_spin_adapt_init(&a);
    assert_int_equal(a.budget_ns, 0);
}

static void test_prompt_answer_arms_twice_the_wait(void **state)
{
    (void)state;
    shmchan_spin_adapt_t a;
    shmchan_spin_adapt_init(&a);
    shmchan_spin_adapt_slept(&a, 1, 10000);
    assert_int_equal(a.budget_ns, 20000);
    /* A quicker answer later does not shrink a budget that worked. */
    shmchan_spin_adapt_slept(&a, 1, 3000);
    assert_int_equal(a.budget_ns, 20000);
    /* Within reach but more than half the cap: the cap. */
    shmchan_spin_adapt_slept(&a, 1, SHMCHAN_SPIN_ADAPT_MAX_NS - 1);
    assert_int_equal(a.budget_ns, SHMCHAN_SPIN_ADAPT_MAX_NS);
    shmchan_spin_adapt_slept(&a, 1, SHMCHAN_SPIN_ADAPT_MAX_NS);
    assert_int_equal(a.budget_ns, SHMCHAN_SPIN_ADAPT_MAX_NS);
}

static void test_late_or_missing_answer_never_raises(void **state)
{
    (void)state;
    shmchan_spin_adapt_t a;
    shmchan_spin_adapt_init(&a);
    shmchan_spin_adapt_slept(&a, 1, (int64_t)SHMCHAN_SPIN_ADAPT_MAX_NS + 1);
    assert_int_equal(a.budget_ns, 0);
    shmchan_spin_adapt_slept(&a, 0, 1000); /* a timeout, however short */
    assert_int_equal(a.budget_ns, 0);
    shmchan_spin_adapt_slept(&a, 1, -5); /* a clock that went backwards */
    assert_int_equal(a.budget_ns, 0);
    a.budget_ns = 8000;
    shmchan_spin_adapt_slept(&a, 0, 1000);
    assert_int_equal(a.budget_ns, 4000);
    shmchan_spin_adapt_slept(&a, 1, INT64_MAX);
    assert_int_equal(a.budget_ns, 2000);
    /* An answer at once (0 ns) is within reach: it keeps the budget. */
    shmchan_spin_adapt_slept(&a, 1, 0);
    assert_int_equal(a.budget_ns, 2000);
}

/* An answer faster than half the floor still arms a spin: the floor, not
 * a budget that the halving rule would read as "do not spin". */
static void test_very_prompt_answer_arms_the_floor(void **state)
{
    (void)state;
    shmchan_spin_adapt_t a;
    shmchan_spin_adapt_init(&a);
    shmchan_spin_adapt_slept(&a, 1, 0);
    assert_int_equal(a.budget_ns, SHMCHAN_SPIN_ADAPT_MIN_NS);
    shmchan_spin_adapt_init(&a);
    shmchan_spin_adapt_slept(&a, 1, SHMCHAN_SPIN_ADAPT_MIN_NS / 2u - 1u);
    assert_int_equal(a.budget_ns, SHMCHAN_SPIN_ADAPT_MIN_NS);
    shmchan_spin_adapt_slept(&a, 1, SHMCHAN_SPIN_ADAPT_MIN_NS);
    assert_int_equal(a.budget_ns, 2u * SHMCHAN_SPIN_ADAPT_MIN_NS);
}

/* Halving stops at the floor: a half of at least SHMCHAN_SPIN_ADAPT_MIN_NS
 * is kept, a smaller one is 0 (not a spin of a few hundred ns that can
 * catch nothing but costs a clock read). */
static void test_halving_floor(void **state)
{
    (void)state;
    shmchan_spin_adapt_t a;
    a.budget_ns = 2u * SHMCHAN_SPIN_ADAPT_MIN_NS;
    shmchan_spin_adapt_slept(&a, 0, 1);
    assert_int_equal(a.budget_ns, SHMCHAN_SPIN_ADAPT_MIN_NS);
    shmchan_spin_adapt_slept(&a, 0, 1);
    assert_int_equal(a.budget_ns, 0);
    a.budget_ns = 2u * SHMCHAN_SPIN_ADAPT_MIN_NS - 2u;
    shmchan_spin_adapt_slept(&a, 0, 1);
    assert_int_equal(a.budget_ns, 0);
}

/* From the largest budget, waits that all end in a sleep without a prompt
 * answer: the budget halves each time, reaches 0 after a bounded number of
 * waits, and the polling spent on the way stays under twice the cap. */
static void test_idle_channel_stops_spinning(void **state)
{
    (void)state;
    shmchan_spin_adapt_t a;
    shmchan_spin_adapt_init(&a);
    shmchan_spin_adapt_slept(&a, 1, SHMCHAN_SPIN_ADAPT_MAX_NS);
    uint64_t spent = 0;
    unsigned waits = 0;
    while (a.budget_ns != 0) {
        const uint32_t before = a.budget_ns;
        spent += before;
        shmchan_spin_adapt_slept(&a, 0, (int64_t)before + 100000000);
        assert_true(a.budget_ns == before / 2u || (a.budget_ns == 0 && before / 2u < SHMCHAN_SPIN_ADAPT_MIN_NS));
        waits++;
        assert_true(waits <= 32u);
    }
    assert_true(spent < 2u * (uint64_t)SHMCHAN_SPIN_ADAPT_MAX_NS);
    assert_true(waits >= 2u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_without_spinning),
        cmocka_unit_test(test_prompt_answer_arms_twice_the_wait),
        cmocka_unit_test(test_late_or_missing_answer_never_raises),
        cmocka_unit_test(test_halving_floor),
        cmocka_unit_test(test_very_prompt_answer_arms_the_floor),
        cmocka_unit_test(test_idle_channel_stops_spinning),
    };
    return cmocka_run_group_tests_name("spin_adapt", tests, NULL, NULL);
}
