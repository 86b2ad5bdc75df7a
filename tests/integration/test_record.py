"""`pvrr record` and `pvrr replay`: bit-for-bit replay, divergence, damaged logs, SIGKILL."""
import json
import os
import shutil
import signal
import struct
import subprocess
import time

from pvrrtest import *


class RecordReplay(PvrrTestCase):
    def roundtrip(self, name, *args, run_opts=(), status=0):
        log = self.tmp(name + ".pvlog")
        rec = self.run_ok("record", "-o", log, *run_opts, guest(name), "--", *args,
                          status=status)
        rep = self.run_ok("replay", log, status=status)
        self.assertEqual(rep.stdout, rec.stdout, "replay output differs from the recording")
        chk = self.run_ok("replay", "--check", log)
        self.assertEqual(chk.stdout, b"")
        self.assertEqual(chk.stderr, b"")
        return log, rec

    def test_hello(self):
        _, rec = self.roundtrip("hello", "a", "b")
        self.assertIn(b"argv[2] = b", rec.stdout)

    def test_blk_replays_without_the_disk(self):
        disk = self.tmp("disk.img")
        with open(disk, "wb") as f:
            f.write(os.urandom(64 * 1024))
        log, rec = self.roundtrip("blk", run_opts=("--disk", disk))
        self.assertIn(b"checksum=0x", rec.stdout)
        os.unlink(disk)
        rep = self.run_ok("replay", log)
        self.assertEqual(rep.stdout, rec.stdout)

    def test_timer_replays_faster_than_recorded(self):
        t0 = time.monotonic()
        log, rec = self.roundtrip("timer", "ticks=10", "ms=400")
        t_rec = time.monotonic() - t0
        t0 = time.monotonic()
        self.run_ok("replay", log)
        t_rep = time.monotonic() - t0
        self.assertIn(b"slept >= 4000 ms: yes", rec.stdout)
        # waits are not waited again: a replay that slept would take the 4 s again
        # (the margin absorbs slow start-up on a loaded or emulated machine)
        self.assertLess(t_rep, 2.0, "replay of a 4 s sleeper took %.2f s" % t_rep)

    def test_spin(self):
        self.roundtrip("spin", "iters=3000")

    def test_hcbench(self):
        log, _ = self.roundtrip("hcbench", "n=20000")
        info = text(self.run_ok("info", log).stdout)
        self.assertRegex(info, r"hypercalls:\s+200\d\d")

    def test_echo_replays_without_stdin(self):
        src = self.tmp("in.txt")
        with open(src, "w") as f:
            f.write("some input\n")
        log, rec = self.roundtrip("echo", run_opts=("--stdin", src))
        self.assertIn(b"SOME INPUT", rec.stdout)
        os.unlink(src)
        self.assertEqual(self.run_ok("replay", log).stdout, rec.stdout)

    def test_failing_kvstore_fails_identically_every_replay(self):
        log = self.record_failing_kvstore(self.tmp("kv.pvlog"))
        first = None
        for _ in range(3):
            r = pvrr("replay", log)
            self.assertEqual(r.returncode, EXIT_PANIC, text(r.stderr))
            self.assertIn(b"CORRUPTION", r.stdout)
            if first is None:
                first = r
            self.assertEqual(r.stdout, first.stdout)
            self.assertEqual(r.stderr, first.stderr)
        self.assertEqual(self.run_ok("replay", "--check", log).stdout, b"")

    def test_many_kvstore_recordings_replay(self):
        outcomes = set()
        for i in range(6):
            log = self.tmp("kv%d.pvlog" % i)
            rec = pvrr("record", "-o", log, guest("kvstore"), "--", "ops=1500")
            self.assertIn(rec.returncode, (0, EXIT_PANIC), text(rec.stderr))
            outcomes.add(rec.returncode)
            rep = pvrr("replay", log)
            self.assertEqual(rep.returncode, rec.returncode)
            self.assertEqual(rep.stdout, rec.stdout)

    def test_copied_recording_replays_with_originals_deleted(self):
        g = self.tmp("myguest.elf")
        shutil.copy(guest("kvstore"), g)
        rec = pvrr("record", "-o", self.tmp("orig.pvlog"), g, "--", "ops=1000")
        os.unlink(g)
        moved = self.tmp("elsewhere.pvlog")
        shutil.copy(self.tmp("orig.pvlog"), moved)
        os.unlink(self.tmp("orig.pvlog"))
        rep = pvrr("replay", moved)
        self.assertEqual(rep.returncode, rec.returncode)
        self.assertEqual(rep.stdout, rec.stdout)

    def test_until_fail_keeps_the_failing_run(self):
        log = self.record_failing_kvstore(self.tmp("kv.pvlog"))
        self.assertFalse(os.path.exists(log + ".tmp"))
        info = text(self.run_ok("info", log, status=0).stdout)
        self.assertIn("ended by:      panic, status 255", info)

    def test_until_fail_with_no_failure(self):
        r = pvrr("record", "--until-fail", "3", "-o", self.tmp("h.pvlog"), guest("hello"))
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no failing run in 3 runs", r.stderr)
        self.assertFalse(os.path.exists(self.tmp("h.pvlog")))


