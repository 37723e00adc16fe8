#!/bin/bash
# usage: run.sh BINARY BUILT_DB — times `sluice serve` from exec to /healthz 200 on a copy of BUILT_DB
bin=$1; built=$2; d=$(mktemp -d)
cp "$built" $d/sluice.db
printf 'request_log:\n  keep: true\n' > $d/sluice.yaml
t0=$(date +%s%N)
/usr/bin/time -f "%M" -o $d/rss $bin serve -c $d/sluice.yaml --store $d/sluice.db --listen 127.0.0.1:18431 > $d/log 2>&1 &
pid=$!
n=0; until curl --noproxy '*' -m 1 -fs -o /dev/null http://127.0.0.1:18431/healthz; do sleep 0.005; n=$((n+1)); [ $n -gt 6000 ] && break; done
t1=$(date +%s%N)
until grep -q "filled again" $d/log; do sleep 0.01; if ! kill -0 $pid 2>/dev/null; then break; fi; done
t2=$(date +%s%N)
sleep 0.5; kill -INT $(pgrep -P $pid); wait $pid
echo "$(basename $bin) $(basename $(dirname $built)): ready $(( (t1-t0)/1000000 )) ms, windows whole (log line seen) $(( (t2-t0)/1000000 )) ms, peak RSS $(( $(cat $d/rss)/1024 )) MB"
grep "filled again" $d/log | cut -c1-300
rm -rf $d
