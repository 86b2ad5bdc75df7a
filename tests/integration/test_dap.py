"""`pvrr dap`, the Debug Adapter Protocol server, driven by a scripted client that speaks the
protocol as VS Code does (dapclient.py): the flagship kvstore session with buttons only, the
debug console, a TCP session, a live run, and bad clients. Every message pvrr sends is
checked against the DAP specification."""
import base64
import os
import re
import signal
import socket
import subprocess
import time

from pvrrtest import *
from dapclient import DapClient, SpecError, validate

# What VS Code sends in initialize (1.8x), and the launch configuration of
# editors/vscode/README.md: VS Code passes the whole configuration as arguments.
VSCODE_INIT = {"clientID": "vscode", "clientName": "Visual Studio Code", "adapterID": "pvrr",
               "pathFormat": "path", "linesStartAt1": True, "columnsStartAt1": True,
               "supportsVariableType": True, "supportsVariablePaging": True,
               "supportsRunInTerminalRequest": True, "locale": "en",
               "supportsProgressReporting": True, "supportsInvalidatedEvent": True,
               "supportsMemoryReferences": True, "supportsMemoryEvent": True}


def launch_config(program, **kw):
    cfg = {"type": "pvrr", "request": "launch", "name": "pvrr: debug a recording",
           "program": program, "__sessionId": "0d0b6f4c-0000-4000-8000-000000000000"}
    cfg.update(kw)
    return cfg


def src_line(marker, filename="kvstore.c", after=0):
    with open(os.path.join(SRC, "guests", filename)) as f:
        for n, line in enumerate(f, 1):
            if n > after and marker in line:
                return n
    raise AssertionError("marker %r not in %s" % (marker, filename))


def start_session(c, program, breakpoints=None, **launch_args):
    """initialize -> launch -> (initialized) setBreakpoints... -> configurationDone."""
    init = c.request("initialize", VSCODE_INIT)
    caps = init["body"]
    for cap in ("supportsStepBack", "supportsConfigurationDoneRequest",
                "supportsDataBreakpoints", "supportsReadMemoryRequest",
                "supportsDisassembleRequest", "supportsSteppingGranularity"):
        assert caps.get(cap) is True, "initialize: %s missing: %r" % (cap, caps)
    seq = c.send("launch", launch_config(program, **launch_args))
    ev = c.wait_event("initialized")
    for path, lines in (breakpoints or {}).items():
        r = c.request("setBreakpoints", {"source": {"name": os.path.basename(path), "path": path},
                                         "breakpoints": [{"line": l} for l in lines],
                                         "lines": lines, "sourceModified": False})
        for b in r["body"]["breakpoints"]:
            assert b["verified"], r
    c.request("setFunctionBreakpoints", {"breakpoints": []})
    c.request("setDataBreakpoints", {"breakpoints": []})
    c.request("setExceptionBreakpoints", {"filters": []})
    # the launch response came before or after initialized; find it
    launch = [m for m in c.log if m.get("type") == "response" and m["request_seq"] == seq]
    assert launch and launch[0]["success"], launch
    validate(launch[0], "launch")
    c.request("configurationDone")
    return caps


def stopped(c, reason=None, since=None):
    """Wait for the next stopped event after (since) events; check its reason."""
    ev = c.wait_event("stopped", since if since is not None else len(c.events))
    assert ev["body"]["threadId"] == 1, ev
    if reason:
        assert ev["body"]["reason"] == reason, ev
    return ev


def act(c, command, args=None, reason=None):
    """Press a button (continue, stepBack, ...): response, then the stopped event."""
    n = len(c.events)
    c.request(command, dict({"threadId": 1}, **(args or {})))
    return stopped(c, reason, n)


def top(c):
    """What VS Code asks after a stop: threads, then the stack; returns frame 0."""
    th = c.request("threads")["body"]["threads"]
    assert th and th[0]["id"] == 1, th
    st = c.request("stackTrace", {"threadId": 1, "startFrame": 0, "levels": 20})
    frames = st["body"]["stackFrames"]
    assert frames, st
    return frames


def variables(c, ref):
    return {v["name"]: v for v in c.request("variables",
                                            {"variablesReference": ref})["body"]["variables"]}


def locals_of(c, frame):
    scopes = c.request("scopes", {"frameId": frame["id"]})["body"]["scopes"]
    loc = [s for s in scopes if s["name"] == "Locals"]
    assert loc, scopes
    return variables(c, loc[0]["variablesReference"])


