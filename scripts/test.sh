#!/usr/bin/env bash
# The one test command: installs the Debian packages, builds, and runs every test through ctest:
#   1. release build: unit, integration (real TAP, kernel peer) and end-to-end (daemon, gRPC,
#      Prometheus) tests;
#   2. ASan + UBSan build of the unit and integration tests;
#   3. libFuzzer build, a short bounded run of each fuzz target.
# Run as root on Debian bookworm (network namespaces and TAP devices need it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# Namespaces left by a run that was killed before its own cleanup (tests delete theirs).
for ns in $(ip netns list | awk '/^tapstack-(it|e2e|bench)-/{print $1}'); do ip netns delete "$ns"; done

jobs=${JOBS:-2}
summary=()
run_suite() {  # name, build dir, cmake flags...
  local name=$1 dir=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  local log
  log=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure --timeout 900 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  summary+=("$name: $(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" || echo 'no summary')")
  rm -f "$log"
  return "$rc"
}

status=0
run_suite release build -DCMAKE_BUILD_TYPE=RelWithDebInfo || status=1
run_suite sanitizers build-asan -DCMAKE_BUILD_TYPE=Debug -DTAPSTACK_SANITIZE=ON \
  -DTAPSTACK_SERVER=OFF -DTAPSTACK_BENCH=OFF || status=1
CC=clang CXX=clang++ run_suite fuzz build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTAPSTACK_FUZZ=ON -DTAPSTACK_SERVER=OFF -DTAPSTACK_BENCH=OFF || status=1

echo
printf '%s\n' "${summary[@]}"
# One closing line over all suites.
passed=0
failed=0
for line in "${summary[@]}"; do
  if [[ $line =~ ([0-9]+)%\ tests\ passed,\ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    failed=$((failed + BASH_REMATCH[2]))
    passed=$((passed + BASH_REMATCH[3] - BASH_REMATCH[2]))
  else
    status=1
  fi
done
echo "tests: $passed passed, $failed failed"
exit "$status"
