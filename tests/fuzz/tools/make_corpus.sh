#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from
# real data: Go binaries and profiles of every installed toolchain (tests/go, built by
# tests/go/build.sh), a live Go process's heap buckets and /proc files, the fake
# Kubernetes API server, kubectl's kubeconfig files, podprof's own spool files, and
# the examples of the README. Run as root (it reads another process's memory).
#
#   tests/fuzz/tools/make_corpus.sh [PODPROF_BINARY]
#
# PODPROF_BINARY (default build/plain/agent/podprof) writes the spool seeds. Seeds of
# the hand-made input forms (annotations, metrics, options, values) are written here
# too. The corpora are committed; the fuzzers' own discoveries are not (they stay in
# build/fuzz/corpus).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
corpus=$top/tests/fuzz/corpus
podprof=${1:-$top/build/plain/agent/podprof}
go=${PODPROF_GO_CACHE:-$top/build/go-programs}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$top/tests/go/build.sh" "$go" >/dev/null
vers=$(ls "$go" | grep -E '^go1\.[0-9]+$' | sort -V)
oldest=$(echo "$vers" | head -1) newest=$(echo "$vers" | tail -1)
seed() { python3 "$here/goseeds.py" "$@"; }

for t in buildinfo pclntab elf heapread pprof proc_maps proc_stat cgroup kubeconfig \
         spool metrics values options targets_file k8s_watch k8s_pod annotations; do
  rm -rf "${corpus:?}/$t"
  mkdir -p "$corpus/$t"
done

echo "binaries: .go.buildinfo, .gopclntab, ELF"
for v in $vers; do
  seed buildinfo "$go/$v/heapgen-exe" "$corpus/buildinfo/$v"
done
seed oldbuildinfo "$go/$oldest/heapgen-exe" "$corpus/buildinfo/pre1.18-layout"
for v in $oldest go1.21 go1.24 go1.26 $newest; do
  [ -x "$go/$v/noprof-exe" ] && seed pclntab "$go/$v/noprof-exe" "$corpus/pclntab/noprof-$v"
done
seed pclntab "$go/go1.25/heapgen-pie" "$corpus/pclntab/heapgen-pie-go1.25" 2>/dev/null ||
  seed pclntab "$go/$newest/noprof-exe" "$corpus/pclntab/noprof-pie-$newest"
for v in $oldest go1.25 $newest; do
  seed elf "$go/$v/heapgen-exe" "$corpus/elf/heapgen-$v"
done
seed elf "$go/go1.21/heapgen-exe" "$corpus/elf/heapgen-stripped-go1.21" --strip
seed elf "$go/go1.26/heapgen-exe" "$corpus/elf/heapgen-stripped-go1.26" --strip

echo "heap buckets of live processes"
for v in $oldest go1.25 $newest; do
  python3 "$here/heap_seed.py" "$go/$v/heapgen-exe" "$corpus/heapread/heapgen-$v" "$tmp/pcs-$v"
done
# the function table fuzz_heapread symbolizes with: the binary of the go1.25 seed
rm -f "$corpus"/pclntab/heapgen-go*
seed pclntab "$go/go1.25/heapgen-exe" "$corpus/pclntab/heapgen-go1.25" "$tmp/pcs-go1.25"