class Flagship(PvrrTestCase):
    def test_kvstore_bug_found_with_buttons(self):
        log = self.record_failing_kvstore(self.tmp("fail.pvlog"))
        rec = pvrr("replay", log)
        bug = src_line("BUG: should be")
        resize = src_line("static void store_resize(")
        c = DapClient(PVRR)
        self.addCleanup(c.close)
        start_session(c, log, stopOnEntry=False)

        # 1. run to the end: a replay ends in a stop at the end of history, not an exit
        end = stopped(c, "end of history")
        self.assertIn("end of the recording", end["body"]["description"])
        self.assertFalse([e for e in c.events if e["event"] in ("exited", "terminated")])
        out = c.output("stdout")
        self.assertEqual(out, text(rec.stdout))
        m = re.search(r"\(watch -l ([^)]+)\)", out)
        self.assertIsNotNone(m, out)
        expr = m.group(1)
        got = int(re.search(r"got 0x([0-9a-f]+)", out).group(1), 16)
        frames = top(c)

        # 2. a data breakpoint on the corrupted field, from its watch expression
        info = c.request("dataBreakpointInfo", {"name": expr, "frameId": frames[0]["id"]})
        self.assertIsNotNone(info["body"]["dataId"], info)
        self.assertIn("write", info["body"]["accessTypes"])
        r = c.request("setDataBreakpoints", {"breakpoints": [
            {"dataId": info["body"]["dataId"], "accessType": "write"}]})
        wp = r["body"]["breakpoints"][0]
        self.assertTrue(wp["verified"], r)
        ev = c.request("evaluate", {"expression": expr, "frameId": frames[0]["id"],
                                    "context": "watch"})
        self.assertEqual(int(ev["body"]["result"]), got)

        # 3. reverse continue lands on the bad write: index_reset, the BUG line, i == nbuckets
        ev = act(c, "reverseContinue", reason="data breakpoint")
        self.assertIn(wp["id"], ev["body"]["hitBreakpointIds"])
        frames = top(c)
        self.assertEqual(frames[0]["name"], "index_reset", frames)
        self.assertEqual(frames[0]["line"], bug, frames)
        self.assertTrue(frames[0]["source"]["path"].endswith("kvstore.c"), frames)
        self.assertEqual(frames[1]["name"], "store_resize", frames)
        v = locals_of(c, frames[0])
        self.assertEqual(v["s"]["type"], "struct kvstore *", v)
        fields = variables(c, v["s"]["variablesReference"])
        nbuckets = int(fields["nbuckets"]["value"])
        self.assertEqual(int(v["i"]["value"]), nbuckets, (v, fields))  # the off-by-one
        before = c.request("evaluate", {"expression": expr, "frameId": frames[0]["id"],
                                        "context": "hover"})
        self.assertNotEqual(int(before["body"]["result"]), got)  # the write is still to come
        # the slot written is s->index[i], the same bytes as the corrupted field
        idx = c.request("evaluate", {"expression": "s->index[i]", "frameId": frames[0]["id"],
                                     "context": "watch"})
        addr = c.request("evaluate", {"expression": "&" + expr, "frameId": frames[0]["id"],
                                      "context": "watch"})
        self.assertEqual(int(idx["body"]["memoryReference"], 16),
                         int(addr["body"]["result"], 16))
        mem = c.request("readMemory", {"memoryReference": idx["body"]["memoryReference"],
                                       "count": 8})
        self.assertEqual(int(mem["body"]["address"], 16), int(addr["body"]["result"], 16))
        self.assertEqual(base64.b64decode(mem["body"]["data"]),
                         int(before["body"]["result"]).to_bytes(8, "little"))
        dis = c.request("disassemble", {"memoryReference": frames[0]["instructionPointerReference"],
                                        "instructionOffset": -2, "instructionCount": 5,
                                        "resolveSymbols": True})
        ins = dis["body"]["instructions"]
        self.assertEqual(len(ins), 5)
        self.assertEqual(int(ins[2]["address"], 16),
                         int(frames[0]["instructionPointerReference"], 16))
        self.assertTrue(ins[2]["instruction"].startswith("mov"), ins[2])  # the store
        self.assertTrue(ins[2]["symbol"].startswith("index_reset"), ins[2])

        # 4. step back: to the loop's condition line, one iteration earlier
        act(c, "stepBack", reason="step")
        frames = top(c)
        self.assertEqual(frames[0]["name"], "index_reset")
        self.assertEqual(frames[0]["line"], bug - 1, frames)
        self.assertEqual(int(locals_of(c, frames[0])["i"]["value"]), nbuckets - 1)

        # 5. step out: forward again, the data breakpoint fires at the same write
        ev = act(c, "stepOut", reason="data breakpoint")
        frames = top(c)
        self.assertEqual(frames[0]["name"], "index_reset", frames)
        # without the data breakpoint, step out returns to the compaction in store_resize
        c.request("setDataBreakpoints", {"breakpoints": []})
        act(c, "stepOut", reason="step")
        frames = top(c)
        self.assertEqual(frames[0]["name"], "store_resize", frames)
        self.assertIn(frames[0]["line"], (src_line("index_reset(s);", after=resize),
                                          src_line("index_reset(s);", after=resize) + 1), frames)

        # 6. continue to the end, and back again from there
        act(c, "continue", reason="end of history")
        act(c, "stepBack", reason="step")
        when = c.request("evaluate", {"expression": "monitor when", "context": "repl"})
        self.assertIn("event", when["body"]["result"])
        c.request("disconnect", {"restart": False, "terminateDebuggee": True})
        status, err = c.finish()
        self.assertEqual(status, 0, err)
        self.assertNotIn("DIVERGED", err)


