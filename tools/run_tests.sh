#!/usr/bin/env bash
# Runs every Bazel test target (the README's test command) and ends with one
# line "N passed, M failed" counting the targets that ran. Extra arguments go
# to `bazel test` (e.g. --config=asan, or a narrower target pattern after --).
#   usage: tools/run_tests.sh [BAZEL_TEST_FLAGS...] [-- TARGETS...]
set -uo pipefail
cd "$(dirname "$0")/.."

flags=() targets=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; targets=("$@"); break; fi
  flags+=("$1"); shift
done
[ ${#targets[@]} -gt 0 ] || targets=(//...)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Results are not taken from the cache: every counted target really ran.
bazel test --nocache_test_results "${flags[@]}" -- "${targets[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Bazel's per-target summary lines: "//pkg:target   PASSED in 1.2s".
passed=$(grep -cE '^//[^ ]+ +PASSED' "$log")
failed=$(grep -cE '^//[^ ]+ +(FAILED|TIMEOUT|FLAKY|INCOMPLETE|NO STATUS)' "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1  # the build itself failed, or Bazel stopped before testing
  echo "run_tests: bazel test exited with $status before any test failed"
fi
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
