#!/usr/bin/python3
"""A fake Kubernetes API server for podprof's tests (standard library only).

It behaves like a kube-apiserver 1.34 for what podprof's Kubernetes client and kubectl
use: discovery, list/watch/get of pods, namespaces, service accounts, services, secrets,
config maps, apps/v1 workloads and rbac.authorization.k8s.io/v1 roles and bindings
(kube_model.RESOURCES), selectors, pagination, resource versions with a bounded event
history, bookmarks, streaming lists, gzip, server-side tables, TLS with bearer-token and
client-certificate authentication.
Its fidelity is checked with kubectl and the official Python client
(tests/integration/kube_fidelity.c). Objects are changed only through /_control/.

Usage:
  fake_kube.py --port P (0 picks one) [--port-file FILE] [--host 127.0.0.1]
               [--tls-cert PEM --tls-key PEM] [--client-ca PEM] [--token T]
               [--forbid-token T]... [--streaming-list | --ignore-initial-events]
               [--watch-gone event|status] [--max-events N]
               [--openapi swagger.json] [--server-version 1.34.1] [--quiet]
               [--exit-with-parent]
Authentication: when --token or --client-ca is given, every API request needs a valid
client certificate (checked first, as the API server does) or bearer token, else 401;
a --forbid-token token authenticates but gets 403 on resources (discovery is allowed).
--exit-with-parent: the server exits when the process that started it is gone.
--server-version: what /version reports (an old one, e.g. 1.26.15, with
--ignore-initial-events, is a server from before streaming lists).
--ignore-initial-events: the server acts as one from before Kubernetes 1.27, which does
not know sendInitialEvents and resourceVersionMatch on watches and ignores them: a
streaming list from resourceVersion "" gets the synthetic ADDED events of any watch from
"" and never the initial-events-end bookmark.
--watch-gone: every watch (streaming lists included) answers 410 Gone, as an ERROR
event (Status 410 Expired) in an HTTP 200 stream that then ends ("event"), or as the
HTTP status 410 ("status"); lists work.
Default namespaces (default, kube-node-lease, kube-public, kube-system) always exist.

API (GET only; writes answer 405 -- state changes go through /_control/):
  /version /api /apis /api/v1 /apis/GROUP /apis/GROUP/v1 (legacy discovery, or aggregated
  discovery apidiscovery.k8s.io/v2 of /api and /apis when the Accept header asks for it,
  as kubectl does; GROUP: apps, rbac.authorization.k8s.io)
  /openapi/v2 (JSON; 406 when only protobuf is acceptable) /openapi/v3[/<group-version>]
  (converted from the v2 document) /healthz /livez /readyz
  /api/v1/RESOURCE, /api/v1/namespaces/NS/RESOURCE[/NAME] for pods, serviceaccounts,
  services, secrets, configmaps; /api/v1/namespaces[/NAME];
  /apis/apps/v1/[namespaces/NS/]{replicasets,deployments,daemonsets,statefulsets}[/NAME];
  /apis/rbac.authorization.k8s.io/v1/[namespaces/NS/]{roles,rolebindings}[/NAME],
  /apis/rbac.authorization.k8s.io/v1/{clusterroles,clusterrolebindings}[/NAME];
  also under the deprecated .../watch/... prefix. A missing object is a 404 Status
  ('clusterroles.rbac.authorization.k8s.io "x" not found', details name, group, kind).
  Query: limit, continue, labelSelector, fieldSelector, resourceVersion,
  resourceVersionMatch, watch, allowWatchBookmarks, timeoutSeconds, sendInitialEvents,
  includeObject (tables).

Semantics chosen (real-server behaviour unless said otherwise):
  - One global resourceVersion counter; every change is one event, kept in a history of
    --max-events events. A watch from rv R replays the events after R; R older than the
    history (or compacted by /_control/expire, or from before a restart) gets HTTP 200 and
    one ERROR event (Status 410 Expired "too old resource version: R (OLDEST)") and ends.
    R newer than the server's rv: wait up to 3 s, then 504 "Too large resource version".
  - Watch with resourceVersion unset, "" or "0": synthetic ADDED events for the current
    state first, then changes (real semantics of "most recent" and "any").
  - Lists: items in etcd key order ("namespace/name"); with limit, a continue token
    (base64url JSON with the list's rv and the next key) serves later pages from the same
    snapshot (reconstructed from the history); a token whose rv is no longer in the
    history answers 410 Expired. remainingItemCount is set when no selector is used.
    resourceVersion=0 serves the current state and ignores limit, like the watch cache.
    resourceVersion=N with resourceVersionMatch=Exact serves the state at N.
  - Watches with selectors follow the watch cache: an object that stops matching is sent
    as DELETED, one that starts matching as ADDED.
  - Bookmarks (allowWatchBookmarks=true) every second while idle (see /_control/bookmarks)
    and once just before timeoutSeconds ends the watch; the bookmark object is an empty
    object of the kind with only metadata.resourceVersion set, serialised as Go does
    (e.g. "creationTimestamp":null, "spec":{"containers":null} for pods).
  - Streaming list (watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&
    allowWatchBookmarks=true) only with --streaming-list: ADDED for every object, then a
    BOOKMARK annotated k8s.io/initial-events-end: "true". Without the option the server
    acts as one with the WatchList feature gate off: 422 Invalid ("sendInitialEvents is
    forbidden for watch unless the WatchList feature gate is enabled"), which clients
    (client-go's reflector) answer by falling back to list+watch; with
    --ignore-initial-events as one from before the feature (the parameters ignored).
  - gzip (Accept-Encoding: gzip) for non-watch responses larger than 128 KiB, as the API
    server does; watches are never compressed by a real server (optional here, see
    /_control/gzip).
  - Tables (Accept: application/json;as=Table;g=meta.k8s.io;v=v1) for lists, gets and
    watches, with the columns of the real printers for pods, replicasets, namespaces,
    service accounts, services, secrets, config maps, roles and bindings (Name and Age
    for the other workloads); in a watch only the first event carries the column
    definitions.
  - Secrets: nothing of their data is ever logged (the log holds methods, paths and
    status codes; validation errors name keys, never values).
  - Only JSON is served: a request accepting only protobuf or CBOR gets 406.

Control interface (same port, no authentication, JSON bodies and answers):
  POST   /_control/pods              body: a Pod (at least metadata.name; namespace
                                     defaults to "default"). Completed like a scheduled,
                                     running pod: uid, creationTimestamp, spec defaults
                                     (container "app" when none, nodeName "node-1" unless
                                     status.phase is "Pending", service-account volume),
                                     status per phase (podIP in 127.244.0.0/16, conditions,
                                     containerStatuses); fields given are kept. Created
                                     (ADDED) or replaced (MODIFIED; uid and
                                     creationTimestamp kept unless given; every post is a
                                     change, even an identical one). ?managed_fields=1 adds
                                     managedFields. Answers the stored object; 422 Status
                                     for an invalid name. A body {"items": [...]} posts
                                     several (answers {"items": [...]}).
  DELETE /_control/pods/NS/NAME      DELETED event (the object with a new rv); 404 if absent.
  POST   /_control/replicasets, DELETE /_control/replicasets/NS/NAME: the same for
         apps/v1 ReplicaSets; likewise for every resource of the API (the plural name:
         deployments, serviceaccounts, secrets, clusterroles, ...), completed as the API
         server stores them (kube_model.complete_*: e.g. a Service gets a cluster IP, a
         Secret's stringData goes into data); cluster-scoped ones are deleted with DELETE
         /_control/RESOURCE/NAME. Posting into a missing namespace creates it first.
  POST   /_control/bulk              {"count": N, "namespace": "bench", "annotated_every": K,
                                     "managed_fields": true, "node": "node-1",
                                     "prefix": "pod", "deployments": 1} -> N pods named
                                     PREFIX-I (I = 0..N-1), about 5 KiB of JSON each with
                                     managedFields (2.5 without), owned by ReplicaSets of
                                     Deployments PREFIX (or PREFIX-J, pod I in J = I % D)
                                     that are created too; pod IPs unique in 127.64.0.0/10;
                                     labels app, app.kubernetes.io/*, pod-template-hash,
                                     bench-generation "0"; ports http 8080 and pprof 6060;
                                     every K-th pod (I % K == 0) is annotated
                                     coroot.com/profile-scrape: "true" and
                                     coroot.com/profile-port: "6060". K = 0: none.
                                     One ADDED event per object. 100,000 pods take ~3 s.
                                     Answers {"created": N, "resource_version": RV,
                                     "seconds": S}.
  POST   /_control/bulk_events       {"count": N [, "namespace": NS] [, "resource": R]} ->
                                     N MODIFIED events round-robin over the pods (in key
                                     order): label bench-generation set to the event's
                                     number. Answers {"events": N, "resource_version": RV}.
  POST   /_control/expire            everything up to the current rv becomes too old: open
                                     watches get the 410 ERROR event and end; later watches
                                     from older rvs and older continue tokens get 410.
                                     Answers once the open watches have ended.
  POST   /_control/drop              every open watch connection is closed abruptly (no
                                     terminating chunk). {"partial": true}: half an event
                                     line is written first.
  POST   /_control/restart           as a restart with a new etcd: every connection
                                     dropped, history and continue tokens forgotten, objects
                                     kept with resource versions renumbered from a new,
                                     higher base (older rvs get 410).
  POST   /_control/reset             empty state (only the default namespaces), new base,
                                     connections dropped, and faults, chunking, gzip,
                                     bookmark interval and token back to the start-up ones.
  POST   /_control/chunking          {"size": N, "batch": M}: watch data is written in
                                     pieces of N bytes, each its own HTTP chunk, flushed
                                     (0 = an event at once); up to M queued events per write.
  POST   /_control/token             {"token": "new"}: only this token is accepted from now.
  POST   /_control/fault             {"kind": K, "count": N [, "verb": "list"|"watch"]
                                     [, "resource": "pods"] [, "seconds": S]}: the next N
                                     list or watch requests (of that verb/resource) get the
                                     fault. Kinds: html_500, status_429 (Retry-After: 1),
                                     status_503, status_401, status_403, bad_json (watch: a
                                     non-JSON line, then normal events; list: truncated
                                     JSON), huge_event (watch only: a 64 MiB event line,
                                     then normal events), endless (200, then bytes without
                                     a newline until the client goes), wrong_content_type
                                     (200 text/html), huge_list (list only: one page of
                                     100,000 pods whatever the limit, streamed), slow
                                     (answer after S = 30 s), gone (watch: 200 and one
                                     ERROR event 410 Expired; list: HTTP 410 Expired),
                                     status_410 (HTTP 410 Expired), brief (watch only: 200,
                                     one BOOKMARK at the current rv, and the end at once).
                                     DELETE /_control/fault clears.
  POST   /_control/gzip              {"threshold": BYTES, "watch": bool}: gzip non-watch
                                     answers larger than BYTES (default 131072), and
                                     compress watch streams (flushed per write) if watch.
  POST   /_control/bookmarks         {"interval": SECONDS}: idle bookmark period (1.0).
  GET    /_control/stats             {"pods", "replicasets", "namespaces", "objects":
                                     {resource: count}, "watches_open",
                                     "connections_open", "threads", "resource_version",
                                     "oldest_resource_version", "requests": {"list",
                                     "watch", "get", "discovery", "openapi", "control",
                                     "other"}, "requests_by_resource": {resource:
                                     {"list", "watch", "get", "initial_events"}}
                                     (initial_events: the watches with
                                     sendInitialEvents=true, counted in watch too),
                                     "responses": {code: n}, "auth_failures",
                                     "forbidden", "faults_pending", "chunking",
                                     "watches": [{"resource", "namespace", "labelSelector",
                                     "fieldSelector", "resourceVersion", "format",
                                     "last_rv", "open_seconds"}]}
Every control answer is JSON; errors are Status objects (400, 404, 422).
"""
import argparse
import base64
import bisect
import collections
import gzip
import hashlib
import http.server
import json
import os
import random
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kube_discovery as kd  # noqa: E402
import kube_model as km  # noqa: E402

