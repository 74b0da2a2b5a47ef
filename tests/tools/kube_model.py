"""Objects, selectors and tables of the fake Kubernetes API server (fake_kube.py).

Standard library only. Everything here is pure: functions take and return plain dicts
and never touch the server's state. Objects are treated as immutable once built (the
server replaces them on every change), so sub-structures may be shared between objects.

- RESOURCES: the served resources (discovery data, field selector labels, table printer,
  the empty object of bookmarks); GROUPS: the same by API group, as discovery lists them.
  Core v1: pods, namespaces, serviceaccounts, services, secrets, configmaps; apps/v1:
  replicasets, deployments, daemonsets, statefulsets; rbac.authorization.k8s.io/v1:
  roles, rolebindings, clusterroles, clusterrolebindings.
- complete_pod / complete_replicaset / complete_workload / complete_service ... : fill in
  what the API server and the controllers would have set (uid, timestamps, defaulted
  spec fields, allocated cluster IPs and node ports, a status), so a test may post a bare
  {"metadata": {"name": ..., "namespace": ...}}, and reject what validation rejects
  (BadObject). Controllers that make objects of their own (default service accounts,
  kube-root-ca.crt config maps, token secrets) are not imitated.
- bulk_pod: a realistic pod of about 4 KiB of JSON (with managedFields), for benchmarks.
- parse_label_selector / parse_field_selector: the selector languages of the API, with
  the error messages a real server gives.
- to_table: server-side printing (meta.k8s.io/v1 Table) as kubectl requests it.
"""
import base64
import hashlib
import re
import time
import uuid

# ---- time ---------------------------------------------------------------------------


def rfc3339(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def parse_rfc3339(s):
    try:
        return time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    except (TypeError, ValueError):
        return None


def human_duration(seconds):
    """The short ages kubectl prints ("45s", "3m20s", "5h", "12d"), per the rules of
    apimachinery's duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        return "%dm" % minutes if s % 60 == 0 else "%dm%ds" % (minutes, s % 60)
    if minutes < 180:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        return "%dh" % hours if minutes % 60 == 0 else "%dh%dm" % (hours, minutes % 60)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        return "%dd" % (hours // 24) if hours % 24 == 0 else "%dd%dh" % (hours // 24, hours % 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return "%dy" % years if days == 0 else "%dy%dd" % (years, days)
    return "%dy" % (hours // 24 // 365)


def age(obj, now=None):
    t = parse_rfc3339(obj.get("metadata", {}).get("creationTimestamp"))
    if t is None:
        return "<unknown>"
    return human_duration((time.time() if now is None else now) - t)


# ---- small helpers --------------------------------------------------------------------


def new_uid():
    return str(uuid.uuid4())


def short_hash(text, n=10):
    """A pod-template-hash-like string (lowercase alphanumerics without vowels)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    h = int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")
    out = []
    for _ in range(n):
        h, r = divmod(h, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


# Every address the model hands out is on the loopback network 127.0.0.0/8, which is
# local to the machine: a client that scrapes a pod or calls a node never sends a packet
# anywhere else. Each range keeps the shape of its real counterpart (pods 10.244.0.0/16
# -> 127.244.0.0/16, nodes 172.18.0.0/24 -> 127.18.0.0/24, services 10.96.0.0/12 ->
# 127.96.0.0/12) and stays clear of 127.0.0.0/16, where the tests' own servers listen.
def pod_ip(ns, name):
    h = hashlib.sha1(("%s/%s" % (ns, name)).encode()).digest()
    return "127.244.%d.%d" % (h[0], 2 + h[1] % 250)


def node_ip(node):
    h = hashlib.sha1(node.encode()).digest()
    return "127.18.0.%d" % (2 + h[0] % 250)


def container_id(ns, name, container):
    return "containerd://" + hashlib.sha256(("%s/%s/%s" % (ns, name, container)).encode()).hexdigest()


def image_id(image):
    repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return "%s@sha256:%s" % (repo, hashlib.sha256(image.encode()).hexdigest())


def with_key_first(d, first):
    """d with the keys named in first (that it has) moved to the front, in that order:
    the field order of the Go structs, which is what a real server emits."""
    out = {k: d[k] for k in first if k in d}
    for k, v in d.items():
        if k not in out:
            out[k] = v
    return out


META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
              "generation", "creationTimestamp", "deletionTimestamp",
              "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
              "finalizers", "managedFields")


class BadObject(Exception):
    pass


def _check_name(kind, name, what="metadata.name"):
    if not isinstance(name, str) or not name:
        raise BadObject("%s: %s is required" % (kind, what))
    if len(name) > 253 or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
        raise BadObject("%s %r is invalid: %s must be a lowercase RFC 1123 subdomain"
                        % (kind, name, what))


def _base_meta(obj, kind, namespaced, now):
    meta = dict(obj.get("metadata") or {})
    _check_name(kind, meta.get("name"))
    if namespaced:
        meta.setdefault("namespace", "default")
        _check_name(kind, meta["namespace"], "metadata.namespace")
    else:
        meta.pop("namespace", None)
    meta.setdefault("uid", new_uid())
    meta.setdefault("creationTimestamp", now)
    for key in ("labels", "annotations"):
        if key in meta and not meta[key]:
            del meta[key]
        elif key in meta:
            # Go writes maps with their keys sorted.
            meta[key] = dict(sorted(meta[key].items()))
    return meta


# ---- pods -----------------------------------------------------------------------------

DEFAULT_IMAGE = "registry.example.com/shop/app:1.4.2"

DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
]


def _api_access_volume(name):
    return {
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt",
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
            "defaultMode": 420,
        },
    }


