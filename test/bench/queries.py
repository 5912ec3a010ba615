#!/usr/bin/env python3
"""astpg's query benchmark: the analytics of 1.3 on a million real functions.

The corpus is the demo's: this interpreter's standard library (sysconfig's
"stdlib", site-packages and dist-packages excluded) extracted once with
tools/extract-python, then written again and again under other repository
names (cpython-01, cpython-02, ...) until the documents hold --functions
functions (the last copy stops at the document that reaches the count).
Every copy is the same code, so each repository has the same shape: its
imports resolve within itself, its call graph is the library's own.

Steps, each timed and printed:

  1. CREATE EXTENSION astpg CASCADE (pg_trgm is required from 1.3) in the
     database of the PG* environment variables, which must hold no files.
  2. astpg-load --jobs 2 over the copies ($(pg_config --bindir)/astpg-load,
     else tools/astpg-load/astpg-load), then ANALYZE.
  3. SELECT astpg.refresh_analytics(false): the first, plain refresh of
     every materialized view; per-view durations from
     astpg.analytics_refreshes.
  4. --history documents re-ingested with astpg.ingest_batch as a new
     revision ("revision": "r2", a new content_hash, every function's
     complexity one higher), so that astpg.metric_history holds two rows
     for those files; then SELECT astpg.refresh_analytics() (concurrently,
     as a live server would after a change) and ANALYZE.
  5. The corpus size: table rows and the rows of every view.
  6. Every query of the table below, --iterations times (or until
     --max-seconds have gone by, whichever comes first), each time with
     parameters drawn at random (seed --seed, printed) from candidates
     read with SQL first.  Each execution is timed by the client,
     time.perf_counter() around execute() and fetchall(), in autocommit,
     with the simple query protocol (each one parsed and planned afresh,
     as most clients do).  The report gives p50 (the median), p95
     (nearest rank) and max in milliseconds against the query's goal,
     "pass" when p95 is under it, else "MISS".
  7. For each query, its plan for one parameter set (the first drawn):
     EXPLAIN's nodes and conditions (costs left out), and, for
     queries that call astpg's functions, the plans of the statements
     those functions run (auto_explain with log_nested_statements, its
     log lines sent to this client, one execution; not timed).

The queries are written as a user would write them from the views'
columns and the functions' signatures.  Two dashboards are also run by
repo_id = astpg.repo_id(...), the key the views' indexes lead with, beside
the same query by repository name; and find_symbol is run on the twenty
commonest names as well as on names drawn uniformly.

Goals (issue "make bench-queries", on a 2-core machine): p95 under 10 ms
for point lookups, under 100 ms for dashboards served by views and for
dependents_of(depth 10) on the most depended-on file, under 1 s for
import_cycles, per repository and over the whole corpus; the refresh of
every view under a minute.  Queries the issue sets no goal for are held to
the goal of their kind and marked "report" in the table.

The exit status is 0 whether or not the goals are met (this is a
benchmark); 1 if a query failed (an SQL error) or the database does not
fit (astpg older than 1.3, or files already stored); 2 if the benchmark
itself broke.

Connection from the PG* environment variables: run it in a throwaway
cluster (test/bench/queries) or a database of its own.

    test/bench/queries [--functions N] [--iterations K] [--quick] [--seed S]
"""
import argparse
import hashlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import traceback
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parents[2]

# the materialized views of 1.3, in the contract's order
VIEWS = ("module_edges", "class_hierarchy", "call_graph", "file_summary",
         "function_hotspots", "repository_summary")
TABLES = ("files", "classes", "functions", "calls", "dependencies", "metrics")

# the goals, by kind of query: (label, milliseconds)
POINT = ("point", 10.0)
DASHBOARD = ("dashboard", 100.0)
GRAPH = ("graph", 100.0)
CYCLES = ("cycles", 1000.0)


def log(message=""):
    print(message, flush=True)


def seconds(t):
    return "%.1f s" % t if t >= 10 else "%.2f s" % t


# --------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------

