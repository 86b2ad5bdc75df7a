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
import os
import re
import shutil
import struct
import subprocess

from pvrrtest import *

BUSYBOX = "/bin/busybox"
KNOWN_HOST_LIMITS = ("cannot execute SSE", "cannot run Linux programs")

_probe = None


def linux_engine():
    """Skip (never pass) unless pvrr can run a static Linux program here."""
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
    if any(k in err for k in KNOWN_HOST_LIMITS):
        raise unittest.SkipTest("engine cannot run Linux programs: " + err.strip().splitlines()[0][:300])
    raise AssertionError("pvrr could not run `busybox true` (exit %d):\n%s" % (rc, err))


def native(*args, stdin=None, cwd=None):
    r = subprocess.run(list(args), capture_output=True, stdin=stdin, cwd=cwd, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    return r


def gcc_static(tmp, name, src):
    """Build a static C program; skip when gcc or the static libc is missing."""
    if not shutil.which("gcc"):
        raise unittest.SkipTest("gcc is not installed")
    c = tmp(name + ".c")
    with open(c, "w") as f:
        f.write(src)
    exe = tmp(name)
    r = subprocess.run(["gcc", "-static", "-O1", "-g", "-o", exe, c], capture_output=True)
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

    def test_random_is_recorded(self):
        log = self.tmp("r.pvlog")
        r = self.run_ok("record", "-o", log, self.exe, "random")
        rp = self.run_ok("replay", log)
        self.assertEqual(rp.stdout, r.stdout)
        self.run_ok("replay", "--check", log)


if __name__ == "__main__":
    main()
