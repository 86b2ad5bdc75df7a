"""The Linux personality: unmodified static Linux programs (Debian's busybox-static,
small static C programs built here with gcc -static) run, record and replay under pvrr,
and their output equals the native run's.

Running them needs an engine that executes SSE and `syscall` as x86-64 does (kvm-amd,
kvm-intel, the emulator). On a host whose KVM cannot (the nested PVM KVM), the first
probe run says so and every test here is SKIPPED with the reason
"engine cannot run Linux programs: ..." -- even with PVRR_REQUIRE_KVM=1, since that
host's KVM is not expected to work. Any other failure of the probe is a failure.
Bad-input tests need no KVM at all.
"""
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import time

from pvrrtest import *

BUSYBOX = "/bin/busybox"
KNOWN_HOST_LIMITS = ("cannot execute SSE", "cannot run Linux programs")

_probe = None


def linux_engine():
    """Skip (never pass) unless pvrr can run a static Linux program here. The emulator
    runs them on every host: there any failure of the probe is a failure."""
    global _probe
    need_kvm()
    if not os.path.exists(BUSYBOX):
        raise unittest.SkipTest("busybox-static is not installed (tools/install-deps.sh)")
    if _probe is None:
        r = pvrr("run", BUSYBOX, "true", timeout=120)
        _probe = (r.returncode, text(r.stderr))
    rc, err = _probe
    if rc == 0:
        return
    if os.environ.get("PVRR_BACKEND") != "emu" and any(k in err for k in KNOWN_HOST_LIMITS):
        raise unittest.SkipTest("engine cannot run Linux programs: " + err.strip().splitlines()[0][:300])
    raise AssertionError("pvrr could not run `busybox true` (exit %d):\n%s" % (rc, err))


def native(*args, stdin=None, cwd=None):
    r = subprocess.run(list(args), capture_output=True, stdin=stdin, cwd=cwd, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    return r


def gcc_static(tmp, name, src, libs=(), flags=("-O1",)):
    """Build a static C program; skip when gcc or the static libraries are missing."""
    if not shutil.which("gcc"):
        raise unittest.SkipTest("gcc is not installed")
    c = tmp(name + ".c")
    with open(c, "w") as f:
        f.write(src)
    exe = tmp(name)
    r = subprocess.run(["gcc", "-static", *flags, "-g", "-o", exe, c, *libs], capture_output=True)
    if r.returncode != 0:
        raise unittest.SkipTest("gcc -static failed: " + text(r.stderr)[:300])
    return exe


class LinuxBadInput(PvrrTestCase):
    needs_kvm = False  # rejected before any VM exists

    def test_dynamic_program_is_refused(self):
        prog = shutil.which("true") or "/bin/true"
        r = pvrr("run", prog)
        self.assertEqual(r.returncode, EXIT_ERROR, text(r.stderr))
        self.assertIn("dynamically linked", text(r.stderr))
        self.assertIn("PT_INTERP", text(r.stderr))

    def test_32bit_elf_is_refused(self):
        path = self.tmp("prog32")
        ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
        hdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x8048000, 52, 0, 0, 52, 32, 0,
                                  40, 0, 0)
        with open(path, "wb") as f:
            f.write(hdr)
        for cmd in ("run", "record"):
            r = pvrr(cmd, "-o", self.tmp("x.pvlog"), path) if cmd == "record" else pvrr(cmd, path)
            self.assertEqual(r.returncode, EXIT_ERROR, text(r.stderr))
            self.assertIn("32-bit", text(r.stderr))
        self.assertFalse(os.path.exists(self.tmp("x.pvlog")))

    def test_linux_options_refused_for_sdk_guest(self):
        r = pvrr("run", "--root", "/", guest("hello"))
        self.assertEqual(r.returncode, EXIT_ERROR, text(r.stderr))
        self.assertIn("SDK guest", text(r.stderr))

    def test_truncated_linux_elf_is_refused(self):
        if not os.path.exists(BUSYBOX):
            self.skipTest("busybox-static is not installed")
        cut = self.tmp("busybox-cut")
        with open(BUSYBOX, "rb") as f, open(cut, "wb") as o:
            o.write(f.read(500000))
        r = pvrr("run", cut, "true")
        self.assertEqual(r.returncode, EXIT_ERROR, text(r.stderr))
        self.assertIn("outside the", text(r.stderr))

    def test_missing_file_option_names_it(self):
        if not os.path.exists(BUSYBOX):
            self.skipTest("busybox-static is not installed")
        r = pvrr("run", "--file", "/nonexistent/x", BUSYBOX, "true")
        self.assertEqual(r.returncode, EXIT_ERROR)
        self.assertIn("/nonexistent/x", text(r.stderr))


