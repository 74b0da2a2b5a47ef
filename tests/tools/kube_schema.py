#!/usr/bin/python3
"""Checks Kubernetes API JSON against the OpenAPI v2 document of a Kubernetes release.

A small validator for what an API server returns (standard library only):
  - the definition is found from kind and apiVersion (x-kubernetes-group-version-kind),
    or by name for the discovery types that carry no GVK;
  - $ref is followed; types are checked (integer and number keep bool out, int32/int64
    ranges, date-time is RFC 3339, int-or-string is either);
  - required properties must be present and not null;
  - unknown properties are errors where the schema lists properties and has no
    additionalProperties; additionalProperties schemas are applied to map values;
  - x-kubernetes-list-type map/set lists must not repeat keys/values;
  - a null value is accepted for an optional property: Go decoders treat it as the zero
    value and real servers emit some (lastProbeTime, creationTimestamp of templates).
Watch events are checked as WatchEvents whose object is checked by its own kind;
BOOKMARK objects only need kind, apiVersion and metadata.resourceVersion (the API
server sends an empty object of the kind, with Go zero values such as
"spec":{"containers":null}). Tables and aggregated discovery, absent from the OpenAPI
document, get a structural check.

Usage: kube_schema.py --swagger swagger.json [--watch] FILE...   (JSON, or with --watch
       newline-delimited watch events); prints the errors, exits 1 when there are any.
"""
import argparse
import json
import re
import sys

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
MAX_ERRORS = 50

DISCOVERY_DEFS = {
    "APIVersions": "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
    "APIGroupList": "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
    "APIGroup": "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
    "APIResourceList": "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
    "Status": "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
}
EVENT_TYPES = ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")


