#!/usr/bin/env bash
# Formats grove's tracked C++ files (*.cpp, *.hpp, *.h) with clang-format 14 and the
# repository's .clang-format, or with --check changes nothing and lists the files that
# differ (exit 1 if any does).
# Usage: scripts/format.sh [--check] [file ...]   (default: every tracked C++ file)
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
format=$(command -v clang-format-14 || true)
if [ -z "$format" ]; then
  echo "format.sh: clang-format-14 was not found. Install it with:" >&2
  echo "  sudo apt-get install -y clang-format-14" >&2
  exit 2
fi

files=("$@")
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h')
if [ "$check" -eq 0 ]; then
  printf '%s\0' "${files[@]}" | xargs -0 -n 32 "$format" -i --style=file
  exit 0
fi
differ=0
for f in "${files[@]}"; do
  if ! "$format" --style=file "$f" | cmp -s - "$f"; then
    echo "$f"
    differ=1
  fi
done
if [ "$differ" -ne 0 ]; then
  echo "format.sh: the files above are not formatted; scripts/format.sh formats them" >&2
fi
exit "$differ"
