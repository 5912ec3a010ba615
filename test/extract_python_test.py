#!/usr/bin/env python3
"""Unit tests of tools/extract-python: the parts that are easy to get wrong.
Every document the tool produces is validated against the format's JSON
Schema (docs/document.schema.json), and the schema itself is checked
against documents the server accepts and refuses.

    python3 test/extract_python_test.py

Needs python3-jsonschema (tools/install-deps installs it).
"""
import ast
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
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


STDLIB = sysconfig.get_paths()["stdlib"]
# real modules of this interpreter's library, with most of the syntax there is
REAL_MODULES = ["argparse.py", "ast.py", "dataclasses.py", "typing.py", "inspect.py",
                "asyncio/tasks.py", "email/_header_value_parser.py", "json/decoder.py",
                "concurrent/futures/process.py", "pydoc.py", "enum.py", "functools.py"]


def real_trees():
    for name in REAL_MODULES:
        path = os.path.join(STDLIB, *name.split("/"))
        with open(path, "rb") as f:
            yield name, ast.parse(f.read())


def own_nodes(function):
    """A function's own nodes as the extractor defines them, by separate
    walks (what extract-python did before it walked each tree once)."""
    stack = list(ast.iter_child_nodes(function))
    stack.reverse()
    while stack:
        child = stack.pop()
        yield child
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        children = list(ast.iter_child_nodes(child))
        children.reverse()
        stack.extend(children)


def preorder(node, kinds):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, kinds):
            yield child
        yield from preorder(child, kinds)


class SinglePassTest(unittest.TestCase):
    """One walk of each tree gives what a walk per question gave."""

    def test_calls_and_complexity_are_each_functions_own(self):
        for name, tree in real_trees():
            with self.subTest(module=name):
                extractor = extract.Extractor("m", False)
                extractor.module_body(tree)
                got = [(f["name"], f["line_end"], f["complexity"],
                        [(c["name"], c["line"]) for c in f.get("calls", [])])
                       for f in extractor.functions]
                wanted = []
                for fn in preorder(tree, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    nodes = list(own_nodes(fn))
                    complexity = 1 + sum(
                        1 + (len(n.ifs) if isinstance(n, ast.comprehension) else 0)
                        for n in nodes if isinstance(n, extract.BRANCHES)) + sum(
                        len(n.values) - 1 for n in nodes if isinstance(n, ast.BoolOp))
                    calls = [(extract.clean(ast.unparse(n.func)), n.lineno)
                             for n in nodes if isinstance(n, ast.Call)]
                    wanted.append((fn.name, fn.end_lineno, complexity, calls))
                self.assertEqual(got, wanted)
                self.assertEqual([c["line_start"] for c in extractor.classes],
                                 [c.lineno for c in preorder(tree, ast.ClassDef)])
                self.assertEqual([d["line"] for d in extractor.dependencies],
                                 [i.lineno for i in preorder(tree, (ast.Import, ast.ImportFrom))
                                  for _ in (i.names if isinstance(i, ast.Import) else [0])])

    def test_calls_in_decorators_defaults_and_lambdas(self):
        docs, _ = extract_tree({"m.py": """
            @register(name())
            def f(a=default(), *, k: hint() = lambda: inside()) -> result():
                return body()

            class C(base()):
                attribute = value()
                def m(self):
                    return [lambda: call() for _ in loop()]
            """})
        fns = functions(docs["m.py"])
        # in ast.iter_child_nodes order: arguments (keyword-only ones, their
        # defaults, then the positional defaults), body, decorators, return
        self.assertEqual([c["name"] for c in fns["f"]["calls"]],
                         ["hint", "inside", "default", "body", "register", "name", "result"])
        self.assertEqual([c["name"] for c in fns["C.m"]["calls"]], ["call", "loop"])

    def test_source_text_is_unparse(self):
        # every expression of real code, and literals unparse writes its own way
        tricky = ast.parse(textwrap.dedent("""
            x = (1 .real, u'u', 'a\\0b', b'b', -1, 1.5, 1e400, 10**30, ..., (1,), (),
                 a.b.c, f().g, (a or b).c, {**d}, x[1:2], 'q"\\'', '\\ud800', True, None)
            """))
        for name, tree in [("tricky", tricky)] + list(real_trees()):
            with self.subTest(module=name):
                for node in ast.walk(tree):
                    if isinstance(node, ast.expr):
                        self.assertEqual(extract.source_text(node),
                                         extract.clean(ast.unparse(node)))

    def test_signature_is_unparse(self):
        tricky = ast.parse(textwrap.dedent("""
            def a(p, /, q, *, k=1, j): pass
            def b(p=1, /, q=2, *args: int, k: 'x' = None, **kw: dict): pass
            def c(*, k): pass
            def d(p, /): pass
            def e(**kw): pass
            def f(x=(1, 2), y=lambda: 0, *a, z): pass
            """))
        for name, tree in [("tricky", tricky)] + list(real_trees()):
            with self.subTest(module=name):
                for node in ast.walk(tree):
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.assertEqual(extract.arguments(node.args)[1],
                                         "(" + extract.clean(ast.unparse(node.args)) + ")")

    def test_deep_expressions_do_not_recurse(self):
        # one recursive call per level used to end in RecursionError (the
        # file refused) at some 500 levels, where the parser goes on
        docs, err = extract_tree({"deep.py": "def f():\n    return " +
                                  " + ".join(["g(1)"] * 800) + "\n"})
        self.assertEqual(len(functions(docs["deep.py"])["f"]["calls"]), 800)


class ParallelTest(unittest.TestCase):
    """Any number of worker processes writes the same bytes, in the order of
    the input."""

    def run_tool(self, *options, stdin=None):
        run = subprocess.run([sys.executable, TOOL, "--repository", "r", *options],
                             input=stdin, capture_output=True, check=True)
        # the summary's seconds aside
        return run.stdout, run.stderr.decode().rsplit(",", 1)[0]

    def test_jobs_and_files0_from(self):
        with tempfile.TemporaryDirectory() as root:
            for package in ("json", "email", "logging"):
                shutil.copytree(os.path.join(STDLIB, package), os.path.join(root, package),
                                ignore=shutil.ignore_patterns("__pycache__"))
            with open(os.path.join(root, "email", "broken.py"), "w") as f:
                f.write("def broken(:\n")
            files = [file for file, _ in extract.sources(root)]
            self.assertGreater(len(files), 30)
            one = self.run_tool("--jobs", "1", root)
            self.assertEqual([json.loads(line)["path"] for line in one[0].splitlines()],
                             [os.path.relpath(f, root) for f in files if "broken" not in f])
            self.assertIn("email/broken.py: ", one[1])
            self.assertIn(", 1 did not parse", one[1])
            self.assertEqual(self.run_tool("--jobs", "2", root), one)
            self.assertEqual(self.run_tool("--jobs", "3", root), one)
            listed = b"\0".join(os.fsencode(f) for f in files)
            self.assertEqual(self.run_tool("--root", root, "--files0-from", "-",
                                           stdin=listed), one)


if __name__ == "__main__":
    unittest.main(verbosity=1)