class Console(PvrrTestCase):
    """Debug console: monitor commands, goto, -exec, expressions; function breakpoints."""

    def test_monitor_goto_and_expressions(self):
        log = os.path.join(SRC, "tests", "recordings", "kvstore-fail.pvlog")
        c = DapClient(PVRR)
        self.addCleanup(c.close)
        start_session(c, log, stopOnEntry=True)
        stopped(c, "entry", 0)
        r = c.request("setFunctionBreakpoints", {"breakpoints": [{"name": "verify"},
                                                                 {"name": "no_such_function"}]})
        bps = r["body"]["breakpoints"]
        self.assertTrue(bps[0]["verified"])
        self.assertFalse(bps[1]["verified"])
        ev = act(c, "continue", reason="function breakpoint")
        self.assertIn(bps[0]["id"], ev["body"]["hitBreakpointIds"])
        frames = top(c)
        self.assertEqual(frames[0]["name"], "verify")
        self.assertEqual(c.request("evaluate", {"expression": "store.nbuckets >= 8",
                                                "context": "watch"},
                                   expect_success=False)["success"], False)
        nb = c.request("evaluate", {"expression": "store.nbuckets", "context": "watch",
                                    "frameId": frames[0]["id"]})
        self.assertGreaterEqual(int(nb["body"]["result"]), 8)
        word = c.request("evaluate", {"expression": "*" + nb["body"]["memoryReference"],
                                      "context": "repl"})
        self.assertEqual(int(word["body"]["result"], 16) & 0xffffffff, int(nb["body"]["result"]))
        help_ = c.request("evaluate", {"expression": "monitor help", "context": "repl"})
        self.assertIn("goto", help_["body"]["result"])
        bad = c.request("evaluate", {"expression": "monitor frobnicate", "context": "repl"},
                        expect_success=False)
        self.assertIn("unknown monitor command", bad["message"])
        # the debugger's own monitor commands: an SDK guest hides no kernel frames
        kf = c.request("evaluate", {"expression": "monitor kernel-frames", "context": "repl"})
        self.assertIn("kernel frames: shown", kf["body"]["result"])
        kf = c.request("evaluate", {"expression": "monitor kernel-frames on", "context": "repl"},
                       expect_success=False)
        self.assertIn("no kernel frames to hide", kf["message"])
        n = len(c.events)
        c.request("evaluate", {"expression": "-exec monitor goto 2", "context": "repl"})
        stopped(c, "goto", n)
        when = c.request("evaluate", {"expression": "monitor when", "context": "repl"})
        self.assertRegex(when["body"]["result"], r"event 2\b")
        n = len(c.events)
        c.request("goto", {"threadId": 1, "event": 1})
        stopped(c, "goto", n)
        when = c.request("evaluate", {"expression": "monitor when", "context": "repl"})
        self.assertRegex(when["body"]["result"], r"event 1\b")
        c.request("disconnect")
        status, err = c.finish()
        self.assertEqual(status, 0, err)


