#!/usr/bin/python3
"""test/fuzz.py: hostile documents at scale, through every way in.

A seeded mutation fuzzer.  It takes the real documents of test/fixtures
(the stdlib sample and the accepted cases of document-cases.ndjson), breaks
them in random ways (values swapped for other types, keys removed or given
twice, strings full of quotes, backslashes, SQL text and Unicode edge
cases, values at and beyond the documented limits, huge arrays, an `ast`
nested thousands deep, numbers at the edges, wrong format versions, text
that is not JSON) and sends them through astpg.ingest(), ingest_batch(...,
'skip') and COPY astpg.inbox with astpg.on_error = skip.

Each document must either be stored and given back by astpg.document() as
docs/document-format.md says (test/fixtures/normalize.sql fills in the
defaults; re-ingesting what document() gives back is a fixpoint; the rows
written are the document's array lengths), or be refused with the SQLSTATE
the format promises (22023 with the JSON path of a value this script also
finds broken, 54000 for a value too large for an index, 22P02 and 22P05 for
text that jsonb cannot hold, 54001 for nesting deeper than jsonb's parser
allows) and write nothing but, in skip mode, its row in astpg.rejects at its
position.  Whether a document is valid is decided here too, from the rules
of docs/document-format.md, so a document refused that should be stored,
or stored that should be refused, is a failure as well.  A lost connection
is a failure (the backend crashed).

Runs against the server the PG* variables name, in a database of its own
(astpg_fuzz, recreated).  Prints the seed first; a failing case is
minimised and written to --failures (NDJSON) with the seed and its index.

    test/fuzz.py [--seed N] [--count N] [--via ingest|batch|inbox|all]

FUZZ_PROFILE=1 adds the time spent in each kind of statement.
"""
import argparse
import collections
import copy
import io
import json
import math
import os
import random
import re
import sys
import time
from decimal import Decimal

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
INT4_MAX = 2147483647
INT8_MAX = 9223372036854775807
# a string longer than this many bytes may meet a btree limit (54000)
INDEX_BYTES = 2000
# jsonb's parser gives up (54001) somewhere beyond 13,000 levels
# (max_stack_depth 2MB); below this depth a document must be stored
DEPTH_SAFE = 10000
DEPTH_TOO_DEEP = 40000


# --- how a document is written ------------------------------------------

class Raw:
    """JSON text written as is; value is what jsonb reads from it, or code
    the SQLSTATE with which jsonb refuses it."""
    __slots__ = ("text", "value", "code", "depth")

    def __init__(self, text, value, code=None, depth=0):
        self.text = text
        self.value = value
        self.code = code
        self.depth = depth        # of its nesting, when it is deep()


class Dup:
    """An object written with its keys in this order, repeats included."""
    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = pairs


OPAQUE = object()        # a value the validator never looks into (ast)


def _not_plain(v):
    raise TypeError


def write(v, ascii_only, out):
    if isinstance(v, (dict, list)):
        # plain JSON below v (no Raw, Dup or Decimal) the fast way
        try:
            out.append(json.dumps(v, ensure_ascii=ascii_only, default=_not_plain))
            return
        except TypeError:
            pass
    if isinstance(v, Raw):
        out.append(v.text)
    elif isinstance(v, Dup):
        out.append("{")
        for i, (k, x) in enumerate(v.pairs):
            if i:
                out.append(", ")
            out.append(json.dumps(k, ensure_ascii=ascii_only))
            out.append(": ")
            write(x, ascii_only, out)
        out.append("}")
    elif isinstance(v, dict):
        write(Dup(list(v.items())), ascii_only, out)
    elif isinstance(v, list):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(", ")
            write(x, ascii_only, out)
        out.append("]")
    elif isinstance(v, Decimal):
        out.append(str(v))
    else:
        out.append(json.dumps(v, ensure_ascii=ascii_only))


def to_text(v, ascii_only=False):
    out = []
    write(v, ascii_only, out)
    return "".join(out)


def view(v):
    """What the server reads: duplicate keys keep the last value."""
    if isinstance(v, Raw):
        return v.value
    if isinstance(v, Dup):
        d = {}
        for k, x in v.pairs:
            d.pop(k, None)
            d[k] = view(x)
        return d
    if isinstance(v, dict):
        return {k: view(x) for k, x in v.items()}
    if isinstance(v, list):
        return [view(x) for x in v]
    if isinstance(v, float):
        return Decimal(repr(v))
    return v


def jsonb_refusal(v, codes=None):
    """The SQLSTATEs of the values jsonb refuses below v (any of them may
    be the one reported), or None."""
    codes = set() if codes is None else codes
    if isinstance(v, Raw):
        if v.code:
            codes.add(v.code)
    elif isinstance(v, (Dup, dict, list)):
        xs = [x for _, x in v.pairs] if isinstance(v, Dup) else \
            list(v.values()) if isinstance(v, dict) else v
        for x in xs:
            jsonb_refusal(x, codes)
    return codes or None


# --- the rules of docs/document-format.md ---------------------------------

def type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, Decimal)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return "opaque"


def key_path(p, k):
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
        return p + "." + k
    return p + "[" + json.dumps(k, ensure_ascii=False) + "]"


