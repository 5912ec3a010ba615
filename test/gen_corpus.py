#!/usr/bin/env python3
"""Generate a corpus of astpg documents shaped like real Python modules.

One document a line (NDJSON) on stdout.  Deterministic for a given --seed.
The shape follows what the extractors see in real code (measured on the
Python 3.11 standard library): about 80 functions, 55 call sites and 5
dependencies per file, methods in classes, some nested classes, typed
parameters with defaults, decorators, and a few keys the format does not
know (which astpg keeps in attrs).  Dependencies name other modules of the
corpus (resolved when both are stored) and standard modules (unresolved).

Used by the round-trip tests and the benchmarks; until the Python
extractor exists this is the realistic corpus.

    test/gen_corpus.py --files 1000 --seed 1 > corpus.ndjson
"""
import argparse
import hashlib
import json
import random
import sys

STDLIB = ["os", "sys", "re", "json", "typing", "collections", "functools",
          "itertools", "logging", "pathlib", "dataclasses", "abc", "io"]
TYPES = ["int", "str", "bytes", "float", "bool", "list[str]", "dict[str, Any]",
         "Optional[int]", "Iterable[T]", "Callable[..., None]"]
DEFAULTS = ["None", "0", "''", "True", "False", "()", "DEFAULT"]
DECORATORS = ["staticmethod", "classmethod", "property", "functools.cache",
              "abc.abstractmethod", "contextlib.contextmanager"]
CALLEES = ["len", "isinstance", "super().__init__", "self._check", "print",
           "str.join", "dict.get", "self.emit", "logger.debug", "os.path.join",
           "re.compile", "sorted", "range", "enumerate", "open", "ValueError"]


def word(rng, prefix):
    return prefix + "_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                                  for _ in range(rng.randint(3, 9)))


def parameters(rng, method):
    params = ["self"] if method else []
    for _ in range(rng.randint(0, 5)):
        name = word(rng, "p")
        shape = rng.random()
        if shape < 0.4:
            params.append(name)
        elif shape < 0.8:
            params.append({"name": name, "type": rng.choice(TYPES)})
        else:
            params.append({"name": name, "type": rng.choice(TYPES),
                           "default": rng.choice(DEFAULTS)})
    return params


def signature(params):
    parts = []
    for p in params:
        if isinstance(p, str):
            parts.append(p)
        else:
            text = p["name"]
            if "type" in p:
                text += ": " + p["type"]
            if "default" in p:
                text += " = " + p["default"]
            parts.append(text)
    return "(" + ", ".join(parts) + ")"


class Layout:
    """Hands out line ranges in file order, so that every method lies inside
    its class and every nested class inside its parent."""

    def __init__(self):
        self.line = 1

    def take(self, n):
        start = self.line
        self.line += n
        return start, start + n - 1


def function(rng, layout, calls_left, class_name=None, functions_left=1):
    params = parameters(rng, class_name is not None)
    length = rng.randint(3, 18)
    start, end = layout.take(length)
    fn = {"name": word(rng, "f"), "line_start": start, "line_end": end,
          "signature": signature(params), "parameters": params,
          "complexity": 1 + int(rng.expovariate(0.4)),
          "is_async": rng.random() < 0.05}
    if class_name is not None:
        fn["class"] = class_name
        fn["qualified_name"] = class_name + "." + fn["name"]
    if rng.random() < 0.5:
        fn["return_type"] = rng.choice(TYPES)
    if rng.random() < 0.2:
        fn["decorators"] = rng.sample(DECORATORS, rng.randint(1, 2))
    if rng.random() < 0.3:
        fn["docstring"] = "Return the " + word(rng, "thing") + "."
    # spread the file's call sites over its remaining functions
    per_function = max(0, round(calls_left / max(functions_left, 1)
                                + rng.uniform(-1, 1)))
    fn["calls"] = [{"name": rng.choice(CALLEES),
                    "line": rng.randint(start, end)}
                   for _ in range(min(per_function, calls_left))]
    return fn