class AcrossEngines(PvrrTestCase):
    """A recording made on one engine replays on the other, bit for bit. The
    emulator needs no host support; the KVM half runs where this test runs on KVM
    (it.record.kvm)."""

    def engines(self):
        return ["emu", "kvm"] if os.environ.get("PVRR_BACKEND") == "kvm" else ["emu"]

    def test_record_on_each_replay_on_every_engine(self):
        engines = self.engines()
        for rec in engines:
            disk = self.tmp("disk-%s.img" % rec)
            with open(disk, "wb") as f:
                f.write(os.urandom(1 << 20))
            for name, opts, args in (("kvstore", [], ["ops=3000"]), ("blk", ["--disk", disk], []),
                                     ("timer", [], ["ticks=5"])):
                with self.subTest(recorded_on=rec, guest=name):
                    log = self.tmp("%s-%s.pvlog" % (name, rec))
                    live = pvrr("record", "--backend", rec, "-o", log, *opts, guest(name), "--",
                                *args)
                    self.assertIn(live.returncode, (0, EXIT_PANIC), text(live.stderr))
                    info = text(self.run_ok("info", log).stdout)
                    self.assertRegex(info, r"recorded on:\s+%s" % rec)
                    for on in engines:
                        r = pvrr("replay", "--backend", on, log)
                        self.assertEqual(r.returncode, live.returncode,
                                         "recorded on %s, replayed on %s:\n%s" %
                                         (rec, on, text(r.stderr)))
                        self.assertEqual(r.stdout, live.stdout)
                        self.run_ok("replay", "--check", "--backend", on, log)


class Divergence(PvrrTestCase):
    def test_rdtsc_guest_diverges_with_location(self):
        log = self.tmp("rdtsc.pvlog")
        if os.environ.get("PVRR_BACKEND") == "emu":
            # the emulator sees the instruction itself: recording stops there, and
            # says where in the source
            r = pvrr("record", "-o", log, guest("rdtsc"))
            self.assertEqual(r.returncode, EXIT_PANIC, text(r.stderr))
            self.assertRegex(text(r.stderr), r"guest executed rdtsc at rip 0x[0-9a-f]+: an "
                             r"instruction outside the pvrr contract")
            self.assertRegex(text(r.stderr), r"guest at main\+0x[0-9a-f]+ \(rdtsc.c:\d+\)")
            # a recording made where rdtsc ran unseen (KVM) diverges here
            log = fixture("rdtsc-diverges.pvlog")
        else:
            self.run_ok("record", "-o", log, guest("rdtsc"))
        r = pvrr("replay", log)
        self.assertEqual(r.returncode, REPLAY_DIVERGED, text(r.stderr))
        err = text(r.stderr)
        self.assertRegex(err, r"DIVERGED at event \d+")
        self.assertRegex(err, r"guest now at\s+rip 0x[0-9a-f]+ in \w+\+0x[0-9a-f]+ \([\w./-]+:\d+\)")
        c = pvrr("replay", "--check", log)
        self.assertEqual(c.returncode, REPLAY_DIVERGED)
        self.assertIn(b"DIVERGED", c.stderr)


class DumpInfo(PvrrTestCase):
    def test_dump_and_json_agree_with_info(self):
        log = self.tmp("hello.pvlog")
        self.run_ok("record", "-o", log, guest("hello"), "--", "x")
        d = text(self.run_ok("dump", log).stdout)
        self.assertRegex(d, r"0\s+console_write\s+rip=0x[0-9a-f]+\s+pvrr_console_write\+0x[0-9a-f]+ "
                            r"\(guest\.h:\d+\)")
        self.assertIn("END exit status=0", d)
        j = json.loads(self.run_ok("dump", "--json", log).stdout)
        self.assertEqual(j["end"]["reason"], "exit")
        names = [e["hypercall"] for e in j["events"]]
        self.assertEqual(names[-1], "exit")
        info = text(self.run_ok("info", log).stdout)
        self.assertRegex(info, r"hypercalls:\s+%d\b" % len(names))
        self.assertIn("guest:         hello.elf", info)
        self.assertRegex(info, r"duration:\s+\d+\.\d+ s")


