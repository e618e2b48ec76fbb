#!/usr/bin/env python3
"""Generates crates/apiserver/src/protobuf/schema.rs: the wire schema of every built-in type.

Kubernetes' protobuf encoding is go-to-protobuf's rendering of the Go API structs: each field's
struct tag names its protobuf number, wire type and cardinality next to its JSON name and
`omitempty`. This script reads those tags from the Go sources of one Kubernetes release and
writes them out as a Rust table, which `protobuf/decode.rs` walks generically: no code per kind.

Usage (each argument a git directory of the upstream repository, read at the given tag):
    tools/protobuf_schema.py --tag v0.33.9 \
        --api /work/.mirror/kubernetes+api/repo \
        --apimachinery /work/.mirror/kubernetes+apimachinery/repo \
        --apiextensions /work/.mirror/kubernetes+apiextensions-apiserver/repo \
        --aggregator /work/.mirror/kubernetes+kube-aggregator/repo \
        > crates/apiserver/src/protobuf/schema.rs
(the repositories are github.com/kubernetes/{api,apimachinery,apiextensions-apiserver,kube-aggregator};
their tags v0.N.x belong to Kubernetes 1.N)
"""
import argparse
import re
import subprocess
import sys

# Types whose protobuf and JSON forms differ from their struct's: converted by hand, once.
SPECIAL = {
    "k8s.io/apimachinery/pkg/apis/meta/v1.Time": "Time",
    "k8s.io/apimachinery/pkg/apis/meta/v1.MicroTime": "MicroTime",
    "k8s.io/apimachinery/pkg/apis/meta/v1.Duration": "Duration",
    "k8s.io/apimachinery/pkg/apis/meta/v1.FieldsV1": "RawJson",
    "k8s.io/apimachinery/pkg/api/resource.Quantity": "Quantity",
    "k8s.io/apimachinery/pkg/util/intstr.IntOrString": "IntOrString",
    "k8s.io/apimachinery/pkg/runtime.RawExtension": "RawExtension",
    "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSON": "RawJson",
    "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSONSchemaPropsOrBool": "SchemaOrBool",
    "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSONSchemaPropsOrArray": "SchemaOrArray",
    "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSONSchemaPropsOrStringArray": "SchemaOrStringArray",
}

# The meta/v1 kinds every group version carries: options in request bodies (DeleteOptions),
# what responses and watch streams hold (Status, WatchEvent), metadata-only views.
META = ["DeleteOptions", "Status", "WatchEvent", "PartialObjectMetadata", "PartialObjectMetadataList"]

GO_SCALARS = {
    "string": "String", "bool": "Bool", "int32": "Int32", "int64": "Int64", "int": "Int64",
    "uint32": "Uint", "uint64": "Uint", "float64": "Double", "float32": "Float", "byte": "Int32",
}


def packages(args):
    """(import path, repo, directory) of every package read."""
    out = []
    api_dirs = subprocess.run(["git", "-C", args.api, "ls-tree", "-d", "-r", "--name-only", args.tag],
                              capture_output=True, text=True, check=True).stdout.split()
    for d in api_dirs:
        # The GA versions (kube-apiserver serves no beta by default), and policy/v1beta1, whose
        # Eviction kube-apiserver still accepts on pods/eviction.
        if (re.fullmatch(r"[a-z]+/v[0-9]+", d) or d == "policy/v1beta1") and not d.startswith(("imagepolicy/", "admission/", "apidiscovery/")):
            out.append(("k8s.io/api/" + d, args.api, d))
    for d in ["pkg/apis/meta/v1", "pkg/runtime", "pkg/api/resource", "pkg/util/intstr"]:
        out.append(("k8s.io/apimachinery/" + d, args.apimachinery, d))
    out.append(("k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1", args.apiextensions,
                "pkg/apis/apiextensions/v1"))
    out.append(("k8s.io/kube-aggregator/pkg/apis/apiregistration/v1", args.aggregator,
                "pkg/apis/apiregistration/v1"))
    return out


def go_files(repo, tag, d):
    names = subprocess.run(["git", "-C", repo, "ls-tree", "--name-only", f"{tag}:{d}"],
                           capture_output=True, text=True, check=True).stdout.split()
    for n in names:
        if n.endswith(".go") and not n.endswith("_test.go") and not n.startswith("zz_generated") \
                and "generated" not in n and "fuzz" not in n:
            yield n, subprocess.run(["git", "-C", repo, "show", f"{tag}:{d}/{n}"],
                                    capture_output=True, text=True, check=True).stdout


