"""`pvrr run`: every sample guest under real KVM, and every bad input gets its error."""
import os
import struct
import time

from pvrrtest import *


class SampleGuests(PvrrTestCase):
    def test_hello_prints_and_passes_arguments(self):
        r = self.run_ok("run", guest("hello"), "--", "one", "two")
        out = text(r.stdout)
        self.assertIn("Hello from a pvrr guest!", out)
        self.assertIn("argv[1] = one", out)
        self.assertIn("argv[2] = two", out)

    def test_exit_status_becomes_pvrr_status(self):
        # echo exits 0 after echoing; its input comes from --stdin
        src = self.tmp("in.txt")
        with open(src, "w") as f:
            f.write("hello there\nsecond line\n")
        r = self.run_ok("run", "--stdin", src, guest("echo"))
        self.assertIn("HELLO THERE\nSECOND LINE\n", text(r.stdout))

    def test_kvstore_passes_or_reports_corruption(self):
        seen = set()
        runs = 0
        # the bug fires in about a third of the runs: run until both
        # outcomes were seen, at most 40 runs ((2/3)^40 < 1e-7 to miss "fail")
        while seen != {"ok", "fail"} and runs < 40:
            runs += 1
            r = pvrr("run", guest("kvstore"))
            out = text(r.stdout)
            if r.returncode == 0:
                self.assertRegex(out, r"kvstore: OK after \d+ operations")
                seen.add("ok")
            else:
                self.assertEqual(r.returncode, EXIT_PANIC, text(r.stderr))
                self.assertIn("CORRUPTION", out)
                self.assertIn("guest panic", text(r.stderr))
                seen.add("fail")
        self.assertEqual(seen, {"ok", "fail"}, "kvstore outcomes over %d runs: %s" % (runs, seen))

    def test_blk_writes_and_checksums_disk(self):
        disk = self.tmp("disk.img")
        with open(disk, "wb") as f:
            f.write(bytes(range(256)) * 256)  # 64 KiB = 128 sectors
        r = self.run_ok("run", "--disk", disk, guest("blk"))
        out = text(r.stdout)
        self.assertIn("blk: sectors=128 checksum=0x", out)
        self.assertIn("verified", out)
        # the guest wrote its pattern into the image
        with open(disk, "rb") as f:
            self.assertNotEqual(f.read(), bytes(range(256)) * 256)

    def test_blk_without_disk_says_so(self):
        r = self.run_ok("run", guest("blk"), status=2)
        self.assertIn("no disk attached", text(r.stdout))

    def test_timer_sleeps_on_deadlines(self):
        t0 = time.monotonic()
        r = self.run_ok("run", guest("timer"), "--", "ticks=5", "ms=40")
        elapsed = time.monotonic() - t0
        out = text(r.stdout)
        self.assertIn("timer: tick 4", out)
        self.assertIn("slept >= 200 ms: yes", out)
        self.assertGreaterEqual(elapsed, 0.2)

    def test_spin_is_deterministic(self):
        a = self.run_ok("run", guest("spin"), "--", "iters=2000000")
        b = self.run_ok("run", guest("spin"), "--", "iters=2000000")
        self.assertIn("spin: result 0x", text(a.stdout))
        self.assertEqual(a.stdout, b.stdout)

    def test_hcbench_makes_many_hypercalls(self):
        r = self.run_ok("run", guest("hcbench"), "--", "n=100000")
        self.assertIn("hcbench: 100000 hypercalls", text(r.stdout))

    def test_sdk_libc_self_test(self):
        r = self.run_ok("run", guest("sdktest"))
        self.assertRegex(text(r.stdout), r"sdktest: all \d+ checks passed")

    def test_stack_overflow_hits_the_guard_page(self):
        r = pvrr("run", "--timeout", "60", guest("hostile"), "--", "stackoverflow")
        self.assertEqual(r.returncode, EXIT_PANIC, text(r.stderr))
        self.assertIn(b"stack overflow (the guard page below the stack)", r.stderr)

    def test_mem_option(self):
        r = self.run_ok("run", "--mem", "16M", guest("hello"))
        self.assertIn("Hello", text(r.stdout))


