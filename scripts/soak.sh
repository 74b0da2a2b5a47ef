#!/usr/bin/env bash
# Soak test (not part of CI): both roles for MINUTES (default 10) against
#   - 200 scrape targets: annotated pods in the fake API server (tests/tools/fake_kube.py),
#     served by 4 tests/go/pprofsrv processes listening on 50 ports each (Go runs one CPU
#     profile at a time per process, so one target of each process is scraped for CPU,
#     the others for heap, block, mutex and goroutine);
#   - 50 Go processes churning (tests/go/churn: children of every installed Go release
#     that live 5 to 30 s, then exit or exec themselves again), and every other Go
#     process of this machine, for the node role;
#   - the fake Coroot receiver (tests/tools/fake_coroot.py) behind both, with a spool.
# Every 5 s it samples the resident memory and open descriptors of both podprof
# processes (and the cluster role's delta state, podprof_scrape_delta_state_bytes, and
# each one's allocations in use, podprof_malloc_in_use_bytes); at
# the end it prints the least-squares slope of each after a 2-minute warm-up (KiB/min,
# fds/min), and whether every interval was met: the cluster role's
# podprof_scrape_missed_total must stay 0, and every node cycle (from its debug log:
# "cycle: N Go processes, T s") must finish within the interval and start on time.
#
#   scripts/soak.sh [MINUTES]        environment: PODPROF_BIN (default build/plain's),
#                                    SOAK_SCRAPE_INTERVAL (30s), SOAK_NODE_INTERVAL (10s),
#                                    SOAK_DIR (a new temporary directory; kept)
# Exit status: 0 when the memory slopes (the cluster role's less its delta state's) are
# under 256 KiB/min, the descriptor slopes under 0.5 fds/min, and every interval was
# met; 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
minutes=${1:-10}
scrape_interval=${SOAK_SCRAPE_INTERVAL:-30s}
node_interval=${SOAK_NODE_INTERVAL:-10s}
py=/usr/bin/python3
dir=${SOAK_DIR:-$(mktemp -d /tmp/podprof-soak-XXXXXX)}
mkdir -p "$dir"
gocache=$top/build/go-programs
podprof=${PODPROF_BIN:-$top/build/plain/agent/podprof}
pids=()