class Corpus:
    """The extracted library, and the copies written from it.

    Each document is kept as the two halves of its JSON text around the
    repository's value, so that a copy is written without encoding the
    document again, and as the parsed object, for the re-ingested
    revision."""

    PLACEHOLDER = "\u0000astpg-bench-repository\u0000"

    def __init__(self, path):
        self.docs = []          # parsed documents
        self.halves = []        # (text before the repository, text after)
        self.functions = []     # functions per document
        self.calls = 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                doc = json.loads(line)
                functions = doc.get("functions") or []
                self.functions.append(len(functions))
                self.calls += sum(len(fn.get("calls") or []) for fn in functions)
                doc["repository"] = self.PLACEHOLDER
                text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
                before, after = text.split(json.dumps(self.PLACEHOLDER), 1)
                self.halves.append((before, after))
                self.docs.append(doc)
        if not self.docs or not sum(self.functions):
            raise RuntimeError("%s holds no functions" % path)

    def write_copies(self, directory, target):
        """Copies under repositories cpython-01, cpython-02, ... until
        `target` functions are written.  Returns [(repository, file,
        documents)] and the (repository, document index) of every
        document written."""
        per_copy = sum(self.functions)
        copies = max(1, math.ceil(target / per_copy))
        width = max(2, len(str(copies)))
        written = []
        documents = []
        total = 0
        for c in range(1, copies + 1):
            repository = "cpython-%0*d" % (width, c)
            path = directory / ("%s.ndjson" % repository)
            name = json.dumps(repository)
            n = 0
            with open(path, "w", encoding="utf-8") as f:
                for i, (before, after) in enumerate(self.halves):
                    if total >= target:
                        break
                    f.write(before + name + after + "\n")
                    documents.append((repository, i))
                    total += self.functions[i]
                    n += 1
            written.append((repository, path, n))
        return written, documents, total

    def revision(self, repository, i):
        """Document i of `repository` as a new revision: "r2", a new
        content_hash, every function's complexity one higher."""
        doc = dict(self.docs[i])
        doc["repository"] = repository
        doc["revision"] = "r2"
        doc["content_hash"] = "sha256:" + hashlib.sha256(
            ("%s\0r2" % doc.get("content_hash")).encode()).hexdigest()
        doc["functions"] = [dict(fn, complexity=(fn.get("complexity") or 1) + 1)
                            for fn in doc.get("functions") or []]
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------

# plan keys shown under a node, in this order
CONDITIONS = ("Index Cond", "Recheck Cond", "Order By", "Hash Cond",
              "Merge Cond", "Join Filter", "Filter", "Sort Key",
              "Presorted Key", "Group Key", "Cache Key", "Workers Planned")

AGGREGATES = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate",
              "Mixed": "MixedAggregate"}


def node_label(node):
    """A node as EXPLAIN's text format names it, without costs."""
    kind = node["Node Type"]
    if kind == "Aggregate":
        kind = AGGREGATES.get(node.get("Strategy"), kind)
    elif kind == "SetOp" and node.get("Strategy") == "Hashed":
        kind = "HashSetOp"
    join = node.get("Join Type")
    if join and join != "Inner":
        if kind.endswith(" Join"):
            kind = kind[:-len(" Join")]
        kind += " %s Join" % join
    if node.get("Scan Direction") == "Backward":
        kind += " Backward"
    if node.get("Parallel Aware"):
        kind = "Parallel " + kind
    if node.get("Index Name"):
        kind += " using " + node["Index Name"]
    target = (node.get("Relation Name") or node.get("Function Name")
              or node.get("CTE Name"))
    if target:
        kind += " on " + target
        alias = node.get("Alias")
        if alias and alias != target:
            kind += " " + alias
    if node.get("Subplan Name"):
        kind = node["Subplan Name"] + ": " + kind
    return kind


def render(node, depth=0, out=None):
    """A plan tree as indented lines: each node and its conditions."""
    out = [] if out is None else out
    pad = "  " * depth
    out.append(pad + ("-> " if depth else "") + node_label(node))
    for key in CONDITIONS:
        if key in node:
            value = node[key]
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            text = "%s: %s" % (key, value)
            if len(text) > 110:
                text = text[:107] + "..."
            out.append(pad + ("   " if depth else "") + "  " + text)
    for child in node.get("Plans", []):
        render(child, depth + 1, out)
    return out


