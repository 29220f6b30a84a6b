#!/usr/bin/env bash
# Installs everything tapstack builds, tests and runs with, from Debian bookworm's packages only.
# Skips apt entirely when all of it is already there (offline rebuilds stay offline).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev                       # libFuzzer and sanitizer runtimes
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  liburing-dev libtins-dev libgtest-dev libgmock-dev prometheus-cpp-dev libbenchmark-dev
  python3 python3-grpcio python3-grpc-tools      # the end-to-end tests' gRPC client
  prometheus                                     # real Prometheus server and promtool
  iproute2 openssl procps curl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