class Busybox(PvrrTestCase):
    def setUp(self):
        super().setUp()
        linux_engine()
        self.data = self.tmp("in.txt")
        with open(self.data, "w") as f:
            for i in range(1, 400):
                f.write("line %d word%d\n" % (i * 7919 % 1000, i % 13))

    def same_as_native(self, pvrr_opts, args, stdin_path=None):
        r = self.run_ok("run", *pvrr_opts, BUSYBOX, *args)
        n = native(BUSYBOX, *args, stdin=open(stdin_path, "rb") if stdin_path else None)
        self.assertEqual(n.returncode, 0, text(n.stderr))
        self.assertEqual(r.stdout, n.stdout)
        return r

    def test_echo(self):
        r = self.same_as_native([], ["echo", "hello", "two words"])
        self.assertEqual(r.stdout, b"hello two words\n")

    def test_sort_file(self):
        self.same_as_native(["--file", self.data], ["sort", self.data])

    def test_wc_and_awk_and_sed(self):
        self.same_as_native(["--file", self.data], ["wc", self.data])
        self.same_as_native(["--file", self.data], ["awk", "{s+=$2} END {print s, NR}", self.data])
        self.same_as_native(["--file", self.data], ["sed", "-n", "s/word1/W1/p", self.data])

    def test_stdin(self):
        self.same_as_native(["--stdin", self.data], ["sort", "-r"], stdin_path=self.data)

    def test_root_md5sum_and_ls(self):
        root = self.tmp("root")
        os.makedirs(os.path.join(root, "data"))
        with open(os.path.join(root, "data", "blob"), "wb") as f:
            f.write(os.urandom(300000))
        shutil.copy(self.data, os.path.join(root, "data", "in.txt"))
        r = self.run_ok("run", "--root", root, BUSYBOX, "md5sum", "/data/blob", "/data/in.txt")
        n = native(BUSYBOX, "md5sum", "data/blob", "data/in.txt", cwd=root)
        self.assertEqual(r.stdout.replace(b" /data/", b" data/"), n.stdout)
        r = self.run_ok("run", "--root", root, BUSYBOX, "ls", "-1a", "/data")
        self.assertEqual(r.stdout, native(BUSYBOX, "ls", "-1a", root + "/data").stdout)
        self.assertEqual(r.stdout, b".\n..\nblob\nin.txt\n")

    def test_root_does_not_leak(self):
        root = self.tmp("root")
        os.makedirs(root)
        os.symlink("/etc/passwd", os.path.join(root, "link"))
        r = pvrr("run", "--root", root, BUSYBOX, "cat", "/../../etc/passwd", "/link")
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(b"root:", r.stdout)

    def test_gzip_round_trip_in_write_dir(self):
        w = self.tmp("w")
        os.makedirs(w)
        shutil.copy(self.data, os.path.join(w, "data"))
        self.run_ok("run", "--write-dir", w + ":/w", BUSYBOX, "gzip", "/w/data")
        self.assertTrue(os.path.exists(os.path.join(w, "data.gz")))
        self.assertFalse(os.path.exists(os.path.join(w, "data")))
        self.run_ok("run", "--write-dir", w + ":/w", BUSYBOX, "gunzip", "/w/data.gz")
        with open(os.path.join(w, "data"), "rb") as a, open(self.data, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_read_only_outside_write_dir(self):
        r = pvrr("run", "--file", self.data, BUSYBOX, "rm", self.data)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(os.path.exists(self.data))

    def test_record_replay_check(self):
        log = self.tmp("sort.pvlog")
        r = self.run_ok("record", "-o", log, "--file", self.data, BUSYBOX, "sort", self.data)
        n = native(BUSYBOX, "sort", self.data)
        self.assertEqual(r.stdout, n.stdout)
        rp = self.run_ok("replay", "--check", log)
        info = self.run_ok("info", log)
        self.assertIn("fs_read", text(info.stdout))
        # `pvrr info` lists the files the recording read, with the bytes read
        self.assertRegex(text(info.stdout), re.escape(self.data) + r" +%d read" %
                         os.path.getsize(self.data))
        # the replay needs no host file: the data is in the recording
        os.unlink(self.data)
        self.run_ok("replay", "--check", log)
        self.assertNotIn("DIVERGED", text(rp.stderr))

    def test_unsupported_syscall_named_once(self):
        r = pvrr("run", BUSYBOX, "sync")
        err = text(r.stderr)
        self.assertIn("(sync)", err)
        self.assertIn("not supported: returning ENOSYS", err)
        self.assertEqual(err.count("(sync)"), 1)


BAD_C = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    if (strcmp(argv[1], "efault") == 0) {
        long r = syscall(SYS_write, 1, (void *)8, 10);
        long r2 = syscall(SYS_write, 1, (void *)0xffffffff00000000ull, 10);
        printf("write=%ld errno=%d write2=%ld\n", r, errno, r2);
        return 0;
    }
    if (strcmp(argv[1], "mmap") == 0) {
        size_t n = 0;
        for (;;) {
            void *p = mmap(0, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                printf("mmap failed errno=%d after %zu MiB\n", errno, n * 16);
                return 0;
            }
            n++;
        }
    }
    if (strcmp(argv[1], "segv") == 0) {
        volatile int *p = (int *)16;
        return *p;
    }
    if (strcmp(argv[1], "abort") == 0)
        abort();
    if (strcmp(argv[1], "rdtsc") == 0) {
        unsigned lo, hi, lo2, hi2;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        __asm__ volatile("rdtsc" : "=a"(lo2), "=d"(hi2));
        unsigned long long a = (unsigned long long)hi << 32 | lo, b = (unsigned long long)hi2 << 32 | lo2;
        printf("tsc %llu %llu %s\n", a, b, b >= a ? "monotonic" : "BACKWARDS");
        return 0;
    }
    if (strcmp(argv[1], "enosys") == 0) {
        int n = 0;
        for (int i = 0; i < 5000; i++)
            if (syscall(999) == -1 && errno == ENOSYS)
                n++;
        printf("enosys %d\n", n);
        return 0;
    }
    if (strcmp(argv[1], "random") == 0) {
        unsigned char b[8];
        getrandom(b, sizeof b, 0);
        printf("%02x%02x%02x%02x\n", b[0], b[1], b[2], b[3]);
        return 0;
    }
    return 3;
}
"""


class StaticC(PvrrTestCase):
    def setUp(self):
        super().setUp()
        linux_engine()
        self.exe = gcc_static(self.tmp, "bad", BAD_C)

    def test_wild_pointer_gets_efault(self):
        r = self.run_ok("run", self.exe, "efault")
        self.assertEqual(text(r.stdout), "write=-1 errno=14 write2=-1\n")

    def test_mmap_storm_gets_enomem(self):
        r = self.run_ok("run", "--mem", "128M", self.exe, "mmap")
        self.assertRegex(text(r.stdout), r"mmap failed errno=12 after \d+ MiB")

    def test_segv_and_abort_end_as_signals(self):
        r = pvrr("run", self.exe, "segv")
        self.assertEqual(r.returncode, 128 + 11, text(r.stderr))
        self.assertIn("SIGSEGV", text(r.stderr))
        r = pvrr("run", self.exe, "abort")
        self.assertEqual(r.returncode, 128 + 6, text(r.stderr))
        self.assertIn("SIGABRT", text(r.stderr))

    def test_rdtsc_is_emulated_and_recorded(self):
        log = self.tmp("t.pvlog")
        r = self.run_ok("record", "-o", log, self.exe, "rdtsc")
        self.assertRegex(text(r.stdout), r"^tsc \d+ \d+ monotonic\n$")
        rp = self.run_ok("replay", log)
        self.assertEqual(rp.stdout, r.stdout)  # the TSC values came from the recording
        self.run_ok("replay", "--check", log)

    def test_unsupported_syscall_in_a_loop(self):
        r = self.run_ok("run", self.exe, "enosys")
        self.assertEqual(text(r.stdout), "enosys 5000\n")
        self.assertEqual(text(r.stderr).count("system call 999"), 1, text(r.stderr))

    def test_random_is_recorded(self):
        log = self.tmp("r.pvlog")
        r = self.run_ok("record", "-o", log, self.exe, "random")
        rp = self.run_ok("replay", log)
        self.assertEqual(rp.stdout, r.stdout)
        self.run_ok("replay", "--check", log)


SQLITE_C = r"""
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void check(int rc, sqlite3 *db, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(2);
    }
}

