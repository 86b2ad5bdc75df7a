"""A scripted Debug Adapter Protocol client that talks to `pvrr dap` the way VS Code does
(Content-Length framing, increasing seq, responses matched by request_seq, events in
between), and a validator that checks every message against the DAP specification
(https://microsoft.github.io/debug-adapter-protocol/specification), field by field, for
the messages pvrr sends. Written for pvrr's tests; the spec's JSON schema is not shipped.
"""
import json
import os
import select
import socket
import subprocess
import time

# ---- validation against the specification ----

INT, STR, BOOL, OBJ, ARR = "int", "str", "bool", "obj", "arr"


class SpecError(AssertionError):
    pass


def _typeok(v, t):
    if t == INT:
        return isinstance(v, int) and not isinstance(v, bool)
    if t == STR:
        return isinstance(v, str)
    if t == BOOL:
        return isinstance(v, bool)
    if t == OBJ:
        return isinstance(v, dict)
    if t == ARR:
        return isinstance(v, list)
    if isinstance(t, tuple):  # an enumeration of strings
        return v in t
    if callable(t):
        t(v)
        return True
    raise ValueError(t)


def fields(where, obj, required=(), optional=()):
    """Check obj: every (name, type) of required present with its type, optional ones typed."""
    if not isinstance(obj, dict):
        raise SpecError("%s: not an object: %r" % (where, obj))
    for name, t in required:
        if name not in obj:
            raise SpecError("%s: missing required field %r in %r" % (where, name, obj))
        if not _typeok(obj[name], t):
            raise SpecError("%s.%s: %r is not %s" % (where, name, obj[name], t))
    for name, t in optional:
        if name in obj and not _typeok(obj[name], t):
            raise SpecError("%s.%s: %r is not %s" % (where, name, obj[name], t))


def array_of(check):
    def f(v):
        if not isinstance(v, list):
            raise SpecError("not an array: %r" % (v,))
        for i, x in enumerate(v):
            check(x)
    return f


def source(v):
    fields("Source", v, optional=[("name", STR), ("path", STR), ("sourceReference", INT),
                                  ("presentationHint", ("normal", "emphasize", "deemphasize")),
                                  ("origin", STR)])


def breakpoint_(v):
    fields("Breakpoint", v, required=[("verified", BOOL)],
           optional=[("id", INT), ("message", STR), ("source", source), ("line", INT),
                     ("column", INT), ("endLine", INT), ("endColumn", INT),
                     ("instructionReference", STR), ("offset", INT)])


def stack_frame(v):
    fields("StackFrame", v, required=[("id", INT), ("name", STR), ("line", INT), ("column", INT)],
           optional=[("source", source), ("endLine", INT), ("endColumn", INT),
                     ("canRestart", BOOL), ("instructionPointerReference", STR),
                     ("presentationHint", ("normal", "label", "subtle"))])


def scope(v):
    fields("Scope", v, required=[("name", STR), ("variablesReference", INT), ("expensive", BOOL)],
           optional=[("presentationHint", STR), ("namedVariables", INT), ("indexedVariables", INT),
                     ("source", source), ("line", INT)])


def variable(v):
    fields("Variable", v, required=[("name", STR), ("value", STR), ("variablesReference", INT)],
           optional=[("type", STR), ("evaluateName", STR), ("namedVariables", INT),
                     ("indexedVariables", INT), ("memoryReference", STR),
                     ("presentationHint", OBJ)])


def thread(v):
    fields("Thread", v, required=[("id", INT), ("name", STR)])


def filt(v):
    fields("ExceptionBreakpointsFilter", v, required=[("filter", STR), ("label", STR)])


def instruction(v):
    fields("DisassembledInstruction", v, required=[("address", STR), ("instruction", STR)],
           optional=[("instructionBytes", STR), ("symbol", STR), ("location", source),
                     ("line", INT), ("column", INT), ("endLine", INT), ("endColumn", INT),
                     ("presentationHint", ("normal", "invalid"))])


CAPABILITIES = [(n, BOOL) for n in (
    "supportsConfigurationDoneRequest", "supportsFunctionBreakpoints",
    "supportsConditionalBreakpoints", "supportsHitConditionalBreakpoints",
    "supportsEvaluateForHovers", "supportsStepBack", "supportsSetVariable",
    "supportsRestartFrame", "supportsGotoTargetsRequest", "supportsStepInTargetsRequest",
    "supportsCompletionsRequest", "supportsModulesRequest", "supportsRestartRequest",
    "supportsExceptionOptions", "supportsValueFormattingOptions",
    "supportsExceptionInfoRequest", "supportTerminateDebuggee", "supportSuspendDebuggee",
    "supportsDelayedStackTraceLoading", "supportsLoadedSourcesRequest", "supportsLogPoints",
    "supportsTerminateThreadsRequest", "supportsSetExpression", "supportsTerminateRequest",
    "supportsDataBreakpoints", "supportsReadMemoryRequest", "supportsWriteMemoryRequest",
    "supportsDisassembleRequest", "supportsCancelRequest", "supportsBreakpointLocationsRequest",
    "supportsClipboardContext", "supportsSteppingGranularity",
    "supportsInstructionBreakpoints", "supportsExceptionFilterOptions",
    "supportsSingleThreadExecutionRequests")] + [("exceptionBreakpointFilters", array_of(filt))]


