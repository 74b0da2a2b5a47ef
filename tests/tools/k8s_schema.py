#!/usr/bin/python3
"""Strict schema check of Kubernetes manifests (what `kubectl apply` would send) against
the OpenAPI v2 document of a Kubernetes release, for podprof's chart tests.

The schema walk is kube_schema.Validator (the checker of the fake API server's answers,
in this directory): definition by x-kubernetes-group-version-kind, $ref followed,
unknown fields, wrong types, missing required fields, int32/int64 ranges, int-or-string,
repeated keys of list-type map/set lists. On top of it, for manifests:
  - YAML is read as the API machinery reads it (YAML 1.1 scalars, timestamps kept as
    strings) and a key repeated in one mapping is an error, as strict decoding makes it;
  - a resource.Quantity may be a number or a string in quantity syntax (the API server
    accepts `cpu: 1`); any other value is an error;
  - metadata.name must be a DNS-1123 subdomain (a label for Services), and label keys
    and values must be valid;
  - the fields the API server sets (uid, resourceVersion, creationTimestamp, status)
    are not required, unlike in objects read back from a server.

Usage: k8s_schema.py --swagger swagger.json FILE... ("-" reads stdin). A file is a
YAML stream (documents separated by ---) or a JSON array/object. Prints one line per
problem ("FILE: #N Kind/name: $.path: problem") and a summary; exit status 1 when any
document has a problem, 2 on unreadable input.
"""
import argparse
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kube_schema  # noqa: E402

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
QUANTITY_RE = re.compile(
    r"^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class ManifestValidator(kube_schema.Validator):
    def _walk(self, value, schema, path, errors):
        if schema.get("$ref") == "#/definitions/" + QUANTITY:
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or \
                (isinstance(value, str) and QUANTITY_RE.match(value))
            if not ok:
                errors.append("%s: %r is not a quantity" % (path, value))
            return
        super()._walk(value, schema, path, errors)

    def check_manifest(self, obj):
        if not isinstance(obj, dict):
            return ["$: a manifest must be a mapping"]
        name = self.definition_for(obj.get("kind"), obj.get("apiVersion"))
        if name is None:
            return ["$: no definition for kind %r apiVersion %r" % (obj.get("kind"),
                                                                  obj.get("apiVersion"))]
        errors = []
        self.check(obj, name, "$", errors)
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            errors.append("$.metadata.name: missing")
        else:
            rule = DNS1123_LABEL if obj.get("kind") == "Service" else DNS1123_SUBDOMAIN
            if len(meta["name"]) > (63 if rule is DNS1123_LABEL else 253) or \
                    not rule.match(meta["name"]):
                errors.append("$.metadata.name: %r is not a valid %s name" % (
                    meta["name"], obj.get("kind")))
        for p, labels in self._label_maps(obj, "$"):
            for k, v in labels.items():
                if not self._label_key(k):
                    errors.append("%s: %r is not a valid label key" % (p, k))
                if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
                    errors.append("%s.%s: %r is not a valid label value" % (p, k, v))
        return errors[:kube_schema.MAX_ERRORS]

    @staticmethod
    def _label_key(k):
        if not isinstance(k, str):
            return False
        prefix, _, name = k.rpartition("/")
        if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
            return False
        return 0 < len(name) <= 63 and bool(LABEL_NAME.match(name))

    def _label_maps(self, obj, path):
        """Every metadata.labels and selector matchLabels in the object."""
        if isinstance(obj, dict):
            for k, v in obj.items():
                sub = "%s.%s" % (path, k)
                if k in ("labels", "matchLabels") and isinstance(v, dict):
                    yield sub, v
                else:
                    yield from self._label_maps(v, sub)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from self._label_maps(v, "%s[%d]" % (path, i))


class StrictLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it: no timestamp type, no repeated keys."""


StrictLoader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    out = {}
    for knode, vnode in node.value:
        key = loader.construct_object(knode, deep=deep)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, "key %r repeated in one mapping" % (key,), knode.start_mark)
        out[key] = loader.construct_object(vnode, deep=deep)
    return out


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_documents(data):
    """The documents of a YAML stream or a JSON array/object (empty ones dropped)."""
    text = data.decode("utf-8")
    if text.lstrip().startswith(("[", "{")):
        obj = json.loads(text)
        return obj if isinstance(obj, list) else [obj]
    return [d for d in yaml.load_all(text, Loader=StrictLoader) if d is not None]


def describe(obj):
    if isinstance(obj, dict):
        return "%s/%s" % (obj.get("kind"), (obj.get("metadata") or {}).get("name"))
    return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--swagger", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    v = ManifestValidator(args.swagger)
    checked = bad = 0
    for fn in args.files:
        try:
            data = sys.stdin.buffer.read() if fn == "-" else open(fn, "rb").read()
            docs = load_documents(data)
        except (OSError, ValueError, yaml.YAMLError) as e:
            print("%s: cannot read: %s" % (fn, str(e).replace("\n", " ")))
            return 2
        for i, obj in enumerate(docs):
            errs = v.check_manifest(obj)
            checked += 1
            for e in errs:
                print("%s: #%d %s: %s" % (fn, i + 1, describe(obj), e))
            bad += bool(errs)
    print("%d documents checked, %d with errors" % (checked, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
