#!/usr/bin/python3
"""Seeds of the fuzz targets whose input is a small structured form rather than a file
from outside: metrics (label values as the node and cluster roles set them), values
(settings and annotation values as users write them: the README's examples),
options (the README's command lines and Coroot's environment variables) and
targets_file (Prometheus file_sd files). Standard library only.

  misc_seeds.py CORPUS_DIR
"""
import json
import os
import struct
import sys

CONTAINER = "3e9b1c4f2a7d6e8b0c5f1a2d3e4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"


def metrics_input(mtype, name, help_text, labels, series):
    out = bytes([mtype, len(labels)]) + name.encode() + b"\0" + help_text.encode() + b"\0"
    for l in labels:
        out += l.encode() + b"\0"
    for values, v in series:
        for x in values:
            out += (x if isinstance(x, bytes) else x.encode()) + b"\0"
        out += struct.pack("<d", v)
    return out


def options_input(cmd, args, env):
    commands = ["node", "cluster", "heap", "ps", "upload", "targets"]
    out = bytes([commands.index(cmd), len(args)])
    return out + b"".join(a.encode() + b"\0" for a in args) + \
        b"".join(e.encode() + b"\0" for e in env)


def main(corpus):
    def write(target, name, data):
        os.makedirs(os.path.join(corpus, target), exist_ok=True)
        with open(os.path.join(corpus, target, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())

    write("metrics", "container-alloc", metrics_input(
        0, "container_go_alloc_bytes_total", "Bytes allocated by the Go processes of a container",
        ["container_id"],
        [(["/k8s/default/api-7d4b9c8f6d-x2x7k/app"], 123456789.0),
         (["/docker/" + CONTAINER], 4096.0),
         (["/system.slice/coroot-demo.service"], 1.5),
         (["/k8s/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f90a/" + CONTAINER], 2.0 ** 63)]))
    write("metrics", "escapes", metrics_input(
        1, "podprof_targets", "Targets by \"state\" \\ kind\nsecond line", ["state", "kind"],
        [(["a\"quoted\"", "back\\slash"], 1.0), (["new\nline", "caf\xe9"], -2.0),
         ([b"\xff\xfe bad utf-8 \xc0\xaf", b"\xe2\x82"], float("nan")),
         (["", ""], float("inf"))]))
    write("metrics", "histogram", metrics_input(
        2, "podprof_scrape_duration_seconds", "Scrape duration", ["type", "result"],
        [(["cpu", "ok"], 10.02), (["heap", "ok"], 0.004), (["heap", "timeout"], 30.0)]))

    values = {
        "duration-1m30s": "1m30s", "duration-fraction": "1.5h", "duration-units": "250ms",
        "duration-micro": "10\xb5s", "duration-zero": "0", "duration-mixed": "2h45m0.5s",
        "size-mib": "64MiB", "size-plain": "1048576", "size-k": "512k", "size-gb": "10GB",
        "types": "cpu,heap,block,mutex,goroutine", "types-spaces": " cpu , heap ",
        "listen": "0.0.0.0:10301", "listen-v6": "[::1]:8080", "listen-any": ":6060",
        "pod-deployment": "api-7d4b9c8f6d-x2x7k", "pod-statefulset": "postgres-2",
        "pod-cronjob": "report-28571234-7xkzp", "job": "backup-28312345", "level": "debug",
    }
    for name, v in values.items():
        write("values", name, v)

    write("options", "node-env", options_input(
        "node", ["--once", "--output-dir", "/tmp/profiles"],
        ["GO_HEAP_PROFILER=force", "PODPROF_INTERVAL=30s", "COLLECTOR_ENDPOINT=http://coroot:8080",
         "API_KEY=secret", "NODE_NAME=node-1", "PODPROF_SPOOL_MAX_BYTES=64MiB"]))
    write("options", "cluster-targets", options_input(
        "cluster", ["--once", "--target", "api=http://10.0.0.5:6060", "--target=http://[fd00::5]:6060/pp",
                    "--scrape-types", "cpu,heap", "--shard", "1/3", "--output-dir", "/tmp/p"],
        ["COROOT_URL=http://coroot:8080", "PROFILES_SCRAPE_INTERVAL=30s",
         "PODPROF_MAX_EVENT_BYTES=16MiB", "PODPROF_STREAMING_LIST=off"]))
    write("options", "heap", options_input("heap", ["4242", "-o", "-", "--force"], []))
    write("options", "upload", options_input(
        "upload", ["--service-name", "api", "--label", "pod=api-1", "--kind", "cpu", "--",
                   "a.pb.gz", "--not-a-flag"], ["LISTEN=127.0.0.1:0", "PODPROF_LOG_LEVEL=warn"]))
    write("options", "targets-help", options_input("targets", ["--watch", "--help"],
                                                   ["KUBECONFIG=/root/.kube/config:/other"]))

    groups = [
        [{"targets": ["10.0.0.5:6060"], "labels": {"service_name": "api", "__scheme__": "https"}}],
        [{"targets": ["10.0.0.5:6060", "10.0.0.6:6060", "[fd00::7]:6060"],
          "labels": {"env": "prod", "team": "payments", "__metrics_path__": "/internal/pprof/",
                     "service.name": "payments"}},
         {"targets": ["db.example.com:6061"], "labels": {}}],
        [{"targets": ["localhost:6060?tenant=a"]}],
    ]
    for i, g in enumerate(groups):
        write("targets_file", "file-sd-%d" % i, bytes([i * 3 % 8]) + json.dumps(g, indent=1).encode())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
