#!/usr/bin/python3
"""test/pgxn_meta.py: META.json, the PGXN distribution's metadata, against
the PGXN Meta Spec 1.0 (test/pgxn-meta.schema.json, python3-jsonschema)
and against the tree: its versions are astpg.control's default_version
(PGXN versions are semantic, so '1.5' is '1.5.0'), the files it names
exist, and its runtime prerequisites are the control file's.  Broken
copies of it must fail the schema, so that a schema that accepts anything
cannot pass.  Prints "N passed, N failed".

    test/pgxn_meta.py          (Debian's /usr/bin/python3, python3-jsonschema)
"""
import json
import os
import re
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))

ROOT = os.path.join(HERE, "..")
passed = failed = 0


def deepcopy(doc):
    return json.loads(json.dumps(doc))


def check(what, got, want):
    global passed, failed
    if got == want:
        print(f"ok - {what}")
        passed += 1
    else:
        print(f"not ok - {what}: got {got!r}, want {want!r}")
        failed += 1


def errors(validator, doc):
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                  for e in validator.iter_errors(doc))


def control(key):
    with open(os.path.join(ROOT, "astpg.control")) as f:
        for line in f:
            m = re.match(rf"\s*{key}\s*=\s*'([^']*)'", line)
            if m:
                return m.group(1)
    return None


with open(os.path.join(ROOT, "test", "pgxn-meta.schema.json")) as f:
    schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
with open(os.path.join(ROOT, "META.json")) as f:
    meta = json.load(f)

check("META.json is valid under the PGXN Meta Spec 1.0", errors(validator, meta), [])
semver = control("default_version") + ".0"
check("the distribution's version is astpg.control's default_version", meta["version"], semver)
check("the extension's version is astpg.control's default_version",
      meta["provides"]["astpg"]["version"], semver)
for key in ("file", "docfile"):
    path = meta["provides"]["astpg"][key]
    check(f"provides.astpg.{key} ({path}) is in the tree",
          os.path.isfile(os.path.join(ROOT, path)), True)
check("runtime prerequisites: PostgreSQL 15 and the control file's requires",
      sorted(meta["prereqs"]["runtime"]["requires"]),
      sorted(["PostgreSQL"] + [r.strip() for r in control("requires").split(",")]))
check("comment and abstract agree", meta["abstract"].lower(), control("comment").lower())

# each break of the spec must be refused, where it is (an unknown key: at
# the object that holds it)
broken = {
    "a version that is not semantic ('1.5')": (("version",), "1.5", "version"),
    "an extension version that is not semantic": (
        ("provides", "astpg", "version"), "1.5", "provides/astpg/version"),
    "a license name the spec does not list": (("license",), "PostgreSQL License", "license"),
    "a meta-spec version other than 1.0.x": (("meta-spec", "version"), "2.0.0", "meta-spec/version"),
    "a name with a slash": (("name",), "ast/pg", "name"),
    "an absolute provides file": (("provides", "astpg", "file"), "/astpg.control",
                                  "provides/astpg/file"),
    "a prerequisite range with a version that is not semantic": (
        ("prereqs", "runtime", "requires", "PostgreSQL"), ">= 15", "prereqs/runtime/requires/PostgreSQL"),
    "an unknown key without x_": (("homepage",), "https://example.invalid/", "(top)"),
}
for what, (path, value, where) in broken.items():
    doc = deepcopy(meta)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    check(f"refused: {what}", [e.split(":")[0] for e in errors(validator, doc)], [where])
for key in ("name", "version", "abstract", "maintainer", "license", "provides", "meta-spec"):
    doc = deepcopy(meta)
    del doc[key]
    check(f"refused: no {key}", bool(errors(validator, doc)), True)
doc = deepcopy(meta)
doc["x_astpg"] = {"anything": True}
check("a custom x_ key is allowed", errors(validator, doc), [])

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
