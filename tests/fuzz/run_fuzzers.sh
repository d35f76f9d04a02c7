#!/usr/bin/env bash
# Builds the fuzz targets with clang's libFuzzer (+ ASan + UBSan) and fuzzes
# each for a bounded time from its seed corpus. A crash fails the run, and
# its input is written to tests/fuzz/regressions/<target>/, where
# `bazel test //tests/fuzz:all` replays it from then on: commit it with the fix.
#
#   tests/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET]   (default 60)
#   FUZZ_TARGETS="ivalue" tests/fuzz/run_fuzzers.sh  (a subset)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
command -v clang++ >/dev/null || { echo "clang++ is missing: run tools/setup.sh" >&2; exit 1; }

build=$(mktemp -d /tmp/fvfuzz.XXXXXX)
trap 'rm -rf "$build"' EXIT
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-sanitize=vptr  # libtorch does not export the typeinfo of c10::DynamicType
       -I. -isystem /usr/include/torch/csrc/api/include)
absl=(-labsl_statusor -labsl_status -labsl_cord -labsl_cord_internal -labsl_cordz_info
      -labsl_cordz_functions -labsl_cordz_handle -labsl_strings -labsl_strings_internal
      -labsl_str_format_internal -labsl_int128 -labsl_throw_delegate -labsl_raw_logging_internal
      -labsl_base -labsl_spinlock_wait)
torch=(-ltorch -ltorch_cpu -lc10)

declare -A sources=(
  [codec]="dist/codec.cc"
  [torch_codec]="dist/codec.cc dist/torch_codec.cc dist/internal/plain_unpickler.cc dist/internal/ivalue_type_tag.cc"
  [ivalue]="dist/codec.cc dist/torch_codec.cc dist/internal/plain_unpickler.cc dist/internal/ivalue_type_tag.cc"
  [descriptor]="dist/internal/segment_layout.cc dist/internal/hash.cc dist/message_key.cc"
  [inbox]="dist/internal/inbox_record.cc dist/internal/hash.cc"
  [join]="dist/internal/join_wire.cc"
)
declare -A libraries=(
  [codec]="${absl[*]}"
  [torch_codec]="${absl[*]} ${torch[*]}"
  [ivalue]="${absl[*]} ${torch[*]}"
  [descriptor]="${absl[*]}"
  [inbox]="${absl[*]}"
  [join]="${absl[*]}"
)


failed=0
for target in ${FUZZ_TARGETS:-codec descriptor inbox join torch_codec ivalue}; do
  echo "== building ${target}_fuzzer"
  # shellcheck disable=SC2086  # word lists on purpose
  clang++ "${flags[@]}" "tests/fuzz/${target}_fuzzer.cc" ${sources[$target]} \
    -o "$build/$target" ${libraries[$target]}
  mkdir -p "$build/corpus-$target" "tests/fuzz/regressions/$target"
  echo "== fuzzing $target for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=0 "$build/$target" -max_total_time="$seconds" \
      -print_final_stats=1 -artifact_prefix="tests/fuzz/regressions/$target/" \
      "$build/corpus-$target" "tests/fuzz/corpus/$target" 2>"$build/$target.log"; then
    tail -n 40 "$build/$target.log"
    echo "FAIL: $target crashed; the input is in tests/fuzz/regressions/$target/"
    echo "fuzz target failed: $target"
    failed=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/$target.log" |
      sed "s/^/  $target /"
    echo "fuzz target passed: $target"
  fi
done
exit "$failed"
