#!/usr/bin/env python3
"""astpg's ingest benchmark: how close astpg comes to the COPY limit.

Every case loads the same generated corpus (test/gen_corpus.py: about 150
rows per document) into the same astpg tables, with the same keys,
constraints and indexes, starting from empty tables and a CHECKPOINT, and is
timed from the client's start of loading to its final COMMIT; each case's
median over --runs runs is reported.  The runs are interleaved (run 1 of
every case, then run 2, ...) so that the noise of a shared machine falls on
every case alike.

  (a) the COPY limit: the rows pre-shredded by this script before timing,
      ids and references (class parents, method classes, call functions,
      dependency targets) resolved exactly as astpg would, one COPY per
      table in one transaction.  Any shredder in front of these tables
      has to write at least these rows through the same keys, constraints
      and indexes: this is the yardstick of "x limit".
  (b) a pure-SQL shredder: a PL/pgSQL function doing what astpg.ingest does
      for a new file with INSERT ... SELECT over jsonb_to_recordset, called
      once per document from a staging table, one transaction.  What astpg
      would be without its C.  It validates nothing beyond SQL's casts.
  (c) a client-side shredder: documents parsed and shredded in Python
      (timed), ids reserved per batch from the sequences, one COPY per
      table per batch of 500 documents, one transaction per batch.  The
      usual alternative to shredding in the server.
  (d) astpg.ingest once per document, from the staging table, one
      transaction.
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
      (and no --skip-unchanged).
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
      json, logging, xml) instead of all of it.

Cases (a)-(f) write 1 + classes + functions + calls + dependencies + metrics
rows per document, counted after each run with count(*); astpg's cases also
write one audit row per document (astpg.ingests), which is not counted.

Checks: after every run, each table holds exactly the expected rows (the
files first: a case that loses documents fails loudly), (g) finds its
statuses in the audit log and the changed content hashes and lines stored,
(h) the checks described with it;
a run that fails a check, or outlives --timeout, is reported as failed and
not measured.  After the last run of each case, a fingerprint of the stored
content, independent of the ids (every reference followed to what it
names), must equal astpg.ingest's: same rows, same references, same
resolved dependencies.  The report ends with "N passed, N failed"; the exit
status is 1 on a failure.

Peak backend memory of (d) and (e) comes from the backend's
/proc/<pid>/status (the cluster runs on this machine; each timed run has a
fresh connection, so the peak is the run's).  VmHWM, read after the run,
counts every page of shared buffers the backend touched (RssShmem), so the
peak of RssAnon, the backend's private memory, is sampled during the run too.

Connection from the PG* environment variables; the database gets schema
`bench` (staging tables, the PL/pgSQL shredder) and astpg's tables are
emptied again and again: run it on a throwaway cluster (test/bench/run) or a
database of its own.

    test/bench/run [--files N] [--runs N] [--quick] [--cases a,d,...]
    BENCH_FILES=5000 BENCH_RUNS=5 test/bench/run
"""
import argparse
import hashlib
import io
import json
import os
import re
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
         RESTART IDENTITY CASCADE"""

CASE_TITLES = {
    "a": "(a) COPY limit",
    "b": "(b) PL/pgSQL shredder",
    "c": "(c) Python shredder + COPY",
    "d": "(d) astpg.ingest",
    "e": "(e) astpg.ingest_batch",
    "f1": "(f) astpg-load --jobs 1",
    "f2": "(f) astpg-load --jobs 2",
    "g": "(g) re-ingest",
    "h": "(h)",
}

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

# psycopg2 reads COPY input in chunks of this size (default 8 kB).
COPY_CHUNK = 1 << 18


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


def copy_in(cur, table, data):
    """COPY one table's rows (a file object) in text format."""
    cur.copy_expert("COPY astpg.%s (%s) FROM STDIN" % (table, COPY_COLUMNS[table]),
                    data, size=COPY_CHUNK)


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