MAX_CONTROL_BODY = 64 << 20
BENCH_LABEL = "bench-generation"
GZIP_THRESHOLD = 128 * 1024
TOO_LARGE_WAIT = 3.0
HUGE_EVENT_BYTES = 64 << 20
HUGE_LIST_PODS = 100000
DEFAULT_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
JSON = "application/json"
AGG_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def log(msg):
    sys.stderr.write("fake_kube: %s\n" % msg)
    sys.stderr.flush()


def dumps(obj):
    """Compact JSON as Go's encoding/json writes it (UTF-8, HTML characters escaped)."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    if "<" in s or ">" in s or "&" in s or "\u2028" in s or "\u2029" in s:
        s = (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
             .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return s.encode()


def status_obj(code, reason, message, details=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason}
    if details is not None:
        st["details"] = details
    st["code"] = code
    return st


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.status = status_obj(code, reason, message, details)
        self.code = code
        self.headers = headers or {}


def invalid_list_options(field, kind, message):
    return ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: %s: %s: %s'
                    % (field, kind, message),
                    {"group": "meta.k8s.io", "kind": "ListOptions",
                     "causes": [{"reason": "FieldValue" + kind.replace(" ", ""),
                                 "message": "%s: %s" % (kind, message), "field": field}]})


def gone(message):
    return ApiError(410, "Expired", message)


def error_details(res, name=""):
    """The details of a Status about resource res: name, group and kind (the resource's
    plural name, as the API server puts it), the empty ones left out."""
    d = {}
    if name:
        d["name"] = name
    if res.group:
        d["group"] = res.group
    d["kind"] = res.name
    return d


def not_found(res, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (res.qualified, name),
                    error_details(res, name))


# ---- the store ------------------------------------------------------------------------


class Stored:
    """One version of an object, never mutated (a change makes a new Stored).

    Objects posted through /_control/ keep their dict and cache their JSON. Bulk objects
    keep only their JSON (a Python dict of a pod costs ten times its JSON): .obj parses
    it on every use, and what selectors need (labels, field values) is cached apart."""
    __slots__ = ("_obj", "_raw", "_sel")

    def __init__(self, obj=None, raw=None, sel=None):
        self._obj = obj
        self._raw = raw
        self._sel = sel

    @property
    def obj(self):
        return self._obj if self._obj is not None else json.loads(self._raw)

    @property
    def raw(self):
        if self._raw is None:
            self._raw = dumps(self._obj)
        return self._raw

    def sel(self, res):
        """(labels, field values) for selectors."""
        if self._sel is None:
            o = self.obj
            self._sel = (o["metadata"].get("labels") or {}, res.fields(o))
        return self._sel

    def matches(self, res, lreqs, fterms):
        labels, fields = self.sel(res)
        return km.labels_match(lreqs, labels) and (not fterms or km.fields_match(fterms, fields))


class Event:
    __slots__ = ("rv", "type", "res", "key", "ns", "cur", "prev", "_line")

    def __init__(self, rv, etype, res, key, ns, cur, prev):
        self.rv, self.type, self.res, self.key, self.ns = rv, etype, res, key, ns
        self.cur, self.prev = cur, prev
        self._line = None

    def line(self):
        if self._line is None:
            self._line = b'{"type":"' + self.type.encode() + b'","object":' + self.cur.raw + b"}\n"
        return self._line


class Watcher:
    """An open watch: the events queued for it by the store, and what control asked."""

    def __init__(self, res, ns, sock):
        self.res, self.ns, self.sock = res, ns, sock
        self.queue = collections.deque()
        self.wake = threading.Event()
        self.expired = False
        self.dropped = None  # None, "abrupt" or "partial"
        self.done = threading.Event()
        self.last_rv = None
        self.started = time.time()
        self.desc = {}


def key_of(ns, name):
    return "%s/%s" % (ns, name) if ns else name


RV_FIELD = b'"resourceVersion":"'


def replace_string_value(raw, field, value):
    """raw with the string value after the first occurrence of field (b'"name":"')
    replaced, or None when field is absent."""
    i = raw.find(field)
    if i < 0:
        return None
    i += len(field)
    j = raw.index(b'"', i)
    return raw[:i] + value + raw[j:]


def with_rv(stored, rv):
    """A copy of the object with metadata.resourceVersion set (shallow copies only)."""
    if stored._obj is None:
        # Bulk objects: metadata comes first, and resourceVersion first in it.
        return Stored(raw=replace_string_value(stored.raw, RV_FIELD, str(rv).encode()),
                      sel=stored._sel)
    obj = dict(stored.obj)
    meta = dict(obj["metadata"])
    meta["resourceVersion"] = str(rv)
    obj["metadata"] = km.with_key_first(meta, km.META_ORDER)
    return Stored(obj, sel=stored._sel)


class Store:
    def __init__(self, max_events):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.max_events = max_events
        self.watchers = set()
        self.ips_used = 0
        with self.lock:
            self._init_state(1000)

    def _init_state(self, base):
        self.objects = {name: {} for name in km.RESOURCES}
        self.sorted_keys = {}  # (res, rv) -> sorted [(key, Stored)], a few cached snapshots
        self.history = []
        self.base = base
        self.rv = base
        self.floor = base  # watches and continue tokens from rv < floor are too old
        for ns in DEFAULT_NAMESPACES:
            self._put_locked("namespaces", km.complete_namespace({"metadata": {"name": ns}}))

    # -- changes (callers hold the lock) --
    def _record(self, etype, res, key, ns, cur, prev):
        ev = Event(self.rv, etype, res, key, ns, cur, prev)
        self.history.append(ev)
        if len(self.history) > self.max_events + max(16, self.max_events // 4):
            drop = len(self.history) - self.max_events
            self.floor = max(self.floor, self.history[drop - 1].rv)
            del self.history[:drop]
        elif self.max_events == 0:
            self.floor = self.rv
            self.history.clear()
        for w in self.watchers:
            if w.res == res and (w.ns is None or w.ns == ns):
                w.queue.append(ev)
                w.wake.set()
        self.changed.notify_all()

    def _ensure_namespace(self, ns):
        if ns and ns not in self.objects["namespaces"]:
            self._put_locked("namespaces", km.complete_namespace({"metadata": {"name": ns}}))

    def _put_locked(self, res, obj):
        meta = obj["metadata"]
        ns = meta.get("namespace", "") if km.RESOURCES[res].namespaced else ""
        if ns:
            self._ensure_namespace(ns)
        key = key_of(ns, meta["name"])
        prev = self.objects[res].get(key)
        self.rv += 1
        meta = dict(meta)
        if prev is not None:
            pm = prev.obj["metadata"]
            if meta.get("_generated_uid"):
                meta["uid"] = pm["uid"]
            if meta.get("_generated_ts"):
                meta["creationTimestamp"] = pm["creationTimestamp"]
        meta.pop("_generated_uid", None)
        meta.pop("_generated_ts", None)
        meta["resourceVersion"] = str(self.rv)
        obj = dict(obj)
        obj["metadata"] = km.with_key_first(meta, km.META_ORDER)
        cur = Stored(obj)
        self.objects[res][key] = cur
        self._record("MODIFIED" if prev is not None else "ADDED", res, key, ns, cur, prev)
        return cur

    def put(self, res, obj):
        with self.lock:
            return self._put_locked(res, obj)

    def put_raw_many(self, res, items):
        """items: [(ns, name, raw JSON, selector index or None)];
        metadata.resourceVersion (the first in the JSON) is set here."""
        with self.lock:
            for ns, name, raw, sel in items:
                self._put_locked_raw(res, ns, name, raw, sel)
            return self.rv

    def _put_locked_raw(self, res, ns, name, raw, sel):
        self._ensure_namespace(ns)
        key = key_of(ns, name)
        prev = self.objects[res].get(key)
        self.rv += 1
        cur = Stored(raw=replace_string_value(raw, RV_FIELD, str(self.rv).encode()), sel=sel)
        self.objects[res][key] = cur
        self._record("MODIFIED" if prev is not None else "ADDED", res, key, ns, cur, prev)

    def delete(self, res, ns, name):
        with self.lock:
            key = key_of(ns, name)
            prev = self.objects[res].pop(key, None)
            if prev is None:
                return None
            self.rv += 1
            cur = with_rv(prev, self.rv)
            self._record("DELETED", res, key, ns, cur, prev)
            return cur

    def bump_labels(self, count, ns=None, res="pods"):
        """count MODIFIED events, round-robin over the objects: the label
        bench-generation is set to the event's number."""
        resource = km.RESOURCES[res]
        with self.lock:
            keys = sorted(k for k in self.objects[res] if ns is None or k.startswith(ns + "/"))
            if not keys:
                return 0
            for i in range(count):
                key = keys[i % len(keys)]
                prev = self.objects[res][key]
                self.rv += 1
                gen = str(i)
                labels, fields = prev.sel(resource)
                labels = dict(labels, **{BENCH_LABEL: gen})
                raw = None
                if prev._obj is None:
                    # Bulk pods carry the label from birth: a change in place.
                    raw = replace_string_value(prev.raw, b'"%s":"' % BENCH_LABEL.encode(),
                                               gen.encode())
                if raw is not None:
                    raw = replace_string_value(raw, RV_FIELD, str(self.rv).encode())
                    cur = Stored(raw=raw, sel=(labels, fields))
                else:
                    obj = dict(prev.obj)
                    meta = dict(obj["metadata"])
                    meta["labels"] = dict(sorted(labels.items()))
                    meta["resourceVersion"] = str(self.rv)
                    obj["metadata"] = km.with_key_first(meta, km.META_ORDER)
                    cur = Stored(obj, sel=(labels, fields))
                self.objects[res][key] = cur
                self._record("MODIFIED", res, key, key.split("/", 1)[0] if "/" in key else "",
                             cur, prev)
            return count

    def take_ips(self, n):
        with self.lock:
            first = self.ips_used
            self.ips_used += n
            return first

    # -- whole-store operations --
    def expire(self):
        with self.lock:
            self.floor = self.rv
            self.history.clear()
            self.sorted_keys.clear()
            for w in self.watchers:
                w.expired = True
                w.wake.set()
            return list(self.watchers)

    def restart(self):
        """New base above every old rv; objects renumbered in key order."""
        with self.lock:
            base = (self.rv // 1000000 + 1) * 1000000 + random.randint(1000, 9000)
            self.rv = base
            for res in km.RESOURCES:
                for key in sorted(self.objects[res]):
                    self.rv += 1
                    self.objects[res][key] = with_rv(self.objects[res][key], self.rv)
            self.base = base
            self.floor = self.rv
            self.history.clear()
            self.sorted_keys.clear()
            self.changed.notify_all()
            return list(self.watchers)

    def reset(self):
        with self.lock:
            base = (self.rv // 1000000 + 1) * 1000000 + random.randint(1000, 9000)
            self._init_state(base)
            self.floor = self.rv
            self.changed.notify_all()
            return list(self.watchers)

    # -- reads --
    def oldest(self):
        return self.floor + 1

    def wait_for_rv(self, rv):
        """Called with the lock held: waits up to 3 s for the store to reach rv."""
        deadline = time.monotonic() + TOO_LARGE_WAIT
        while self.rv < rv:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ApiError(504, "Timeout", "Too large resource version: %d, current: %d"
                               % (rv, self.rv),
                               {"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}],
                                "retryAfterSeconds": 1})
            self.changed.wait(left)

    def snapshot(self, res, rv=None):
        """Sorted [(key, Stored)] of res at rv (None: now). Lock held by the caller."""
        if rv is None or rv == self.rv:
            rv = self.rv
        elif rv < self.floor:
            raise gone("too old resource version: %d (%d)" % (rv, self.oldest()))
        cache_key = (res, rv)
        snap = self.sorted_keys.get(cache_key)
        if snap is not None:
            return snap, rv
        state = dict(self.objects[res])
        if rv != self.rv:
            for ev in reversed(self.history):
                if ev.rv <= rv:
                    break
                if ev.res != res:
                    continue
                if ev.type == "ADDED":
                    state.pop(ev.key, None)
                else:
                    state[ev.key] = ev.prev
        snap = sorted(state.items())
        if len(self.sorted_keys) >= 8:
            self.sorted_keys.pop(next(iter(self.sorted_keys)))
        self.sorted_keys[cache_key] = snap
        return snap, rv

    def counts(self):
        with self.lock:
            return {r: len(v) for r, v in self.objects.items()}, self.rv, self.oldest()


# ---- continue tokens --------------------------------------------------------------------


def encode_continue(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"},
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_continue(token):
    try:
        pad = "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(token + pad))
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError("server does not recognize this encoded key")
        rv = int(data["rv"])
        start = data["start"]
        if rv <= 0 or not isinstance(start, str):
            raise ValueError("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        return rv, start
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, base64.binascii.Error) as e:
        raise ApiError(400, "BadRequest", "continue key is not valid: %s" % e)


# ---- media types ------------------------------------------------------------------------


def parse_accept(header):
    """[(type, {param: value})] of an Accept header, in order."""
    out = []
    for part in (header or "").split(","):
        bits = [b.strip() for b in part.split(";")]
        if not bits[0]:
            continue
        params = {}
        for b in bits[1:]:
            if "=" in b:
                k, v = b.split("=", 1)
                params[k.strip()] = v.strip()
        out.append((bits[0].lower(), params))
    return out


def negotiate(header, allow_table=False, allow_partial=False, allow_agg=False):
    """The representation to answer with: "json", "table", "partial", "aggregated", or
    None when nothing acceptable is offered (406)."""
    accepts = parse_accept(header)
    if not accepts:
        return "json"
    for mtype, params in accepts:
        if mtype not in (JSON, "application/*", "*/*"):
            continue
        as_ = params.get("as")
        if as_ is None:
            return "json"
        g, v = params.get("g"), params.get("v")
        if as_ == "Table" and g == "meta.k8s.io" and v in ("v1", "v1beta1") and allow_table:
            return "table"
        if (as_ in ("PartialObjectMetadata", "PartialObjectMetadataList") and
                g == "meta.k8s.io" and v in ("v1", "v1beta1") and allow_partial):
            return "partial"
        if as_ == "APIGroupDiscoveryList" and g == "apidiscovery.k8s.io" and v == "v2" and allow_agg:
            return "aggregated"
    return None


def parse_bool(name, value):
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False", ""):
        return False
    raise ApiError(400, "BadRequest", 'strconv.ParseBool: parsing "%s": invalid syntax (%s)'
                   % (value, name))


def parse_int(name, value):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "BadRequest", 'strconv.ParseInt: parsing "%s": invalid syntax (%s)'
                       % (value, name))


def parse_rv(value):
    try:
        rv = int(value)
        if rv < 0:
            raise ValueError
        return rv
    except (TypeError, ValueError):
        raise ApiError(400, "BadRequest", 'invalid resource version "%s"' % value)


# ---- watch output -------------------------------------------------------------------------


class ChunkWriter:
    """Writes an HTTP/1.1 chunked body: every piece its own chunk, sent at once."""

    def __init__(self, wfile, piece=0, compress=False):
        self.wfile = wfile
        self.piece = piece
        self.z = zlib.compressobj(6, zlib.DEFLATED, 31) if compress else None

    def _chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def write(self, data):
        if self.z is not None:
            data = self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)
        if self.piece > 0:
            for i in range(0, len(data), self.piece):
                self._chunk(data[i:i + self.piece])
        else:
            self._chunk(data)

    def end(self):
        if self.z is not None:
            self._chunk(self.z.flush(zlib.Z_FINISH))
        self.wfile.write(b"0\r\n\r\n")


def bookmark_object(res, rv, initial_end=False):
    """An empty object of the kind with a resourceVersion, serialised as the API server
    does for bookmarks (zero values of Go structs included)."""
    meta = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
    obj.update(res.empty)
    return obj


# ---- faults -------------------------------------------------------------------------------

FAULT_KINDS = {
    "html_500": ("list", "watch"), "status_429": ("list", "watch"),
    "status_503": ("list", "watch"), "status_401": ("list", "watch"),
    "status_403": ("list", "watch"), "bad_json": ("list", "watch"),
    "huge_event": ("watch",), "endless": ("list", "watch"),
    "wrong_content_type": ("list", "watch"), "huge_list": ("list",),
    "slow": ("list", "watch"), "gone": ("list", "watch"), "status_410": ("list", "watch"),
    "brief": ("watch",),
}

HTML_500 = (b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
            b"<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>"
            b"\r\n</body>\r\n</html>\r\n")
HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form "
             b"method=\"post\" action=\"/login\"><input name=\"user\"></form></body></html>\n")


