"""gdb Python script: the reverse-execution oracle (run by test_reverse.py).

Steps forward N instructions across a hypercall recording every register,
reverse-steps N times comparing at each step, checks that all guest memory
and registers are bit-identical afterwards (monitor digest), then puts
breakpoints on the stepped pcs and checks that continue and reverse-continue
stop at exactly the recorded sequence, and that reverse-continue from the end
of the recording lands on the last hit of any of them.
"""
import os

import gdb

N = int(os.environ.get("ORACLE_STEPS", "60"))
PORT = int(os.environ["ORACLE_PORT"])
REGS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
        "r12", "r13", "r14", "r15", "rip", "eflags"]


def ex(c):
    return gdb.execute(c, to_string=True)


def snap():
    return tuple(int(gdb.parse_and_eval("$" + r)) & 0xFFFFFFFFFFFFFFFF for r in REGS)


def pc():
    return int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF


def fail(msg):
    print("ORACLE FAIL: " + msg)
    gdb.execute("kill")
    gdb.execute("quit 1")


ex("set pagination off")
ex("set confirm off")
ex("target remote 127.0.0.1:%d" % PORT)
# start a few instructions before the random hypercall, so the steps cross it
ex("break pvrr_random")
ex("continue")
ex("continue")
ex("delete")
digest0 = ex("monitor digest")
when0 = ex("monitor when")
states = [snap()]
for i in range(N):
    ex("stepi")
    states.append(snap())
if len({s[16] for s in states}) < 10:
    fail("stepping did not move: %s" % [hex(s[16]) for s in states])
for i in range(N, 0, -1):
    ex("reverse-stepi")
    got = snap()
    if got != states[i - 1]:
        diff = [(REGS[j], hex(got[j]), hex(states[i - 1][j])) for j in range(len(REGS))
                if got[j] != states[i - 1][j]]
        fail("after reverse-stepi to step %d: registers differ %s" % (i - 1, diff))
digest1 = ex("monitor digest")
if digest0 != digest1:
    fail("memory+registers differ after %d stepi and %d reverse-stepi: %s vs %s" %
         (N, N, digest0, digest1))
print("ORACLE: %d reverse-stepi matched, digest identical (%s)" % (N, digest1.strip()))

pcs = [s[16] for s in states[1:]]
for a in sorted(set(pcs)):
    ex("break *0x%x" % a)
for i in range(N):
    ex("continue")
    if pc() != pcs[i]:
        fail("forward continue %d stopped at 0x%x, expected 0x%x" % (i, pc(), pcs[i]))
for i in range(N - 2, -1, -1):
    ex("reverse-continue")
    if pc() != pcs[i]:
        fail("reverse-continue to hit %d stopped at 0x%x, expected 0x%x" % (i, pc(), pcs[i]))
print("ORACLE: continue and reverse-continue followed the %d recorded pcs" % N)

def at_end():
    return "end of the recording" in ex("monitor when")


ex("disable")
ex("continue")
if not at_end():
    fail("continue did not reach the end of the recording: " + ex("monitor when"))
ex("enable")
ex("reverse-continue")
last = pc()
if last not in set(pcs):
    fail("reverse-continue from the end stopped at 0x%x, not a breakpoint" % last)
ex("continue")
if not at_end():
    fail("a breakpoint was hit after the one reverse-continue chose, at 0x%x" % pc())
print("ORACLE: reverse-continue from the end landed on the last hit at 0x%x" % last)
print("ORACLE PASS")
gdb.execute("kill")