class Rules:
    """Every refusal the document deserves (their paths), and whether it
    may meet an index's byte limit."""

    def __init__(self):
        self.errors = []
        self.big = False

    def err(self, path, why):
        self.errors.append((path, why))

    def is_int(self, v, path, lo, hi):
        if isinstance(v, bool) or not isinstance(v, (int, Decimal)):
            self.err(path, "must be an integer, not " + type_name(v))
            return None
        d = Decimal(v)
        if d != d.to_integral_value():
            self.err(path, "fractional")
            return None
        if not lo <= d <= hi:
            self.err(path, "out of range")
            return None
        return int(d)

    def is_double(self, v, path, lo=None, hi=None):
        if isinstance(v, bool) or not isinstance(v, (int, Decimal)):
            self.err(path, "must be a number, not " + type_name(v))
            return
        f = float(Decimal(v))
        if math.isinf(f) or (f == 0 and Decimal(v) != 0):
            self.err(path, "out of range for double precision")
            return
        # the range is that of the double the number reads as:
        # 1.0000000000000001 is 1
        if lo is not None and not lo <= f <= hi:
            self.err(path, "out of range")

    def is_str(self, v, path, nonempty=False, maxlen=None):
        if not isinstance(v, str):
            self.err(path, "must be a string, not " + type_name(v))
            return None
        if nonempty and v == "":
            self.err(path, "must not be empty")
            return None
        if maxlen is not None and len(v) > maxlen:
            self.err(path, "too long")
            return None
        return v

    def is_bool(self, v, path):
        if not isinstance(v, bool):
            self.err(path, "must be a boolean, not " + type_name(v))

    def strings(self, v, path):
        if not isinstance(v, list):
            self.err(path, "must be an array, not " + type_name(v))
            return
        for j, s in enumerate(v):
            self.is_str(s, "%s[%d]" % (path, j))

    def array(self, v, path):
        if not isinstance(v, list):
            self.err(path, "must be an array, not " + type_name(v))
            return []
        return v

    def lines(self, o, p):
        ls = le = None
        if o.get("line_start") is None:
            self.err(p + ".line_start", "required")
        else:
            ls = self.is_int(o["line_start"], p + ".line_start", 1, INT4_MAX)
        if o.get("line_end") is None:
            self.err(p + ".line_end", "required")
        else:
            le = self.is_int(o["line_end"], p + ".line_end", 1, INT4_MAX)
        if ls is not None and le is not None and le < ls:
            self.err(p + ".line_end", "less than line_start")
            return None, None
        return ls, le

    def check(self, doc, root):
        if not isinstance(doc, dict):
            self.err(root, "must be an object, not " + type_name(doc))
            return
        g = lambda k: doc.get(k)
        if g("astpg") is not None:
            if self.is_int(g("astpg"), root + ".astpg", -2**70, 2**70) not in (None, 1):
                self.err(root + ".astpg", "must be 1")
        if g("repository") is not None:
            self.is_str(g("repository"), root + ".repository")
        if g("path") is None and "path" not in doc:
            self.err(root + ".path", "required")
        else:
            self.is_str(g("path"), root + ".path", True, 4096)
        if g("language") is None and "language" not in doc:
            self.err(root + ".language", "required")
        elif self.is_str(g("language"), root + ".language") is not None:
            if not re.fullmatch(r"[a-z0-9_+#.-]{1,50}", g("language")):
                self.err(root + ".language", "characters")
        if g("module") is not None:
            self.is_str(g("module"), root + ".module", True)
        for k in ("revision", "content_hash"):
            if g(k) is not None:
                self.is_str(g(k), root + "." + k)
        if g("size_bytes") is not None:
            self.is_int(g("size_bytes"), root + ".size_bytes", 0, INT8_MAX)
        repo = g("repository") if isinstance(g("repository"), str) else ""
        if isinstance(g("path"), str) and \
                len((repo + g("path")).encode()) > INDEX_BYTES:
            self.big = True
        if g("metrics") is not None:
            m = g("metrics")
            if not isinstance(m, dict):
                self.err(root + ".metrics", "must be an object, not " + type_name(m))
            else:
                for k, x in m.items():
                    if x is not None:
                        self.is_double(x, key_path(root + ".metrics", k))
        classes = []
        if g("classes") is not None:
            for i, c in enumerate(self.array(g("classes"), root + ".classes")):
                classes.append(self.check_class(c, "%s.classes[%d]" % (root, i)))
        functions = []
        if g("functions") is not None:
            for i, f in enumerate(self.array(g("functions"), root + ".functions")):
                functions.append(self.check_function(f, "%s.functions[%d]" % (root, i)))
        if g("dependencies") is not None:
            for i, x in enumerate(self.array(g("dependencies"), root + ".dependencies")):
                self.check_dependency(x, "%s.dependencies[%d]" % (root, i))
        # references, resolved once everything is read
        known = [c for c in classes if c is not None]
        parent_of = {}
        for i, c in enumerate(classes):
            if c is not None and c["parent"] is not None:
                if not any(k is not c and k["qn"] == c["parent"]
                           and k["ls"] <= c["ls"] <= k["le"] for k in known):
                    self.err(c["path"] + ".parent", "names no enclosing class")
                else:
                    # the reader's rule: the innermost such class, the first
                    # in the document on a tie
                    parent_of[i] = min(
                        (j for j, k in enumerate(classes)
                         if k is not None and k is not c and k["qn"] == c["parent"]
                         and k["ls"] <= c["ls"] <= k["le"]),
                        key=lambda j: (classes[j]["le"] - classes[j]["ls"], j))
        # parent links that lead back to where they start are refused (1.4)
        for i in parent_of:
            seen, j = set(), i
            while j in parent_of and j not in seen:
                seen.add(j)
                j = parent_of[j]
            if j == i:
                self.err(classes[i]["path"] + ".parent", "makes a cycle")
        for f in functions:
            if f is not None and f["class"] is not None:
                if not any(k["qn"] == f["class"] and k["ls"] <= f["ls"] <= k["le"]
                           for k in known):
                    self.err(f["path"] + ".class", "names no enclosing class")

    def obj(self, o, p):
        if not isinstance(o, dict):
            self.err(p, "must be an object, not " + type_name(o))
            return False
        return True

    def name(self, o, p, maxlen):
        if o.get("name") is None and "name" not in o:
            self.err(p + ".name", "required")
            return None
        return self.is_str(o.get("name"), p + ".name", True, maxlen)

    def check_class(self, c, p):
        if not self.obj(c, p):
            return None
        ok = len(self.errors)
        name = self.name(c, p, 1024)
        ls, le = self.lines(c, p)
        qn = parent = None
        if c.get("qualified_name") is not None:
            qn = self.is_str(c["qualified_name"], p + ".qualified_name", True)
        if c.get("parent") is not None:
            parent = self.is_str(c["parent"], p + ".parent", True)
        if c.get("namespace") is not None:
            self.is_str(c["namespace"], p + ".namespace")
        if c.get("bases") is not None:
            self.strings(c["bases"], p + ".bases")
        if c.get("is_abstract") is not None:
            self.is_bool(c["is_abstract"], p + ".is_abstract")
        if len(self.errors) != ok or name is None:
            return None
        if qn is None:
            qn = name if parent is None else parent + "." + name
        return {"path": p, "qn": qn, "parent": parent, "ls": ls, "le": le}

    def check_function(self, f, p):
        if not self.obj(f, p):
            return None
        ok = len(self.errors)
        name = self.name(f, p, 1024)
        if name is not None and len(name.encode()) > INDEX_BYTES:
            self.big = True
        ls, le = self.lines(f, p)
        cls = None
        if f.get("qualified_name") is not None:
            self.is_str(f["qualified_name"], p + ".qualified_name", True)
        if f.get("class") is not None:
            cls = self.is_str(f["class"], p + ".class", True)
        for k in ("signature", "return_type"):
            if f.get(k) is not None:
                self.is_str(f[k], p + "." + k)
        if f.get("parameters") is not None:
            for j, a in enumerate(self.array(f["parameters"], p + ".parameters")):
                q = "%s.parameters[%d]" % (p, j)
                if isinstance(a, str):
                    continue
                if not isinstance(a, dict):
                    self.err(q, "must be a string or an object, not " + type_name(a))
                    continue
                if a.get("name") is None and "name" not in a:
                    self.err(q + ".name", "required")
                else:
                    self.is_str(a.get("name"), q + ".name")
                for k in ("type", "default"):
                    if a.get(k) is not None:
                        self.is_str(a[k], q + "." + k)
        if f.get("complexity") is not None:
            self.is_int(f["complexity"], p + ".complexity", 1, INT4_MAX)
        if f.get("is_async") is not None:
            self.is_bool(f["is_async"], p + ".is_async")
        if f.get("decorators") is not None:
            self.strings(f["decorators"], p + ".decorators")
        if f.get("calls") is not None:
            for j, k in enumerate(self.array(f["calls"], p + ".calls")):
                q = "%s.calls[%d]" % (p, j)
                if not self.obj(k, q):
                    continue
                if k.get("name") is None and "name" not in k:
                    self.err(q + ".name", "required")
                elif self.is_str(k.get("name"), q + ".name", True) is not None:
                    if len(k["name"].encode()) > INDEX_BYTES:
                        self.big = True
                if k.get("line") is not None:
                    self.is_int(k["line"], q + ".line", 1, INT4_MAX)
        if len(self.errors) != ok:
            return None
        return {"path": p, "class": cls, "ls": ls}

    def check_dependency(self, x, p):
        if not self.obj(x, p):
            return
        if x.get("target") is None and "target" not in x:
            self.err(p + ".target", "required")
        else:
            self.is_str(x.get("target"), p + ".target", True)
        if x.get("kind") is not None:
            self.is_str(x["kind"], p + ".kind", True)
        if x.get("line") is not None:
            self.is_int(x["line"], p + ".line", 1, INT4_MAX)
        if x.get("strength") is not None:
            self.is_double(x["strength"], p + ".strength", 0, 1)
        if x.get("names") is not None:
            self.strings(x["names"], p + ".names")


