#!/usr/bin/env bash
# The project's two entry points on a fresh Debian 12 machine with the .NET 10 SDK:
#   ./build.sh demo   restore, build, and run the main job (the Fashion-MNIST demo)
#   ./build.sh test   restore, build, and run every test project; the last line is "N passed, N failed"
#   ./build.sh test-fast   the same without the tests tagged [Trait("Category", "Slow")] (real processes,
#                          PostgreSQL, browsers, whole jobs end to end): the quick check while developing
# Both install what is missing (Debian packages) first and are safe to rerun.
set -euo pipefail
cd "$(dirname "$0")"

configuration=${CONFIGURATION:-Release}
results_dir=artifacts/test-results

say() { printf '%s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "Installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq || say "apt-get update failed; trying the install with the current package lists."
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_prerequisites() {
  command -v dotnet >/dev/null || { say "The .NET 10 SDK is missing: install it first (dotnet on PATH)."; exit 2; }
  # Fashion-MNIST for the demo and the data tests; PostgreSQL's server programs for the journal tests (each test run
  # starts its own throwaway server, nothing runs at boot); chromium for the dashboard's browser tests (Playwright
  # drives it headless; its own browser download does not work offline); jemalloc, which evolq preloads for libtorch
  # (NativeEnvironment).
  apt_install dataset-fashion-mnist postgresql chromium libjemalloc2
}

build() {
  dotnet build EvolQ.Cluster.sln -c "$configuration" -nologo -v quiet -clp:ErrorsOnly
}

evolq() {
  "src/EvolQ.Cli/bin/$configuration/net10.0/linux-x64/evolq" "$@"
}

# run_tests PROJECTS [FILTER]: every test, or those FILTER (dotnet test's --filter syntax) selects; PROJECTS test
# projects at a time.
run_tests() {
  rm -rf "$results_dir"
  local status=0
  local projects=$1
  local filter=()
  [ $# -gt 1 ] && filter=(--filter "$2")
  dotnet test EvolQ.Cluster.sln -c "$configuration" --no-build -nologo -m:"$projects" "${filter[@]}" \
    --logger "trx" --results-directory "$results_dir" || status=$?
  local passed=0 failed=0
  for trx in "$results_dir"/*.trx; do
    [ -e "$trx" ] || continue
    local counters
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    passed=$((passed + $(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")))
    failed=$((failed + $(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")))
  done
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    say "dotnet test exited with $status without a failed test (a crashed or missing test host); counting it as a failure."
    failed=1
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

case "${1:-}" in
  demo)
    ensure_prerequisites
    build
    evolq demo "${@:2}"
    ;;
  test)
    ensure_prerequisites
    build
    # One test project at a time: the slow tests' clusters of real processes time their failures and dislike
    # sharing 2 cores with another project's tests.
    run_tests 1
    ;;
  test-fast)
    ensure_prerequisites
    build
    # Three test projects at a time: the fast in-process cluster tests mostly wait on timers, so the CPU-bound model
    # tests run beside them (2 cores, idle, 2026-12-04: 1 min 16 s with the up-to-date build; one at a time 2 min 19 s
    # for the tests alone).
    run_tests 3 "Category!=Slow"
    ;;
  build)
    build
    ;;
  *)
    say "usage: ./build.sh demo|test|test-fast|build"
    exit 2
    ;;
esac
