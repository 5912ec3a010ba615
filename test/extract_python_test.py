#!/usr/bin/env python3
"""Unit tests of tools/extract-python: the parts that are easy to get wrong.
Every document the tool produces is validated against the format's JSON
Schema (docs/document.schema.json), and the schema itself is checked
against documents the server accepts and refuses.

    python3 test/extract_python_test.py

Needs python3-jsonschema (tools/install-deps installs it).
"""
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

try:
    import jsonschema
except ImportError:
    sys.exit("extract_python_test: the jsonschema module is missing; "
             "install python3-jsonschema (tools/install-deps does)")

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "tools", "extract-python")
FIXTURES = os.path.join(HERE, "fixtures")
with open(os.path.join(HERE, "..", "docs", "document.schema.json")) as f:
    SCHEMA = json.load(f)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
loader = importlib.machinery.SourceFileLoader("extract_python", TOOL)
spec = importlib.util.spec_from_loader("extract_python", loader)
extract = importlib.util.module_from_spec(spec)
loader.exec_module(extract)


def extract_tree(files, *options):
    """Write files into a temporary tree, run the tool on it, return the
    documents by path (and stderr)."""
    with tempfile.TemporaryDirectory() as root:
        for name, text in files.items():
            path = os.path.join(root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(text if isinstance(text, bytes)
                        else textwrap.dedent(text).encode())
        run = subprocess.run([sys.executable, TOOL, *options, root],
                             capture_output=True, text=True, check=True)
    docs = {}
    for line in run.stdout.splitlines():
        doc = json.loads(line)
        docs[doc["path"]] = doc
    for doc in docs.values():
        check_document(doc)
    return docs, run.stderr


def schema_errors(doc):
    """What the schema finds wrong with doc, as "path: message" lines."""
    return ["$%s: %s" % ("".join("[%r]" % p for p in e.absolute_path), e.message)
            for e in VALIDATOR.iter_errors(doc)]


def check_document(doc):
    errors = schema_errors(doc)
    if errors:
        raise AssertionError("%s does not match docs/document.schema.json:\n  %s"
                             % (doc.get("path"), "\n  ".join(errors[:10])))


def ndjson(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def functions(doc):
    return {f["qualified_name"]: f for f in doc["functions"]}


class ComplexityTest(unittest.TestCase):
    def test_known_functions(self):
        docs, _ = extract_tree({"m.py": """
            def straight(a):
                return a + 1

            def branches(a, b):
                if a and b or a:          # if: 1, and/or: 2
                    return 1
                elif b:                   # 1
                    return 2
                for i in range(3):        # 1
                    while i:              # 1
                        i -= 1
                try:
                    pass
                except ValueError:        # 1
                    pass
                except KeyError:          # 1
                    pass
                return [x for x in a if x if not x]   # for: 1, ifs: 2

            def outer():
                if True:                  # 1
                    pass
                def inner():              # not outer's
                    if True:
                        pass
                return inner
        """})
        fns = functions(docs["m.py"])
        self.assertEqual(fns["straight"]["complexity"], 1)
        self.assertEqual(fns["branches"]["complexity"], 1 + 1 + 2 + 1 + 1 + 1 + 2 + 1 + 2)
        self.assertEqual(fns["outer"]["complexity"], 2)
        self.assertEqual(fns["outer.<locals>.inner"]["complexity"], 2)


class ImportTest(unittest.TestCase):
    def test_relative_imports_resolve_to_absolute_names(self):
        docs, _ = extract_tree({
            "pkg/__init__.py": "from . import sub\nfrom .sub import f as g, h\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/mod.py": """
                import os.path, sys
                from .. import other
                from ..x.y import z
                from . import sibling
                from ...too_far import q
                def late():
                    import json
            """})
        init = docs["pkg/__init__.py"]
        self.assertEqual(init["module"], "pkg")
        self.assertEqual([(d["target"], d.get("names")) for d in init["dependencies"]],
                         [("pkg", ["sub"]), ("pkg.sub", ["f", "h"])])
        mod = docs["pkg/sub/mod.py"]
        self.assertEqual(mod["module"], "pkg.sub.mod")
        self.assertEqual([(d["target"], d.get("names"), d["line"]) for d in mod["dependencies"]],
                         [("os.path", None, 2), ("sys", None, 2),
                          ("pkg", ["other"], 3), ("pkg.x.y", ["z"], 4),
                          ("pkg.sub", ["sibling"], 5), ("too_far", ["q"], 6),
                          ("json", None, 8)])


class StructureTest(unittest.TestCase):
    def test_nested_classes_methods_decorators_async(self):
        docs, _ = extract_tree({"m.py": """
            import abc

            class Outer(Base, metaclass=abc.ABCMeta):
                class Inner:
                    def m(self): pass

                @staticmethod
                @functools.cache
                def s(x: int = 3, *args, key, **kw) -> str:
                    return helper(other(x)).strip()

                async def a(self): await go()

            class Abstract(abc.ABC):
                pass

            def f():
                class Local:
                    def m(self): pass
        """})
        doc = docs["m.py"]
        classes = {c["qualified_name"]: c for c in doc["classes"]}
        self.assertEqual(set(classes), {"Outer", "Outer.Inner", "Abstract", "f.<locals>.Local"})
        self.assertEqual(classes["Outer.Inner"]["parent"], "Outer")
        self.assertNotIn("parent", classes["f.<locals>.Local"])
        self.assertEqual(classes["Outer"]["bases"], ["Base"])
        self.assertTrue(classes["Outer"]["is_abstract"])        # metaclass ABCMeta
        self.assertTrue(classes["Abstract"]["is_abstract"])     # base ABC
        self.assertFalse(classes["Outer.Inner"]["is_abstract"])

        fns = functions(doc)
        s = fns["Outer.s"]
        self.assertEqual(s["class"], "Outer")
        self.assertEqual(s["decorators"], ["staticmethod", "functools.cache"])
        self.assertEqual(s["line_start"], 8)                    # its first decorator
        self.assertEqual(s["signature"], "(x: int=3, *args, key, **kw)")
        self.assertEqual(s["parameters"],
                         [{"name": "x", "type": "int", "default": "3"}, "*args", "key", "**kw"])
        self.assertEqual(s["return_type"], "str")
        self.assertEqual([c["name"] for c in s["calls"]],
                         ["helper(other(x)).strip", "helper", "other"])
        self.assertTrue(fns["Outer.a"]["is_async"])
        self.assertEqual(fns["Outer.Inner.m"]["class"], "Outer.Inner")
        self.assertEqual(fns["f.<locals>.Local.m"]["class"], "f.<locals>.Local")

    def test_class_lines_contain_their_methods(self):
        docs, _ = extract_tree({"m.py": """
            class C:
                @property
                def p(self): return 1
        """})
        doc = docs["m.py"]
        cls, fn = doc["classes"][0], doc["functions"][0]
        self.assertTrue(cls["line_start"] <= fn["line_start"] <= cls["line_end"])


class RobustnessTest(unittest.TestCase):
    def test_a_file_that_does_not_parse_is_reported_not_fatal(self):
        docs, err = extract_tree({"good.py": "x = 1\n", "bad.py": "def (:\n"})
        self.assertEqual(set(docs), {"good.py"})
        self.assertIn("bad.py", err)
        self.assertIn("1 did not parse", err)

    def test_text_jsonb_refuses_is_escaped(self):
        self.assertEqual(extract.clean("a\0b"), "a\\u0000b")
        self.assertEqual(extract.clean("x\ud800"), "x\\ud800")
        self.assertEqual(extract.clean("é"), "é")

    def test_with_ast_and_identity(self):
        docs, _ = extract_tree({"m.py": "s = '\\x00'\n"}, "--with-ast",
                               "--repository", "r", "--revision", "v1")
        doc = docs["m.py"]
        self.assertEqual((doc["repository"], doc["revision"], doc["language"]),
                         ("r", "v1", "python"))
        self.assertTrue(doc["content_hash"].startswith("sha256:"))
        self.assertEqual(doc["ast"]["_type"], "Module")
        value = doc["ast"]["body"][0]["value"]["value"]
        self.assertEqual(value, "\\u0000")                      # not a raw NUL
        self.assertEqual(doc["metrics"]["loc"], 1)


class SchemaTest(unittest.TestCase):
    """docs/document.schema.json against what the server does."""

    def test_schema_is_a_valid_draft_2020_12_schema(self):
        jsonschema.Draft202012Validator.check_schema(SCHEMA)

    def test_real_documents_are_valid(self):
        docs = ndjson("stdlib-sample.ndjson")
        self.assertEqual(len(docs), 12)
        for doc in docs:
            with self.subTest(path=doc["path"]):
                self.assertEqual(schema_errors(doc), [])

    def test_schema_agrees_with_the_server(self):
        # each case records what astpg.ingest() answers (the refusals are
        # those of sql/ingest_errors.sql); "schema": true on a refused one
        # is a rule the schema cannot express (docs/document-format.md)
        cases = ndjson("document-cases.ndjson")
        refused = [c for c in cases if c["server"].startswith("22023: ")]
        self.assertGreater(len(refused), 50)
        for case in cases:
            with self.subTest(server=case["server"], document=case["document"]):
                if not case["server"].startswith("22023: "):
                    self.assertEqual(case["server"], "inserted")
                    self.assertTrue(case["schema"], "the server accepts it")
                self.assertEqual(VALIDATOR.is_valid(case["document"]), case["schema"],
                                 schema_errors(case["document"]))

    def test_lengths_are_counted_in_characters(self):
        def doc(path="a.py", language="python", name="f"):
            return {"path": path, "language": language,
                    "functions": [{"name": name, "line_start": 1, "line_end": 1}]}
        self.assertTrue(VALIDATOR.is_valid(doc(path="\U0001F600" * 4096)))
        self.assertFalse(VALIDATOR.is_valid(doc(path="p" * 4097)))
        self.assertTrue(VALIDATOR.is_valid(doc(name="\u00e9" * 1024)))
        self.assertFalse(VALIDATOR.is_valid(doc(name="\u00e9" * 1025)))
        self.assertTrue(VALIDATOR.is_valid(doc(language="c" * 50)))
        self.assertFalse(VALIDATOR.is_valid(doc(language="c" * 51)))


if __name__ == "__main__":
    unittest.main(verbosity=1)
