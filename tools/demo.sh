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
here=$(cd "$(dirname "$0")" && pwd)
# pvrr needs an execution engine: without a working /dev/kvm, run the whole demo
# inside a QEMU machine that has one (tools/with-kvm), and say so.
if ! probe=$("$pvrr" run "$build/guests/hello.elf" 2>&1 >/dev/null); then
    if [ -z "${PVRR_DEMO_IN_WITH_KVM:-}" ] && [ -x "$here/with-kvm" ]; then
        echo "demo: pvrr cannot start a guest here: ${probe##*pvrr run: }"
        echo "demo: running the demo through tools/with-kvm instead"
        PVRR_DEMO_IN_WITH_KVM=1 exec "$here/with-kvm" "$0" "$@"
    fi
    echo "demo: pvrr cannot start a guest on this machine:" >&2
    echo "$probe" >&2
    echo "demo: run it where /dev/kvm works, or through tools/with-kvm (README.md)" >&2
    exit 125
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
