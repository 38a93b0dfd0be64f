#!/usr/bin/env bash
# Runs the whole test suite under a sanitizer: tools/sanitize.sh asan|ubsan|tsan [TARGETS...]
# Each configuration gets its own Bazel output base (~/.cache/braid-<config>), so switching
# between them, or back to the normal build, never rebuilds everything; --symlink_prefix=/
# leaves the workspace's bazel-* links pointing at the normal build.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="${1:?usage: tools/sanitize.sh asan|ubsan|tsan [TARGETS...]}"
shift
case "$config" in
  asan|ubsan|tsan) ;;
  *) echo "tools/sanitize.sh: unknown configuration '$config' (expected asan, ubsan or tsan)" >&2; exit 1 ;;
esac
[[ $# -eq 0 ]] && set -- //...
"$repo/tools/setup.sh"
cd "$repo"
# Sanitized code runs several times slower: allow the large tests up to an hour.
exec bazel --output_base="$HOME/.cache/braid-$config" test --config="$config" --symlink_prefix=/ \
  --test_timeout=300,900,3600,3600 "$@"
