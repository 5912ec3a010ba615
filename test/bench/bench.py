#!/usr/bin/env python3
"""astpg's ingest benchmark: how close astpg comes to two limits.

Every case loads the same real documents, starting from empty tables and a
CHECKPOINT, and is timed from the client's start of loading to its final
COMMIT; each case's median over --runs runs is reported.  The runs are
interleaved (run 1 of every case, then run 2, ...) so that the noise of a
shared machine falls on every case alike.

The documents, by default: the demo's library (this machine's Python
standard library, as tools/demo finds and extracts it, site-packages passed
over), then a larger corpus of other code (--corpus / BENCH_CORPUS: any
NDJSON file, e.g. test/bench/corpus's; without one, the packages installed
beside that library, see packages_corpus()), at most --files documents of
each.  What an extractor wrote is cached outside the repository
($BENCH_CACHE, else $XDG_CACHE_HOME/astpg-bench, else ~/.cache/astpg-bench),
keyed by the extractor's text and the tree.  --generated loads
test/gen_corpus.py's documents instead.  Each corpus gets a table of its
own.

Two limits, both the same rows pre-shredded by this script before timing
(ids and references -- class parents, method classes, call functions,
dependency targets -- resolved exactly as astpg would), one COPY per table
in one transaction:

  (l) the lean limit: COPY into a minimal relational schema, "lean" (see
      LEAN_SCHEMA): the six tables with the same columns (astpg's repo_id
      and timestamps aside), each with its primary key and foreign keys,
      one btree per foreign key (where a primary key leads with the
      foreign key's column, it is that index) and one per name that
      lookups use: functions.name, classes.name, calls.callee,
      dependencies.target, files.module, and UNIQUE (repository, path).
      What a data engineer would write for a loader of their own: what
      astpg costs beyond it (its own indexes, wider keys, audit and history
      rows, checks) is measured against this.
  (a) COPY into astpg's own tables, with their keys, constraints and
      indexes (no audit or history rows: COPY writes none).  Any shredder
      in front of astpg's tables has to write at least these rows through
      these indexes.

and the ways of loading:

  (b) a pure-SQL shredder: a PL/pgSQL function doing what astpg.ingest does
      for a new file with INSERT ... SELECT over jsonb_to_recordset, called
      once per document from a staging table, one transaction.  What astpg
      would be without its C.  It validates nothing beyond SQL's casts.
      Not run unless asked for (--cases b).
  (c) a client-side shredder: documents parsed and shredded in Python
      (timed), ids reserved per batch from the sequences, one COPY per
      table per batch of 500 documents, one transaction per batch.  The
      usual alternative to shredding in the server.
  (d) SELECT astpg.ingest(doc) over the staged rows, in document order,
      one statement and one transaction.
  (i) astpg.ingest(doc) once per document from a client in autocommit
      (SELECT astpg.ingest($1), one transaction per document): the
      commonest way to use it.
  (e) astpg.ingest_batch over arrays of 500 documents built from the
      staging table, one transaction per batch.
  (f) astpg-load, end to end from the NDJSON file, --jobs 1 and --jobs 2
      (its default batch size): what users run.
  (g) re-ingest: the corpus loaded (untimed) and loaded again with every
      content_hash unchanged (astpg writes only the audit rows), again with
      astpg-load --skip-unchanged (the loader asks for the stored hashes and
      sends none of the documents; goal: at least 20,000 documents/s, and
      its baseline the unchanged re-ingest without it), then a last time
      with every document changed (new content_hash, one function line
      moved: every row is replaced).  By astpg-load, else ingest_batch
      (and no --skip-unchanged).  First corpus only.
  (h) astpg-index on the demo's library (this machine's Python standard
      library, as tools/demo finds it; site-packages passed over), copied
      so that it can be changed, end to end, extraction included: a first
      index into empty tables (the baseline), its documents (as stored,
      dumped with document() once) loaded again unchanged by astpg-load
      without and with --skip-unchanged (goal: at least 20,000 documents/s,
      the baseline the load without it), then re-indexes with nothing
      changed (goal: under 3 s), after touching 10 files (goal: under 5 s)
      and after deleting 10 files.  The extractors run through a wrapper
      that records which files they were given: a re-index must parse
      exactly the touched files (and the few the library has that never
      parse, so are never stored), the deleted files must be gone from
      astpg.files with a 'deleted' audit row each, the unchanged ones an
      'unchanged' row each.  --quick indexes four packages of it (email,
      json, logging, xml) instead of all of it.  First corpus only.

Cases (l), (a)-(f) and (i) write 1 + classes + functions + calls +
dependencies + metrics rows per document, counted after each run with
count(*); astpg's cases also write an audit row (astpg.ingests) and a
metric history row per document, which are not counted as rows but are in
their storage.  Each case's storage is the pg_total_relation_size sum of
the tables it wrote (lean's six; astpg's six and its audit, history and
reject tables) after its last run, and the report ends with each table's
size in the lean schema and in astpg's after --jobs 1.

Checks: after every run, each table holds exactly the expected rows (the
files first: a case that loses documents fails loudly), (g) finds its
statuses in the audit log and the changed content hashes and lines stored,
(h) the checks described with it;
a run that fails a check, or outlives --timeout, is reported as failed and
not measured.  After the last run of each case, a fingerprint of the stored
content, independent of the ids (every reference followed to what it
names), must equal astpg.ingest's, the lean schema's included: same rows,
same references, same resolved dependencies.  The report ends with "N
passed, N failed"; the exit status is 1 on a failure.

Peak backend memory of (d) and (e) comes from the backend's
/proc/<pid>/status (the cluster runs on this machine; each timed run has a
fresh connection, so the peak is the run's).  VmHWM, read after the run,
counts every page of shared buffers the backend touched (RssShmem), so the
peak of RssAnon, the backend's private memory, is sampled during the run too.

The issue's settings are fsync and synchronous_commit on and shared_buffers
1 GB (test/bench/run starts its cluster so); the report prints the server's
and warns when they differ.

Connection from the PG* environment variables; the database gets schemas
`bench` (staging tables, the PL/pgSQL shredder) and `lean`, and astpg's
tables are emptied again and again: run it on a throwaway cluster
(test/bench/run) or a database of its own.

    test/bench/run [--files N] [--runs N] [--quick] [--cases l,a,d,...]
    test/bench/run --corpus FILE.ndjson [--corpus OTHER.ndjson]
    BENCH_CORPUS=a.ndjson:b.ndjson BENCH_RUNS=5 test/bench/run
"""
import argparse
import functools
import hashlib
import io
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parents[2]
BATCH = 500

# Tables a case writes, in an order that satisfies their foreign keys.
TABLES = ("files", "classes", "functions", "calls", "dependencies", "metrics")

COPY_COLUMNS = {
    "files": "file_id, repository, path, module, language, revision, "
             "size_bytes, content_hash, ast, attrs, repo_id",
    "classes": "class_id, file_id, parent_id, name, qualified_name, "
               "namespace, bases, line_start, line_end, is_abstract, attrs, "
               "repo_id",
    "functions": "function_id, file_id, class_id, name, qualified_name, "
                 "signature, parameters, parameter_count, return_type, "
                 "line_start, line_end, complexity, is_async, decorators, "
                 "attrs, repo_id",
    "calls": "function_id, call_no, file_id, callee, line, attrs, repo_id",
    "dependencies": "file_id, dependency_no, target, target_file_id, kind, "
                    "line, strength, names, attrs, repo_id",
    "metrics": "file_id, name, value, repo_id",
}


