#!/usr/bin/env bash
# Assembles bench/RESULTS.md from the per-layer result pages in bench/results/.
set -euo pipefail
cd "$(dirname "$0")"
{
  echo "# grove benchmark results"
  echo
  echo "Each section is produced by the command it names, with grove and its anchor measured"
  echo "side by side in the same run on the same machine. Ratios are grove / anchor for times"
  echo "(lower is better) unless a row says otherwise. Regenerate this page with"
  echo "\`bench/collect_results.sh\` after re-running a section's command."
  for layer in loop aio green compat db_compat db http tls ws io_uring syscalls web web_files stop soak tasks ops deploy; do
    [ -f "results/$layer.md" ] || continue
    echo
    # Demote the page's headings by one level so they nest under this page's title.
    sed 's/^#/##/' "results/$layer.md"
  done
} > RESULTS.md
echo "wrote bench/RESULTS.md"
