#!/usr/bin/python3
"""Scenarios run against the fake Kubernetes API server (fake_kube.py) by independent
clients: the official Python client (Debian's python3-kubernetes: run it with
/usr/bin/python3) and raw HTTP for what the client hides (framing, gzip, faults).

Each scenario prepares its own objects through /_control/ (in its own namespace), checks,
prints "ok SCENARIO: details" and exits 0, or prints "FAIL SCENARIO: why" and exits 1.

Usage: kube_client_check.py --kubeconfig FILE [--swagger swagger.json] SCENARIO [options]
Scenarios:
  paginate N      list_pod_for_all_namespaces with limit/_continue over N new pods: each
                  pod exactly once, one resourceVersion, a consistent snapshot although
                  pods change between pages; list_namespaced_pod with a label selector.
  watch           watch.Watch().stream(list_pod_for_all_namespaces, resource_version=RV,
                  timeout_seconds=...) sees ADDED/MODIFIED/DELETED made after RV, in order;
                  a label-selected namespaced watch sees an object enter and leave.
  stale           a watch from a resourceVersion made stale by /_control/expire raises
                  ApiException 410; so does an old continue token; after /_control/restart
                  the old resourceVersion is too old and a relist+watch works.
  chunked SIZE    with /_control/chunking {"size": SIZE} the client still parses events.
  schema          raw responses (lists, gets, watches with bookmarks, tables, discovery,
                  errors, bulk pods with managedFields) validate against the OpenAPI schema.
  many_watches N  N concurrent watches all see an event; once closed the server has no
                  watch open and no extra thread left.
  streaming supported|rejected
                  the streaming list (sendInitialEvents=true) works, or is refused with 422.
  protocol        gzip above 128 KiB, chunked watch framing, 406 for protobuf only, 400
                  for a bad continue token, 504 for a resourceVersion from the future.
  faults          every /_control/fault kind behaves as documented.
  resources       service accounts, services, secrets, config maps, roles and bindings:
                  discovery (legacy and aggregated) agrees with the OpenAPI document's
                  paths (verbs, scope, kind); CoreV1Api / RbacAuthorizationV1Api list,
                  read (404 Status with name, group, kind) and watch them; lists, tables,
                  watches and bookmarks validate against the schema.
"""
import argparse
import gzip
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kubernetes  # noqa: E402
from kubernetes import client, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


class Fail(Exception):
    pass


def need(cond, msg, *args):
    if not cond:
        raise Fail(msg % args if args else msg)


# ---- raw HTTP to the server ------------------------------------------------------------------


class Raw:
    """Plain HTTP(S) requests with the credentials of the loaded kubeconfig."""

    def __init__(self, cfg):
        u = urllib.parse.urlsplit(cfg.host)
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.https else 80)
        self.ctx = None
        if self.https:
            self.ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
            if cfg.cert_file:
                self.ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
        token = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
        self.auth = {}
        if token:
            self.auth = {"Authorization": token if token.startswith("Bearer ") else "Bearer " + token}

    def conn(self, timeout=30):
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                               timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30, auth=True):
        """(status, headers dict with lower-case names, body bytes as sent)."""
        c = self.conn(timeout)
        h = dict(self.auth if auth else {})
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, out

    def get_json(self, path, headers=None):
        st, h, body = self.request("GET", path, headers=headers)
        if h.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        need(h.get("content-type", "").startswith("application/json"),
             "%s: content type %r", path, h.get("content-type"))
        return st, json.loads(body)

    def control(self, path, body=None, method="POST"):
        st, _, out = self.request(method, "/_control/" + path, body=body if method != "GET" else None,
                                  auth=False)
        need(st == 200, "control %s %s: HTTP %d %s", method, path, st, out[:300])
        return json.loads(out) if out.strip() else {}

    def watch_lines(self, path, headers=None, until=None, timeout=30):
        """Reads a watch response line by line (http.client undoes the chunking); stops
        at the end of the stream or when until(list of events) is true."""
        c = self.conn(timeout)
        h = dict(self.auth)
        h.update(headers or {})
        c.request("GET", path, headers=h)
        r = c.getresponse()
        events = []
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.status != 200:
            body = r.read()
            c.close()
            return r.status, hdrs, [body]
        while True:
            line = r.readline()
            if not line:
                break
            events.append(line)
            if until is not None and until(events):
                break
        c.close()
        return r.status, hdrs, events


def pod(name, ns, labels=None, node="node-1", annotations=None):
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {"nodeName": node, "containers": [
        {"name": "app", "ports": [{"name": "pprof", "containerPort": 6060}]}]}}


# ---- scenarios ------------------------------------------------------------------------------------