# --- mutations ------------------------------------------------------------

NASTY = [
    "'", "''", '"', '\\', '\\\\', "\\.", "'; DROP TABLE astpg.files; --",
    "\"; DELETE FROM astpg.functions WHERE true; --", "$$; SELECT pg_sleep(10); $$",
    "%s %d %n", "E'\\x00'", "\\N", "\t\n\r", "\x01\x02\x1f\x7f", " ", "",
    "\u202e\u202d\u200f", "e\u0301\u0327\u0308", "\U0001F600\U0001D518\U00010348",
    "\u200b\ufeff\u2028\u2029", "\uffff\ufffe\U0010ffff", "\u0130\u0131\u00df",
    "模块.名字", "null", "true", "0", "{}", "[]", "\\u0000", "\\ud800",
    "a" * 1025, "x.y.", ".", "..", "C:\\dir\\tab\there.c",
]
# written as JSON escapes: (text, value or None when jsonb refuses it, SQLSTATE)
ESCAPES = [
    ('"\\ud83d\\ude00"', "\U0001F600", None),
    ('"\\u00e9\\u0301"', "\u00e9\u0301", None),
    ('"\\ud800"', None, "22P02"),
    ('"x\\udc00y"', None, "22P02"),
    ('"\\udc00\\ud800"', None, "22P02"),
    ('"a\\u0000b"', None, "22P05"),
    ('"\\u0000"', None, "22P05"),
    ('"\\/\\b\\f\\n\\r\\t\\"\\\\"', "/\b\f\n\r\t\"\\", None),
]
NUMBERS = [
    "1e400", "-1e400", "1e-400", "5e-324", "2e-324", "-0", "0", "-0.0", "0.0",
    "2147483647", "2147483648", "-1", "-2147483648", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "1.5", "3.0", "1e2", "1E+2",
    "0.1", "12345678901234567890", "1.7976931348623157e308",
    "1.7976931348623159e308", "4294967296", "1e9", "1", "2", "1.0", "1e0",
    "0.5", "1.0000000000000001", "0.99999999999999999", "100000000000000000000000",
]
CHARS = ["a", "\u00e9", "\u4e2d", "\U0001F600", "\U0001D518"]
LIMITED = [("path", 4096), ("language", 50), ("name", 1024)]


def number(text):
    return Raw(text, Decimal(text))


def random_string(rng, n):
    if rng.random() < 0.5:
        return rng.choice(CHARS) * n          # repetitive: compresses
    pool = CHARS + [chr(c) for c in range(0x21, 0x7f)]
    return "".join(rng.choices(pool, k=n))


def random_value(rng, depth=0):
    r = rng.randrange(10)
    if r == 0:
        return None
    if r == 1:
        return rng.random() < 0.5
    if r == 2:
        return number(rng.choice(NUMBERS))
    if r == 3:
        return rng.choice(NASTY)
    if r == 4:
        return random_string(rng, rng.choice([0, 1, 5, 100]))
    if r == 5 and depth < 3:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if r == 6 and depth < 3:
        return {rng.choice(NASTY + ["name", "line", "x"]): random_value(rng, depth + 1)
                for _ in range(rng.randrange(4))}
    if r == 7:
        return rng.randrange(-5, 10**6)
    if r == 8:
        return {}
    return []


def nodes(v, out, parent=None, key=None, depth=0):
    """Every (container, key) below v, objects and arrays alike."""
    if isinstance(v, dict):
        out.append(("obj", v, parent, key))
        for k, x in v.items():
            if k != "ast":
                nodes(x, out, v, k, depth + 1)
    elif isinstance(v, list):
        out.append(("arr", v, parent, key))
        for i, x in enumerate(v):
            nodes(x, out, v, i, depth + 1)
    else:
        out.append(("leaf", v, parent, key))
    return out


def deep(rng, n):
    if rng.random() < 0.5:
        return "[" * n + "]" * n
    return '{"_type": ' * n + "1" + "}" * n


class Case:
    """One document: its structure, its text, what jsonb makes of it."""

    def __init__(self, index, doc):
        self.index = index
        self.doc = doc
        self.solo = None          # SQLSTATE expected before astpg sees it
        self.text = None          # text that is not JSON at all
        self.ascii = False
        self.tags = []
        self.benign = False       # mutations meant to keep it valid

    def render(self):
        if self.text is not None:
            return self.text
        return to_text(self.doc, self.ascii)


