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

# Targets tagged "nodes" run across simulated nodes (tools/cluster.sh),
# which need root and network namespaces: where this machine cannot make
# them, they are skipped, said so, and counted as skipped.
skipped=0
if ! why_not=$(tools/cluster.sh check 2>&1); then
  filter=-nodes
  tests="tests(set(${targets[*]}))"
  query="attr(tags, '\bnodes\b', $tests)"
  for i in "${!flags[@]}"; do  # joined to a --test_tag_filters given
    if [[ "${flags[$i]}" == --test_tag_filters=* ]]; then
      filter="${flags[$i]#--test_tag_filters=},-nodes"
      unset "flags[$i]"
    fi
  done
  # Counted as skipped: the node targets the given filter would have run.
  for tag in ${filter//,/ }; do
    [[ "$tag" == -* && "$tag" != -nodes ]] && query+=" except attr(tags, '\b${tag#-}\b', $tests)"
  done
  skipped=$(bazel query "$query" 2>/dev/null | grep -c '^//')
  echo "run_tests: skipping $skipped targets across simulated nodes: ${why_not#cluster.sh: }"
  flags+=("--test_tag_filters=$filter")
fi

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
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
