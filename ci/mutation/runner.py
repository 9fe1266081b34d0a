"""Builds a scratch copy of the tree and runs tests against one mutant at a time.

Compiles with clang straight from the sources (flags as defs.bzl minus
-Werror: a warning a mutant provokes, say an unused variable, is not a
test killing it). Each test binary runs as a separate process under
`unshare --ipc` (its own IPC namespace, as Bazel's linux-sandbox gives)
and `timeout` (a mutant that hangs a test is killed by the timeout).
"""
import concurrent.futures
import os
import shutil
import subprocess
import tempfile
import time

from targets import LIB, PROGRAMS, TESTS

CC = os.environ.get("CC", "clang")
# ASan and UBSan as in ci/test.sh's asan and ubsan runs: a mutant that
# writes past a buffer is killed there, so it is killed here.
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
CFLAGS = SAN + ["-std=c11", "-D_XOPEN_SOURCE=700", "-O1", "-g0", "-Wall", "-Wextra",
          "-Wno-unused-parameter", "-Wno-unused-variable", "-Wno-unused-function",
          "-Wno-unused-but-set-variable"]
LIBS = SAN + ["-lcmocka", "-lpthread"]


def _run(cmd, cwd=None, log=None):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if log is not None:
        with open(log, "ab") as f:
            f.write(b"$ " + " ".join(cmd).encode() + b"\n" + r.stdout)
    return r.returncode, r.stdout.decode(errors="replace")


class Scratch:
    """A copy of src/ and tests/ plus their objects, built once."""

    def __init__(self, repo, keep=False, jobs=2):
        self.repo = repo
        self.keep = keep
        self.jobs = jobs
        self.dir = tempfile.mkdtemp(prefix="shmchan-mutate-")
        self.ws = os.path.join(self.dir, "ws")
        for sub in ("src", "tests"):
            shutil.copytree(os.path.join(repo, sub), os.path.join(self.ws, sub),
                            ignore=shutil.ignore_patterns("stress", "BUILD"))
        self.obj = os.path.join(self.dir, "obj")
        self.durations = {}

    def close(self):
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def sources(self):
        files = set(LIB)
        for srcs in PROGRAMS.values():
            files.update(srcs)
        for srcs, _, _ in TESTS.values():
            files.update(s for s in srcs if os.path.exists(os.path.join(self.ws, s)))
        return sorted(files)

    def compile(self, src, out, log=None):
        """Compiles `src` (relative to the scratch tree, or an absolute path:
        a mutated copy, which finds its headers in the tree through -I)."""
        os.makedirs(os.path.dirname(out), exist_ok=True)
        return _run([CC] + CFLAGS + ["-I", self.ws, "-I", os.path.join(self.ws, "src"),
                     "-c", os.path.join(self.ws, src), "-o", out], log=log)

    def obj_of(self, src):
        return os.path.join(self.obj, src + ".o")

    def build_base(self):
        with concurrent.futures.ThreadPoolExecutor(self.jobs) as ex:
            futs = {ex.submit(self.compile, s, self.obj_of(s)): s for s in self.sources()}
            for fut in concurrent.futures.as_completed(futs):
                rc, out = fut.result()
                if rc != 0:
                    raise SystemExit(f"baseline: {futs[fut]} does not compile:\n{out}")

    def link(self, outdir, names, override, log=None):
        """Links the tests `names` (and the programs, if one needs them)
        into outdir, with `override` = {source: object} replacing objects."""
        os.makedirs(outdir, exist_ok=True)
        o = lambda s: override.get(s, self.obj_of(s))  # noqa: E731
        lib = os.path.join(outdir, "libshmchan.a")
        if not os.path.exists(lib):
            rc, out = _run(["ar", "rcs", lib] + [o(s) for s in LIB], log=log)
            if rc != 0:
                return rc, out
        runfiles = os.path.join(outdir, "runfiles", "shmchan", "src")
        if any(TESTS[n][2] for n in names) and not os.path.isdir(runfiles):
            os.makedirs(runfiles, exist_ok=True)
            for prog, srcs in PROGRAMS.items():
                rc, out = _run([CC, "-o", os.path.join(runfiles, prog)] + [o(s) for s in srcs]
                               + [lib] + SAN + ["-lpthread"], log=log)
                if rc != 0:
                    return rc, out
        for n in names:
            srcs, wraps, _ = TESTS[n]
            cmd = [CC, "-o", os.path.join(outdir, n)] + [o(s) for s in srcs] + [lib]
            cmd += ["-Wl,--wrap=" + w for w in wraps] + LIBS
            rc, out = _run(cmd, log=log)
            if rc != 0:
                return rc, out
        return 0, ""

    def reset_links(self, outdir):
        """Forgets the archive and programs of the previous mutant."""
        shutil.rmtree(outdir, ignore_errors=True)
        os.makedirs(outdir)

    def run_test(self, outdir, name, timeout_s, log):
        """'pass', 'fail', 'timeout' or 'crash', and the cmocka lines."""
        tmp = tempfile.mkdtemp(prefix="t-", dir=outdir)
        env = dict(os.environ, TEST_SRCDIR=os.path.join(outdir, "runfiles"),
                   TEST_WORKSPACE="shmchan", TEST_TMPDIR=tmp)
        t0 = time.monotonic()
        cmd = ["unshare", "--ipc", "--", "timeout", "-k", "5", str(int(timeout_s)),
               os.path.join(outdir, name)]
        r = subprocess.run(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        dt = time.monotonic() - t0
        text = r.stdout.decode(errors="replace")
        with open(log, "a") as f:
            f.write(f"$ {name} (rc {r.returncode}, {dt:.1f}s)\n{text}\n")
        shutil.rmtree(tmp, ignore_errors=True)
        failed = [ln.split("]", 1)[1].strip() for ln in text.splitlines()
                  if ln.startswith("[  FAILED  ]") and "test(s)" not in ln]
        if r.returncode == 0:
            return "pass", dt, failed
        if r.returncode in (124, 137):
            return "timeout", dt, failed
        if r.returncode > 128 or r.returncode < 0:
            return "crash", dt, failed
        return "fail", dt, failed
