#!/usr/bin/env bash
# Install what vodfarm needs on Debian 12 that is not there yet: FFmpeg 5.1 libraries
# and tools, clang (bindgen), meson/ninja/nasm/xxd (libvmaf-sys builds libvmaf from its
# bundled source), openssl (the https webhook test's private CA), Chromium and Node.js
# for the real-player tests.
set -euo pipefail
need=()
for p in libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev \
         libavfilter-dev libavdevice-dev pkg-config clang libclang-dev ffmpeg \
         meson ninja-build nasm xxd openssl; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${VODFARM_PLAYERS:-1}" = 1 ]; then
  dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
  # Node.js: keep the machine's own if it has one.
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi
