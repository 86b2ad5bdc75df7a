"""A headless Debian Chromium driven through the DevTools protocol, standard library only.

Chromium runs with --remote-debugging-pipe: commands go in on its fd 3 and replies and
events come out on its fd 4, as JSON messages ended by a NUL byte (no WebSocket needed).
Every network request the page makes is recorded (Network.requestWillBeSent), and the
browser is pointed at a proxy on a closed port so that no request can leave the machine.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import unittest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         # nothing may leave the machine even if the page tried: a closed proxy port
         "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]


def find_chromium():
    """The chromium binary, or raise SkipTest naming what to install."""
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    raise unittest.SkipTest("SKIPPED: chromium is not installed (apt-get install chromium; "
                            "tools/install-deps.sh installs it)")


class Chromium:
    def __init__(self, width=1400, height=800, timeout=30):
        self.bin = find_chromium()
        self.profile = tempfile.mkdtemp(prefix="pvrr-chromium-")
        self.timeout = timeout
        cmd_r, self.cmd_w = os.pipe()   # we write commands, chromium reads fd 3
        self.out_r, out_w = os.pipe()   # chromium writes fd 4, we read
        self.stderr = open(os.path.join(self.profile, "stderr.txt"), "wb")

        def child_fds():
            # via fresh copies: dup2 onto the same number would keep close-on-exec
            a, b = os.dup(cmd_r), os.dup(out_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [self.bin, *FLAGS, "--user-data-dir=" + self.profile, "--remote-debugging-pipe",
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
            preexec_fn=child_fds, close_fds=False)  # dup2 leaves 3 and 4 inheritable
        os.close(cmd_r)
        os.close(out_w)
        self.buf = b""
        self.next_id = 1
        self.events = []
        self.session = None
        self.width, self.height = width, height

    # ---- protocol ----
    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("chromium did not answer in time")
            r, _, _ = select.select([self.out_r], [], [], left)
            if r:
                chunk = os.read(self.out_r, 1 << 20)
                if not chunk:
                    raise AssertionError("chromium exited: " + self.log_tail())
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=None):
        mid = self.next_id
        self.next_id += 1
        m = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            m["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(m).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            r = self._read_message(deadline)
            if r.get("id") == mid:
                if "error" in r:
                    raise AssertionError("%s failed: %s" % (method, r["error"]))
                return r.get("result", {})
            self.events.append(r)

    def pump(self, seconds):
        """Collect events for (seconds)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except AssertionError:
            if self.proc.poll() is not None:
                raise

    def log_tail(self):
        self.stderr.flush()
        with open(self.stderr.name, "rb") as f:
            return f.read()[-2000:].decode("utf-8", "replace")

    # ---- pages ----
    def open(self, url, ready="document.body && document.body.dataset.ready === '1'",
             timeout=None):
        """Open (url) in a new tab and wait until the (ready) expression is true.
        Returns seconds from navigation to ready."""
        tid = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": tid, "flatten": True},
                                 session=False)["sessionId"]
        for dom in ("Network", "Page", "Runtime", "Log"):
            self.call(dom + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                   "mobile": False})
        self.events = []
        t0 = time.monotonic()
        self.call("Page.navigate", {"url": url})
        deadline = t0 + (timeout or self.timeout)
        while time.monotonic() < deadline:
            if self.eval(ready):
                return time.monotonic() - t0
            time.sleep(0.05)
        raise AssertionError("the page did not get ready: %s; exceptions: %s" %
                             (url, self.exceptions()))

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise AssertionError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def mouse(self, kind, x, y, button="none", buttons=0, clicks=0, dy=0):
        p = {"type": kind, "x": x, "y": y, "button": button, "buttons": buttons,
             "clickCount": clicks}
        if kind == "mouseWheel":
            p.update({"deltaX": 0, "deltaY": dy})
        self.call("Input.dispatchMouseEvent", p)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def requests(self):
        """URLs of every request the pages asked for, in order."""
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def exceptions(self):
        return [e["params"]["exceptionDetails"] for e in self.events
                if e.get("method") == "Runtime.exceptionThrown"]

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.call("Browser.close", session=False, timeout=5)
                except AssertionError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            os.close(self.cmd_w)
            os.close(self.out_r)
            self.stderr.close()
            shutil.rmtree(self.profile, ignore_errors=True)
