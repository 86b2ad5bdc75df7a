#!/usr/bin/env bash
# Installs what pvrr needs to build and test on Debian 12 (bookworm).
# Run as root or with sudo available. Safe to run again.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config           # toolchain
  libelf-dev libdwarf-dev libzstd-dev         # ELF loading, DWARF symbols, compression
  libxxhash-dev libjson-c-dev libcunit1-dev   # digests, `pvrr dump --json` and `pvrr dap`, unit tests
  libunicorn-dev libcapstone-dev              # the emulator engine; capstone also for `pvrr dap` disassemble
  python3 gdb lldb                            # integration tests drive real debuggers
  clang libclang-rt-14-dev clang-format       # sanitizer and fuzzing builds, formatting
  zstd
  busybox-static libsqlite3-dev               # real static programs for the Linux personality tests
  chromium                                    # test_timeline opens pages in headless Chromium
  qemu-system-x86                             # tools/with-kvm (with busybox-static; it apt-get downloads the kernel)
)
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "pvrr: build dependencies installed"
