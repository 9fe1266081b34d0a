"""Compiler options and rule wrappers shared by every package of shmchan."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")

# Project code is C11 with POSIX.1-2008 + XSI (the SysV IPC calls are XSI).
# Files that need GNU extensions (semtimedop, SHM_STAT) define _GNU_SOURCE
# themselves, before their first include, and say why.
SHMCHAN_COPTS = [
    "-std=c11",
    "-D_XOPEN_SOURCE=700",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wshadow",
    "-Wconversion",
    "-Wsign-conversion",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    "-Wvla",
    "-Werror",
]

# Tests use cmocka's macros, which trip -Wpedantic/-Wconversion in places we
# do not control; everything else still applies.
SHMCHAN_TEST_COPTS = SHMCHAN_COPTS + [
    "-Wno-conversion",
    "-Wno-sign-conversion",
]

def shmchan_cc_library(name, copts = [], **kwargs):
    cc_library(name = name, copts = SHMCHAN_COPTS + copts, **kwargs)

def shmchan_cc_binary(name, copts = [], **kwargs):
    cc_binary(name = name, copts = SHMCHAN_COPTS + copts, **kwargs)

def shmchan_cc_test(name, copts = [], linkopts = [], **kwargs):
    """A cmocka test. Links cmocka from the system (libcmocka-dev)."""
    cc_test(
        name = name,
        copts = SHMCHAN_TEST_COPTS + copts,
        linkopts = linkopts + ["-lcmocka"],
        **kwargs
    )