log() { printf '[soak %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -x "$podprof" ]; then
  log "building podprof (build/plain)"
  cmake -S "$top" -B "$top/build/plain" -DPODPROF_GO_CACHE="$gocache" >/dev/null &&
    cmake --build "$top/build/plain" -j"$(nproc)" --target podprof >/dev/null || exit 1
fi
tests/go/build.sh "$gocache" pprofsrv churn >/dev/null || exit 1
newest=$(ls -d "$gocache"/go1.* | sort -V | tail -1)
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

# --- peers -------------------------------------------------------------------------
cport=$(free_port)
$py tests/tools/fake_coroot.py --port "$cport" --record-dir "$dir/rec" 2>"$dir/coroot.log" &
pids+=($!)
$py tests/tools/fake_kube.py --port 0 --port-file "$dir/kube.port" --quiet 2>"$dir/kube.log" &
pids+=($!)
wait_file "$dir/kube.port" || { log "the fake API server did not start"; exit 1; }
kport=$(cat "$dir/kube.port")
cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: soak
contexts:
- name: soak
  context: {cluster: soak, user: soak}
clusters:
- name: soak
  cluster: {server: "http://127.0.0.1:$kport"}
users:
- name: soak
  user: {}
EOF

for i in 0 1 2 3; do
  "$newest/pprofsrv-exe" -ports 50 -port-file "$dir/ports$i" -memprofilerate 524288 \
    -cpu-duty 0.05 -alloc-rate 262144 >"$dir/pprofsrv$i.log" 2>&1 &
  pids+=($!)
done
for i in 0 1 2 3; do wait_file "$dir/ports$i" || { log "pprofsrv $i did not start"; exit 1; }; done
{
  printf '{"items": ['
  n=0
  for i in 0 1 2 3; do
    k=0
    while read -r port; do
      types="heap,block,mutex,goroutine"
      [ $k -eq 0 ] && types="cpu,$types"
      [ $n -gt 0 ] && printf ','
      printf '{"metadata": {"name": "app-%d", "namespace": "soak", "annotations":' "$n"
      printf ' {"coroot.com/profile-scrape": "true", "coroot.com/profile-port": "%d",' "$port"
      printf ' "coroot.com/profile-types": "%s"}},' "$types"
      printf ' "status": {"phase": "Running", "podIP": "127.0.0.1"}}'
      n=$((n + 1)); k=$((k + 1))
    done <"$dir/ports$i"
  done
  printf ']}'
} >"$dir/pods.json"
curl -sf -XPOST --data-binary @"$dir/pods.json" "http://127.0.0.1:$kport/_control/pods" \
  >/dev/null || { log "cannot post the pods"; exit 1; }

churn_bins=()
for d in "$gocache"/go1.*; do [ -x "$d/churn-exe" ] && churn_bins+=("$d/churn-exe"); done
"${churn_bins[0]}" -n 50 -min 5s -max 30s "${churn_bins[@]}" >"$dir/churn.log" 2>&1 &
pids+=($!)

# --- podprof -----------------------------------------------------------------------
clisten=127.0.0.1:$(free_port)
nlisten=127.0.0.1:$(free_port)
"$podprof" cluster --kubeconfig "$dir/kubeconfig" --listen "$clisten" \
  --profiles-endpoint "http://127.0.0.1:$cport/v1/profiles" --spool-dir "$dir/spool-cluster" \
  --scrape-interval "$scrape_interval" --scrape-cpu-duration 5s >"$dir/cluster.log" 2>&1 &
cpid=$!; pids+=($cpid)
"$podprof" node --interval "$node_interval" --listen "$nlisten" --log-level debug \
  --profiles-endpoint "http://127.0.0.1:$cport/v1/profiles" --spool-dir "$dir/spool-node" \
  >"$dir/node.log" 2>&1 &
npid=$!; pids+=($npid)
log "podprof cluster pid $cpid, node pid $npid; ${minutes} min; files in $dir"

# --- sampling ----------------------------------------------------------------------
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
gauge_kib() { # listen address, metric
  curl -s "http://$1/metrics" |
    awk -v m="$2" '$1 == m {printf "%d", $2 / 1024; f = 1} END {if (!f) print 0}'; }
echo "seconds rss_cluster_kib fds_cluster rss_node_kib fds_node delta_state_kib in_use_cluster_kib in_use_node_kib" >"$dir/samples.txt"
start=$(date +%s)
end=$((start + minutes * 60))
next_report=$((start + 60))
while [ "$(date +%s)" -lt "$end" ]; do
  kill -0 "$cpid" 2>/dev/null && kill -0 "$npid" 2>/dev/null || { log "podprof died"; break; }
  now=$(date +%s)
  echo "$((now - start)) $(rss $cpid) $(fds $cpid) $(rss $npid) $(fds $npid)" \
    "$(gauge_kib "$clisten" podprof_scrape_delta_state_bytes)" \
    "$(gauge_kib "$clisten" podprof_malloc_in_use_bytes)" \
    "$(gauge_kib "$nlisten" podprof_malloc_in_use_bytes)" >>"$dir/samples.txt"
  if [ "$now" -ge "$next_report" ]; then
    log "$(tail -1 "$dir/samples.txt" | awk '{printf "t=%ds cluster %d KiB %d fds (delta state %d KiB), node %d KiB %d fds", $1, $2, $3, $6, $4, $5}')"
    next_report=$((next_report + 60))
    # the receiver keeps every body: keep the disk use flat
    find "$dir/rec" -name '*.pb.gz' -mmin +1 -delete 2>/dev/null
  fi
  sleep 5
done
curl -s "http://$clisten/metrics" >"$dir/cluster.metrics"
curl -s "http://$nlisten/metrics" >"$dir/node.metrics"
curl -s "http://$clisten/targets?format=json" >"$dir/targets.json"
kill -TERM "$cpid" "$npid"
wait "$cpid" "$npid" 2>/dev/null

# --- figures -----------------------------------------------------------------------
slope() { # column: least squares over samples after 120 s, per minute
  awk -v c="$1" 'NR > 1 && $1 >= 120 { n++; x = $1 / 60; y = $c; sx += x; sy += y; sxx += x * x; sxy += x * y }
    END { d = n * sxx - sx * sx; if (n < 3 || d == 0) print "nan"; else printf "%.2f", (n * sxy - sx * sy) / d }' \
    "$dir/samples.txt"
}
metric() { awk -v m="$2" '$1 == m {print $2}' "$1" | head -1; }
msum() { awk -v m="$2" 'index($1, m "{") == 1 || $1 == m {s += $2} END {print s + 0}' "$1"; }
rc=0
crs=$(slope 2); cfd=$(slope 3); nrs=$(slope 4); nfd=$(slope 5); cds=$(slope 6)
ciu=$(slope 7); niu=$(slope 8)
# the cluster role's delta state grows while targets show stacks not seen before (it is
# bounded per target); what RSS does beyond it is what would be a leak
cun=$(awk -v a="$crs" -v b="$cds" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else printf "%.2f", a - b }')
echo
echo "=== soak: ${minutes} min, $(($(wc -l <"$dir/samples.txt") - 1)) samples, slopes after a 2-minute warm-up"
awk 'NR > 1 { if ($2 > mc) mc = $2; if ($4 > mn) mn = $4 } END { printf "peak RSS: cluster %d KiB, node %d KiB\n", mc, mn }' "$dir/samples.txt"
echo "cluster: RSS ${crs} KiB/min (delta state ${cds} KiB/min, the rest ${cun} KiB/min), fds ${cfd} /min"
echo "node:    RSS ${nrs} KiB/min, fds ${nfd} /min"
echo "allocations in use (podprof_malloc_in_use_bytes): cluster ${ciu} KiB/min, node ${niu} KiB/min"
for s in "$cun" "$nrs"; do
  awk -v s="$s" 'BEGIN { exit !(s == "nan" || s > 256) }' && rc=1
done
for s in "$cfd" "$nfd"; do
  awk -v s="$s" 'BEGIN { exit !(s == "nan" || s > 0.5) }' && rc=1
done
targets=$(metric "$dir/cluster.metrics" podprof_targets_discovered)
missed=$(metric "$dir/cluster.metrics" podprof_scrape_missed_total)
collisions=$(metric "$dir/cluster.metrics" podprof_scrape_cpu_collisions_avoided_total)
ok=$(awk '/^podprof_scrapes_total\{.*result="success"/ {s += $2} END {print s + 0}' "$dir/cluster.metrics")
bad=$(awk '/^podprof_scrapes_total\{/ && !/result="success"/ {s += $2} END {print s + 0}' "$dir/cluster.metrics")
echo "cluster: ${targets:-?} targets, scrapes ${ok} ok and ${bad} failed, missed ${missed:-?}, CPU collisions avoided ${collisions:-?}"
[ "${missed:-1}" = 0 ] || rc=1
secs=${node_interval%s}
awk -v iv="$secs" '
  / DEBUG node: cycle: / {
    split($1, t, "T"); split(t[2], h, ":"); sub("Z", "", h[3])
    s = h[1] * 3600 + h[2] * 60 + h[3]
    match($0, /, [0-9.]+ s$/); d = substr($0, RSTART + 2, RLENGTH - 4) + 0
    n++; if (d > maxd) maxd = d; if (d >= iv) late++
    if (n > 2 && s - prev > iv * 1.5) gaps++
    prev = s; procs += $5
  }
  END { printf "node: %d cycles of %ss, longest %.3f s, %d over the interval, %d started late, %.0f Go processes per cycle\n", n, iv, maxd, late, gaps, n ? procs / n : 0
        exit (late || gaps || n == 0) }' "$dir/node.log" || rc=1
for f in cluster node; do
  d=$(msum "$dir/$f.metrics" podprof_upload_dropped_total)
  u=$(awk '/^podprof_uploads_total\{sink="coroot",result="success"\}/ {print $2}' "$dir/$f.metrics")
  echo "$f: ${u:-0} profiles uploaded, ${d} dropped"
done
[ $rc -eq 0 ] && echo "soak: passed" || echo "soak: FAILED (see $dir)"
exit $rc