int main(int argc, char **argv)
{
    int n = atoi(argv[1]);
    int random = argc > 2 && strcmp(argv[2], "random") == 0;
    uint32_t *v = malloc(n * sizeof *v);
    if (random)
        getrandom(v, n * sizeof *v, 0);
    else
        for (int i = 0; i < n; i++)
            v[i] = (uint32_t)i * 2654435761u;
    sqlite3 *db;
    check(sqlite3_open(":memory:", &db), db, "open");
    check(sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, s TEXT);"
                           "CREATE INDEX tv ON t(v); BEGIN", 0, 0, 0), db, "create");
    sqlite3_stmt *ins;
    check(sqlite3_prepare_v2(db, "INSERT INTO t(v, s) VALUES (?, ?)", -1, &ins, 0), db, "prep");
    for (int i = 0; i < n; i++) {
        char s[32];
        snprintf(s, sizeof s, "row-%08x", v[i]);
        sqlite3_bind_int64(ins, 1, v[i]);
        sqlite3_bind_text(ins, 2, s, -1, SQLITE_TRANSIENT);
        check(sqlite3_step(ins), db, "insert");
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
    sqlite3_stmt *q;
    check(sqlite3_prepare_v2(db, "SELECT count(*), sum(v % 1000), min(v), max(v), "
                                 "avg(v) FROM t", -1, &q, 0), db, "query");
    check(sqlite3_step(q), db, "step");
    printf("count=%d sum=%lld min=%lld max=%lld avg=%.3f\n", sqlite3_column_int(q, 0),
           sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2), sqlite3_column_int64(q, 3),
           sqlite3_column_double(q, 4));
    sqlite3_finalize(q);
    check(sqlite3_prepare_v2(db, "SELECT s FROM t ORDER BY v DESC LIMIT 3", -1, &q, 0), db, "q2");
    while (sqlite3_step(q) == SQLITE_ROW)
        printf("%s\n", sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    printf("sqlite %s\n", sqlite3_libversion());
    return 0;
}
"""


class Sqlite(PvrrTestCase):
    def setUp(self):
        super().setUp()
        linux_engine()
        if not os.path.exists("/usr/include/sqlite3.h"):
            self.skipTest("libsqlite3-dev is not installed (tools/install-deps.sh)")
        self.exe = gcc_static(self.tmp, "sq", SQLITE_C, libs=["-lsqlite3", "-lm"])

    def test_deterministic_run_equals_native(self):
        r = self.run_ok("run", self.exe, "3000")
        n = native(self.exe, "3000")
        self.assertEqual(n.returncode, 0)
        self.assertEqual(r.stdout, n.stdout)
        self.assertIn(b"count=3000 ", r.stdout)

    def test_random_data_records_and_replays(self):
        log = self.tmp("sq.pvlog")
        r = self.run_ok("record", "-o", log, self.exe, "2000", "random")
        self.assertIn(b"count=2000 ", r.stdout)
        rp = self.run_ok("replay", log)
        self.assertEqual(rp.stdout, r.stdout)
        self.run_ok("replay", "--check", log)


BUG_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

struct node {
    int id;
    char name[28];
};

static struct node *cache;

static void evict_maybe(unsigned r)
{
    if (r % 4 == 0)
        free(cache); /* BUG: the cache still points at it */
}

int main(void)
{
    unsigned r;
    getrandom(&r, sizeof r, 0);
    cache = malloc(sizeof *cache);
    cache->id = 42;
    evict_maybe(r);
    struct node *fresh = malloc(sizeof *fresh);
    fresh->id = 7; /* OVERWRITES */
    if (cache->id != 42) {
        printf("corrupted id %d at %p\n", cache->id, (void *)&cache->id);
        fflush(stdout);
        abort();
    }
    printf("ok\n");
    return 0;
}
"""


