"""gdb-side half of pvrr's debugger benchmarks: runs inside gdb 13
(`gdb -batch ... -x bench/gdb_bench.py`), already connected to a pvrr stub.

The scenario and its parameters come as JSON in the environment variable
PVRR_BENCH_CFG; the result is printed as one line
    PVRR_BENCH_RESULT {json}
which bench/run parses. Every timing is time.perf_counter() around one
gdb.execute(...), so it covers gdb's packets and the stub's work, not gdb's
start-up or connection. Errors are caught and reported in the result
("errors": [...]) so that bench/run can tell a broken session from a slow one.

Scenarios:
  stepi     {"n": N, "rtt_n": M}: N `stepi` from where the stub stopped; rate per
            second; then M `maint packet qC`: one protocol round trip.
  continue  {"breakpoint": FUNC or null}: `continue` until the inferior exits;
            seconds from the first continue to the exit, and the stop count.
  reverse   {"events": H, "positions": P, "steps": 20, "rsteps": 10,
             "rc_positions": [...], "rc_delta": D, "rn_func": "store_put",
             "rc_func": "hash_key", "rc_far_func": "verify"}:
            reverse-stepi / reverse-next / reverse-continue latencies at P
            positions spread over the recording, then `monitor checkpoints`.
  revspin   {"positions": P, "rsteps": R, "stretch_s": S, "bound_s": B, "budget_s": T}:
            positions inside one long hypercall-free stretch (the `spin` guest's
            loop), each reached by `continue` interrupted (SIGINT, as ^C) after
            S/(P+1) s; R timed `reverse-stepi` at each. An operation still
            running after B s is interrupted and counted as "over the bound";
            the scenario stops there, and after the position where T s are spent.
"""
import json
import math
import os
import re
import signal
import threading
import time
import traceback

import gdb

CFG = json.loads(os.environ.get("PVRR_BENCH_CFG", "{}"))
RESULT = {"errors": []}
EXITED = {"code": None}


def on_exit(event):
    EXITED["code"] = getattr(event, "exit_code", -1)


gdb.events.exited.connect(on_exit)


def timed(cmd):
    """Run one gdb command; returns (seconds, output text)."""
    t0 = time.perf_counter()
    out = gdb.execute(cmd, to_string=True)
    return time.perf_counter() - t0, out


def monitor(cmd):
    return gdb.execute("monitor " + cmd, to_string=True)


def when():
    """The stub's position as text ("event 12 + 3 steps", ...), or ''."""
    try:
        return monitor("when").strip()
    except gdb.error as e:
        return "error: %s" % e


def event_of(text):
    m = re.search(r"event (\d+)", text)
    return int(m.group(1)) if m else None


def ended():
    return EXITED["code"] is not None or "end of the recording" in when()


def scenario_stepi():
    n = int(CFG.get("n", 2000))
    done = 0
    t0 = time.perf_counter()
    try:
        for _ in range(n):
            gdb.execute("stepi", to_string=True)
            done += 1
            if EXITED["code"] is not None:
                break
    except gdb.error as e:
        RESULT["errors"].append("stepi %d: %s" % (done, e))
    secs = time.perf_counter() - t0
    RESULT.update(steps=done, seconds=secs, per_second=done / secs if secs > 0 else 0)
    # one protocol round trip with no stepping, for attribution: a stepi costs
    # gdb several packets (bench/README.md)
    n = int(CFG.get("rtt_n", 500))
    t0 = time.perf_counter()
    for _ in range(n):
        gdb.execute("maint packet qC", to_string=True)
    RESULT["packet_rtt"] = (time.perf_counter() - t0) / n


def scenario_continue():
    bp = CFG.get("breakpoint")
    if bp:
        gdb.execute("break " + bp, to_string=True)
    stops = 0
    t0 = time.perf_counter()
    try:
        while EXITED["code"] is None and stops < 100000:
            gdb.execute("continue", to_string=True)
            stops += 1
    except gdb.error as e:
        if EXITED["code"] is None:
            RESULT["errors"].append("continue %d: %s" % (stops, e))
    secs = time.perf_counter() - t0
    RESULT.update(seconds=secs, stops=stops, exit_code=EXITED["code"])


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(p / 100.0 * len(v)) - 1))
    return v[k]


