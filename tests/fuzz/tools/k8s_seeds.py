#!/usr/bin/python3
"""Kubernetes seeds for the fuzz targets, from the fake API server (tests/tools/
fake_kube.py, whose objects and watch streams are checked against kubectl and the
official Python client) and the pod fixtures of the unit tests (standard library only).

  k8s_seeds.py CORPUS_DIR

writes CORPUS_DIR/k8s_watch/* (watch streams as the server sends them: a streaming
list, a watch with changes, deletions and a 410, ReplicaSets), CORPUS_DIR/k8s_pod/*
(pods, ReplicaSets and a list page as GET returns them) and CORPUS_DIR/annotations/*
(the annotations, ports and names of those pods in fuzz_annotations's input form).
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FIXTURES = os.path.join(TOP, "tests", "unit", "data", "k8s")
ANNOTATIONS = [
    "coroot.com/profile-scrape", "coroot.com/profile-port", "coroot.com/profile-path",
    "coroot.com/profile-scheme", "coroot.com/profile-types", "coroot.com/profile-cpu-seconds",
    "pyroscope.io/scrape", "pyroscope.io/port", "coroot.com/profile-auth",
]


def pod(name, ns="default", annotations=None, containers=None, phase=None, ip=None,
        owner=None, labels=None):
    p = {"metadata": {"name": name, "namespace": ns, "annotations": annotations or {},
                      "labels": labels or {"app": name.split("-")[0]}},
         "spec": {"containers": containers or [{"name": "app", "image": "registry/app:1",
                                                "ports": [{"name": "pprof",
                                                           "containerPort": 6060}]}]}}
    if owner:
        p["metadata"]["ownerReferences"] = [dict(owner, apiVersion="apps/v1",
                                                 controller=True, blockOwnerDeletion=True,
                                                 uid="0c8d0f6e-5f0b-4a47-9f4e-%012d" % len(name))]
    if phase or ip:
        p["status"] = {}
        if phase:
            p["status"]["phase"] = phase
        if ip:
            p["status"]["podIP"] = ip
            p["status"]["podIPs"] = [{"ip": ip}]
    return p


SCRAPE = {"coroot.com/profile-scrape": "true", "coroot.com/profile-port": "6060"}
PODS = [
    pod("api-7d4b9c8f6d-x2x7k", annotations=SCRAPE, labels={"app": "api",
                                                            "pod-template-hash": "7d4b9c8f6d"},
        owner={"kind": "ReplicaSet", "name": "api-7d4b9c8f6d"}),
    pod("web-0", ns="shop", annotations={"coroot.com/profile-scrape": "true",
                                         "coroot.com/profile-port": "pprof",
                                         "coroot.com/profile-types": "cpu, heap,goroutine",
                                         "coroot.com/profile-path": "/internal/pprof/",
                                         "coroot.com/profile-cpu-seconds": "15"},
        owner={"kind": "StatefulSet", "name": "web"},
        containers=[{"name": "web", "ports": [{"name": "http", "containerPort": 8080},
                                              {"name": "pprof", "containerPort": 6060}]},
                    {"name": "sidecar", "ports": [{"name": "metrics", "containerPort": 9090,
                                                   "protocol": "TCP"},
                                                  {"name": "dns", "containerPort": 53,
                                                   "protocol": "UDP"}]}]),
    pod("agent-4xk2p", ns="kube-system", annotations={"pyroscope.io/scrape": "true",
                                                      "pyroscope.io/port": "4040"},
        owner={"kind": "DaemonSet", "name": "agent"}),
    pod("tls-6b7f9d5c4-qwert", annotations=dict(SCRAPE, **{
        "coroot.com/profile-scheme": "https", "coroot.com/profile-auth": "bearer"}),
        owner={"kind": "ReplicaSet", "name": "tls-6b7f9d5c4"}),
    pod("v6-5c6d7e8f9-zxcvb", annotations=SCRAPE, ip="fd00:10:244::17",
        owner={"kind": "ReplicaSet", "name": "v6-5c6d7e8f9"}),
    pod("backup-28312345-abcde", ns="ops", annotations=SCRAPE, phase="Succeeded",
        owner={"kind": "Job", "name": "backup-28312345"}),
    pod("waiting", annotations=SCRAPE, phase="Pending"),
    pod("bad-port", annotations={"coroot.com/profile-scrape": "true",
                                 "coroot.com/profile-port": "99999",
                                 "coroot.com/profile-types": "cpu,threads"}),
    pod("etcd-node-1", ns="kube-system", annotations=SCRAPE,
        owner={"kind": "Node", "name": "node-1"}),
]
REPLICASETS = [
    {"metadata": {"name": "api-7d4b9c8f6d", "namespace": "default",
                  "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": "api", "controller": True,
                                       "uid": "5d1b3c2a-1111-4a47-9f4e-000000000001"}]},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
              "template": {"metadata": {"labels": {"app": "api"}},
                           "spec": {"containers": [{"name": "app", "image": "app"}]}}}},
]


class Server:
    def __init__(self, tmp):
        port_file = os.path.join(tmp, "port")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(TOP, "tests", "tools", "fake_kube.py"), "--port", "0",
             "--port-file", port_file, "--streaming-list", "--quiet", "--exit-with-parent"])
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline:
                raise SystemExit("k8s_seeds.py: the fake API server did not start")
            time.sleep(0.05)
        self.base = "http://127.0.0.1:%s" % open(port_file).read().strip()

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    def watch(self, path, seconds):
        """The raw body of a watch that the server ends after timeoutSeconds."""
        sep = "&" if "?" in path else "?"
        with urllib.request.urlopen(self.base + path + sep + "timeoutSeconds=%d" % seconds,
                                    timeout=seconds + 30) as r:
            return r.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def annotations_input(p):
    """A pod in fuzz_annotations's form: present mask, shape, NUL-separated values, port
    names and numbers, name."""
    anns = p["metadata"].get("annotations", {})
    present = 0
    values = b""
    for i, a in enumerate(ANNOTATIONS):
        if a in anns:
            present |= 1 << i
            values += anns[a].encode() + b"\0"
    containers = p["spec"]["containers"][:3]
    nports = min(3, max([len(c.get("ports", [])) for c in containers] or [0]))
    shape = (len(containers) << 1) | (nports << 3)
    ip = p.get("status", {}).get("podIP", "")
    if ":" in ip:
        shape |= 1
    if p.get("status", {}).get("phase", "Running") != "Running":
        shape |= 32
    ports = b""
    for c in containers:
        cp = c.get("ports", [])
        for k in range(nports):
            name, number = (cp[k].get("name", ""), cp[k]["containerPort"]) if k < len(cp) \
                else ("", 0)
            ports += name.encode() + b"\0" + struct.pack("<H", number)
    return struct.pack("<HB", present, shape) + values + ports + \
        p["metadata"]["name"].encode() + b"\0"


def main(out):
    for d in ("k8s_watch", "k8s_pod", "annotations"):
        os.makedirs(os.path.join(out, d), exist_ok=True)

    def write(kind, name, data):
        with open(os.path.join(out, kind, name), "wb") as f:
            f.write(data)

    fixtures = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".json"))
    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(tmp)
        try:
            for rs in REPLICASETS:
                srv.call("POST", "/_control/replicasets", rs)
            stored = []
            for p in PODS:
                stored.append(json.loads(srv.call("POST", "/_control/pods", p)))
            for f in fixtures:
                obj = json.load(open(os.path.join(FIXTURES, f)))
                if obj.get("kind") == "Pod":
                    stored.append(json.loads(srv.call("POST", "/_control/pods", obj)))
                elif obj.get("kind") == "ReplicaSet":
                    srv.call("POST", "/_control/replicasets", obj)
            # a streaming list: ADDED for every pod, then the initial-events-end bookmark
            stream = srv.watch("/api/v1/pods?watch=1&sendInitialEvents=true&"
                               "resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true", 2)
            write("k8s_watch", "streaming-list", b"\x00\x07" + stream)
            rv = json.loads(srv.call("GET", "/api/v1/pods?limit=1"))["metadata"]["resourceVersion"]

            # a watch from rv while pods change, are deleted, and history expires
            def changes():
                time.sleep(0.5)
                for p in PODS[:3]:
                    q = json.loads(json.dumps(p))
                    q["metadata"]["labels"]["generation"] = "2"
                    srv.call("POST", "/_control/pods", q)
                q = json.loads(json.dumps(PODS[1]))
                q["metadata"]["annotations"]["coroot.com/profile-port"] = "http"
                srv.call("POST", "/_control/pods", q)
                srv.call("DELETE", "/_control/pods/default/waiting")
                srv.call("DELETE", "/_control/pods/kube-system/agent-4xk2p")
                time.sleep(0.3)
                srv.call("POST", "/_control/expire", {})
            t = threading.Thread(target=changes)
            t.start()
            stream = srv.watch("/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion="
                               + rv, 4)
            t.join()
            write("k8s_watch", "watch-changes-410", b"\x00\x31" + stream)
            write("k8s_watch", "watch-changes-small-chunks", b"\x08\x02" + stream)
            rs_stream = srv.watch("/apis/apps/v1/replicasets?watch=1&resourceVersion=0", 1)
            write("k8s_watch", "replicasets", b"\x00\x05" + rs_stream)
            # both resources in one stream, and a line longer than the small bound
            write("k8s_watch", "mixed", b"\x05\x11" + rs_stream + stream)
            write("k8s_pod", "list-page", b"\x00" + srv.call("GET", "/api/v1/pods?limit=4"))
            for i, p in enumerate(stored):
                name = p["metadata"]["name"]
                ns = p["metadata"]["namespace"]
                try:
                    body = srv.call("GET", "/api/v1/namespaces/%s/pods/%s" % (ns, name))
                except urllib.error.HTTPError:  # deleted meanwhile: as it was posted
                    body = json.dumps(p).encode()
                write("k8s_pod", "pod-" + name, bytes([i % 4]) + body)
                write("annotations", name, annotations_input(json.loads(body)))
            body = srv.call("GET", "/apis/apps/v1/namespaces/default/replicasets/api-7d4b9c8f6d")
            write("k8s_pod", "replicaset", b"\x01" + body)
        finally:
            srv.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