class BuggyProgram(PvrrTestCase):
    """A use after free that happens in one run of four (getrandom decides), recorded
    until it fails and found with gdb's reverse execution on the program's own symbols."""

    def setUp(self):
        super().setUp()
        linux_engine()
        if not shutil.which("gdb"):
            self.skipTest("gdb is not installed")
        self.exe = gcc_static(self.tmp, "bug", BUG_C, flags=["-O0"])

    def test_reverse_continue_finds_the_overwrite(self):
        log = self.tmp("bug.pvlog")
        r = pvrr("record", "--until-fail", "60", "-o", log, self.exe, timeout=600)
        self.assertEqual(r.returncode, 128 + 6, text(r.stderr))
        m = re.search(rb"corrupted id 7 at (0x[0-9a-f]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        addr = text(m.group(1))
        line = BUG_C.split("\n").index(next(l for l in BUG_C.split("\n") if "OVERWRITES" in l)) + 1
        s = GdbServer("replay", "--gdb", "127.0.0.1:0", log)
        self.addCleanup(s.kill)
        out = gdb_batch(self.exe, s.port, [
            "continue", "watch -l *(int *)" + addr, "reverse-continue", "info line *$pc",
            "print fresh->id", "print cache == fresh", "detach"])
        # going back, gdb shows the value after the write as "Old" (7) and the one before
        # it as "New" (what free() left in the chunk, no longer 42)
        hit = re.search(r"Old value = 7\s+New value = (-?\d+)\s+(?:0x[0-9a-f]+ in )?main "
                        r"\(.*\) at [^:]*bug\.c:(\d+)", out)
        if hit is None:
            status, stdout, err = s.finish()
            self.fail("no watchpoint hit going back; gdb:\n%s\npvrr (status %d):\n%s" %
                      (out[-3000:], status, text(err)[-3000:]))
        self.assertEqual(int(hit.group(2)), line, out[-3000:])
        self.assertNotEqual(int(hit.group(1)), 42, out[-3000:])  # free() had reused it already
        self.assertRegex(out, r"\$1 = %s\b" % hit.group(1))  # fresh->id before the write
        self.assertRegex(out, r"\$2 = 1\b")  # the freed cache and the fresh node are one
        status, stdout, err = s.finish()
        self.assertEqual(status, 128 + 6)
        self.assertNotIn(b"DIVERGED", err)

    def test_breakpoint_step_and_backtrace_in_program_code(self):
        log = self.tmp("one.pvlog")
        r = pvrr("record", "-o", log, self.exe)
        self.assertIn(r.returncode, (0, 128 + 6), text(r.stderr))
        s = GdbServer("replay", "--gdb", "127.0.0.1:0", log)
        self.addCleanup(s.kill)
        # replay --gdb extracts the program, with its symbols, from the recording alone
        with open(self.exe, "rb") as a, open(log + ".elf", "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertTrue(os.path.exists(log + ".elf.kernel"))
        out = gdb_batch(log + ".elf", s.port, [
            "break evict_maybe", "continue", "bt", "next", "info line *$pc",
            "reverse-next", "info line *$pc", "detach"])
        self.assertRegex(out, r"Breakpoint 1, evict_maybe \(r=\d+\) at [^:]*bug\.c")
        self.assertRegex(out, r"#1 +0x[0-9a-f]+ in main \(\) at [^:]*bug\.c")
        status, stdout, err = s.finish()
        self.assertEqual(status, r.returncode, text(err)[-2000:])
        self.assertEqual(stdout, r.stdout)
        self.assertNotIn(b"DIVERGED", err)



KFRAMES_C = r"""
#include <fcntl.h>
#include <unistd.h>

char buf[16];

int main(int argc, char **argv)
{
    int fd = open(argv[1], O_RDONLY);
    long n = read(fd, buf, 8);
    write(1, buf, n > 0 ? n : 0);
    return 0;
}
"""

USER_LO = 4 << 20  # personality/linux/layout.h: the user window starts here


def insn_in(exe, func, insn="syscall"):
    """The address of the first (insn) instruction (no operands) of (func) in (exe), by
    objdump."""
    if not shutil.which("objdump"):
        raise unittest.SkipTest("objdump is not installed")
    r = subprocess.run(["objdump", "-d", "--no-show-raw-insn", exe], capture_output=True,
                       timeout=60)
    inside = False
    for line in text(r.stdout).splitlines():
        if line.endswith("<%s>:" % func):
            inside = True
        elif inside and not line.strip():
            break
        elif inside and re.search(r"\t%s\s*$" % insn, line):
            return int(line.split(":")[0], 16)
    raise AssertionError("no %s instruction in %s of %s" % (insn, func, exe))


class KernelFrames(PvrrTestCase):
    """gdb never stops inside pvrr's kernel unless asked to, as for a native Linux process:
    stepi over `syscall` ends at the next user instruction, reverse-stepi from there lands on
    the `syscall`, a watchpoint on a buffer read() fills stops in user code (forward and in
    reverse), and `monitor kernel-frames off` lets stepi enter the kernel."""

    def setUp(self):
        super().setUp()
        linux_engine()
        if not shutil.which("gdb"):
            self.skipTest("gdb is not installed")
        self.exe = gcc_static(self.tmp, "kframes", KFRAMES_C)
        self.sc = insn_in(self.exe, "__libc_read")
        self.data = self.tmp("data.txt")
        with open(self.data, "w") as f:
            f.write("hello12345\n")

    def pcs(self, out):
        """The values of `printf "PC<tag> %lx\n", $pc` in gdb's output, by tag."""
        return {m.group(1): int(m.group(2), 16) for m in re.finditer(r"^PC(\w+) ([0-9a-f]+)$",
                                                                     out, re.M)}

    def test_syscall_steps_and_watchpoints_stay_in_user_code(self):
        log = self.tmp("kf.pvlog")
        r = pvrr("record", "-o", log, "--file", self.data, self.exe, self.data)
        self.assertEqual(r.returncode, 0, text(r.stderr))
        self.assertEqual(r.stdout, b"hello123")
        s = GdbServer("replay", "--gdb", "127.0.0.1:0", log)
        self.addCleanup(s.kill)
        pc = lambda tag: 'printf "PC%s %%lx\\n", $pc' % tag
        out = gdb_batch(log + ".elf", s.port, [
            "break *%#x" % self.sc, "continue", pc("at"),
            "stepi", pc("step"), "reverse-stepi", pc("back"),
            "delete", "watch buf[0]", "continue", pc("watch"), "print buf",
            "reverse-continue", pc("rwatch"), "delete",
            "monitor kernel-frames off", "stepi", pc("kernel"), "reverse-stepi", pc("kback"),
            "monitor kernel-frames on", "stepi", pc("again"), "detach"])
        p = self.pcs(out)
        want = {"at": self.sc, "step": self.sc + 2, "back": self.sc, "watch": self.sc + 2,
                "rwatch": self.sc, "kback": self.sc, "again": self.sc + 2}
        for tag, addr in want.items():
            self.assertEqual(p.get(tag), addr, "%s: gdb says %s, want %#x\n%s" % (
                tag, hex(p[tag]) if tag in p else None, addr, out[-4000:]))
        # the kernel wrote buf: reported at the user instruction after the syscall
        self.assertRegex(out, r"Old value = 0 '\\000'\s+New value = 104 'h'")
        self.assertIn('"hello123', out)
        # kernel frames shown: stepi over syscall enters pvrr's kernel, below the user window
        self.assertIn("kernel", p)
        self.assertLess(p["kernel"], USER_LO, out[-4000:])
        self.assertIn("kernel frames: shown", out)
        self.assertIn("kernel frames: hidden", out)
        status, stdout, err = s.finish()
        self.assertEqual(status, 0, text(err)[-2000:])
        self.assertEqual(stdout, b"hello123")
        self.assertNotIn(b"DIVERGED", err)

    def test_live_run_steps_over_syscall(self):
        s = GdbServer("run", "--gdb", "127.0.0.1:0", "--file", self.data, self.exe, self.data)
        self.addCleanup(s.kill)
        pc = lambda tag: 'printf "PC%s %%lx\\n", $pc' % tag
        out = gdb_batch(self.exe, s.port, [
            "break *%#x" % self.sc, "continue", "delete", "stepi", pc("step"), "print buf",
            "detach"])
        self.assertEqual(self.pcs(out).get("step"), self.sc + 2, out[-4000:])
        self.assertIn('"hello123', out)
        status, stdout, err = s.finish()
        self.assertEqual(status, 0, text(err)[-2000:])
        self.assertEqual(stdout, b"hello123")

    def interrupted(self, exe, mode):
        """`pvrr run --gdb` of (exe); gdb continues, gets ^C once the program runs, prints
        where it stopped and the two bytes before: returns (pc, those bytes, gdb's output)."""
        s = GdbServer("run", "--gdb", "127.0.0.1:0", exe)
        self.addCleanup(s.kill)
        args = ["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off",
                "-ex", "target remote 127.0.0.1:%d" % s.port,
                "-ex", "monitor kernel-frames " + mode, "-ex", "continue",
                "-ex", 'printf "PCint %lx\\n", $pc', "-ex", "x/2xb $pc-2", "-ex", "bt 2",
                "-ex", "kill", exe]
        g = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(g.kill)
        # the program runs (its kernel loaded it) once it says so; then it spins
        ready = select.select([s.proc.stdout], [], [], 180)[0]
        self.assertTrue(ready and s.proc.stdout.readline() == b"spinning\n",
                        "the program did not start under gdb")
        time.sleep(0.5)
        g.send_signal(signal.SIGINT)
        out = text(g.communicate(timeout=180)[0])
        s.finish()
        m = re.search(r"^PCint ([0-9a-f]+)$", out, re.M)
        self.assertIsNotNone(m, out[-3000:])
        b = re.search(r":\s+0x([0-9a-f]{2})\s+0x([0-9a-f]{2})", out[m.end():])
        return int(m.group(1), 16), b and (int(b.group(1), 16), int(b.group(2), 16)), out

    def test_interrupt_in_the_kernel_stops_in_user_code(self):
        # the program spends nearly all its time in the kernel clearing the pages mmap
        # hands out again: an interrupt lands there, and is reported after the syscall
        exe = gcc_static(self.tmp, "spin", SPIN_C)
        pc, _, out = self.interrupted(exe, "off")
        self.assertLess(pc, USER_LO, "with kernel frames shown, ^C stopped in user code:\n" +
                        out[-3000:])
        pc, before, out = self.interrupted(exe, "on")
        self.assertGreaterEqual(pc, USER_LO, out[-3000:])
        self.assertEqual(before, (0x0f, 0x05), "not just after a syscall:\n" + out[-3000:])
        self.assertRegex(out, r"#1 +0x[0-9a-f]+ in main \(\) at [^:]*spin\.c")


SPIN_C = r"""
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
    write(1, "spinning\n", 9);
    for (;;) {
        char *p = mmap(0, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[0] = 1;
        munmap(p, 16 << 20);
    }
}
"""

DUMP_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) long do_read(int fd, char *buf)
{
    return read(fd, buf, 5); /* the call `pvrr dump` must name */
}

int main(int argc, char **argv)
{
    char buf[8] = {0};
    int fd = open(argv[1], O_RDONLY);
    long n = do_read(fd, buf);
    printf("read %ld: %s\n", n, buf);
    return 0;
}
"""


class DumpNamesSyscalls(PvrrTestCase):
    def setUp(self):
        super().setUp()
        linux_engine()
        self.exe = gcc_static(self.tmp, "dumpme", DUMP_C)

    def test_dump_names_the_system_call_and_its_call_site(self):
        data = self.tmp("data.txt")
        with open(data, "w") as f:
            f.write("hello world")
        log = self.tmp("d.pvlog")
        r = self.run_ok("record", "-o", log, "--file", data, self.exe, data)
        self.assertEqual(text(r.stdout), "read 5: hello\n")
        d = text(self.run_ok("dump", log).stdout)
        # the program's read(fd, buf, 5), from do_read's line, behind an fs_read hypercall
        line = [l for l in d.splitlines() if "<- read(" in l]
        self.assertEqual(len(line), 1, d[-3000:])
        self.assertIn("fs_read", line[0])
        self.assertRegex(line[0], r"<- read\(0x3, 0x[0-9a-f]+, 0x5\) from "
                         r"(__libc_read|read|__read)\+0x[0-9a-f]+")
        # openat and write are named too; the kernel's own loading events are not
        self.assertRegex(d, r"fs_open .*<- open(at)?\(")
        self.assertRegex(d, r"console_write .*<- write\(0x1, ")
        self.assertNotIn("<- ", d.splitlines()[0])
        j = json.loads(text(self.run_ok("dump", "--json", log).stdout))
        calls = [e["syscall"] for e in j["events"] if "syscall" in e]
        self.assertIn("read", [c["name"] for c in calls])
        rd = [c for c in calls if c["name"] == "read"][0]
        self.assertEqual((rd["nr"], rd["args"][0], rd["args"][2]), (0, 3, 5))
        # --no-replay: no names, nothing else lost
        nr = text(self.run_ok("dump", "--no-replay", log).stdout)
        self.assertNotIn("<- ", nr)
        self.assertEqual(len(nr.splitlines()), len(d.splitlines()))


if __name__ == "__main__":
    main()