def capabilities(v):
    fields("Capabilities", v, optional=CAPABILITIES)


RESPONSE_BODIES = {
    "initialize": (False, lambda b: capabilities(b)),
    "setBreakpoints": (True, lambda b: fields("body", b, [("breakpoints", array_of(breakpoint_))])),
    "setFunctionBreakpoints": (True, lambda b: fields("body", b,
                                                      [("breakpoints", array_of(breakpoint_))])),
    "setDataBreakpoints": (True, lambda b: fields("body", b,
                                                  [("breakpoints", array_of(breakpoint_))])),
    "setExceptionBreakpoints": (False, lambda b: fields("body", b, optional=[
        ("breakpoints", array_of(breakpoint_))])),
    "dataBreakpointInfo": (True, lambda b: (
        fields("body", b, [("description", STR)],
               optional=[("accessTypes", array_of(lambda x: _enum(x, ("read", "write",
                                                                      "readWrite")))),
                         ("canPersist", BOOL)]),
        _null_or_str(b, "dataId"))),
    "continue": (True, lambda b: fields("body", b, optional=[("allThreadsContinued", BOOL)])),
    "threads": (True, lambda b: fields("body", b, [("threads", array_of(thread))])),
    "stackTrace": (True, lambda b: fields("body", b, [("stackFrames", array_of(stack_frame))],
                                          optional=[("totalFrames", INT)])),
    "scopes": (True, lambda b: fields("body", b, [("scopes", array_of(scope))])),
    "variables": (True, lambda b: fields("body", b, [("variables", array_of(variable))])),
    "evaluate": (True, lambda b: fields("body", b, [("result", STR), ("variablesReference", INT)],
                                        optional=[("type", STR), ("namedVariables", INT),
                                                  ("indexedVariables", INT),
                                                  ("memoryReference", STR),
                                                  ("presentationHint", OBJ)])),
    "readMemory": (False, lambda b: fields("body", b, [("address", STR)],
                                           optional=[("unreadableBytes", INT), ("data", STR)])),
    "disassemble": (False, lambda b: fields("body", b,
                                            [("instructions", array_of(instruction))])),
}


def _enum(v, vals):
    if v not in vals:
        raise SpecError("%r not one of %r" % (v, vals))


def _null_or_str(b, key):
    if key not in b or not (b[key] is None or isinstance(b[key], str)):
        raise SpecError("body.%s must be a string or null: %r" % (key, b.get(key)))


def stopped_body(b):
    fields("StoppedEvent.body", b, [("reason", STR)],
           optional=[("description", STR), ("threadId", INT), ("preserveFocusHint", BOOL),
                     ("text", STR), ("allThreadsStopped", BOOL),
                     ("hitBreakpointIds", array_of(lambda x: _typeok(x, INT) or
                                                   _raise("hitBreakpointIds: %r" % x)))])


def _raise(msg):
    raise SpecError(msg)


EVENT_BODIES = {
    "initialized": (False, None),
    "stopped": (True, stopped_body),
    "continued": (True, lambda b: fields("body", b, [("threadId", INT)],
                                         optional=[("allThreadsContinued", BOOL)])),
    "exited": (True, lambda b: fields("body", b, [("exitCode", INT)])),
    "terminated": (False, lambda b: fields("body", b, optional=[("restart", lambda x: True)])),
    "output": (True, lambda b: fields("body", b, [("output", STR)],
                                      optional=[("category", STR), ("group", STR),
                                                ("variablesReference", INT), ("source", source),
                                                ("line", INT), ("column", INT)])),
    "capabilities": (True, lambda b: fields("body", b, [("capabilities", capabilities)])),
    "progressStart": (True, lambda b: fields("body", b, [("progressId", STR), ("title", STR)],
                                             optional=[("requestId", INT), ("cancellable", BOOL),
                                                       ("message", STR), ("percentage", INT)])),
    "progressUpdate": (True, lambda b: fields("body", b, [("progressId", STR)],
                                              optional=[("message", STR), ("percentage", INT)])),
    "progressEnd": (True, lambda b: fields("body", b, [("progressId", STR)],
                                           optional=[("message", STR)])),
    "breakpoint": (True, lambda b: fields("body", b, [("reason", STR),
                                                      ("breakpoint", breakpoint_)])),
}