def scenario_reverse():
    h = int(CFG["events"])
    npos = int(CFG.get("positions", 10))
    steps = int(CFG.get("steps", 20))
    rsteps = int(CFG.get("rsteps", 10))
    rn_func = CFG.get("rn_func", "store_put")
    # positions spread over the whole recording, in increasing order so that
    # each goto runs forward from the previous position
    positions = sorted({max(1, min(h - 2, int((i + 0.5) * h / npos))) for i in range(npos)})
    rstepi, rnext, gotos, fwd_steps = [], [], [], []
    per_pos = []
    for e in positions:
        info = {"event": e}
        try:
            dt, out = timed("monitor goto %d" % e)
            gotos.append(dt)
            if "past the end" in out:
                info["skipped"] = out.strip()
                per_pos.append(info)
                continue
            t0 = time.perf_counter()
            for _ in range(steps):
                gdb.execute("stepi", to_string=True)
            fwd_steps.append((time.perf_counter() - t0) / steps)
            mine = []
            for _ in range(rsteps):
                dt, _ = timed("reverse-stepi")
                mine.append(dt)
            rstepi += mine
            info["reverse_stepi_max_ms"] = max(mine) * 1e3
            # reverse-next: stop inside a function called in a loop, step two
            # lines forward, then step back over them one at a time
            gdb.execute("break " + rn_func, to_string=True)
            gdb.execute("continue", to_string=True)
            if ended():
                info["reverse_next"] = "the recording ended before %s" % rn_func
            else:
                gdb.execute("next", to_string=True)
                gdb.execute("next", to_string=True)
                gdb.execute("delete", to_string=True)
                mine = []
                for _ in range(2):
                    dt, _ = timed("reverse-next")
                    mine.append(dt)
                rnext += mine
                info["reverse_next_ms"] = [x * 1e3 for x in mine]
        except gdb.error as ex:
            RESULT["errors"].append("position %d: %s" % (e, ex))
        finally:
            try:
                gdb.execute("delete", to_string=True)
            except gdb.error:
                pass
        per_pos.append(info)
    RESULT["positions"] = per_pos
    RESULT["goto_s"] = gotos
    if rstepi:
        RESULT["reverse_stepi"] = {"n": len(rstepi), "p50": pct(rstepi, 50),
                                   "p95": pct(rstepi, 95), "max": max(rstepi)}
    if fwd_steps:
        RESULT["forward_stepi_mean"] = sum(fwd_steps) / len(fwd_steps)
    if rnext:
        RESULT["reverse_next"] = {"n": len(rnext), "p50": pct(rnext, 50), "p95": pct(rnext, 95),
                                  "max": max(rnext)}
    RESULT["reverse_continue"] = reverse_continue_runs(CFG.get("rc_func", "hash_key"), 3)
    RESULT["reverse_continue_far"] = reverse_continue_runs(CFG.get("rc_far_func", "verify"), 1)
    out = monitor("checkpoints")
    RESULT["checkpoints_text"] = out.splitlines()[0] if out else ""
    m = re.search(r"(\d+) checkpoints \((\d+) taken, (\d+) thinned\), (\d+) KiB of page copies "
                  r"for (\d+) KiB of guest RAM", out)
    if m:
        RESULT["checkpoints"] = {"n": int(m.group(1)), "taken": int(m.group(2)),
                                 "thinned": int(m.group(3)), "kib": int(m.group(4)),
                                 "ram_kib": int(m.group(5))}
    else:
        RESULT["errors"].append("monitor checkpoints: unexpected output %r" % out[:200])


def interrupted_after(secs, cmd):
    """Run gdb command (cmd), sending ourselves SIGINT (gdb interrupts the
    target as for ^C) if it still runs after (secs). Returns (seconds, 1 if
    the interrupt was sent, output or error text)."""
    done = threading.Event()

    def fire():
        if not done.wait(secs):
            os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=fire, daemon=True)
    t0 = time.perf_counter()
    t.start()
    try:
        out = gdb.execute(cmd, to_string=True)
    except gdb.error as e:
        out = "error: %s" % e
    finally:
        dt = time.perf_counter() - t0
        fired = not done.is_set() and dt >= secs
        done.set()
        t.join()
    return dt, fired, out