def plan_lines(explained, limit=12):
    """EXPLAIN (FORMAT JSON)'s plan (or auto_explain's) as at most `limit`
    lines, with a JIT line when the executor would compile."""
    out = render(explained["Plan"])
    if len(out) > limit:
        out = out[:limit] + ["... (%d more lines)" % (len(out) - limit)]
    jit = explained.get("JIT")
    if jit:
        options = jit.get("Options", {})
        out.append("JIT: %s functions (%s)" % (
            jit.get("Functions"),
            ", ".join(k.lower() for k, v in options.items() if v) or "no options"))
    return out


def logged_plans(notices):
    """auto_explain's JSON plans from the notices: [(query text, lines,
    count)], one entry per distinct plan, in the order first logged."""
    decoder = json.JSONDecoder()
    seen = {}
    for notice in notices:
        at = notice.find("plan:")
        if at < 0:
            continue
        brace = notice.find("{", at)
        try:
            explained, _ = decoder.raw_decode(notice[brace:])
        except ValueError:
            continue
        text = " ".join(explained.get("Query Text", "").split())
        lines = plan_lines(explained, limit=12)
        key = (text, tuple(lines))
        if key not in seen:
            seen[key] = [text, lines, 0]
        seen[key][2] += 1
    return [tuple(v) for v in seen.values()]


# --------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------

class Query:
    def __init__(self, name, goal, sql, draw, report=False, nested=True):
        self.name = name
        self.goal = goal            # (kind, ms)
        self.sql = sql
        self.draw = draw            # rng -> parameters (a tuple)
        self.report = report        # no goal of its own in the issue
        self.nested = nested        # show the plans of nested statements
        self.times = []
        self.error = None
        self.rows = []              # rows returned per execution
        self.example = None         # the parameters the plan is shown for


def percentile(values, p):
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