def _complete_container(c, vol_name):
    c = dict(c)
    if not c.get("name"):
        raise BadObject("Pod: spec.containers[].name is required")
    c.setdefault("image", DEFAULT_IMAGE)
    if c.get("ports"):
        ports = []
        for p in c["ports"]:
            p = dict(p)
            if not isinstance(p.get("containerPort"), int):
                raise BadObject("Pod: spec.containers[].ports[].containerPort must be an integer")
            p.setdefault("protocol", "TCP")
            ports.append(with_key_first(p, ("name", "hostPort", "containerPort", "protocol")))
        c["ports"] = ports
    c.setdefault("resources", {})
    if vol_name:
        c.setdefault("volumeMounts", [{"name": vol_name, "readOnly": True,
                                       "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", "Always" if c["image"].endswith(":latest") or
                 ":" not in c["image"].rsplit("/", 1)[-1] else "IfNotPresent")
    return with_key_first(c, ("name", "image", "command", "args", "ports", "env", "resources",
                              "volumeMounts", "terminationMessagePath",
                              "terminationMessagePolicy", "imagePullPolicy"))


def _pod_status(meta, spec, given, now):
    status = dict(given or {})
    phase = status.setdefault("phase", "Running" if spec.get("nodeName") else "Pending")
    node = spec.get("nodeName")
    running = phase == "Running"
    done = phase in ("Succeeded", "Failed")
    scheduled = bool(node)

    def cond(ctype, ok):
        return {"type": ctype, "status": "True" if ok else "False", "lastProbeTime": None,
                "lastTransitionTime": meta["creationTimestamp"]}

    if "conditions" not in status:
        conds = [
            cond("PodReadyToStartContainers", running),
            cond("Initialized", scheduled),
            cond("Ready", running),
            cond("ContainersReady", running),
            cond("PodScheduled", scheduled),
        ]
        # lastProbeTime is null in real pods: Go writes the zero metav1.Time as null and
        # omitempty does not drop structs. Clients must accept it, so it stays.
        if not scheduled:
            conds = [conds[-1]]
            conds[0]["reason"] = "Unschedulable"
            conds[0]["message"] = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
        status["conditions"] = conds
    if node:
        status.setdefault("hostIP", node_ip(node))
        status.setdefault("hostIPs", [{"ip": status["hostIP"]}])
    if (running or done) and "podIP" not in status:
        status["podIP"] = pod_ip(meta.get("namespace", ""), meta["name"])
    if "podIP" in status:
        status.setdefault("podIPs", [{"ip": status["podIP"]}])
    if scheduled:
        status.setdefault("startTime", meta["creationTimestamp"])
    if "containerStatuses" not in status and scheduled:
        cs = []
        for c in spec["containers"]:
            st = {"name": c["name"]}
            if running:
                state = {"running": {"startedAt": meta["creationTimestamp"]}}
            elif done:
                code = 0 if phase == "Succeeded" else 1
                state = {"terminated": {"exitCode": code,
                                        "reason": "Completed" if code == 0 else "Error",
                                        "startedAt": meta["creationTimestamp"],
                                        "finishedAt": meta["creationTimestamp"],
                                        "containerID": container_id(meta.get("namespace", ""), meta["name"], c["name"])}}
            else:
                state = {"waiting": {"reason": "ContainerCreating"}}
            st["state"] = state
            st["lastState"] = {}
            st["ready"] = running
            st["restartCount"] = 0
            st["image"] = c["image"]
            st["imageID"] = image_id(c["image"]) if (running or done) else ""
            if running or done:
                st["containerID"] = container_id(meta.get("namespace", ""), meta["name"], c["name"])
            st["started"] = running
            cs.append(st)
        status["containerStatuses"] = cs
    status.setdefault("qosClass", "BestEffort")
    return with_key_first(status, ("observedGeneration", "phase", "conditions", "message",
                                   "reason", "nominatedNodeName", "hostIP", "hostIPs",
                                   "podIP", "podIPs", "startTime", "initContainerStatuses",
                                   "containerStatuses", "qosClass"))


def complete_pod(obj, now=None, managed_fields=False):
    """A Pod as the API server would store it after admission, scheduling and a kubelet
    status update. Raises BadObject for what a real server would reject."""
    now = now or rfc3339()
    meta = _base_meta(obj, "Pod", True, now)
    meta.setdefault("generation", 1)
    given_spec = dict(obj.get("spec") or {})
    containers = given_spec.get("containers") or [{"name": "app"}]
    vol_name = None
    if given_spec.get("automountServiceAccountToken", True) and "volumes" not in given_spec:
        vol_name = "kube-api-access-" + short_hash(meta["uid"], 5)
        given_spec["volumes"] = [_api_access_volume(vol_name)]
    given_spec["containers"] = [_complete_container(c, vol_name) for c in containers]
    names = [c["name"] for c in given_spec["containers"]]
    if len(set(names)) != len(names):
        raise BadObject("Pod: spec.containers[].name must be unique")
    status_given = obj.get("status") or {}
    if "nodeName" not in given_spec and status_given.get("phase", "Running") != "Pending":
        given_spec["nodeName"] = "node-1"
    spec = given_spec
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("tolerations", DEFAULT_TOLERATIONS)
    spec.setdefault("priority", 0)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec = with_key_first(spec, ("volumes", "initContainers", "containers", "restartPolicy",
                                 "terminationGracePeriodSeconds", "dnsPolicy",
                                 "serviceAccountName", "serviceAccount", "nodeName",
                                 "hostNetwork", "securityContext", "schedulerName",
                                 "tolerations", "priority", "enableServiceLinks",
                                 "preemptionPolicy"))
    status = _pod_status(meta, spec, status_given, now)
    if managed_fields and "managedFields" not in meta:
        meta["managedFields"] = pod_managed_fields(meta, spec, status, now)
    return {"kind": "Pod", "apiVersion": "v1", "metadata": with_key_first(meta, META_ORDER),
            "spec": spec, "status": status}


def _fields_for_keys(d):
    return {"f:" + k: {} for k in d}


def pod_managed_fields(meta, spec, status, now):
    """managedFields as a ReplicaSet controller plus the kubelet leave them."""
    m = {}
    if meta.get("generateName"):
        m["f:generateName"] = {}
    if meta.get("labels"):
        m["f:labels"] = dict({".": {}}, **_fields_for_keys(meta["labels"]))
    if meta.get("annotations"):
        m["f:annotations"] = dict({".": {}}, **_fields_for_keys(meta["annotations"]))
    if meta.get("ownerReferences"):
        m["f:ownerReferences"] = dict({".": {}}, **{
            'k:{"uid":"%s"}' % o["uid"]: {} for o in meta["ownerReferences"]})
    containers = {}
    for c in spec["containers"]:
        entry = {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}}
        if c.get("ports"):
            ports = {".": {}}
            for p in c["ports"]:
                key = 'k:{"containerPort":%d,"protocol":"%s"}' % (p["containerPort"], p["protocol"])
                ports[key] = dict({".": {}}, **_fields_for_keys(p))
            entry["f:ports"] = ports
        entry.update({"f:resources": {}, "f:terminationMessagePath": {},
                      "f:terminationMessagePolicy": {}})
        containers['k:{"name":"%s"}' % c["name"]] = entry
    spec_fields = {"f:containers": containers, "f:dnsPolicy": {}, "f:enableServiceLinks": {},
                   "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                   "f:terminationGracePeriodSeconds": {}}
    conds = {}
    for c in status.get("conditions", []):
        conds['k:{"type":"%s"}' % c["type"]] = {".": {}, "f:lastProbeTime": {},
                                                "f:lastTransitionTime": {}, "f:status": {},
                                                "f:type": {}}
    st = {"f:conditions": conds, "f:containerStatuses": {}, "f:hostIP": {},
          "f:hostIPs": {}, "f:phase": {}, "f:podIP": {}, "f:startTime": {}}
    if status.get("podIPs"):
        st["f:podIPs"] = dict({".": {}}, **{'k:{"ip":"%s"}' % p["ip"]: {".": {}, "f:ip": {}}
                                            for p in status["podIPs"]})
    return [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
         "time": now, "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": m, "f:spec": spec_fields}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": now,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:status": st}, "subresource": "status"},
    ]