def mutate(rng, case):
    doc = case.doc
    all_nodes = nodes(doc, [])
    objects = [n for n in all_nodes if n[0] == "obj"]
    leaves = [n for n in all_nodes if n[0] == "leaf" and n[2] is not None]
    containers = [n for n in all_nodes if n[2] is not None]
    if case.benign:
        m = rng.choice(["string", "string", "escape", "huge", "deep", "unknown",
                        "dup", "root", "number", "metric", "chain"])
    else:
        m = rng.choice(["swap", "swap", "remove", "remove", "dup", "string", "string",
                        "escape", "long", "huge", "deep", "number", "number",
                        "empty", "version", "reference", "lines", "unknown",
                        "language", "root", "nulls", "metric", "chain"])
    case.tags.append(m)
    if m == "swap" and containers:
        _, v, parent, key = rng.choice(containers)
        parent[key] = random_value(rng)
    elif m == "remove" and objects:
        o = rng.choice(objects)[1]
        if o:
            del o[rng.choice(list(o))]
    elif m == "dup" and objects:
        kind, o, parent, key = rng.choice(objects)
        if o and parent is None:          # the document itself
            k = rng.choice(list(o))
            other = random_value(rng) if not case.benign else o[k]
            case.doc = Dup([(k, other)] + list(o.items()) if case.benign or rng.random() < 0.5
                           else list(o.items()) + [(k, other)])
        elif o and parent is not None:
            k = rng.choice(list(o))
            pairs = list(o.items())
            other = random_value(rng)
            # the repeat comes first (the real value wins) or last (it does)
            if case.benign or rng.random() < 0.5:
                pairs.insert(0, (k, other))
            else:
                pairs.append((k, other))
            parent[key] = Dup(pairs)
    elif m == "string" and (leaves or objects):
        strings = [n for n in leaves if isinstance(n[1], str) and n[3] not in
                   ("path", "language", "line_start", "line_end", "class", "parent")]
        if case.benign and strings:
            _, v, parent, key = rng.choice(strings)
            s = rng.choice([x for x in NASTY if len(x) < 1000 and x not in ("null", "true", "0", "{}", "[]")])
            parent[key] = v + s if v else "x" + s
        elif rng.random() < 0.7 and leaves:
            _, v, parent, key = rng.choice(strings if strings and rng.random() < 0.7 else leaves)
            s = rng.choice(NASTY)
            parent[key] = s if rng.random() < 0.5 or not isinstance(v, str) else v + s
        else:
            o = rng.choice(objects)[1]
            o[rng.choice(NASTY)] = random_value(rng)
    elif m == "escape" and leaves:
        strings = [n for n in leaves if isinstance(n[1], str) and n[3] not in ("class", "parent")]
        _, v, parent, key = rng.choice(strings if case.benign and strings else leaves)
        text, value, code = rng.choice(ESCAPES)
        parent[key] = Raw(text, value, code)
    elif m == "long":
        what, limit = rng.choice(LIMITED)
        targets = [o for _, o, _, _ in objects if what in o] or [doc]
        o = rng.choice(targets)
        n = limit + rng.choice([-1, 0, 0, 1, 2, 100])
        o[what] = random_string(rng, max(n, 1))
        if what == "language":
            o[what] = "c" * max(n, 1)
        if rng.random() < 0.2:     # and a very long value where there is no limit
            o[rng.choice(["signature", "x-long", "revision", "module"])] = \
                random_string(rng, rng.choice([10**4, 10**5, 10**6]))
    elif m == "huge":
        r = rng.randrange(5)
        n = rng.choice([100, 1000, 1000, 5000]) if rng.random() < 0.95 else 20000
        if r == 0:
            doc["functions"] = [{"name": "f%d" % i, "line_start": i + 1, "line_end": i + 1}
                                for i in range(n)]
        elif r == 1:
            doc["functions"] = [{"name": "g", "line_start": 1, "line_end": 2,
                                 "calls": [{"name": "c%d" % (i % 97), "line": 1} for i in range(n)]}]
        elif r == 2:
            doc["metrics"] = {"m%d" % i: i for i in range(n)}
        elif r == 3:
            doc["dependencies"] = [{"target": "t%d" % i, "names": ["a"] * 3} for i in range(n)]
        else:
            doc["classes"] = [{"name": "C", "line_start": 1, "line_end": 9,
                               "bases": ["B%d" % i for i in range(n)]}]
    elif m == "deep":
        n = rng.choice([100, 1000, 3000, DEPTH_SAFE]) if rng.random() < 0.9 else DEPTH_TOO_DEEP
        where = rng.random()
        code = "54001" if n >= DEPTH_TOO_DEEP else None
        rows = [o for _, o, _, _ in objects if "name" in o or "target" in o]
        if where < 0.2 and rows:     # in the attrs of a class, function, call, dependency
            rng.choice(rows)["x-deep"] = Raw(deep(rng, n), OPAQUE, code, n)
        elif where < 0.6:
            doc["ast"] = Raw(deep(rng, n), OPAQUE, code, n)
        elif where < 0.8:
            doc["x-deep"] = Raw(deep(rng, n), OPAQUE, code, n)
        else:
            fs = doc.get("functions")
            if isinstance(fs, list) and fs and isinstance(fs[0], dict):
                fs[0]["parameters"] = [Raw('{"name": "p", "x": %s}' % deep(rng, n), {"name": "p"}, code, n)]
            else:
                doc["ast"] = Raw(deep(rng, n), OPAQUE, code, n)
    elif m == "number":
        nums = [n for n in leaves if isinstance(n[1], (int, Decimal)) and not isinstance(n[1], bool)]
        text = rng.choice(NUMBERS)
        if case.benign:     # the same number written otherwise
            nums = [n for n in nums if n[1] == int(n[1])]
            if nums:
                _, v, parent, key = rng.choice(nums)
                parent[key] = number(rng.choice(["%d.0", "%de0", "%d.000", "%dE0"]) % int(v))
            return
        if nums:
            _, v, parent, key = rng.choice(nums)
            parent[key] = number(text)
        else:
            doc["size_bytes"] = number(text)
    elif m == "empty":
        if containers:
            _, v, parent, key = rng.choice(containers)
            parent[key] = rng.choice([{}, [], "", None])
    elif m == "version":
        doc["astpg"] = rng.choice([number("2"), number("0"), number("1.0"), number("1e0"),
                                   "1", True, None, number("1.5"), number("-1"), [1]])
    elif m == "reference":
        fs, cs = doc.get("functions"), doc.get("classes")
        fs = [f for f in fs if isinstance(f, dict)] if isinstance(fs, list) else []
        cs = [c for c in cs if isinstance(c, dict)] if isinstance(cs, list) else []
        names = [c.get("qualified_name") or c.get("name") for c in cs] + ["Nope", "", "a.b"]
        if fs and rng.random() < 0.6:
            f = rng.choice(fs)
            f["class"] = rng.choice(names)
            if rng.random() < 0.3:
                f["line_start"] = rng.choice([1, 10**6])
        elif cs:
            c = rng.choice(cs)
            c["parent"] = rng.choice(names)
    elif m == "lines":
        cands = [o for _, o, _, _ in objects if "line_start" in o]
        if cands:
            o = rng.choice(cands)
            o["line_start"], o["line_end"] = rng.choice([(5, 4), (1, 1), (INT4_MAX, INT4_MAX),
                                                         (0, 1), (3, 2147483648)])
    elif m == "unknown":
        o = rng.choice(objects)[1] if objects else doc
        o[rng.choice(["x-tool", "x-" + rng.choice(NASTY), "kind", "extra"])] = random_value(rng)
    elif m == "language":
        doc["language"] = rng.choice(["Python", "c\n", "c++", "c#", "objective-c", "py thon",
                                      "", "a" * 50, "a" * 51, "é", "c ", "-", "_", "."])
    elif m == "root":
        r = rng.randrange(5)
        if case.benign:
            r = 4
        if r == 0:
            case.doc = rng.choice([[], [doc], 5, "doc", None, True, {}])
        elif r == 1:      # not JSON at all
            t = to_text(doc)
            case.text = rng.choice([t[:rng.randrange(1, max(2, len(t)))], t + " x", t + "}",
                                    "{'path': 'a'}", '{"a": NaN}', "not json", "{", "[1,]",
                                    '{"path": "a.c", "language": "c",}'])
            case.solo = {"22P02"}
            # a \u0000 ahead of the fault is what jsonb's parser meets first
            if "\\u0000" in case.text:
                case.solo.add("22P05")
        else:
            case.ascii = True       # every non-ASCII character as a \u escape
    elif m == "metric":
        m = doc.get("metrics")
        if not isinstance(m, dict):
            m = doc["metrics"] = {}
        for _ in range(rng.randrange(1, 6)):
            m[rng.choice(NASTY + ["loc", "a.b", "ünï", "\U0001F600"])] = \
                number(rng.choice(NUMBERS)) if not case.benign else number(rng.choice(["0", "1", "-5", "1e100", "0.25"]))
    elif m == "chain":
        # classes nested n deep, each the parent of the next, and methods
        n = rng.choice([2, 50, 500])
        cs, qn = [], None
        for i in range(n):
            c = {"name": "C%d" % (i % 3), "line_start": i + 1, "line_end": 2 * n - i}
            if qn is not None:
                c["parent"] = qn
            qn = c["name"] if qn is None else qn + "." + c["name"]
            cs.append(c)
        rng.shuffle(cs)
        doc["classes"] = cs
        doc["functions"] = [{"name": "m", "class": qn, "line_start": n, "line_end": n + 1}]
        if not case.benign and rng.random() < 0.5:
            doc["functions"][0]["line_start"] = 2 * n
    elif m == "nulls":
        if objects:
            o = rng.choice(objects)[1]
            for k in list(o):
                if rng.random() < 0.4:
                    o[k] = None