def scenario_revspin():
    npos = int(CFG.get("positions", 10))
    rsteps = int(CFG.get("rsteps", 10))
    stretch = float(CFG["stretch_s"])
    bound = float(CFG.get("bound_s", 60))
    budget = float(CFG.get("budget_s", 1e9))
    t_start = time.perf_counter()
    gdb.execute("break main", to_string=True)
    gdb.execute("continue", to_string=True)
    gdb.execute("delete", to_string=True)
    start = None
    samples, per_pos, over = [], [], 0
    for i in range(npos):
        dt, fired, out = interrupted_after(stretch / (npos + 1), "continue")
        w = when()
        info = {"when": w}
        per_pos.append(info)
        if start is None:
            start = w  # every position lies in this interval: no hypercall in between
            RESULT["start"] = w
        if not fired or ended() or event_of(w) != event_of(start):
            RESULT["errors"].append("position %d is not inside the stretch: %s (%s)" %
                                    (i, w, out.strip()[-200:]))
            break
        mine = []
        for _ in range(rsteps):
            if mine and time.perf_counter() - t_start > budget:
                break
            dt, fired, out = interrupted_after(bound, "reverse-stepi")
            if fired or out.startswith("error"):
                over += 1
                info["over_bound"] = out.strip()[-200:]
                break
            mine.append(dt)
        info["reverse_stepi_ms"] = [x * 1e3 for x in mine]
        samples += mine
        if over:
            break
        if time.perf_counter() - t_start > budget:
            RESULT["budget_spent_after"] = i + 1
            break
    RESULT["positions"] = per_pos
    RESULT["over_bound"] = over
    RESULT["samples"] = samples
    if samples:
        RESULT["reverse_stepi"] = {"n": len(samples), "p50": pct(samples, 50),
                                   "p95": pct(samples, 95), "max": max(samples)}
    out = monitor("checkpoints")
    RESULT["checkpoints_text"] = out.splitlines()[0] if out else ""


def reverse_continue_runs(func, hits):
    """At each late position: break FUNC, continue to it (hits) times, delete,
    go ~rc_delta events (about 0.3 s of guest time) further, break FUNC again
    and time reverse-continue. Returns a list of runs."""
    runs = []
    delta = int(CFG.get("rc_delta", 10))
    for e in CFG.get("rc_positions", []):
        run = {"event": e, "func": func}
        try:
            gdb.execute("monitor goto %d" % e, to_string=True)
            gdb.execute("break " + func, to_string=True)
            for _ in range(hits):
                gdb.execute("continue", to_string=True)
                if ended():
                    break
            gdb.execute("delete", to_string=True)
            if ended():
                run["skipped"] = "the recording ended"
                runs.append(run)
                continue
            hit = event_of(when())
            if hit + delta >= int(CFG["events"]):
                run["skipped"] = "event %d + %d is past the end" % (hit, delta)
                runs.append(run)
                continue
            gdb.execute("monitor goto %d" % (hit + delta), to_string=True)
            run["from"] = when()
            gdb.execute("break " + func, to_string=True)
            dt, out = timed("reverse-continue")
            run["seconds"] = dt
            run["to"] = when()
            run["events_back"] = (hit + delta) - (event_of(run["to"]) or 0)
        except gdb.error as ex:
            RESULT["errors"].append("reverse-continue %s at %d: %s" % (func, e, ex))
        finally:
            try:
                gdb.execute("delete", to_string=True)
            except gdb.error:
                pass
        runs.append(run)
    return runs


def main():
    what = CFG.get("scenario")
    try:
        if what == "stepi":
            scenario_stepi()
        elif what == "continue":
            scenario_continue()
        elif what == "reverse":
            scenario_reverse()
        elif what == "revspin":
            scenario_revspin()
        else:
            RESULT["errors"].append("unknown scenario %r" % what)
    except Exception:  # report, do not hide: bench/run counts it as a crash
        RESULT["errors"].append(traceback.format_exc())
    print("PVRR_BENCH_RESULT " + json.dumps(RESULT))
    if EXITED["code"] is None:
        try:
            gdb.execute("kill", to_string=True)
        except gdb.error:
            pass


main()