def pg_config(what):
    """pg_config's answer, None without one."""
    try:
        return subprocess.run(["pg_config", what], check=True, capture_output=True,
                              text=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def repo_id(repository):
    """astpg.repo_id(): the first 8 bytes of the name's SHA-256, signed."""
    return int.from_bytes(hashlib.sha256(repository.encode()).digest()[:8],
                          "big", signed=True)

# The document keys that have a column of their own (see
# shared/spec/document.md); any other key goes to the row's attrs.
FILE_KEYS = ("astpg", "repository", "path", "module", "language", "revision",
             "size_bytes", "content_hash", "functions", "classes",
             "dependencies", "metrics", "ast")
CLASS_KEYS = ("name", "qualified_name", "parent", "namespace", "bases",
              "line_start", "line_end", "is_abstract")
FUNCTION_KEYS = ("name", "qualified_name", "class", "signature", "parameters",
                 "return_type", "line_start", "line_end", "complexity",
                 "is_async", "decorators", "calls")
CALL_KEYS = ("name", "line")
DEPENDENCY_KEYS = ("target", "kind", "line", "strength", "names")

TRUNCATE = """
TRUNCATE astpg.files, astpg.classes, astpg.functions, astpg.calls,
         astpg.dependencies, astpg.metrics, astpg.ingests, astpg.rejects,
         astpg.metric_history
         RESTART IDENTITY CASCADE;
TRUNCATE lean.files, lean.classes, lean.functions, lean.calls,
         lean.dependencies, lean.metrics"""

# The lean limit's schema: what a data engineer would write for a loader of
# their own, with the columns astpg's tables hold for the same documents
# (not repo_id, created_at and updated_at, which are astpg's).  Every
# primary and foreign key; a btree on each foreign key, unless the primary
# key leads with its column (calls.function_id, dependencies.file_id,
# metrics.file_id); a btree on each name a lookup uses (which file is
# module M, which functions or classes are named N, who calls N, who
# imports T) and the natural key (repository, path).  The names' btrees
# are on their first 256 characters, as astpg's are: a whole name can be
# longer than a btree entry holds (about 2,700 bytes after compression),
# and real code has such names (a 3,680-byte callee among the first 2,000
# documents of Debian's Python libraries), which would fail the COPY.
LEAN_SCHEMA = """
DROP SCHEMA IF EXISTS lean CASCADE;
CREATE SCHEMA lean;
COMMENT ON SCHEMA lean IS 'astpg benchmark (test/bench/bench.py): the lean limit';

CREATE TABLE lean.files (
    file_id      bigint PRIMARY KEY,
    repository   text NOT NULL,
    path         text NOT NULL,
    module       text,
    language     text NOT NULL,
    revision     text,
    size_bytes   bigint,
    content_hash text,
    ast          jsonb,
    attrs        jsonb NOT NULL DEFAULT '{}',
    UNIQUE (repository, path)
);
CREATE INDEX ON lean.files (left(module, 256));

CREATE TABLE lean.classes (
    class_id       bigint PRIMARY KEY,
    file_id        bigint NOT NULL REFERENCES lean.files ON DELETE CASCADE,
    parent_id      bigint REFERENCES lean.classes ON DELETE CASCADE,
    name           text NOT NULL,
    qualified_name text NOT NULL,
    namespace      text,
    bases          text[] NOT NULL DEFAULT '{}',
    line_start     integer NOT NULL,
    line_end       integer NOT NULL,
    is_abstract    boolean NOT NULL DEFAULT false,
    attrs          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ON lean.classes (file_id);
CREATE INDEX ON lean.classes (parent_id);
CREATE INDEX ON lean.classes (left(name, 256));

CREATE TABLE lean.functions (
    function_id     bigint PRIMARY KEY,
    file_id         bigint NOT NULL REFERENCES lean.files ON DELETE CASCADE,
    class_id        bigint REFERENCES lean.classes ON DELETE CASCADE,
    name            text NOT NULL,
    qualified_name  text NOT NULL,
    signature       text,
    parameters      jsonb NOT NULL DEFAULT '[]',
    parameter_count integer NOT NULL DEFAULT 0,
    return_type     text,
    line_start      integer NOT NULL,
    line_end        integer NOT NULL,
    complexity      integer,
    is_async        boolean NOT NULL DEFAULT false,
    decorators      text[] NOT NULL DEFAULT '{}',
    attrs           jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ON lean.functions (file_id);
CREATE INDEX ON lean.functions (class_id);
CREATE INDEX ON lean.functions (left(name, 256));

CREATE TABLE lean.calls (
    function_id bigint NOT NULL REFERENCES lean.functions ON DELETE CASCADE,
    call_no     integer NOT NULL,
    file_id     bigint NOT NULL REFERENCES lean.files ON DELETE CASCADE,
    callee      text NOT NULL,
    line        integer,
    attrs       jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (function_id, call_no)
);
CREATE INDEX ON lean.calls (file_id);
CREATE INDEX ON lean.calls (left(callee, 256));

CREATE TABLE lean.dependencies (
    file_id        bigint NOT NULL REFERENCES lean.files ON DELETE CASCADE,
    dependency_no  integer NOT NULL,
    target         text NOT NULL,
    target_file_id bigint REFERENCES lean.files,
    kind           text NOT NULL,
    line           integer,
    strength       double precision NOT NULL,
    names          text[] NOT NULL DEFAULT '{}',
    attrs          jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (file_id, dependency_no)
);
CREATE INDEX ON lean.dependencies (target_file_id);
CREATE INDEX ON lean.dependencies (left(target, 256));

CREATE TABLE lean.metrics (
    file_id bigint NOT NULL REFERENCES lean.files ON DELETE CASCADE,
    name    text NOT NULL,
    value   double precision NOT NULL,
    PRIMARY KEY (file_id, name)
);
"""

# The tables each kind of case writes, for its storage: the lean schema's
# six; astpg's six and what its write path adds beside them.
LEAN_TABLES = tuple("lean." + t for t in TABLES)
ASTPG_TABLES = tuple("astpg." + t for t in TABLES) + (
    "astpg.ingests", "astpg.metric_history", "astpg.rejects")

# A table t and, if it is partitioned, its partitions (pg_partition_tree
# returns nothing for a table that is neither partitioned nor a partition;
# a partitioned table's own sizes are 0).
PARTS = ("LATERAL (SELECT t::regclass UNION SELECT x.relid "
         "FROM pg_partition_tree(t::regclass) x) AS p(relid)")

CASE_TITLES = {
    "l": "(l) COPY, lean schema",
    "a": "(a) COPY, astpg's tables",
    "b": "(b) PL/pgSQL shredder",
    "c": "(c) Python shredder + COPY",
    "d": "(d) SELECT astpg.ingest(doc) over staged rows",
    "i": "(i) astpg.ingest() per document, autocommit",
    "e": "(e) astpg.ingest_batch",
    "f1": "(f) astpg-load --jobs 1",
    "f2": "(f) astpg-load --jobs 2",
    "g": "(g) re-ingest",
    "h": "(h)",
}
# What runs unless --cases says otherwise, in this order.
DEFAULT_CASES = ("l", "a", "c", "d", "i", "e", "f1", "f2", "g", "h")
# The cases that load the corpus from empty tables (and get a fingerprint).
LOADS = ("l", "a", "b", "c", "d", "i", "e", "f1", "f2")

# The incremental cases: each against a baseline measured in the same run,
# and the goal issue 9 set it (None: no goal), as (label, baseline label,
# goal seconds, goal documents/s).
INCREMENTAL = (
    ("(g) re-ingest unchanged, astpg-load --skip-unchanged",
     "(g) re-ingest unchanged, astpg-load", None, 20000),
    ("(h) astpg-load --skip-unchanged, its documents unchanged",
     "(h) astpg-load, its documents unchanged", None, 20000),
    ("(h) astpg-index, nothing changed", "(h) astpg-index, first index", 3.0, None),
    ("(h) astpg-index, 10 files touched", "(h) astpg-index, first index", 5.0, None),
    ("(h) astpg-index, 10 files deleted", "(h) astpg-index, first index", None, None),
)

# What astpg-index walks (tools/astpg-index: PYTHON + JAVASCRIPT), and what
# tools/demo passes over.
INDEXED = (".py", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")
DEMO_EXCLUDED = {"site-packages", "dist-packages", "node_modules", ".git"}
QUICK_PACKAGES = ("email", "json", "logging", "xml")
# --quick's corpus: these packages of the library (some 200 files).
QUICK_CORPUS = QUICK_PACKAGES + ("asyncio", "concurrent", "http", "importlib",
                                 "multiprocessing", "unittest", "urllib")
# The packages corpus passes over what is not code of a package.
NOT_PACKAGES = ("__pycache__", ".dist-info", ".egg-info", ".data")

# psycopg2 reads COPY input in chunks of this size (default 8 kB).
COPY_CHUNK = 1 << 18


# --------------------------------------------------------------------------
# Real documents: extracted once, cached outside the repository.
# --------------------------------------------------------------------------

def demo_python():
    """tools/demo's interpreter: the first python3 on PATH, not this one
    (which may be Debian's, for psycopg2)."""
    return shutil.which("python3") or sys.executable


@functools.lru_cache(maxsize=None)
def python_paths(python):
    """sysconfig's paths of an interpreter, and its version ("version")."""
    return json.loads(subprocess.run(
        [python, "-c", "import json, sys, sysconfig; "
                       "print(json.dumps(dict(sysconfig.get_paths(), version=sys.version)))"],
        check=True, capture_output=True, text=True).stdout)


def demo_library():
    """The demo's library: $BENCH_LIBRARY, else the standard library of
    tools/demo's python3."""
    source = os.environ.get("BENCH_LIBRARY")
    return Path(source or python_paths(demo_python())["stdlib"])


def cache_dir():
    base = os.environ.get("BENCH_CACHE")
    if not base:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME")
                            or os.path.expanduser("~/.cache"), "astpg-bench")
    os.makedirs(base, exist_ok=True)
    return Path(base)


def cached(name, key, make):
    """NDJSON that make(path) writes, kept under the cache directory for
    the same key (the extractor's text, the interpreter, the trees)."""
    # what the documents depend on: the extractor, the interpreter it runs
    # on (tools/demo's), the trees
    digest = hashlib.sha256(
        (REPO / "tools/extract-python").read_bytes()
        + json.dumps([key, python_paths(demo_python())["version"]]).encode()).hexdigest()[:16]
    path = cache_dir() / ("%s-%s.ndjson" % (name, digest))
    if not path.exists():
        print("extracting %s into %s (once: it is cached)..." % (name, path), flush=True)
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        make(partial)
        partial.rename(path)
        print("  %.1f s" % (time.perf_counter() - started), flush=True)
    return path


def extract(out, repository, paths, root=None):
    """tools/extract-python, as tools/demo runs it, into the file out;
    a process that the caller waits for."""
    command = [str(REPO / "tools/extract-python"), "--repository", repository]
    for d in sorted(DEMO_EXCLUDED):
        command += ["--exclude", d]
    if root:
        command += ["--root", str(root)]
    # the files that do not parse are counted in its last line
    return subprocess.Popen(command + [str(p) for p in paths] + ["-o", str(out)],
                            stderr=subprocess.DEVNULL)


def library_corpus(quick):
    """The demo's library, extracted as tools/demo extracts it (--quick: a
    few of its packages)."""
    tree = demo_library()
    if quick:
        paths = [tree / p for p in QUICK_CORPUS if (tree / p).is_dir()]
        name = "library-quick"
    else:
        paths = [tree]
        name = "library"

    def make(out):
        if extract(out, tree.name, paths, tree if quick else None).wait() != 0:
            raise RuntimeError("tools/extract-python failed on %s" % tree)
    return ("the demo's library (%s%s)" % (tree, ", --quick: " + " ".join(QUICK_CORPUS)
                                           if quick else ""),
            cached(name, [str(tree), quick], make))


def packages_corpus():
    """A larger corpus of other code, when none is given: every package
    installed beside the demo's library (its interpreter's site-packages)
    and in Debian's /usr/lib/python3/dist-packages, each top-level package
    a repository of its own, a name met twice taken once, so that no file
    is shared with the library or between repositories.  On this project's
    machine some 11,000 files of about a hundred code bases; on a fresh
    Debian machine only what Debian installed (pass a larger corpus)."""
    paths = python_paths(demo_python())
    roots = []
    for root in (paths.get("purelib"), paths.get("platlib"), "/usr/lib/python3/dist-packages"):
        if root and os.path.isdir(root) and os.path.realpath(root) not in roots:
            roots.append(os.path.realpath(root))
    packages = {}
    for root in roots:
        for name in sorted(os.listdir(root)):
            d = os.path.join(root, name)
            if (name in packages or name.endswith(NOT_PACKAGES) or name.startswith(".")
                    or not os.path.isdir(d)):
                continue
            if any(f.endswith(".py") for _, _, fs in os.walk(d) for f in fs):
                packages[name] = root
    if not packages:
        return None

    def make(out):
        parts, running = [], []
        for name, root in sorted(packages.items()):
            part = out.parent / ("%s.%s.part" % (out.name, name))
            parts.append(part)
            running.append(extract(part, name, [os.path.join(root, name)], root))
            while len(running) >= (os.cpu_count() or 1):
                running.pop(0).wait()
        for p in running:
            p.wait()
        with open(out, "w") as f:
            for part in parts:
                if part.exists():
                    f.write(part.read_text())
                    part.unlink()
    return ("packages beside the library (%d, from %s)" % (len(packages), ", ".join(roots)),
            cached("packages", sorted(packages.items()), make))


# --------------------------------------------------------------------------
# Shredding in Python, for (a) before timing and for (c) timed.
# --------------------------------------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n",
                               "\r": "\\r"})
NULL = "\\N"


def c_text(value):
    """A COPY text-format field holding a string (or NULL)."""
    return NULL if value is None else value.translate(_COPY_ESCAPES)


def c_int(value):
    # JSON may spell an integer 3.0; astpg takes it, so must we
    return NULL if value is None else str(int(value))


def c_float(value):
    return NULL if value is None else repr(float(value))


def c_bool(value):
    return "t" if value else "f"


def c_json(value):
    if value is None:
        return NULL
    return json.dumps(value, ensure_ascii=False,
                      separators=(",", ":")).translate(_COPY_ESCAPES)


def c_text_array(values):
    if not values:
        return "{}"
    items = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
             for v in values)
    return ("{" + ",".join(items) + "}").translate(_COPY_ESCAPES)


def attrs(obj, known):
    """The keys without a column of their own; a null counts as absent."""
    return {k: v for k, v in obj.items() if k not in known and v is not None}


def line(*fields):
    return "\t".join(fields) + "\n"