def document(rng, args, index, modules):
    module = modules[index]
    path = module.replace(".", "/") + ".py"
    layout = Layout()
    layout.take(rng.randint(5, 30))                 # docstring and imports
    n_functions = max(1, int(rng.gauss(args.functions, args.functions / 3)))
    calls_left = max(0, int(rng.gauss(args.calls, args.calls / 3)))
    classes, functions = [], []

    n_classes = max(0, int(rng.gauss(n_functions / 12, 2)))
    methods_left = int(n_functions * 0.7) if n_classes else 0
    for _ in range(n_classes):
        name = word(rng, "C")
        cls_start = layout.line
        layout.take(1)
        cls = {"name": name, "qualified_name": name, "namespace": module,
               "bases": rng.sample(["object", "ABC", "Base", "Mixin",
                                    "Generic[T]"], rng.randint(0, 2)),
               "is_abstract": rng.random() < 0.1}
        classes.append(cls)
        share = max(1, methods_left // max(n_classes, 1))
        for _ in range(share):
            functions.append(function(rng, layout, calls_left, name,
                                      n_functions - len(functions)))
            calls_left -= len(functions[-1]["calls"])
        if rng.random() < 0.25:                     # a nested class
            inner = word(rng, "C")
            inner_start = layout.line
            layout.take(1)
            nested = {"name": inner, "parent": name,
                      "qualified_name": name + "." + inner,
                      "namespace": module, "bases": []}
            classes.append(nested)
            for _ in range(rng.randint(1, 3)):
                functions.append(function(rng, layout, calls_left,
                                          nested["qualified_name"],
                                          n_functions - len(functions)))
                calls_left -= len(functions[-1]["calls"])
            nested["line_start"], nested["line_end"] = \
                inner_start, layout.line - 1
        cls["line_start"], cls["line_end"] = cls_start, layout.line - 1
        layout.take(1)

    while len(functions) < n_functions:
        functions.append(function(rng, layout, calls_left, None,
                                  n_functions - len(functions)))
        calls_left -= len(functions[-1]["calls"])

    dependencies = []
    for _ in range(max(0, int(rng.gauss(args.dependencies, 1.5)))):
        if rng.random() < 0.5:
            target = rng.choice(modules)            # resolved inside corpus
        else:
            target = rng.choice(STDLIB)             # stays unresolved
        dep = {"target": target, "kind": "import",
               "line": rng.randint(1, 5)}
        if rng.random() < 0.6:
            dep["names"] = [word(rng, "n") for _ in range(rng.randint(1, 4))]
        dependencies.append(dep)

    loc = layout.line
    doc = {"astpg": 1, "repository": args.repository, "path": path,
           "module": module, "language": "python",
           "revision": "gen-%d" % args.seed,
           "size_bytes": loc * 31,
           "classes": classes, "functions": functions,
           "dependencies": dependencies,
           "metrics": {"loc": loc, "sloc": int(loc * 0.8),
                       "comment_lines": int(loc * 0.08),
                       "blank_lines": int(loc * 0.12),
                       "n_functions": len(functions),
                       "n_classes": len(classes)}}
    content = json.dumps(doc, sort_keys=True).encode()
    doc["content_hash"] = "sha256:" + hashlib.sha256(content).hexdigest()
    return doc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--functions", type=float, default=80,
                        help="mean functions per file (default 80)")
    parser.add_argument("--calls", type=float, default=55,
                        help="mean call sites per file (default 55)")
    parser.add_argument("--dependencies", type=float, default=5,
                        help="mean dependencies per file (default 5)")
    parser.add_argument("--repository", default="generated")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    packages = max(1, args.files // 20)
    modules = ["pkg%d.mod%d" % (i % packages, i) for i in range(args.files)]
    out = sys.stdout
    for i in range(args.files):
        out.write(json.dumps(document(rng, args, i, modules),
                             separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