def scenario_paginate(v1, raw, args):
    n = int(args.arg or 1200)
    ns = "paginate-" + str(os.getpid())
    # Without managedFields: the client's model decoding is the slow part here.
    raw.control("bulk", {"count": n, "namespace": ns, "prefix": "pg", "annotated_every": 5,
                         "managed_fields": False})
    total = raw.control("stats", method="GET")["pods"]
    seen = {}
    cont = None
    pages = 0
    rv = None
    changed = False
    while True:
        resp = v1.list_pod_for_all_namespaces(limit=100, _continue=cont)
        pages += 1
        if rv is None:
            rv = resp.metadata.resource_version
        need(resp.metadata.resource_version == rv,
             "page %d has resourceVersion %s, the first had %s", pages,
             resp.metadata.resource_version, rv)
        for p in resp.items:
            key = "%s/%s" % (p.metadata.namespace, p.metadata.name)
            need(key not in seen, "%s listed twice", key)
            seen[key] = p
        cont = resp.metadata._continue
        if not changed:
            # Changes between pages must not show: the pages come from one snapshot.
            raw.control("pods", pod("pg-late", ns))
            raw.request("DELETE", "/_control/pods/%s/pg-%d" % (ns, n - 1), auth=False)
            changed = True
        if not cont:
            break
        need(pages <= total, "more pages than pods")
    mine = [k for k in seen if k.startswith(ns + "/")]
    need(len(seen) == total, "listed %d pods, the server had %d", len(seen), total)
    need(len(mine) == n, "listed %d of the %d new pods", len(mine), n)
    need(ns + "/pg-late" not in seen, "a pod created after the first page was listed")
    need("%s/pg-%d" % (ns, n - 1) in seen, "a pod deleted after the first page was missing")
    annotated = sum(1 for k in mine if (seen[k].metadata.annotations or {}).get(
        "coroot.com/profile-scrape") == "true")
    need(annotated == (n + 4) // 5, "%d annotated pods, expected %d", annotated, (n + 4) // 5)
    # A namespaced, label-selected list, paginated too (the JSON is read without the
    # client's models: decoding them is slow and was covered above).
    names = []
    cont = None
    while True:
        resp = json.loads(v1.list_namespaced_pod(ns, limit=250, _continue=cont,
                                                 label_selector="app=pg,pod-template-hash",
                                                 _preload_content=False).data)
        names += [p["metadata"]["name"] for p in resp["items"]]
        cont = resp["metadata"].get("continue")
        if not cont:
            break
    # pg-(n-1) was deleted meanwhile; pg-late has no labels.
    need(len(names) == n - 1, "namespaced selected list gave %d pods, expected %d",
         len(names), n - 1)
    return "%d pods in %d pages of 100, snapshot consistent" % (len(seen), pages)


def collect(stream, want, seconds):
    """Events from a watch stream until want(events) or the deadline."""
    events = []
    deadline = time.monotonic() + seconds
    for ev in stream:
        events.append(ev)
        if want(events) or time.monotonic() > deadline:
            break
    return events


def later(seconds, fn):
    t = threading.Thread(target=lambda: (time.sleep(seconds), fn()), daemon=True)
    t.start()
    return t


def scenario_watch(v1, raw, args):
    ns = "watch-" + str(os.getpid())
    raw.control("pods", pod("before", ns, {"app": "w"}))
    rv = v1.list_pod_for_all_namespaces(limit=1).metadata.resource_version

    def changes():
        raw.control("pods", pod("w1", ns, {"app": "w"}))
        raw.control("pods", pod("w1", ns, {"app": "w", "tier": "gold"}))
        raw.control("replicasets", {"metadata": {"name": "rs1", "namespace": ns}})
        raw.request("DELETE", "/_control/pods/%s/w1" % ns, auth=False)

    later(0.5, changes)
    w = watch.Watch()
    mine = lambda evs: [(e["type"], e["object"].metadata.name) for e in evs  # noqa: E731
                        if e["object"].metadata.namespace == ns]
    events = collect(w.stream(v1.list_pod_for_all_namespaces, resource_version=rv,
                              timeout_seconds=10),
                     lambda evs: len(mine(evs)) >= 3, 10)
    w.stop()
    got = mine(events)
    need(got == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")],
         "events %s", got)
    labels = [e["object"].metadata.labels for e in events if e["object"].metadata.namespace == ns]
    need(labels[1].get("tier") == "gold", "MODIFIED event lacks the new label: %s", labels[1])
    rvs = [e["object"].metadata.resource_version for e in events]
    need(len(set(rvs)) == len(rvs), "resource versions repeat: %s", rvs)
    need(all(e["object"].kind == "Pod" for e in events), "non-pod objects in a pod watch")

    # Selected namespaced watch: entering and leaving the selection.
    rv = v1.list_namespaced_pod(ns).metadata.resource_version

    def relabel():
        raw.control("pods", pod("sel", ns, {"app": "other"}))
        raw.control("pods", pod("sel", ns, {"app": "chosen"}))
        raw.control("pods", pod("sel", ns, {"app": "chosen", "x": "1"}))
        raw.control("pods", pod("sel", ns, {"app": "other"}))

    later(0.5, relabel)
    w = watch.Watch()
    events = collect(w.stream(v1.list_namespaced_pod, ns, label_selector="app=chosen",
                              resource_version=rv, timeout_seconds=10),
                     lambda evs: len(evs) >= 3, 10)
    w.stop()
    got = [(e["type"], e["object"].metadata.name, e["object"].metadata.labels.get("app"))
           for e in events]
    need(got == [("ADDED", "sel", "chosen"), ("MODIFIED", "sel", "chosen"),
                 ("DELETED", "sel", "chosen")], "selected watch events %s", got)
    return "all-namespaces and selected watches saw %d + %d events" % (len(mine(events)) + 3, 3)


def expect_410(fn, what):
    try:
        fn()
    except ApiException as e:
        need(e.status == 410, "%s: status %s, expected 410 (%s)", what, e.status, e.reason)
        return str(e.reason)
    raise Fail("%s: no 410" % what)


def scenario_stale(v1, raw, args):
    ns = "stale-" + str(os.getpid())
    raw.control("pods", pod("s0", ns))
    raw.control("pods", pod("s00", ns))
    first = v1.list_pod_for_all_namespaces(limit=1)
    rv = first.metadata.resource_version
    cont = first.metadata._continue
    need(cont, "no continue token with limit=1")
    raw.control("pods", pod("s1", ns))
    raw.control("expire")

    def watch_old():
        w = watch.Watch()
        for _ in w.stream(v1.list_pod_for_all_namespaces, resource_version=rv, timeout_seconds=5):
            pass

    reason = expect_410(watch_old, "watch from an expired resourceVersion")
    need("Expired" in reason and "too old resource version" in reason, "reason %r", reason)
    expect_410(lambda: v1.list_pod_for_all_namespaces(limit=1, _continue=cont),
               "list with an expired continue token")
    # The relist gives a resourceVersion that can be watched from.
    rv2 = v1.list_pod_for_all_namespaces(limit=1).metadata.resource_version
    later(0.3, lambda: raw.control("pods", pod("s2", ns)))
    w = watch.Watch()
    evs = collect(w.stream(v1.list_pod_for_all_namespaces, resource_version=rv2,
                           timeout_seconds=5), lambda e: len(e) >= 1, 5)
    w.stop()
    need([(e["type"], e["object"].metadata.name) for e in evs] == [("ADDED", "s2")],
         "after relist: %s", [(e["type"], e["object"].metadata.name) for e in evs])

    # Restart: objects kept, resource versions renumbered, old ones too old.
    before = {p.metadata.name: p.metadata.resource_version
              for p in v1.list_namespaced_pod(ns).items}
    old_rv = v1.list_pod_for_all_namespaces(limit=1).metadata.resource_version
    raw.control("restart")
    after = v1.list_namespaced_pod(ns)
    names = {p.metadata.name: p.metadata.resource_version for p in after.items}
    need(set(names) == set(before), "restart lost objects: %s vs %s", sorted(names), sorted(before))
    need(all(names[k] != before[k] for k in names), "resource versions not renumbered")
    need(after.metadata.resource_version != old_rv, "list resourceVersion unchanged by restart")

    def watch_pre_restart():
        w = watch.Watch()
        for _ in w.stream(v1.list_pod_for_all_namespaces, resource_version=old_rv,
                          timeout_seconds=5):
            pass

    expect_410(watch_pre_restart, "watch from a resourceVersion before the restart")
    return "expired watch, continue token and pre-restart resourceVersion all gave 410"


def scenario_chunked(v1, raw, args):
    size = int(args.arg or 7)
    ns = "chunked-" + str(os.getpid())
    raw.control("pods", pod("c0", ns))
    raw.control("chunking", {"size": size, "batch": 2})
    try:
        rv = v1.list_namespaced_pod(ns).metadata.resource_version

        def changes():
            for i in range(1, 6):
                raw.control("pods", pod("c%d" % i, ns, {"n": str(i)}))
            raw.request("DELETE", "/_control/pods/%s/c0" % ns, auth=False)

        later(0.3, changes)
        w = watch.Watch()
        evs = collect(w.stream(v1.list_namespaced_pod, ns, resource_version=rv,
                               timeout_seconds=15), lambda e: len(e) >= 6, 15)
        w.stop()
        got = [(e["type"], e["object"].metadata.name) for e in evs]
        need(got == [("ADDED", "c%d" % i) for i in range(1, 6)] + [("DELETED", "c0")],
             "events %s", got)
        # Initial state of a watch without resourceVersion, in 1-byte chunks.
        raw.control("chunking", {"size": 1, "batch": 1})
        w = watch.Watch()
        evs = collect(w.stream(v1.list_namespaced_pod, ns, timeout_seconds=5),
                      lambda e: len(e) >= 5, 5)
        w.stop()
        need(sorted(e["object"].metadata.name for e in evs) == ["c%d" % i for i in range(1, 6)],
             "initial events %s", [e["object"].metadata.name for e in evs])
    finally:
        raw.control("chunking", {"size": 0, "batch": 1})
    return "events written in %d-byte and 1-byte chunks parsed" % size


def scenario_schema(v1, raw, args):
    import kube_schema
    val = kube_schema.Validator(args.swagger)
    ns = "schema-" + str(os.getpid())
    raw.control("bulk", {"count": 40, "namespace": ns, "prefix": "sc", "annotated_every": 3,
                         "managed_fields": True, "deployments": 2})
    raw.control("pods", pod("plain", ns, {"app": "plain"}, annotations={"a": "<b>&"}))
    raw.control("pods", {"metadata": {"name": "pending", "namespace": ns},
                         "status": {"phase": "Pending"}})
    raw.control("pods", {"metadata": {"name": "done", "namespace": ns},
                         "spec": {"restartPolicy": "Never"}, "status": {"phase": "Succeeded"}})
    raw.control("namespaces", {"metadata": {"name": ns + "-extra", "labels": {"team": "a"}}})
    checked = {"documents": 0, "objects": 0, "events": 0, "managed_fields": 0}
    problems = []

    def doc(path, obj):
        errs = val.check_document(obj)
        problems.extend("%s: %s" % (path, e) for e in errs)
        checked["documents"] += 1
        items = obj.get("items") if isinstance(obj.get("items"), list) else [obj]
        for it in items:
            if isinstance(it, dict) and (it.get("metadata") or {}).get("managedFields"):
                checked["managed_fields"] += 1
        checked["objects"] += len(items)

    table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    partial = {"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"}
    agg = {"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                     "application/json"}
    gets = [
        ("/api", None, 200), ("/apis", None, 200), ("/api", agg, 200), ("/apis", agg, 200),
        ("/api/v1", None, 200), ("/apis/apps/v1", None, 200), ("/apis/apps", None, 200),
        ("/api/v1/pods", None, 200), ("/api/v1/pods?limit=7", None, 200),
        ("/api/v1/namespaces/%s/pods" % ns, None, 200),
        ("/api/v1/namespaces/%s/pods/sc-3" % ns, None, 200),
        ("/api/v1/namespaces/%s/pods/pending" % ns, None, 200),
        ("/api/v1/namespaces/%s/pods/done" % ns, None, 200),
        ("/api/v1/namespaces/%s/pods/plain" % ns, None, 200),
        ("/api/v1/namespaces", None, 200), ("/api/v1/namespaces/" + ns, None, 200),
        ("/apis/apps/v1/replicasets", None, 200),
        ("/apis/apps/v1/namespaces/%s/replicasets" % ns, None, 200),
        ("/apis/apps/v1/deployments", None, 200), ("/apis/apps/v1/daemonsets", None, 200),
        ("/apis/apps/v1/statefulsets", None, 200),
        ("/api/v1/pods?fieldSelector=status.phase%3DRunning&labelSelector=app", None, 200),
        ("/api/v1/pods?limit=5", table, 200), ("/api/v1/namespaces/%s/pods/sc-1" % ns, table, 200),
        ("/apis/apps/v1/replicasets", table, 200), ("/api/v1/namespaces", table, 200),
        ("/api/v1/pods?limit=3", partial, 200),
        ("/api/v1/namespaces/%s/pods/missing" % ns, None, 404),
        ("/api/v1/pods?labelSelector=a%20b", None, 400),
        ("/api/v1/pods?fieldSelector=spec.bogus%3Dx", None, 400),
        ("/api/v1/nothing", None, 404),
    ]
    for path, headers, code in gets:
        st, obj = raw.get_json(path, headers)
        need(st == code, "%s: HTTP %d, expected %d", path, st, code)
        doc(path, obj)
    # Watches: initial state, every event type, bookmarks, a selected watch's synthetic
    # ADDED/DELETED, an ERROR event.
    rv = raw.get_json("/api/v1/namespaces/%s/pods" % ns)[1]["metadata"]["resourceVersion"]

    def changes():
        raw.control("pods", pod("plain", ns, {"app": "plain", "v": "2"}))
        raw.control("pods", pod("plain", ns, {"app": "gone"}))
        raw.request("DELETE", "/_control/pods/%s/pending" % ns, auth=False)

    later(0.3, changes)
    watches = [
        "/api/v1/namespaces/%s/pods?watch=1&resourceVersion=%s&allowWatchBookmarks=true"
        "&timeoutSeconds=2" % (ns, rv),
        "/api/v1/namespaces/%s/pods?watch=1&labelSelector=app%%3Dplain&resourceVersion=%s"
        "&timeoutSeconds=2" % (ns, rv),
        "/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=1",
        "/apis/apps/v1/replicasets?watch=true&allowWatchBookmarks=true&timeoutSeconds=1",
        "/api/v1/namespaces?watch=true&allowWatchBookmarks=true&timeoutSeconds=1",
        "/api/v1/pods?watch=1&resourceVersion=1&timeoutSeconds=1",
    ]
    types = set()
    results = {}

    def run(path):
        results[path] = raw.watch_lines(path)

    threads = [threading.Thread(target=run, args=(p,)) for p in watches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for path in watches:
        st, hdrs, lines = results[path]
        need(st == 200, "%s: HTTP %d", path, st)
        need(hdrs.get("transfer-encoding") == "chunked", "%s: not chunked", path)
        for i, line in enumerate(lines):
            ev = json.loads(line)
            types.add(ev["type"])
            errs = val.check_event(ev, "%s#%d" % (path, i))
            problems.extend(errs)
            checked["events"] += 1
            if ev["type"] in ("ADDED", "MODIFIED", "DELETED") and \
                    ev["object"]["metadata"].get("managedFields"):
                checked["managed_fields"] += 1
    need(types == {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"},
         "watch event types seen: %s", sorted(types))
    sel = [json.loads(x)["type"] for x in results[watches[1]][2]]
    need(sel == ["MODIFIED", "DELETED"], "selected watch: %s", sel)
    need(checked["managed_fields"] >= 40, "only %d objects with managedFields checked",
         checked["managed_fields"])
    if problems:
        raise Fail("%d schema problems:\n  %s" % (len(problems), "\n  ".join(problems[:30])))
    return ("%(documents)d documents (%(objects)d objects) and %(events)d watch events valid, "
            "%(managed_fields)d with managedFields" % checked)


def scenario_many_watches(v1, raw, args):
    n = int(args.arg or 40)
    ns = "many-" + str(os.getpid())
    base = raw.control("stats", method="GET")
    need(base["watches_open"] == 0, "%d watches already open", base["watches_open"])
    rv = v1.list_namespaced_pod(ns).metadata.resource_version
    results = [None] * n

    def one(i):
        path = "/api/v1/namespaces/%s/pods?watch=1&resourceVersion=%s&timeoutSeconds=30" % (ns, rv)
        if i % 2:
            path += "&allowWatchBookmarks=true"
        st, _, lines = raw.watch_lines(path, until=lambda evs: any(
            b'"ADDED"' in x for x in evs))
        results[i] = (st, lines)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while raw.control("stats", method="GET")["watches_open"] < n:
        need(time.monotonic() < deadline, "only %d of %d watches opened",
             raw.control("stats", method="GET")["watches_open"], n)
        time.sleep(0.05)
    t0 = time.monotonic()
    raw.control("pods", pod("ping", ns))
    for t in threads:
        t.join(15)
    latency = time.monotonic() - t0
    ok = sum(1 for r in results if r and r[0] == 200 and any(b'"ping"' in x for x in r[1]))
    need(ok == n, "%d of %d watches saw the event", ok, n)
    deadline = time.monotonic() + 5
    while True:
        st = raw.control("stats", method="GET")
        if st["watches_open"] == 0 and st["threads"] <= base["threads"] + 1:
            break
        need(time.monotonic() < deadline, "after the clients left: %d watches open, "
             "%d threads (%d before)", st["watches_open"], st["threads"], base["threads"])
        time.sleep(0.1)
    return "%d watches got the event within %.2f s; all closed, threads %d -> %d" % (
        n, latency, base["threads"], st["threads"])


def scenario_streaming(v1, raw, args):
    ns = "stream-" + str(os.getpid())
    for i in range(3):
        raw.control("pods", pod("st%d" % i, ns))
    path = ("/api/v1/namespaces/%s/pods?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
            "&resourceVersionMatch=NotOlderThan&resourceVersion=&timeoutSeconds=3" % ns)
    st, _, lines = raw.watch_lines(path, until=lambda evs: b"initial-events-end" in evs[-1])
    if args.arg == "rejected":
        need(st == 422, "streaming list answered %d, expected 422", st)
        body = json.loads(lines[0])
        need(body.get("reason") == "Invalid" and "sendInitialEvents" in body.get("message", ""),
             "rejection: %s", body)
        return "streaming list refused with 422 Invalid, as with the WatchList gate off"
    need(st == 200, "streaming list answered %d", st)
    evs = [json.loads(x) for x in lines]
    need([e["type"] for e in evs] == ["ADDED"] * 3 + ["BOOKMARK"], "events %s",
         [e["type"] for e in evs])
    ann = evs[-1]["object"]["metadata"].get("annotations", {})
    need(ann.get("k8s.io/initial-events-end") == "true", "bookmark annotations %s", ann)
    # Without allowWatchBookmarks the request is invalid.
    st, _, _ = raw.request("GET", path.replace("&allowWatchBookmarks=true", ""))
    need(st == 422, "streaming list without bookmarks answered %d", st)
    return "3 ADDED then the initial-events-end BOOKMARK"


def scenario_protocol(v1, raw, args):
    ns = "proto-" + str(os.getpid())
    raw.control("bulk", {"count": 60, "namespace": ns, "prefix": "gz", "managed_fields": True})
    st, h, body = raw.request("GET", "/api/v1/namespaces/%s/pods" % ns,
                              headers={"Accept-Encoding": "gzip"})
    need(st == 200 and h.get("content-encoding") == "gzip", "large list not gzipped: %s", h)
    plain = gzip.decompress(body)
    need(len(plain) > 128 * 1024 and len(json.loads(plain)["items"]) == 60,
         "gzipped list content")
    st, h, body = raw.request("GET", "/api/v1/namespaces/%s/pods?limit=2" % ns,
                              headers={"Accept-Encoding": "gzip"})
    need(st == 200 and "content-encoding" not in h, "small list gzipped")
    # Watch framing: chunked, one JSON object per line, application/json.
    st, h, lines = raw.watch_lines("/api/v1/namespaces/%s/pods?watch=1&timeoutSeconds=1" % ns)
    need(h.get("content-type") == "application/json" and h.get("transfer-encoding") == "chunked",
         "watch headers %s", h)
    need(len(lines) == 60 and all(x.endswith(b"}\n") for x in lines), "watch lines")
    # Compressed watch streams, when asked for (a real server does not compress them).
    raw.control("gzip", {"threshold": 128 * 1024, "watch": True})
    try:
        st, h, body = raw.request("GET", "/api/v1/namespaces/%s/pods?watch=1&timeoutSeconds=1"
                                  % ns, headers={"Accept-Encoding": "gzip"})
    finally:
        raw.control("gzip", {"threshold": 128 * 1024, "watch": False})
    need(st == 200 and h.get("content-encoding") == "gzip", "gzip watch headers %s", h)
    lines = gzip.decompress(body).splitlines()
    need(len(lines) == 60 and all(json.loads(x)["type"] == "ADDED" for x in lines),
         "gzip watch: %d lines", len(lines))
    st, _, _ = raw.request("GET", "/api/v1/pods",
                           headers={"Accept": "application/vnd.kubernetes.protobuf"})
    need(st == 406, "protobuf-only Accept answered %d", st)
    st, _, body = raw.request("GET", "/api/v1/pods?limit=1&continue=bm90LWEtdG9rZW4")
    need(st == 400 and b"continue key is not valid" in body, "bad continue: %d %s", st, body)
    cur = int(raw.control("stats", method="GET")["resource_version"])
    t0 = time.monotonic()
    st, _, body = raw.request("GET", "/api/v1/pods?watch=1&resourceVersion=%d" % (cur + 1000))
    need(st == 504 and b"Too large resource version" in body, "future rv: %d %s", st, body)
    need(time.monotonic() - t0 >= 2.5, "future rv answered without waiting")
    st, _, _ = raw.request("GET", "/api/v1/pods", auth=False)
    need(st == 401 or not raw.auth, "no credentials answered %d", st)
    st, _, _ = raw.request("POST", "/api/v1/namespaces/default/pods", body={})
    need(st == 405, "POST answered %d", st)
    st, _, body = raw.request("GET", "/openapi/v2",
                              headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    need(st in (404, 406), "openapi protobuf answered %d", st)
    return "gzip, chunked framing, 406, 400, 504, 405 as a real server"


def scenario_faults(v1, raw, args):
    ns = "faults-" + str(os.getpid())
    raw.control("pods", pod("f0", ns))
    lst = "/api/v1/namespaces/%s/pods" % ns
    wat = lst + "?watch=1&timeoutSeconds=1"

    def fault(kind, **kw):
        raw.control("fault", dict({"kind": kind, "count": 1}, **kw))

    fault("html_500")
    st, h, body = raw.request("GET", lst)
    need(st == 500 and h["content-type"].startswith("text/html"), "html_500: %d %s", st, h)
    fault("status_429")
    st, h, body = raw.request("GET", wat)
    need(st == 429 and h.get("retry-after") == "1" and json.loads(body)["code"] == 429, "429")
    for kind, code in (("status_503", 503), ("status_401", 401), ("status_403", 403)):
        fault(kind)
        st, _, body = raw.request("GET", lst)
        need(st == code and json.loads(body)["code"] == code, "%s: %d", kind, st)
    st, _, _ = raw.request("GET", lst)
    need(st == 200, "fault count not honoured")
    fault("bad_json", verb="watch")
    st, _, lines = raw.watch_lines(wat)
    need(st == 200 and not lines[0].startswith(b"{\"type\"") and
         json.loads(lines[1])["type"] == "ADDED", "bad_json watch: %s", lines[:2])
    fault("bad_json", verb="list")
    st, _, body = raw.request("GET", lst)
    try:
        json.loads(body)
        raise Fail("bad_json list body parsed")
    except ValueError:
        pass
    fault("wrong_content_type")
    st, h, body = raw.request("GET", lst)
    need(st == 200 and h["content-type"].startswith("text/html"), "wrong_content_type")
    fault("huge_event")
    st, _, lines = raw.watch_lines(wat, until=lambda e: len(e) >= 1, timeout=60)
    need(len(lines[0]) >= 64 << 20 and json.loads(lines[0])["type"] == "ADDED",
         "huge_event line of %d bytes", len(lines[0]))
    fault("endless")
    c = raw.conn(30)
    c.request("GET", wat, headers=raw.auth)
    r = c.getresponse()
    got = r.read(4 << 20)
    need(r.status == 200 and b"\n" not in got and len(got) == 4 << 20, "endless")
    c.close()
    fault("slow", seconds=1.5)
    t0 = time.monotonic()
    st, _, _ = raw.request("GET", lst)
    need(st == 200 and time.monotonic() - t0 >= 1.4, "slow")
    fault("huge_list")
    c = raw.conn(120)
    c.request("GET", lst + "?limit=10", headers=raw.auth)
    r = c.getresponse()
    total = 0
    head = r.read(4096)
    total += len(head)
    tail = b""
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
        tail = (tail + chunk)[-64:]
    c.close()
    need(head.startswith(b'{"kind":"PodList"') and tail.endswith(b"]}\n"), "huge_list framing")
    # Only the end of the stream is checked: the whole is ~200 MB.
    need(total > 100000 * 1000, "huge_list of %d bytes", total)
    # /_control/drop: the stream ends without its last chunk, after half a line if asked.
    for partial in (False, True):
        data, err = read_until_dropped(raw, wat.replace("timeoutSeconds=1", "timeoutSeconds=30"),
                                       {"partial": partial})
        need(err is not None, "drop (partial=%s): the stream ended cleanly", partial)
        need(data.count(b"\n") == 1 and json.loads(data.split(b"\n")[0])["type"] == "ADDED",
             "drop: %r", data[:200])
        need(data.endswith(b"\n") != partial, "drop (partial=%s): stream ended with %r",
             partial, data[-40:])
    # Nothing left behind.
    deadline = time.monotonic() + 5
    while raw.control("stats", method="GET")["watches_open"]:
        need(time.monotonic() < deadline, "watches left open after the faults")
        time.sleep(0.1)
    need(not raw.control("stats", method="GET")["faults_pending"], "faults left pending")
    return "11 fault kinds and drop behave as documented (huge_list %d MB)" % (total >> 20)


RBAC = "rbac.authorization.k8s.io"
ACTION_VERBS = {"get": "get", "list": "list", "watch": "watch", "watchlist": "watch",
                "post": "create", "put": "update", "patch": "patch", "delete": "delete",
                "deletecollection": "deletecollection"}


def swagger_resources(swagger_path):
    """{(group, resource): {"verbs", "namespaced", "kind"}} of the v1 group-versions of the
    OpenAPI document: the verbs from x-kubernetes-action of the paths (watch paths
    included), namespaced when a namespaces/{namespace}/ path exists, the kind from the
    x-kubernetes-group-version-kind of the operations."""
    import re
    with open(swagger_path) as f:
        doc = json.load(f)
    path_re = re.compile(r"^/(?:api/v1|apis/([^/]+)/v1)/(?:watch/)?(namespaces/\{namespace\}/)?"
                         r"([a-z]+)(?:/\{name\})?$")
    out = {}
    for path, item in doc.get("paths", {}).items():
        m = path_re.match(path)
        if not m or (m.group(3) == "namespaces" and m.group(2)):
            continue
        entry = out.setdefault((m.group(1) or "", m.group(3)),
                               {"verbs": set(), "namespaced": False, "kind": None})
        entry["namespaced"] |= bool(m.group(2))
        for method, op in item.items():
            if method == "parameters":
                continue
            verb = ACTION_VERBS.get(op.get("x-kubernetes-action"))
            if verb:
                entry["verbs"].add(verb)
            if verb in ("get", "create"):
                entry["kind"] = op.get("x-kubernetes-group-version-kind", {}).get("kind")
    return out


def scenario_resources(v1, raw, args):
    """Core v1 service accounts, services, secrets and config maps, and RBAC roles and
    bindings: discovery as in the OpenAPI document, the official client's lists, reads,
    404s and watches, and every answer valid against the schema."""
    import base64
    import kube_schema
    val = kube_schema.Validator(args.swagger)
    rbac = client.RbacAuthorizationV1Api()
    pid = str(os.getpid())
    ns = "res-" + pid
    secret_value = "s3cret-value-" + pid
    ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": "reader-" + pid}
    raw.control("serviceaccounts", {"metadata": {"name": "agent", "namespace": ns},
                                    "automountServiceAccountToken": False})
    raw.control("services", {"metadata": {"name": "web", "namespace": ns}, "spec": {
        "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80,
                                               "targetPort": "http"}]}})
    raw.control("services", {"metadata": {"name": "web-headless", "namespace": ns}, "spec": {
        "clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    raw.control("services", {"metadata": {"name": "edge", "namespace": ns}, "spec": {
        "type": "NodePort", "ports": [{"port": 443, "protocol": "TCP"}]}})
    raw.control("secrets", {"metadata": {"name": "key", "namespace": ns},
                            "stringData": {"api-key": secret_value}})
    raw.control("configmaps", {"metadata": {"name": "cfg", "namespace": ns},
                               "data": {"a": "1", "b": "2"}})
    raw.control("roles", {"metadata": {"name": "pods", "namespace": ns}, "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]})
    raw.control("rolebindings", {"metadata": {"name": "pods", "namespace": ns},
                                 "roleRef": dict(ref, kind="Role", name="pods"),
                                 "subjects": [{"kind": "ServiceAccount", "name": "agent",
                                               "namespace": ns}]})
    raw.control("clusterroles", {"metadata": {"name": "reader-" + pid}, "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["list", "watch"]}]})
    raw.control("clusterrolebindings", {"metadata": {"name": "reader-" + pid}, "roleRef": ref,
                                        "subjects": [{"kind": "ServiceAccount", "name": "agent",
                                                      "namespace": ns},
                                                     {"kind": "Group", "name": "ops"}]})
    problems = []

    # Discovery: every served resource as the OpenAPI document has it.
    spec = swagger_resources(args.swagger)
    agg_accept = {"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;"
                            "as=APIGroupDiscoveryList"}
    groups = [g["name"] for g in raw.get_json("/apis")[1]["groups"]]
    need(groups[:2] == ["apps", RBAC], "/apis lists %s", groups)
    aggregated = {}
    for path in ("/api", "/apis"):
        st, doc = raw.get_json(path, agg_accept)
        problems += val.check_document(doc, path)
        for item in doc["items"]:
            for r in item["versions"][0]["resources"]:
                aggregated[(item["metadata"]["name"], r["resource"])] = r
    served = 0
    for group in [""] + groups:
        path = "/api/v1" if not group else "/apis/%s/v1" % group
        st, doc = raw.get_json(path)
        need(st == 200, "%s: HTTP %d", path, st)
        problems += val.check_document(doc, path)
        if not group:
            need(raw.get_json("/apis/" + RBAC)[1].get("preferredVersion", {}).get(
                "groupVersion") == RBAC + "/v1", "/apis/%s: no preferred version", RBAC)
        for r in doc["resources"]:
            if "/" in r["name"]:
                continue
            key = (group, r["name"])
            want = spec.get(key)
            need(want is not None, "%s/%s is not in the OpenAPI document", path, r["name"])
            need(sorted(r["verbs"]) == sorted(want["verbs"]), "%s %s: verbs %s, OpenAPI %s",
                 path, r["name"], r["verbs"], sorted(want["verbs"]))
            need(r["namespaced"] == want["namespaced"] and r["kind"] == want["kind"],
                 "%s %s: namespaced %s kind %s, OpenAPI %s %s", path, r["name"],
                 r["namespaced"], r["kind"], want["namespaced"], want["kind"])
            need(r["singularName"] == r["kind"].lower(), "%s %s: singularName %r", path,
                 r["name"], r["singularName"])
            agg = aggregated.get(key)
            need(agg is not None and agg["verbs"] == r["verbs"] and
                 agg["scope"] == ("Namespaced" if r["namespaced"] else "Cluster") and
                 agg.get("shortNames") == r.get("shortNames") and
                 agg.get("categories") == r.get("categories") and
                 agg["singularResource"] == r["singularName"] and
                 agg["responseKind"]["kind"] == r["kind"],
                 "%s %s: aggregated discovery disagrees: %s", path, r["name"], agg)
            served += 1
    short = {(g, r): a.get("shortNames") for (g, r), a in aggregated.items()}
    need(short[("", "serviceaccounts")] == ["sa"] and short[("", "services")] == ["svc"] and
         short[("", "configmaps")] == ["cm"] and short[("", "secrets")] is None and
         aggregated[("", "services")].get("categories") == ["all"],
         "short names / categories: %s", short)

    # The official client's lists and reads.
    sas = v1.list_service_account_for_all_namespaces()
    need(any(s.metadata.name == "agent" and s.metadata.namespace == ns and
             s.automount_service_account_token is False for s in sas.items),
         "service account missing: %s", [s.metadata.name for s in sas.items])
    svcs = {s.metadata.name: s for s in v1.list_namespaced_service(ns).items}
    need(sorted(svcs) == ["edge", "web", "web-headless"], "services %s", sorted(svcs))
    web, edge = svcs["web"], svcs["edge"]
    ip = [int(x) for x in web.spec.cluster_ip.split(".")]
    need(ip[0] == 127 and 96 <= ip[1] < 112 and web.spec.cluster_i_ps == [web.spec.cluster_ip],
         "cluster IP %s outside 127.96.0.0/12", web.spec.cluster_ip)
    need(web.spec.type == "ClusterIP" and web.spec.ports[0].protocol == "TCP" and
         web.spec.ports[0].target_port == "http", "web: %s", web.spec)
    need(svcs["web-headless"].spec.cluster_ip == "None", "headless: %s",
         svcs["web-headless"].spec.cluster_ip)
    need(30000 <= edge.spec.ports[0].node_port <= 32767 and
         edge.spec.external_traffic_policy == "Cluster", "node port: %s", edge.spec.ports)
    node_ports = v1.list_service_for_all_namespaces(field_selector="spec.type=NodePort").items
    need([s.metadata.name for s in node_ports] == ["edge"], "spec.type=NodePort selected %s",
         [s.metadata.name for s in node_ports])
    secrets = v1.list_secret_for_all_namespaces(field_selector="type=Opaque").items
    mine = [s for s in secrets if s.metadata.namespace == ns]
    need(len(mine) == 1 and mine[0].type == "Opaque" and
         base64.b64decode(mine[0].data["api-key"]).decode() == secret_value and
         not mine[0].string_data, "secret: %s", [s.metadata.name for s in mine])
    cms = v1.list_config_map_for_all_namespaces().items
    need(any(c.metadata.name == "cfg" and c.data == {"a": "1", "b": "2"} for c in cms),
         "config map missing")
    crs = rbac.list_cluster_role().items
    cr = [c for c in crs if c.metadata.name == "reader-" + pid]
    need(len(cr) == 1 and [r.resources for r in cr[0].rules] == [["pods"], ["replicasets"]] and
         cr[0].rules[1].api_groups == ["apps"], "cluster role: %s", cr)
    crb = rbac.read_cluster_role_binding("reader-" + pid)
    need(crb.role_ref.name == "reader-" + pid and
         [(s.kind, s.api_group) for s in crb.subjects] == [("ServiceAccount", None),
                                                           ("Group", RBAC)],
         "cluster role binding: %s", crb)
    roles = rbac.list_role_for_all_namespaces().items
    need([r.metadata.name for r in roles if r.metadata.namespace == ns] == ["pods"], "roles")
    rbs = rbac.list_namespaced_role_binding(ns).items
    need(len(rbs) == 1 and rbs[0].role_ref.kind == "Role", "role bindings: %s", rbs)

    # 404s as a real server answers them (kubectl apply relies on it).
    for fn, args_, qualified, group, kind in (
            (rbac.read_cluster_role, ("nosuch",), "clusterroles." + RBAC, RBAC, "clusterroles"),
            (rbac.read_namespaced_role_binding, ("nosuch", ns), "rolebindings." + RBAC, RBAC,
             "rolebindings"),
            (v1.read_namespaced_secret, ("nosuch", ns), "secrets", None, "secrets"),
            (v1.read_namespaced_service_account, ("nosuch", ns), "serviceaccounts", None,
             "serviceaccounts")):
        try:
            fn(*args_)
            raise Fail("%s%s: no error" % (fn.__name__, args_))
        except ApiException as e:
            body = json.loads(e.body)
            need(e.status == 404 and body["reason"] == "NotFound" and
                 body["message"] == '%s "nosuch" not found' % qualified and
                 body["details"] == dict({"name": "nosuch", "kind": kind},
                                         **({"group": group} if group else {})),
                 "%s: %s %s", fn.__name__, e.status, e.body)
            problems += val.check_document(body, fn.__name__)

    # Watches through the client: changes made through /_control/ after the list.
    rv = rbac.list_cluster_role().metadata.resource_version

    def changes():
        raw.control("clusterroles", {"metadata": {"name": "late-" + pid}, "rules": []})
        raw.control("secrets", {"metadata": {"name": "key", "namespace": ns},
                                "stringData": {"api-key": secret_value + "-2"}})
        raw.request("DELETE", "/_control/clusterroles/late-" + pid, auth=False)

    later(0.3, changes)
    w = watch.Watch()
    evs = collect(w.stream(rbac.list_cluster_role, resource_version=rv, timeout_seconds=10),
                  lambda e: len(e) >= 2, 10)
    w.stop()
    got = [(e["type"], e["object"].metadata.name) for e in evs]
    need(got == [("ADDED", "late-" + pid), ("DELETED", "late-" + pid)], "cluster role watch %s",
         got)
    w = watch.Watch()
    evs = collect(w.stream(v1.list_namespaced_secret, ns, timeout_seconds=5),
                  lambda e: len(e) >= 1, 5)
    w.stop()
    need([(e["type"], e["object"].metadata.name) for e in evs] == [("ADDED", "key")] and
         base64.b64decode(evs[0]["object"].data["api-key"]).decode() == secret_value + "-2",
         "secret watch %s", [(e["type"], e["object"].metadata.name) for e in evs])

    # Raw answers against the schema: lists, objects, tables, watches with bookmarks.
    table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    paths = ["/api/v1/%s" % r for r in ("serviceaccounts", "services", "secrets", "configmaps")]
    paths += ["/apis/%s/v1/%s" % (RBAC, r) for r in ("roles", "rolebindings", "clusterroles",
                                                     "clusterrolebindings")]
    checked = 0
    watched = {}

    def watch_one(path):
        watched[path] = raw.watch_lines(path + "?watch=1&allowWatchBookmarks=true"
                                               "&timeoutSeconds=1")

    # The watches (a second each, ended by their timeout) run side by side.
    threads = [threading.Thread(target=watch_one, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for path in paths:
        for headers in (None, table):
            st, doc = raw.get_json(path, headers)
            need(st == 200, "%s: HTTP %d", path, st)
            problems += ["%s: %s" % (path, e) for e in val.check_document(doc)]
            if headers:
                rows = [r for r in doc["rows"] if r["object"]["metadata"].get("namespace")
                        in (ns, None)]
                need(rows, "%s: no table rows", path)
            checked += 1
        need(path in watched, "%s: the watch did not end", path)
        st, _, lines = watched[path]
        evs = [json.loads(x) for x in lines]
        need(st == 200 and evs and evs[-1]["type"] == "BOOKMARK", "%s watch: %s", path,
             [e["type"] for e in evs])
        for i, ev in enumerate(evs):
            problems += ["%s#%d: %s" % (path, i, e) for e in val.check_event(ev)]
        checked += len(evs)
    svc_table = raw.get_json("/api/v1/namespaces/%s/services/edge" % ns, table)[1]
    need([c["name"] for c in svc_table["columnDefinitions"]] ==
         ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"] and
         svc_table["rows"][0]["cells"][4] == "443:%d/TCP" % edge.spec.ports[0].node_port,
         "service table: %s", svc_table["rows"])
    if problems:
        raise Fail("%d schema problems:\n  %s" % (len(problems), "\n  ".join(problems[:30])))
    return ("%d resources served as the OpenAPI document has them; 8 kinds listed, read and "
            "watched by the client; %d answers valid" % (served, checked))


def read_until_dropped(raw, path, drop_body):
    """Opens a watch, waits for its first line, asks the server to drop it; returns the
    bytes received and the exception that ended the read (None for a clean end)."""
    c = raw.conn(30)
    c.request("GET", path, headers=raw.auth)
    r = c.getresponse()
    got = {"data": b"", "err": None}
    first = threading.Event()

    def reader():
        try:
            while True:
                b = r.read1(65536)
                if not b:
                    break
                got["data"] += b
                if b"\n" in got["data"]:
                    first.set()
        except Exception as e:  # IncompleteRead, connection reset...
            got["err"] = e
        first.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    first.wait(10)
    raw.control("drop", drop_body)
    t.join(10)
    c.close()
    return got["data"], got["err"]


SCENARIOS = {
    "paginate": scenario_paginate, "watch": scenario_watch, "stale": scenario_stale,
    "chunked": scenario_chunked, "schema": scenario_schema, "many_watches": scenario_many_watches,
    "streaming": scenario_streaming, "protocol": scenario_protocol, "faults": scenario_faults,
    "resources": scenario_resources,
}


def main():
    ap = argparse.ArgumentParser(description="fake Kubernetes API server checks")
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--swagger", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "k8s", "swagger-v1.34.json"))
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("arg", nargs="?")
    args = ap.parse_args()
    kubernetes.config.load_kube_config(config_file=args.kubeconfig)
    cfg = client.Configuration.get_default_copy()
    v1 = client.CoreV1Api()
    raw = Raw(cfg)
    t0 = time.monotonic()
    try:
        detail = SCENARIOS[args.scenario](v1, raw, args)
    except Fail as e:
        print("FAIL %s: %s" % (args.scenario, e))
        return 1
    except ApiException as e:
        print("FAIL %s: unexpected API error %s %s %s" % (args.scenario, e.status, e.reason,
                                                         (e.body or "")[:300]))
        return 1
    print("ok %s: %s (%.1f s)" % (args.scenario, detail, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