IMPORT_RE = re.compile(r'^\s*(?:(\w+)\s+)?"([^"]+)"\s*$')
FIELD_RE = re.compile(r'^\t(?:(\w+)\s+)?(\S+)\s+`([^`]*)`')


def parse_package(path, repo, tag, d):
    structs, named, group = {}, {}, None
    for fname, src in go_files(repo, tag, d):
        m = re.search(r"\+groupName=([\w.]*)", src)
        if fname == "doc.go" and m:
            group = m.group(1)
        m = re.search(r'^const GroupName = "([\w.]*)"', src, re.M)
        if m and group is None:
            group = m.group(1)
        imports = {}
        block = re.search(r"^import \((.*?)^\)", src, re.S | re.M)
        lines = block.group(1).splitlines() if block else []
        lines += re.findall(r'^import (.*)$', src, re.M)
        for line in lines:
            im = IMPORT_RE.match(line)
            if im:
                imports[im.group(1) or im.group(2).rsplit("/", 1)[-1]] = im.group(2)
        for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", src, re.S | re.M):
            fields = []
            for line in m.group(2).splitlines():
                fm = FIELD_RE.match(line)
                if not fm:
                    continue
                fields.append((fm.group(1), fm.group(2), fm.group(3), imports))
            structs[m.group(1)] = fields
        for m in re.finditer(r"^type (\w+) struct ?\{\}", src, re.M):
            structs[m.group(1)] = []
        for m in re.finditer(r"^type (\w+) (?:= )?([\w.\[\]*]+)\s*(?://.*)?$", src, re.M):
            if m.group(2) != "struct":
                named[m.group(1)] = (m.group(2), imports)
    return {"structs": structs, "named": named, "group": group}


def tag_value(tags, key):
    m = re.search(key + r':"([^"]*)"', tags)
    return m.group(1) if m else None


class Gen:
    def __init__(self, pkgs):
        self.pkgs = pkgs
        self.messages = {}  # qualified name -> list of fields
        self.order = []

    def qualify(self, pkg, typ, imports):
        if "." in typ:
            alias, name = typ.split(".", 1)
            return imports.get(alias, alias), name
        return pkg, typ

    def kind_of(self, pkg, typ, imports):
        """The Rust `Kind` expression of Go type `typ` (no pointer/slice/map prefix)."""
        if typ in GO_SCALARS:
            return GO_SCALARS[typ]
        if typ == "[]byte":
            return "Bytes"
        qpkg, name = self.qualify(pkg, typ, imports)
        q = f"{qpkg}.{name}"
        if q in SPECIAL:
            return f"Special(Special::{SPECIAL[q]})"
        if qpkg in ("k8s.io/apimachinery/pkg/types",):
            return "String"  # UID, NodeName-like string types
        p = self.pkgs.get(qpkg)
        if p is None:
            raise SystemExit(f"unknown package {qpkg} for {typ}")
        if name in p["named"]:
            under, imps = p["named"][name]
            if (under.startswith("[]") and under != "[]byte") or under.startswith("map["):
                return ("Named", qpkg, under, imps)
            return self.kind_of(qpkg, under, imps)
        if name in p["structs"]:
            self.message(qpkg, name)
            return f"Message({self.msg_ref(qpkg, name)})"
        raise SystemExit(f"unknown type {q}")

    def msg_ref(self, pkg, name):
        return f"{pkg}.{name}"

    def message(self, pkg, name):
        q = f"{pkg}.{name}"
        if q in self.messages:
            return
        self.messages[q] = None
        out = []
        for fname, typ, tags, imports in self.pkgs[pkg]["structs"][name]:
            pb = tag_value(tags, "protobuf")
            js = tag_value(tags, "json")
            if not pb or pb == "-" or js == "-":
                continue
            parts = pb.split(",")
            wire, number, card = parts[0], int(parts[1]), parts[2]
            jname, *jopts = (js or "").split(",")
            inline = "inline" in jopts
            omitempty = "omitempty" in jopts
            pointer = typ.startswith("*")
            t = typ.lstrip("*")
            field = {"tag": number, "json": jname, "inline": inline, "omitempty": omitempty,
                     "pointer": pointer, "go": fname or t}
            field.update(self.shape(pkg, t, imports, card, wire))
            out.append(field)
        self.messages[q] = out
        self.order.append(q)

    def shape(self, pkg, t, imports, card, wire):
        """cardinality + kinds of a field of Go type t."""
        if t.startswith("map["):
            key, val = re.fullmatch(r"map\[([^\]]+)\](.+)", t).groups()
            vk = self.kind_of(pkg, val, imports)
            if isinstance(vk, tuple):  # map[string]ExtraValue: a wrapper message of items
                vk = self.wrapper(vk)
            return {"card": "Map", "key": self.kind_of(pkg, key, imports), "kind": vk}
        if t.startswith("[]") and t != "[]byte":
            k = self.kind_of(pkg, t[2:], imports)
            if isinstance(k, tuple):
                k = self.wrapper(k)
            return {"card": "Repeated", "kind": k}
        k = self.kind_of(pkg, t, imports)
        if isinstance(k, tuple):
            _, qpkg, under, imps = k
            if card == "rep" or under.startswith("map["):  # the same on the wire as the unnamed type
                return self.shape(qpkg, under, imps, card, wire)
            return {"card": "Single", "kind": self.wrapper(k)}  # Verbs: message {repeated items = 1}
        return {"card": "Single", "kind": k}

    def wrapper(self, named):
        _, qpkg, under, imps = named
        assert under.startswith("[]"), under
        inner = self.kind_of(qpkg, under[2:], imps)
        return f"Wrapped({inner})"