def validate(msg, command=None):
    """Check one message from the adapter; (command) is the request a response answers."""
    fields("ProtocolMessage", msg, [("seq", INT), ("type", ("request", "response", "event"))])
    if msg["type"] == "event":
        fields("Event", msg, [("event", STR)], optional=[("body", OBJ)])
        ev = msg["event"]
        if ev not in EVENT_BODIES:
            raise SpecError("event %r is not one pvrr is known to send" % ev)
        need, check = EVENT_BODIES[ev]
        if need and "body" not in msg:
            raise SpecError("event %r needs a body" % ev)
        if check and "body" in msg:
            check(msg["body"])
        return
    if msg["type"] != "response":
        raise SpecError("the adapter sent a request: %r" % msg)
    fields("Response", msg, [("request_seq", INT), ("success", BOOL), ("command", STR)],
           optional=[("message", STR), ("body", lambda b: True)])
    if command is not None and msg["command"] != command:
        raise SpecError("response to %r says command %r" % (command, msg["command"]))
    if not msg["success"]:
        if "message" not in msg:
            raise SpecError("an error response without a message: %r" % msg)
        if "body" in msg:
            fields("ErrorResponse.body", msg["body"], optional=[("error", lambda e: fields(
                "Message", e, [("id", INT), ("format", STR)],
                optional=[("variables", OBJ), ("sendTelemetry", BOOL), ("showUser", BOOL),
                          ("url", STR), ("urlLabel", STR)]))])
        return
    if msg["command"] in RESPONSE_BODIES:
        need, check = RESPONSE_BODIES[msg["command"]]
        if need and "body" not in msg:
            raise SpecError("response to %r needs a body" % msg["command"])
        if "body" in msg:
            check(msg["body"])


# ---- the client ----

class DapClient:
    """Speaks DAP to a `pvrr dap` process (stdio) or to a TCP port."""

    def __init__(self, pvrr=None, port=None, env=None, timeout=300, args=()):
        self.timeout = timeout
        self.seq = 0
        self.events = []      # every event received, in order
        self.log = []         # every message received, validated
        self.buf = b""
        self.proc = None
        self.sock = None
        if port is None:
            self.proc = subprocess.Popen([pvrr, "dap", *args], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=env)
            self.rfd = self.proc.stdout.fileno()
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            self.rfd = self.sock.fileno()

    def write_raw(self, data):
        if self.sock:
            self.sock.sendall(data)
        else:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, command, arguments=None):
        self.seq += 1
        msg = {"seq": self.seq, "type": "request", "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        body = json.dumps(msg).encode()
        self.write_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _read_more(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            raise AssertionError("no message from pvrr dap within %d s" % self.timeout)
        r, _, _ = select.select([self.rfd], [], [], left)
        if not r:
            raise AssertionError("no message from pvrr dap within %d s" % self.timeout)
        data = os.read(self.rfd, 65536)
        if not data:
            raise EOFError("pvrr dap closed the connection")
        self.buf += data

    def recv(self, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            self._read_more(deadline)
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        length = None
        for line in head.split(b"\r\n"):
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        assert length is not None, "message without Content-Length: %r" % head
        self.buf = rest
        while len(self.buf) < length:
            self._read_more(deadline)
        body, self.buf = self.buf[:length], self.buf[length:]
        msg = json.loads(body.decode("utf-8"))
        self.log.append(msg)
        return msg

    def request(self, command, arguments=None, expect_success=True):
        """Send a request and wait for its response (events are kept); validate all."""
        s = self.send(command, arguments)
        while True:
            msg = self.recv()
            if msg["type"] == "event":
                validate(msg)
                self.events.append(msg)
                continue
            validate(msg, None)
            assert msg["type"] == "response" and msg["request_seq"] == s, \
                "expected the response to %s (seq %d), got %r" % (command, s, msg)
            validate(msg, command)
            if expect_success is not None:
                assert msg["success"] == expect_success, \
                    "%s: success=%r: %r" % (command, msg["success"], msg)
            return msg

    def wait_event(self, name, since=0):
        """The first event (name) at or after index (since) of self.events, waiting for it."""
        i = since
        while True:
            while i < len(self.events):
                if self.events[i]["event"] == name:
                    return self.events[i]
                i += 1
            msg = self.recv()
            validate(msg)
            if msg["type"] == "response":
                continue  # a response to a request sent without waiting (kept in self.log)
            self.events.append(msg)

    def output(self, category="stdout"):
        return "".join(e["body"]["output"] for e in self.events
                       if e["event"] == "output" and e["body"].get("category") == category)

    def close(self):
        if self.sock:
            self.sock.close()
        if self.proc and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except (OSError, ValueError):
                pass
        if self.proc and not getattr(self, "_finishing", False) and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc and not getattr(self, "_finishing", False):
            for f in (self.proc.stdout, self.proc.stderr):
                if not f.closed:
                    f.close()

    def finish(self, timeout=60):
        """Wait for the adapter process to end; returns (status, stderr)."""
        self._finishing = True
        self.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("pvrr dap did not end after the client left")
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, err.decode("utf-8", "replace")
