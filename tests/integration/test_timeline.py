"""`pvrr timeline`: a recording as one self-contained HTML page, checked in headless Chromium.

Real recordings (hello, a failing kvstore, the rdtsc guest that diverges, a cut log) need
KVM; the 1M-event case is a synthetic log (pvlog_synth) and does not. Every page is opened
in Debian's chromium over the DevTools protocol (chromium.py): the elements the page
promises, the hover text (the event's `pvrr dump` line), the click (`monitor goto N`),
zoom and pan, no script error and no network request. Without chromium, the page tests
skip and say so.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import time
import unittest

from pvrrtest import *
from chromium import Chromium, find_chromium

SYNTH = os.environ.get("PVRR_PVLOG_SYNTH", "pvlog_synth")
SHOTS = os.environ.get("PVRR_TIMELINE_SHOTS")  # keep screenshots here when set


def url(path):
    return "file://" + os.path.abspath(path)


class Browser:
    """One Chromium for a test class (starting one costs about a second)."""
    browser = None

    @classmethod
    def setUpClass(cls):
        find_chromium()  # raises SkipTest naming what is missing
        cls.browser = Chromium()

    @classmethod
    def tearDownClass(cls):
        if cls.browser:
            cls.browser.close()

    def open_page(self, html, name):
        b = self.browser
        secs = b.open(url(html))
        self.assertEqual(b.exceptions(), [], "script errors in the page")
        shot = b.screenshot(os.path.join(SHOTS or self.tmp.path, name + ".png"))
        self.assertGreater(os.path.getsize(shot), 5000, "screenshot looks empty")
        return secs

    def assert_no_network(self, html):
        """Every request the page made is the page itself."""
        reqs = self.browser.requests()
        self.assertIn(url(html), reqs, "the request log saw nothing: it cannot be trusted")
        self.assertEqual([u for u in reqs if u != url(html)], [], "the page made requests")

    def js(self, expr):
        return self.browser.eval(expr)

    def lanes(self):
        return self.js("Array.from(document.querySelectorAll('#timeline g.lane'))"
                       ".map(g => g.dataset.lane)")

    def hover(self, lane, index):
        """Move the mouse onto event (index) of (lane); returns the tooltip text."""
        p = self.js("pvrrTimeline.point(%s, %d)" % (repr(lane), index))
        self.assertIsNotNone(p, "event %d is not drawn in lane %s" % (index, lane))
        self.browser.mouse("mouseMoved", p["x"], p["y"])
        self.assertEqual(self.js("document.getElementById('tip').hidden"), False)
        return self.js("document.getElementById('tip').textContent"), p

    def click(self, p):
        self.browser.mouse("mousePressed", p["x"], p["y"], "left", 1, 1)
        self.browser.mouse("mouseReleased", p["x"], p["y"], "left", 0, 1)
        deadline = time.time() + 5
        while time.time() < deadline:
            g = self.js("document.getElementById('goto').textContent")
            if g and "copying" not in g:
                return g
            time.sleep(0.05)
        return self.js("document.getElementById('goto').textContent")


def page_data(html):
    """The model a page carries (the JSON in its pvrr-data element)."""
    with open(html, encoding="utf-8") as f:
        page = f.read()
    m = re.search(r'<script type="application/json" id="pvrr-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def dump_lines(log):
    r = pvrr("dump", log)
    return {int(l.split()[0]): l for l in text(r.stdout).splitlines() if l.strip()}


class RealRecordings(Browser, PvrrTestCase):
    kv_cache = None  # one failing kvstore recording for the tests that need one

    @classmethod
    def tearDownClass(cls):
        if cls.kv_cache:
            cls.kv_cache.cleanup()
        super().tearDownClass()

    def failing_kvstore(self):
        cls = type(self)
        if cls.kv_cache is None:
            cls.kv_cache = TempDir()
            self.record_failing_kvstore(cls.kv_cache("kv.pvlog"))
        log = self.tmp("kv.pvlog")
        shutil.copyfile(cls.kv_cache("kv.pvlog"), log)
        return log

    def timeline(self, log, *opts, status=0):
        html = log[:-len(".pvlog")] + ".html"
        r = pvrr("timeline", *opts, log, "-o", html, timeout=120)
        self.assertEqual(r.returncode, status, text(r.stderr))
        return html, r

    def test_hello(self):
        log = self.tmp("hello.pvlog")
        self.run_ok("record", "-o", log, guest("hello"), "--", "a", "b")
        html, _ = self.timeline(log)
        self.assertLess(os.path.getsize(html), 200000)
        self.open_page(html, "hello")
        self.assertEqual(self.lanes(), ["console-out", "console_write", "exit", "end"])
        texts = self.js("Array.from(document.querySelectorAll('.console-text'))"
                        ".map(t => t.textContent)")
        self.assertTrue(texts and texts[0].startswith("Hello from a pvrr guest!"), texts)
        self.assertIn("argv[2] = b", self.js("document.getElementById('console-log').textContent"))
        end = self.js("(m => m && [m.dataset.reason, m.dataset.event, m.textContent])"
                      "(document.getElementById('end-marker'))")
        self.assertEqual(end, ["exit", "4", "exit status 0"])
        # hover shows exactly the dump line; a click copies monitor goto N
        dump = dump_lines(log)
        tip, p = self.hover("console_write", 1)
        self.assertEqual(tip.split("\n")[0], dump[1])
        self.assertRegex(self.click(p), r"^monitor goto 1 \((copied|select and copy it)\)$")
        tip, _ = self.hover("exit", 3)
        self.assertEqual(tip.split("\n")[0], dump[3])
        self.assert_no_network(html)

    def test_failing_kvstore(self):
        log = self.failing_kvstore()
        info = text(self.run_ok("info", log).stdout)
        nrandom = int(re.search(r"^\s+random\s+(\d+)", info, re.M).group(1))
        html, _ = self.timeline(log)
        self.open_page(html, "kvstore")
        lanes = self.lanes()
        for lane in ("console-out", "console_write", "random", "panic", "end"):
            self.assertIn(lane, lanes)
        counts = self.js("Object.fromEntries(pvrrTimeline.data.lanes.map(l => [l.name, l.count]))")
        self.assertEqual(counts["random"], nrandom)
        log_text = self.js("document.getElementById('console-log').textContent")
        self.assertIn("CORRUPTION", log_text)
        end = self.js("(m => m && [m.dataset.reason, m.textContent])"
                      "(document.getElementById('end-marker'))")
        self.assertEqual(end[0], "panic")
        self.assertIn("guest panic:", end[1])
        self.assertIn("has the wrong value", self.js(
            "document.getElementById('end-summary').textContent"))
        # zoom with the wheel around the middle, then pan by dragging
        v = self.js("pvrrTimeline.view()")
        p = self.js("(b => ({x: b.left + 190 + (b.width - 202) / 2, y: b.top + 60}))"
                    "(document.getElementById('timeline').getBoundingClientRect())")
        self.browser.mouse("mouseWheel", p["x"], p["y"], dy=-600)
        time.sleep(0.1)
        z = self.js("pvrrTimeline.view()")
        self.assertLess(z[1] - z[0], (v[1] - v[0]) / 2, "the wheel did not zoom in")
        self.browser.mouse("mousePressed", p["x"], p["y"], "left", 1, 1)
        self.browser.mouse("mouseMoved", p["x"] + 200, p["y"], "left", 1)
        self.browser.mouse("mouseReleased", p["x"] + 200, p["y"], "left", 0, 1)
        time.sleep(0.1)
        d = self.js("pvrrTimeline.view()")
        self.assertLess(d[0], z[0], "dragging right did not pan back in time")
        self.assertAlmostEqual(d[1] - d[0], z[1] - z[0], places=3)
        self.assert_no_network(html)

    def test_divergence_is_marked(self):
        log = self.tmp("rdtsc.pvlog")  # a copy: the page is written beside the log
        shutil.copyfile(fixture("rdtsc-diverges.pvlog"), log)
        rep = pvrr("replay", log)
        self.assertEqual(rep.returncode, REPLAY_DIVERGED)
        at = int(re.search(r"DIVERGED at event (\d+)", text(rep.stderr)).group(1))
        html, r = self.timeline(log)
        self.assertIn("diverged at event %d" % at, text(r.stderr))
        self.open_page(html, "rdtsc")
        m = self.js("(m => m && [m.dataset.event, m.textContent])"
                    "(document.getElementById('divergence-marker'))")
        self.assertEqual(m, [str(at), "replay diverged at event %d" % at])
        self.assertIn("DIVERGED", self.js("document.getElementById('end-summary').textContent"))
        # without a replay there is no divergence unless one is given
        html2, _ = self.timeline(log, "--no-replay")
        with open(html2) as f:
            self.assertNotIn('"divergence"', f.read())
        self.timeline(log, "--no-replay", "--divergence", str(at))

    def test_replay_timeout_bounds_the_replay(self):
        log = self.tmp("spin.pvlog")
        # a replay well over 0.3 s on this engine and host, whose speeds differ by
        # 1000x (the nested PVM KVM runs ~1e6 guest instructions/s, the emulator and
        # kvm-amd under QEMU's TCG ~1e9): a recording that took at least 1.5 s
        iters = 100000
        while True:
            t0 = time.monotonic()
            self.run_ok("record", "-o", log, guest("spin"), "--", "iters=%d" % iters)
            if time.monotonic() - t0 >= 1.5 or iters >= 4000000000:
                break
            iters *= 8
        t0 = time.monotonic()
        html, _ = self.timeline(log, "--replay-timeout", "0.3")
        self.assertLess(time.monotonic() - t0, 30)
        d = page_data(html)
        self.assertRegex(d["replay_note"], r"^The replay was stopped after 0.3 s at event \d+")
        self.assertEqual(d["end"]["reason"], "exit")  # the log's own end is still shown

    def test_truncated_log_renders_its_prefix(self):
        log = self.failing_kvstore()
        with open(log, "rb") as f:
            data = f.read()
        start = 64 + struct.unpack_from("<Q", data, 32)[0]
        cut = self.tmp("cut.pvlog")
        with open(cut, "wb") as f:
            f.write(data[: (start + len(data)) // 2])
        d = pvrr("dump", cut)
        self.assertEqual(d.returncode, REPLAY_TRUNCATED)
        shown = len([l for l in text(d.stdout).splitlines() if l.strip()])
        html, r = self.timeline(cut, status=REPLAY_TRUNCATED)
        self.assertIn(cut, text(r.stderr))
        self.assertRegex(text(r.stderr), r"truncated at event \d+")
        self.open_page(html, "truncated")
        self.assertEqual(self.js("pvrrTimeline.data.events"), shown)
        m = self.js("(m => m && [m.dataset.event, m.dataset.reason])"
                    "(document.getElementById('log-error-marker'))")
        self.assertEqual(m, [str(shown), "truncated"])
        self.assertIsNone(self.js("document.getElementById('end-marker')"))
        self.assert_no_network(html)


class Large(Browser, PvrrTestCase):
    needs_kvm = False

    def test_million_events(self):
        log = self.tmp("big.pvlog")
        n = 1000000
        r = subprocess.run([SYNTH, log, str(n), guest("hello")], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, text(r.stderr))
        html = self.tmp("big.html")
        t0 = time.monotonic()
        r = pvrr("timeline", "--no-replay", log, "-o", html, timeout=120)
        gen = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, text(r.stderr))
        size = os.path.getsize(html)
        print("\n1M events: generation %.2f s, page %.2f MB" % (gen, size / 1e6))
        self.assertLess(size, 4 << 20, "the page of 1M events is not small")
        self.open_page(html, "million")
        ready_ms = self.js("window.pvrrTimelineReadyMs")
        # the 2 s target is bench/run's (timeline section), not a timed test's
        print("1M events: page ready %.0f ms after navigation" % ready_ms)
        self.assertEqual(self.js("pvrrTimeline.data.events"), n)
        modes = self.js("Object.fromEntries(pvrrTimeline.data.lanes.map(l => [l.name, l.mode]))")
        self.assertEqual(modes["nop"], "buckets")
        self.assertEqual(modes["panic"], "events")
        # every lane is drawn, and the page stays small however far one zooms
        drawn = self.js("Array.from(document.querySelectorAll('#timeline g.lane path'))"
                        ".filter(p => p.getAttribute('d').length > 0).length")
        self.assertGreaterEqual(drawn, len(modes))
        self.assertLess(self.js("document.querySelectorAll('*').length"), 3000)
        self.js("pvrrTimeline.setView(500000, 500200)")
        first_nop = self.js("pvrrTimeline.hits('nop')[0].i")
        self.assertGreaterEqual(first_nop, 500000)
        tip, _ = self.hover("nop", first_nop)
        self.assertRegex(tip, r"events 500000\.\.500015: \d+ nop")
        tip, p = self.hover("console_write", 500000)
        self.assertEqual(tip.split("\n")[0], dump_line_of(log, 500000))
        self.assertRegex(self.click(p), r"^monitor goto 500000 ")
        self.assertEqual(self.browser.exceptions(), [])
        self.assert_no_network(html)


def dump_line_of(log, index):
    r = subprocess.run([PVRR, "dump", log], capture_output=True, timeout=120)
    for line in text(r.stdout).splitlines():
        if line.split(None, 1)[0] == str(index):
            return line
    raise AssertionError("event %d not in pvrr dump" % index)


class Errors(PvrrTestCase):
    needs_kvm = False

    def test_help_and_usage(self):
        h = self.run_ok("timeline", "--help")
        out = text(h.stdout)
        for s in ("--output", "--no-replay", "--replay-timeout", "--divergence", "Exit status",
                  str(REPLAY_CORRUPT), str(REPLAY_TRUNCATED)):
            self.assertIn(s, out)
        self.assertEqual(pvrr("timeline").returncode, EXIT_USAGE)
        self.assertEqual(pvrr("timeline", "--replay-timeout", "x", "a.pvlog").returncode,
                         EXIT_USAGE)
        self.assertIn(b"timeline", pvrr("--help").stdout)

    def test_not_a_log(self):
        bad = self.tmp("bad.pvlog")
        with open(bad, "wb") as f:
            f.write(b"this is not a recording at all" * 10)
        r = pvrr("timeline", bad, "-o", self.tmp("bad.html"))
        self.assertEqual(r.returncode, REPLAY_CORRUPT)
        self.assertIn(bad, text(r.stderr))
        self.assertIn("not a pvlog", text(r.stderr))
        self.assertFalse(os.path.exists(self.tmp("bad.html")))
        r = pvrr("timeline", self.tmp("missing.pvlog"))
        self.assertEqual(r.returncode, EXIT_ERROR)
        self.assertIn("missing.pvlog", text(r.stderr))

    def test_network_check_can_fail(self):
        """The request log sees a page that does reach out (the test's own control)."""
        find_chromium()
        page = self.tmp("reaches-out.html")
        with open(page, "w") as f:
            f.write("<!DOCTYPE html><img src='http://pvrr-test.invalid/x.png'>"
                    "<script>document.body.dataset.ready='1'</script>")
        b = Chromium()
        try:
            b.open(url(page))
            b.pump(0.5)
            self.assertIn("http://pvrr-test.invalid/x.png", b.requests())
        finally:
            b.close()


if __name__ == "__main__":
    main()
