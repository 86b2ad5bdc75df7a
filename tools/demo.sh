#!/usr/bin/env bash
# The pvrr demo: record the flagship failing guest (kvstore) until a run fails,
# replay the recording exactly, then show the gdb session that finds the bug by
# going backwards. Usage: tools/demo.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
pvrr="$build/tools/pvrr"
guest="$build/guests/kvstore.elf"
out=${PVRR_DEMO_DIR:-demo-out}
mkdir -p "$out"
log="$out/kvstore.pvlog"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ -x "$pvrr" ] || { echo "demo: $pvrr not found: build first (see README.md)" >&2; exit 2; }
# pvrr picks its execution engine (auto: KVM where /dev/kvm works, else its own
# software CPU) and says which in one line: show it once, stop if nothing can run.
if ! probe=$("$pvrr" run "$build/guests/hello.elf" 2>&1 >/dev/null); then
    echo "demo: pvrr cannot start a guest on this machine:" >&2
    echo "$probe" >&2
    exit 125
fi
if [ -n "$probe" ]; then
    echo "demo: ${probe#pvrr: }"
    # the rest of the demo on the same engine, without repeating the line
    chosen=$(printf '%s' "$probe" | sed -n 's/^pvrr: \([a-z]*\) backend (auto.*/\1/p' | head -1)
    [ -n "$chosen" ] && export PVRR_BACKEND="$chosen"
fi

step "1. Record kvstore until a run fails (it corrupts its table in about one run in four)"
echo "\$ $pvrr record --until-fail 50 -o $log $guest"
rm -f "$log"
status=0
"$pvrr" record --until-fail 50 -o "$log" "$guest" || status=$?
if [ ! -f "$log" ]; then
    if [ "$status" -eq 1 ]; then
        echo "demo: no failing run in 50 runs (it fails about one run in four): run the demo again" >&2
    else
        echo "demo: pvrr record failed (exit status $status), see above" >&2
    fi
    exit "$status"
fi

step "2. What the recording holds"
"$pvrr" info "$log"

step "3. Replay it: same output, same failure, no randomness, no waiting"
echo "\$ $pvrr replay $log"
"$pvrr" replay "$log" || echo "(exit status $? as recorded)"
echo "\$ $pvrr replay --check $log   # regression mode: silent, exit 0 when identical"
"$pvrr" replay --check "$log" && echo "identical"

watch=$( ("$pvrr" replay "$log" 2>/dev/null || true) | sed -n "s/.*(watch -l \([^)]*\)).*/\1/p" | head -1)
step "4. Debug it backwards with gdb"
cat <<MSG
In one terminal:
  $pvrr replay --gdb 127.0.0.1:1234 $log
In another (the replay writes the guest's ELF beside the log for gdb's symbols):
  gdb $log.elf -ex 'target remote 127.0.0.1:1234'
  (gdb) continue                          # run to the panic (the end of the recording)
  (gdb) watch -l $watch
  (gdb) reverse-continue                  # back to the write that corrupted it
  (gdb) bt

Here is that session, run by this script:
MSG
port=$((20000 + RANDOM % 20000))
"$pvrr" replay --gdb 127.0.0.1:$port "$log" >/dev/null 2>"$out/replay.err" &
pid=$!
for _ in $(seq 50); do grep -q "target remote" "$out/replay.err" 2>/dev/null && break; sleep 0.1; done
gdb -q -nx -batch -ex "target remote 127.0.0.1:$port" -ex continue -ex "watch -l $watch" \
    -ex reverse-continue -ex "bt 3" -ex "list" -ex kill "$log.elf" 2>&1 |
    grep -v '^warning: \|^Kill the program\|^\[Inferior' || true
wait $pid 2>/dev/null || true
echo
echo "The line above marked 'BUG' is the off-by-one that overwrote store.entries[].value."