class Resolver:
    """astpg's dependency resolution, replayed in load order.

    astpg resolves a new file's dependencies against the files stored at
    that moment (itself included): the lowest file_id whose module equals
    the target, else the file whose path does, in the same repository.  Then
    it resolves the still unresolved dependencies of stored files that name
    the new file.  Replaying that in the order of the file ids gives the
    very target_file_id astpg leaves behind.  The maps may be seeded with
    files already in the database (case (c)).
    """

    def __init__(self):
        self.by_module = {}     # (repository, module) -> lowest file_id
        self.by_path = {}       # (repository, path) -> file_id
        self.waiting = {}       # (repository, target) -> [dependency row]

    def add_file(self, repository, path, module, file_id, dependencies):
        """dependencies: rows whose [2] is the target, [3] target_file_id."""
        if module is not None:
            self.by_module.setdefault((repository, module), file_id)
        self.by_path.setdefault((repository, path), file_id)
        for dep in dependencies:
            key = (repository, dep[2])
            dep[3] = self.by_module.get(key) or self.by_path.get(key)
            if dep[3] is None:
                self.waiting.setdefault(key, []).append(dep)
        for name in (module, path):
            for dep in self.waiting.pop((repository, name), ()):
                dep[3] = file_id


def innermost(positions, starts, ends, line_no, self_position):
    """astpg's enclosing class: the innermost one, among the classes of a
    qualified name, whose lines contain line_no; the first on a tie."""
    best = None
    for p in positions:
        if p == self_position or not starts[p] <= line_no <= ends[p]:
            continue
        if best is None or ends[p] - starts[p] < ends[best] - starts[best]:
            best = p
    if best is None:
        raise ValueError("no enclosing class (the corpus is invalid)")
    return best


class Shredded:
    """Rows of the six tables in COPY text format.  Dependencies stay lists
    until their targets are resolved (resolve_dependencies)."""

    def __init__(self):
        self.rows = {t: [] for t in TABLES}
        self.dependencies = []

    def add(self, doc, file_id, class_ids, function_ids, resolver):
        """Shred one document as astpg.ingest stores a new file.  class_ids
        and function_ids: the ids of its classes and functions, in order."""
        repository = doc.get("repository")
        if repository is None:
            repository = ""
        path, module = doc["path"], doc.get("module")
        rid = str(repo_id(repository))
        self.rows["files"].append(line(
            str(file_id), c_text(repository), c_text(path), c_text(module),
            c_text(doc["language"]), c_text(doc.get("revision")),
            c_int(doc.get("size_bytes")), c_text(doc.get("content_hash")),
            c_json(doc.get("ast")), c_json(attrs(doc, FILE_KEYS)), rid))

        classes = doc.get("classes") or []
        starts = [c["line_start"] for c in classes]
        ends = [c["line_end"] for c in classes]
        by_name = {}
        qualified = []
        for i, cls in enumerate(classes):
            name = cls.get("qualified_name")
            if name is None:
                parent = cls.get("parent")
                name = cls["name"] if parent is None else parent + "." + cls["name"]
            qualified.append(name)
            by_name.setdefault(name, []).append(i)
        out = self.rows["classes"]
        for i, cls in enumerate(classes):
            parent = cls.get("parent")
            parent_id = None if parent is None else class_ids[innermost(
                by_name.get(parent, ()), starts, ends, starts[i], i)]
            out.append(line(
                str(class_ids[i]), str(file_id), c_int(parent_id),
                c_text(cls["name"]), c_text(qualified[i]),
                c_text(cls.get("namespace")), c_text_array(cls.get("bases")),
                c_int(starts[i]), c_int(ends[i]),
                c_bool(cls.get("is_abstract")),
                c_json(attrs(cls, CLASS_KEYS)), rid))

        out, calls = self.rows["functions"], self.rows["calls"]
        for i, fn in enumerate(doc.get("functions") or []):
            function_id = function_ids[i]
            cls = fn.get("class")
            class_id = None if cls is None else class_ids[innermost(
                by_name.get(cls, ()), starts, ends, fn["line_start"], -1)]
            qualified_name = fn.get("qualified_name")
            if qualified_name is None:
                qualified_name = fn["name"] if cls is None else cls + "." + fn["name"]
            parameters = fn.get("parameters")
            out.append(line(
                str(function_id), str(file_id), c_int(class_id),
                c_text(fn["name"]), c_text(qualified_name),
                c_text(fn.get("signature")),
                c_json([] if parameters is None else parameters),
                str(0 if parameters is None else len(parameters)),
                c_text(fn.get("return_type")), c_int(fn["line_start"]),
                c_int(fn["line_end"]), c_int(fn.get("complexity")),
                c_bool(fn.get("is_async")), c_text_array(fn.get("decorators")),
                c_json(attrs(fn, FUNCTION_KEYS)), rid))
            for call_no, call in enumerate(fn.get("calls") or [], 1):
                calls.append(line(
                    str(function_id), str(call_no), str(file_id),
                    c_text(call["name"]), c_int(call.get("line")),
                    c_json(attrs(call, CALL_KEYS)), rid))

        dependencies = []
        for no, dep in enumerate(doc.get("dependencies") or [], 1):
            kind, strength = dep.get("kind"), dep.get("strength")
            dependencies.append([
                file_id, no, dep["target"], None,
                "import" if kind is None else kind, dep.get("line"),
                1.0 if strength is None else strength, dep.get("names"),
                attrs(dep, DEPENDENCY_KEYS), rid])
        resolver.add_file(repository, path, module, file_id, dependencies)
        self.dependencies.extend(dependencies)

        out = self.rows["metrics"]
        for name, value in (doc.get("metrics") or {}).items():
            if value is not None:
                out.append(line(str(file_id), c_text(name), c_float(value),
                                rid))

    def text(self, table):
        if table == "dependencies":
            return "".join(line(
                str(file_id), str(no), c_text(target), c_int(target_file_id),
                c_text(kind), c_int(line_no), c_float(strength),
                c_text_array(names), c_json(extra), rid)
                for (file_id, no, target, target_file_id, kind, line_no,
                     strength, names, extra, rid) in self.dependencies)
        return "".join(self.rows[table])

    def counts(self):
        counts = {t: len(rows) for t, rows in self.rows.items()}
        counts["dependencies"] = len(self.dependencies)
        return counts


def copy_in(cur, table, data, schema="astpg"):
    """COPY one table's rows (a file object) in text format: into astpg's
    tables, or into the lean schema's (whose rows have no repo_id)."""
    columns = COPY_COLUMNS[table]
    if schema == "lean":
        columns = columns[:-len(", repo_id")]
    cur.copy_expert("COPY %s.%s (%s) FROM STDIN" % (schema, table, columns),
                    data, size=COPY_CHUNK)


def without_repo_id(text):
    """Rows of astpg's COPY text as the lean schema's: repo_id is every
    row's last field."""
    # split at newlines only: COPY text escapes \n and \r, not \x1c or
    # U+2028, which splitlines() would also split at
    return "".join(l[:l.rindex("\t")] + "\n" for l in text.split("\n")[:-1])


# --------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------

def attrs_sql(obj, keys):
    """SQL for the attrs of a row: cheap when there is nothing left over,
    which is the common case."""
    rest = "%s - '{%s}'::text[]" % (obj, ",".join(keys))
    return ("CASE WHEN %s = '{}'::jsonb THEN '{}'::jsonb "
            "ELSE bench.attrs(%s) END" % (rest, rest))