class Bench:
    def __init__(self, args):
        self.args = args
        self.conn = psycopg2.connect("")
        self.conn.autocommit = True
        self.work = Path(tempfile.mkdtemp(prefix="astpg-bench-queries-"))
        self.failed = 0
        self.copies = []
        self.documents = []
        self.history = []

    def sql(self, query, params=None):
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None

    def one(self, query, params=None):
        return self.sql(query, params)[0][0]

    def close(self):
        self.conn.close()
        shutil.rmtree(self.work, ignore_errors=True)

    # -- setup ----------------------------------------------------------------

    def find_loader(self):
        override = os.environ.get("BENCH_ASTPG_LOAD")
        if override:
            return override
        try:
            bindir = subprocess.run(["pg_config", "--bindir"], check=True,
                                    capture_output=True, text=True).stdout.strip()
            installed = Path(bindir) / "astpg-load"
            if os.access(installed, os.X_OK):
                return str(installed)
        except (OSError, subprocess.CalledProcessError):
            pass
        built = REPO / "tools/astpg-load/astpg-load"
        if os.access(built, os.X_OK):
            return str(built)
        raise RuntimeError("astpg-load not found in pg_config --bindir nor "
                           "tools/astpg-load (make && make install)")

    def prepare_database(self):
        self.sql("CREATE EXTENSION IF NOT EXISTS astpg CASCADE")
        version = self.one("SELECT extversion FROM pg_extension WHERE extname = 'astpg'")
        if tuple(int(x) for x in version.split(".")) < (1, 3):
            sys.exit("bench-queries: astpg %s is installed in this database; "
                     "the analytics need 1.3" % version)
        stored = self.one("SELECT count(*) FROM astpg.files")
        if self.args.reuse:
            if not stored:
                sys.exit("bench-queries: --reuse, but astpg.files is empty in "
                         "database %s" % self.conn.info.dbname)
        elif stored:
            sys.exit("bench-queries: astpg.files holds %d rows in database %s; "
                     "the benchmark loads its own corpus: use a database of "
                     "its own" % (stored, self.conn.info.dbname))
        self.server = self.sql(
            "SELECT current_setting('server_version'), "
            "current_setting('shared_buffers'), current_setting('work_mem'), "
            "current_setting('jit'), current_database()")[0]
        log("PostgreSQL %s, shared_buffers %s, work_mem %s, jit %s, database %s; "
            "astpg %s; %d CPUs"
            % (self.server + (version, os.cpu_count() or 0)))

    def extract(self):
        if self.args.documents:
            path = Path(self.args.documents)
            log("documents: %s" % path)
        else:
            stdlib = sysconfig.get_paths()["stdlib"]
            path = self.work / "stdlib.ndjson"
            log("extracting %s (tools/extract-python)..." % stdlib)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, str(REPO / "tools/extract-python"),
                 "--repository", "cpython", "--exclude", "site-packages",
                 "--exclude", "dist-packages", stdlib, "-o", str(path)],
                capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError("tools/extract-python exited with %d: %s"
                                   % (done.returncode, done.stderr.strip()[-2000:]))
            log("  %s" % (done.stderr.strip().splitlines() or ["done"])[-1])
            log("  extracted in %s" % seconds(time.perf_counter() - started))
        self.corpus = Corpus(path)
        log("  one copy: %d files, %d functions, %d calls"
            % (len(self.corpus.docs), sum(self.corpus.functions), self.corpus.calls))

        self.copies, self.documents, total = self.corpus.write_copies(
            self.work, self.args.functions)
        log("  %d copies (%s .. %s), %d documents, %d functions"
            % (len(self.copies), self.copies[0][0], self.copies[-1][0],
               len(self.documents), total))

    def load(self):
        loader = self.find_loader()
        command = [loader, "--jobs", str(self.args.jobs), "--no-progress", "-q"]
        command += [str(path) for _, path, n in self.copies if n]
        log("\nloading with %s --jobs %d..." % (loader, self.args.jobs))
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError("astpg-load exited with %d: %s"
                               % (done.returncode, (done.stderr or done.stdout).strip()[-2000:]))
        files = self.one("SELECT count(*) FROM astpg.files")
        if files != len(self.documents):
            raise RuntimeError("astpg.files holds %d rows, %d documents were loaded"
                               % (files, len(self.documents)))
        log("  load: %s (%d documents, %.0f documents/s)"
            % (seconds(elapsed), files, files / elapsed))
        started = time.perf_counter()
        self.sql("ANALYZE")
        log("  ANALYZE: %s" % seconds(time.perf_counter() - started))

    def refresh(self, concurrently):
        what = ("astpg.refresh_analytics()" if concurrently
                else "astpg.refresh_analytics(false)")
        started = time.perf_counter()
        self.sql("SELECT " + what)
        elapsed = time.perf_counter() - started
        log("\nSELECT %s: %s%s" % (what, seconds(elapsed),
                                   "" if elapsed < 60 else "  (goal: under a minute: MISS)"))
        # the flag's column is read by either name ("concurrently" is a
        # keyword in SQL)
        for view, duration, rows, row in self.sql(
                "SELECT view_name, extract(epoch FROM duration), row_count, to_jsonb(r) "
                "FROM astpg.analytics_refreshes r ORDER BY refreshed_at, view_name"):
            conc = row.get("concurrently", row.get("concurrent"))
            log("  %-20s %8.2f s  %10s rows%s"
                % (view, duration, "{:,}".format(rows) if rows is not None else "?",
                   "" if conc is None or conc == concurrently else
                   "  (concurrently: %s)" % conc))
        return elapsed

    def reingest(self):
        n = min(self.args.history, len(self.documents))
        if not n:
            return
        chosen = random.Random(self.args.seed + 1).sample(self.documents, n)
        log("\nre-ingesting %d documents as revision r2 (astpg.ingest_batch, "
            "batches of 500)..." % n)
        started = time.perf_counter()
        statuses = {}
        for b in range(0, n, 500):
            batch = [self.corpus.revision(r, i) for r, i in chosen[b:b + 500]]
            for status, count in self.sql(
                    "SELECT status, count(*) FROM astpg.ingest_batch(%s::jsonb[]) "
                    "GROUP BY 1", (batch,)):
                statuses[status] = statuses.get(status, 0) + count
        log("  %s (%s)" % (seconds(time.perf_counter() - started),
                           ", ".join("%s %d" % kv for kv in sorted(statuses.items()))))
        self.history = [(r, self.corpus.docs[i]["path"]) for r, i in chosen]

    def corpus_size(self):
        log("\ncorpus:")
        counts = [(t, self.one("SELECT count(*) FROM astpg.%s" % t)) for t in TABLES]
        counts.append(("resolved dependencies", self.one(
            "SELECT count(*) FROM astpg.dependencies WHERE target_file_id IS NOT NULL")))
        counts.append(("repositories", self.one(
            "SELECT count(DISTINCT repo_id) FROM astpg.files")))
        log("  tables: " + ", ".join("%s %s" % (t, "{:,}".format(c)) for t, c in counts))
        views = [(v, self.one("SELECT count(*) FROM astpg.%s" % v)) for v in VIEWS]
        views.append(("metric_history", self.one("SELECT count(*) FROM astpg.metric_history")))
        log("  views:  " + ", ".join("%s %s" % (v, "{:,}".format(c)) for v, c in views))

    def ensure_analyzed(self):
        started = time.perf_counter()
        self.sql("ANALYZE")
        log("ANALYZE: %s" % seconds(time.perf_counter() - started))

    # -- the queries ------------------------------------------------------------

    def candidates(self):
        """Parameters to draw from, read in a stable order (the ids the
        loader gave depend on its jobs' interleaving; names do not)."""
        started = time.perf_counter()
        self.files = self.sql(
            "SELECT file_id, repository, path FROM astpg.file_summary "
            "ORDER BY repository, path")
        self.repositories = [r for r, in self.sql(
            "SELECT repository FROM astpg.repository_summary ORDER BY 1")]
        self.with_callers = [i for i, in self.sql(
            "SELECT DISTINCT callee_id FROM astpg.call_graph ORDER BY 1")]
        self.with_callees = [i for i, in self.sql(
            "SELECT DISTINCT caller_id FROM astpg.call_graph ORDER BY 1")]
        self.names = [n for n, in self.sql(
            "SELECT DISTINCT name FROM astpg.functions "
            "WHERE length(name) >= 3 ORDER BY 1")]
        self.common_names = [n for n, in self.sql(
            "SELECT name FROM astpg.functions GROUP BY name "
            "ORDER BY count(*) DESC, name LIMIT 20")]
        # the most depended-on file of each repository
        self.hubs = self.sql(
            "SELECT DISTINCT ON (repository) file_id, repository, path, fan_in "
            "FROM astpg.file_summary ORDER BY repository, fan_in DESC NULLS LAST, path")
        log("candidates: %d files, %d repositories, %d functions with callers, "
            "%d with callees, %d names (commonest: %s); most depended-on: %s "
            "(fan_in %s) in %s; read in %s"
            % (len(self.files), len(self.repositories), len(self.with_callers),
               len(self.with_callees), len(self.names),
               ", ".join(self.common_names[:5]), self.hubs[0][2],
               self.hubs[0][3], self.hubs[0][1], seconds(time.perf_counter() - started)))
        if not (self.files and self.repositories and self.with_callers
                and self.with_callees and self.names):
            raise RuntimeError("the views hold no candidates: was the corpus loaded and refreshed?")

    def prefix(self, rng):
        name = rng.choice(self.long_names)
        return name[:rng.randint(3, len(name) - 1)]

    def typo(self, rng):
        """A name of at least 6 characters with one edit: a letter
        replaced, dropped, or two swapped; never a stored name."""
        while True:
            name = rng.choice(self.long_names)
            i = rng.randrange(len(name) - 1)
            edit = rng.randrange(3)
            if edit == 0:
                typo = name[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + name[i + 1:]
            elif edit == 1:
                typo = name[:i] + name[i + 1:]
            else:
                typo = name[:i] + name[i + 1] + name[i] + name[i + 2:]
            if typo not in self.name_set:
                return typo

    def queries(self):
        self.long_names = [n for n in self.names if len(n) >= 6]
        self.name_set = set(self.names)
        history = self.history or [(r, p) for _, r, p in self.files]
        return [
            Query("file summary by file_id", POINT,
                  "SELECT * FROM astpg.file_summary WHERE file_id = %s",
                  lambda rng: (rng.choice(self.files)[0],), nested=False),
            Query("file summary by repository, path", POINT,
                  "SELECT * FROM astpg.file_summary WHERE repository = %s AND path = %s",
                  lambda rng: rng.choice(self.files)[1:], nested=False),
            Query("callers(function, 1)", POINT,
                  "SELECT * FROM astpg.callers(%s, 1)",
                  lambda rng: (rng.choice(self.with_callers),)),
            Query("callees(function, 1)", POINT,
                  "SELECT * FROM astpg.callees(%s, 1)",
                  lambda rng: (rng.choice(self.with_callees),), report=True),
            Query("find_symbol exact name", POINT,
                  "SELECT * FROM astpg.find_symbol(%s)",
                  lambda rng: (rng.choice(self.names),)),
            Query("find_symbol exact, one of the 20 commonest names", POINT,
                  "SELECT * FROM astpg.find_symbol(%s)",
                  lambda rng: (rng.choice(self.common_names),), report=True),
            Query("find_symbol prefix", DASHBOARD,
                  "SELECT * FROM astpg.find_symbol(%s)",
                  lambda rng: (self.prefix(rng),), report=True),
            Query("find_symbol fuzzy (a typo)", DASHBOARD,
                  "SELECT * FROM astpg.find_symbol(%s)",
                  lambda rng: (self.typo(rng),), report=True),
            Query("repository_summary of a repository", DASHBOARD,
                  "SELECT * FROM astpg.repository_summary WHERE repository = %s",
                  lambda rng: (rng.choice(self.repositories),), nested=False),
            # the two dashboards below, by repository (as a user who reads
            # the views' columns writes them) and by repo_id (as their
            # indexes are keyed)
            Query("top 20 hotspots of a repository", DASHBOARD,
                  "SELECT * FROM astpg.function_hotspots WHERE repository = %s "
                  "ORDER BY rank LIMIT 20",
                  lambda rng: (rng.choice(self.repositories),), nested=False),
            Query("top 20 hotspots, by repo_id", DASHBOARD,
                  "SELECT * FROM astpg.function_hotspots "
                  "WHERE repo_id = astpg.repo_id(%s) ORDER BY rank LIMIT 20",
                  lambda rng: (rng.choice(self.repositories),), nested=False,
                  report=True),
            Query("20 files of most fan_in in a repository", DASHBOARD,
                  "SELECT * FROM astpg.file_summary WHERE repository = %s "
                  "ORDER BY fan_in DESC LIMIT 20",
                  lambda rng: (rng.choice(self.repositories),), nested=False),
            Query("20 files of most fan_in, by repo_id", DASHBOARD,
                  "SELECT * FROM astpg.file_summary "
                  "WHERE repo_id = astpg.repo_id(%s) ORDER BY fan_in DESC LIMIT 20",
                  lambda rng: (rng.choice(self.repositories),), nested=False,
                  report=True),
            Query("dependents_of(most depended-on file, 10)", GRAPH,
                  "SELECT * FROM astpg.dependents_of(%s, 10)",
                  lambda rng: (rng.choice(self.hubs)[0],)),
            Query("dependencies_of(file, 10)", GRAPH,
                  "SELECT * FROM astpg.dependencies_of(%s, 10)",
                  lambda rng: (rng.choice(self.files)[0],), report=True),
            Query("import_cycles(repository)", CYCLES,
                  "SELECT * FROM astpg.import_cycles(%s)",
                  lambda rng: (rng.choice(self.repositories),)),
            Query("import_cycles of every repository", CYCLES,
                  "SELECT r.repository, c.* "
                  "FROM (SELECT DISTINCT repository FROM astpg.repository_summary) r, "
                  "LATERAL astpg.import_cycles(r.repository) c",
                  lambda rng: ()),
            Query("metric_history of a file", POINT,
                  "SELECT revision, content_hash, ingested_at, functions, "
                  "complexity_total, complexity_max FROM astpg.metric_history "
                  "WHERE repository = %s AND path = %s ORDER BY ingested_at",
                  lambda rng: rng.choice(history), nested=False, report=True),
            Query("metric_history: repository totals per month", DASHBOARD,
                  # each file's last row of each month, summed per month
                  "SELECT month, count(*) AS files, sum(functions) AS functions, "
                  "sum(complexity_total) AS complexity "
                  "FROM (SELECT DISTINCT ON (date_trunc('month', ingested_at), path) "
                  "date_trunc('month', ingested_at) AS month, path, status, "
                  "functions, complexity_total FROM astpg.metric_history "
                  "WHERE repository = %s ORDER BY 1, path, ingested_at DESC) last "
                  "WHERE status <> 'deleted' GROUP BY month ORDER BY month",
                  lambda rng: (rng.choice(self.repositories),), nested=False,
                  report=True),
        ]

    def measure(self, query):
        rng = random.Random("%d %s" % (self.args.seed, query.name))
        query.example = query.draw(rng)
        deadline = time.perf_counter() + self.args.max_seconds
        with self.conn.cursor() as cur:
            for _ in range(self.args.iterations):
                params = query.draw(rng) if query.times else query.example
                try:
                    started = time.perf_counter()
                    cur.execute(query.sql, params)
                    rows = cur.fetchall()
                    query.times.append((time.perf_counter() - started) * 1000.0)
                    query.rows.append(len(rows))
                except psycopg2.Error as e:
                    query.error = "%s (parameters %r)" % (str(e).strip().splitlines()[0], params)
                    self.failed += 1
                    return
                if time.perf_counter() > deadline:
                    break

    def plan(self, query):
        """The statement's plan (EXPLAIN), and the plans of the statements
        astpg's functions run for it (auto_explain, one execution)."""
        with self.conn.cursor() as cur:
            try:
                # costs asked for (not shown) so that EXPLAIN says whether
                # the executor would JIT-compile
                cur.execute("EXPLAIN (FORMAT JSON) " + query.sql, query.example)
                explained = cur.fetchone()[0]
                if isinstance(explained, str):
                    explained = json.loads(explained)
                out = ["  " + line for line in plan_lines(explained[0])]
            except psycopg2.Error as e:
                return ["  EXPLAIN failed: %s" % str(e).strip().splitlines()[0]]
            if not query.nested or not self.auto_explain:
                return out
            notices = self.conn.notices
            self.conn.notices = []
            try:
                cur.execute("SET client_min_messages = log")
                cur.execute(query.sql, query.example)
                cur.fetchall()
            except psycopg2.Error as e:
                out.append("  (nested plans not shown: %s)" % str(e).strip().splitlines()[0])
            finally:
                cur.execute("RESET client_min_messages")
                captured = self.conn.notices
                self.conn.notices = notices
        statement = " ".join(cur.mogrify(query.sql, query.example).decode().split())
        inner = [p for p in logged_plans(captured) if p[0] != statement]
        for n, (text, lines, count) in enumerate(inner[:self.args.nested_plans], 1):
            short = text if len(text) <= 90 else text[:87] + "..."
            out.append("  nested %d%s: %s" % (n, " (x%d)" % count if count > 1 else "", short))
            out += ["      " + line for line in lines]
        if len(inner) > self.args.nested_plans:
            out.append("  ... %d more nested plans" % (len(inner) - self.args.nested_plans))
        return out

    def setup_auto_explain(self):
        try:
            self.sql("LOAD 'auto_explain'")
            self.sql("SET auto_explain.log_min_duration = 0")
            self.sql("SET auto_explain.log_nested_statements = on")
            self.sql("SET auto_explain.log_analyze = off")
            self.sql("SET auto_explain.log_format = json")
            self.auto_explain = True
        except psycopg2.Error as e:
            log("(auto_explain not available, nested plans not shown: %s)"
                % str(e).strip().splitlines()[0])
            self.auto_explain = False

    def run_queries(self):
        log("\nqueries: %d iterations each (at most %d s per query), seed %d, "
            "parameters drawn at random; client wall time of execute + fetchall"
            % (self.args.iterations, self.args.max_seconds, self.args.seed))
        queries = self.queries()
        for q in queries:
            started = time.perf_counter()
            self.measure(q)
            log("  %-50s %4d runs in %s%s"
                % (q.name, len(q.times), seconds(time.perf_counter() - started),
                   "  ERROR: " + q.error if q.error else ""))
        self.report(queries)
        self.setup_auto_explain()
        log("\nplans (EXPLAIN without costs, for the first parameters drawn; "
            "nested: statements run inside astpg's functions, by auto_explain):")
        for q in queries:
            log("\n%s  %s" % (q.name, ", ".join(repr(p) for p in q.example)))
            for line in self.plan(q):
                log(line)

    def report(self, queries):
        log("\n| query | goal | runs | rows p50 | p50 ms | p95 ms | max ms | |")
        log("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for q in queries:
            kind, goal = q.goal
            label = "%s %s" % (kind, ("%.0f ms" % goal) if goal < 1000 else "%.0f s" % (goal / 1000))
            if q.report:
                label += " (report)"
            if not q.times:
                log("| %s | %s | 0 | | | | | ERROR |" % (q.name, label))
                continue
            p95 = percentile(q.times, 95)
            verdict = "pass" if p95 < goal else "MISS"
            if q.error:
                verdict += ", ERROR"
            log("| %s | %s | %d | %d | %.2f | %.2f | %.2f | %s |"
                % (q.name, label, len(q.times), statistics.median(q.rows),
                   statistics.median(q.times), p95, max(q.times), verdict))


def main():
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Environment: BENCH_FUNCTIONS, BENCH_ITERATIONS, BENCH_QUICK=1, "
               "BENCH_SEED; BENCH_ASTPG_LOAD: the loader to run; PG* for the "
               "connection.")
    parser.add_argument("--functions", type=int, default=None,
                        help="functions to load (default 1,000,000; --quick 30,000)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="executions per query (default 200; --quick 20)")
    parser.add_argument("--quick", action="store_true",
                        default=env("BENCH_QUICK", "") not in ("", "0"),
                        help="a smoke test: 30,000 functions, 20 iterations")
    parser.add_argument("--seed", type=int, default=int(env("BENCH_SEED", "13")),
                        help="seed of the parameters drawn (default 13)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop a query's iterations after this long "
                             "(default 60; --quick 5)")
    parser.add_argument("--history", type=int, default=None,
                        help="documents re-ingested as a second revision "
                             "(default 2,000; --quick 200)")
    parser.add_argument("--jobs", type=int, default=2, help="astpg-load --jobs (default 2)")
    parser.add_argument("--documents", default=None,
                        help="NDJSON documents to copy instead of extracting "
                             "the standard library")
    parser.add_argument("--nested-plans", type=int, default=3,
                        help="nested plans shown per query (default 3)")
    parser.add_argument("--reuse", action="store_true",
                        help="only run the queries, on the corpus an earlier "
                             "run loaded into this database")
    args = parser.parse_args()
    quick = args.quick
    if args.functions is None:
        args.functions = int(env("BENCH_FUNCTIONS") or (30000 if quick else 1000000))
    if args.iterations is None:
        args.iterations = int(env("BENCH_ITERATIONS") or (20 if quick else 200))
    if args.max_seconds is None:
        args.max_seconds = 5 if quick else 60
    if args.history is None:
        args.history = 200 if quick else 2000
    if args.functions < 1 or args.iterations < 1 or args.jobs < 1:
        parser.error("--functions, --iterations and --jobs must be at least 1")

    try:
        bench = Bench(args)
        try:
            bench.prepare_database()
            if args.reuse:
                bench.history = bench.sql(
                    "SELECT repository, path FROM astpg.metric_history "
                    "GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2")
            else:
                bench.extract()
                bench.load()
                bench.refresh(concurrently=False)
                bench.reingest()
                bench.refresh(concurrently=True)
                bench.ensure_analyzed()
            bench.corpus_size()
            bench.candidates()
            bench.run_queries()
        finally:
            bench.close()
    except Exception:
        traceback.print_exc()
        sys.exit(2)
    sys.exit(1 if bench.failed else 0)


if __name__ == "__main__":
    main()
