"""Discovery and OpenAPI documents of the fake Kubernetes API server (fake_kube.py).

Built from kube_model.RESOURCES: the legacy discovery documents (APIGroup,
APIResourceList), aggregated discovery (apidiscovery.k8s.io/v2, which kubectl 1.32 asks
for first) and OpenAPI v3 documents per group-version converted from the v2 document
(kubectl explain and apply read v3). Standard library only.
"""
import hashlib
import json

import kube_model as km

JSON = "application/json"


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def api_group(group):
    gv = {"groupVersion": "%s/v1" % group, "version": "v1"}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list():
    """/apis: every group but the core one."""
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [api_group(g) for g in km.GROUPS if g]}


def api_resource_list(group):
    resources = []
    for r in km.GROUPS[group]:
        entry = {"name": r.name, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": r.verbs}
        if r.short_names:
            entry["shortNames"] = r.short_names
        if r.categories:
            entry["categories"] = r.categories
        entry["storageVersionHash"] = r.storage_hash
        resources.append(entry)
        for sub, kind, verbs in sorted(r.subresources):
            e = {"name": sub, "singularName": "", "namespaced": r.namespaced, "kind": kind,
                 "verbs": verbs}
            g, v = r.subresource_group_version(kind)
            if (g, v) != (r.group, r.version):
                e.update(group=g, version=v)
            resources.append(e)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": "%s/v1" % group if group else "v1", "resources": resources}


def _aggregated_group(group):
    resources = []
    for r in km.GROUPS[group]:
        entry = {"resource": r.name,
                 "responseKind": {"group": r.group, "version": "v1", "kind": r.kind},
                 "scope": "Namespaced" if r.namespaced else "Cluster",
                 "singularResource": r.singular, "verbs": r.verbs}
        if r.short_names:
            entry["shortNames"] = r.short_names
        if r.categories:
            entry["categories"] = r.categories
        subs = []
        for sub, kind, verbs in sorted(r.subresources):
            g, v = r.subresource_group_version(kind)
            subs.append({"subresource": sub.split("/", 1)[1],
                         "responseKind": {"group": g, "version": v, "kind": kind},
                         "verbs": verbs})
        if subs:
            entry["subresources"] = subs
        resources.append(entry)
    return {"metadata": {"name": group, "creationTimestamp": None},
            "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}]}


def aggregated_discovery(core):
    """apidiscovery.k8s.io/v2 APIGroupDiscoveryList: of the core group for /api (core
    true), of every other group for /apis."""
    groups = [g for g in km.GROUPS if (g == "") == core]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": [_aggregated_group(g) for g in groups]}


def openapi_v3_documents(v2):
    """{group-version path: (hash, JSON bytes)}: OpenAPI 3.0 documents made from the v2
    one, per group-version as the API server publishes them (paths of that group-version,
    schemas under components.schemas)."""

    def conv(x):
        if isinstance(x, dict):
            out = {}
            for k, v in x.items():
                if k == "$ref" and isinstance(v, str):
                    out[k] = v.replace("#/definitions/", "#/components/schemas/")
                else:
                    out[k] = conv(v)
            return out
        if isinstance(x, list):
            return [conv(v) for v in x]
        return x

    schemas = conv(v2.get("definitions", {}))
    params = v2.get("parameters", {})
    docs = {}
    for gv_path in ["api/v1"] + ["apis/%s/v1" % g for g in km.GROUPS if g]:
        prefix = "/" + gv_path + "/"
        paths = {}
        for p, item in v2.get("paths", {}).items():
            if not p.startswith(prefix):
                continue
            new_item = {}
            for method, op in item.items():
                if method == "parameters":
                    new_item["parameters"] = [conv(params.get(x["$ref"].split("/")[-1], x))
                                              if "$ref" in x else conv(x) for x in op]
                    continue
                op = dict(op)
                body = None
                plist = []
                for prm in op.pop("parameters", []):
                    if "$ref" in prm:
                        prm = params.get(prm["$ref"].split("/")[-1], prm)
                    if prm.get("in") == "body":
                        body = prm
                    else:
                        plist.append(conv(_v3_param(prm)))
                if plist:
                    op["parameters"] = plist
                produces = op.pop("produces", [JSON])
                consumes = op.pop("consumes", [JSON])
                op.pop("schemes", None)
                if body is not None:
                    op["requestBody"] = {"content": {c: {"schema": conv(body.get("schema", {}))}
                                                     for c in consumes},
                                         "required": bool(body.get("required"))}
                responses = {}
                for code, r in op.get("responses", {}).items():
                    nr = {"description": r.get("description", "")}
                    if "schema" in r:
                        nr["content"] = {c: {"schema": conv(r["schema"])} for c in produces}
                    responses[code] = nr
                op["responses"] = responses
                new_item[method] = conv(op)
            if "parameters" in new_item:
                new_item["parameters"] = [_v3_param(x) for x in new_item["parameters"]]
            paths[p] = new_item
        doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": v2.get(
            "info", {}).get("version", "unversioned")}, "paths": paths,
            "components": {"schemas": schemas,
                           "securitySchemes": {"BearerToken": {"type": "apiKey",
                                                               "name": "authorization",
                                                               "in": "header"}}}}
        raw = dumps(doc) + b"\n"
        docs[gv_path] = (hashlib.sha512(raw).hexdigest()[:128].upper(), raw)
    return docs


def _v3_param(p):
    p = dict(p)
    if "schema" in p or "in" not in p:
        return p
    schema = {k: p.pop(k) for k in ("type", "format", "items", "enum", "default") if k in p}
    p.pop("collectionFormat", None)
    p["schema"] = schema
    return p