def seeds():
    """The real documents: (valid ones, refused ones)."""
    valid, refused = [], []
    with open(os.path.join(HERE, "fixtures", "stdlib-sample.ndjson")) as f:
        valid += [json.loads(l, parse_float=Decimal) for l in f if l.strip()]
    with open(os.path.join(HERE, "fixtures", "document-cases.ndjson")) as f:
        for l in f:
            if l.strip():
                c = json.loads(l, parse_float=Decimal)
                if isinstance(c["document"], dict):
                    (valid if c["server"] == "inserted" else refused).append(c["document"])
    return valid, refused


def make_case(rng, base, seed, index):
    benign = rng.random() < 0.4
    valid, refused = base
    doc = copy.deepcopy(rng.choice(valid if benign or rng.random() < 0.7 else refused))
    # a path of its own, so that no two documents meet by chance
    p = doc.get("path")
    doc["path"] = "fz%d/%d/%s" % (seed, index, p if isinstance(p, str) else "x")
    if rng.random() < 0.3:
        doc.pop("content_hash", None)
    case = Case(index, doc)
    case.benign = benign
    n = 0 if rng.random() < 0.05 else rng.choice([1, 1, 1, 2, 2, 3, 4])
    for _ in range(n):
        if case.text is not None or not isinstance(case.doc, dict):
            break
        mutate(rng, case)
    if case.text is None:
        case.solo = jsonb_refusal(case.doc)
    return case


def deepest(v):
    """The deepest deep() value below v."""
    if isinstance(v, Raw):
        return v.depth
    if isinstance(v, (Dup, dict, list)):
        xs = [x for _, x in v.pairs] if isinstance(v, Dup) else \
            list(v.values()) if isinstance(v, dict) else v
        return max((deepest(x) for x in xs), default=0)
    return 0


def expect(case, root):
    """('ok' | SQLSTATE set, refusal paths, view or None)."""
    if case.solo:
        # a text jsonb refuses anyway may meet the parser's depth limit
        # first: how deep it may go depends on the stack of the way in
        if deepest(case.doc) >= 1000:
            return set(case.solo) | {"54001"}, [], None
        return set(case.solo), [], None
    v = view(case.doc)
    rules = Rules()
    rules.check(v, root)
    if rules.errors:
        return {"22023"}, [p for p, _ in rules.errors], v
    return ({"ok", "54000"} if rules.big else {"ok"}), [], v


# --- the server -------------------------------------------------------------