BENCH_SCHEMA = """
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
COMMENT ON SCHEMA bench IS 'astpg benchmark (test/bench/bench.py): scratch';

-- One JSON document a row, in corpus order.
CREATE TABLE bench.staging (
    doc_no bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc    jsonb NOT NULL
);
CREATE TABLE bench.staging_changed (LIKE bench.staging INCLUDING ALL);

-- What is left of an object: its non-null keys, as astpg keeps them.
CREATE FUNCTION bench.attrs(rest jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(jsonb_object_agg(a.key, a.value), '{}')
      FROM jsonb_each(rest) AS a
     WHERE jsonb_typeof(a.value) <> 'null'
$$;

-- An array with elements, else NULL (a JSON null counts as absent).
CREATE FUNCTION bench.elements(value jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'array'
                THEN CASE WHEN jsonb_array_length(value) > 0 THEN value END
           END
$$;

-- Case (b): astpg.ingest of a new file, in PL/pgSQL.  Ids are taken in
-- array order, as astpg takes them; a row's references are found the way
-- astpg finds them: enclosing classes in the document (by position), files
-- and waiting dependencies through the indexes.  PL/pgSQL keeps the plans
-- it made on its first calls, when the tables were nearly empty: without
-- enable_seqscan = off, one that scans a table is kept while the table
-- grows, and the load turns quadratic.  No validation beyond SQL's casts.
CREATE FUNCTION bench.shred(doc jsonb) RETURNS bigint
LANGUAGE plpgsql
SET enable_seqscan = off
AS $fn$
DECLARE
    v_repository   text := COALESCE(doc->>'repository', '');
    v_repo_id      bigint := astpg.repo_id(COALESCE(doc->>'repository', ''));
    v_path         text := doc->>'path';
    v_module       text := doc->>'module';
    v_classes      jsonb := bench.elements(doc->'classes');
    v_functions    jsonb := bench.elements(doc->'functions');
    v_dependencies jsonb := bench.elements(doc->'dependencies');
    v_file_id      bigint;
    v_class_ids    bigint[];    -- by position in the document's classes
BEGIN
    INSERT INTO astpg.files (repository, path, module, language, revision,
                             size_bytes, content_hash, ast, attrs, repo_id)
    VALUES (v_repository, v_path, v_module, doc->>'language',
            doc->>'revision', (doc->>'size_bytes')::bigint,
            doc->>'content_hash', NULLIF(doc->'ast', 'null'::jsonb),
            @FILE_ATTRS@, v_repo_id)
    RETURNING file_id INTO v_file_id;

    IF v_classes IS NOT NULL THEN
        v_class_ids := ARRAY(SELECT nextval('astpg.classes_class_id_seq')
                               FROM generate_series(1, jsonb_array_length(v_classes)));
        INSERT INTO astpg.classes (class_id, file_id, parent_id, name,
                                   qualified_name, namespace, bases,
                                   line_start, line_end, is_abstract, attrs,
                                   repo_id)
        WITH c AS MATERIALIZED (
            SELECT x.*,
                   COALESCE(x.qualified_name, x.parent || '.' || x.name,
                            x.name) AS qname
              FROM ROWS FROM (
                       jsonb_array_elements(v_classes),
                       jsonb_to_recordset(v_classes) AS (
                           name text, qualified_name text, parent text,
                           namespace text, bases jsonb, line_start int,
                           line_end int, is_abstract boolean))
                   WITH ORDINALITY AS x(e, name, qualified_name, parent,
                                        namespace, bases, line_start,
                                        line_end, is_abstract, ord))
        SELECT v_class_ids[c.ord], v_file_id,
               v_class_ids[(SELECT p.ord FROM c p
                             WHERE c.parent IS NOT NULL AND p.qname = c.parent
                               AND p.ord <> c.ord
                               AND c.line_start BETWEEN p.line_start AND p.line_end
                             ORDER BY p.line_end - p.line_start, p.ord LIMIT 1)],
               c.name, c.qname, c.namespace,
               ARRAY(SELECT jsonb_array_elements_text(c.bases)),
               c.line_start, c.line_end, COALESCE(c.is_abstract, false),
               @CLASS_ATTRS@, v_repo_id
          FROM c;
    END IF;

    -- functions and their calls in one statement: the calls need the ids
    IF v_functions IS NOT NULL THEN
        WITH c AS MATERIALIZED (
            SELECT x.ord, x.line_start, x.line_end,
                   COALESCE(x.qualified_name, x.parent || '.' || x.name,
                            x.name) AS qname
              FROM ROWS FROM (
                       jsonb_to_recordset(v_classes) AS (
                           name text, qualified_name text, parent text,
                           line_start int, line_end int))
                   WITH ORDINALITY AS x(name, qualified_name, parent,
                                        line_start, line_end, ord)
        ), f AS MATERIALIZED (
            SELECT nextval('astpg.functions_function_id_seq') AS function_id,
                   x.*
              FROM ROWS FROM (
                       jsonb_array_elements(v_functions),
                       jsonb_to_recordset(v_functions) AS (
                           name text, qualified_name text, class text,
                           signature text, parameters jsonb,
                           return_type text, line_start int, line_end int,
                           complexity int, is_async boolean,
                           decorators jsonb, calls jsonb))
                   WITH ORDINALITY AS x(e, name, qualified_name, class,
                                        signature, parameters, return_type,
                                        line_start, line_end, complexity,
                                        is_async, decorators, calls, ord)
        ), written AS (
            INSERT INTO astpg.functions (function_id, file_id, class_id, name,
                                         qualified_name, signature,
                                         parameters, parameter_count,
                                         return_type, line_start, line_end,
                                         complexity, is_async, decorators,
                                         attrs, repo_id)
            SELECT f.function_id, v_file_id,
                   v_class_ids[(SELECT c.ord FROM c
                                 WHERE f.class IS NOT NULL AND c.qname = f.class
                                   AND f.line_start BETWEEN c.line_start AND c.line_end
                                 ORDER BY c.line_end - c.line_start, c.ord
                                 LIMIT 1)],
                   f.name,
                   COALESCE(f.qualified_name, f.class || '.' || f.name, f.name),
                   f.signature, COALESCE(f.parameters, '[]'),
                   COALESCE(jsonb_array_length(f.parameters), 0),
                   f.return_type, f.line_start, f.line_end, f.complexity,
                   COALESCE(f.is_async, false),
                   ARRAY(SELECT jsonb_array_elements_text(f.decorators)),
                   @FUNCTION_ATTRS@, v_repo_id
              FROM f
        )
        INSERT INTO astpg.calls (function_id, call_no, file_id, callee, line,
                                 attrs, repo_id)
        SELECT f.function_id, k.call_no, v_file_id, k.name, k.line,
               @CALL_ATTRS@, v_repo_id
          FROM f,
               ROWS FROM (jsonb_array_elements(f.calls),
                          jsonb_to_recordset(f.calls) AS (name text, line int))
                   WITH ORDINALITY AS k(e, name, line, call_no);
    END IF;

    IF v_dependencies IS NOT NULL THEN
        INSERT INTO astpg.dependencies (file_id, dependency_no, target,
                                        target_file_id, kind, line, strength,
                                        names, attrs, repo_id)
        SELECT v_file_id, d.ord, d.target,
               COALESCE((SELECT min(t.file_id) FROM astpg.files t
                          WHERE t.module = d.target
                            AND t.repository = v_repository),
                        (SELECT t.file_id FROM astpg.files t
                          WHERE t.path = d.target
                            AND t.repository = v_repository)),
               COALESCE(d.kind, 'import'), d.line, COALESCE(d.strength, 1.0),
               ARRAY(SELECT jsonb_array_elements_text(d.names)),
               @DEPENDENCY_ATTRS@, v_repo_id
          FROM ROWS FROM (
                   jsonb_array_elements(v_dependencies),
                   jsonb_to_recordset(v_dependencies) AS (
                       target text, kind text, line int, strength float8,
                       names jsonb))
               WITH ORDINALITY AS d(e, target, kind, line, strength, names,
                                    ord);
    END IF;

    INSERT INTO astpg.metrics (file_id, name, value, repo_id)
    SELECT v_file_id, m.key, m.value::float8, v_repo_id
      FROM jsonb_each(CASE WHEN jsonb_typeof(doc->'metrics') = 'object'
                           THEN doc->'metrics' END) AS m
     WHERE jsonb_typeof(m.value) <> 'null';

    -- stored files that were waiting for this one
    UPDATE astpg.dependencies d SET target_file_id = v_file_id
      FROM astpg.files f
     WHERE d.target_file_id IS NULL
       AND (d.target = v_module OR d.target = v_path)
       AND f.file_id = d.file_id AND f.repository = v_repository;
    RETURN v_file_id;
END
$fn$;
""".replace("@FILE_ATTRS@", attrs_sql("doc", FILE_KEYS)) \
   .replace("@CLASS_ATTRS@", attrs_sql("c.e", CLASS_KEYS)) \
   .replace("@FUNCTION_ATTRS@", attrs_sql("f.e", FUNCTION_KEYS)) \
   .replace("@CALL_ATTRS@", attrs_sql("k.e", CALL_KEYS)) \
   .replace("@DEPENDENCY_ATTRS@", attrs_sql("d.e", DEPENDENCY_KEYS))

# Case (c): one round trip for the ids of a batch.
RESERVE_IDS = """
SELECT ARRAY(SELECT nextval('astpg.files_file_id_seq') FROM generate_series(1, %s)),
       ARRAY(SELECT nextval('astpg.classes_class_id_seq') FROM generate_series(1, %s)),
       ARRAY(SELECT nextval('astpg.functions_function_id_seq') FROM generate_series(1, %s))"""

# Case (c): the stored files that the batch's dependency targets name, by
# module and by path, as astpg looks them up.
LOOKUP_TARGETS = """
SELECT q.repository, q.target,
       (SELECT min(t.file_id) FROM astpg.files t
         WHERE t.module = q.target AND t.repository = q.repository),
       (SELECT t.file_id FROM astpg.files t
         WHERE t.path = q.target AND t.repository = q.repository)
  FROM unnest(%s::text[], %s::text[]) AS q(repository, target)"""

# Case (c): dependencies stored by earlier batches that name a file of this
# batch (by module or path) point at it now; the first such file in load
# order wins, as in astpg.
RESOLVE_WAITING = """
UPDATE astpg.dependencies d SET target_file_id = m.target_file_id
  FROM (SELECT u.file_id, u.dependency_no, min(b.file_id) AS target_file_id
          FROM unnest(%s::bigint[], %s::text[], %s::text[])
               AS b(file_id, repository, name)
          JOIN astpg.dependencies u
            ON u.target = b.name AND u.target_file_id IS NULL
          JOIN astpg.files f
            ON f.file_id = u.file_id AND f.repository = b.repository
         GROUP BY u.file_id, u.dependency_no) AS m
 WHERE d.file_id = m.file_id AND d.dependency_no = m.dependency_no"""

# The stored content, independent of the ids: every reference is replaced by
# what it names.  One row per table: (table, rows, md5 of the sorted rows).
FINGERPRINT = """
WITH r(tab, line) AS (
    SELECT 'files', ROW(f.repository, f.path, f.module, f.language,
                        f.revision, f.size_bytes, f.content_hash, f.ast,
                        f.attrs)::text
      FROM astpg.files f
    UNION ALL
    SELECT 'classes', ROW(f.repository, f.path, c.name, c.qualified_name,
                          c.namespace, c.bases, c.line_start, c.line_end,
                          c.is_abstract, c.attrs, p.file_id = c.file_id,
                          p.qualified_name, p.line_start)::text
      FROM astpg.classes c
      JOIN astpg.files f ON f.file_id = c.file_id
      LEFT JOIN astpg.classes p ON p.class_id = c.parent_id
    UNION ALL
    SELECT 'functions', ROW(f.repository, f.path, fn.name, fn.qualified_name,
                            fn.signature, fn.parameters, fn.parameter_count,
                            fn.return_type, fn.line_start, fn.line_end,
                            fn.complexity, fn.is_async, fn.decorators,
                            fn.attrs, c.file_id = fn.file_id,
                            c.qualified_name, c.line_start)::text
      FROM astpg.functions fn
      JOIN astpg.files f ON f.file_id = fn.file_id
      LEFT JOIN astpg.classes c ON c.class_id = fn.class_id
    UNION ALL
    SELECT 'calls', ROW(f.repository, f.path, fn.file_id = k.file_id,
                        fn.qualified_name, fn.line_start, k.call_no,
                        k.callee, k.line, k.attrs)::text
      FROM astpg.calls k
      JOIN astpg.files f ON f.file_id = k.file_id
      JOIN astpg.functions fn ON fn.function_id = k.function_id
    UNION ALL
    SELECT 'dependencies', ROW(f.repository, f.path, d.dependency_no,
                               d.target, t.repository, t.path, d.kind, d.line,
                               d.strength, d.names, d.attrs)::text
      FROM astpg.dependencies d
      JOIN astpg.files f ON f.file_id = d.file_id
      LEFT JOIN astpg.files t ON t.file_id = d.target_file_id
    UNION ALL
    SELECT 'metrics', ROW(f.repository, f.path, m.name, m.value)::text
      FROM astpg.metrics m
      JOIN astpg.files f ON f.file_id = m.file_id
)
SELECT tab, count(*), md5(string_agg(line, E'\\n' ORDER BY line COLLATE "C"))
  FROM r GROUP BY tab"""


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------

def proc_status(pid):
    """Memory fields of a process's /proc status, in kB; {} if unreadable
    (a server on another machine)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            fields = dict(l.split(":", 1) for l in f if ":" in l)
    except OSError:
        return {}
    return {k: int(v.split()[0]) for k, v in fields.items()
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem")}


def cpu_seconds(pid):
    """utime + stime of a process (a backend of a server on this machine),
    None when it cannot be read."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LoaderWatch(threading.Thread):
    """The CPU time of astpg-load's backends: found in pg_stat_activity as
    they connect, read from /proc every 20 ms until they are gone (so up to
    20 ms of each backend's last moments are missed)."""

    def __init__(self, conn):
        super().__init__(daemon=True)
        self.conn = conn
        self.cpu = {}
        self.done = threading.Event()

    def run(self):
        with self.conn.cursor() as cur:
            while not self.done.is_set():
                cur.execute("SELECT pid FROM pg_stat_activity "
                            "WHERE application_name = 'astpg-load'")
                for (pid,) in cur.fetchall():
                    seconds = cpu_seconds(pid)
                    if seconds is not None:
                        self.cpu[pid] = seconds
                self.done.wait(0.02)

    def stop(self):
        self.done.set()
        self.join()
        return sum(self.cpu.values()) if self.cpu else None


