"""Shared helpers for pvrr's integration tests (run by CTest).

Environment (set by tests/integration/CMakeLists.txt):
  PVRR         path of the pvrr binary
  PVRR_GUESTS  directory holding the sample guest ELF files
  PVRR_SRC     the source tree (for fixtures and guest sources)
  PVRR_BACKEND the execution engine the test runs on (kvm, emu; unset: pvrr's auto)
  PVRR_REQUIRE_KVM=1  a missing /dev/kvm is a failure instead of a skip
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

PVRR = os.environ.get("PVRR", "pvrr")
GUESTS = os.environ.get("PVRR_GUESTS", ".")
SRC = os.environ.get("PVRR_SRC", ".")

# Exit statuses (tools/pvrr.c, replayer/replayer.h)
EXIT_USAGE = 2
EXIT_TIMEOUT = 124
EXIT_ERROR = 125
EXIT_PANIC = 255
REPLAY_DIVERGED = 80
REPLAY_CORRUPT = 81
REPLAY_TRUNCATED = 82
REPLAY_VERSION = 83


def guest(name):
    return os.path.join(GUESTS, name + ".elf")


def fixture(name):
    """A file of tests/fixtures (rdtsc-diverges.pvlog: the rdtsc guest recorded on
    KVM, where rdtsc runs unseen; its replay diverges on every engine)."""
    return os.path.join(SRC, "tests", "fixtures", name)


def backend():
    """The engine this test runs on: PVRR_BACKEND, else what auto picks here."""
    b = os.environ.get("PVRR_BACKEND", "")
    if b in ("kvm", "emu"):
        return b
    r = subprocess.run([PVRR, "run", guest("hello")], capture_output=True, timeout=60)
    m = re.search(rb"pvrr: (\w+) backend \(auto", r.stderr)
    return m.group(1).decode() if m else "kvm"


def need_kvm():
    """Skip (or, with PVRR_REQUIRE_KVM=1, fail) when the test runs on KVM and KVM is
    not usable; nothing to do on the emulator."""
    if os.environ.get("PVRR_BACKEND") == "emu":
        return
    ok = os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)
    if ok:
        return
    msg = "/dev/kvm is missing or not accessible"
    if os.environ.get("PVRR_REQUIRE_KVM") == "1":
        raise AssertionError(msg + " and PVRR_REQUIRE_KVM=1")
    raise unittest.SkipTest(msg)


def pvrr(*args, stdin=None, timeout=120, env=None, input_bytes=None):
    """Run pvrr; returns CompletedProcess with text stdout/stderr."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([PVRR, *args], stdin=stdin if input_bytes is None else None,
                          input=input_bytes, capture_output=True, timeout=timeout, env=e)


def text(b):
    return b.decode("utf-8", "replace")


class TempDir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="pvrr-test-")

    def __call__(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class PvrrTestCase(unittest.TestCase):
    """Base class: a temp directory per test, KVM required."""
    needs_kvm = True

    def setUp(self):
        if self.needs_kvm:
            need_kvm()
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def run_ok(self, *args, status=0, **kw):
        r = pvrr(*args, **kw)
        self.assertEqual(r.returncode, status,
                         "pvrr %s: exit %d, stderr:\n%s" % (" ".join(args), r.returncode,
                                                             text(r.stderr)))
        return r

    def record_failing_kvstore(self, path, runs=60):
        """Record kvstore until a run fails; returns the log path."""
        r = pvrr("record", "--until-fail", str(runs), "-o", path, guest("kvstore"),
                 timeout=600)
        self.assertEqual(r.returncode, EXIT_PANIC,
                         "no failing kvstore run in %d runs: %s" % (runs, text(r.stderr)))
        self.assertIn(b"CORRUPTION", r.stdout)
        return path


class GdbServer:
    """`pvrr replay --gdb 127.0.0.1:0 LOG` (or run) in the background; .port once listening."""

    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen([PVRR, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     env=None if env is None else {**os.environ, **env})
        self.port = None
        self.err = b""
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.err += line
            m = re.search(rb"waiting for gdb on [0-9.]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
            if b"target remote" in line:
                break
        if self.port is None:
            self.proc.kill()
            raise AssertionError("pvrr did not start listening: " + text(self.err))

    def finish(self, timeout=60):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError("pvrr did not finish after the debugger left")
        self.err += err
        return self.proc.returncode, out, self.err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def gdb_batch(elf, port, commands, timeout=180, extra=()):
    """Run gdb in batch mode with (commands); returns its combined output."""
    args = ["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off",
            "-ex", "set confirm off", *extra, "-ex", "target remote 127.0.0.1:%d" % port]
    for c in commands:
        args += ["-ex", c]
    args.append(elf)
    r = subprocess.run(args, capture_output=True, timeout=timeout)
    return text(r.stdout) + text(r.stderr)


def engine_tests_only(suite):
    """(suite) without the tests of classes with needs_kvm = False: they never start
    a guest on an engine, so they run in the .emu variant only."""
    kept = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            kept.addTest(engine_tests_only(t))
        elif getattr(type(t), "needs_kvm", True):
            kept.addTest(t)
    return kept


def main():
    if os.environ.get("PVRR_BACKEND") == "kvm":
        def load_tests(loader, tests, pattern):
            kept = engine_tests_only(tests)
            print("the tests that start no guest run in the .emu variant only (%d here of %d)"
                  % (kept.countTestCases(), tests.countTestCases()), file=sys.stderr)
            return kept
        sys.modules["__main__"].load_tests = load_tests
    unittest.main(verbosity=2)