class Bench:
    def __init__(self, args):
        self.args = args
        self.files = args.files
        self.passed = 0
        self.failed = 0
        self.results = {}           # label -> Measurement
        self.fingerprints = {}      # case -> {table: (rows, md5)}
        self.failed_runs = {}       # case -> runs that failed
        self.admin = psycopg2.connect("")
        self.admin.autocommit = True
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

    def counts(self):
        return {t: self.sql("SELECT count(*) FROM astpg.%s" % t)[0][0]
                for t in TABLES}

    def check_stored(self, case):
        """After every run: the files first (a case that loses documents
        must not pass unnoticed), then every table against the shredded
        corpus.  A run that stored anything else is a failed run, not a
        measurement."""
        counts = self.counts()
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

    def fingerprint(self, case):
        # untimed; without statistics its joins can take minutes on real code
        self.sql("ANALYZE " + ", ".join("astpg." + t for t in TABLES))
        self.fingerprints[case] = {t: (n, h) for t, n, h in self.sql(FINGERPRINT)}

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
        self.server = self.sql(
            "SELECT current_setting('server_version'), "
            "current_setting('shared_buffers'), current_setting('fsync'), "
            "current_setting('synchronous_commit'), current_database()")[0]

    def prepare_corpus(self):
        """The corpus, its shredded rows (case (a)), its changed copy (g),
        and the staging tables, all before anything is timed."""
        self.corpus = self.work / "corpus.ndjson"
        if self.args.corpus:
            # real documents, as an extractor wrote them
            shutil.copyfile(self.args.corpus, self.corpus)
        else:
            with open(self.corpus, "w") as out:
                subprocess.run([sys.executable, str(REPO / "test/gen_corpus.py"),
                                "--files", str(self.files), "--seed", str(self.args.seed)],
                               stdout=out, check=True)
        with open(self.corpus) as f:
            self.lines = f.readlines()
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
        self.table_files = {}
        for t in TABLES:
            self.table_files[t] = self.work / ("%s.copy" % t)
            self.table_files[t].write_text(shredded.text(t))
        del shredded, resolver

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
        print("  %-38s %8.2f s%s" % (label, seconds,
              "" if rows is None else "  %9.0f rows/s" % (rows / seconds)),
              flush=True)

    def timed(self, load, sample_memory=False):
        """Run load(conn) on a fresh connection; seconds from its start to
        its last COMMIT, and the backend's memory if asked."""
        conn = psycopg2.connect("", options="-c statement_timeout=%d"
                                % (self.args.timeout * 1000))
        try:
            sampler = None
            if sample_memory:
                sampler = MemorySampler(conn.get_backend_pid())
                sampler.start()
            started = time.perf_counter()
            load(conn)
            seconds = time.perf_counter() - started
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
        self.record(CASE_TITLES["a"], seconds, self.stored_rows("a"))

    def case_b(self, last):
        def load(conn):
            with conn.cursor() as cur:
                cur.execute("SELECT count(bench.shred(s.doc)) FROM "
                            "(SELECT doc FROM bench.staging ORDER BY doc_no) s")
            conn.commit()
        seconds, _ = self.timed(load)
        self.record(CASE_TITLES["b"], seconds, self.stored_rows("b"))

    def case_c(self, last):
        lines = self.lines

        def load(conn):
            with conn.cursor() as cur:
                for start in range(0, len(lines), BATCH):
                    self.load_client_batch(cur, lines[start:start + BATCH])
                    conn.commit()
        seconds, _ = self.timed(load)
        self.record(CASE_TITLES["c"], seconds, self.stored_rows("c"))

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
        self.record(CASE_TITLES["d"], seconds, self.stored_rows("d"), memory)

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
        self.record(CASE_TITLES["e"], seconds, self.stored_rows("e"), memory)

    def run_loader(self, path, jobs, options=()):
        """astpg-load end to end; seconds from its start to its exit."""
        command = [self.loader, "--jobs", str(jobs), "--no-progress", "-q",
                   *options, str(path)]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            # The loader is killed, but its backends work on until they
            # next read from it, holding locks the next TRUNCATE waits for.
            self.sql("SELECT pg_terminate_backend(pid, 60000) FROM pg_stat_activity "
                     "WHERE datname = current_database() "
                     "AND application_name = 'astpg-load' AND pid <> pg_backend_pid()")
            raise RuntimeError("%s did not finish in %d s (--timeout)"
                               % (" ".join(command), self.args.timeout))
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError("%s exited with %d: %s"
                               % (" ".join(command), done.returncode,
                                  (done.stderr or done.stdout).strip()[-2000:]))
        return seconds

    def case_f(self, jobs):
        def run(last):
            seconds = self.run_loader(self.corpus, jobs)
            self.record(CASE_TITLES["f%d" % jobs], seconds,
                        self.stored_rows("f%d" % jobs))
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
        source = os.environ.get("BENCH_LIBRARY")
        if not source:
            # tools/demo's: the first python3 on PATH, not this interpreter
            # (which may be Debian's, for psycopg2)
            python = shutil.which("python3") or sys.executable
            source = subprocess.run(
                [python, "-c", 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'],
                check=True, capture_output=True, text=True).stdout.strip()
        self.library = Path(source)
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
        cases = {"a": self.case_a, "b": self.case_b, "c": self.case_c,
                 "d": self.case_d, "e": self.case_e,
                 "f1": self.case_f(1), "f2": self.case_f(2), "g": self.case_g,
                 "h": self.case_h}
        wanted = self.args.cases.split(",") if self.args.cases else list(cases)
        if "f" in wanted:
            wanted[wanted.index("f"):wanted.index("f") + 1] = ["f1", "f2"]
        unknown = [c for c in wanted if c not in cases]
        if unknown:
            sys.exit("bench: unknown case(s) %s; cases: a b c d e f f1 f2 g h"
                     % " ".join(unknown))
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
                if last and case not in ("g", "h"):
                    self.fingerprint(case)
        self.check_fingerprints()

    # -- reporting ----------------------------------------------------------

    def report(self):
        a = self.results.get(CASE_TITLES["a"])
        limit = a.rows / statistics.median(a.seconds) if a and a.seconds else None
        print("\n%d documents, %d rows (%s), median of %d run(s); "
              "PostgreSQL %s, shared_buffers %s, fsync %s, database %s"
              % (self.files, self.expected_rows,
                 ", ".join("%s %d" % (t, self.expected[t]) for t in TABLES),
                 self.args.runs, self.server[0], self.server[1], self.server[2],
                 self.server[4]))
        if self.loader:
            print("astpg-load: %s (its default --batch)" % self.loader)
        print("\n| case | median s | docs/s | rows/s | × limit |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for case in self.wanted:
            for m in self.results.values():
                if not m.label.startswith(CASE_TITLES[case]):
                    continue
                seconds = statistics.median(m.seconds)
                rows_s = m.rows / seconds if m.rows else None
                print("| %s | %.2f | %.0f | %s | %s |" % (
                    m.label, seconds, m.docs / seconds,
                    "%.0f" % rows_s if rows_s else "—",
                    "%.2f" % (rows_s / limit) if rows_s and limit else "—"))
            if case in self.failed_runs:
                print("| %s | %d of %d runs FAILED | | | |"
                      % (CASE_TITLES[case], self.failed_runs[case], self.args.runs))

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
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Environment: BENCH_FILES, BENCH_RUNS, BENCH_QUICK=1, "
               "BENCH_SEED, BENCH_CASES; BENCH_ASTPG_LOAD: the loader to run "
               "(default: tools/astpg-load/astpg-load, else pg_config --bindir; "
               "none: as if there were none); BENCH_ASTPG_INDEX: astpg-index "
               "(default: pg_config --bindir, else tools/astpg-index); "
               "BENCH_LIBRARY: the tree of (h) (default: the demo's, the "
               "standard library of python3); PG* for the connection.")
    env = os.environ.get
    parser.add_argument("--files", type=int, default=None,
                        help="documents in the corpus (default 2000, --quick 200)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per case; the median is reported (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true",
                        default=env("BENCH_QUICK", "") not in ("", "0"),
                        help="a smoke test: 200 files, 1 run")
    parser.add_argument("--corpus", default=env("BENCH_CORPUS"),
                        help="NDJSON documents to load instead of a generated corpus "
                             "(real code: e.g. what tools/extract-python wrote); "
                             "--files is then its number of lines")
    parser.add_argument("--seed", type=int, default=int(env("BENCH_SEED", "1")),
                        help="seed of test/gen_corpus.py (default 1)")
    parser.add_argument("--cases", default=env("BENCH_CASES"),
                        help="comma-separated subset of a,b,c,d,e,f,f1,f2,g,h")
    parser.add_argument("--timeout", type=int, default=int(env("BENCH_TIMEOUT", "0")),
                        help="seconds a case's statement or loader may take before "
                             "the run counts as failed (default 0.05 s per file, at "
                             "least 60: ten times a normal run)")
    parser.add_argument("--force", action="store_true",
                        help="run even though astpg.files holds rows not left by the benchmark")
    args = parser.parse_args()
    if args.corpus:
        with open(args.corpus) as f:
            args.files = sum(1 for line in f if line.strip())
    if args.files is None:
        args.files = int(env("BENCH_FILES") or (200 if args.quick else 2000))
    if args.runs is None:
        args.runs = int(env("BENCH_RUNS") or (1 if args.quick else 3))
    if args.timeout <= 0:
        args.timeout = max(60, args.files // 20)
    if args.files < 1 or args.runs < 1:
        parser.error("--files and --runs must be at least 1")

    # status 1: checks failed (the report says which) or bad usage;
    # 2: the benchmark itself broke
    try:
        bench = Bench(args)
        try:
            bench.prepare_database()
            print("generating and shredding %d documents..." % args.files, flush=True)
            bench.prepare_corpus()
            bench.run()
            bench.report()
        finally:
            bench.close()
    except Exception:
        traceback.print_exc()
        sys.exit(2)
    sys.exit(1 if bench.failed else 0)


if __name__ == "__main__":
    main()
