"""Reverse execution in replays with real gdb 13: watchpoints, reverse step/next/finish/
continue, history edges, and an exactness oracle."""
import os
import re
import signal
import subprocess
import time

from pvrrtest import *


def src_line(marker, filename="kvstore.c"):
    with open(os.path.join(SRC, "guests", filename)) as f:
        for n, line in enumerate(f, 1):
            if marker in line:
                return n
    raise AssertionError("marker %r not in %s" % (marker, filename))


class ReverseCase(PvrrTestCase):
    def replay_server(self, log):
        s = GdbServer("replay", "--gdb", "127.0.0.1:0", log)
        self.addCleanup(s.kill)
        return s

    def kvstore_log(self, ops="800"):
        log = self.tmp("kv.pvlog")
        r = pvrr("record", "-o", log, guest("kvstore"), "--", "ops=" + ops)
        self.assertIn(r.returncode, (0, EXIT_PANIC), text(r.stderr))
        return log, r


class FlagshipDemo(ReverseCase):
    def test_watchpoint_and_reverse_continue_find_the_bug(self):
        log = self.record_failing_kvstore(self.tmp("fail.pvlog"))
        rec = pvrr("replay", log)
        m = re.search(rb"\(watch -l ([^)]+)\)", rec.stdout)
        self.assertIsNotNone(m, rec.stdout)
        expr = text(m.group(1))
        bug = src_line("BUG: should be")
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "continue", "watch -l " + expr, "reverse-continue", "info line *$pc",
            "reverse-continue", "info line *$pc", "continue", "continue", "detach"])
        hits = re.findall(r"Old value = (\d+)\s+New value = (\d+)\s+(?:0x[0-9a-f]+ in )?(\w+) "
                          r"\(.*\) at [^:]*kvstore\.c:(\d+)", out)
        self.assertEqual(len(hits), 4, out[-3000:])
        # the first write found going back is the off-by-one in index_reset
        self.assertEqual(hits[0][2], "index_reset", out)
        self.assertEqual(int(hits[0][3]), bug, out)
        # value before the bad write differs from the corrupted one
        self.assertNotEqual(hits[0][0], hits[0][1])
        # going back further finds the previous write, elsewhere
        self.assertNotEqual((hits[1][2], hits[1][3]), (hits[0][2], hits[0][3]))
        # going forward executes that write again (gdb reports the instruction after
        # it, in the same function), then the bad write once more
        self.assertEqual(hits[2][2], hits[1][2], out[-3000:])
        self.assertEqual((hits[2][0], hits[2][1]), (hits[1][1], hits[1][0]), out[-3000:])
        self.assertEqual(hits[3][2], "index_reset", out[-3000:])
        status, stdout, err = s.finish()
        self.assertEqual(status, EXIT_PANIC)
        self.assertEqual(stdout, rec.stdout)
        self.assertNotIn(b"DIVERGED", err)


