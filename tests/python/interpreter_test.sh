#!/usr/bin/env bash
# The module serves Debian's /usr/bin/python3 only: there it imports (and a
# singleton process, started without mpirun, forms a group of one); any other
# interpreter gets an ImportError that says which one to use, not a crash.
# Other interpreters: every pyenv Python found here, and two simulated ones
# (/usr/bin/python3 whose torch is missing, or is not Debian's).
set -uo pipefail
export PYTHONPATH="$PWD/tools/python"
export PYTHONDONTWRITEBYTECODE=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# refused NAME PYTHONPATH_PREFIX PYTHON: import fails with our message, exit 1.
refused() {
  local name=$1 prefix=$2 python=$3 code
  PYTHONPATH="$prefix$PYTHONPATH" "$python" -c "import fastvideo_dist" >"$tmp/out" 2>&1
  code=$?
  echo "== $name: exit $code: $(tail -n 1 "$tmp/out")"
  [ "$code" -eq 1 ] || fail "$name: exit $code, expected 1 (an ImportError, not a crash)"
  grep -q "ImportError: fastvideo_dist serves Debian's /usr/bin/python3" "$tmp/out" ||
    fail "$name: no ImportError naming the interpreter to use"
}

mkdir -p "$tmp/no_torch/torch" "$tmp/other_torch/torch"
echo 'raise ImportError("no torch in this environment")' >"$tmp/no_torch/torch/__init__.py"
echo '__version__ = "2.1.0"' >"$tmp/other_torch/torch/__init__.py"
refused "python3 without torch" "$tmp/no_torch:" /usr/bin/python3
grep -q "cannot import torch" "$tmp/out" || fail "the missing torch is not named"
refused "python3 with another torch" "$tmp/other_torch:" /usr/bin/python3
grep -q "its torch 2.1.0 is not Debian's" "$tmp/out" || fail "the foreign torch is not named"

others=0
for python in /root/.pyenv/versions/*/bin/python3 /usr/local/bin/python3; do
  [ -x "$python" ] || continue
  [ "$(readlink -f "$python")" = "$(readlink -f /usr/bin/python3)" ] && continue
  refused "$python" "" "$python"
  others=$((others + 1))
done
echo "== $others other interpreters found on this machine"

# Debian's interpreter: the import works, and a singleton forms a group of one.
/usr/bin/python3 - >"$tmp/out" 2>&1 <<'PY'
import fastvideo_dist
group = fastvideo_dist.StatelessProcessGroup.from_comm(timeout=60)
assert (group.rank, group.world_size) == (0, 1)
group.send_obj({"to": "myself", "n": (1, 2)}, dst=0)
assert group.recv_obj(src=0) == {"to": "myself", "n": (1, 2)}
assert group.all_gather_obj("only") == ["only"]
group.barrier()
group.close()
print("singleton ok")
PY
code=$?
cat "$tmp/out"
[ "$code" -eq 0 ] && grep -q "singleton ok" "$tmp/out" || fail "/usr/bin/python3: singleton group (exit $code)"

[ "$failed" -eq 0 ] && echo PASS || echo FAILED
exit "$failed"