CHECK_SQL = r"""
\i normalize
CREATE FUNCTION pg_temp.fuzz_canon(d jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  -- metric values and strengths are double precision: compare them as such
  SELECT d || jsonb_build_object(
     'metrics', COALESCE((SELECT jsonb_object_agg(key, to_jsonb((value #>> '{}')::float8))
                            FROM jsonb_each(d->'metrics')), '{}'),
     'dependencies', COALESCE((SELECT jsonb_agg(x || jsonb_build_object(
                                   'strength', to_jsonb((x->>'strength')::float8)) ORDER BY n)
                                 FROM jsonb_array_elements(d->'dependencies')
                                      WITH ORDINALITY AS t(x, n)), '[]'))
$$;
-- normalize_document casts is_abstract and is_async, null included
CREATE FUNCTION pg_temp.fuzz_prep(d jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT d || jsonb_build_object(
     'classes', (SELECT jsonb_agg(pg_temp.strip_nulls_shallow(c) ORDER BY n)
                   FROM jsonb_array_elements(NULLIF(d->'classes', 'null')) WITH ORDINALITY AS t(c, n)),
     'functions', (SELECT jsonb_agg(pg_temp.strip_nulls_shallow(f) ORDER BY n)
                     FROM jsonb_array_elements(NULLIF(d->'functions', 'null')) WITH ORDINALITY AS t(f, n)))
$$;
CREATE FUNCTION pg_temp.fuzz_diff(a jsonb, b jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(format('%s: got %s, want %s', k, left(a->>k, 300), left(b->>k, 300)), '; ')
    FROM (SELECT jsonb_object_keys(a) UNION SELECT jsonb_object_keys(b)) s(k)
   WHERE a->k IS DISTINCT FROM b->k
$$;
-- NULL when the stored file is what doc says, else what differs
CREATE FUNCTION pg_temp.fuzz_check(doc jsonb, fid bigint, fixpoint boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    got jsonb := astpg.document(fid);
    want jsonb := pg_temp.normalize_document(pg_temp.fuzz_prep(doc));
    rid bigint;
    n record;
    r astpg.ingest_result;
    again jsonb;
BEGIN
    IF got IS NULL THEN
        RETURN 'astpg.document() is NULL';
    END IF;
    IF pg_temp.fuzz_canon(got) IS DISTINCT FROM pg_temp.fuzz_canon(want) THEN
        RETURN 'astpg.document() differs: '
               || pg_temp.fuzz_diff(pg_temp.fuzz_canon(got), pg_temp.fuzz_canon(want));
    END IF;
    SELECT repo_id INTO rid FROM astpg.files WHERE file_id = fid;
    SELECT (SELECT count(*) FROM astpg.classes WHERE repo_id = rid AND file_id = fid) AS classes,
           (SELECT count(*) FROM astpg.functions WHERE repo_id = rid AND file_id = fid) AS functions,
           (SELECT count(*) FROM astpg.calls WHERE repo_id = rid AND file_id = fid) AS calls,
           (SELECT count(*) FROM astpg.dependencies WHERE repo_id = rid AND file_id = fid) AS dependencies,
           (SELECT count(*) FROM astpg.metrics WHERE repo_id = rid AND file_id = fid) AS metrics
      INTO n;
    IF n.classes <> jsonb_array_length(want->'classes')
       OR n.functions <> jsonb_array_length(want->'functions')
       OR n.calls <> (SELECT COALESCE(sum(jsonb_array_length(f->'calls')), 0)
                        FROM jsonb_array_elements(want->'functions') f)
       OR n.dependencies <> jsonb_array_length(want->'dependencies')
       OR n.metrics <> (SELECT count(*) FROM jsonb_object_keys(want->'metrics')) THEN
        RETURN 'stored rows ' || row_to_json(n)::text || ' are not the document''s';
    END IF;
    IF NOT fixpoint THEN
        RETURN NULL;
    END IF;
    -- what document() gives back, ingested again, is given back the same
    BEGIN
        r := astpg.ingest(got - 'content_hash');
        again := astpg.document(fid);
    EXCEPTION WHEN OTHERS THEN
        RETURN 'fixpoint: re-ingest refused: ' || SQLSTATE || ': ' || SQLERRM;
    END;
    IF r.status <> 'replaced' OR r.file_id <> fid THEN
        RETURN 'fixpoint: re-ingest answered ' || r.status || ' for file ' || r.file_id;
    END IF;
    IF again IS DISTINCT FROM got - 'content_hash' THEN
        RETURN 'fixpoint: document() changed: ' || pg_temp.fuzz_diff(again, got - 'content_hash');
    END IF;
    RETURN NULL;
END
$$;
"""

TABLES = ["files", "classes", "functions", "calls", "dependencies", "metrics",
          "ingests", "metric_history", "rejects"]
COUNT_SQL = "SELECT " + ", ".join("(SELECT count(*) FROM astpg.%s)" % t for t in TABLES)
OWN_SQL = "SELECT " + ", ".join(
    "(SELECT count(*) FROM astpg.%s WHERE file_id = ANY(%%(ids)s))" % t for t in TABLES[:-1])


TIMES = collections.Counter()
FIXPOINT_EVERY = 3


class Lost(Exception):
    pass


class Server:
    def __init__(self, dbname, log):
        self.dbname = dbname
        self.log = log
        self.connect()
        self.cur.execute("SELECT pg_postmaster_start_time()")
        self.started = self.cur.fetchone()[0]

    def connect(self):
        self.conn = psycopg2.connect(dbname=self.dbname)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute("SET client_min_messages = warning")
        # thousands of refusals, some of megabytes: keep their text out of
        # the server's log when allowed to (a superuser's setting)
        try:
            self.cur.execute("SET log_min_error_statement = panic")
        except psycopg2.Error:
            pass
        self.cur.execute("SET astpg.on_error = skip")
        with open(os.path.join(HERE, "fixtures", "normalize.sql")) as f:
            normalize = f.read()
        self.cur.execute(CHECK_SQL.replace("\\i normalize", normalize))

    def reconnect(self):
        """After a crash: the server restarts and recovers first."""
        for _ in range(60):
            time.sleep(1)
            try:
                self.connect()
                return
            except psycopg2.OperationalError:
                pass
        raise Lost("the server did not come back")

    def run(self, sql, args=None):
        try:
            t = time.time()
            self.cur.execute(sql, args)
            TIMES[sql[:50]] += time.time() - t
            return self.cur.fetchall() if self.cur.description else None
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
            if self.conn.closed or getattr(e, "pgcode", None) is None:
                raise Lost(str(e).strip())
            raise

    def copy(self, texts):
        buf = io.StringIO("".join(t + "\n" for t in texts))
        try:
            self.cur.copy_expert(
                "COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\\x01', "
                "DELIMITER E'\\x02')", buf)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
            if self.conn.closed or getattr(e, "pgcode", None) is None:
                raise Lost(str(e).strip())
            raise

    def counts(self):
        return list(self.run(COUNT_SQL)[0])

    def last_reject(self):
        return self.run("SELECT COALESCE(max(reject_id), 0) FROM astpg.rejects")[0][0]

    def rejects_after(self, last, sent):
        """The rejects since last: position, sqlstate, message, detail,
        whether the reject holds the document sent, document_text."""
        return self.run("SELECT r.position, r.sqlstate, r.message, r.detail,"
                        "       CASE WHEN r.document IS NOT NULL THEN r.document = u.t::jsonb END,"
                        "       r.document_text"
                        "  FROM astpg.rejects r"
                        "  LEFT JOIN unnest(%s::text[]) WITH ORDINALITY AS u(t, n) ON u.n = r.position + 1"
                        " WHERE r.reject_id > %s ORDER BY r.reject_id", (sent, last))

    def reset(self):
        self.run("TRUNCATE astpg.files, astpg.classes, astpg.functions, astpg.calls,"
                 " astpg.dependencies, astpg.metrics, astpg.ingests, astpg.metric_history,"
                 " astpg.rejects")

    def crashed_log(self):
        if not self.log or not os.path.exists(self.log):
            return ""
        with open(self.log, errors="replace") as f:
            lines = [l for l in f if "terminated by signal" in l or "PANIC" in l]
        return "".join(lines[-5:])


# --- one chunk of documents through one way in ---------------------------

def sqlstate_ok(code, message, allowed, paths, root):
    """None if a refusal with code and message is what the document earns."""
    if code not in allowed:
        return "refused with %s (%s), expected %s" % (code, message, "/".join(sorted(allowed)))
    if code == "22023" and paths and not any(message.startswith(p + " ") for p in paths):
        return "refused at an unexpected path: %s (broken: %s)" % (message, ", ".join(paths[:8]))
    if code == "22023" and not message.startswith(root):
        return "message does not start with %s: %s" % (root, message)
    return None


def key_of(v):
    repo = v.get("repository") if isinstance(v.get("repository"), str) else ""
    return (repo, v["path"])


