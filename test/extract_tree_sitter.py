#!/usr/bin/python3
"""test/extract_tree_sitter.py: tools/extract-tree-sitter on real code.

    /usr/bin/python3 test/extract_tree_sitter.py [--keep] [SAMPLES]

For each language, the real files test/tree-sitter-samples fetches (Debian
packages, and one npm package for C#), against the server the PG*
variables name (database astpg_tree_sitter, dropped at the end):

  - the extractor runs over the sample and fails on no file it should
    read (no internal error; the files it reports as not parsed are the
    few tree-sitter cannot read, and so many at most);
  - every document is valid against docs/document.schema.json
    (python3-jsonschema) and accepted by the server (astpg-load --on-error
    abort: one refusal fails the load);
  - per file, the counts of functions and classes agree with
    universal-ctags (Debian's universal-ctags) within TOLERANCE, for at
    least AGREEMENT of the files (see "The ctags comparison" below);
  - the imports that the language says are the sample's own (a rule per
    language, written without the extractor's resolution: IMPORTED_HERE)
    resolve to a stored file, for at least RESOLVED of them;
  - a file that does not parse is reported and skipped, the run goes on;
    a file with a few errors is stored and says so;
  - on small files of test/fixtures/tree-sitter, the exact values of what
    is easy to get wrong: complexity, callees, bases, resolved targets.

Prints a table per language and "N passed, N failed".  Needs node and npm
(the extractor installs its parsers on first use), universal-ctags,
apt-get download (Debian's package lists) and the npm registry.

The ctags comparison.  ctags and tree-sitter are independent parsers of
the same files, and they differ where a language leaves room:
  - ctags tags no declaration inside a Go function and no method of a Java
    anonymous class: those of ours are left out of the comparison;
  - ctags tags C++ lambdas (__anon...) and tree-sitter's extractor does not
    make them functions (they belong to the function around them); C++
    pure virtual methods (ours, abstract) are prototypes to ctags; C#
    accessors (ours: get_P, set_P) are properties to ctags, and ctags
    names explicit interface implementations I.M: all left out or
    normalised;
  - neither runs a preprocessor: a C or C++ macro where the grammar wants a
    name (TEST(a, b) { }, static int __init f(void)) or an #if around half
    a declaration is read differently by each, and ctags misreads a few
    Rust and C# files outright (regex-syntax's hir/print.rs after its
    tests module).
So a file agrees when the two counts differ by at most TOLERANCE (one, or
a tenth of the larger count): a stray macro or overload, not a missed
class.  AGREEMENT of the files of every language must agree.
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOOL = os.path.join(ROOT, "tools", "extract-tree-sitter", "extract-tree-sitter")
SCHEMA = json.load(open(os.path.join(ROOT, "docs", "document.schema.json")))
LANGUAGES = ["go", "java", "rust", "c", "c++", "c#", "ruby", "php"]
DB = "astpg_tree_sitter"

AGREEMENT = 0.9          # share of files whose counts agree with ctags
RESOLVED = 0.9           # share of the sample's own imports that resolve
MAX_NOT_PARSED = 0.05    # share of files tree-sitter may fail to read


def tolerance(a, b):
    return max(1, max(a, b) // 10)


# ctags kinds that are functions and classes, by our language
CTAGS = {
    "go": ({"func", "methodSpec"}, {"struct", "interface", "type"}),
    "java": ({"method"}, {"class", "interface", "enum", "annotation"}),
    "rust": ({"function", "method"}, {"struct", "enum", "interface", "union"}),
    "c": ({"function"}, set()),
    "c++": ({"function"}, {"class", "struct", "union"}),
    "c#": ({"method"}, {"class", "interface", "struct", "enum"}),
    "ruby": ({"method", "singletonMethod"}, {"class", "module"}),
    "php": ({"function"}, {"class", "interface", "trait"}),
}


def ours_compared(lang, doc):
    """Our functions and classes as ctags would see them."""
    fns, classes = [], []
    for f in doc["functions"]:
        if lang in ("go", "java") and "<locals>" in f["qualified_name"]:
            continue
        if lang == "c++" and f.get("x-abstract"):
            continue
        if lang == "c#" and f.get("kind") == "accessor":
            continue
        fns.append(f)
    for c in doc["classes"]:
        if lang == "go" and "<locals>" in c["qualified_name"]:
            continue
        classes.append(c)
    return fns, classes


def ctags_compared(lang, tags):
    fk, ck = CTAGS[lang]
    fns = [t for t in tags if t["kind"] in fk and not t["name"].startswith("__anon")]
    classes = [t for t in tags if t["kind"] in ck]
    return fns, classes


# The sample's own imports, by a rule of each language that does not ask
# the extractor: what a reader of the code would expect to find in it.
def imported_here(lang, dep, own):
    target, kind = dep["target"], dep.get("kind")
    if lang == "go":
        return target.startswith("github.com/google/go-cmp/")
    if lang == "java":
        # a class of a package the sample declares (not a wildcard)
        pkg = target.rsplit(".", 1)[0] if "." in target else ""
        return kind == "import" and dep.get("names") != ["*"] and pkg in own["java-packages"]
    if lang == "rust":
        return kind == "mod" or (kind == "use" and target.split("::")[0] in own["rust-crates"])
    if lang in ("c", "c++"):
        return kind == "include" and os.path.basename(target) in own["basenames"]
    if lang == "c#":
        # using UniRx.X; names a namespace (a module); an alias
        # (using O = UniRx.Observable;) may name a type, which is not one
        return target.startswith("UniRx") and "x-alias" not in dep
    if lang == "ruby":
        return kind == "require_relative" or (kind in ("require", "autoload") and target.startswith("rack"))
    if lang == "php":
        return target.startswith("Symfony\\Component\\Console\\")
    return False


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok - %s" % what)
        else:
            self.failed += 1
            print("not ok - %s%s" % (what, ": " + detail if detail else ""))


def run_extractor(lang, path, out, repository):
    p = subprocess.run([TOOL, "--repository", repository, path, "-o", out],
                       capture_output=True, text=True)
    m = re.search(r"(\d+) files, (\d+) did not parse", p.stderr)
    return p, (int(m.group(1)), int(m.group(2))) if m else (None, None)


def fn(doc, qualified):
    return next((f for f in doc["functions"] if f["qualified_name"] == qualified), {})


def cls(doc, qualified):
    return next((c for c in doc["classes"] if c["qualified_name"] == qualified), {})


def deps(doc):
    return [(d["target"], d.get("kind"), d.get("names")) for d in doc["dependencies"]]


def fixtures(t, work):
    """Exact values on small files, each written to exercise one rule."""
    out = os.path.join(work, "fixtures.ndjson")
    p, _ = run_extractor("fixtures", os.path.join(HERE, "fixtures", "tree-sitter"), out, "fixtures")
    docs = {d["path"]: d for d in map(json.loads, open(out))}
    t.check("fixtures: all 13 files extracted", p.returncode == 0 and len(docs) == 13, p.stderr)
    d = docs["a.go"]
    m = fn(d, "T.M")
    t.check("go: complexity 1 + if + && + || + for + case (not default) = 6", m.get("complexity") == 6, str(m))
    t.check("go: callees as written, the closure's call counted for its function",
            [c["name"] for c in m.get("calls", [])] == ["f.Println", "os.Exit", "g"], str(m.get("calls")))
    t.check("go: method named after its receiver", m.get("x-receiver") == "*T" and "class" not in m, str(m))
    t.check("go: embedded types as bases, interface abstract, its method too",
            cls(d, "T")["bases"] == ["io.Reader"] and cls(d, "I")["is_abstract"] and
            fn(d, "I.M").get("x-abstract") is True and fn(d, "I.M").get("class") == "I")
    d = docs["A.java"]
    t.check("java: module package.Class; imports of classes, a static import's class, a package",
            d["module"] == "a.b.A" and deps(d) == [("a.b.C", "import-static", ["m"]), ("a.b", "import", ["*"]),
                                                  ("java.util.List", "import", ["List"])], str(deps(d)))
    t.check("java: complexity with a lambda's if and || and a ternary = 5, annotations as decorators",
            fn(d, "A.m").get("complexity") == 5 and fn(d, "A.m").get("decorators") == ["Override"], str(fn(d, "A.m")))
    t.check("java: bases and nesting", cls(d, "A")["bases"] == ["B<T>", "I", "J"] and cls(d, "A.K")["parent"] == "A")
    d = docs["rs/src/lib.rs"]
    t.check("rust: crate module; mod and use resolved to the module files; std kept as written",
            d["module"] == "my_crate" and deps(d) == [
                ("my_crate::parse", "mod", None), ("my_crate::parse", "use", ["Parser", "helper"]),
                ("std::collections", "use", ["HashMap"]), ("my_crate::parse::deep", "use", ["Thing"])],
            str(deps(d)))
    t.check("rust: impl methods Type.method, a match arm that is not _ counts, traits implemented as bases",
            fn(d, "S.sig").get("complexity") == 2 and fn(d, "S.sig").get("x-impl") == "Tr for S<T>" and
            cls(d, "S")["bases"] == ["Tr"] and fn(d, "Tr.sig").get("x-abstract") is True)
    t.check("rust: nested fn", fn(d, "free.<locals>.inner").get("line_start") == 12 and
            fn(d, "free").get("complexity") == 3)
    d = docs["c/src/m.c"]
    t.check("c: includes beside, above in include/, and the system's as written",
            deps(d) == [("c/include/lib/l.h", "include", None), ("c/src/local.h", "include", None),
                        ("stdio.h", "include-system", None)], str(deps(d)))
    t.check("c: complexity with a case but not default, && and ?: = 4; f(void) has no parameters",
            fn(d, "f").get("complexity") == 4 and fn(d, "h").get("parameters") == [])
    d = docs["c/src/k.hpp"]
    t.check("c++: a pure virtual method makes its class abstract; bases without access specifiers",
            cls(d, "X")["is_abstract"] and cls(d, "X")["bases"] == ["Y<T>", "Z"] and cls(d, "X")["namespace"] == "a::b")
    t.check("c++: out-of-class definitions A::f as A.f",
            fn(d, "X.X").get("kind") == "constructor" and fn(d, "ns.Foo.bar").get("x-scope") == "ns::Foo")
    d = docs["a.cs"]
    t.check("c#: complexity with a case section, a switch arm (not _) and ?? = 4; async",
            fn(d, "C.M").get("complexity") == 4 and fn(d, "C.M").get("is_async") is True)
    t.check("c#: using static depends on the type's namespace; accessors get_P/set_P",
            ("System", "using-static", ["Math"]) in deps(d) and fn(d, "C.get_P") and fn(d, "C.set_P"))
    d = docs["a.rb"]
    t.check("ruby: require_relative to a path, require and autoload to modules",
            deps(d) == [("lib/b.rb", "require_relative", None), ("rack/utils", "require", None),
                        ("m/foo", "autoload", ["Foo"])], str(deps(d)))
    t.check("ruby: modifiers and and/or count (5); mixins as bases; class << self",
            fn(d, "M.A.B.m").get("complexity") == 5 and cls(d, "M.A.B")["bases"] == ["Base", "Comparable"] and
            fn(d, "M.A.B.t").get("x-singleton") is True)
    d = docs["a.php"]
    t.check("php: module by the class; use and group use; require beside the file",
            d["module"] == "A\\B\\a" and deps(d)[:2] == [("C\\D", "use", ["D"]), ("E\\F", "use", ["F"])] and
            ("x.php", "require-once", None) in deps(d), str(deps(d)))
    t.check("php: complexity with and and foreach = 4; traits as bases",
            fn(d, "top").get("complexity") == 4 and cls(d, "a")["bases"] == ["Y", "Z", "W", "T1", "T2"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="?")
    ap.add_argument("--keep", action="store_true", help="keep the database and the documents")
    args = ap.parse_args()
    t = Checks()
    samples = args.samples or subprocess.run(
        [os.path.join(HERE, "tree-sitter-samples")], check=True, capture_output=True,
        text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="astpg-ts-")
    load = os.environ.get("ASTPG_LOAD") or os.path.join(
        subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip(),
        "astpg-load")
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "DROP DATABASE IF EXISTS " + DB,
                    "-c", "CREATE DATABASE " + DB], check=True)
    subprocess.run(["psql", "-X", "-q", "-d", DB, "-c", "SET client_min_messages = warning",
                    "-c", "CREATE EXTENSION astpg CASCADE"], check=True)
    validator = jsonschema.Draft202012Validator(SCHEMA)

    # ctags over every sample at once
    tags = collections.defaultdict(list)
    out = subprocess.run(["ctags", "-R", "--languages=Go,Java,Rust,C,C++,C#,Ruby,PHP",
                          "--output-format=json", "--fields=+Kln", "-f", "-"] + LANGUAGES,
                         cwd=samples, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        tag = json.loads(line)
        if tag.get("_type") == "tag":
            tags[tag["path"]].append(tag)

    rows = []
    for lang in LANGUAGES:
        path = os.path.join(samples, lang)
        ndjson = os.path.join(work, lang.replace("#", "sharp") + ".ndjson")
        repository = "sample-" + lang
        p, (parsed, not_parsed) = run_extractor(lang, path, ndjson, repository)
        t.check("%s: extractor exit status 0" % lang, p.returncode == 0, p.stderr[-500:])
        t.check("%s: no internal error" % lang, "internal error" not in p.stderr,
                "\n".join(l for l in p.stderr.splitlines() if "internal error" in l)[:1000])
        docs = [json.loads(l) for l in open(ndjson)]
        t.check("%s: a document for every file that parsed (%d)" % (lang, len(docs)),
                parsed == len(docs) and len(docs) >= 40, "%s parsed" % parsed)
        t.check("%s: at most %d%% did not parse (%d)" % (lang, MAX_NOT_PARSED * 100, not_parsed),
                not_parsed <= MAX_NOT_PARSED * (parsed + not_parsed))
        invalid = [(d["path"], e.message) for d in docs for e in validator.iter_errors(d)]
        t.check("%s: every document valid against the schema" % lang, not invalid, str(invalid[:3]))
        # a C++ project's header with nothing C++ in it is C
        t.check("%s: every document in language %s" % (lang, lang),
                all(d["language"] == lang or (lang == "c++" and d["language"] == "c" and
                                              d["path"].endswith(".h")) for d in docs),
                str(collections.Counter(d["language"] for d in docs)))
        lp = subprocess.run([load, "-d", DB, "--no-progress", "--on-error", "abort", ndjson],
                            capture_output=True, text=True)
        t.check("%s: every document accepted by the server" % lang, lp.returncode == 0,
                (lp.stdout + lp.stderr)[-500:])

        # ctags, file by file
        agree_f = agree_c = exact_f = exact_c = 0
        totals = [0, 0, 0, 0]
        worst = []
        for d in docs:
            fo, co = ours_compared(lang, d)
            ft, ct = ctags_compared(lang, tags.get(lang + "/" + d["path"], []))
            totals[0] += len(fo); totals[1] += len(ft); totals[2] += len(co); totals[3] += len(ct)
            ok_f = abs(len(fo) - len(ft)) <= tolerance(len(fo), len(ft))
            ok_c = abs(len(co) - len(ct)) <= tolerance(len(co), len(ct))
            agree_f += ok_f; agree_c += ok_c
            exact_f += len(fo) == len(ft); exact_c += len(co) == len(ct)
            if not (ok_f and ok_c):
                worst.append("%s (functions %d/%d, classes %d/%d%s)" % (
                    d["path"], len(fo), len(ft), len(co), len(ct),
                    ", parse errors" if d.get("x-parse-errors") else ""))
        n = len(docs)
        t.check("%s: functions agree with ctags in %d of %d files" % (lang, agree_f, n),
                agree_f >= AGREEMENT * n, "; ".join(worst[:5]))
        t.check("%s: classes agree with ctags in %d of %d files" % (lang, agree_c, n),
                agree_c >= AGREEMENT * n, "; ".join(worst[:5]))

        # imports of the sample's own files
        own = {
            "java-packages": {d["module"].rsplit(".", 1)[0] for d in docs if d.get("module") and "." in d["module"]},
            "rust-crates": {d["module"].split("::")[0] for d in docs if d.get("module")},
            "basenames": {os.path.basename(d["path"]) for d in docs},
        }
        conn = psycopg2.connect(dbname=DB)
        with conn, conn.cursor() as cur:
            cur.execute("""SELECT f.path, d.dependency_no, d.target_file_id IS NOT NULL
                             FROM astpg.dependencies d JOIN astpg.files f USING (file_id)
                            WHERE f.repository = %s""", (repository,))
            resolved = {(p, no): r for p, no, r in cur.fetchall()}
        conn.close()
        expected = hits = 0
        missed = []
        for d in docs:
            for i, dep in enumerate(d["dependencies"], 1):
                if imported_here(lang, dep, own):
                    expected += 1
                    if resolved.get((d["path"], i)):
                        hits += 1
                    else:
                        missed.append("%s -> %s" % (d["path"], dep["target"]))
        share = hits / expected if expected else 0
        t.check("%s: the sample's own imports resolve: %d of %d" % (lang, hits, expected),
                expected > 0 and share >= RESOLVED, "; ".join(missed[:5]))
        rows.append((lang, n, not_parsed, totals, agree_f, agree_c, exact_f, exact_c, hits, expected,
                     sum(1 for d in docs if d.get("x-parse-errors"))))

    fixtures(t, work)

    # a file that does not parse is skipped, one with a few errors is kept
    broken = os.path.join(work, "broken")
    os.makedirs(broken)
    go_files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(samples, "go"))
                      for f in fs if f.endswith(".go"))
    java_files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(samples, "java"))
                        for f in fs if f.endswith(".java"))
    shutil.copy(go_files[0], os.path.join(broken, "good.go"))
    shutil.copy(java_files[0], os.path.join(broken, "java_not_go.go"))     # not Go at all
    lines = open(go_files[1], encoding="utf-8").read().splitlines(True)
    cut = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].startswith("func ") and
               lines[i].rstrip().endswith("{"))
    with open(os.path.join(broken, "truncated.go"), "w") as f:
        f.write("".join(lines[:cut + 2]))                                   # cut off in a function
    lines = open(go_files[2], encoding="utf-8").read().splitlines(True)
    i = next(i for i, l in enumerate(lines) if l.startswith("\t") and l.rstrip().endswith(")") and "(" in l)
    lines[i] = lines[i].rstrip()[:-1] + "\n"                                 # a ")" missing in a function
    with open(os.path.join(broken, "unbalanced.go"), "w") as f:
        f.write("".join(lines))
    p, (parsed, not_parsed) = run_extractor("go", broken, os.path.join(work, "broken.ndjson"), "broken")
    docs = {d["path"]: d for d in map(json.loads, open(os.path.join(work, "broken.ndjson")))}
    t.check("broken: the run goes on (exit status 0, 3 documents)", p.returncode == 0 and len(docs) == 3,
            p.stderr)
    t.check("broken: the file that is not Go is reported and skipped",
            not_parsed == 1 and "java_not_go.go" not in docs and
            re.search(r"java_not_go\.go: line \d+: syntax error", p.stderr) is not None, p.stderr)
    trunc = docs.get("truncated.go", {})
    t.check("broken: the truncated file is stored, and marked", bool(trunc.get("x-parse-errors")),
            json.dumps(trunc.get("x-parse-errors")))
    unbal = docs.get("unbalanced.go", {})
    marked = [f["name"] for f in unbal.get("functions", []) if f.get("x-parse-error")]
    t.check("broken: the unbalanced file is stored, marked, and so is (only) the function with the error",
            bool(unbal.get("x-parse-errors")) and len(marked) == 1 and
            unbal["x-parse-errors"]["first_lines"][0] == i + 1, "%s %s" % (marked, unbal.get("x-parse-errors")))
    t.check("broken: the good file has no mark", "x-parse-errors" not in docs.get("good.go", {"x": 1}))

    print()
    print("%-5s %6s %5s %7s %11s %9s %11s %9s %9s" % (
        "lang", "files", "!prs", "errors", "functions", "ctags", "classes", "ctags", "imports"))
    for (lang, n, np_, tot, af, ac, ef, ec, hits, expected, errs) in rows:
        print("%-5s %6d %5d %7d %5d/%-5d %4.0f%%/%2.0f%% %5d/%-5d %4.0f%%/%2.0f%% %4d/%-4d" % (
            lang, n, np_, errs, tot[0], tot[1], 100 * af / n, 100 * ef / n, tot[2], tot[3],
            100 * ac / n, 100 * ec / n, hits, expected))
    print("(files: documents; !prs: files not parsed; errors: documents stored with parse errors;"
          " functions, classes: ours/ctags in all files; ctags: files within tolerance/exactly equal;"
          " imports: the sample's own imports resolved/all)")
    if not args.keep:
        subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "DROP DATABASE " + DB], check=True)
        shutil.rmtree(work)
    else:
        print("kept: database %s, documents in %s" % (DB, work))
    print("%d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