def rust_kind(k, index):
    k = re.sub(r"Message\(([^)]+)\)", lambda m: f"Message({index[m.group(1)]})", k)
    return "Kind::" + k.replace("Special(", "Special(").replace("Wrapped(", "Wrapped(&Kind::").replace("Special::", "Special::")


def main():
    ap = argparse.ArgumentParser()
    for a in ["tag", "api", "apimachinery", "apiextensions", "aggregator"]:
        ap.add_argument("--" + a, required=True)
    args = ap.parse_args()
    pkgs = {}
    for path, repo, d in packages(args):
        pkgs[path] = parse_package(path, repo, args.tag, d)
    g = Gen(pkgs)
    kinds = []
    for path, p in sorted(pkgs.items()):
        group = p["group"]
        if group is None:
            continue
        version = path.rsplit("/", 1)[-1]
        gv = f"{group}/{version}" if group else version
        for name, fields in sorted(p["structs"].items()):
            if any(t == "metav1.TypeMeta" for _, t, _, _ in fields):
                g.message(path, name)
                kinds.append((gv, name, f"{path}.{name}"))
    meta = "k8s.io/apimachinery/pkg/apis/meta/v1"
    for name in META:
        g.message(meta, name)
    names = sorted(g.messages)
    index = {q: i for i, q in enumerate(names)}
    w = sys.stdout.write
    w("//! The wire schema of the built-in types, generated by `tools/protobuf_schema.py` from the\n")
    w(f"//! struct tags of the Go API types at `k8s.io/api` {args.tag} (Kubernetes 1.{args.tag.split('.')[1]}). Do not edit.\n\n")
    w("use super::schema_types::{Card, Field, Kind, Message, Special};\n\n")
    w("/// Every message, sorted by Go name (package path `.` type).\n#[rustfmt::skip]\npub(super) static MESSAGES: &[Message] = &[\n")
    for q in names:
        w(f"    Message {{ name: {q!r}, fields: &[\n".replace("'", '"'))
        for f in g.messages[q]:
            card = f["card"]
            card = f"Map(&{rust_kind(f['key'], index)})" if card == "Map" else card
            w(f'        Field {{ tag: {f["tag"]}, json: "{f["json"]}", card: Card::{card}, kind: {rust_kind(f["kind"], index)}, pointer: {str(f["pointer"]).lower()}, omitempty: {str(f["omitempty"]).lower()}, inline: {str(f["inline"]).lower()} }},\n')
        w("    ] },\n")
    w("];\n\n")
    w("/// (apiVersion, kind, index in MESSAGES) of every kind, sorted.\n#[rustfmt::skip]\npub(super) static KINDS: &[(&str, &str, u16)] = &[\n")
    for gv, kind, q in sorted(kinds):
        w(f'    ("{gv}", "{kind}", {index[q]}),\n')
    w("];\n\n")
    w("/// The meta/v1 kinds any group version accepts, by kind.\n#[rustfmt::skip]\npub(super) static META_KINDS: &[(&str, u16)] = &[\n")
    for name in META:
        w(f'    ("{name}", {index[meta + "." + name]}),\n')
    w("];\n")


main()