echo "pprof profiles"
for v in $oldest $newest; do
  mkdir -p "$tmp/prof-$v"
  "$go/$v/profgen-exe" "$tmp/prof-$v" >/dev/null
  for f in "$tmp/prof-$v"/*.pb.gz; do
    b=$(basename "$f" .pb.gz)
    { printf '\0'; gzip -dc "$f"; } >"$corpus/pprof/$b-$v"
  done
  { printf '\2'; cat "$tmp/prof-$v/heap.2.pb.gz"; } >"$corpus/pprof/heap.2-$v.gz"
  { printf '\1'; gzip -dc "$tmp/prof-$v/goroutine.1.pb.gz"; } >"$corpus/pprof/goroutine.1-$v-tight"
done
"$go/go1.25/pprofsrv-exe" -port-file "$tmp/pprofsrv.port" -cpu-duty 0.5 &
srv=$!
for _ in $(seq 100); do [ -s "$tmp/pprofsrv.port" ] && break; sleep 0.1; done
port=$(head -1 "$tmp/pprofsrv.port")
curl -sf "http://127.0.0.1:$port/debug/pprof/profile?seconds=1" -o "$tmp/cpu.pb.gz"
curl -sf "http://127.0.0.1:$port/debug/pprof/heap" -o "$tmp/heap.pb.gz"
kill $srv; wait $srv 2>/dev/null || true
{ printf '\0'; gzip -dc "$tmp/cpu.pb.gz"; } >"$corpus/pprof/cpu-go1.25"
{ printf '\2'; cat "$tmp/heap.pb.gz"; } >"$corpus/pprof/heap-sizes-go1.25.gz"

echo "/proc files of live processes"
"$go/go1.25/heapgen-exe" -ready "$tmp/ready" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
cp "/proc/$pid/maps" "$corpus/proc_maps/heapgen-go1.25"
cp "/proc/$pid/stat" "$corpus/proc_stat/heapgen-go1.25"
kill $pid; wait $pid 2>/dev/null || true
cp /proc/self/maps "$corpus/proc_maps/cp"
# a command name with spaces and parentheses, and environments with the opt-out
cp /bin/sleep "$tmp/a) b (c"
# (a made-up environment: nothing of this machine's goes into the repository)
env -i PATH=/usr/local/bin:/usr/bin:/bin HOSTNAME=api-7d4b9c8f6d-x2x7k HOME=/root \
  KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 \
  COROOT_EBPF_PROFILING=disabled GOMAXPROCS=2 "$tmp/a) b (c" 30 &
pid=$!
sleep 0.2
cp "/proc/$pid/stat" "$corpus/proc_stat/parenthesised-comm"
cp "/proc/$pid/environ" "$corpus/proc_stat/environ-opted-out"
kill $pid; wait $pid 2>/dev/null || true
# an environment larger than the reader's 8 KiB chunks, the opt-out across a boundary
python3 - "$corpus/proc_stat/environ-large" <<'EOF'
import os, sys
# a pod's environment: the variables of every service of its namespace
env = b"PATH=/usr/local/bin:/usr/bin:/bin\0HOSTNAME=api-7d4b9c8f6d-x2x7k\0"
for i in range(60):
    s, ip = b"SVC_%02d" % i, b"10.96.%d.%d" % (i // 200, 10 + i % 200)
    env += b"%s_SERVICE_HOST=%s\0%s_SERVICE_PORT=8080\0%s_PORT=tcp://%s:8080\0" % (s, ip, s, s, ip)
env = env[:6000]
env = env[:env.rindex(b"\0") + 1]
pad = 8192 - 10 - len(env) - len(b"PAD=\0")
open(sys.argv[1], "wb").write(env + b"PAD=" + b"p" * pad + b"\0COROOT_EBPF_PROFILING=disabled\0LAST=1\0")
EOF
cp /proc/self/cgroup "$corpus/cgroup/this-host"
id=3e9b1c4f2a7d6e8b0c5f1a2d3e4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b
uid=1b2c3d4e_5f60_7182_93a4_b5c6d7e8f90a
printf '\0%s\n' "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$uid.slice/cri-containerd-$id.scope" \
  >"$corpus/cgroup/k8s-systemd-containerd"
printf '\0%s\n' "0::/kubepods/besteffort/pod${uid//_/-}/$id" >"$corpus/cgroup/k8s-cgroupfs"
printf '\0%s\n' "0::/system.slice/crio-$id.scope" >"$corpus/cgroup/crio"
printf '\0%s\n' "0::/system.slice/docker-$id.scope" >"$corpus/cgroup/docker"
printf '\0%s\n' "0::/system.slice/coroot-demo.service" >"$corpus/cgroup/systemd-service"
printf '\0%s\n' "0::/" >"$corpus/cgroup/root"
printf '\0%s\n' "12:pids:/docker/$id" "11:memory:/docker/$id" "1:name=systemd:/docker/$id" \
  "0::/" >"$corpus/cgroup/v1-docker"
printf '\1%s\n%s\n' "newpod-abcde_prod_server-$id.log" \
  "0::/kubepods.slice/kubepods-pod$uid.slice/cri-containerd-$id.scope" >"$corpus/cgroup/log-link"

echo "kubeconfig files (kubectl)"
# a small test CA's certificate (EC) to embed: the key is thrown away
"$top/tests/tools/kube_certs.sh" "$tmp/certs" >/dev/null
kc() { kubectl --kubeconfig "$tmp/kc" config "$@" >/dev/null; }
rm -f "$tmp/kc"
kc set-cluster prod --server=https://10.96.0.1:6443 --certificate-authority=ca.crt
kc set-credentials admin --token=abc.def
kc set-context prod --cluster=prod --user=admin --namespace=default
kc use-context prod
cp "$tmp/kc" "$corpus/kubeconfig/token-ca-file"
rm -f "$tmp/kc"
kc set-cluster kind --server=https://127.0.0.1:38441/ --certificate-authority="$tmp/certs/ca.crt" --embed-certs
kc set-credentials kind-admin --client-certificate=client.crt --client-key=client.key
kc set-context kind --cluster=kind --user=kind-admin
kc use-context kind
cp "$tmp/kc" "$corpus/kubeconfig/client-cert-files"
kc set-credentials kind-admin --client-certificate="$tmp/certs/client.crt" \
  --client-key="$tmp/certs/client.crt" --embed-certs
cp "$tmp/kc" "$corpus/kubeconfig/embedded-data"
rm -f "$tmp/kc"
kc set-cluster eks --server=https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com --insecure-skip-tls-verify=true
kc set-credentials eks --exec-api-version=client.authentication.k8s.io/v1beta1 \
  --exec-command=true --exec-arg=eks --exec-arg=get-token --exec-env=AWS_PROFILE=prod
kc set-context eks --cluster=eks --user=eks
kc use-context eks
cp "$tmp/kc" "$corpus/kubeconfig/exec-plugin"
cat >"$corpus/kubeconfig/token-file-anchors" <<'EOF'
apiVersion: v1
kind: Config
current-context: a
clusters:
- &c {name: a, cluster: {server: "http://127.0.0.1:8001"}}
- *c
contexts: [{name: a, context: {cluster: a, user: u}}]
users:
- name: u
  user:
    tokenFile: token
    username: admin
    password: 'p@ss'
EOF

echo "spool files (podprof upload)"
"$podprof" upload --service-name /k8s/default/api --kind heap --label pod=api-1 \
  --collector-endpoint http://127.0.0.1:9 --spool-dir "$tmp/spool" --flush-timeout 1s \
  --log-level error "$tmp/prof-$newest/heap.1.pb.gz" "$tmp/cpu.pb.gz" >/dev/null 2>&1 || true
n=0
for f in "$tmp"/spool/*.spool; do
  n=$((n + 1))
  # the fuzz target reads its input under sequence 42
  python3 - "$f" "$corpus/spool/upload-$n" <<'EOF'
import re, sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(re.sub(rb"^seq \d+$", b"seq %020d" % 42, d, count=1, flags=re.M))
EOF
done

echo "Kubernetes objects and watch streams (fake API server)"
python3 "$here/k8s_seeds.py" "$corpus" >/dev/null 2>&1

echo "hand-made input forms"
python3 "$here/misc_seeds.py" "$corpus"
du -sh "$corpus"