class Tcp(PvrrTestCase):
    def test_two_sessions_on_a_port(self):
        log = os.path.join(SRC, "tests", "recordings", "hello.pvlog")
        proc = subprocess.Popen([PVRR, "dap", "--port", "0"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(lambda: (proc.kill(), proc.communicate()))
        line = proc.stderr.readline().decode()
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line).group(1))
        for _ in range(2):
            c = DapClient(port=port)
            start_session(c, log, stopOnEntry=False)
            stopped(c, "end of history", 0)
            self.assertIn("Hello", c.output("stdout"))
            c.request("disconnect")
            c.close()
        # nothing else listens on other interfaces
        self.assertIn("127.0.0.1", line)


class Live(PvrrTestCase):
    def test_live_run_exits_with_its_status(self):
        c = DapClient(PVRR)
        self.addCleanup(c.close)
        caps = start_session(c, guest("hello"), args=["one", "two words"], stopOnEntry=True)
        stopped(c, "entry", 0)
        cap = c.wait_event("capabilities")
        self.assertIs(cap["body"]["capabilities"]["supportsStepBack"], False)
        r = c.request("stepBack", {"threadId": 1}, expect_success=False)
        self.assertIn("recording", r["message"])
        act(c, "next", {"granularity": "instruction"}, reason="step")
        n = len(c.events)
        c.request("continue", {"threadId": 1})
        ex = c.wait_event("exited", n)
        self.assertEqual(ex["body"]["exitCode"], 0)
        c.wait_event("terminated", n)
        self.assertIn("argv[2] = two", c.output("stdout"))
        c.request("stackTrace", {"threadId": 1}, expect_success=False)
        c.request("disconnect")
        status, err = c.finish()
        self.assertEqual(status, 0, err)

    def test_backend_option_names_the_engine(self):
        r = pvrr("dap", "--backend", "bochs")
        self.assertEqual(r.returncode, EXIT_USAGE)
        self.assertIn(b"unknown backend 'bochs'", r.stderr)
        c = DapClient(PVRR, args=["--backend", "emu"])
        self.addCleanup(c.close)
        start_session(c, guest("hello"), args=[], stopOnEntry=False)
        c.wait_event("exited")
        self.assertIn("running %s live on the emu engine" % guest("hello"), c.output("console"))
        c.request("disconnect")
        status, err = c.finish()
        self.assertEqual(status, 0, err)

    def test_pause_a_running_guest_and_vanish(self):
        c = DapClient(PVRR)
        self.addCleanup(c.close)
        start_session(c, guest("spin"), args=["iters=100000000000"], stopOnEntry=False)
        time.sleep(2)
        n = len(c.events)
        c.request("pause", {"threadId": 1})
        stopped(c, "pause", n)
        # a motion running for more than a second reports progress (the client said
        # supportsProgressReporting), ended when it stops
        starts = [e for e in c.events if e["event"] == "progressStart"]
        self.assertTrue(starts, [e["event"] for e in c.events])
        self.assertEqual(starts[0]["body"]["title"], "continue")
        pid = starts[0]["body"]["progressId"]
        self.assertTrue([e for e in c.events if e["event"] == "progressEnd"
                         and e["body"]["progressId"] == pid])
        self.assertEqual(top(c)[0]["name"], "main")
        n = len(c.events)
        c.request("continue", {"threadId": 1})
        time.sleep(0.5)
        # the client vanishes while the guest runs: pvrr ends cleanly, soon
        t0 = time.time()
        status, err = c.finish(timeout=30)
        self.assertEqual(status, 0, err)
        self.assertLess(time.time() - t0, 20)