# ---- the HTTP side ----------------------------------------------------------------------------


class Config:
    def __init__(self, args):
        self.args = args
        self.reset()

    def reset(self):
        a = self.args
        self.tokens = {a.token} if a.token else set()
        self.forbid = set(a.forbid_token or [])
        self.chunk_size = 0
        self.chunk_batch = 1
        self.gzip_threshold = GZIP_THRESHOLD
        self.gzip_watch = False
        self.bookmark_interval = 1.0
        self.faults = []


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, args, ssl_ctx):
        self.args = args
        self.ssl_ctx = ssl_ctx
        self.cfg = Config(args)
        self.store = Store(args.max_events)
        self.stats_lock = threading.Lock()
        self.requests = collections.Counter()
        self.by_resource = collections.defaultdict(collections.Counter)
        self.responses = collections.Counter()
        self.auth_failures = 0
        self.forbidden = 0
        self.conns = set()
        self.openapi_v2 = None
        self.openapi_v3 = None
        self.openapi_lock = threading.Lock()
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # Runs in the connection's thread: the TLS handshake happens here, not in accept.
        conn = request
        try:
            if self.ssl_ctx is not None:
                request.settimeout(10)
                conn = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("TLS handshake with %s:%d failed: %s" % (client_address[0], client_address[1], e))
            try:
                request.close()
            except OSError:
                pass
            return
        with self.stats_lock:
            self.conns.add(conn)
        try:
            Handler(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.stats_lock:
                self.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if not isinstance(exc, (OSError, ssl.SSLError)):
            super().handle_error(request, client_address)

    def count(self, what, res=None, initial_events=False):
        with self.stats_lock:
            self.requests[what] += 1
            if res is not None:
                self.by_resource[res][what] += 1
                if initial_events:
                    self.by_resource[res]["initial_events"] += 1

    def drop_connections(self, keep=None):
        with self.stats_lock:
            conns = [c for c in self.conns if c is not keep]
        for c in conns:
            abort_socket(c)

    def take_fault(self, verb, res):
        with self.stats_lock:
            for f in self.cfg.faults:
                if verb in f["verbs"] and (f["resource"] is None or f["resource"] == res):
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.cfg.faults.remove(f)
                    return f
        return None


def abort_socket(sock):
    """Closes the TCP connection under sock without any TLS or HTTP ending."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300
    disable_nagle_algorithm = True
    server_version = "fake-kube"

    # -- plumbing --
    def log_message(self, fmt, *args):
        if not self.server.args.quiet:
            log("%s %s" % (self.address_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        if not self.server.args.quiet:
            log("%s %s -> %s" % (self.command, self.path[:200], code))

    def send_response(self, code, message=None):
        self.answered = True
        with self.server.stats_lock:
            self.server.responses[str(code)] += 1
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def reply(self, code, body, ctype=JSON, headers=None, compressible=True):
        if isinstance(body, (dict, list)):
            body = dumps(body) + b"\n"
        enc = None
        if (compressible and len(body) > self.server.cfg.gzip_threshold and
                "gzip" in (self.headers.get("Accept-Encoding") or "")):
            body = gzip.compress(body, 5)
            enc = "gzip"
        self.send_response(code)
        self.send_header("Audit-Id", km.new_uid())
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", ctype)
        if enc:
            self.send_header("Content-Encoding", enc)
            self.send_header("Vary", "Accept-Encoding")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_error(self, err):
        self.reply(err.code, err.status, headers=err.headers)

    def start_chunked(self, ctype=JSON, compress=False):
        self.send_response(200)
        self.send_header("Audit-Id", km.new_uid())
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", ctype)
        if compress:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_CONTROL_BODY:
            raise ApiError(413, "RequestEntityTooLarge", "request body too large")
        data = self.rfile.read(n) if n else b""
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError as e:
            raise ApiError(400, "BadRequest", "body is not JSON: %s" % e)

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_PATCH(self):
        self.route()

    def do_DELETE(self):
        self.route()

    # -- routing --
    def route(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        self.query = {k: v[-1] for k, v in
                      urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        self.answered = False
        try:
            if path.startswith("/_control/"):
                self.server.count("control")
                return self.control(path[len("/_control/"):].strip("/"))
            if self.command not in ("GET", "HEAD"):
                # Drain any body so that the connection stays usable.
                n = int(self.headers.get("Content-Length") or 0)
                if 0 < n <= MAX_CONTROL_BODY:
                    self.rfile.read(n)
            user = self.authenticate()
            if user is None:
                return
            self.user = user
            return self.api(path)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True
        except Exception as e:
            if self.answered:
                # Too late for a status: end the connection.
                log("error after the answer started: %r" % e)
                self.close_connection = True
                abort_socket(self.connection)
            elif isinstance(e, ApiError):
                self.reply_error(e)
            else:
                # A bug here: answer as the API server does, and say it.
                import traceback
                traceback.print_exc()
                self.close_connection = True
                self.reply(500, status_obj(500, "InternalError",
                                           "Internal error occurred: %r" % e,
                                           {"causes": [{"message": repr(e)}]}))

    def authenticate(self):
        cfg = self.server.cfg
        if not cfg.tokens and not cfg.forbid and not self.server.args.client_ca:
            return ("system:admin", False)
        if self.server.args.client_ca and isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert()
            if cert:
                cn = dict(x[0] for x in cert.get("subject", ())).get("commonName", "")
                return (cn or "client-cert", False)
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            tok = auth[len("Bearer "):].strip()
            if tok in cfg.tokens:
                return ("system:serviceaccount:podprof:podprof", False)
            if tok in cfg.forbid:
                return ("system:serviceaccount:podprof:restricted", True)
        with self.server.stats_lock:
            self.server.auth_failures += 1
        self.reply(401, status_obj(401, "Unauthorized", "Unauthorized"))
        return None

    def api(self, path):
        if path in ("/healthz", "/livez", "/readyz"):
            self.server.count("other")
            return self.reply(200, b"ok", "text/plain; charset=utf-8")
        if path.startswith("/openapi/"):
            self.server.count("openapi")
            return self.openapi(path)
        disc = self.discovery(path)
        if disc is not None:
            self.server.count("discovery")
            return
        target = parse_resource_path(path)
        if target is None:
            self.server.count("other")
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           {})
        res, ns, name, watch_path = target
        if self.command not in ("GET", "HEAD"):
            self.server.count("other")
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource",
                           {})
        watching = watch_path or parse_bool("watch", self.query.get("watch", "false"))
        verb = "watch" if watching else ("get" if name else "list")
        self.server.count(verb, res.name, watching and self.query.get("sendInitialEvents")
                          in ("1", "t", "T", "TRUE", "true", "True"))
        if self.user[1]:
            with self.server.stats_lock:
                self.server.forbidden += 1
            scope = ('in the namespace "%s"' % ns) if ns else "at the cluster scope"
            raise ApiError(403, "Forbidden", '%s is forbidden: User "%s" cannot %s resource '
                           '"%s" in API group "%s" %s' % (res.qualified, self.user[0], verb,
                                                          res.name, res.group, scope),
                           error_details(res, name))
        if name and not watching:
            return self.get_object(res, ns, name)
        if name:
            # The deprecated watch of one object: a watch filtered on the name.
            self.query["fieldSelector"] = ",".join(
                x for x in (self.query.get("fieldSelector"), "metadata.name=" + name) if x)
        fault = self.server.take_fault(verb, res.name)
        if fault is None and watching and self.server.args.watch_gone:
            fault = {"kind": "gone" if self.server.args.watch_gone == "event" else "status_410"}
        if fault is not None:
            if self.apply_fault(fault, verb, res, ns):
                return
        if watching:
            return self.watch(res, ns, fault)
        return self.list(res, ns)

    # -- discovery --
    def discovery(self, path):
        a = self.server.args
        if path == "/version":
            major, minor = a.server_version.split(".")[:2]
            self.reply(200, {"major": major, "minor": minor, "emulationMajor": major,
                             "emulationMinor": minor, "minCompatibilityMajor": major,
                             "minCompatibilityMinor": str(int(minor) - 1),
                             "gitVersion": "v" + a.server_version,
                             "gitCommit": hashlib.sha1(a.server_version.encode()).hexdigest(),
                             "gitTreeState": "clean", "buildDate": "2025-09-09T19:44:50Z",
                             "goVersion": "go1.24.6", "compiler": "gc",
                             "platform": "linux/amd64"})
            return True
        accept = self.headers.get("Accept")
        if path in ("/api", "/apis"):
            kind = negotiate(accept, allow_agg=True)
            if kind is None:
                raise ApiError(406, "NotAcceptable", "only the following media types are "
                               "accepted: application/json, " + AGG_DISCOVERY, {})
            if kind == "aggregated":
                self.reply(200, kd.aggregated_discovery(path == "/api"), ctype=AGG_DISCOVERY)
            elif path == "/api":
                host = self.headers.get("Host") or "127.0.0.1"
                self.reply(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [
                                     {"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
            else:
                self.reply(200, kd.api_group_list())
            return True
        if path == "/api/v1":
            self.reply(200, kd.api_resource_list(""))
            return True
        segs = path.split("/")
        # /apis/GROUP and /apis/GROUP/v1
        if len(segs) in (3, 4) and segs[1] == "apis" and segs[2] and segs[2] in km.GROUPS:
            if len(segs) == 3:
                self.reply(200, dict({"kind": "APIGroup", "apiVersion": "v1"},
                                     **kd.api_group(segs[2])))
                return True
            if segs[3] == "v1":
                self.reply(200, kd.api_resource_list(segs[2]))
                return True
        return None

    def openapi(self, path):
        accept = self.headers.get("Accept") or ""
        json_ok = not accept or any(m in (JSON, "application/*", "*/*")
                                    for m, _ in parse_accept(accept))
        if not json_ok:
            raise ApiError(406, "NotAcceptable", "only the following media types are "
                           "accepted: application/json", {})
        if self.server.args.openapi is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if path == "/openapi/v2":
            return self.reply(200, self.load_openapi_v2())
        if path == "/openapi/v3":
            return self.reply(200, {"paths": {
                gv: {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (gv, h)}
                for gv, (h, _) in self.load_openapi_v3().items()}})
        gv = path[len("/openapi/v3/"):]
        docs = self.load_openapi_v3()
        if gv not in docs:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        h, body = docs[gv]
        self.reply(200, body, headers={"Etag": '"%s"' % h,
                                       "Cache-Control": "public, immutable"
                                       if self.query.get("hash") == h else "no-cache, private"})

    def load_openapi_v2(self):
        with self.server.openapi_lock:
            if self.server.openapi_v2 is None:
                with open(self.server.args.openapi, "rb") as f:
                    self.server.openapi_v2 = f.read()
            return self.server.openapi_v2

    def load_openapi_v3(self):
        raw = self.load_openapi_v2()
        with self.server.openapi_lock:
            if self.server.openapi_v3 is None:
                self.server.openapi_v3 = kd.openapi_v3_documents(json.loads(raw))
            return self.server.openapi_v3

    # -- reads --
    def list_options(self, res):
        q = self.query
        try:
            lreqs = km.parse_label_selector(q.get("labelSelector", ""))
            fterms = km.parse_field_selector(q.get("fieldSelector", ""), res.field_labels)
        except km.SelectorError as e:
            raise ApiError(400, "BadRequest", str(e))
        return lreqs, fterms

    def get_object(self, res, ns, name):
        store = self.server.store
        with store.lock:
            st = store.objects[res.name].get(key_of(ns, name))
        if st is None:
            raise not_found(res, name)
        fmt = negotiate(self.headers.get("Accept"), allow_table=True, allow_partial=True)
        if fmt is None:
            raise ApiError(406, "NotAcceptable", "only the following media types are accepted: "
                           "application/json, application/yaml", {})
        if fmt == "table":
            rv = st.obj["metadata"]["resourceVersion"]
            return self.reply(200, km.to_table(res, [st.obj], {"resourceVersion": rv},
                                               self.query.get("includeObject", "Metadata")))
        if fmt == "partial":
            return self.reply(200, km.partial_metadata(st.obj))
        self.reply(200, st.raw + b"\n")

    def list(self, res, ns):
        q = self.query
        store = self.server.store
        lreqs, fterms = self.list_options(res)
        fmt = negotiate(self.headers.get("Accept"), allow_table=True, allow_partial=True)
        if fmt is None:
            raise ApiError(406, "NotAcceptable", "only the following media types are accepted: "
                           "application/json, application/yaml", {})
        limit = parse_int("limit", q["limit"]) if q.get("limit") else 0
        cont = q.get("continue", "")
        rv_param = q.get("resourceVersion")
        match = q.get("resourceVersionMatch", "")
        if "sendInitialEvents" in q and not self.server.args.ignore_initial_events:
            raise invalid_list_options("sendInitialEvents", "Forbidden",
                                       "sendInitialEvents is forbidden for list")
        if match:
            if match not in ("Exact", "NotOlderThan"):
                raise invalid_list_options("resourceVersionMatch", "Unsupported value",
                                           '"%s": supported values: "Exact", "NotOlderThan"' % match)
            if cont:
                raise invalid_list_options("resourceVersionMatch", "Forbidden",
                                           "resourceVersionMatch is forbidden when continue is provided")
            if not rv_param:
                raise invalid_list_options("resourceVersionMatch", "Forbidden",
                                           "resourceVersionMatch is forbidden unless resourceVersion is provided")
            if match == "Exact" and rv_param == "0":
                raise invalid_list_options("resourceVersionMatch", "Forbidden",
                                           'resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
        start = ""
        with store.lock:
            if cont:
                if rv_param not in (None, "", "0"):
                    raise ApiError(400, "BadRequest",
                                   "specifying resource version is not allowed when using continue")
                rv, start = decode_continue(cont)
                if rv < store.floor or rv > store.rv:
                    raise ApiError(410, "Expired", "The provided continue parameter is too old "
                                   "to display a consistent list result. You can start a new "
                                   "list without the continue parameter, or use the continue "
                                   "token in this response to retrieve the remainder of the "
                                   "results. Continuing with the provided token results in an "
                                   "inconsistent list - objects that were created, modified, or "
                                   "deleted between the time the first chunk was returned and "
                                   "now may show up in the list.")
                snap, rv = store.snapshot(res.name, rv)
            elif rv_param in (None, ""):
                snap, rv = store.snapshot(res.name)
            elif rv_param == "0":
                snap, rv = store.snapshot(res.name)
                limit = 0
            else:
                want = parse_rv(rv_param)
                store.wait_for_rv(want)
                if match == "Exact":
                    if want < store.floor:
                        raise gone("The resourceVersion for the provided list is too old.")
                    snap, rv = store.snapshot(res.name, want)
                else:
                    snap, rv = store.snapshot(res.name)
        # Pagination and filters, outside the lock (snapshots are immutable).
        prefix = ns + "/" if ns else ""
        if ns and start:
            start = prefix + start
        i = bisect.bisect_left(snap, (start.rstrip("\x00") + "\x00",)) if start else \
            bisect.bisect_left(snap, (prefix,))
        items = []
        next_key = None
        remaining = 0
        selecting = bool(lreqs or fterms)
        while i < len(snap):
            key, st = snap[i]
            if prefix and not key.startswith(prefix):
                break
            i += 1
            if selecting and not st.matches(res, lreqs, fterms):
                continue
            if limit and len(items) == limit:
                next_key = items[-1][0]
                remaining = 1
                break
            items.append((key, st))
        meta = {"resourceVersion": str(rv)}
        if next_key is not None:
            meta["continue"] = encode_continue(rv, next_key[len(prefix):])
            if not selecting:
                j = i - 1
                while j < len(snap) and (not prefix or snap[j][0].startswith(prefix)):
                    j += 1
                remaining = j - (i - 1)
                meta["remainingItemCount"] = remaining
        if fmt == "table":
            return self.reply(200, km.to_table(res, [st.obj for _, st in items], meta,
                                               q.get("includeObject", "Metadata")))
        if fmt == "partial":
            return self.reply(200, {"kind": "PartialObjectMetadataList",
                                    "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                                    "items": [km.partial_metadata(st.obj) for _, st in items]})
        body = b"".join([b'{"kind":"', res.kind.encode(), b'List","apiVersion":"',
                         res.api_version.encode(), b'","metadata":', dumps(meta),
                         b',"items":[', b",".join(st.raw for _, st in items), b"]}\n"])
        self.reply(200, body)

    # -- watch --
    def watch(self, res, ns, fault):
        q = self.query
        store = self.server.store
        cfg = self.server.cfg
        lreqs, fterms = self.list_options(res)
        fmt = negotiate(self.headers.get("Accept"), allow_table=True, allow_partial=True)
        if fmt is None:
            raise ApiError(406, "NotAcceptable", "only the following media types are accepted: "
                           "application/json, application/json;stream=watch", {})
        bookmarks = parse_bool("allowWatchBookmarks", q.get("allowWatchBookmarks", "false"))
        timeout = parse_int("timeoutSeconds", q["timeoutSeconds"]) if q.get("timeoutSeconds") else 0
        if timeout <= 0:
            timeout = random.uniform(1800, 3600)
        rv_param = q.get("resourceVersion", "")
        match = q.get("resourceVersionMatch", "")
        send_initial = None
        if self.server.args.ignore_initial_events:
            pass  # unknown parameters, ignored by a server from before they existed
        elif "sendInitialEvents" in q:
            send_initial = parse_bool("sendInitialEvents", q["sendInitialEvents"])
            if not self.server.args.streaming_list:
                raise invalid_list_options("sendInitialEvents", "Forbidden",
                                           "sendInitialEvents is forbidden for watch unless the "
                                           "WatchList feature gate is enabled")
            if match != "NotOlderThan":
                raise invalid_list_options("resourceVersionMatch", "Forbidden",
                                           "sendInitialEvents requires setting "
                                           "resourceVersionMatch to NotOlderThan")
            if send_initial and not bookmarks:
                raise invalid_list_options("allowWatchBookmarks", "Forbidden",
                                           "allowWatchBookmarks must be set to true when "
                                           "sendInitialEvents is set")
        elif match:
            raise invalid_list_options("resourceVersionMatch", "Forbidden",
                                       "resourceVersionMatch is forbidden for watch unless "
                                       "sendInitialEvents is provided")
        w = Watcher(res.name, ns or None, self.connection)
        w.desc = {"resource": res.name, "namespace": ns, "labelSelector":
                  q.get("labelSelector", ""), "fieldSelector": q.get("fieldSelector", ""),
                  "resourceVersion": rv_param, "format": fmt}
        initial = []
        too_old = None
        start_rv = 0
        with store.lock:
            if rv_param in ("", "0") or send_initial:
                if rv_param not in ("", "0"):
                    store.wait_for_rv(parse_rv(rv_param))
                if send_initial is not False:
                    snap, _ = store.snapshot(res.name)
                    prefix = ns + "/" if ns else ""
                    initial = [Event(store.rv, "ADDED", res.name, k, ns, st, None)
                               for k, st in snap if not prefix or k.startswith(prefix)]
                start_rv = store.rv
            else:
                want = parse_rv(rv_param)
                store.wait_for_rv(want)
                if want < store.floor:
                    too_old = "too old resource version: %d (%d)" % (want, store.oldest())
                else:
                    initial = [ev for ev in store.history if ev.rv > want and ev.res == res.name
                               and (not ns or ev.ns == ns)]
                    start_rv = want
            if too_old is None:
                store.watchers.add(w)
        w.last_rv = start_rv
        compress = cfg.gzip_watch and "gzip" in (self.headers.get("Accept-Encoding") or "")
        try:
            # Inside the try: the watcher must be unregistered whatever happens.
            self.start_chunked(JSON, compress)
            out = ChunkWriter(self.wfile, cfg.chunk_size, compress)
            if too_old is not None:
                out.write(dumps({"type": "ERROR", "object": status_obj(410, "Expired", too_old)})
                          + b"\n")
                out.end()
                return
            fmt_state = {"headers": True}
            if fault is not None and fault["kind"] == "bad_json":
                out.write(b"this is not JSON {\"type\": \n")
            if fault is not None and fault["kind"] == "huge_event":
                self.write_huge_event(out, res, ns)
            lines = self.event_lines(initial, lreqs, fterms, fmt, res, fmt_state)
            if send_initial:
                lines.append(dumps({"type": "BOOKMARK", "object": bookmark_object(
                    res, start_rv, initial_end=True)}) + b"\n")
            self.write_lines(out, lines)
            self.watch_loop(w, out, res, lreqs, fterms, fmt, fmt_state, bookmarks, timeout)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError, OSError):
            self.close_connection = True
        finally:
            with store.lock:
                store.watchers.discard(w)
            w.done.set()

    def write_lines(self, out, lines):
        cfg = self.server.cfg
        batch = max(1, cfg.chunk_batch)
        out.piece = cfg.chunk_size
        for i in range(0, len(lines), batch):
            out.write(b"".join(lines[i:i + batch]))

    def watch_loop(self, w, out, res, lreqs, fterms, fmt, fmt_state, bookmarks, timeout):
        store = self.server.store
        cfg = self.server.cfg
        now = time.monotonic()
        deadline = now + timeout
        last_write = now
        while True:
            with store.lock:
                batch = list(w.queue)
                w.queue.clear()
                w.wake.clear()
                cur_rv = store.rv
                expired, dropped = w.expired, w.dropped
            if dropped:
                if dropped == "partial":
                    line = dumps({"type": "MODIFIED", "object": bookmark_object(res, cur_rv)})
                    out.write(line[:len(line) // 2])
                abort_socket(self.connection)
                self.close_connection = True
                return
            if batch:
                lines = self.event_lines(batch, lreqs, fterms, fmt, res, fmt_state)
                w.last_rv = batch[-1].rv
                if lines:
                    self.write_lines(out, lines)
                    last_write = time.monotonic()
            if expired:
                msg = "too old resource version: %s (%d)" % (w.last_rv, store.oldest())
                out.write(dumps({"type": "ERROR", "object": status_obj(410, "Expired", msg)})
                          + b"\n")
                out.end()
                return
            now = time.monotonic()
            if now >= deadline:
                if bookmarks:
                    out.write(dumps({"type": "BOOKMARK", "object": bookmark_object(res, cur_rv)})
                              + b"\n")
                out.end()
                return
            if bookmarks and now - last_write >= cfg.bookmark_interval:
                out.write(dumps({"type": "BOOKMARK", "object": bookmark_object(res, cur_rv)})
                          + b"\n")
                last_write = now
                w.last_rv = cur_rv
            if self.client_gone():
                self.close_connection = True
                return
            wait = min(0.5, deadline - now)
            if bookmarks:
                wait = min(wait, cfg.bookmark_interval - (now - last_write))
            w.wake.wait(max(wait, 0.01))

    def client_gone(self):
        sock = self.connection
        try:
            r, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        if not r:
            return False
        if isinstance(sock, ssl.SSLSocket):
            # A client sends nothing while it reads a watch: readable means it closed.
            return True
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def event_lines(self, events, lreqs, fterms, fmt, res, fmt_state):
        lines = []
        plain = not lreqs and not fterms and fmt == "json"
        for ev in events:
            if plain:
                lines.append(ev.line())
                continue
            etype, st = ev.type, ev.cur
            if lreqs or fterms:
                def ok(s):
                    return s is not None and s.matches(res, lreqs, fterms)
                cur_ok = ok(ev.cur)
                if ev.type == "ADDED":
                    if not cur_ok:
                        continue
                elif ev.type == "DELETED":
                    if not cur_ok:
                        continue
                else:
                    prev_ok = ok(ev.prev)
                    if cur_ok and not prev_ok:
                        etype = "ADDED"
                    elif prev_ok and not cur_ok:
                        etype = "DELETED"
                        st = with_rv(ev.prev, ev.rv)
                    elif not cur_ok:
                        continue
            if fmt == "json":
                lines.append(b'{"type":"' + etype.encode() + b'","object":' + st.raw + b"}\n")
            elif fmt == "partial":
                lines.append(dumps({"type": etype, "object": km.partial_metadata(st.obj)}) + b"\n")
            else:
                table = km.to_table(res, [st.obj], {"resourceVersion": str(ev.rv)},
                                    self.query.get("includeObject", "Metadata"),
                                    headers=fmt_state["headers"])
                fmt_state["headers"] = False
                lines.append(dumps({"type": etype, "object": table}) + b"\n")
        return lines

    def write_huge_event(self, out, res, ns):
        pod = km.complete_pod({"metadata": {"name": "huge", "namespace": ns or "default",
                                            "annotations": {"huge": "@@HUGE@@"}}})
        pod["metadata"]["resourceVersion"] = str(self.server.store.rv)
        head, tail = dumps({"type": "ADDED", "object": pod}).split(b"@@HUGE@@")
        out.write(head)
        block = b"x" * (1 << 20)
        left = HUGE_EVENT_BYTES - len(head) - len(tail) - 1
        while left > 0:
            n = min(left, len(block))
            out.write(block[:n])
            left -= n
        out.write(tail + b"\n")

    # -- faults --
    def apply_fault(self, f, verb, res, ns):
        """Answers the request with the fault; False when the request must go on (faults
        that only disturb the stream, or slow)."""
        kind = f["kind"]
        if kind == "html_500":
            self.reply(500, HTML_500, "text/html")
        elif kind == "status_429":
            self.reply(429, status_obj(429, "TooManyRequests",
                                       "Too many requests, please try again later.",
                                       {"retryAfterSeconds": 1}), headers={"Retry-After": "1"})
        elif kind == "status_503":
            self.reply(503, status_obj(503, "ServiceUnavailable",
                                       "the server is currently unable to handle the request",
                                       {}))
        elif kind == "status_401":
            self.reply(401, status_obj(401, "Unauthorized", "Unauthorized"))
        elif kind == "status_403":
            self.reply(403, status_obj(403, "Forbidden", '%s is forbidden: User "%s" cannot %s '
                                       'resource "%s" in API group "%s" at the cluster scope'
                                       % (res.qualified, self.user[0], verb, res.name,
                                          res.group), error_details(res)))
        elif kind == "gone" and verb == "watch":
            self.start_chunked(JSON)
            out = ChunkWriter(self.wfile)
            out.write(dumps({"type": "ERROR", "object": status_obj(
                410, "Expired", "too old resource version: %s (%d)" % (
                    self.query.get("resourceVersion", ""), self.server.store.oldest()))})
                + b"\n")
            out.end()
        elif kind == "brief":
            self.start_chunked(JSON)
            out = ChunkWriter(self.wfile)
            out.write(dumps({"type": "BOOKMARK", "object": bookmark_object(
                res, self.server.store.rv)}) + b"\n")
            out.end()
        elif kind in ("gone", "status_410"):
            self.reply(410, status_obj(410, "Expired", "too old resource version: %s (%d)" % (
                self.query.get("resourceVersion", ""), self.server.store.oldest())))
        elif kind == "wrong_content_type":
            self.reply(200, HTML_PAGE, "text/html; charset=utf-8")
        elif kind == "bad_json" and verb == "list":
            self.reply(200, b'{"kind":"%sList","apiVersion":"%s","metadata":{"resourceVersion":'
                       b'"%d"},"items":[{"kind":"%s","metadata":{"name":"x",'
                       % (res.kind.encode(), res.api_version.encode(), self.server.store.rv,
                          res.kind.encode()))
        elif kind == "endless":
            self.start_chunked(JSON)
            out = ChunkWriter(self.wfile)
            out.write(b'{"type":"ADDED","object":{"kind":"%s","metadata":{"name":"' % res.kind.encode())
            block = b"a" * 65536
            end = time.monotonic() + 600
            try:
                while time.monotonic() < end and not self.client_gone():
                    out.write(block)
                    time.sleep(0.001)
            except OSError:
                pass
            self.close_connection = True
            abort_socket(self.connection)
        elif kind == "huge_list":
            self.huge_list(res, ns)
        elif kind == "slow":
            time.sleep(f.get("seconds", 30))
            return False
        else:
            return False
        return True

    def huge_list(self, res, ns):
        ns = ns or "huge"
        marker = "zqxizqx"
        tmpl = km.complete_pod({"metadata": {"name": "huge-" + marker, "namespace": ns,
                                             "uid": "ZZUIDZZ", "labels": {"app": "huge"}},
                                "spec": {"nodeName": "node-1"}})
        tmpl["metadata"]["resourceVersion"] = str(self.server.store.rv)
        raw = dumps(tmpl).decode().replace("%", "%%")
        raw = raw.replace(km.pod_ip(ns, "huge-" + marker), "127.%(a)d.%(b)d.%(c)d")
        parts = raw.replace(marker, "%(i)d").replace("ZZUIDZZ", "%(uid)s")
        self.start_chunked(JSON)
        out = ChunkWriter(self.wfile)
        out.write(b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"%d"},'
                  b'"items":[' % self.server.store.rv)
        buf = []
        size = 0
        for i in range(HUGE_LIST_PODS):
            s = parts % {"i": i, "uid": "00000000-0000-4000-8000-%012d" % i,
                         "a": 100 + i // 65536, "b": (i // 256) % 256, "c": i % 256}
            buf.append(s if i == 0 else "," + s)
            size += len(s)
            if size > (1 << 20):
                out.write("".join(buf).encode())
                buf, size = [], 0
        buf.append("]}\n")
        out.write("".join(buf).encode())
        out.end()

    # -- control --
    def control(self, path):
        srv = self.server
        store = srv.store
        cfg = srv.cfg
        m = self.command
        parts = path.split("/")
        if path == "stats" and m == "GET":
            counts, rv, oldest = store.counts()
            with store.lock:
                watches = [dict(w.desc, last_rv=str(w.last_rv), open_seconds=round(
                    time.time() - w.started, 1)) for w in store.watchers]
            with srv.stats_lock:
                body = {"pods": counts["pods"], "replicasets": counts["replicasets"],
                        "namespaces": counts["namespaces"], "objects": counts,
                        "watches_open": len(watches),
                        "connections_open": len(srv.conns),
                        "threads": threading.active_count(), "resource_version": str(rv),
                        "oldest_resource_version": str(oldest),
                        "requests": {k: srv.requests.get(k, 0) for k in
                                     ("list", "watch", "get", "discovery", "openapi",
                                      "control", "other")},
                        "requests_by_resource": {
                            r: {k: c.get(k, 0) for k in
                                ("list", "watch", "get", "initial_events")}
                            for r, c in srv.by_resource.items()},
                        "responses": dict(srv.responses), "auth_failures": srv.auth_failures,
                        "forbidden": srv.forbidden,
                        "faults_pending": [dict(f) for f in cfg.faults],
                        "chunking": {"size": cfg.chunk_size, "batch": cfg.chunk_batch},
                        "watches": watches}
            for f in body["faults_pending"]:
                f["verbs"] = list(f["verbs"])
            return self.reply(200, body, compressible=False)
        if parts[0] in km.RESOURCES and m == "POST" and len(parts) == 1:
            res = km.RESOURCES[parts[0]]
            body = self.read_body()
            mf = self.query.get("managed_fields") in ("1", "true")
            if isinstance(body, dict) and isinstance(body.get("items"), list):
                return self.reply(200, {"items": [self.control_put(res, o, mf).obj
                                                  for o in body["items"]]}, compressible=False)
            return self.reply(200, self.control_put(res, body, mf).raw + b"\n", compressible=False)
        if parts[0] in km.RESOURCES and m == "DELETE":
            res = km.RESOURCES[parts[0]]
            if res.namespaced and len(parts) == 3:
                ns, name = parts[1], parts[2]
            elif not res.namespaced and len(parts) == 2:
                ns, name = "", parts[1]
            else:
                raise ApiError(404, "NotFound", "use DELETE /_control/%s/%s" % (
                    res.name, "NS/NAME" if res.namespaced else "NAME"))
            st = store.delete(res.name, ns, name)
            if st is None:
                raise not_found(res, name)
            return self.reply(200, st.raw + b"\n", compressible=False)
        body = self.read_body() if m in ("POST", "PUT") else {}
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "body must be a JSON object")
        if path == "bulk" and m == "POST":
            t0 = time.monotonic()
            n, rv = bulk_create(store, body)
            return self.reply(200, {"created": n, "resource_version": str(rv),
                                    "seconds": round(time.monotonic() - t0, 3)}, compressible=False)
        if path == "bulk_events" and m == "POST":
            n = store.bump_labels(int(body.get("count", 0)), body.get("namespace"),
                                  body.get("resource", "pods"))
            return self.reply(200, {"events": n, "resource_version": str(store.rv)},
                              compressible=False)
        if path == "expire" and m == "POST":
            watchers = store.expire()
            wait_watchers(watchers, 5.0)
            return self.reply(200, {"resource_version": str(store.rv),
                                    "watches_expired": len(watchers)}, compressible=False)
        if path == "drop" and m == "POST":
            watchers = self.drop_watchers("partial" if body.get("partial") else "abrupt")
            return self.reply(200, {"watches_dropped": len(watchers)}, compressible=False)
        if path in ("restart", "reset") and m == "POST":
            watchers = store.restart() if path == "restart" else store.reset()
            if path == "reset":
                with srv.stats_lock:
                    cfg.reset()
            for w in watchers:
                w.dropped = "abrupt"
                w.wake.set()
                abort_socket(w.sock)
            srv.drop_connections(keep=self.connection)
            wait_watchers(watchers, 5.0)
            self.close_connection = True
            return self.reply(200, {"resource_version": str(store.rv)}, compressible=False,
                              headers={"Connection": "close"})
        if path == "chunking" and m == "POST":
            cfg.chunk_size = max(0, int(body.get("size", 0)))
            cfg.chunk_batch = max(1, int(body.get("batch", 1)))
            return self.reply(200, {"size": cfg.chunk_size, "batch": cfg.chunk_batch},
                              compressible=False)
        if path == "token" and m == "POST":
            tok = body.get("token")
            if not isinstance(tok, str) or not tok:
                raise ApiError(400, "BadRequest", "token must be a non-empty string")
            cfg.tokens = {tok}
            return self.reply(200, {}, compressible=False)
        if path == "fault" and m == "DELETE":
            with srv.stats_lock:
                cfg.faults = []
            return self.reply(200, {}, compressible=False)
        if path == "fault" and m == "POST":
            kind = body.get("kind")
            if kind not in FAULT_KINDS:
                raise ApiError(400, "BadRequest", "unknown fault kind %r (known: %s)"
                               % (kind, ", ".join(sorted(FAULT_KINDS))))
            verbs = FAULT_KINDS[kind]
            if body.get("verb"):
                verbs = tuple(v for v in verbs if v == body["verb"])
                if not verbs:
                    raise ApiError(400, "BadRequest", "fault %s does not apply to %s"
                                   % (kind, body["verb"]))
            res = body.get("resource")
            if res is not None and res not in km.RESOURCES:
                raise ApiError(400, "BadRequest", "unknown resource %r" % res)
            with srv.stats_lock:
                cfg.faults.append({"kind": kind, "count": max(1, int(body.get("count", 1))),
                                   "verbs": verbs, "resource": res,
                                   "seconds": float(body.get("seconds", 30))})
            return self.reply(200, {}, compressible=False)
        if path == "gzip" and m == "POST":
            cfg.gzip_threshold = max(0, int(body.get("threshold", GZIP_THRESHOLD)))
            cfg.gzip_watch = bool(body.get("watch", False))
            return self.reply(200, {"threshold": cfg.gzip_threshold, "watch": cfg.gzip_watch},
                              compressible=False)
        if path == "bookmarks" and m == "POST":
            cfg.bookmark_interval = max(0.05, float(body.get("interval", 1.0)))
            return self.reply(200, {"interval": cfg.bookmark_interval}, compressible=False)
        raise ApiError(404, "NotFound", "no control endpoint %s %s" % (m, path))

    def control_put(self, res, body, managed_fields):
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "body must be a JSON object")
        meta = body.get("metadata") or {}
        try:
            obj = res.complete(body, managed_fields=managed_fields)
        except km.BadObject as e:
            raise ApiError(422, "Invalid", str(e))
        # Replacing keeps the identity of the existing object unless the body sets it.
        if "uid" not in meta:
            obj["metadata"]["_generated_uid"] = True
        if "creationTimestamp" not in meta:
            obj["metadata"]["_generated_ts"] = True
        return self.server.store.put(res.name, obj)

    def drop_watchers(self, how):
        store = self.server.store
        with store.lock:
            watchers = list(store.watchers)
            for w in watchers:
                w.dropped = how
                w.wake.set()
        if not wait_watchers(watchers, 2.0):
            for w in watchers:
                abort_socket(w.sock)
            wait_watchers(watchers, 3.0)
        return watchers


def wait_watchers(watchers, seconds):
    deadline = time.monotonic() + seconds
    for w in watchers:
        if not w.done.wait(max(0.0, deadline - time.monotonic())):
            return False
    return True


def parse_resource_path(path):
    """(Resource, namespace, name, watch prefix) for an API path, or None."""
    segs = [s for s in path.split("/") if s]
    if len(segs) >= 2 and segs[0] == "api" and segs[1] == "v1":
        group, rest = "", segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis" and segs[2] == "v1" and segs[1] in km.GROUPS:
        group, rest = segs[1], segs[3:]
    else:
        return None
    watch = False
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    ns = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 2:
        return None
    res = km.RESOURCES.get(rest[0])
    if res is None or res.group != group or (res.namespaced is False and ns):
        return None
    name = rest[1] if len(rest) == 2 else ""
    return res, ns, name, watch


def bulk_create(store, body):
    n = int(body.get("count", 0))
    ns = body.get("namespace", "bench")
    every = int(body.get("annotated_every", 0))
    managed = bool(body.get("managed_fields", True))
    node = body.get("node", "node-1")
    prefix = body.get("prefix", "pod")
    ndeploy = max(1, int(body.get("deployments", 1)))
    now = km.rfc3339()
    deployments = []
    for j in range(ndeploy):
        dname = prefix if ndeploy == 1 else "%s-%d" % (prefix, j)
        dep = km.RESOURCES["deployments"].complete(
            {"metadata": {"name": dname, "namespace": ns, "labels": {"app": dname}}}, now=now)
        tmpl_hash = km.short_hash(dname)
        rs = km.complete_replicaset({"metadata": {
            "name": "%s-%s" % (dname, tmpl_hash), "namespace": ns,
            "labels": {"app": dname, "pod-template-hash": tmpl_hash},
            "annotations": {"deployment.kubernetes.io/desired-replicas": str(n // ndeploy),
                            "deployment.kubernetes.io/max-replicas": str(n // ndeploy + 1),
                            "deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dname,
                                 "uid": dep["metadata"]["uid"], "controller": True,
                                 "blockOwnerDeletion": True}]},
            "spec": {"replicas": n // ndeploy}}, now=now, managed_fields=managed)
        store.put("deployments", dep)
        rs_stored = store.put("replicasets", rs)
        owner = (rs["metadata"]["name"], rs_stored.obj["metadata"]["uid"], dname, tmpl_hash)
        templates = {}
        for annotated in (False, True):
            # A template with markers (@@NAME@@ ...) cut into text and marker pieces.
            marker = "zqxnamezqx"
            pod = km.bulk_pod(ns, marker, node, annotated, managed, owner, now)
            pod["metadata"]["uid"] = "@@UID@@"
            pod["metadata"]["resourceVersion"] = "@@RV@@"
            pod["metadata"] = km.with_key_first(pod["metadata"], km.META_ORDER)
            raw = dumps(pod).decode()
            raw = raw.replace(km.pod_ip(ns, marker), "@@IP@@")
            raw = raw.replace(km.container_id(ns, marker, "app"), "containerd://@@CID@@")
            raw = raw.replace(pod["spec"]["volumes"][0]["name"], "kube-api-access-@@VOL@@")
            raw = raw.replace(marker, "@@NAME@@")
            labels = pod["metadata"]["labels"]
            fields = km.RESOURCES["pods"].fields(pod)
            templates[annotated] = (raw.split("@@"), labels, fields)
        deployments.append(templates)
    items = []
    first_ip = store.take_ips(n)
    for i in range(n):
        name = "%s-%d" % (prefix, i)
        uid = km.new_uid()
        # Unique in the server's life: 127.64.0.0/10, apart from the 127.244.0.0/16 of
        # the pods posted one by one (loopback, like every address of the model).
        c = first_ip + i + 1
        ip = "127.%d.%d.%d" % (64 + (c >> 16) % 64, (c >> 8) & 255, c & 255)
        values = {"NAME": name, "UID": uid, "IP": ip, "CID": hashlib.sha256(uid.encode()).hexdigest(),
                  "VOL": km.short_hash(uid, 5), "RV": "0"}
        pieces, labels, fields = deployments[i % ndeploy][bool(every) and i % every == 0]
        # pieces alternate text and marker names.
        raw = "".join(values[p] if k % 2 else p for k, p in enumerate(pieces))
        fields = dict(fields, **{"metadata.name": name, "status.podIP": ip})
        items.append((ns, name, raw.encode(), (labels, fields)))
    rv = store.put_raw_many("pods", items)
    return n, rv


# ---- main ---------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description="fake Kubernetes API server for tests")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port-file")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--client-ca")
    p.add_argument("--token")
    p.add_argument("--forbid-token", action="append")
    p.add_argument("--streaming-list", action="store_true")
    p.add_argument("--ignore-initial-events", action="store_true")
    p.add_argument("--watch-gone", choices=("event", "status"))
    p.add_argument("--max-events", type=int, default=10000)
    p.add_argument("--openapi")
    p.add_argument("--server-version", default="1.34.1")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="exit when the process that started the server goes away")
    args = p.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        p.error("--client-ca needs TLS")
    if args.max_events < 0:
        p.error("--max-events must be >= 0")
    if args.streaming_list and args.ignore_initial_events:
        p.error("--streaming-list and --ignore-initial-events exclude each other")
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        ctx.set_alpn_protocols(["http/1.1"])
        if args.client_ca:
            ctx.load_verify_locations(args.client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
    srv = Server((args.host, args.port), args, ctx)
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    log("listening on %s://%s:%d" % ("https" if ctx else "http", args.host, port))
    if args.exit_with_parent:
        parent = os.getppid()

        def watch_parent():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=watch_parent, daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
