#!/usr/bin/env python3
"""DAP against gdb on the same recording, side by side in one run (run by hand, not a test):

    bench/dap_vs_gdb.py BUILD_DIR FAIL.pvlog [N]

FAIL.pvlog is a failing kvstore recording (`pvrr record --until-fail 60 -o FAIL.pvlog
BUILD_DIR/guests/kvstore.elf`). Both sides run to the end of the recording, put a write
watchpoint on the corrupted field (the kvstore message names it), reverse-continue to the bad
write, then step back N times by instruction and N times by line. Timings: the DAP client
from request to stopped event (tests/integration/dapclient.py); gdb: time.perf_counter()
around gdb.execute() inside gdb. Prints p50/p95 of each and the ratio DAP/gdb.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from dapclient import DapClient  # noqa: E402

GDB_SCRIPT = r'''
import gdb, json, os, time
n = int(os.environ["N"]); expr = os.environ["EXPR"]
def timed(cmd):
    t0 = time.perf_counter(); gdb.execute(cmd, to_string=True); return time.perf_counter() - t0
gdb.execute("continue", to_string=True)
gdb.execute("watch -l " + expr, to_string=True)
res = {"rc": [timed("reverse-continue")]}
gdb.execute("delete", to_string=True)
res["rstepi"] = [timed("reverse-stepi") for _ in range(n)]
res["rnext"] = [timed("reverse-next") for _ in range(n)]
print("RESULT " + json.dumps(res))
gdb.execute("kill", to_string=True)
'''


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def dap_side(pvrr, log, n):
    c = DapClient(pvrr)
    c.request("initialize", {"adapterID": "pvrr", "linesStartAt1": True})
    c.send("launch", {"program": log, "stopOnEntry": False})
    c.wait_event("initialized")
    c.request("configurationDone")
    c.wait_event("stopped")
    expr = re.search(r"\(watch -l ([^)]+)\)", c.output("stdout")).group(1)
    info = c.request("dataBreakpointInfo", {"name": expr})
    c.request("setDataBreakpoints", {"breakpoints": [{"dataId": info["body"]["dataId"]}]})

    def timed(cmd, args):
        k = len(c.events)
        t0 = time.perf_counter()
        c.request(cmd, dict({"threadId": 1}, **args))
        ev = c.wait_event("stopped", k)
        return time.perf_counter() - t0, ev

    t, ev = timed("reverseContinue", {})
    assert ev["body"]["reason"] == "data breakpoint", ev
    res = {"rc": [t]}
    c.request("setDataBreakpoints", {"breakpoints": []})
    res["rstepi"] = [timed("stepBack", {"granularity": "instruction"})[0] for _ in range(n)]
    res["rnext"] = [timed("stepBack", {})[0] for _ in range(n)]
    c.request("disconnect")
    c.finish()
    return expr, res


def gdb_side(pvrr, log, expr, n):
    srv = subprocess.Popen([pvrr, "replay", "--gdb", "127.0.0.1:0", log],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port = None
    while port is None:
        line = srv.stderr.readline().decode()
        m = re.search(r"waiting for gdb on [0-9.]+:(\d+)", line)
        port = int(m.group(1)) if m else None
        if not line:
            raise SystemExit("pvrr replay --gdb did not start")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(GDB_SCRIPT)
    out = subprocess.run(["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off",
                          "-ex", "set confirm off", "-ex", "target remote 127.0.0.1:%d" % port,
                          "-x", f.name, log + ".elf"], capture_output=True, text=True,
                         env=dict(os.environ, N=str(n), EXPR=expr), timeout=900)
    os.unlink(f.name)
    srv.wait(timeout=60)
    m = re.search(r"RESULT (.*)", out.stdout)
    if not m:
        raise SystemExit("gdb side failed:\n" + out.stdout[-2000:] + out.stderr[-2000:])
    return json.loads(m.group(1))


def main():
    build, log = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    pvrr = os.path.join(build, "tools", "pvrr")
    expr, dap = dap_side(pvrr, log, n)
    gdb = gdb_side(pvrr, log, expr, n)
    print("%-30s %10s %10s %10s %10s %8s" % ("operation (ms)", "dap p50", "dap p95",
                                              "gdb p50", "gdb p95", "p95 ratio"))
    names = {"rc": "reverse-continue to the write", "rstepi": "step back 1 instruction",
             "rnext": "step back 1 line"}
    for k in ("rc", "rstepi", "rnext"):
        d50, d95 = pct(dap[k], 50) * 1e3, pct(dap[k], 95) * 1e3
        g50, g95 = pct(gdb[k], 50) * 1e3, pct(gdb[k], 95) * 1e3
        print("%-30s %10.1f %10.1f %10.1f %10.1f %8.2f" % (names[k], d50, d95, g50, g95,
                                                           d95 / g95 if g95 else 0))


if __name__ == "__main__":
    main()
