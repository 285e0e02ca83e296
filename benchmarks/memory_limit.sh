#!/usr/bin/env bash
# Compress a ROOT file larger than the memory a process may use: `baler compress` runs inside a memory
# cgroup (v1 or v2, needs root) limited to LIMIT_MB, and the script prints the peak RSS, the cgroup's peak
# usage and whether the kernel had to kill anything.
#   bash benchmarks/memory_limit.sh FILE.root [LIMIT_MB] [baler compress options...]
# Default options: -m none --error-bound range=1e-3. Example (issue 9): a 1.5 GB-raw, 754 MB-on-disk
# jets ROOT file under a 700 MiB limit.
set -euo pipefail
src=${1:?usage: memory_limit.sh FILE.root [LIMIT_MB] [options]}
limit=${2:-700}
shift $(( $# >= 2 ? 2 : 1 ))
opts=("$@")
[ ${#opts[@]} -gt 0 ] || opts=(-m none --error-bound range=1e-3)
baler=$(command -v baler || echo "$(dirname "$0")/../.venv/bin/baler")
out=$(mktemp -u "${TMPDIR:-/tmp}/baler-memlimit.XXXXXX.baler")
if [ -d /sys/fs/cgroup/memory ]; then  # cgroup v1
    cg=/sys/fs/cgroup/memory/baler-memlimit-$$
    mkdir "$cg"
    echo $((limit * 1048576)) > "$cg/memory.limit_in_bytes"
    peak_file=$cg/memory.max_usage_in_bytes
else  # cgroup v2
    cg=/sys/fs/cgroup/baler-memlimit-$$
    mkdir "$cg"
    echo $((limit * 1048576)) > "$cg/memory.max"
    peak_file=$cg/memory.peak
fi
trap 'rm -f "$out"; rmdir "$cg" 2>/dev/null || true' EXIT
sync
echo "compressing $src ($(du -h "$src" | cut -f1) on disk) with a ${limit} MiB memory limit"
sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$cg" \
    /usr/bin/time -f "peak RSS %M KB, %e s wall" "$baler" compress "$src" -o "$out" "${opts[@]}" \
    | python3 -c "import json,sys; i=json.loads(sys.stdin.read()); print(f\"raw {i['raw_bytes']/1e6:.0f} MB -> {i['file_bytes']/1e6:.1f} MB, ratio {i['ratio_with_decoder']:.2f}\")"
echo "cgroup peak usage $(( $(cat "$peak_file") / 1048576 )) MiB (page cache included) of $limit MiB"
grep -h oom_kill "$cg"/memory.oom_control "$cg"/memory.events 2>/dev/null || true