class Validator:
    def __init__(self, swagger_path):
        with open(swagger_path) as f:
            doc = json.load(f)
        self.defs = doc["definitions"]
        self.by_gvk = {}
        for name, d in self.defs.items():
            for gvk in d.get("x-kubernetes-group-version-kind", []):
                key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                # Prefer the definition of the group itself over shared meta types.
                if key not in self.by_gvk or not name.startswith("io.k8s.apimachinery"):
                    self.by_gvk[key] = name

    # -- entry points: each returns a list of "path: problem" strings --
    def check_document(self, obj, path="$"):
        """Any object returned by the API: chosen by kind/apiVersion."""
        errors = []
        if not isinstance(obj, dict):
            return ["%s: not a JSON object" % path]
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind == "Table" and api_version == "meta.k8s.io/v1":
            self._table(obj, path, errors)
        elif kind == "APIGroupDiscoveryList":
            self._aggregated(obj, path, errors)
        elif kind in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            self._partial(obj, path, errors)
        else:
            name = self.definition_for(kind, api_version)
            if name is None:
                return ["%s: no definition for kind %r apiVersion %r" % (path, kind, api_version)]
            self.check(obj, name, path, errors)
            if name.endswith("List") and isinstance(obj.get("items"), list):
                for i, item in enumerate(obj["items"]):
                    self._stored_meta(item, "%s.items[%d]" % (path, i), errors)
            elif kind not in DISCOVERY_DEFS and "metadata" in obj:
                self._stored_meta(obj, path, errors)
        return errors[:MAX_ERRORS]

    def check_event(self, ev, path="$"):
        errors = []
        if not isinstance(ev, dict):
            return ["%s: watch event is not a JSON object" % path]
        self.check(ev, "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", path, errors)
        t, obj = ev.get("type"), ev.get("object")
        if t not in EVENT_TYPES:
            errors.append("%s.type: %r is not a watch event type" % (path, t))
        if not isinstance(obj, dict):
            return errors + ["%s.object: not an object" % path]
        if t == "BOOKMARK":
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if not isinstance(rv, str) or not rv:
                errors.append("%s.object.metadata.resourceVersion: missing in BOOKMARK" % path)
            if self.definition_for(obj.get("kind"), obj.get("apiVersion")) is None:
                errors.append("%s.object: unknown kind %r" % (path, obj.get("kind")))
        elif t == "ERROR":
            if obj.get("kind") != "Status":
                errors.append("%s.object: ERROR event without a Status" % path)
            errors += self.check_document(obj, path + ".object")
        else:
            errors += self.check_document(obj, path + ".object")
        return errors[:MAX_ERRORS]

    def definition_for(self, kind, api_version):
        if kind in DISCOVERY_DEFS and api_version in ("v1", None):
            return DISCOVERY_DEFS[kind]
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return None
        group, _, version = api_version.rpartition("/")
        return self.by_gvk.get((group, version, kind))

    # -- the schema walk --
    def check(self, value, def_name, path, errors):
        self._walk(value, {"$ref": "#/definitions/" + def_name}, path, errors)

    def _resolve(self, schema):
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/definitions/"):
                raise ValueError("unsupported $ref %s" % ref)
            schema = self.defs[ref[len("#/definitions/"):]]
            seen += 1
            if seen > 50:
                raise ValueError("$ref loop at %s" % ref)
        return schema

    def _walk(self, value, schema, path, errors):
        if len(errors) >= MAX_ERRORS:
            return
        schema = self._resolve(schema)
        if "allOf" in schema:
            for s in schema["allOf"]:
                self._walk(value, s, path, errors)
        t = schema.get("type")
        fmt = schema.get("format")
        if fmt == "int-or-string":
            if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
                errors.append("%s: %r is neither an integer nor a string" % (path, value))
            return
        if t == "object":
            if not isinstance(value, dict):
                errors.append("%s: expected an object, got %s" % (path, type(value).__name__))
                return
            self._object(value, schema, path, errors)
        elif t == "array":
            if not isinstance(value, list):
                errors.append("%s: expected an array, got %s" % (path, type(value).__name__))
                return
            item_schema = schema.get("items", {})
            for i, v in enumerate(value):
                if v is None:
                    errors.append("%s[%d]: null list item" % (path, i))
                else:
                    self._walk(v, item_schema, "%s[%d]" % (path, i), errors)
            self._list_type(value, schema, path, errors)
        elif t == "string":
            if not isinstance(value, str):
                errors.append("%s: expected a string, got %r" % (path, value))
            elif fmt == "date-time" and not RFC3339.match(value):
                errors.append("%s: %r is not an RFC 3339 time" % (path, value))
            elif "enum" in schema and value not in schema["enum"]:
                errors.append("%s: %r is not one of %s" % (path, value, schema["enum"]))
        elif t == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                errors.append("%s: expected an integer, got %r" % (path, value))
            elif fmt == "int32" and not -2**31 <= value < 2**31:
                errors.append("%s: %d overflows int32" % (path, value))
            elif fmt == "int64" and not -2**63 <= value < 2**63:
                errors.append("%s: %d overflows int64" % (path, value))
        elif t == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append("%s: expected a number, got %r" % (path, value))
        elif t == "boolean":
            if not isinstance(value, bool):
                errors.append("%s: expected a boolean, got %r" % (path, value))
        elif "properties" in schema:
            if not isinstance(value, dict):
                errors.append("%s: expected an object" % path)
            else:
                self._object(value, schema, path, errors)
        # No type and no properties (RawExtension, JSON): anything goes.

    def _object(self, value, schema, path, errors):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        for req in schema.get("required", []):
            if value.get(req) is None:
                errors.append("%s: required property %r missing" % (path, req))
        for k, v in value.items():
            sub = "%s.%s" % (path, k)
            if props is not None and k in props:
                if v is not None:
                    self._walk(v, props[k], sub, errors)
            elif isinstance(addl, dict):
                if v is None:
                    errors.append("%s: null map value" % sub)
                else:
                    self._walk(v, addl, sub, errors)
            elif props is not None and addl is not True:
                errors.append("%s: unknown property" % sub)
        gvks = schema.get("x-kubernetes-group-version-kind")
        if gvks and "kind" in value and "apiVersion" in value:
            ok = any(value.get("kind") == g["kind"] and value.get("apiVersion") ==
                     ("%s/%s" % (g["group"], g["version"]) if g["group"] else g["version"])
                     for g in gvks)
            if not ok:
                errors.append("%s: kind %r apiVersion %r do not match the definition"
                              % (path, value.get("kind"), value.get("apiVersion")))

    def _list_type(self, value, schema, path, errors):
        lt = schema.get("x-kubernetes-list-type")
        if lt == "map":
            keys = schema.get("x-kubernetes-list-map-keys", [])
            seen = set()
            for i, v in enumerate(value):
                if not isinstance(v, dict):
                    continue
                k = tuple(json.dumps(v.get(x), sort_keys=True) for x in keys)
                if k in seen:
                    errors.append("%s[%d]: duplicate entry for keys %s=%s" % (path, i, keys, k))
                seen.add(k)
        elif lt == "set":
            seen = set()
            for i, v in enumerate(value):
                k = json.dumps(v, sort_keys=True)
                if k in seen:
                    errors.append("%s[%d]: duplicate set entry %s" % (path, i, k))
                seen.add(k)

    # -- what the schema does not say --
    def _stored_meta(self, obj, path, errors):
        """An object read from storage has the metadata the API server always sets."""
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            errors.append("%s.metadata: missing" % path)
            return
        for k in ("name", "uid", "resourceVersion", "creationTimestamp"):
            if not isinstance(meta.get(k), str) or not meta[k]:
                errors.append("%s.metadata.%s: missing on a stored object" % (path, k))

    def _partial(self, obj, path, errors):
        if obj.get("apiVersion") != "meta.k8s.io/v1":
            errors.append("%s: PartialObjectMetadata needs apiVersion meta.k8s.io/v1" % path)
        if obj.get("kind") == "PartialObjectMetadataList":
            self.check(obj.get("metadata"), "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
                       path + ".metadata", errors)
            for i, item in enumerate(obj.get("items") or []):
                self._partial(item, "%s.items[%d]" % (path, i), errors)
        else:
            self.check(obj.get("metadata"), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                       path + ".metadata", errors)
            self._stored_meta(obj, path, errors)

    def _table(self, obj, path, errors):
        cols = obj.get("columnDefinitions")
        rows = obj.get("rows")
        self.check(obj.get("metadata") or {}, "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
                   path + ".metadata", errors)
        if cols is not None:
            if not isinstance(cols, list) or not cols:
                errors.append("%s.columnDefinitions: not a non-empty list" % path)
                return
            for i, c in enumerate(cols):
                if not isinstance(c, dict) or not isinstance(c.get("name"), str) or \
                        c.get("type") not in ("string", "integer", "number", "boolean", "date"):
                    errors.append("%s.columnDefinitions[%d]: bad column %r" % (path, i, c))
        if not isinstance(rows, list):
            errors.append("%s.rows: not a list" % path)
            return
        for i, r in enumerate(rows):
            cells = r.get("cells") if isinstance(r, dict) else None
            if not isinstance(cells, list) or (cols and len(cells) != len(cols)):
                errors.append("%s.rows[%d]: %d cells for %d columns" % (
                    path, i, len(cells or []), len(cols or [])))
            if isinstance(r, dict) and isinstance(r.get("object"), dict):
                errors += self.check_document(r["object"], "%s.rows[%d].object" % (path, i))

    def _aggregated(self, obj, path, errors):
        if obj.get("apiVersion") not in ("apidiscovery.k8s.io/v2", "apidiscovery.k8s.io/v2beta1"):
            errors.append("%s: unexpected apiVersion %r" % (path, obj.get("apiVersion")))
        for i, item in enumerate(obj.get("items") or []):
            for j, ver in enumerate(item.get("versions") or []):
                for k, r in enumerate(ver.get("resources") or []):
                    p = "%s.items[%d].versions[%d].resources[%d]" % (path, i, j, k)
                    for field in ("resource", "responseKind", "scope", "verbs"):
                        if field not in r:
                            errors.append("%s: %s missing" % (p, field))
                    if r.get("scope") not in ("Namespaced", "Cluster"):
                        errors.append("%s.scope: %r" % (p, r.get("scope")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--swagger", required=True)
    ap.add_argument("--watch", action="store_true", help="files hold watch event lines")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    v = Validator(args.swagger)
    bad = 0
    checked = 0
    for fn in args.files:
        with open(fn, "rb") as f:
            data = f.read()
        docs = [ln for ln in data.split(b"\n") if ln.strip()] if args.watch else [data]
        for i, d in enumerate(docs):
            try:
                obj = json.loads(d)
            except ValueError as e:
                print("%s:%d: not JSON: %s" % (fn, i + 1, e))
                bad += 1
                continue
            errs = v.check_event(obj) if args.watch else v.check_document(obj)
            checked += 1
            for e in errs:
                print("%s:%d: %s" % (fn, i + 1, e))
            bad += bool(errs)
    print("%d documents checked, %d with errors" % (checked, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