def bulk_pod(ns, name, node, annotated, managed_fields, owner, now):
    """A pod of a Deployment-owned ReplicaSet, optionally annotated for profiling. owner is
    (replicaset name, replicaset uid, app label, template hash)."""
    rs_name, rs_uid, app, tmpl_hash = owner
    meta = {"name": name, "generateName": rs_name + "-", "namespace": ns,
            "labels": {"app": app, "app.kubernetes.io/name": app,
                       "app.kubernetes.io/part-of": "shop", "bench-generation": "0",
                       "pod-template-hash": tmpl_hash},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": rs_name, "uid": rs_uid, "controller": True,
                                 "blockOwnerDeletion": True}]}
    if annotated:
        meta["annotations"] = {"coroot.com/profile-scrape": "true",
                               "coroot.com/profile-port": "6060"}
    spec = {"containers": [
        {"name": "app", "image": "registry.example.com/shop/%s:1.4.2" % app,
         "args": ["--listen=:8080", "--pprof=:6060"],
         "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                   {"name": "pprof", "containerPort": 6060, "protocol": "TCP"}],
         "env": [{"name": "GOMAXPROCS", "value": "2"},
                 {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                 "fieldPath": "metadata.name"}}}]},
    ], "nodeName": node}
    return complete_pod({"metadata": meta, "spec": spec}, now=now, managed_fields=managed_fields)


# ---- replicasets, namespaces and the rest -------------------------------------------------


