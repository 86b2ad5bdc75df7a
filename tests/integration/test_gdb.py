"""The GDB remote stub with real gdb 13 (batch and MI) and lldb, live and replayed."""
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


class LiveGdb(PvrrTestCase):
    def serve(self, name, *args, env=None):
        s = GdbServer("run", "--gdb", "127.0.0.1:0", guest(name), "--", *args, env=env)
        self.addCleanup(s.kill)
        return s

    def test_break_continue_step_finish_print_x(self):
        s = self.serve("kvstore", "ops=600")
        out = gdb_batch(guest("kvstore"), s.port, [
            "break store_put", "continue", "info registers rip", "next", "step", "finish",
            "print store", "print store.entries[0]", "x/2xg store.entries", "print/x $rsp",
            "detach"])
        self.assertRegex(out, r"Breakpoint 1, store_put \(s=.*\) at .*kvstore\.c:\d+")
        self.assertRegex(out, r"rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <store_put")
        self.assertIn("Value returned is", out)
        self.assertRegex(out, r"\$\d+ = \{nbuckets = \d+, usable = \d+, nentries = \d+, live = \d+")
        self.assertRegex(out, r"\$\d+ = \{value = \d+, key = \d+\}")
        self.assertRegex(out, r"0x[0-9a-f]+:\s+0x[0-9a-f]{16}\s+0x[0-9a-f]{16}")
        self.assertIn("detached", out)
        status, stdout, err = s.finish()
        self.assertEqual(status, 0, text(err))
        self.assertIn(b"kvstore: OK after 600 operations", stdout)

    def test_break_by_file_and_line(self):
        line = src_line("s->nentries++;")
        s = self.serve("kvstore", "ops=300")
        out = gdb_batch(guest("kvstore"), s.port, ["break kvstore.c:%d" % line, "continue",
                                                    "continue", "kill"])
        self.assertEqual(len(re.findall(r"Breakpoint 1, store_put .* at .*kvstore\.c:%d" % line,
                                        out)), 2, out)
        status, _, _ = s.finish()
        self.assertEqual(status, 137)

    def test_watch_reports_old_and_new(self):
        s = self.serve("kvstore", "ops=300")
        out = gdb_batch(guest("kvstore"), s.port, ["break main", "continue", "watch store.live",
                                                    "continue", "continue", "kill"])
        self.assertRegex(out, r"Hardware watchpoint 2: store.live")
        self.assertRegex(out, r"Old value = 0\s+New value = 1\s+\S+ in store_put \(")
        # the second write depends on the live run's entropy: a put or a delete;
        # either way gdb stops right after the writing instruction, in the writer
        self.assertRegex(out, r"Old value = 1\s+New value = 2\s+\S+ in store_put \("
                         r"|Old value = 1\s+New value = 0\s+\S+ in store_delete \(")

    def test_read_and_access_watchpoints(self):
        s = self.serve("kvstore", "ops=600")
        out = gdb_batch(guest("kvstore"), s.port, [
            "break verify", "continue", "delete", "rwatch store.nbuckets", "continue",
            "print $pc", "delete", "awatch store.live", "continue", "continue", "kill"])
        self.assertIn("Hardware read watchpoint 2: store.nbuckets", out)
        self.assertRegex(out, r"Value = \d+\s+\S+ in store_find \(")
        self.assertIn("Hardware access (read/write) watchpoint 3: store.live", out)
        self.assertGreaterEqual(len(re.findall(r"Hardware access \(read/write\) watchpoint 3: "
                                               r"store.live\s+Value = \d+", out)), 2, out[-2000:])

    def test_hardware_breakpoint(self):
        # debug registers where the host's KVM delivers them, patches where it does
        # not (QEMU's emulated SVM); PVRR_KVM_HW_BREAKPOINTS=patch forces the latter
        for env in (None, {"PVRR_KVM_HW_BREAKPOINTS": "patch"}):
            with self.subTest(env=env):
                s = self.serve("kvstore", "ops=600", env=env)
                out = gdb_batch(guest("kvstore"), s.port, [
                    "hbreak verify", "continue", "print done", "x/1xb verify",
                    "continue", "kill"])
                self.assertIn("Hardware assisted breakpoint 1", out)
                self.assertRegex(out, r"Breakpoint 1, verify \(.*done=done@entry=500\)")
                # gdb never sees a patched byte, and the breakpoint fires again
                self.assertRegex(out, r"<verify>:\s+0x(?!f4)[0-9a-f]{2}")
                self.assertEqual(len(re.findall(r"Breakpoint 1, verify", out)), 2, out)

    def test_adjacent_software_breakpoints(self):
        s = self.serve("hello")
        out = gdb_batch(guest("hello"), s.port, ["break *main", "break *(main+1)",
                                                  "continue", "continue", "print $pc == main+1",
                                                  "kill"])
        self.assertIn("Breakpoint 1, ", out)
        self.assertIn("Breakpoint 2, ", out)
        self.assertIn("$1 = 1", out)

    def test_memory_never_shows_patches(self):
        s = self.serve("hello")
        out = gdb_batch(guest("hello"), s.port, [
            "x/8xb main", "break main", "break *(main+4)", "continue", "x/8xb main", "kill"])
        dumps = re.findall(r"<main>:((?:\s+0x[0-9a-f]{2}){8})", out)
        self.assertEqual(len(dumps), 2, out)
        self.assertEqual(dumps[0], dumps[1])
        self.assertNotIn("0xf4", dumps[1].split()[0])

    def test_interrupt_with_ctrl_c(self):
        s = self.serve("hostile", "loop")
        args = ["gdb", "-q", "-nx", "-batch", "-ex", "target remote 127.0.0.1:%d" % s.port,
                "-ex", "continue", "-ex", "info registers rip", "-ex", "kill", guest("hostile")]
        g = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(3)
        g.send_signal(signal.SIGINT)
        out = text(g.communicate(timeout=60)[0])
        self.assertIn("Program received signal SIGINT", out)
        self.assertRegex(out, r"rip\s+0x[0-9a-f]+")

    def test_detach_lets_the_guest_finish(self):
        s = self.serve("hello", "x")
        out = gdb_batch(guest("hello"), s.port, ["break main", "continue", "detach"])
        self.assertIn("Breakpoint 1, main", out)
        status, stdout, _ = s.finish()
        self.assertEqual(status, 0)
        self.assertIn(b"argv[1] = x", stdout)

    def test_continue_to_exit(self):
        s = self.serve("hello")
        out = gdb_batch(guest("hello"), s.port, ["continue"])
        self.assertRegex(out, r"\[Inferior 1 \(.*\) exited normally\]")
        status, stdout, _ = s.finish()
        self.assertEqual(status, 0)

    def test_writes_allowed_live(self):
        s = self.serve("hello")
        out = gdb_batch(guest("hello"), s.port, ["break main", "continue", "set var $rax = 42",
                                                  "print $rax", "kill"])
        self.assertIn("$1 = 42", out)

    def test_unix_socket(self):
        sock = self.tmp("gdb.sock")
        p = subprocess.Popen([PVRR, "run", "--gdb", "unix:" + sock, guest("hello")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        r = subprocess.run(["gdb", "-q", "-nx", "-batch", "-ex", "target remote " + sock,
                            "-ex", "break main", "-ex", "continue", "-ex", "continue",
                            guest("hello")], capture_output=True, timeout=120)
        out = text(r.stdout) + text(r.stderr)
        self.assertIn("Breakpoint 1, main", out)
        self.assertIn("exited normally", out)
        stdout, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, text(err))
        self.assertIn(("waiting for gdb on %s" % sock).encode(), err)
        self.assertFalse(os.path.exists(sock), "the socket file was left behind")

    def test_reconnect_after_disconnect(self):
        s = self.serve("hello")
        # a client that goes away mid-packet
        with socket.create_connection(("127.0.0.1", s.port)) as c:
            c.sendall(b"$qSupported:multipro")
        time.sleep(0.5)
        out = gdb_batch(guest("hello"), s.port, ["break main", "continue", "kill"])
        self.assertIn("Breakpoint 1, main", out)


class ReplayGdb(PvrrTestCase):
    def test_replay_refuses_writes_and_stays_exact(self):
        log = self.tmp("kv.pvlog")
        rec = pvrr("record", "-o", log, guest("kvstore"), "--", "ops=800")
        self.assertIn(rec.returncode, (0, EXIT_PANIC))
        s = GdbServer("replay", "--gdb", "127.0.0.1:0", log)
        self.addCleanup(s.kill)
        out = gdb_batch(log + ".elf", s.port, [
            "break store_put", "break index_insert", "continue", "continue", "stepi", "stepi",
            "next", "watch store.nentries", "continue", "set var store.live = 7",
            "print store.live = 7", "set $rax = 0x1234567", "monitor when", "delete", "detach"])
        # gdb shows the reason for a refused register write; memory writes show
        # as "Cannot access memory" in gdb and the reason on pvrr's console
        self.assertIn("refusing to write registers during a replay", out)
        self.assertIn("Cannot access memory at address", out)
        self.assertRegex(out, r"event \d+")
        status, stdout, err = s.finish()
        self.assertIn(b"refusing to write memory during a replay", err)
        self.assertEqual(status, rec.returncode, text(err))
        self.assertEqual(stdout, rec.stdout)
        self.assertNotIn(b"DIVERGED", err)

    def test_replay_prints_attach_command_and_extracts_elf(self):
        log = self.tmp("h.pvlog")
        self.run_ok("record", "-o", log, guest("hello"))
        s = GdbServer("replay", "--gdb", "127.0.0.1:0", log)
        self.addCleanup(s.kill)
        self.assertIn(("gdb %s.elf -ex 'target remote 127.0.0.1:%d'" % (log, s.port)).encode(),
                      s.err)
        with open(log + ".elf", "rb") as f, open(guest("hello"), "rb") as g:
            self.assertEqual(f.read(), g.read())
        out = gdb_batch(log + ".elf", s.port, ["monitor help", "monitor kernel-frames",
                                               "monitor kernel-frames on", "kill"])
        for cmd in ("when", "goto", "checkpoints", "kernel-frames"):
            self.assertIn(cmd, out)
        # an SDK guest's kernel is the program: nothing is hidden, and cannot be
        self.assertIn("kernel frames: shown (this guest's kernel is the program)", out)
        self.assertIn("no kernel frames to hide", out)

    def test_extracted_elf_never_written_through_a_symlink(self):
        log = self.tmp("h.pvlog")
        self.run_ok("record", "-o", log, guest("hello"))
        victim = self.tmp("victim.txt")
        with open(victim, "w") as f:
            f.write("precious")
        os.symlink(victim, log + ".elf")
        r = pvrr("replay", "--gdb", "127.0.0.1:0", log, timeout=30)
        self.assertEqual(r.returncode, EXIT_ERROR)
        self.assertIn(b"cannot write", r.stderr)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious")

    def test_nonlocal_address_needs_flag(self):
        log = self.tmp("h.pvlog")
        self.run_ok("record", "-o", log, guest("hello"))
        r = pvrr("replay", "--gdb", "0.0.0.0:0", log, timeout=20)
        self.assertEqual(r.returncode, EXIT_ERROR)
        self.assertRegex(text(r.stderr), r"(?i)loopback|--gdb-allow-remote|not local")


class Lldb(PvrrTestCase):
    def test_lldb_attach_registers_memory_step_continue(self):
        if not shutil.which("lldb"):
            self.fail("lldb is not installed")
        s = GdbServer("run", "--gdb", "127.0.0.1:0", guest("hello"))
        self.addCleanup(s.kill)
        r = subprocess.run(["lldb", "-b", "-o", "gdb-remote 127.0.0.1:%d" % s.port,
                            "-o", "register read rip rsp",
                            "-o", "breakpoint set -n main", "-o", "continue",
                            "-o", "register read rip",
                            "-o", "memory read -f x -s 8 -c 2 $rsp",
                            "-o", "thread step-inst", "-o", "register read rip",
                            "-o", "process detach", guest("hello")],
                           capture_output=True, timeout=120)
        out = text(r.stdout) + text(r.stderr)
        self.assertRegex(out, r"rip = 0x0000000000100000")
        self.assertRegex(out, r"stop reason = breakpoint 1\.1")
        self.assertRegex(out, r"rip = 0x[0-9a-f]+\s+hello\.elf`main")
        self.assertRegex(out, r"0x[0-9a-f]+: 0x[0-9a-f]{16} 0x[0-9a-f]{16}")
        self.assertEqual(len(re.findall(r"rip = 0x[0-9a-f]+", out)), 3, out)
        status, stdout, _ = s.finish()
        self.assertEqual(status, 0)
        self.assertIn(b"Hello from a pvrr guest!", stdout)


class MiLikeVsCode(PvrrTestCase):
    """Drives gdb's MI with the commands VS Code's cppdbg sends for the README's launch.json."""

    def test_cppdbg_session(self):
        log = self.tmp("kv.pvlog")
        pvrr("record", "-o", log, guest("kvstore"), "--", "ops=600")
        s = GdbServer("replay", "--gdb", "127.0.0.1:0", log)
        self.addCleanup(s.kill)
        g = subprocess.Popen(["gdb", "--interpreter=mi", "-q", "-nx"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: g.poll() is None and g.kill())
        n = [0]

        def cmd(c, until=r"^\d+\^(done|error|running|connected)"):
            n[0] += 1
            g.stdin.write(("%d%s\n" % (n[0], c)).encode())
            g.stdin.flush()
            lines = []
            deadline = time.time() + 120
            while time.time() < deadline:
                line = text(g.stdout.readline())
                if not line:
                    break
                lines.append(line)
                if re.match(until, line):
                    break
            return "".join(lines)

        def wait_stopped():
            lines = []
            while True:
                line = text(g.stdout.readline())
                if not line:
                    break
                lines.append(line)
                if line.startswith("*stopped"):
                    break
            return "".join(lines)

        cmd('-interpreter-exec console "set pagination off"')
        cmd("-gdb-set target-async on")
        cmd("-file-exec-and-symbols %s.elf" % log)
        out = cmd("-target-select remote localhost:%d" % s.port)
        self.assertRegex(out, r"\^connected")
        out = cmd("-list-target-features")
        self.assertIn('"reverse"', out)
        out = cmd("-break-insert -f store_put")
        self.assertIn('func="store_put"', out)
        cmd("-exec-continue")
        out = wait_stopped()
        self.assertIn('reason="breakpoint-hit"', out)
        out = cmd("-stack-list-frames")
        self.assertIn('func="store_put"', out)
        out = cmd("-stack-list-variables --simple-values")
        self.assertIn('name="key"', out)
        out = cmd('-var-create - * "store"')
        self.assertRegex(out, r'numchild="\d+"')
        out = cmd('-data-evaluate-expression "store.nbuckets"')
        self.assertRegex(out, r'value="\d+"')
        cmd("-exec-next")
        out = wait_stopped()
        self.assertIn('reason="end-stepping-range"', out)
        cmd("-exec-next --reverse")
        out = wait_stopped()
        self.assertIn("*stopped", out)
        cmd("-exec-continue --reverse")
        out = wait_stopped()
        self.assertIn("*stopped", out)
        cmd("-target-detach")
        g.stdin.close()
        g.wait(timeout=60)
        status, _, err = s.finish()
        self.assertNotIn(b"DIVERGED", err)


if __name__ == "__main__":
    main()
