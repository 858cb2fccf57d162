#!/usr/bin/env bash
#/ Checks every script's --help (scripts/test.sh runs it): each exits 0 and prints its header,
#/ all of it and nothing else: no line of code (`set -…`, `source …`), and the last line of the
#/ header is there (scripts/test.sh --help ends with its last step, which line numbers once cut
#/ off). Needs nothing running.
#/
#/ Usage: tests/help.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" help-test "$@"
checked=0
while read -r script; do
  case "$script" in */lib.sh) continue ;; esac # sourced, never run
  grep -q '^#/' "$script" || continue # a script with a #/ header answers --help
  out="$(bash "$script" --help)" || fail "$script --help exited non-zero"
  [ -n "$out" ] || fail "$script --help printed nothing"
  if grep -nE '^(set -|source |\. )' <<<"$out" >&2; then
    fail "$script --help prints lines of code (above)"
  fi
  last="$(grep '^#/' "$script" | tail -n 1 | sed 's@^#/ \{0,1\}@@')"
  [ "$(tail -n 1 <<<"$out")" = "$last" ] || fail "$script --help does not end with the header's last line: $last"
  checked=$((checked + 1))
done < <(git ls-files '*.sh')
bash scripts/test.sh --help | grep -q "the demo's tests (tests/demo.sh)" ||
  fail "scripts/test.sh --help does not list its last step"
[ "$checked" -ge 15 ] || fail "only $checked scripts have a --help"
pass "--help of $checked scripts prints the whole header and no code"