def complete_replicaset(obj, now=None, managed_fields=False):
    now = now or rfc3339()
    meta = _base_meta(obj, "ReplicaSet", True, now)
    meta.setdefault("generation", 1)
    spec = dict(obj.get("spec") or {})
    labels = meta.get("labels") or {"app": meta["name"]}
    meta.setdefault("labels", labels)
    spec.setdefault("replicas", 1)
    spec.setdefault("selector", {"matchLabels": dict(labels)})
    if "template" not in spec:
        tmpl_labels = dict(spec["selector"].get("matchLabels") or labels)
        spec["template"] = {"metadata": {"labels": tmpl_labels}, "spec": {
            "containers": [{"name": "app", "image": DEFAULT_IMAGE, "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                            "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "securityContext": {},
            "schedulerName": "default-scheduler"}}
    spec = with_key_first(spec, ("replicas", "minReadySeconds", "selector", "template"))
    status = dict(obj.get("status") or {})
    n = spec["replicas"]
    status.setdefault("replicas", n)
    if n:
        status.setdefault("fullyLabeledReplicas", n)
        status.setdefault("readyReplicas", n)
        status.setdefault("availableReplicas", n)
    status.setdefault("observedGeneration", meta["generation"])
    if managed_fields and "managedFields" not in meta:
        meta["managedFields"] = [
            {"manager": "kube-controller-manager", "operation": "Update",
             "apiVersion": "apps/v1", "time": now, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:labels": dict({".": {}}, **_fields_for_keys(labels))},
                          "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {}}}},
            {"manager": "kube-controller-manager", "operation": "Update",
             "apiVersion": "apps/v1", "time": now, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:status": _fields_for_keys(status)}, "subresource": "status"}]
    return {"kind": "ReplicaSet", "apiVersion": "apps/v1",
            "metadata": with_key_first(meta, META_ORDER), "spec": spec, "status": status}


def complete_namespace(obj, now=None, managed_fields=False):
    now = now or rfc3339()
    meta = _base_meta(obj, "Namespace", False, now)
    labels = dict(meta.get("labels") or {})
    labels.setdefault("kubernetes.io/metadata.name", meta["name"])
    meta["labels"] = labels
    if managed_fields and "managedFields" not in meta:
        meta["managedFields"] = [{"manager": "kube-apiserver", "operation": "Update",
                                  "apiVersion": "v1", "time": now, "fieldsType": "FieldsV1",
                                  "fieldsV1": {"f:metadata": {"f:labels": {
                                      ".": {}, "f:kubernetes.io/metadata.name": {}}}}}]
    return {"kind": "Namespace", "apiVersion": "v1",
            "metadata": with_key_first(meta, META_ORDER),
            "spec": obj.get("spec") or {"finalizers": ["kubernetes"]},
            "status": obj.get("status") or {"phase": "Active"}}


def complete_workload(kind):
    """Deployments, DaemonSets and StatefulSets: stored as posted with metadata filled in
    and a minimal valid spec (podprof only reads their names through owner references)."""
    def complete(obj, now=None, managed_fields=False):
        now = now or rfc3339()
        meta = _base_meta(obj, kind, True, now)
        meta.setdefault("generation", 1)
        labels = meta.setdefault("labels", {"app": meta["name"]})
        spec = dict(obj.get("spec") or {})
        spec.setdefault("selector", {"matchLabels": dict(labels)})
        spec.setdefault("template", {"metadata": {"labels": dict(labels)}, "spec": {
            "containers": [{"name": "app", "image": DEFAULT_IMAGE}]}})
        if kind == "StatefulSet":
            spec.setdefault("serviceName", meta["name"])
        out = {"kind": kind, "apiVersion": "apps/v1",
               "metadata": with_key_first(meta, META_ORDER), "spec": spec}
        if obj.get("status") is not None:
            out["status"] = obj["status"]
        elif kind == "DaemonSet":
            out["status"] = {"currentNumberScheduled": 1, "desiredNumberScheduled": 1,
                             "numberMisscheduled": 0, "numberReady": 1}
        else:
            out["status"] = {"replicas": 1, "readyReplicas": 1}
        return out
    return complete


# ---- service accounts, services, secrets, config maps ----------------------------------------
#
# These kinds carry no metadata.generation and no managedFields here (managed_fields is
# accepted for the common signature). Error messages name fields and keys, never values:
# a Secret's data must not end up anywhere but in its answers.

_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def _check_config_keys(kind, field, data):
    if data is None:
        return
    if not isinstance(data, dict):
        raise BadObject("%s: %s must be a map of strings" % (kind, field))
    for k in data:
        if len(k) > 253 or not _CONFIG_KEY.fullmatch(k):
            raise BadObject("%s: %s[%s]: a valid config key must consist of alphanumeric "
                            "characters, '-', '_' or '.'" % (kind, field, k))


def _check_base64(kind, field, data):
    """The values of a map of []byte fields (base64 in JSON); the keys name the problem."""
    for k, v in (data or {}).items():
        ok = isinstance(v, str)
        if ok:
            try:
                base64.b64decode(v.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                ok = False
        if not ok:
            raise BadObject("%s: %s[%s]: illegal base64 data" % (kind, field, k))


def complete_service_account(obj, now=None, managed_fields=False):
    now = now or rfc3339()
    meta = _base_meta(obj, "ServiceAccount", True, now)
    out = {"kind": "ServiceAccount", "apiVersion": "v1",
           "metadata": with_key_first(meta, META_ORDER)}
    for key in ("secrets", "imagePullSecrets"):
        if obj.get(key):
            out[key] = obj[key]
    if obj.get("automountServiceAccountToken") is not None:
        out["automountServiceAccountToken"] = obj["automountServiceAccountToken"]
    return out


def complete_secret(obj, now=None, managed_fields=False):
    """stringData is merged into data (base64) and dropped, as the API server stores it;
    type defaults to Opaque."""
    now = now or rfc3339()
    meta = _base_meta(obj, "Secret", True, now)
    data = obj.get("data")
    string_data = obj.get("stringData")
    _check_config_keys("Secret", "data", data)
    _check_config_keys("Secret", "stringData", string_data)
    _check_base64("Secret", "data", data)
    data = dict(data or {})
    for k, v in (string_data or {}).items():
        if not isinstance(v, str):
            raise BadObject("Secret: stringData[%s] must be a string" % k)
        data[k] = base64.b64encode(v.encode()).decode()
    stype = obj.get("type") or "Opaque"
    required = {"kubernetes.io/tls": ("tls.crt", "tls.key"),
                "kubernetes.io/basic-auth": (),
                "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
                "kubernetes.io/dockercfg": (".dockercfg",),
                "kubernetes.io/ssh-auth": ("ssh-privatekey",)}.get(stype, ())
    for k in required:
        if k not in data:
            raise BadObject("Secret: data[%s]: Required value" % k)
    out = {"kind": "Secret", "apiVersion": "v1", "metadata": with_key_first(meta, META_ORDER)}
    if obj.get("immutable") is not None:
        out["immutable"] = obj["immutable"]
    if data:
        out["data"] = dict(sorted(data.items()))
    out["type"] = stype
    return out


def complete_config_map(obj, now=None, managed_fields=False):
    now = now or rfc3339()
    meta = _base_meta(obj, "ConfigMap", True, now)
    data, binary = obj.get("data"), obj.get("binaryData")
    _check_config_keys("ConfigMap", "data", data)
    _check_config_keys("ConfigMap", "binaryData", binary)
    for k, v in (data or {}).items():
        if not isinstance(v, str):
            raise BadObject("ConfigMap: data[%s] must be a string" % k)
    _check_base64("ConfigMap", "binaryData", binary)
    for k in set(data or {}) & set(binary or {}):
        raise BadObject("ConfigMap: data[%s]: duplicate of a key in binaryData" % k)
    out = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": with_key_first(meta, META_ORDER)}
    if obj.get("immutable") is not None:
        out["immutable"] = obj["immutable"]
    if data:
        out["data"] = dict(sorted(data.items()))
    if binary:
        out["binaryData"] = dict(sorted(binary.items()))
    return out


SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")


def service_ip(ns, name):
    """A cluster IP in 127.96.0.0/12 (the loopback twin of the default service range
    10.96.0.0/12), away from the .0.1 of "kubernetes" and the .0.10 of kube-dns."""
    h = hashlib.sha1(("svc/%s/%s" % (ns, name)).encode()).digest()
    return "127.%d.%d.%d" % (96 + h[0] % 16, 1 + h[1] % 254, 2 + h[2] % 252)


def node_port(ns, name, port):
    h = hashlib.sha1(("nodeport/%s/%s/%d" % (ns, name, port)).encode()).digest()
    return 30000 + int.from_bytes(h[:4], "big") % 2768


def complete_service(obj, now=None, managed_fields=False):
    """A Service as stored after defaulting and IP/port allocation: type ClusterIP, a
    cluster IP (unless "None" or ExternalName), single-stack IPv4, node ports for NodePort
    and LoadBalancer, targetPort = port, protocol TCP."""
    now = now or rfc3339()
    meta = _base_meta(obj, "Service", True, now)
    if len(meta["name"]) > 63 or not _DNS1035_LABEL.fullmatch(meta["name"]):
        raise BadObject("Service %r is invalid: metadata.name must be a DNS-1035 label"
                        % meta["name"])
    if not isinstance(obj.get("spec") or {}, dict):
        raise BadObject("Service: spec must be an object")
    spec = dict(obj.get("spec") or {})
    stype = spec.setdefault("type", "ClusterIP")
    if stype not in SERVICE_TYPES:
        raise BadObject("Service: spec.type: Unsupported value: supported values: %s"
                        % ", ".join('"%s"' % t for t in SERVICE_TYPES))
    headless = spec.get("clusterIP") == "None"
    given = spec.get("ports") or []
    if not given and stype != "ExternalName" and not headless:
        raise BadObject("Service: spec.ports: Required value")
    ports, names = [], set()
    for i, p in enumerate(given):
        if not isinstance(p, dict):
            raise BadObject("Service: spec.ports[%d]: must be an object" % i)
        p = dict(p)
        if not isinstance(p.get("port"), int) or not 0 < p["port"] < 65536:
            raise BadObject("Service: spec.ports[%d].port: must be between 1 and 65535" % i)
        if len(given) > 1 and not p.get("name"):
            raise BadObject("Service: spec.ports[%d].name: Required value" % i)
        if p.get("name") in names:
            raise BadObject("Service: spec.ports[%d].name: Duplicate value" % i)
        names.add(p.get("name"))
        p.setdefault("protocol", "TCP")
        if p.get("targetPort") in (None, 0, ""):
            p["targetPort"] = p["port"]
        if stype in ("NodePort", "LoadBalancer"):
            p.setdefault("nodePort", node_port(meta["namespace"], meta["name"], p["port"]))
        ports.append(with_key_first(p, ("name", "protocol", "appProtocol", "port",
                                        "targetPort", "nodePort")))
    if ports:
        spec["ports"] = ports
    if stype == "ExternalName":
        if not spec.get("externalName"):
            raise BadObject("Service: spec.externalName: Required value")
        if spec.get("clusterIP"):
            raise BadObject("Service: spec.clusterIP: Invalid value: may not be set for "
                            "ExternalName services")
    else:
        if not spec.get("clusterIP"):
            spec["clusterIP"] = service_ip(meta["namespace"], meta["name"])
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "ClientIP":
        spec.setdefault("sessionAffinityConfig", {"clientIP": {"timeoutSeconds": 10800}})
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if stype == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if spec.get("selector"):
        spec["selector"] = dict(sorted(spec["selector"].items()))
    else:
        spec.pop("selector", None)
    spec = with_key_first(spec, (
        "ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs",
        "sessionAffinity", "loadBalancerIP", "loadBalancerSourceRanges", "externalName",
        "externalTrafficPolicy", "healthCheckNodePort", "publishNotReadyAddresses",
        "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy",
        "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy",
        "trafficDistribution"))
    status = obj.get("status") or {"loadBalancer": {}}
    return {"kind": "Service", "apiVersion": "v1", "metadata": with_key_first(meta, META_ORDER),
            "spec": spec, "status": status}


# ---- RBAC -------------------------------------------------------------------------------------

RBAC_GROUP = "rbac.authorization.k8s.io"


def _complete_rules(kind, rules, namespaced):
    out = []
    for i, r in enumerate(rules or []):
        where = "%s: rules[%d]" % (kind, i)
        if not isinstance(r, dict):
            raise BadObject("%s: must be an object" % where)
        if not r.get("verbs"):
            raise BadObject("%s.verbs: Required value: verbs must contain at least one value"
                            % where)
        if r.get("nonResourceURLs"):
            if namespaced:
                raise BadObject("%s.nonResourceURLs: Invalid value: namespaced rules cannot "
                                "apply to non-resource URLs" % where)
            if r.get("apiGroups") or r.get("resources") or r.get("resourceNames"):
                raise BadObject("%s.nonResourceURLs: Invalid value: rules cannot apply to "
                                "both regular resources and non-resource URLs" % where)
        else:
            if not r.get("apiGroups"):
                raise BadObject("%s.apiGroups: Required value: resource rules must supply at "
                                "least one api group" % where)
            if not r.get("resources"):
                raise BadObject("%s.resources: Required value: resource rules must supply at "
                                "least one resource" % where)
        out.append(with_key_first(r, ("verbs", "apiGroups", "resources", "resourceNames",
                                      "nonResourceURLs")))
    return out


def complete_role(kind):
    """Roles and ClusterRoles: stored as posted; "rules" is always written (null when
    absent), as Go writes a field without omitempty."""
    namespaced = kind == "Role"

    def complete(obj, now=None, managed_fields=False):
        now = now or rfc3339()
        meta = _base_meta(obj, kind, namespaced, now)
        rules = obj.get("rules")
        out = {"kind": kind, "apiVersion": RBAC_GROUP + "/v1",
               "metadata": with_key_first(meta, META_ORDER),
               "rules": None if rules is None else _complete_rules(kind, rules, namespaced)}
        if not namespaced and obj.get("aggregationRule") is not None:
            out["aggregationRule"] = obj["aggregationRule"]
        return out
    return complete


def complete_binding(kind):
    """RoleBindings and ClusterRoleBindings, with the defaults of the subjects' apiGroup."""
    namespaced = kind == "RoleBinding"
    ref_kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)

    def complete(obj, now=None, managed_fields=False):
        now = now or rfc3339()
        meta = _base_meta(obj, kind, namespaced, now)
        ref = obj.get("roleRef")
        if not isinstance(ref, dict) or not ref.get("name"):
            raise BadObject("%s: roleRef.name: Required value" % kind)
        if ref.get("kind") not in ref_kinds:
            raise BadObject("%s: roleRef.kind: Unsupported value: %r: supported values: %s"
                            % (kind, ref.get("kind"), ", ".join('"%s"' % k for k in ref_kinds)))
        if ref.get("apiGroup") != RBAC_GROUP:
            raise BadObject('%s: roleRef.apiGroup: Unsupported value: %r: supported values: "%s"'
                            % (kind, ref.get("apiGroup"), RBAC_GROUP))
        subjects = []
        for i, s in enumerate(obj.get("subjects") or []):
            where = "%s: subjects[%d]" % (kind, i)
            if not isinstance(s, dict):
                raise BadObject("%s: must be an object" % where)
            s = dict(s)
            if not s.get("name"):
                raise BadObject("%s.name: Required value" % where)
            if s.get("kind") == "ServiceAccount":
                # apiGroup defaults to "", which omitempty leaves out.
                if not s.get("apiGroup"):
                    s.pop("apiGroup", None)
                if not s.get("namespace") and not namespaced:
                    raise BadObject("%s.namespace: Required value" % where)
            elif s.get("kind") in ("User", "Group"):
                s.setdefault("apiGroup", RBAC_GROUP)
            else:
                raise BadObject('%s.kind: Unsupported value: %r: supported values: '
                                '"ServiceAccount", "User", "Group"' % (where, s.get("kind")))
            subjects.append(with_key_first(s, ("kind", "apiGroup", "name", "namespace")))
        out = {"kind": kind, "apiVersion": RBAC_GROUP + "/v1",
               "metadata": with_key_first(meta, META_ORDER)}
        if subjects:
            out["subjects"] = subjects
        out["roleRef"] = with_key_first(ref, ("apiGroup", "kind", "name"))
        return out
    return complete


# ---- label selectors ---------------------------------------------------------------------


class SelectorError(Exception):
    pass


_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def _valid_key(key):
    if "/" in key:
        prefix, name = key.split("/", 1)
        return bool(_DNS_SUBDOMAIN.match(prefix)) and bool(_LABEL_NAME.match(name))
    return bool(_LABEL_NAME.match(key))


def _valid_value(v):
    return v == "" or bool(_LABEL_NAME.match(v))


def _tokens(text):
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("!=", i) or text.startswith("==", i):
            yield text[i:i + 2]
            i += 2
        elif c in "!=(),<>":
            yield c
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "!=(),<>":
                j += 1
            yield ("id", text[i:j])
            i = j


def _show(tok):
    return tok[1] if isinstance(tok, tuple) else tok


def parse_label_selector(text):
    """Parses a label selector into a list of (key, op, values) with op one of
    "in", "notin", "exists", "!exists", "gt", "lt" ("a=b" is ("a", "in", {"b"}), "a!=b"
    is ("a", "notin", {"b"})). Raises SelectorError with a real server's wording."""
    toks = list(_tokens(text or ""))
    reqs = []
    i = 0

    def at(k):
        return toks[k] if k < len(toks) else ""

    def ident(k):
        return isinstance(at(k), tuple)

    def fail(what):
        raise SelectorError("unable to parse requirement: %s" % what)

    while i < len(toks):
        neg = False
        if toks[i] == "!":
            neg = True
            i += 1
        if not ident(i):
            fail("found '%s', expected: identifier" % _show(at(i)))
        key = toks[i][1]
        if not _valid_key(key):
            fail('invalid label key "%s": name part must consist of alphanumeric characters, '
                 "'-', '_' or '.', and must start and end with an alphanumeric character" % key)
        i += 1
        if neg:
            reqs.append((key, "!exists", None))
        elif i >= len(toks) or toks[i] == ",":
            reqs.append((key, "exists", None))
        elif toks[i] in ("=", "==", "!="):
            op = "notin" if toks[i] == "!=" else "in"
            i += 1
            val = ""
            if ident(i):
                val = toks[i][1]
                i += 1
            if not _valid_value(val):
                fail('invalid label value: "%s"' % val)
            reqs.append((key, op, {val}))
        elif toks[i] in ("<", ">"):
            op = "gt" if toks[i] == ">" else "lt"
            i += 1
            if not (ident(i) and re.fullmatch(r"-?\d+", toks[i][1])):
                fail("for 'Gt', 'Lt' operators, the value must be an integer")
            reqs.append((key, op, int(toks[i][1])))
            i += 1
        elif ident(i) and toks[i][1] in ("in", "notin"):
            op = toks[i][1]
            i += 1
            if at(i) != "(":
                fail("found '%s', expected: '('" % _show(at(i)))
            i += 1
            vals = set()
            while True:
                if ident(i):
                    if not _valid_value(toks[i][1]):
                        fail('invalid label value: "%s"' % toks[i][1])
                    vals.add(toks[i][1])
                    i += 1
                else:
                    vals.add("")
                if at(i) not in (",", ")"):
                    fail("found '%s', expected: ',', ')'" % _show(at(i)))
                i += 1
                if toks[i - 1] == ")":
                    break
            reqs.append((key, op, vals))
        else:
            fail("found '%s', expected: in, notin, =, ==, !=, gt, lt" % _show(toks[i]))
        if i < len(toks):
            if toks[i] != ",":
                fail("found '%s', expected: ','" % _show(toks[i]))
            i += 1
            if i >= len(toks):
                fail("found '', expected: !, identifier")
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        have = key in labels
        v = labels.get(key)
        if op == "in" and not (have and v in vals):
            return False
        if op == "notin" and have and v in vals:
            return False
        if op == "exists" and not have:
            return False
        if op == "!exists" and have:
            return False
        if op in ("gt", "lt"):
            try:
                n = int(v)
            except (TypeError, ValueError):
                return False
            if (op == "gt" and not n > vals) or (op == "lt" and not n < vals):
                return False
    return True


# ---- field selectors -----------------------------------------------------------------------


def _split_unescaped(text, seps):
    """Splits on the first unescaped separator among seps (tried in order at each position);
    returns (left, sep, right) or (text, None, None)."""
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        for s in seps:
            if text.startswith(s, i):
                return text[:i], s, text[i + len(s):]
        i += 1
    return text, None, None


def _unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v) and v[i + 1] in "\\,=":
            out.append(v[i + 1])
            i += 2
        elif v[i] == "\\":
            raise SelectorError("invalid field selector: invalid escape sequence")
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def parse_field_selector(text, supported):
    """Parses "a=b,c!=d" into [(field, negate, value)]; fields outside supported raise
    SelectorError("field label not supported: X") as a real server answers."""
    terms = []
    rest = text or ""
    while rest:
        term, sep, rest2 = _split_unescaped(rest, (",",))
        rest = rest2 if sep else ""
        if not term:
            continue
        key, op, val = _split_unescaped(term, ("!=", "==", "="))
        if op is None:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (text, term))
        key = key.strip()
        if key not in supported:
            raise SelectorError("field label not supported: %s" % key)
        terms.append((key, op == "!=", _unescape(val)))
    return terms


def fields_match(terms, fields):
    for key, negate, val in terms:
        if (fields.get(key, "") == val) == negate:
            return False
    return True


def _pod_fields(o):
    m, s, st = o.get("metadata", {}), o.get("spec", {}), o.get("status", {})
    return {"metadata.name": m.get("name", ""), "metadata.namespace": m.get("namespace", ""),
            "spec.nodeName": s.get("nodeName", ""),
            "spec.restartPolicy": s.get("restartPolicy", ""),
            "spec.schedulerName": s.get("schedulerName", ""),
            "spec.serviceAccountName": s.get("serviceAccountName", ""),
            "spec.hostNetwork": "true" if s.get("hostNetwork") else "false",
            "status.phase": st.get("phase", ""), "status.podIP": st.get("podIP", ""),
            "status.nominatedNodeName": st.get("nominatedNodeName", "")}


def _rs_fields(o):
    m = o.get("metadata", {})
    return {"metadata.name": m.get("name", ""), "metadata.namespace": m.get("namespace", ""),
            "status.replicas": str(o.get("status", {}).get("replicas", 0))}


def _ns_fields(o):
    return {"metadata.name": o["metadata"]["name"],
            "status.phase": o.get("status", {}).get("phase", "")}


def _meta_fields(o):
    m = o.get("metadata", {})
    f = {"metadata.name": m.get("name", "")}
    if "namespace" in m:
        f["metadata.namespace"] = m["namespace"]
    return f


def _secret_fields(o):
    return dict(_meta_fields(o), type=o.get("type", ""))


def _service_fields(o):
    s = o.get("spec", {})
    return dict(_meta_fields(o), **{"spec.clusterIP": s.get("clusterIP", ""),
                                    "spec.type": s.get("type", "")})


# ---- server-side printing (kubectl's tables) -------------------------------------------------

_NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, "
              "although some resources may allow a client to request the generation of an "
              "appropriate name automatically. Name is primarily intended for creation "
              "idempotence and configuration definition. Cannot be updated. More info: "
              "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object "
             "was created. It is not guaranteed to be set in happens-before order across "
             "separate operations. Clients may not set this value. It is represented in "
             "RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
             "lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


def _col(name, ctype, desc, priority=0, fmt=""):
    return {"name": name, "type": ctype, "format": fmt, "description": desc, "priority": priority}


POD_COLUMNS = [
    _col("Name", "string", _NAME_DESC, fmt="name"),
    _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", "string", "The aggregate status of the containers in this pod."),
    _col("Restarts", "string", "The number of times the containers in this pod have been "
         "restarted and when the last container in this pod has restarted."),
    _col("Age", "string", _AGE_DESC),
    _col("IP", "string", "IP address allocated to the pod. Routable at least within the "
         "cluster. Empty if not yet allocated.", 1),
    _col("Node", "string", "Name of the node this pod is assigned to.", 1),
    _col("Nominated Node", "string", "Name of the node this pod is nominated to.", 1),
    _col("Readiness Gates", "string", "The readiness gates of this pod.", 1),
]


def _pod_row(o, now):
    spec, st = o.get("spec", {}), o.get("status", {})
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    reason = st.get("reason") or st.get("phase") or "Unknown"
    for c in statuses:
        state = c.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason") and reason != "Running":
            reason = state["terminated"]["reason"]
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    return [o["metadata"]["name"], "%d/%d" % (ready, len(spec.get("containers") or [])),
            reason, str(restarts), age(o, now), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>",
            "<none>" if not gates else "0/%d" % len(gates)]


RS_COLUMNS = [
    _col("Name", "string", _NAME_DESC, fmt="name"),
    _col("Desired", "integer", "Replicas is the number of desired replicas. This is a pointer "
         "to distinguish between explicit zero and unspecified. Defaults to 1. More info: "
         "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"),
    _col("Current", "integer", "Replicas is the most recently observed number of replicas. "
         "More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"),
    _col("Ready", "integer", "readyReplicas is the number of pods targeted by this ReplicaSet "
         "with a Ready Condition."),
    _col("Age", "string", _AGE_DESC),
    _col("Containers", "string", "Names of each container in the template.", 1),
    _col("Images", "string", "Images referenced by each container in the template.", 1),
    _col("Selector", "string", "Selector is a label query over pods that should match the "
         "replica count.", 1),
]


def _selector_text(sel):
    parts = ["%s=%s" % kv for kv in sorted((sel or {}).get("matchLabels", {}).items())]
    for e in (sel or {}).get("matchExpressions", []) or []:
        op = e.get("operator", "")
        if op in ("In", "NotIn"):
            parts.append("%s %s (%s)" % (e["key"], op.lower(), ",".join(e.get("values", []))))
        elif op == "Exists":
            parts.append(e["key"])
        else:
            parts.append("!" + e["key"])
    return ",".join(parts) or "<none>"


def _rs_row(o, now):
    spec, st = o.get("spec", {}), o.get("status", {})
    cs = (spec.get("template", {}).get("spec", {}) or {}).get("containers", [])
    return [o["metadata"]["name"], spec.get("replicas", 1), st.get("replicas", 0),
            st.get("readyReplicas", 0), age(o, now), ",".join(c.get("name", "") for c in cs),
            ",".join(c.get("image", "") for c in cs), _selector_text(spec.get("selector"))]


NS_COLUMNS = [
    _col("Name", "string", _NAME_DESC, fmt="name"),
    _col("Status", "string", "The status of the namespace"),
    _col("Age", "string", _AGE_DESC),
]


def _ns_row(o, now):
    return [o["metadata"]["name"], o.get("status", {}).get("phase", ""), age(o, now)]


GENERIC_COLUMNS = [_col("Name", "string", _NAME_DESC, fmt="name"), _col("Age", "string", _AGE_DESC)]


def _generic_row(o, now):
    return [o["metadata"]["name"], age(o, now)]


# The printers of the API server print with Wide set: priority 1 columns are always
# filled. Counts are integers in "string" columns, as the printers declare them.

SA_COLUMNS = [
    _col("Name", "string", _NAME_DESC, fmt="name"),
    _col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that "
         "pods running using this ServiceAccount are allowed to use. Pods are only limited to "
         "this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" "
         "annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" "
         "annotation is deprecated since v1.32. Prefer separate namespaces to isolate access "
         "to mounted secrets. This field should not be used to find auto-generated service "
         "account token secrets for use outside of pods. Instead, tokens can be requested "
         "directly using the TokenRequest API, or service account token secrets can be "
         "manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret"),
    _col("Age", "string", _AGE_DESC),
]


def _sa_row(o, now):
    return [o["metadata"]["name"], len(o.get("secrets") or []), age(o, now)]


SVC_COLUMNS = [
    _col("Name", "string", _NAME_DESC, fmt="name"),
    _col("Type", "string", "type determines how the Service is exposed. Defaults to "
         "ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. "
         "\"ClusterIP\" allocates a cluster-internal IP address for load-balancing to "
         "endpoints. Endpoints are determined by the selector or if that is not specified, by "
         "manual construction of an Endpoints object or EndpointSlice objects. If clusterIP "
         "is \"None\", no virtual IP is allocated and the endpoints are published as a set of "
         "endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates "
         "a port on every node which routes to the same endpoints as the clusterIP. "
         "\"LoadBalancer\" builds on NodePort and creates an external load-balancer (if "
         "supported in the current cloud) which routes to the same endpoints as the "
         "clusterIP. \"ExternalName\" aliases this service to the specified externalName. "
         "Several other fields do not apply to ExternalName services. More info: "
         "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"),
    _col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually "
         "assigned randomly. If an address is specified manually, is in-range (as per system "
         "configuration), and is not in use, it will be allocated to the service; otherwise "
         "creation of the service will fail. This field may not be changed through updates "
         "unless the type field is also being changed to ExternalName (which requires this "
         "field to be blank) or the type field is being changed from ExternalName (in which "
         "case this field may optionally be specified, as describe above).  Valid values are "
         "\"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes "
         "a \"headless service\" (no virtual IP), which is useful when direct endpoint "
         "connections are preferred and proxying is not required.  Only applies to types "
         "ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a "
         "Service of type ExternalName, creation will fail. This field will be wiped when "
         "updating a Service to type ExternalName. More info: "
         "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    _col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in "
         "the cluster will also accept traffic for this service.  These IPs are not managed "
         "by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node "
         "with this IP.  A common example is external load-balancers that are not part of "
         "the Kubernetes system."),
    _col("Port(s)", "string", "The list of ports that are exposed by this service. More "
         "info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    _col("Age", "string", _AGE_DESC),
    _col("Selector", "string", "Route service traffic to pods with label keys and values "
         "matching this selector. If empty or not present, the service is assumed to have an "
         "external process managing its endpoints, which Kubernetes will not modify. Only "
         "applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is "
         "ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
         1),
]


def _external_ip(spec, status):
    stype = spec.get("type", "")
    external = spec.get("externalIPs") or []
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if stype == "LoadBalancer":
        lb = [i.get("ip") or i.get("hostname") or ""
              for i in (status.get("loadBalancer") or {}).get("ingress") or []]
        lb = [x for x in lb if x]
        return ",".join(lb + external) or "<pending>"
    if stype == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _svc_row(o, now):
    spec, st = o.get("spec", {}), o.get("status", {})
    ports = ",".join("%d:%d/%s" % (p["port"], p["nodePort"], p.get("protocol", ""))
                     if p.get("nodePort") else "%d/%s" % (p["port"], p.get("protocol", ""))
                     for p in spec.get("ports") or [])
    selector = ",".join("%s=%s" % kv for kv in sorted((spec.get("selector") or {}).items()))
    return [o["metadata"]["name"], spec.get("type", ""),
            (spec.get("clusterIPs") or ["<none>"])[0], _external_ip(spec, st),
            ports or "<none>", age(o, now), selector or "<none>"]


SECRET_COLUMNS = [
    _col("Name", "string", _NAME_DESC, fmt="name"),
    _col("Type", "string", "Used to facilitate programmatic handling of secret data. More "
         "info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
    _col("Data", "string", "Data contains the secret data. Each key must consist of "
         "alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data "
         "is a base64 encoded string, representing the arbitrary (possibly non-string) data "
         "value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
    _col("Age", "string", _AGE_DESC),
]


def _secret_row(o, now):
    return [o["metadata"]["name"], o.get("type", ""), len(o.get("data") or {}), age(o, now)]


CM_COLUMNS = [
    _col("Name", "string", _NAME_DESC, fmt="name"),
    _col("Data", "string", "Data contains the configuration data. Each key must consist of "
         "alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must "
         "use the BinaryData field. The keys stored in Data must not overlap with the keys in "
         "the BinaryData field, this is enforced during validation process."),
    _col("Age", "string", _AGE_DESC),
]


def _cm_row(o, now):
    return [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            age(o, now)]


ROLE_COLUMNS = [_col("Name", "string", _NAME_DESC, fmt="name"),
                _col("Created At", "date", _AGE_DESC)]


def _role_row(o, now):
    return [o["metadata"]["name"], o["metadata"].get("creationTimestamp") or
            "0001-01-01T00:00:00Z"]


def binding_columns(kind):
    what = kind[0].lower() + kind[1:]
    ref = ("RoleRef can reference a Role in the current namespace or a ClusterRole in the "
           "global namespace. If the RoleRef cannot be resolved, the Authorizer must return "
           "an error. This field is immutable." if kind == "RoleBinding" else
           "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef "
           "cannot be resolved, the Authorizer must return an error. This field is immutable.")
    return [_col("Name", "string", _NAME_DESC, fmt="name"), _col("Role", "string", ref),
            _col("Age", "string", _AGE_DESC),
            _col("Users", "string", "Users in the " + what, 1),
            _col("Groups", "string", "Groups in the " + what, 1),
            _col("ServiceAccounts", "string", "ServiceAccounts in the " + what, 1)]


def _binding_row(o, now):
    ref = o.get("roleRef") or {}
    users, groups, sas = [], [], []
    for s in o.get("subjects") or []:
        if s.get("kind") == "ServiceAccount":
            sas.append("%s/%s" % (s.get("namespace", ""), s.get("name", "")))
        elif s.get("kind") == "User":
            users.append(s.get("name", ""))
        elif s.get("kind") == "Group":
            groups.append(s.get("name", ""))
    return [o["metadata"]["name"], "%s/%s" % (ref.get("kind", ""), ref.get("name", "")),
            age(o, now), ", ".join(users), ", ".join(groups), ", ".join(sas)]


def partial_metadata(obj):
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"]}


def to_table(res, objs, list_meta, include_object="Metadata", headers=True, now=None):
    """A meta.k8s.io/v1 Table of objs (dicts) as the API server prints resource res.
    include_object: "None", "Metadata" (the default of the API) or "Object"."""
    now = time.time() if now is None else now
    rows = []
    for o in objs:
        row = {"cells": res.row(o, now)}
        if include_object == "Object":
            row["object"] = o
        elif include_object != "None":
            row["object"] = partial_metadata(o)
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": res.columns if headers else None, "rows": rows}


# ---- the served resources ----------------------------------------------------------------


ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]

# The group-version of the kinds that subresources answer with from another group.
SUBRESOURCE_GROUP_VERSIONS = {"Scale": ("autoscaling", "v1"), "Eviction": ("policy", "v1"),
                              "TokenRequest": ("authentication.k8s.io", "v1")}

_EMPTY_TEMPLATE = {"metadata": {"creationTimestamp": None}, "spec": {"containers": None}}


def storage_version_hash(group, version, kind):
    """discovery's storageVersionHash: the first 8 bytes of SHA-256("group/version/kind"),
    base64."""
    digest = hashlib.sha256(("%s/%s/%s" % (group, version, kind)).encode()).digest()
    return base64.b64encode(digest[:8]).decode()


class Resource:
    """One served resource. empty: the fields besides kind, apiVersion and metadata of an
    empty object of the kind as Go serialises it (zero values of fields without
    omitempty), which is what bookmarks carry. subresources: (name, kind, verbs), the
    group-version of kind from SUBRESOURCE_GROUP_VERSIONS when it is another group's."""

    def __init__(self, name, singular, kind, group, namespaced, short_names, categories,
                 fields, complete, columns, row, subresources=(), verbs=None, empty=None):
        self.name = name
        self.singular = singular
        self.kind = kind
        self.group = group
        self.version = "v1"
        self.api_version = "%s/v1" % group if group else "v1"
        self.namespaced = namespaced
        self.short_names = short_names
        self.categories = categories
        self.fields = fields
        self.field_labels = frozenset(fields({"metadata": {"name": "", "namespace": ""},
                                              "spec": {}, "status": {}}).keys())
        self.complete = complete
        self.columns = columns
        self.row = row
        self.subresources = subresources
        self.verbs = list(verbs or ALL_VERBS)
        self.empty = empty or {}
        self.storage_hash = storage_version_hash(group, self.version, kind)

    @property
    def prefix(self):
        return "/api/v1" if not self.group else "/apis/%s/v1" % self.group

    @property
    def qualified(self):
        """The group-qualified name of API errors ("deployments.apps", "pods")."""
        return "%s.%s" % (self.name, self.group) if self.group else self.name

    def subresource_group_version(self, kind):
        return SUBRESOURCE_GROUP_VERSIONS.get(kind, (self.group, self.version))


RESOURCES = {r.name: r for r in [
    Resource("pods", "pod", "Pod", "", True, ["po"], ["all"], _pod_fields, complete_pod,
             POD_COLUMNS, _pod_row,
             subresources=(("pods/status", "Pod", STATUS_VERBS),
                           ("pods/log", "Pod", ["get"]),
                           ("pods/eviction", "Eviction", ["create"])),
             empty={"spec": {"containers": None}, "status": {}}),
    Resource("namespaces", "namespace", "Namespace", "", False, ["ns"], [], _ns_fields,
             complete_namespace, NS_COLUMNS, _ns_row,
             subresources=(("namespaces/status", "Namespace", STATUS_VERBS),),
             verbs=[v for v in ALL_VERBS if v != "deletecollection"],
             empty={"spec": {}, "status": {}}),
    Resource("serviceaccounts", "serviceaccount", "ServiceAccount", "", True, ["sa"], [],
             _meta_fields, complete_service_account, SA_COLUMNS, _sa_row,
             subresources=(("serviceaccounts/token", "TokenRequest", ["create"]),)),
    Resource("services", "service", "Service", "", True, ["svc"], ["all"], _service_fields,
             complete_service, SVC_COLUMNS, _svc_row,
             subresources=(("services/proxy", "ServiceProxyOptions",
                            ["create", "delete", "get", "patch", "update"]),
                           ("services/status", "Service", STATUS_VERBS)),
             empty={"spec": {}, "status": {"loadBalancer": {}}}),
    Resource("secrets", "secret", "Secret", "", True, [], [], _secret_fields, complete_secret,
             SECRET_COLUMNS, _secret_row),
    Resource("configmaps", "configmap", "ConfigMap", "", True, ["cm"], [], _meta_fields,
             complete_config_map, CM_COLUMNS, _cm_row),
    Resource("replicasets", "replicaset", "ReplicaSet", "apps", True, ["rs"], ["all"],
             _rs_fields, complete_replicaset, RS_COLUMNS, _rs_row,
             subresources=(("replicasets/scale", "Scale", STATUS_VERBS),
                           ("replicasets/status", "ReplicaSet", STATUS_VERBS)),
             empty={"spec": {"selector": None, "template": _EMPTY_TEMPLATE},
                    "status": {"replicas": 0}}),
    Resource("deployments", "deployment", "Deployment", "apps", True, ["deploy"], ["all"],
             _meta_fields, complete_workload("Deployment"), GENERIC_COLUMNS, _generic_row,
             subresources=(("deployments/scale", "Scale", STATUS_VERBS),
                           ("deployments/status", "Deployment", STATUS_VERBS)),
             empty={"spec": {"selector": None, "template": _EMPTY_TEMPLATE, "strategy": {}},
                    "status": {}}),
    Resource("daemonsets", "daemonset", "DaemonSet", "apps", True, ["ds"], ["all"],
             _meta_fields, complete_workload("DaemonSet"), GENERIC_COLUMNS, _generic_row,
             subresources=(("daemonsets/status", "DaemonSet", STATUS_VERBS),),
             empty={"spec": {"selector": None, "template": _EMPTY_TEMPLATE,
                             "updateStrategy": {}},
                    "status": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                               "desiredNumberScheduled": 0, "numberReady": 0}}),
    Resource("statefulsets", "statefulset", "StatefulSet", "apps", True, ["sts"], ["all"],
             _meta_fields, complete_workload("StatefulSet"), GENERIC_COLUMNS, _generic_row,
             subresources=(("statefulsets/scale", "Scale", STATUS_VERBS),
                           ("statefulsets/status", "StatefulSet", STATUS_VERBS)),
             empty={"spec": {"selector": None, "template": _EMPTY_TEMPLATE, "serviceName": "",
                             "updateStrategy": {}},
                    "status": {"replicas": 0, "availableReplicas": 0}}),
    Resource("roles", "role", "Role", RBAC_GROUP, True, [], [], _meta_fields,
             complete_role("Role"), ROLE_COLUMNS, _role_row, empty={"rules": None}),
    Resource("rolebindings", "rolebinding", "RoleBinding", RBAC_GROUP, True, [], [],
             _meta_fields, complete_binding("RoleBinding"), binding_columns("RoleBinding"),
             _binding_row, empty={"roleRef": {"apiGroup": "", "kind": "", "name": ""}}),
    Resource("clusterroles", "clusterrole", "ClusterRole", RBAC_GROUP, False, [], [],
             _meta_fields, complete_role("ClusterRole"), ROLE_COLUMNS, _role_row,
             empty={"rules": None}),
    Resource("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", RBAC_GROUP,
             False, [], [], _meta_fields, complete_binding("ClusterRoleBinding"),
             binding_columns("ClusterRoleBinding"), _binding_row,
             empty={"roleRef": {"apiGroup": "", "kind": "", "name": ""}}),
]}


def _groups():
    """{group: [Resource]}: the groups in the order of RESOURCES (the core group "" first,
    then as /apis lists them), resources in name order as discovery lists them."""
    groups = {}
    for r in RESOURCES.values():
        groups.setdefault(r.group, []).append(r)
    return {g: sorted(rs, key=lambda r: r.name) for g, rs in groups.items()}


GROUPS = _groups()