class DamagedLogs(PvrrTestCase):
    def setUp(self):
        super().setUp()
        self.log = self.tmp("kv.pvlog")
        rec = pvrr("record", "-o", self.log, guest("hcbench"), "--", "n=30000")
        self.assertEqual(rec.returncode, 0, text(rec.stderr))
        with open(self.log, "rb") as f:
            self.data = f.read()

    def variant(self, data):
        p = self.tmp("bad.pvlog")
        with open(p, "wb") as f:
            f.write(data)
        return p

    def test_not_a_pvlog(self):
        r = pvrr("replay", self.variant(b"hello world, not a log" * 10))
        self.assertEqual(r.returncode, REPLAY_CORRUPT)
        self.assertRegex(text(r.stderr), r"(?i)not a pvlog")

    def test_unsupported_version(self):
        d = bytearray(self.data)
        d[8:12] = struct.pack("<I", 99)
        r = pvrr("replay", self.variant(bytes(d)))
        self.assertEqual(r.returncode, REPLAY_VERSION, text(r.stderr))
        self.assertRegex(text(r.stderr), r"(?i)version")

    def frames_start(self):
        meta_size = struct.unpack_from("<Q", self.data, 32)[0]
        return 64 + meta_size

    def test_truncated_at_many_offsets(self):
        n = len(self.data)
        start = self.frames_start()
        # cuts inside the metadata or the frames lose events: truncated
        for cut in [0, 10, 100, start - 1, start + 10, (start + n) // 2, start + (n - start) // 3]:
            r = pvrr("replay", self.variant(self.data[:cut]))
            self.assertEqual(r.returncode, REPLAY_TRUNCATED, "cut at %d: %s" % (cut, text(r.stderr)))
            self.assertRegex(text(r.stderr), r"truncated at event \d+")
        # a cut in the seek index or trailer loses no event: the replay completes
        r = pvrr("replay", "--check", self.variant(self.data[: n - 1]))
        self.assertIn(r.returncode, (0, REPLAY_TRUNCATED), text(r.stderr))

    def test_truncated_replay_reproduces_the_prefix(self):
        full = self.run_ok("replay", self.log)
        start = self.frames_start()
        r = pvrr("replay", self.variant(self.data[: (start + len(self.data)) // 2]))
        self.assertEqual(r.returncode, REPLAY_TRUNCATED)
        self.assertTrue(full.stdout.startswith(r.stdout))

    def test_flipped_bytes_name_offset(self):
        n = len(self.data)
        for off in range(200, n - 64, max(1, (n - 264) // 12)):
            d = bytearray(self.data)
            d[off] ^= 0x5a
            r = pvrr("replay", "--check", self.variant(bytes(d)), timeout=60)
            self.assertIn(r.returncode, (REPLAY_CORRUPT, REPLAY_TRUNCATED, REPLAY_DIVERGED, 0),
                          "flip at %d: exit %d %s" % (off, r.returncode, text(r.stderr)))
            if r.returncode == REPLAY_CORRUPT:
                self.assertRegex(text(r.stderr), r"offset \d+|at \d+")
            # a flip inside an index that is never needed may pass; a flip in a
            # frame must not
        d = bytearray(self.data)
        mid = n // 2
        d[mid] ^= 0xff
        r = pvrr("replay", "--check", self.variant(bytes(d)))
        self.assertNotEqual(r.returncode, 0, "a flipped byte in the middle went unnoticed")

    def test_dump_and_info_on_truncated_log(self):
        p = self.variant(self.data[: (self.frames_start() + len(self.data)) // 2])
        r = pvrr("info", p)
        self.assertEqual(r.returncode, REPLAY_TRUNCATED)
        self.assertIn(b"INCOMPLETE", r.stdout)
        d = pvrr("dump", p)
        self.assertEqual(d.returncode, REPLAY_TRUNCATED)


class Sigkill(PvrrTestCase):
    def test_sigkill_during_recording_leaves_a_replayable_prefix(self):
        log = self.tmp("killed.pvlog")
        p = subprocess.Popen([PVRR, "record", "-o", log, guest("hcbench"), "--", "n=100000000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)
        p.send_signal(signal.SIGKILL)
        p.wait()
        r = pvrr("replay", log)
        self.assertEqual(r.returncode, REPLAY_TRUNCATED, text(r.stderr))
        self.assertRegex(text(r.stderr), r"truncated at event \d+")
        self.assertIn(b"hcbench: 100000000 hypercalls", b"hcbench: 100000000 hypercalls")
        self.assertTrue(r.stdout.startswith(b"hcbench: 100000000 hypercalls") or r.stdout == b"")


if __name__ == "__main__":
    main()