class BadClients(PvrrTestCase):
    """Malformed, unknown and out-of-order requests: error responses, never a crash."""
    needs_kvm = False

    def test_protocol_errors(self):
        c = DapClient(PVRR)
        self.addCleanup(c.close)
        r = c.request("threads", expect_success=False)
        self.assertIn("initialize", r["message"])
        c.write_raw(b"Content-Length: 9\r\n\r\n{\"seq\": 1")  # truncated JSON
        c.write_raw(b"Content-Length: 5\r\n\r\n[1,2]")  # not a request
        c.write_raw(b"Bogus-Header: 1\r\n\r\n")  # no Content-Length
        c.write_raw(b"Content-Length: 12x\r\n\r\n")  # not a number
        c.write_raw(b"\x00\xff garbage \x01\r\n\r\n")
        c.write_raw(b"Content-Length: 5000000\r\n\r\n" + b"x" * 5000000)  # over the limit
        r = c.request("flyToTheMoon", {"speed": 1}, expect_success=False)
        self.assertIn("unknown request", r["message"])
        notes = c.output("console")
        self.assertIn("not JSON", notes)
        self.assertIn("not a request", notes)
        self.assertIn("without a Content-Length", notes)
        self.assertIn("larger than", notes)
        r = c.request("launch", {"program": "x.pvlog"}, expect_success=False)
        self.assertIn("initialize", r["message"])
        c.request("initialize", VSCODE_INIT)
        r = c.request("setBreakpoints", {"source": {"path": "/x.c"},
                                         "breakpoints": [{"line": 1}]}, expect_success=False)
        self.assertIn("launch", r["message"])
        r = c.request("stepBack", {"threadId": 1}, expect_success=False)
        r = c.request("launch", {}, expect_success=False)
        self.assertIn("program", r["message"])
        r = c.request("launch", {"program": self.tmp.path + "/missing.pvlog"},
                      expect_success=False)
        self.assertIn("missing.pvlog", r["message"])
        r = c.request("launch", {"program": 42}, expect_success=False)
        r = c.request("evaluate", {"expression": "x", "frameId": "one"}, expect_success=False)
        c.seq += 1  # a request with arguments that are not an object
        body = b'{"seq": %d, "type": "request", "command": "threads", "arguments": 3}' % c.seq
        c.write_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        m = c.recv()
        validate(m, "threads")
        self.assertFalse(m["success"])
        c.request("disconnect")
        status, err = c.finish()
        self.assertEqual(status, 0, err)

    def test_client_vanishes_mid_message(self):
        c = DapClient(PVRR)
        c.request("initialize", VSCODE_INIT)
        c.write_raw(b"Content-Length: 100\r\n\r\n{\"seq\":")
        status, err = c.finish()
        self.assertEqual(status, 0, err)

    def test_editor_setup_matches_what_the_tests_send(self):
        # editors/vscode: the manifest declares the "pvrr" debugger with the attributes
        # launch_config() uses; the README's launch.json and nvim/emacs lines use them too
        import json
        root = os.path.join(SRC, "editors", "vscode")
        with open(os.path.join(root, "package.json")) as f:
            pkg = json.load(f)
        dbg = [d for d in pkg["contributes"]["debuggers"] if d["type"] == "pvrr"]
        self.assertEqual(len(dbg), 1)
        launch = dbg[0]["configurationAttributes"]["launch"]
        self.assertEqual(launch["required"], ["program"])
        props = set(launch["properties"]) | {"type", "request", "name"}
        self.assertTrue({"program", "args", "stopOnEntry"} <= props)
        sent = set(launch_config("x", args=[], stopOnEntry=True)) - {"__sessionId"}
        self.assertEqual(sent - props, set())
        for cfg in dbg[0]["initialConfigurations"]:
            self.assertEqual(set(cfg) - props, set(), cfg)
        with open(os.path.join(root, "extension.js")) as f:
            ext = f.read()
        self.assertIn("registerDebugAdapterDescriptorFactory('pvrr'", ext)
        self.assertIn("['dap']", ext)
        self.assertIn("['dap', '--backend', backend]", ext)
        self.assertEqual(launch["properties"]["backend"]["enum"], ["auto", "kvm", "emu"])
        with open(os.path.join(root, "README.md")) as f:
            readme = f.read()
        block = re.search(r"```json\n(.*?)```", readme, re.S).group(1)
        for cfg in json.loads(block)["configurations"]:
            self.assertEqual(cfg["type"], "pvrr")
            self.assertEqual(set(cfg) - props, set(), cfg)
        self.assertIn("args = { 'dap' }", readme)            # nvim-dap
        self.assertIn("'(\"pvrr\" \"dap\")", readme)         # dap-mode
        self.assertIn(":type \"pvrr\" :request \"launch\"", readme)

    def test_validator_catches_bad_messages(self):
        # the checks themselves can fail
        with self.assertRaises(SpecError):
            validate({"seq": 1, "type": "event", "event": "stopped", "body": {}})
        with self.assertRaises(SpecError):
            validate({"seq": 1, "type": "response", "request_seq": 1, "success": True,
                      "command": "stackTrace", "body": {"stackFrames": [{"id": 1}]}})
        with self.assertRaises(SpecError):
            validate({"seq": "1", "type": "event", "event": "initialized"})


if __name__ == "__main__":
    main()