def run_chunk(server, cases, via, stats):
    """Failures as (case, what) pairs."""
    failures = []
    texts = [c.render() for c in cases]
    roots = ["document"] * len(cases)
    if via == "batch":
        # documents jsonb refuses go alone; the others' position in the array
        for j, i in enumerate(i for i, c in enumerate(cases) if not c.solo):
            roots[i] = "documents[%d]" % j
    want = [expect(c, r) for c, r in zip(cases, roots)]
    before = server.counts()
    last = server.last_reject()
    # a file of an earlier chunk met again (a mutation gave two documents
    # one path) is replaced: then the rows written cannot be counted
    candidates = [key_of(w[2]) for w in want
                  if isinstance(w[2], dict) and isinstance(w[2].get("path"), str)]
    met_before = candidates and server.run(
        "SELECT count(*) FROM astpg.files f"
        "  JOIN unnest(%s::text[], %s::text[]) AS u(r, p) ON f.repository = u.r AND f.path = u.p",
        ([r for r, _ in candidates], [p for _, p in candidates]))[0][0]
    outcome = [None] * len(cases)     # ('ok', file_id, status) or (code, message)

    if via == "ingest":
        for i, t in enumerate(texts):
            try:
                r = server.run("SELECT file_id, status FROM astpg.ingest(%s::jsonb)", (t,))
                outcome[i] = ("ok", r[0][0], r[0][1])
            except psycopg2.Error as e:
                outcome[i] = (e.pgcode, e.diag.message_primary or "")
    elif via == "batch":
        # text jsonb refuses fails the cast of the whole array: alone, then
        solo = [i for i, c in enumerate(cases) if c.solo]
        rest = [i for i in range(len(cases)) if not cases[i].solo]
        for i in solo:
            try:
                server.run("SELECT count(*) FROM astpg.ingest_batch(ARRAY[%s]::jsonb[], 'skip')",
                           (texts[i],))
                outcome[i] = ("ok", None, "?")
            except psycopg2.Error as e:
                outcome[i] = (e.pgcode, e.diag.message_primary or "")
        if rest:
            try:
                rows = server.run("SELECT file_id, status FROM astpg.ingest_batch(%s::jsonb[], 'skip')",
                                  ([texts[i] for i in rest],))
            except psycopg2.Error as e:
                for i in rest:
                    failures.append((cases[i], "the batch failed: %s: %s" % (e.pgcode, e.diag.message_primary)))
                return failures
            rejects = server.rejects_after(last, [texts[i] for i in rest])
            by_pos = {p: r for p, *r in rejects}
            if len(by_pos) != len(rejects):
                failures.append((cases[rest[0]], "two rejects at one position"))
            for j, i in enumerate(rest):
                fid, status = rows[j] if j < len(rows) else (None, "missing")
                if status == "rejected":
                    if j not in by_pos:
                        failures.append((cases[i], "rejected but not in astpg.rejects"))
                        outcome[i] = ("?", "")
                    else:
                        code, msg, detail, isdoc, dtext = by_pos.pop(j)
                        outcome[i] = (code, msg)
                        if not isdoc:
                            failures.append((cases[i], "astpg.rejects does not hold the document sent"))
                else:
                    outcome[i] = ("ok", fid, status)
            for p in by_pos:
                failures.append((cases[rest[0]], "a reject at position %s that was not refused" % p))
    else:
        # the inbox: with on_error = skip, one COPY of them all
        server.copy(texts)
        rejects = server.rejects_after(last, texts)
        by_pos = {}
        for p, *r in rejects:
            if p in by_pos:
                failures.append((cases[0], "two rejects at position %s" % p))
            by_pos[p] = r
        for i, c in enumerate(cases):
            if i in by_pos:
                code, msg, detail, isdoc, dtext = by_pos.pop(i)
                outcome[i] = (code, msg)
                if isdoc is None and dtext != texts[i]:
                    failures.append((c, "astpg.rejects.document_text is not the text sent"))
                elif isdoc is False:
                    failures.append((c, "astpg.rejects.document is not the document sent"))
            else:
                outcome[i] = ("ok", None, "?")
        for p in by_pos:
            failures.append((cases[0], "a reject at position %s out of range" % p))
        # the files of the documents stored
        for i, c in enumerate(cases):
            if outcome[i][0] == "ok" and want[i][2] is not None and isinstance(want[i][2], dict) \
                    and isinstance(want[i][2].get("path"), str):
                k = key_of(want[i][2])
                r = server.run("SELECT file_id FROM astpg.files WHERE repository = %s AND path = %s", k)
                outcome[i] = ("ok", r[0][0] if r else None, "?")

    after = server.counts()
    # compare outcomes with the rules
    stored = []
    for i, c in enumerate(cases):
        allowed, paths, v = want[i]
        o = outcome[i]
        stats["via " + via] += 1
        if o is None:
            continue
        if o[0] == "ok":
            stats["stored"] += 1
            if "ok" not in allowed:
                failures.append((c, "stored, but should be refused with %s (%s)"
                                 % ("/".join(sorted(allowed)), "; ".join(paths[:5]))))
            elif o[1] is None:
                failures.append((c, "stored, but no file found for it"))
            else:
                stored.append((i, o[1], o[2]))
        else:
            stats["refused " + str(o[0])] += 1
            why = sqlstate_ok(o[0], o[1], allowed, paths, roots[i])
            if why:
                failures.append((c, why))
    # nothing written but the stored documents' rows (and rejects)
    keys = [key_of(want[i][2]) for i, _, _ in stored]
    if not met_before and len(set(keys)) == len(keys) \
            and all(s == "inserted" or s == "?" for _, _, s in stored):
        ids = [fid for _, fid, _ in stored]
        own = list(server.run(OWN_SQL, {"ids": ids})[0]) if ids else [0] * (len(TABLES) - 1)
        n_rejected = sum(1 for i, o in enumerate(outcome) if o and o[0] != "ok"
                         and via != "ingest" and not (via == "batch" and cases[i].solo))
        for t, b, a, w in zip(TABLES, before, after, own + [n_rejected]):
            if a - b != w:
                failures.append((cases[0], "chunk wrote %d rows to astpg.%s, its stored documents "
                                 "account for %d" % (a - b, t, w)))
    else:
        stats["chunks not counted (a file met twice)"] += 1
    # the last version of each file, once the chunk is through
    final = {k: i for k, (i, _, _) in zip(keys, stored)}
    # each stored document as the format says, and a fixpoint
    if stored:
        rows = server.run("SELECT pg_temp.fuzz_check(d::jsonb, fid, fixpoint)"
                          "  FROM unnest(%s::text[], %s::bigint[], %s::boolean[]) u(d, fid, fixpoint)",
                          ([texts[i] for i, _, _ in stored], [fid for _, fid, _ in stored],
                           [cases[i].index % FIXPOINT_EVERY == 0 for i, _, _ in stored]))
        for k, (i, fid, status), (why,) in zip(keys, stored, rows):
            if why and final[k] == i and status != "unchanged":
                failures.append((cases[i], why))
    return failures


