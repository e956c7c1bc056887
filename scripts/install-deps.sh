#!/usr/bin/env bash
# Installs every Debian package that cfrp's build, tests and benchmarks need.
# Idempotent: when everything is present it prints nothing and touches nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libuv1-dev libssl-dev libjansson-dev libyaml-dev libsnappy-dev
  libhttp-parser-dev libcmocka-dev
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev
  python3 python3-pytest python3-cryptography curl socat openssl
  tinyproxy-bin microsocks
)
# `--bench` adds what bench/ drives: iperf3 for throughput, wrk and nginx for HTTP.
[ "${1:-}" = "--bench" ] && packages+=(iperf3 wrk nginx-light)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
