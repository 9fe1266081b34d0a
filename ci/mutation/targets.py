"""What the mutation runner builds and which tests it runs per source file.

The link lines follow tests/BUILD, tests/e2e/BUILD and src/BUILD (the
runner compiles with clang directly: a Bazel build per mutant costs tens
of seconds here). The baseline run checks that every test listed here
passes on the unmutated tree, so a drift from the BUILD files shows up as
a failed baseline, never as a fake kill.
"""

LIB = ["src/error.c", "src/codec.c", "src/crc32c.c", "src/layout.c", "src/lane.c",
       "src/judge.c", "src/slot_fsm.c", "src/spin_adapt.c", "src/sysv.c", "src/wake.c", "src/client.c",
       "src/inspect.c", "src/probe.c", "src/server.c", "src/conn.c", "src/conn_probe.c",
       "src/account.c"]
PROG_COMMON = ["src/prog/args.c", "src/prog/io.c", "src/prog/escape.c"]
# The names of --allow-uid/--allow-group/--server-uid made ids (src/BUILD
# :prog_resolve; the account layer it calls is in the library).
PROG_RESOLVE = ["src/prog/resolve.c"]
PROGRAMS = {
    "server": ["src/prog/server_main.c"] + PROG_COMMON + PROG_RESOLVE,
    "client": ["src/prog/client_main.c"] + PROG_COMMON + PROG_RESOLVE,
    "shmchanctl": ["src/prog/shmchanctl_main.c"] + PROG_COMMON,
}

UNIT = ["tests/check.c", "tests/testutil.c"]
CHAN = ["tests/testutil.c", "tests/peer_map.c"]
E2E = ["tests/e2e/e2e_util.c", "tests/testutil.c"]

# name: (test sources, --wrap symbols, needs the programs)
TESTS = {
    "crc32c_test": (["tests/crc32c_test.c"], [], False),
    "codec_test": (["tests/codec_test.c"] + UNIT, [], False),
    "layout_test": (["tests/layout_test.c"] + UNIT, [], False),
    "lane_test": (["tests/lane_test.c"] + UNIT, [], False),
    "judge_test": (["tests/judge_test.c"] + UNIT, [], False),
    "slot_fsm_test": (["tests/slot_fsm_test.c"], [], False),
    "spin_adapt_test": (["tests/spin_adapt_test.c"], [], False),
    "conn_test": (["tests/conn_test.c"] + UNIT, [], False),
    "account_test": (["tests/account_test.c"], [], False),
    "escape_test": (["tests/escape_test.c", "src/prog/escape.c"], [], False),
    "args_test": (["tests/e2e/args_test.c", "src/prog/args.c"] + E2E, [], False),
    "channel_test": (["tests/channel_test.c"] + CHAN, [], False),
    "channel_fault_test": (["tests/channel_fault_test.c"] + CHAN, [], False),
    "client_trust_test": (["tests/client_trust_test.c", "tests/handmade.c"] + CHAN, [], False),
    "foreign_uid_test": (["tests/foreign_uid_test.c", "tests/handmade.c"] + CHAN, [], False),
    "wait_bound_test": (["tests/wait_bound_test.c"] + CHAN, [], False),
    "reclaim_recheck_test": (["tests/reclaim_recheck_test.c"] + CHAN, [], False),
    "server_options_test": (["tests/server_options_test.c"] + CHAN, [], False),
    "list_test": (["tests/list_test.c"] + CHAN, [], False),
    "slot_undo_test": (["tests/slot_undo_test.c"] + CHAN, [], False),
    "hostile_protocol_test": (["tests/hostile_protocol_test.c"] + CHAN, [], False),
    "header_size_test": (["tests/header_size_test.c"] + CHAN, [], False),
    "alloc_failure_test": (["tests/alloc_failure_test.c"] + CHAN, ["calloc"], False),
    "cancel_report_test": (["tests/cancel_report_test.c", "tests/handmade.c"] + CHAN,
                           ["semtimedop"], False),
    "client_send_test": (["tests/client_send_test.c", "tests/handmade.c"] + CHAN, [], False),
    "inspect_info_test": (["tests/inspect_info_test.c"] + CHAN, [], False),
    "fragment_wake_test": (["tests/fragment_wake_test.c"] + CHAN, [], False),
    "close_goodbye_test": (["tests/close_goodbye_test.c"] + CHAN, [], False),
    "death_after_post_test": (["tests/death_after_post_test.c"] + CHAN,
                              ["semtimedop", "clock_gettime"], False),
    "sysv_give_test": (["tests/sysv_give_test.c"] + CHAN, [], False),
    "conn_gather_test": (["tests/conn_gather_test.c"] + CHAN, [], False),
    "multiuser_channel_test": (["tests/multiuser_channel_test.c"] + CHAN, [], False),
    "reclaim_race_test": (["tests/reclaim_race_test.c"] + CHAN,
                          ["shmat", "shmctl", "semctl"], False),
    "sysv_fault_test": (["tests/sysv_fault_test.c"] + CHAN,
                        ["shmget", "shmat", "shmdt", "shmctl", "semget", "semctl",
                         "semtimedop"], False),
    "demo_test": (["tests/e2e/demo_test.c"] + E2E, [], True),
    "client_test": (["tests/e2e/client_test.c"] + E2E, [], True),
    "signal_test": (["tests/e2e/signal_test.c"] + E2E, [], True),
    "ctl_test": (["tests/e2e/ctl_test.c"] + E2E, [], True),
    "cli_test": (["tests/e2e/cli_test.c"] + E2E, [], True),
    "resolve_test": (["tests/e2e/resolve_test.c", "src/prog/resolve.c", "src/prog/io.c",
                      "src/prog/escape.c",
                      "src/prog/args.c"], [], False),
    "client_exit_test": (["tests/e2e/client_exit_test.c", "tests/peer_map.c"] + E2E, [], True),
}