# --- minimising a failing case -------------------------------------------

def shrink_candidates(v):
    """Smaller versions of v: one key or element fewer, a string halved."""
    if isinstance(v, Dup):
        for i in range(len(v.pairs)):
            yield Dup(v.pairs[:i] + v.pairs[i + 1:])
        for i, (k, x) in enumerate(v.pairs):
            for y in shrink_candidates(x):
                yield Dup(v.pairs[:i] + [(k, y)] + v.pairs[i + 1:])
    elif isinstance(v, dict):
        for k in v:
            if k not in ("path", "language"):
                w = dict(v)
                del w[k]
                yield w
        for k in v:
            for y in shrink_candidates(v[k]):
                w = dict(v)
                w[k] = y
                yield w
    elif isinstance(v, list):
        if len(v) > 4:
            yield v[:len(v) // 2]
        for i in range(len(v)):
            yield v[:i] + v[i + 1:]
        for i in range(len(v)):
            for y in shrink_candidates(v[i]):
                yield v[:i] + [y] + v[i + 1:]
    elif isinstance(v, str) and len(v) > 8:
        yield v[:len(v) // 2]


def minimise(server, case, via, what, budget=80):
    kind = what.split(":")[0][:30]
    best = case
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        if best.text is not None or best.solo:
            break
        for cand in shrink_candidates(best.doc):
            tries += 1
            if tries > budget:
                break
            c = Case(best.index, cand)
            c.ascii = best.ascii
            try:
                server.reset()
                f = run_chunk(server, [c], via, collections.Counter())
            except Lost:
                server.reconnect()
                f = [(c, "lost")]
            if any(w.split(":")[0][:30] == kind for _, w in f):
                best = c
                improved = True
                break
    return best


# --- main -------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--via", choices=["ingest", "batch", "inbox", "all"], default="all")
    ap.add_argument("--chunk", type=int, default=25, help="documents per batch or COPY")
    ap.add_argument("--dbname", default="astpg_fuzz")
    ap.add_argument("--server-log", default=os.environ.get("FUZZ_SERVER_LOG"),
                    help="the server's log, read for 'terminated by signal'")
    ap.add_argument("--failures", default="fuzz-failures.ndjson")
    ap.add_argument("--fixpoint-every", type=int, default=3,
                    help="re-ingest document() of every Nth document stored (1: all)")
    ap.add_argument("--minimise", type=int, default=2, metavar="N",
                    help="minimise the first N failing cases of each kind")
    ap.add_argument("--keep-db", action="store_true")
    args = ap.parse_args()
    global FIXPOINT_EVERY
    FIXPOINT_EVERY = args.fixpoint_every
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print("fuzz: seed %d (repeat with --seed %d --count %d --via %s --chunk %d)"
          % (seed, seed, args.count, args.via, args.chunk), flush=True)
    sys.setrecursionlimit(10000)

    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    ac = admin.cursor()
    ac.execute("DROP DATABASE IF EXISTS %s" % args.dbname)
    ac.execute("CREATE DATABASE %s" % args.dbname)
    db = psycopg2.connect(dbname=args.dbname)
    db.autocommit = True
    db.cursor().execute("SET client_min_messages = warning; CREATE EXTENSION astpg CASCADE")
    db.close()
    server = Server(args.dbname, args.server_log)

    rng = random.Random(seed)
    base = seeds()
    ways = ["ingest", "batch", "inbox"] if args.via == "all" else [args.via]
    stats = collections.Counter()
    failures = []
    started = time.time()
    done = 0
    chunk_no = 0
    lost = 0
    while done < args.count:
        via = ways[chunk_no % len(ways)]
        n = min(args.chunk, args.count - done)
        cases = [make_case(rng, base, seed, done + i) for i in range(n)]
        # now and then a file sent twice in one batch or COPY
        for i in range(1, n):
            if rng.random() < 0.01 and isinstance(cases[i].doc, dict) and cases[i].text is None:
                j = rng.randrange(i)
                if isinstance(cases[j].doc, dict):
                    for k in ("repository", "path"):
                        if k in cases[j].doc:
                            cases[i].doc[k] = cases[j].doc[k]
                    cases[i].doc.pop("content_hash", None)
                    cases[i].solo = jsonb_refusal(cases[i].doc)
                    cases[i].tags.append("same-file-as-%d" % cases[j].index)
        try:
            found = run_chunk(server, cases, via, stats)
        except Lost as e:
            lost += 1
            log = server.crashed_log()
            found = [(c, "connection lost (backend crash?): %s %s" % (e, log)) for c in cases]
            server.reconnect()
        for c, what in found:
            print("FAIL seed %d case %d via %s: %s" % (seed, c.index, via, what), flush=True)
            failures.append((c, via, what))
        done += n
        chunk_no += 1
        if chunk_no % 8 == 0:
            server.reset()
        elif chunk_no % 8 == 3:
            # statistics of tables with rows in them, for document()'s plans
            server.run("ANALYZE astpg.files, astpg.classes, astpg.functions, astpg.calls,"
                       " astpg.dependencies, astpg.metrics")
        if done % 1000 < n:
            print("fuzz: %d documents, %.0f/s" % (done, done / (time.time() - started)), flush=True)
    elapsed = time.time() - started

    if server.run("SELECT pg_postmaster_start_time()")[0][0] != server.started:
        failures.append((Case(-1, None), "all", "the server restarted during the run"))

    # minimise and save the failures (the first few of each kind)
    kinds = collections.Counter()
    seen = set()
    with open(args.failures, "w") as out:
        for c, via, what in failures:
            kind = what.split(":")[0][:40]
            if (c.index, kind) in seen:
                continue
            seen.add((c.index, kind))
            kinds[kind] += 1
            small = c
            if kinds[kind] <= args.minimise and c.doc is not None:
                small = minimise(server, c, via, what)
            out.write(json.dumps({"seed": seed, "case": c.index, "via": via, "failure": what,
                                  "document_text": small.render() if small.doc is not None or small.text else None,
                                  "tags": c.tags}, ensure_ascii=False) + "\n")
            if kinds[kind] <= args.minimise:
                print("  minimised case %d: %s" % (c.index, small.render()[:2000]))
    if not args.keep_db:
        server.conn.close()
        ac.execute("DROP DATABASE IF EXISTS %s" % args.dbname)

    print("fuzz: seed %d, %d documents in %.1f s (%.0f/s): %s"
          % (seed, done, elapsed, done / elapsed,
             ", ".join("%s %d" % kv for kv in sorted(stats.items()))))
    print("fuzz: %d failures%s" % (len(failures),
                                   " (written to %s)" % args.failures if failures else ""))
    if os.environ.get("FUZZ_PROFILE"):
        for k, t in TIMES.most_common(8):
            print("  %6.2f s  %s" % (t, k))
    if not failures and os.path.exists(args.failures):
        os.unlink(args.failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