class MemorySampler(threading.Thread):
    """Samples a backend's RssAnon every 20 ms: the peak of its private
    memory, which VmHWM (shared buffers included) does not tell."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_anon = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.02):
            self.peak_anon = max(self.peak_anon,
                                 proc_status(self.pid).get("RssAnon", 0))

    def stop(self):
        self.done.set()
        self.join()
        status = proc_status(self.pid)
        if status:
            self.peak_anon = max(self.peak_anon, status.get("RssAnon", 0))
        return status


class Measurement:
    def __init__(self, label):
        self.label = label
        self.seconds = []
        self.rows = None        # rows written per run, None: nothing
        self.memory = []        # per run: /proc status after, sampled peak
        self.docs = None        # documents (files) per run
        self.storage = None     # bytes of the tables written, after the last run
        self.cpu = []           # per run: (server backends' CPU s, client's CPU s)


class Bench:
    def __init__(self, args, corpus, first=True):
        """corpus: (its name, its NDJSON file; None: a generated one).
        first: the first corpus of the run, the one (g) and (h) run with."""
        self.args = args
        self.corpus_name, self.corpus_source = corpus
        self.first = first
        self.files = None           # documents loaded, once read
        self.passed = 0
        self.failed = 0
        self.results = {}           # label -> Measurement
        self.fingerprints = {}      # case -> {table: (rows, md5)}
        self.failed_runs = {}       # case -> runs that failed
        self.admin = psycopg2.connect("")
        self.admin.autocommit = True
        self.watcher = psycopg2.connect("", application_name="bench-watch")
        self.watcher.autocommit = True
        self.last_cpu = None        # (server, client) CPU s of the last timed load
        self.work = Path(tempfile.mkdtemp(prefix="astpg-bench-"))
        self.loader = self.find_loader()

    # -- checks -------------------------------------------------------------

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: " + what, file=sys.stderr, flush=True)
        return ok

    def require(self, ok, what):
        """A check that a run must pass to count as a measurement."""
        if not ok:
            raise RuntimeError(what)
        self.check(True, what)

    def sql(self, query, params=None):
        with self.admin.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None

    def counts(self, schema="astpg"):
        return {t: self.sql("SELECT count(*) FROM %s.%s" % (schema, t))[0][0]
                for t in TABLES}

    def storage(self, tables):
        """Bytes of these tables (a partitioned one's partitions), their
        indexes and TOAST included."""
        return self.sql("SELECT sum(pg_total_relation_size(p.relid))::bigint "
                        "FROM unnest(%s::text[]) AS t, " + PARTS, (list(tables),))[0][0]

    def table_storage(self, schema):
        """Per table that a case of the schema writes: heap and TOAST,
        indexes (bytes); a partitioned table's partitions summed."""
        tables = LEAN_TABLES if schema == "lean" else ASTPG_TABLES
        return {name.split(".")[1]: (heap, indexes) for name, heap, indexes in self.sql(
            "SELECT t, sum(pg_table_size(p.relid))::bigint, "
            "sum(pg_indexes_size(p.relid))::bigint "
            "FROM unnest(%s::text[]) AS t, " + PARTS + " GROUP BY t", (list(tables),))}

    def check_stored(self, case, schema="astpg"):
        """After every run: the files first (a case that loses documents
        must not pass unnoticed), then every table against the shredded
        corpus.  A run that stored anything else is a failed run, not a
        measurement."""
        counts = self.counts(schema)
        wrong = []
        if counts["files"] != self.files:
            wrong.append("%d files, expected %d" % (counts["files"], self.files))
        else:
            wrong += ["%d %s rows, expected %d" % (counts[t], t, self.expected[t])
                      for t in TABLES[1:] if counts[t] != self.expected[t]]
        rejects = self.sql("SELECT count(*) FROM astpg.rejects")[0][0]
        if rejects:
            wrong.append("%d documents in astpg.rejects" % rejects)
        if wrong:
            raise RuntimeError("stored %s" % "; ".join(wrong))
        self.check(True, "case %s stored what it should" % case)
        return counts

    def fingerprint(self, case, schema="astpg"):
        # untimed; without statistics its joins can take minutes on real code
        self.sql("ANALYZE " + ", ".join("%s.%s" % (schema, t) for t in TABLES))
        self.fingerprints[case] = {t: (n, h) for t, n, h in self.sql(
            FINGERPRINT.replace("astpg.", schema + "."))}

    def check_fingerprints(self):
        reference = "d" if "d" in self.fingerprints else next(
            iter(self.fingerprints), None)
        if len(self.fingerprints) < 2:
            return
        print("\nStored content (ids aside) compared with case (%s):" % reference)
        for case, fp in self.fingerprints.items():
            if case == reference:
                continue
            differ = [t for t in TABLES
                      if fp.get(t, (0, None)) != self.fingerprints[reference].get(t, (0, None))]
            print("  case %-3s %s" % (case, "same" if not differ
                                      else "DIFFERS in " + ", ".join(differ)))
            self.check(not differ, "case %s stored other content than case %s in %s"
                       % (case, reference, ", ".join(differ)))

    # -- preparing ----------------------------------------------------------

    def find_loader(self):
        override = os.environ.get("BENCH_ASTPG_LOAD")
        if override:
            return None if override == "none" else override
        built = REPO / "tools/astpg-load/astpg-load"
        if os.access(built, os.X_OK):
            return str(built)
        try:
            bindir = subprocess.run(["pg_config", "--bindir"], check=True,
                                    capture_output=True, text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
        installed = Path(bindir) / "astpg-load"
        return str(installed) if os.access(installed, os.X_OK) else None

    def prepare_database(self):
        self.sql("CREATE EXTENSION IF NOT EXISTS astpg CASCADE")
        version = self.sql("SELECT extversion FROM pg_extension WHERE extname = 'astpg'")[0][0]
        if version < "1.1":
            sys.exit("bench: astpg %s is installed here; ingest_batch needs 1.1 "
                     "(ALTER EXTENSION astpg UPDATE)" % version)
        # astpg's tables are emptied again and again: not in a database
        # that holds anything but what an earlier benchmark left there
        stored = self.sql("SELECT count(*) FROM astpg.files")[0][0]
        ours = self.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'bench'")[0][0]
        if stored and not ours and not self.args.force:
            sys.exit("bench: astpg.files holds %d rows in database %s; the "
                     "benchmark empties it: use a database of its own (or --force)"
                     % (stored, self.admin.info.dbname))
        self.sql(BENCH_SCHEMA)
        self.sql(LEAN_SCHEMA)
        self.server = self.sql(
            "SELECT current_setting('server_version'), "
            "current_setting('shared_buffers'), current_setting('fsync'), "
            "current_setting('synchronous_commit'), current_database()")[0]

    def prepare_corpus(self):
        """The corpus (at most --files documents of it), its shredded rows
        (cases (l) and (a)), its changed copy (g), and the staging tables,
        all before anything is timed."""
        self.corpus = self.work / "corpus.ndjson"
        if self.corpus_source:
            # real documents, as an extractor wrote them
            with open(self.corpus_source) as f, open(self.corpus, "w") as out:
                taken = 0
                for l in f:
                    if taken == self.args.files:
                        break
                    if l.strip():
                        out.write(l if l.endswith("\n") else l + "\n")
                        taken += 1
        else:
            with open(self.corpus, "w") as out:
                subprocess.run([sys.executable, str(REPO / "test/gen_corpus.py"),
                                "--files", str(self.args.files),
                                "--seed", str(self.args.seed)],
                               stdout=out, check=True)
        with open(self.corpus) as f:
            self.lines = f.readlines()
        self.files = len(self.lines)
        if not self.files:
            raise RuntimeError("corpus %s holds no documents" % self.corpus_name)
        docs = [json.loads(l) for l in self.lines]

        shredded, resolver = Shredded(), Resolver()
        class_id = function_id = 1
        for file_id, doc in enumerate(docs, 1):
            nc, nf = len(doc.get("classes") or []), len(doc.get("functions") or [])
            shredded.add(doc, file_id, range(class_id, class_id + nc),
                         range(function_id, function_id + nf), resolver)
            class_id += nc
            function_id += nf
        self.expected = shredded.counts()
        self.expected_rows = sum(self.expected.values())
        self.max_ids = {"files": len(docs), "classes": class_id - 1,
                        "functions": function_id - 1}
        self.table_files, self.lean_files = {}, {}
        for t in TABLES:
            text = shredded.text(t)
            self.table_files[t] = self.work / ("%s.copy" % t)
            self.table_files[t].write_text(text)
            self.lean_files[t] = self.work / ("%s.lean.copy" % t)
            self.lean_files[t].write_text(without_repo_id(text))
        del shredded, resolver, text

        # (g): every document changed, content_hash and one function line
        self.changed = self.work / "changed.ndjson"
        self.changed_hashes = {}
        with open(self.changed, "w") as out:
            for doc in docs:
                doc.pop("content_hash", None)
                if doc.get("functions"):
                    doc["functions"][0]["line_end"] += 1
                content = json.dumps(doc, sort_keys=True).encode()
                doc["content_hash"] = "sha256:" + hashlib.sha256(content).hexdigest()
                self.changed_hashes[(doc.get("repository") or "", doc["path"])] = doc["content_hash"]
                out.write(json.dumps(doc, separators=(",", ":")) + "\n")
        self.functions_changed = sum(1 for d in docs if d.get("functions"))
        del docs

        # Every byte as written: CSV with a quote and a delimiter that JSON
        # text cannot hold raw.
        for table, path in (("staging", self.corpus),
                            ("staging_changed", self.changed)):
            with self.admin.cursor() as cur, open(path) as f:
                cur.copy_expert("COPY bench.%s (doc) FROM STDIN WITH "
                                "(FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
                                % table, f, size=COPY_CHUNK)
        self.sql("ANALYZE bench.staging")
        self.sql("ANALYZE bench.staging_changed")

    # -- running ------------------------------------------------------------

    def reset(self):
        """Empty tables, and dirty pages of the last case written out so that
        it does not pay for them."""
        self.sql(TRUNCATE)
        self.sql("CHECKPOINT")

    def record(self, label, seconds, rows=None, memory=None, docs=None):
        m = self.results.setdefault(label, Measurement(label))
        m.seconds.append(seconds)
        m.docs = docs or self.files
        if rows is not None:
            if m.rows is not None and m.rows != rows:
                self.check(False, "%s wrote %d rows in one run and %d in another"
                           % (label, m.rows, rows))
            m.rows = rows
        if memory is not None:
            m.memory.append(memory)
        print("  %-46s %8.2f s%s" % (label, seconds,
              "" if rows is None else "  %9.0f rows/s" % (rows / seconds)),
              flush=True)

    def timed(self, load, sample_memory=False):
        """Run load(conn) on a fresh connection; seconds from its start to
        its last COMMIT, and the backend's memory if asked."""
        conn = psycopg2.connect("", options="-c statement_timeout=%d"
                                % (self.args.timeout * 1000))
        try:
            sampler = None
            pid = conn.get_backend_pid()
            if sample_memory:
                sampler = MemorySampler(pid)
                sampler.start()
            server, client = cpu_seconds(pid), time.process_time()
            started = time.perf_counter()
            load(conn)
            seconds = time.perf_counter() - started
            after = cpu_seconds(pid)
            self.last_cpu = (after - server if server is not None and after is not None
                             else None, time.process_time() - client)
            memory = None
            if sampler:
                status = sampler.stop()
                memory = (status, sampler.peak_anon)
            return seconds, memory
        finally:
            conn.close()

    def stored_rows(self, case):
        counts = self.check_stored(case)
        return sum(counts.values())

    def loaded(self, case, seconds, memory=None, schema="astpg"):
        """A load from empty tables is done: check what it stored, record
        its time, and the storage of the tables it wrote."""
        rows = sum(self.check_stored(case, schema).values())
        self.record(CASE_TITLES[case], seconds, rows, memory)
        self.results[CASE_TITLES[case]].cpu.append(self.last_cpu)
        self.results[CASE_TITLES[case]].storage = self.storage(
            LEAN_TABLES if schema == "lean" else ASTPG_TABLES)

    def case_l(self, last):
        def load(conn):
            with conn.cursor() as cur:
                for t in TABLES:
                    with open(self.lean_files[t]) as f:
                        copy_in(cur, t, f, "lean")
            conn.commit()
        seconds, _ = self.timed(load)
        self.loaded("l", seconds, schema="lean")
        if last:
            self.lean_storage = self.table_storage("lean")

    def case_i(self, last):
        lines = self.lines

        def load(conn):
            conn.autocommit = True
            with conn.cursor() as cur:
                for l in lines:
                    cur.execute("SELECT count(*) FROM astpg.ingest(%s::jsonb)", (l,))
        seconds, memory = self.timed(load, sample_memory=True)
        self.loaded("i", seconds, memory)

    def case_a(self, last):
        def load(conn):
            with conn.cursor() as cur:
                for t in TABLES:
                    with open(self.table_files[t]) as f:
                        copy_in(cur, t, f)
            conn.commit()
        seconds, _ = self.timed(load)
        # the ids came from the files: the sequences go past them, as astpg
        # would leave them
        for t, column in (("files", "file_id"), ("classes", "class_id"),
                          ("functions", "function_id")):
            if self.max_ids[t]:
                self.sql("SELECT setval(pg_get_serial_sequence('astpg.%s', '%s'), %%s)"
                         % (t, column), (self.max_ids[t],))
        self.loaded("a", seconds)

    def case_b(self, last):
        def load(conn):
            with conn.cursor() as cur:
                cur.execute("SELECT count(bench.shred(s.doc)) FROM "
                            "(SELECT doc FROM bench.staging ORDER BY doc_no) s")
            conn.commit()
        seconds, _ = self.timed(load)
        self.loaded("b", seconds)

    def case_c(self, last):
        lines = self.lines

        def load(conn):
            with conn.cursor() as cur:
                for start in range(0, len(lines), BATCH):
                    self.load_client_batch(cur, lines[start:start + BATCH])
                    conn.commit()
        seconds, _ = self.timed(load)
        self.loaded("c", seconds)

    def load_client_batch(self, cur, lines):
        docs = [json.loads(l) for l in lines]
        n_classes = [len(d.get("classes") or []) for d in docs]
        n_functions = [len(d.get("functions") or []) for d in docs]
        cur.execute(RESERVE_IDS, (len(docs), sum(n_classes), sum(n_functions)))
        file_ids, class_ids, function_ids = cur.fetchone()

        # Targets that name files stored by earlier batches, looked up in
        # the database; this batch's own files are known here.
        resolver = Resolver()
        targets = {((d.get("repository") or ""), dep["target"])
                   for d in docs for dep in (d.get("dependencies") or [])}
        cur.execute(LOOKUP_TARGETS, ([r for r, _ in targets], [t for _, t in targets]))
        for repository, target, by_module, by_path in cur.fetchall():
            if by_module is not None:
                resolver.by_module[(repository, target)] = by_module
            if by_path is not None:
                resolver.by_path[(repository, target)] = by_path

        shredded = Shredded()
        c = f = 0
        names = ([], [], [])
        for doc, file_id, nc, nf in zip(docs, file_ids, n_classes, n_functions):
            shredded.add(doc, file_id, class_ids[c:c + nc],
                         function_ids[f:f + nf], resolver)
            c += nc
            f += nf
            repository = doc.get("repository") or ""
            for name in (doc.get("module"), doc["path"]):
                if name is not None:
                    names[0].append(file_id)
                    names[1].append(repository)
                    names[2].append(name)
        for t in TABLES:
            copy_in(cur, t, io.StringIO(shredded.text(t)))
        cur.execute(RESOLVE_WAITING, names)

    def case_d(self, last):
        def load(conn):
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM "
                            "(SELECT doc FROM bench.staging ORDER BY doc_no) s, "
                            "astpg.ingest(s.doc) r")
            conn.commit()
        seconds, memory = self.timed(load, sample_memory=True)
        self.loaded("d", seconds, memory)

    def ingest_batches(self, conn, table="staging"):
        with conn.cursor() as cur:
            for start in range(1, self.files + 1, BATCH):
                cur.execute("SELECT count(*) FROM astpg.ingest_batch(("
                            "SELECT array_agg(doc ORDER BY doc_no) FROM bench.%s "
                            "WHERE doc_no >= %%s AND doc_no < %%s))" % table,
                            (start, start + BATCH))
                n = cur.fetchone()[0]
                if n != min(BATCH, self.files - start + 1):
                    raise RuntimeError("ingest_batch stored %d documents of a batch" % n)
                conn.commit()

    def case_e(self, last):
        seconds, memory = self.timed(self.ingest_batches, sample_memory=True)
        self.loaded("e", seconds, memory)

    def run_loader(self, path, jobs, options=()):
        """astpg-load end to end; seconds from its start to its exit."""
        command = [self.loader, "--jobs", str(jobs), "--no-progress", "-q",
                   *options, str(path)]
        watch = LoaderWatch(self.watcher)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        watch.start()
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            watch.stop()
            # The loader is killed, but its backends work on until they
            # next read from it, holding locks the next TRUNCATE waits for.
            self.sql("SELECT pg_terminate_backend(pid, 60000) FROM pg_stat_activity "
                     "WHERE datname = current_database() "
                     "AND application_name = 'astpg-load' AND pid <> pg_backend_pid()")
            raise RuntimeError("%s did not finish in %d s (--timeout)"
                               % (" ".join(command), self.args.timeout))
        seconds = time.perf_counter() - started
        server = watch.stop()
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.last_cpu = (server, now.ru_utime + now.ru_stime
                         - children.ru_utime - children.ru_stime)
        if done.returncode != 0:
            raise RuntimeError("%s exited with %d: %s"
                               % (" ".join(command), done.returncode,
                                  (done.stderr or done.stdout).strip()[-2000:]))
        return seconds

    def case_f(self, jobs):
        def run(last):
            seconds = self.run_loader(self.corpus, jobs)
            self.loaded("f%d" % jobs, seconds)
            if last and jobs == 1:
                self.astpg_storage = self.table_storage("astpg")
        return run

    def case_g(self, last):
        if self.loader:
            def load(path, table):
                return self.run_loader(path, 1)
            how = "astpg-load"
        else:
            def load(path, table):
                return self.timed(lambda conn: self.ingest_batches(conn, table))[0]
            how = "ingest_batch"
        load(self.corpus, "staging")
        self.check_stored("g")
        self.sql("CHECKPOINT")

        seconds = load(self.corpus, "staging")
        statuses = dict(self.sql("SELECT status, count(*) FROM astpg.ingests GROUP BY 1"))
        self.require(statuses.get("unchanged") == self.files,
                     "%s documents unchanged, expected %d"
                     % (statuses.get("unchanged", 0), self.files))
        self.check_stored("g1")
        self.record(CASE_TITLES["g"] + " unchanged, " + how, seconds)
        if last:
            self.fingerprint("g1")

        if self.loader:
            # the same again, the loader skipping what the server stores
            self.sql("CHECKPOINT")
            seconds = self.run_loader(self.corpus, 1, ["--skip-unchanged"])
            statuses = dict(self.sql("SELECT status, count(*) FROM astpg.ingests GROUP BY 1"))
            self.require(statuses == {"inserted": self.files,
                                      "unchanged": 2 * self.files},
                         "after --skip-unchanged the audit log holds %s, expected "
                         "%d inserted and %d unchanged"
                         % (statuses, self.files, 2 * self.files))
            self.check_stored("g1s")
            self.record(CASE_TITLES["g"] + " unchanged, astpg-load --skip-unchanged",
                        seconds)

        line_ends = self.sql("SELECT sum(line_end) FROM astpg.functions")[0][0] or 0
        self.sql("CHECKPOINT")

        seconds = load(self.changed, "staging_changed")
        statuses = dict(self.sql("SELECT status, count(*) FROM astpg.ingests GROUP BY 1"))
        self.require(statuses.get("replaced") == self.files,
                     "%s documents replaced, expected %d"
                     % (statuses.get("replaced", 0), self.files))
        stored = {(r, p): h for r, p, h in
                  self.sql("SELECT repository, path, content_hash FROM astpg.files")}
        self.require(stored == self.changed_hashes,
                     "the stored content hashes are not the changed ones")
        moved = (self.sql("SELECT sum(line_end) FROM astpg.functions")[0][0] or 0) - line_ends
        self.require(moved == self.functions_changed,
                     "%d function lines moved, expected %d"
                     % (moved, self.functions_changed))
        rows = self.stored_rows("g2")
        self.record(CASE_TITLES["g"] + " changed, " + how, seconds, rows)

    # -- (h): astpg-index on the demo's library ------------------------------

    def find_index(self):
        """astpg-index: $BENCH_ASTPG_INDEX, else the installed one (what
        users run), else the source tree's."""
        override = os.environ.get("BENCH_ASTPG_INDEX")
        if override:
            return None if override == "none" else override
        bindir = pg_config("--bindir")
        for candidate in ([Path(bindir) / "astpg-index"] if bindir else []) + \
                [REPO / "tools/astpg-index"]:
            if os.access(candidate, os.X_OK):
                return str(candidate)
        return None

    def prepare_library(self):
        """The demo's library, the files astpg-index would walk, and
        extractors that record what they are given."""
        self.library = demo_library()
        self.library_repository = self.library.name
        self.library_files = []
        for directory, dirs, names in os.walk(self.library):
            top = Path(directory) == self.library
            dirs[:] = sorted(d for d in dirs if d not in DEMO_EXCLUDED
                             and not (top and self.args.quick and d not in QUICK_PACKAGES))
            if top and self.args.quick:
                continue
            rel = Path(directory).relative_to(self.library)
            self.library_files += [(rel / n).as_posix() for n in sorted(names)
                                   if n.endswith(INDEXED)]
        if len(self.library_files) < 40:
            raise RuntimeError("%s holds %d files to index; (h) needs at least 40"
                               % (self.library, len(self.library_files)))

        # astpg-index runs extract-python and extract-js/extract-js from
        # $ASTPG_EXTRACTORS: wrappers there note each run's arguments
        here = Path(os.path.realpath(self.index)).parent
        real = here if (here / "extract-python").is_file() else \
            Path(pg_config("--sharedir") or "/nonexistent") / "astpg"
        if not (real / "extract-python").is_file():
            raise RuntimeError("the extractors astpg-index runs are neither beside %s "
                               "nor in pg_config --sharedir/astpg" % self.index)
        self.extractors = self.work / "extractors"
        self.parsed_log = self.work / "parsed"
        (self.extractors / "extract-js").mkdir(parents=True)
        self.parsed_log.mkdir()
        # (astpg-index gives extract-python its files on standard input,
        # NUL-separated, with --files0-from -: noted too)
        for name in ("extract-python", "extract-js/extract-js"):
            wrapper = self.extractors / name
            wrapper.write_text(
                '#!/bin/sh\nlog=%s/$$\nprintf "%%s\\n" "$@" > "$log"\n'
                'case " $* " in *" --files0-from - "*)\n'
                '\tlist=$(mktemp)\n\tcat > "$list"\n\ttr "\\0" "\\n" < "$list" >> "$log"\n'
                '\tstatus=0\n\t%s "$@" < "$list" || status=$?\n'
                '\trm -f "$list"\n\texit $status ;;\nesac\n'
                'exec %s "$@"\n'
                % (shlex.quote(str(self.parsed_log)), shlex.quote(str(real / name)),
                   shlex.quote(str(real / name))))
            wrapper.chmod(0o755)
        self.tree = self.work / "library" / self.library_repository

    def parsed(self):
        """The files (paths in the tree) the extractors were given since
        the last call."""
        prefix = str(self.tree) + os.sep
        files = set()
        for log in self.parsed_log.iterdir():
            files |= {l[len(prefix):] for l in log.read_text().splitlines()
                      if l.startswith(prefix) and l.endswith(INDEXED)}
            log.unlink()
        return files

    def run_index(self):
        """astpg-index on the copy, end to end: seconds, and the counts of
        its summary line."""
        command = [self.index, "--repository", self.library_repository,
                   "--no-progress", str(self.tree)]
        env = dict(os.environ, ASTPG_EXTRACTORS=str(self.extractors),
                   ASTPG_LOAD=self.loader)
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  timeout=max(self.args.timeout, 600))
        except subprocess.TimeoutExpired:
            raise RuntimeError("%s did not finish in time" % " ".join(command))
        seconds = time.perf_counter() - started
        # 3: committed, but some files refused (the library has a few that
        # do not parse, on purpose: its tests of the parser)
        if done.returncode not in (0, 3):
            raise RuntimeError("%s exited with %d: %s"
                               % (" ".join(command), done.returncode,
                                  (done.stderr or done.stdout).strip()[-2000:]))
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        counts = {word: int(n) for word, n in re.findall(
            r"\b(new|changed|unchanged|deleted|refused) (\d+)", summary)}
        if len(counts) != 5:
            raise RuntimeError("astpg-index said %r, not its summary" % summary)
        return seconds, counts

    def stored_hashes(self):
        return dict(self.sql("SELECT path, content_hash FROM astpg.stored_hashes(%s)",
                             (self.library_repository,)))

    def audit_since(self, mark):
        """The audit rows written after ingest_id mark: status -> paths."""
        audit = {}
        for status, path in self.sql(
                "SELECT status, path FROM astpg.ingests WHERE ingest_id > %s "
                "AND repository = %s", (mark, self.library_repository)):
            audit.setdefault(status, []).append(path)
        return {status: sorted(paths) for status, paths in audit.items()}

    def case_h(self, last):
        if not hasattr(self, "library_files"):
            self.prepare_library()
        shutil.rmtree(self.tree.parent, ignore_errors=True)
        for rel in self.library_files:
            (self.tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.library / rel, self.tree / rel)
        self.parsed()
        self.sql("CHECKPOINT")
        walked = len(self.library_files)
        label = CASE_TITLES["h"]
        mark = lambda: self.sql("SELECT coalesce(max(ingest_id), 0) FROM astpg.ingests")[0][0]

        # the baseline: everything extracted and loaded into empty tables
        seconds, counts = self.run_index()
        stored = self.stored_hashes()
        never = set(self.library_files) - set(stored)      # do not parse
        self.require(self.parsed() == set(self.library_files),
                     "(h) the first index extracted every file")
        self.require(counts["new"] == len(stored) and counts["refused"] == len(never)
                     and len(stored) > walked // 2,
                     "(h) the first index stored %d of %d files (said %s)"
                     % (len(stored), walked, counts))
        self.record(label + " astpg-index, first index", seconds, docs=walked)

        # its documents (as stored: document(), once) loaded again,
        # unchanged, without and with --skip-unchanged
        if not hasattr(self, "library_ndjson"):
            self.library_ndjson = self.work / "library.ndjson"
            # statistics first: the freshly loaded tables have none, and
            # document()'s lookups would scan them whole
            self.sql("ANALYZE astpg.files, astpg.classes, astpg.functions, "
                     "astpg.calls, astpg.dependencies, astpg.metrics")
            with open(self.library_ndjson, "w") as out:
                for (doc,) in self.sql("SELECT astpg.document(file_id)::text FROM astpg.files "
                                       "WHERE repository = %s ORDER BY path",
                                       (self.library_repository,)):
                    out.write(doc + "\n")
        for how, options in (("astpg-load", []),
                             ("astpg-load --skip-unchanged", ["--skip-unchanged"])):
            self.sql("CHECKPOINT")
            before = mark()
            seconds = self.run_loader(self.library_ndjson, 1, options)
            self.require(self.audit_since(before) == {"unchanged": sorted(stored)}
                         and self.stored_hashes() == stored,
                         "(h) %s of the stored documents: each audited unchanged, "
                         "nothing else" % how)
            self.record(label + " %s, its documents unchanged" % how, seconds,
                        docs=len(stored))
        # touched, then deleted: 20 stored files of the packages
        # test/index_bench.sh used to change (any 20 of a tree without them)
        candidates = sorted(p for p in stored if p.split("/")[0] in QUICK_PACKAGES
                            and p.endswith(".py"))
        if len(candidates) < 20:
            candidates = sorted(stored)
        touched, deleted = candidates[:10], candidates[10:20]
        self.sql("CHECKPOINT")

        # nothing changed: no file parsed but those never stored
        before = mark()
        seconds, counts = self.run_index()
        self.require(self.parsed() == never,
                     "(h) with nothing changed, astpg-index parsed only the %d files "
                     "that never parse" % len(never))
        self.require(self.audit_since(before) == {"unchanged": sorted(stored)}
                     and counts["unchanged"] == len(stored) and counts["new"] == 0
                     and counts["changed"] == 0 and counts["deleted"] == 0,
                     "(h) with nothing changed, every stored file is audited "
                     "unchanged, and nothing else (said %s)" % counts)
        self.require(self.stored_hashes() == stored,
                     "(h) with nothing changed, the stored hashes are unchanged")
        self.record(label + " astpg-index, nothing changed", seconds, docs=walked)
        self.sql("CHECKPOINT")

        # 10 files touched: those parsed, replaced, the rest unchanged
        for path in touched:
            with open(self.tree / path, "a") as f:
                f.write("\n# touched by test/bench\n")
        before = mark()
        seconds, counts = self.run_index()
        self.require(self.parsed() == never | set(touched),
                     "(h) after touching 10 files, astpg-index parsed those (and the "
                     "files that never parse), no other")
        audit = self.audit_since(before)
        self.require(audit == {"replaced": touched,
                               "unchanged": sorted(set(stored) - set(touched))}
                     and counts["changed"] == 10 and counts["unchanged"] == len(stored) - 10,
                     "(h) after touching 10 files, they are audited replaced and the "
                     "others unchanged (said %s)" % counts)
        now = self.stored_hashes()
        self.require(all(now[p] == "sha256:" + hashlib.sha256(
                             (self.tree / p).read_bytes()).hexdigest() for p in touched),
                     "(h) the touched files' new content hashes are stored")
        stored = now
        self.record(label + " astpg-index, 10 files touched", seconds, docs=walked)
        self.sql("CHECKPOINT")

        # 10 files deleted: gone, and the audit log says so
        for path in deleted:
            (self.tree / path).unlink()
        before = mark()
        seconds, counts = self.run_index()
        self.require(self.parsed() == never,
                     "(h) after deleting 10 files, astpg-index parsed only the files "
                     "that never parse")
        left = self.stored_hashes()
        self.require(not set(deleted) & set(left)
                     and set(left) == set(stored) - set(deleted),
                     "(h) the 10 deleted files are gone from astpg.files, and only they: "
                     "%d of them still stored" % len(set(deleted) & set(left)))
        audit = self.audit_since(before)
        self.require(audit == {"deleted": deleted,
                               "unchanged": sorted(set(stored) - set(deleted))}
                     and counts["deleted"] == 10,
                     "(h) the audit log records the 10 deletions ('deleted' rows: %s), "
                     "the other files unchanged (said %s)"
                     % (audit.get("deleted"), counts))
        self.record(label + " astpg-index, 10 files deleted", seconds, docs=walked - 10)

    def run(self):
        cases = {"l": self.case_l, "a": self.case_a, "b": self.case_b,
                 "c": self.case_c, "d": self.case_d, "i": self.case_i,
                 "e": self.case_e, "f1": self.case_f(1), "f2": self.case_f(2),
                 "g": self.case_g, "h": self.case_h}
        wanted = self.args.cases.split(",") if self.args.cases else list(DEFAULT_CASES)
        if "f" in wanted:
            wanted[wanted.index("f"):wanted.index("f") + 1] = ["f1", "f2"]
        unknown = [c for c in wanted if c not in cases]
        if unknown:
            sys.exit("bench: unknown case(s) %s; cases: %s"
                     % (" ".join(unknown), " ".join(cases)))
        if not self.first and ("g" in wanted or "h" in wanted):
            # the incremental cases are about the library, not the corpus
            wanted = [c for c in wanted if c not in ("g", "h")]
        if not self.loader and ("f1" in wanted or "f2" in wanted or "h" in wanted):
            print("cases (f) and (h) skipped: astpg-load not found (tools/astpg-load/"
                  "astpg-load, or in pg_config --bindir); (g) uses ingest_batch")
            wanted = [c for c in wanted if c not in ("f1", "f2", "h")]
        self.index = self.find_index()
        if not self.index and "h" in wanted:
            print("case (h) skipped: astpg-index not found (pg_config --bindir, "
                  "or tools/astpg-index)")
            wanted.remove("h")
        self.wanted = wanted

        for run in range(self.args.runs):
            last = run == self.args.runs - 1
            print("\nrun %d of %d" % (run + 1, self.args.runs), flush=True)
            for case in wanted:
                self.reset()
                try:
                    cases[case](last)
                except (psycopg2.Error, RuntimeError, subprocess.SubprocessError) as e:
                    self.check(False, "case %s failed: %s" % (case, str(e).strip()))
                    self.failed_runs[case] = self.failed_runs.get(case, 0) + 1
                    continue
                if last and case in LOADS:
                    self.fingerprint(case, "lean" if case == "l" else "astpg")
        self.check_fingerprints()

    # -- reporting ----------------------------------------------------------

    def report(self):
        def rate(case):
            m = self.results.get(CASE_TITLES[case])
            return m.rows / statistics.median(m.seconds) if m and m.seconds else None
        lean, own = rate("l"), rate("a")
        lean_storage = self.results.get(CASE_TITLES["l"])
        lean_storage = lean_storage.storage if lean_storage else None
        version, shared_buffers, fsync, synchronous_commit, database = self.server
        print("\n== %s: %d documents, %d rows (%s), median of %d run(s)"
              % (self.corpus_name, self.files, self.expected_rows,
                 ", ".join("%s %d" % (t, self.expected[t]) for t in TABLES),
                 self.args.runs))
        print("PostgreSQL %s, shared_buffers %s, fsync %s, synchronous_commit %s, "
              "database %s" % (version, shared_buffers, fsync, synchronous_commit,
                               database))
        if (shared_buffers, fsync, synchronous_commit) != ("1GB", "on", "on"):
            print("(not the issue's settings: shared_buffers 1GB, fsync on, "
                  "synchronous_commit on; test/bench/run sets them)")
        if self.loader:
            print("astpg-load: %s (its default --batch)" % self.loader)
        print("\n× lean: rows/s over the lean limit's (l); × astpg COPY: over (a)'s. "
              "CPU: medians of the server backends'\n(from /proc) and of this "
              "client's or astpg-load's.  Storage: the tables the case wrote "
              "(astpg's: with its\naudit, history and reject tables) after its "
              "last run.\n")
        print("| case | median s | docs/s | rows/s | × lean | × astpg COPY "
              "| server CPU s | client CPU s | storage MB | storage × lean |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for case in self.wanted:
            for m in self.results.values():
                if not m.label.startswith(CASE_TITLES[case]):
                    continue
                seconds = statistics.median(m.seconds)
                rows_s = m.rows / seconds if m.rows else None
                def cpu(i):
                    values = [c[i] for c in m.cpu if c and c[i] is not None]
                    return "%.2f" % statistics.median(values) if values else "—"
                print("| %s | %.2f | %.0f | %s | %s | %s | %s | %s | %s | %s |" % (
                    m.label, seconds, m.docs / seconds,
                    "%.0f" % rows_s if rows_s else "—",
                    "%.2f" % (rows_s / lean) if rows_s and lean else "—",
                    "%.2f" % (rows_s / own) if rows_s and own else "—",
                    cpu(0), cpu(1),
                    "%.1f" % (m.storage / 2**20) if m.storage else "—",
                    "%.2f" % (m.storage / lean_storage)
                    if m.storage and lean_storage else "—"))
            if case in self.failed_runs:
                print("| %s | %d of %d runs FAILED | | | | | | | | |"
                      % (CASE_TITLES[case], self.failed_runs[case], self.args.runs))
        self.report_storage()

        self.report_incremental()

        memory = [m for m in self.results.values() if m.memory]
        if memory:
            print("\nPeak backend memory (MB; max over runs).  VmHWM counts the "
                  "shared buffers the backend touched (RssShmem);\nRssAnon is its "
                  "private memory, sampled every 20 ms during the run and read "
                  "after it.\n")
            print("| case | VmHWM | RssShmem | RssAnon peak | RssAnon after |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for m in memory:
                def mb(values):
                    values = [v for v in values if v is not None]
                    return "%.1f" % (max(values) / 1024) if values else "n/a"
                print("| %s | %s | %s | %s | %s |" % (
                    m.label,
                    mb([s.get("VmHWM") for s, _ in m.memory]),
                    mb([s.get("RssShmem") for s, _ in m.memory]),
                    mb([peak if s else None for s, peak in m.memory]),
                    mb([s.get("RssAnon") for s, _ in m.memory])))

        print("\n%d passed, %d failed" % (self.passed, self.failed))

    def report_storage(self):
        """Each table's size in the lean schema (after (l)) and in astpg's
        (after astpg-load --jobs 1)."""
        lean = getattr(self, "lean_storage", None)
        own = getattr(self, "astpg_storage", None)
        if not lean or not own:
            return
        print("\nStorage per table, MB (pg_table_size: heap and TOAST; "
              "pg_indexes_size), lean after (l), astpg after --jobs 1:\n")
        print("| table | lean heap | lean indexes | astpg heap | astpg indexes "
              "| astpg × lean |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        mb = lambda b: "%.1f" % (b / 2**20)
        totals = [0, 0, 0, 0]
        for name in [t.split(".")[1] for t in ASTPG_TABLES]:
            l_heap, l_idx = lean.get(name, (0, 0))
            a_heap, a_idx = own.get(name, (0, 0))
            totals = [t + v for t, v in zip(totals, (l_heap, l_idx, a_heap, a_idx))]
            print("| %s | %s | %s | %s | %s | %s |" % (
                name, mb(l_heap), mb(l_idx), mb(a_heap), mb(a_idx),
                "%.2f" % ((a_heap + a_idx) / (l_heap + l_idx))
                if l_heap + l_idx else "—"))
        print("| all | %s | %s | %s | %s | %.2f |" % (
            mb(totals[0]), mb(totals[1]), mb(totals[2]), mb(totals[3]),
            (totals[2] + totals[3]) / (totals[0] + totals[1])))

    def report_incremental(self):
        """The incremental cases against their baselines, with their goals."""
        rows = [(m, self.results.get(base), goal_s, goal_docs)
                for label, base, goal_s, goal_docs in INCREMENTAL
                for m in [self.results.get(label)] if m and m.seconds]
        if not rows:
            return
        if "h" in self.wanted:
            print("\n(h): %d files of %s%s, repository %s"
                  % (len(self.library_files), self.library,
                     " (--quick: only %s)" % ", ".join(QUICK_PACKAGES)
                     if self.args.quick else "", self.library_repository))
        print("\nIncremental cases: medians, the baseline measured in the same "
              "runs, × baseline its median\ntime over the case's (how many "
              "times faster); the goals are issue 9's%s.\n"
              % (" (for the full run, not --quick)" if self.args.quick else ""))
        print("| case | median s | docs/s | baseline | baseline s | × baseline | goal | met |")
        print("| --- | ---: | ---: | --- | ---: | ---: | --- | --- |")
        for m, base, goal_s, goal_docs in rows:
            seconds = statistics.median(m.seconds)
            base_s = statistics.median(base.seconds) if base and base.seconds else None
            if goal_s is not None:
                goal, met = "< %g s" % goal_s, seconds < goal_s
            elif goal_docs is not None:
                goal, met = "≥ {:,} docs/s".format(goal_docs), m.docs / seconds >= goal_docs
            else:
                goal, met = "", None
            print("| %s | %.3f | %.0f | %s | %s | %s | %s | %s |" % (
                m.label, seconds, m.docs / seconds,
                base.label[4:] if base else "—",
                "%.2f" % base_s if base_s else "—",
                "%.1f" % (base_s / seconds) if base_s else "—",
                goal, "" if met is None else ("yes" if met else "NO")))

    def close(self):
        try:
            # keep the schema (it marks the database as the benchmark's),
            # not the corpus
            self.sql("TRUNCATE bench.staging, bench.staging_changed")
        except psycopg2.Error:
            pass
        self.admin.close()
        self.watcher.close()
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Environment: BENCH_CORPUS (NDJSON files, ':' between them), "
               "BENCH_FILES, BENCH_RUNS, BENCH_QUICK=1, BENCH_SEED, BENCH_CASES; "
               "BENCH_CACHE: where extracted documents are kept (default "
               "$XDG_CACHE_HOME/astpg-bench, else ~/.cache/astpg-bench); "
               "BENCH_ASTPG_LOAD: the loader to run "
               "(default: tools/astpg-load/astpg-load, else pg_config --bindir; "
               "none: as if there were none); BENCH_ASTPG_INDEX: astpg-index "
               "(default: pg_config --bindir, else tools/astpg-index); "
               "BENCH_LIBRARY: the demo's library, of (h) and the first corpus "
               "(default: the standard library of python3); PG* for the connection.")
    env = os.environ.get
    parser.add_argument("--files", type=int, default=None,
                        help="at most this many documents of each corpus (default: "
                             "all; --quick 200; --generated 2000)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per case; the median is reported (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true",
                        default=env("BENCH_QUICK", "") not in ("", "0"),
                        help="a smoke test: a few packages of the demo's library "
                             "(about 200 files), 1 run")
    parser.add_argument("--corpus", action="append", metavar="FILE",
                        default=[p for p in (env("BENCH_CORPUS") or "").split(":") if p],
                        help="NDJSON documents (real code: e.g. what the extractors or "
                             "test/bench/corpus wrote) to load after the demo's library, "
                             "instead of the packages corpus; repeatable")
    parser.add_argument("--no-library", action="store_true",
                        help="only the --corpus files, not the demo's library first")
    parser.add_argument("--generated", action="store_true",
                        help="test/gen_corpus.py's generated documents instead of real ones")
    parser.add_argument("--seed", type=int, default=int(env("BENCH_SEED", "1")),
                        help="seed of test/gen_corpus.py (default 1)")
    parser.add_argument("--cases", default=env("BENCH_CASES"),
                        help="comma-separated subset of l,a,b,c,d,i,e,f,f1,f2,g,h "
                             "(default: all but b)")
    parser.add_argument("--timeout", type=int, default=int(env("BENCH_TIMEOUT", "0")),
                        help="seconds a case's statement or loader may take before "
                             "the run counts as failed (default 0.2 s per file, at "
                             "least 300: forty times a run on a quiet machine, a "
                             "few times one on a shared machine at full load)")
    parser.add_argument("--force", action="store_true",
                        help="run even though astpg.files holds rows not left by the benchmark")
    args = parser.parse_args()
    if args.files is None:
        files = env("BENCH_FILES")
        args.files = int(files) if files else (200 if args.quick else
                                                2000 if args.generated else None)
    if args.runs is None:
        args.runs = int(env("BENCH_RUNS") or (1 if args.quick else 3))
    if (args.files is not None and args.files < 1) or args.runs < 1:
        parser.error("--files and --runs must be at least 1")

    # status 1: checks failed (the report says which) or bad usage;
    # 2: the benchmark itself broke
    failed = 0
    given_timeout = args.timeout
    try:
        if args.generated:
            corpora = [("generated (test/gen_corpus.py --seed %d)" % args.seed, None)]
        else:
            corpora = [] if args.no_library else [library_corpus(args.quick)]
            if args.corpus:
                corpora += [(path, path) for path in args.corpus]
            elif not args.quick and not args.no_library:
                packages = packages_corpus()
                if packages:
                    corpora.append(packages)
            if not corpora:
                parser.error("--no-library without --corpus: no documents")
        for n, corpus in enumerate(corpora):
            if corpus[1]:
                lines = sum(1 for l in open(corpus[1]) if l.strip())
                files = lines if args.files is None else min(args.files, lines)
            else:
                files = args.files
            args.timeout = given_timeout if given_timeout > 0 else max(300, files // 5)
            bench = Bench(args, corpus, first=n == 0)
            try:
                bench.prepare_database()
                print("\n== %s: reading and shredding %d documents..."
                      % (corpus[0], files), flush=True)
                bench.prepare_corpus()
                bench.run()
                bench.report()
            finally:
                bench.close()
            failed += bench.failed
    except Exception:
        traceback.print_exc()
        sys.exit(2)
    if len(corpora) > 1:
        print("\nall corpora: %s" % ("%d check(s) failed" % failed if failed
                                     else "no check failed"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
