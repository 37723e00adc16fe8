#!/bin/bash
# bench-ab.sh compares two sluice binaries as the gateway, alternating A B A B
# so that drift in the machine's load cancels, and writes benchstat input.
#
#   scripts/bench-ab.sh NAME BIN_A BIN_B [ROUNDS] [SCENARIO] [CONCURRENCY] [DURATION]
#   benchstat /tmp/bench-ab/NAME-A.txt /tmp/bench-ab/NAME-B.txt
#
# Each round is `sluice bench --only sluice` of one cell (defaults: 6 rounds,
# chat, concurrency 64, 5 s), run by BIN_A as the harness both times (set
# HARNESS to choose another), with --sluice-bin BIN_A or BIN_B. Per round it
# records sec/op (1/throughput), cpu-sec/op (the gateway process's CPU time
# per request, from /proc: the figure to read on a loaded machine), the 1-min
# load average, peak RSS and p99. BIN_A/BIN_B may be wrapper scripts that set
# an environment variable (GOGC=200 exec sluice "$@") to compare knobs.
# Needs python3 and, for chat, wrk (or it falls back to the Go generator).
set -u
name=$1 a=$2 b=$3 rounds=${4:-6} scen=${5:-chat} conc=${6:-64} dur=${7:-5s}
harness=${HARNESS:-$a}
out=/tmp/bench-ab
mkdir -p $out
for i in $(seq 1 "$rounds"); do
  for side in A B; do
    bin=$a; [ $side = B ] && bin=$b
    run=$out/run-$name-$side-$i
    rm -rf "$run"
    "$harness" bench --only sluice --scenario "$scen" --concurrency "$conc" --no-half-saturation --go-bench=false \
      --duration "$dur" --rounds 1 --no-install --sluice-bin "$bin" --out "$run" >/dev/null 2>"$run.log"
    python3 - "$run/results.json" "$scen" "$conc" >>"$out/$name-$side.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d['cells']:
    if c['gateway'] == 'sluice' and c['throughput'] > 0:
        print(f"BenchmarkGatewayProcess/{sys.argv[2]}/c={sys.argv[3]} {c['requests']} {1/c['throughput']:.9f} sec/op "
              f"{c['cpu_per_request_us']*1e-6:.9f} cpu-sec/op {c['load'][0]} load {c['peak_rss_mib']:.1f} rss-MiB {c['p99_us']} p99-us")
PY
    tail -1 "$out/$name-$side.txt"
  done
done