class BadGuests(PvrrTestCase):
    def expect(self, args, status, *fragments, env=None):
        r = pvrr(*args, env=env)
        err = text(r.stderr) + text(r.stdout)
        self.assertEqual(r.returncode, status, err)
        for frag in fragments:
            self.assertRegex(err, frag)
        return err

    def test_wild_pointer_names_hypercall_rip_and_range(self):
        self.expect(["run", guest("hostile"), "--", "wild-ptr"], EXIT_PANIC,
                    r"hypercall console_write at rip 0x[0-9a-f]+: buffer \[0xdeadbeef000, \+0x10\) "
                    r"lies outside guest RAM")

    def test_length_overflow(self):
        self.expect(["run", guest("hostile"), "--", "huge-len"], EXIT_PANIC,
                    r"hypercall console_write at rip 0x[0-9a-f]+: length exceeds")

    def test_unknown_hypercall(self):
        self.expect(["run", guest("hostile"), "--", "unknown-hc"], EXIT_PANIC,
                    r"unknown hypercall 200 \(port 0x5c8\) at rip 0x[0-9a-f]+")

    def test_struct_outside_ram(self):
        self.expect(["run", guest("hostile"), "--", "bad-struct"], EXIT_PANIC,
                    r"argument struct \[0x4000000, 0x4000018\) lies outside guest RAM")

    def test_triple_fault_reports_registers(self):
        # pvrr names the triple fault and dumps registers: the state at the fault
        # where the host keeps it (cr3 is pvrr's boot page table), else, on hosts
        # that reset the vCPU at a shutdown (kvm-amd), says so and gives the
        # registers at the guest's last exit.
        err = self.expect(["run", guest("fault"), "--", "triple"], EXIT_PANIC,
                          r"triple fault", r"rip [0-9a-f]{16}", r"rsp [0-9a-f]{16}")
        self.assertRegex(err, r"cr3 0000000000010000|"
                         r"reset the vCPU, so its registers at the fault are lost")

    def test_page_fault_reported_by_sdk(self):
        self.expect(["run", guest("fault"), "--", "null"], EXIT_PANIC,
                    r"guest panic: exception #PF \(14\) at rip 0x[0-9a-f]+ cr2 0x10")

    def test_timeout_stops_a_spinning_guest(self):
        t0 = time.monotonic()
        self.expect(["run", "--timeout", "1", guest("hostile"), "--", "loop"], EXIT_TIMEOUT,
                    r"still running after --timeout 1 s")
        self.assertLess(time.monotonic() - t0, 20)

    def test_timeout_while_blocked_in_poll(self):
        self.expect(["run", "--timeout", "0.3", guest("timer"), "--", "ticks=100", "ms=100"],
                    EXIT_TIMEOUT, r"--timeout")

    def test_missing_kvm_device(self):
        # PVRR_KVM_DEVICE points pvrr at another device node (for this test)
        self.expect(["run", guest("hello")], EXIT_ERROR, r"does not exist",
                    r"kvm_intel or kvm_amd",
                    env={"PVRR_KVM_DEVICE": "/nonexistent/kvm", "PVRR_BACKEND": "kvm"})

    def test_kvm_device_not_permitted(self):
        dev = self.tmp("kvm")
        open(dev, "w").close()
        os.chmod(dev, 0)
        if os.geteuid() == 0:
            # root opens anything: use a device that refuses with EACCES instead
            dev = "/proc/self/mem/x"
        r = pvrr("run", guest("hello"), env={"PVRR_KVM_DEVICE": dev, "PVRR_BACKEND": "kvm"})
        self.assertEqual(r.returncode, EXIT_ERROR)
        self.assertRegex(text(r.stderr), r"pvrr run: .*(permission denied|Not a directory|not)")