class ReverseCommands(ReverseCase):
    def test_reverse_finish(self):
        log, _ = self.kvstore_log()
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "break hash_key", "continue", "continue", "bt 2", "reverse-finish", "bt 1", "kill"])
        caller = re.search(r"#1\s+0x[0-9a-f]+ in (\w+) ", out).group(1)
        frames = re.findall(r"#0\s+(?:0x[0-9a-f]+ in )?(\w+) \(", out)
        self.assertEqual(frames, ["hash_key", caller], out)

    def test_reverse_next_over_a_call(self):
        line = src_line("s->nentries++;")
        log, _ = self.kvstore_log()
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "break kvstore.c:%d" % line, "continue", "continue", "reverse-next", "bt 1", "kill"])
        self.assertRegex(out, r"\n%d\s+index_insert\(s, key, s->nentries\);" % (line - 1))
        self.assertRegex(out, r"#0\s+store_put \(")

    def test_reverse_step_into_a_function(self):
        line = src_line("s->nentries++;")
        log, _ = self.kvstore_log()
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "break kvstore.c:%d" % line, "continue", "reverse-step", "bt 1", "kill"])
        self.assertRegex(out, r"#0\s+(0x[0-9a-f]+ in )?index_insert \(")

    def test_reverse_continue_to_loop_breakpoint_lands_on_last_iteration(self):
        after = src_line("free(old.index);")
        log, _ = self.kvstore_log()
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "break kvstore.c:%d" % after, "continue", "print s->nentries",
            "break index_insert", "reverse-continue", "print pos", "print s->nentries",
            "reverse-continue", "print pos", "kill"])
        vals = [int(v) for v in re.findall(r"\$\d+ = (\d+)", out)]
        self.assertEqual(len(vals), 4, out)
        nentries, pos_last, nentries2, pos_prev = vals
        self.assertEqual(pos_last, nentries - 1, out)
        self.assertEqual(nentries2, nentries)
        self.assertEqual(pos_prev, nentries - 2, out)

    def test_reverse_continue_to_hardware_breakpoint(self):
        log, _ = self.kvstore_log()
        for env in (None, {"PVRR_KVM_HW_BREAKPOINTS": "patch"}):
            with self.subTest(env=env):
                s = GdbServer("replay", "--gdb", "127.0.0.1:0", log, env=env)
                self.addCleanup(s.kill)
                out = gdb_batch(log + ".elf", s.port, [
                    "break verify", "continue", "delete", "hbreak index_insert",
                    "reverse-continue", "info registers rip", "print index_insert == $pc",
                    "x/1xb index_insert", "kill"])
                self.assertIn("Hardware assisted breakpoint 2", out)
                self.assertRegex(out, r"Breakpoint 2, (0x[0-9a-f]+ in )?index_insert \(", out)
                self.assertIn("= 1", out)
                self.assertRegex(out, r"<index_insert>:\s+0x(?!f4)[0-9a-f]{2}")

    def test_read_watchpoint_in_reverse(self):
        log, _ = self.kvstore_log("800")
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "break verify", "continue", "delete", "rwatch store.nbuckets", "reverse-continue",
            "bt 1", "continue", "bt 1", "kill"])
        frames = re.findall(r"#0\s+(?:0x[0-9a-f]+ in )?(\w+) \(", out)
        # going back from verify() finds the last read of nbuckets before it; going
        # forward again reads it at the same place
        self.assertEqual(len(frames), 2, out[-2000:])
        self.assertEqual(frames[0], frames[1], out[-2000:])
        self.assertIn("Hardware read watchpoint 2: store.nbuckets", out)

    def test_reverse_stepi_at_the_end_of_an_exited_recording(self):
        log, _ = self.kvstore_log("300")
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "continue", "info registers rip", "reverse-stepi", "info registers rip",
            "reverse-stepi", "stepi", "stepi", "info registers rip", "kill"])
        self.assertNotIn("E05", out, out[-2000:])
        rips = [int(x, 16) for x in re.findall(r"rip\s+(0x[0-9a-f]+)", out)]
        self.assertEqual(len(rips), 3, out[-2000:])
        # one instruction back from the end is the exit hypercall's out, one byte before
        self.assertEqual(rips[1], rips[0] - 1)
        self.assertEqual(rips[2], rips[0])

    def test_history_edges(self):
        log, _ = self.kvstore_log("300")
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "reverse-stepi", "info registers rip", "continue", "continue", "reverse-stepi",
            "reverse-continue", "info registers rip", "kill"])
        self.assertEqual(out.count("No more reverse-execution history."), 4, out)
        rips = re.findall(r"rip\s+(0x[0-9a-f]+)", out)
        self.assertEqual(rips, ["0x100000", "0x100000"], out)

    def test_monitor_goto_when_checkpoints(self):
        log, _ = self.kvstore_log("500")
        # a run that fails ends early: pick events inside this recording
        info = self.run_ok("info", log)
        n = int(re.search(r"hypercalls:\s+(\d+)", text(info.stdout)).group(1))
        self.assertGreaterEqual(n, 4, text(info.stdout))
        late, early = n - 2, n // 3
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "monitor goto %d" % late, "monitor when", "monitor goto %d" % early,
            "monitor when", "monitor checkpoints", "monitor goto 999999", "kill"])
        self.assertIn("event %d + 0 steps" % late, out)
        self.assertIn("event %d + 0 steps" % early, out)
        self.assertRegex(out, r"\d+ checkpoints \(\d+ taken")
        self.assertIn("past the end of the recording", out)