PURE_TESTS = ["crc32c_test", "codec_test", "layout_test", "lane_test", "judge_test", "conn_test"]
CHANNEL_TESTS = ["client_trust_test", "foreign_uid_test", "reclaim_recheck_test",
                 "header_size_test", "alloc_failure_test", "cancel_report_test",
                 "client_send_test", "inspect_info_test", "fragment_wake_test",
                 "close_goodbye_test", "death_after_post_test",
                 "server_options_test", "list_test", "slot_undo_test", "channel_test", "sysv_fault_test", "reclaim_race_test", "wait_bound_test",
                 "channel_fault_test", "hostile_protocol_test", "sysv_give_test",
                 "conn_gather_test", "multiuser_channel_test"]
E2E_TESTS = ["client_exit_test", "demo_test", "client_test", "signal_test", "ctl_test",
             "cli_test"]

# The tests that can notice a change in each file, the file's own tests
# first (they run in this order and stop at the first failure). The pure layers are
# held to their own unit tests on purpose: "100 % for the pure layers"
# means their unit tests see every change, not that some process test
# happens to trip over it.
COVERS = {
    "src/error.c": ["codec_test", "judge_test"],
    "src/codec.c": ["codec_test", "crc32c_test", "layout_test", "lane_test", "judge_test"],
    "src/crc32c.c": ["crc32c_test", "codec_test", "layout_test", "lane_test", "judge_test"],
    "src/layout.c": ["layout_test", "codec_test", "crc32c_test", "lane_test", "judge_test"],
    "src/lane.c": ["lane_test", "codec_test", "crc32c_test", "layout_test", "judge_test"],
    "src/judge.c": ["judge_test"],
    "src/slot_fsm.c": ["slot_fsm_test"],
    "src/spin_adapt.c": ["spin_adapt_test"],
    "src/prog/escape.c": ["escape_test"],
    "src/prog/args.c": ["args_test"],
    # The multi-user judge's one rule, its key derivation and modes: pure,
    # held to its unit test.
    "src/conn.c": ["conn_test"],
    "src/account.c": ["account_test", "resolve_test"],
    "src/prog/resolve.c": ["resolve_test"],
}
for _f in ["src/sysv.c", "src/wake.c", "src/client.c", "src/server.c", "src/probe.c",
           "src/inspect.c", "src/conn_probe.c"]:
    COVERS[_f] = CHANNEL_TESTS + E2E_TESTS
for _f in ["src/prog/io.c", "src/prog/server_main.c", "src/prog/client_main.c",
           "src/prog/shmchanctl_main.c"]:
    COVERS[_f] = E2E_TESTS

# Files whose mutants the CI subset (--fast) runs in full: the pure layers.
FAST_FILES = ["src/codec.c", "src/crc32c.c", "src/layout.c", "src/lane.c", "src/judge.c",
              "src/slot_fsm.c", "src/spin_adapt.c", "src/prog/escape.c", "src/conn.c"]

# Lines of the trust checks outside the pure layers: their generated
# mutants join the CI subset, run against the tests written for them.
FAST_TRUST = {
    "src/client.c": ["check_owner(", "hdr.semid", "max_mode", "expected_uid"],
    "src/probe.c": ["ownership_problem(", "now.key", "!dead"],
}
FAST_TRUST_TESTS = ["client_trust_test", "foreign_uid_test", "reclaim_recheck_test",
                    "multiuser_channel_test"]