class Backend(PvrrTestCase):
    """Choosing the execution engine (--backend, PVRR_BACKEND, auto)."""

    def expect(self, args, status, *fragments, env=None):
        r = pvrr(*args, env=env)
        err = text(r.stderr) + text(r.stdout)
        self.assertEqual(r.returncode, status, err)
        for frag in fragments:
            self.assertRegex(err, frag)
        return err

    def test_auto_without_kvm_takes_the_emulator_and_says_why(self):
        env = {"PVRR_KVM_DEVICE": "/nonexistent/kvm", "PVRR_BACKEND": ""}
        r = pvrr("run", guest("hello"), env=env)
        self.assertEqual(r.returncode, 0, text(r.stderr))
        self.assertIn(b"Hello from a pvrr guest!", r.stdout)
        lines = text(r.stderr).splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"^pvrr: emu backend \(auto: /nonexistent/kvm does not exist")
        # the same with --backend auto given explicitly
        r = pvrr("run", "--backend", "auto", guest("hello"), env=env)
        self.assertRegex(text(r.stderr), r"^pvrr: emu backend \(auto: ")

    def test_auto_says_which_engine_it_took(self):
        r = pvrr("run", "--backend", "auto", guest("hello"))
        self.assertEqual(r.returncode, 0, text(r.stderr))
        self.assertRegex(text(r.stderr), r"^pvrr: (kvm backend \(auto: \S+ works\)|emu backend "
                         r"\(auto: .+\))\n$")

    def test_named_backend_is_quiet_and_kvm_without_kvm_is_an_error(self):
        r = pvrr("run", "--backend", "emu", guest("hello"))
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.expect(["run", "--backend", "kvm", guest("hello")], EXIT_ERROR, r"does not exist",
                    env={"PVRR_KVM_DEVICE": "/nonexistent/kvm"})
        r = pvrr("record", "--backend", "kvm", "-o", self.tmp("x.pvlog"), guest("hello"),
                 env={"PVRR_KVM_DEVICE": "/nonexistent/kvm"})
        self.assertEqual(r.returncode, EXIT_ERROR)
        self.assertFalse(os.path.exists(self.tmp("x.pvlog")))

    def test_unknown_backend(self):
        self.expect(["run", "--backend", "bochs", guest("hello")], EXIT_USAGE,
                    r"unknown backend 'bochs' \(this build has: kvm, emu, and auto\)")
        self.expect(["replay", "--backend", "bochs", "x.pvlog"], EXIT_USAGE,
                    r"unknown backend 'bochs'")
        self.expect(["run", guest("hello")], EXIT_USAGE, r"unknown backend 'qemu'.*PVRR_BACKEND",
                    env={"PVRR_BACKEND": "qemu"})

    def test_version_lists_the_backends(self):
        r = pvrr("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(text(r.stdout), r"backends: kvm, emu")

    def test_replay_check_says_nothing(self):
        log = self.tmp("h.pvlog")
        self.run_ok("record", "-o", log, guest("hello"))
        r = pvrr("replay", "--check", "--backend", "auto", log)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))


def elf64(segments, entry=0x100000, machine=62, cls=2, data=1, etype=2, body=b"\x90" * 16):
    """A minimal ELF64 image with the given PT_LOAD (paddr, filesz, memsz, flags)."""
    phoff = 64
    phnum = len(segments)
    off = phoff + 56 * phnum
    eh = b"\x7fELF" + bytes([cls, data, 1, 0]) + bytes(8)
    eh += struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, entry, phoff, 0, 0, 64, 56, phnum,
                      64, 0, 0)
    ph = b""
    for (paddr, filesz, memsz, flags) in segments:
        ph += struct.pack("<IIQQQQQQ", 1, flags, off, paddr, paddr, filesz, memsz, 0x1000)
    return eh + ph + body


class BadElf(PvrrTestCase):
    needs_kvm = False  # the ELF is rejected before KVM is opened

    def reject(self, blob, fragment):
        path = self.tmp("bad.elf")
        with open(path, "wb") as f:
            f.write(blob)
        r = pvrr("run", path)
        self.assertEqual(r.returncode, EXIT_ERROR, text(r.stderr))
        self.assertIn("bad.elf", text(r.stderr))
        self.assertRegex(text(r.stderr), fragment)

    def test_not_an_elf(self):
        self.reject(b"#!/bin/sh\necho hi\n" * 10, r"(?i)not an ELF")

    def test_empty_file(self):
        self.reject(b"", r"(?i)empty|not an ELF|too short")

    def test_32bit(self):
        self.reject(elf64([(0x100000, 16, 16, 5)], cls=1), r"(?i)32-bit")

    def test_wrong_machine(self):
        self.reject(elf64([(0x100000, 16, 16, 5)], machine=3), r"(?i)machine")

    def test_segment_over_monitor_pages(self):
        self.reject(elf64([(0x1000, 16, 16, 5)], entry=0x1000), r"monitor")

    def test_segment_past_ram(self):
        self.reject(elf64([(0x7ff0000, 16, 0x100000, 5)], entry=0x7ff0000), r"(?i)RAM|memory")

    def test_segment_file_range_outside_file(self):
        self.reject(elf64([(0x100000, 0x100000, 0x100000, 5)]), r"(?i)outside|beyond|past")


if __name__ == "__main__":
    main()