class Interrupt(ReverseCase):
    def test_ctrl_c_interrupts_a_long_reverse_continue(self):
        log = self.tmp("hc.pvlog")
        # long enough that the reverse-continue is still scanning when it reports
        # progress (2 s in): the emulator runs hcbench far faster than the nested
        # KVM of these hosts
        n = "6000000" if os.environ.get("PVRR_BACKEND") == "emu" else "600000"
        self.run_ok("record", "-o", log, guest("hcbench"), "--", "n=" + n, timeout=600)
        s = self.replay_server(log)
        args = ["gdb", "-q", "-nx", "-batch", "-ex", "target remote 127.0.0.1:%d" % s.port,
                "-ex", "continue", "-ex", "break *0x1000",  # never executed
                "-ex", "reverse-continue", "-ex", "monitor when", "-ex", "reverse-stepi",
                "-ex", "monitor when", "-ex", "kill", log + ".elf"]
        g = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        seen = b""
        deadline = time.time() + 240
        # the end of the recording, then the long reverse-continue's progress line on
        # gdb's console (an 'O' packet while gdb waits for the stop)
        for want in (b"No more reverse-execution history", b"still searching the history"):
            while want not in seen and time.time() < deadline:
                line = g.stdout.readline()
                if not line:
                    break
                seen += line
            self.assertIn(want, seen, text(seen[-2000:]))
        self.assertRegex(text(seen), r"pvrr: reverse-continue still searching the history "
                         r"\(\d+ s; \^C stops it\)")
        g.send_signal(signal.SIGINT)
        out = text(seen + g.communicate(timeout=300)[0])
        self.assertIn("Program received signal SIGINT", out, out[-2000:])
        whens = re.findall(r"\nevent (\d+)", out)
        self.assertEqual(len(whens), 2, out[-2000:])
        # stopped somewhere in the middle, not at either end of the recording
        self.assertGreater(int(whens[0]), 0, out[-2000:])
        self.assertNotIn("replaylog", out)


class Oracle(ReverseCase):
    def test_step_reverse_step_oracle(self):
        log, rec = self.kvstore_log("600")
        s = self.replay_server(log)
        env = dict(os.environ, ORACLE_PORT=str(s.port), ORACLE_STEPS="60")
        r = subprocess.run(["gdb", "-q", "-nx", "-batch", "-x",
                            os.path.join(SRC, "tests", "integration", "oracle_gdb.py"),
                            log + ".elf"], capture_output=True, env=env, timeout=600)
        out = text(r.stdout) + text(r.stderr)
        self.assertIn("ORACLE PASS", out, out[-3000:])
        self.assertNotIn("ORACLE FAIL", out)

    def test_back_and_forth_session_ends_identical(self):
        log, rec = self.kvstore_log("800")
        s = self.replay_server(log)
        out = gdb_batch(log + ".elf", s.port, [
            "break store_delete", "continue", "continue", "reverse-continue", "stepi", "stepi",
            "reverse-stepi", "watch store.live", "reverse-continue", "continue",
            "reverse-continue", "monitor goto 3", "continue", "delete", "detach"])
        status, stdout, err = s.finish()
        self.assertEqual(status, rec.returncode, text(err))
        self.assertEqual(stdout, rec.stdout)
        self.assertNotIn(b"DIVERGED", err)


if __name__ == "__main__":
    main()
