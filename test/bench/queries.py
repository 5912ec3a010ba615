#!/usr/bin/env python3
"""astpg's query benchmark: the questions analysts ask, on a million real,
different functions.

The corpus (the default): test/bench/corpus's, real code from code bases
that share no files, each its own repository (cpython, Debian's packaged
Python libraries, an npm dependency tree: over a million functions),
built once and cached outside the repository (--corpus-dir, else
$ASTPG_CORPUS_DIR, else test/bench/corpus's default).  Building it the
first time takes most of an hour; later runs read the cache.

--copies: the old corpus, labelled as such in the report: this
interpreter's standard library extracted once and written again and again
under other repository names (cpython-01, cpython-02, ...) until the
documents hold --functions functions.  Every name then has dozens of exact
matches and every repository the same shape, which hides costs: use it
only to compare with figures measured that way.

Steps, each timed and printed:

  1. CREATE EXTENSION astpg CASCADE in the database of the PG* environment
     variables, which must hold no files.
  2. astpg-load --jobs N over the corpus's NDJSON files
     ($(pg_config --bindir)/astpg-load, else tools/astpg-load/astpg-load),
     then ANALYZE.
  3. SELECT astpg.refresh_analytics(false), the first refresh, with each
     view's duration from astpg.analytics_refreshes.
  4. --history documents drawn at random re-ingested with
     astpg.ingest_batch as a new revision ("r2", a new content_hash, every
     function's complexity one higher), so that astpg.metric_history holds
     two rows for those files; then astpg.refresh_analytics() and ANALYZE.
  5. The corpus size: table rows and the rows of every view.
  6. Every question of QUESTIONS below, --iterations times (or until
     --max-seconds have gone by), each time with parameters drawn at
     random (seed --seed) from candidates read with SQL first (CANDIDATES:
     names, files, functions, repositories, drawn uniformly).  Each
     execution is timed by the client, time.perf_counter() around
     execute() and fetchall(), in autocommit, with the simple query
     protocol (parsed and planned afresh, as most clients do).  The report
     gives p50 (the median), p95 (nearest rank) and max in milliseconds
     beside the question's goal: "met" when p95 is under it, else
     "MISSED"; a question without a goal of its own is marked "report".
  7. For each question, its plan for the first parameters drawn (EXPLAIN
     without costs), with the plans of the statements astpg's functions
     run for it (auto_explain with log_nested_statements).

--reuse skips steps 1 to 4: the questions are asked of the corpus an
earlier run loaded into this database (its load and refresh times, kept
in public.bench_queries_runs, are printed again).  To measure a change of
astpg, load once, then install the change, ALTER EXTENSION astpg UPDATE
(or drop and load again) and run with --reuse.

The goals are issue 17's, on the diverse corpus at a million functions on
a 2-core machine (p95): a file's summary, callers/callees at depth 1 and
find_symbol of an exact name under 5 ms; find_symbol of a prefix under 20
ms and of a typo under 50 ms; dashboards by repository name under 50 ms;
dependents_of at depth 10 on the most depended-on file under 50 ms;
import_cycles of the whole corpus under 200 ms; refresh_analytics() of
everything under 10 s.

The exit status is 0 whether or not the goals are met (this is a
benchmark); 1 if a question failed (an SQL error) or the database does not
fit (astpg older than 1.3, files already stored, nothing to reuse); 2 if
the benchmark itself broke.

    test/bench/queries [--quick] [--reuse] [--iterations K] [--seed S]
                       [--functions N] [--only WORDS] [--copies]
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

# the analytics of 1.7: plain views (module_edges, file_summary) and the
# tables refresh_analytics() fills
VIEWS = ("module_edges", "class_hierarchy", "call_graph", "file_summary",
         "function_hotspots", "repository_summary", "symbol_names")
TABLES = ("files", "classes", "functions", "calls", "dependencies", "metrics")


# --------------------------------------------------------------------------
# The questions
# --------------------------------------------------------------------------
#
# To add a question, add a Q(...) to QUESTIONS:
#
#   Q(name, goal, sql, params, ...)
#     name    what the report calls it
#     goal    p95 in milliseconds it must stay under (issue 17), or None: a
#             question measured for the record ("report")
#     sql     the statement, as an analyst would write it, with %s for its
#             parameters (psycopg2's)
#     params  a function (c, rng) -> tuple of parameters: c holds the
#             candidates (c.files, c.names, ...: CANDIDATES below, each read
#             once, when a question first asks for it), rng a random.Random
#             seeded by --seed and the question's name
#     runs    executions at most (default --iterations): fewer for
#             questions that take seconds (refresh_analytics)
#     nested  show the plans of the statements astpg runs inside it
#
# and, where it needs candidates of a new kind, an entry to CANDIDATES.

class Q:
    def __init__(self, name, goal, sql, params=lambda c, rng: (), runs=None,
                 nested=True):
        self.name = name
        self.goal = goal
        self.sql = sql
        self.params = params
        self.runs = runs
        self.nested = nested
        self.times = []
        self.rows = []              # rows returned per execution
        self.error = None
        self.example = None         # the parameters its plan is shown for


def prefix(c, rng):
    """The first 3 or more letters of a name of at least 6."""
    name = rng.choice(c.long_names)
    return name[:rng.randint(3, len(name) - 1)]


def typo(c, rng):
    """A name of at least 6 letters with one edit (a letter replaced,
    dropped, or two swapped), never a stored name."""
    while True:
        name = rng.choice(c.long_names)
        i = rng.randrange(len(name) - 1)
        edit = rng.randrange(3)
        if edit == 0:
            word = name[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + name[i + 1:]
        elif edit == 1:
            word = name[:i] + name[i + 1:]
        else:
            word = name[:i] + name[i + 1] + name[i] + name[i + 2:]
        if word not in c.name_set:
            return word


def one(key):
    """Parameters: one value drawn uniformly from candidates `key`."""
    return lambda c, rng: (rng.choice(getattr(c, key)),)


QUESTIONS = [
    Q("a file's summary, by file_id", 5,
      "SELECT * FROM astpg.file_summary WHERE file_id = %s",
      lambda c, rng: (rng.choice(c.files)[0],), nested=False),
    Q("a file's summary, by repository and path", 5,
      "SELECT * FROM astpg.file_summary WHERE repository = %s AND path = %s",
      lambda c, rng: tuple(rng.choice(c.files)[1:]), nested=False),
    Q("callers(function, 1)", 5,
      "SELECT * FROM astpg.callers(%s, 1)", one("with_callers")),
    Q("callees(function, 1)", 5,
      "SELECT * FROM astpg.callees(%s, 1)", one("with_callees")),
    Q("find_symbol of an exact name", 5,
      "SELECT * FROM astpg.find_symbol(%s)", one("names")),
    Q("find_symbol of one of the 20 commonest names", None,
      "SELECT * FROM astpg.find_symbol(%s)", one("common_names")),
    Q("find_symbol of a prefix", 20,
      "SELECT * FROM astpg.find_symbol(%s)", lambda c, rng: (prefix(c, rng),)),
    Q("find_symbol of a typo (fuzzy)", 50,
      "SELECT * FROM astpg.find_symbol(%s)", lambda c, rng: (typo(c, rng),)),
    Q("top 20 hotspots of a repository, by name", 50,
      "SELECT * FROM astpg.function_hotspots WHERE repository = %s "
      "ORDER BY rank LIMIT 20", one("repositories"), nested=False),
    Q("top 20 hotspots of a repository, by repo_id", None,
      "SELECT * FROM astpg.function_hotspots "
      "WHERE repo_id = astpg.repo_id(%s) ORDER BY rank LIMIT 20",
      one("repositories"), nested=False),
    Q("repository_summary of a repository", 50,
      "SELECT * FROM astpg.repository_summary WHERE repository = %s",
      one("repositories"), nested=False),
    Q("20 files of most fan_in of a repository", 50,
      "SELECT * FROM astpg.file_summary WHERE repository = %s "
      "ORDER BY fan_in DESC LIMIT 20", one("repositories"), nested=False),
    Q("dependents_of(the most depended-on file, 10)", 50,
      "SELECT * FROM astpg.dependents_of(%s, 10)",
      lambda c, rng: (c.hub[0],)),
    Q("dependents_of(a repository's most depended-on file, 10)", None,
      "SELECT * FROM astpg.dependents_of(%s, 10)",
      lambda c, rng: (rng.choice(c.hubs)[0],)),
    Q("dependencies_of(file, 10)", None,
      "SELECT * FROM astpg.dependencies_of(%s, 10)",
      lambda c, rng: (rng.choice(c.files)[0],)),
    Q("import_cycles of a repository", None,
      "SELECT * FROM astpg.import_cycles(%s)", one("repositories")),
    Q("import_cycles of the whole corpus", 200,
      "SELECT r.repository, c.* FROM unnest(%s::text[]) r(repository), "
      "LATERAL astpg.import_cycles(r.repository) c",
      lambda c, rng: (c.repositories,)),
    Q("a file's metric_history", None,
      "SELECT revision, content_hash, ingested_at, functions, "
      "complexity_total, complexity_max FROM astpg.metric_history "
      "WHERE repository = %s AND path = %s ORDER BY ingested_at",
      lambda c, rng: tuple(rng.choice(c.history)), nested=False),
    Q("a repository's totals per month (metric_history)", None,
      # each file's last row of each month, summed per month
      "SELECT month, count(*) AS files, sum(functions) AS functions, "
      "sum(complexity_total) AS complexity "
      "FROM (SELECT DISTINCT ON (date_trunc('month', ingested_at), path) "
      "date_trunc('month', ingested_at) AS month, path, status, "
      "functions, complexity_total FROM astpg.metric_history "
      "WHERE repository = %s ORDER BY 1, path, ingested_at DESC) last "
      "WHERE status <> 'deleted' GROUP BY month ORDER BY month",
      one("repositories"), nested=False),
    Q("dead_code of a repository", None,
      "SELECT count(*) FROM astpg.dead_code(%s)", one("repositories")),
    Q("package_coupling of a repository", None,
      "SELECT * FROM astpg.package_coupling(%s)", one("repositories")),
    Q("churn of a repository", None,
      "SELECT * FROM astpg.churn(%s)", one("repositories")),
    Q("trend of a repository, per month", None,
      "SELECT * FROM astpg.trend(%s)", one("repositories")),
    Q("analytics_staleness", 50,
      "SELECT * FROM astpg.analytics_staleness", nested=False),
    # last: they rewrite the tables the questions above read
    Q("refresh_analytics(repository) of the smallest repository", None,
      "SELECT count(*) FROM astpg.refresh_analytics(%s)",
      lambda c, rng: (c.smallest_repository[0],), runs=3, nested=False),
    Q("refresh_analytics(false) of everything", 10000,
      "SELECT astpg.refresh_analytics(false)", runs=1, nested=False),
    Q("refresh_analytics() of everything (concurrently)", 10000,
      "SELECT astpg.refresh_analytics()", runs=1, nested=False),
]

# Candidates: name -> SQL, read in a stable order (ids depend on the
# loader's interleaving of jobs, names and paths do not).  Read from the
# tables where they can be; functions with callers and callees from
# call_graph, which resolves calls.
CANDIDATES = {
    "files": "SELECT file_id, repository, path FROM astpg.files ORDER BY repository, path",
    "repositories": "SELECT DISTINCT repository FROM astpg.files ORDER BY 1",
    "smallest_repository": "SELECT repository FROM astpg.files GROUP BY 1 "
                           "ORDER BY count(*), 1 LIMIT 1",
    "with_callers": "SELECT DISTINCT callee_id FROM astpg.call_graph ORDER BY 1",
    "with_callees": "SELECT DISTINCT caller_id FROM astpg.call_graph ORDER BY 1",
    "names": "SELECT DISTINCT name FROM astpg.functions WHERE length(name) >= 3 ORDER BY 1",
    "common_names": "SELECT name FROM astpg.functions GROUP BY name "
                    "ORDER BY count(*) DESC, name LIMIT 20",
    # each repository's most depended-on file: distinct files whose
    # resolved imports point at it
    "hubs": "SELECT DISTINCT ON (f.repository) f.file_id, f.repository, f.path, d.fan_in "
            "FROM (SELECT target_file_id, count(DISTINCT file_id) AS fan_in "
            "      FROM astpg.dependencies WHERE target_file_id IS NOT NULL "
            "      GROUP BY 1) d JOIN astpg.files f ON f.file_id = d.target_file_id "
            "ORDER BY f.repository, d.fan_in DESC, f.path",
    "history": "SELECT repository, path FROM astpg.metric_history "
               "GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2",
}


class Candidates:
    """Each kind read with its SQL when a question first asks for it."""

    def __init__(self, bench):
        self.bench = bench

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        if key == "long_names":
            value = [n for n in self.names if len(n) >= 6]
        elif key == "name_set":
            value = set(self.names)
        elif key == "hub":
            value = max(self.hubs, key=lambda h: (h[3], -h[0]))
        elif key in CANDIDATES:
            started = time.perf_counter()
            rows = self.bench.sql(CANDIDATES[key])
            value = [r[0] if len(r) == 1 else tuple(r) for r in rows]
            self.bench.log("  candidates %s: %s in %s" % (
                key, "{:,}".format(len(value)), seconds(time.perf_counter() - started)))
        else:
            raise AttributeError(key)
        if not value:
            raise LookupError("no candidates %s: the corpus holds none" % key)
        setattr(self, key, value)
        return value


def log(message=""):
    print(message, flush=True)


def seconds(t):
    return "%.1f s" % t if t >= 10 else "%.2f s" % t


# --------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------

class Copies:
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

def percentile(values, p):
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


def revision(line, repository=None):
    """A document (NDJSON text) as a new revision: "r2", a new content_hash,
    every function's complexity one higher."""
    doc = json.loads(line)
    if repository is not None:
        doc["repository"] = repository
    doc["revision"] = "r2"
    doc["content_hash"] = "sha256:" + hashlib.sha256(
        ("%s\0r2" % doc.get("content_hash")).encode()).hexdigest()
    doc["functions"] = [dict(fn, complexity=(fn.get("complexity") or 1) + 1)
                        for fn in doc.get("functions") or []]
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def subset(codebases, target, directory):
    """The first documents of each code base (in path order), its share of
    `target` functions, written to `directory`: [(repository, file,
    documents, functions)]."""
    total = sum(c["functions"] for c in codebases)
    out = []
    for c in codebases:
        share = max(1, round(target * c["functions"] / total))
        path = directory / (c["repository"] + ".ndjson")
        n = functions = 0
        with open(c["ndjson"], encoding="utf-8") as src, \
                open(path, "w", encoding="utf-8") as dst:
            for line in src:
                if functions >= share:
                    break
                functions += len(json.loads(line).get("functions") or [])
                dst.write(line)
                n += 1
        out.append((c["repository"], path, n, functions))
    return out


class Bench:
    def __init__(self, args):
        self.args = args
        self.log = log
        self.work = Path(tempfile.mkdtemp(prefix="astpg-bench-queries-"))
        self.failed = 0
        self.inputs = []        # [(repository, NDJSON file, documents, functions)]
        self.label = ""
        self.conn = None

    def connect(self):
        self.conn = psycopg2.connect("")
        self.conn.autocommit = True

    def sql(self, query, params=None):
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None

    def one(self, query, params=None):
        return self.sql(query, params)[0][0]

    def close(self):
        if self.conn is not None:
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
        if self.args.reuse or self.args.loaded:
            if not stored:
                sys.exit("bench-queries: --reuse or --loaded, but astpg.files is "
                         "empty in database %s" % self.conn.info.dbname)
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

    def corpus(self):
        """The diverse corpus (test/bench/corpus), the whole of it or, with
        --functions, the first documents of each code base."""
        if self.args.corpus_json:
            # a corpus built before (by other extractors, say): its
            # corpus.json, as test/bench/corpus --json printed it
            with open(self.args.corpus_json, encoding="utf-8") as f:
                summary = json.load(f)
            log("the corpus: %s (built before)" % self.args.corpus_json)
            self.use_corpus(summary)
            return
        command = [sys.executable, str(REPO / "test/bench/corpus"), "--json"]
        if self.args.corpus_dir:
            command += ["--dir", self.args.corpus_dir]
        if self.args.corpus_spec:
            command += ["--spec", self.args.corpus_spec]
        log("the corpus: %s" % " ".join(command))
        started = time.perf_counter()
        # its progress and its table on stderr pass through
        sys.stdout.flush()
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise RuntimeError("test/bench/corpus exited with %d" % done.returncode)
        summary = json.loads(done.stdout)
        log("  ready in %s" % seconds(time.perf_counter() - started))
        self.use_corpus(summary)

    def use_corpus(self, summary):
        codebases = summary["codebases"]
        if self.args.functions:
            self.inputs = subset(codebases, self.args.functions, self.work)
            self.label = ("the diverse corpus, its first %s functions (--functions)"
                          % "{:,}".format(sum(i[3] for i in self.inputs)))
        else:
            self.inputs = [(c["repository"], Path(c["ndjson"]), c["files"], c["functions"])
                           for c in codebases]
            self.label = "the diverse corpus (test/bench/corpus)"
        self.corpus_key = summary["key"]
        log("  %s: %s" % (self.label, ", ".join(
            "%s %s files %s functions" % (r, "{:,}".format(n), "{:,}".format(f))
            for r, _, n, f in self.inputs)))

    def copies(self):
        """--copies: one library written again and again."""
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
            log("  extracted in %s" % seconds(time.perf_counter() - started))
        corpus = Copies(path)
        log("  one copy: %d files, %d functions, %d calls"
            % (len(corpus.docs), sum(corpus.functions), corpus.calls))
        written, documents, total = corpus.write_copies(
            self.work, self.args.functions or 1000000)
        self.inputs = []
        for repository, file, n in written:
            if n:
                self.inputs.append((repository, file, n, sum(
                    corpus.functions[i] for r, i in documents if r == repository)))
        self.corpus_key = "copies"
        self.label = ("COPIES of one library (--copies): %d copies of %s, %s functions"
                      % (len(written), path.name, "{:,}".format(total)))
        log("  " + self.label)

    def load(self):
        loader = self.find_loader()
        # --on-error=skip: a document the server refuses (an extractor's
        # bug) is counted in astpg.rejects, not the end of the benchmark
        command = [loader, "--jobs", str(self.args.jobs), "--no-progress", "-q",
                   "--on-error=skip"]
        command += [str(path) for _, path, _, _ in self.inputs]
        documents = sum(n for _, _, n, _ in self.inputs)
        log("\nloading %s documents with %s --jobs %d..."
            % ("{:,}".format(documents), loader, self.args.jobs))
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        self.load_seconds = time.perf_counter() - started
        # 3: every batch committed, some documents refused (and counted)
        if done.returncode not in (0, 3):
            raise RuntimeError("astpg-load exited with %d: %s"
                               % (done.returncode, (done.stderr or done.stdout).strip()[-2000:]))
        files = self.one("SELECT count(*) FROM astpg.files")
        rejected = self.one("SELECT count(*) FROM astpg.rejects")
        if files + rejected != documents:
            raise RuntimeError("astpg.files holds %d rows and astpg.rejects %d, "
                               "%d documents were loaded" % (files, rejected, documents))
        log("  load: %s (%d documents, %.0f documents/s)"
            % (seconds(self.load_seconds), files, files / self.load_seconds))
        if rejected:
            log("  REJECTED: %d documents (astpg.rejects): %s" % (rejected, "; ".join(
                "%s: %s" % (p, m) for p, m in self.sql(
                    "SELECT path, message FROM astpg.rejects ORDER BY path LIMIT 5"))))
        started = time.perf_counter()
        self.sql("ANALYZE")
        log("  ANALYZE: %s" % seconds(time.perf_counter() - started))

    def refresh(self, concurrently):
        what = ("astpg.refresh_analytics()" if concurrently
                else "astpg.refresh_analytics(false)")
        started = time.perf_counter()
        self.sql("SELECT " + what)
        elapsed = time.perf_counter() - started
        log("\nSELECT %s: %s" % (what, seconds(elapsed)))
        self.show_refreshes(concurrently)
        return elapsed

    def show_refreshes(self, concurrently=None):
        """Each repository's last refresh (astpg.analytics_refreshes, 1.7:
        one row per repository)."""
        try:
            rows = self.sql(
                "SELECT repository, extract(epoch FROM duration), classes, calls, "
                "hotspots FROM astpg.analytics_refreshes ORDER BY duration DESC")
        except psycopg2.Error as e:
            log("  (astpg.analytics_refreshes not read: %s)" % str(e).strip().splitlines()[0])
            return
        for repository, duration, classes, calls, hotspots in rows:
            log("  %-20s %8.2f s  class_hierarchy %s, call_graph %s, function_hotspots %s rows"
                % (repository, duration or 0, "{:,}".format(classes), "{:,}".format(calls),
                   "{:,}".format(hotspots)))

    def reingest(self):
        """--history documents drawn uniformly, stored again as revision r2."""
        documents = [(r, path, i) for r, path, n, _ in self.inputs for i in range(n)]
        n = min(self.args.history, len(documents))
        if not n:
            return
        chosen = sorted(random.Random(self.args.seed + 1).sample(documents, n),
                        key=lambda d: (str(d[1]), d[2]))
        log("\nre-ingesting %d documents drawn at random as revision r2 "
            "(astpg.ingest_batch, batches of 500)..." % n)
        texts = []
        by_file = {}
        for r, path, i in chosen:
            by_file.setdefault(path, (r, set()))[1].add(i)
        for path, (r, wanted) in by_file.items():
            with open(path, encoding="utf-8") as f:
                for i, line in enumerate(f):
                    if i in wanted:
                        texts.append(revision(line, r))
        started = time.perf_counter()
        statuses = {}
        for b in range(0, len(texts), 500):
            for status, count in self.sql(
                    "SELECT status, count(*) FROM astpg.ingest_batch(%s::jsonb[], 'skip') "
                    "GROUP BY 1", (texts[b:b + 500],)):
                statuses[status] = statuses.get(status, 0) + count
        log("  %s (%s)" % (seconds(time.perf_counter() - started),
                           ", ".join("%s %d" % kv for kv in sorted(statuses.items()))))

    def record_run(self, first_refresh, second_refresh):
        """What --reuse prints again: the corpus, load and refresh times."""
        self.sql("CREATE TABLE IF NOT EXISTS public.bench_queries_runs ("
                 "loaded_at timestamptz DEFAULT now(), corpus text, corpus_key text, "
                 "inputs jsonb, load_seconds float8, refresh_seconds float8, "
                 "refresh_concurrently_seconds float8)")
        self.sql("INSERT INTO public.bench_queries_runs (corpus, corpus_key, inputs, "
                 "load_seconds, refresh_seconds, refresh_concurrently_seconds) "
                 "VALUES (%s, %s, %s, %s, %s, %s)",
                 (self.label, self.corpus_key,
                  json.dumps([[r, str(p), n, f] for r, p, n, f in self.inputs]),
                  self.load_seconds, first_refresh, second_refresh))

    def last_run(self):
        try:
            row = self.sql("SELECT loaded_at, corpus, load_seconds, refresh_seconds, "
                           "refresh_concurrently_seconds FROM public.bench_queries_runs "
                           "ORDER BY loaded_at DESC LIMIT 1")
        except psycopg2.Error:
            row = None
        if row:
            at, self.label, load, first, second = row[0]
            log("reusing the corpus loaded %s: %s; load %s, first "
                "refresh_analytics(false) %s, refresh_analytics() after the "
                "re-ingest %s" % (at.strftime("%Y-%m-%d %H:%M"), self.label,
                                  "not measured" if load is None else seconds(load),
                                  seconds(first), seconds(second)))
        else:
            self.label = "a corpus loaded before (no public.bench_queries_runs)"
            log("reusing %s" % self.label)

    def corpus_size(self):
        log("\ncorpus: %s" % self.label)
        counts = [(t, self.one("SELECT count(*) FROM astpg.%s" % t)) for t in TABLES]
        counts.append(("resolved dependencies", self.one(
            "SELECT count(*) FROM astpg.dependencies WHERE target_file_id IS NOT NULL")))
        counts.append(("repositories", self.one(
            "SELECT count(DISTINCT repo_id) FROM astpg.files")))
        log("  tables: " + ", ".join("%s %s" % (t, "{:,}".format(c)) for t, c in counts))
        views = []
        for v in VIEWS + ("metric_history",):
            try:
                views.append((v, self.one("SELECT count(*) FROM astpg.%s" % v)))
            except psycopg2.Error:
                pass
        log("  views:  " + ", ".join("%s %s" % (v, "{:,}".format(c)) for v, c in views))
        self.size = dict(counts)
        try:
            log("  database: %s" % self.one(
                "SELECT pg_size_pretty(pg_database_size(current_database()))"))
        except psycopg2.Error:
            pass

    # -- the questions ----------------------------------------------------------

    def measure(self, q, candidates):
        rng = random.Random("%d %s" % (self.args.seed, q.name))
        try:
            q.example = q.params(candidates, rng)
        except (LookupError, psycopg2.Error) as e:
            q.error = "no parameters: %s" % str(e).strip().splitlines()[0]
            self.failed += 1
            return
        runs = min(q.runs or self.args.iterations, self.args.iterations)
        deadline = time.perf_counter() + self.args.max_seconds
        with self.conn.cursor() as cur:
            for _ in range(runs):
                params = q.params(candidates, rng) if q.times else q.example
                try:
                    started = time.perf_counter()
                    cur.execute(q.sql, params)
                    rows = cur.fetchall()
                    q.times.append((time.perf_counter() - started) * 1000.0)
                    q.rows.append(len(rows))
                except psycopg2.Error as e:
                    shown = params if len(repr(params)) < 200 else repr(params)[:200] + "..."
                    q.error = "%s (parameters %s)" % (str(e).strip().splitlines()[0], shown)
                    self.failed += 1
                    return
                if time.perf_counter() > deadline:
                    break

    def plan(self, q):
        """The statement's plan (EXPLAIN), and the plans of the statements
        astpg's functions run for it (auto_explain, one execution)."""
        with self.conn.cursor() as cur:
            try:
                # costs asked for (not shown) so that EXPLAIN says whether
                # the executor would JIT-compile
                cur.execute("EXPLAIN (FORMAT JSON) " + q.sql, q.example)
                explained = cur.fetchone()[0]
                if isinstance(explained, str):
                    explained = json.loads(explained)
                out = ["  " + line for line in plan_lines(explained[0])]
            except psycopg2.Error as e:
                return ["  EXPLAIN failed: %s" % str(e).strip().splitlines()[0]]
            if not q.nested or not self.auto_explain:
                return out
            notices = self.conn.notices
            self.conn.notices = []
            try:
                cur.execute("SET client_min_messages = log")
                cur.execute(q.sql, q.example)
                cur.fetchall()
            except psycopg2.Error as e:
                out.append("  (nested plans not shown: %s)" % str(e).strip().splitlines()[0])
            finally:
                cur.execute("RESET client_min_messages")
                captured = self.conn.notices
                self.conn.notices = notices
            statement = " ".join(cur.mogrify(q.sql, q.example).decode().split())
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

    def questions(self):
        chosen = QUESTIONS
        if self.args.only:
            words = [w.lower() for w in self.args.only.split(",")]
            chosen = [q for q in QUESTIONS if any(w in q.name.lower() for w in words)]
        if self.args.no_refresh:
            chosen = [q for q in chosen if "refresh_analytics" not in q.sql]
        return chosen

    def run_questions(self):
        log("\nquestions: %d runs each at most (at most %d s a question), seed %d, "
            "parameters drawn at random; client wall time of execute + fetchall"
            % (self.args.iterations, self.args.max_seconds, self.args.seed))
        questions = self.questions()
        candidates = Candidates(self)
        for q in questions:
            started = time.perf_counter()
            self.measure(q, candidates)
            log("  %-56s %4d runs in %s%s"
                % (q.name, len(q.times), seconds(time.perf_counter() - started),
                   "  ERROR: " + q.error if q.error else ""))
        if self.args.plans:
            self.setup_auto_explain()
            log("\nplans (EXPLAIN without costs, for the first parameters drawn; "
                "nested: statements run inside astpg's functions, by auto_explain):")
            for q in questions:
                if q.example is None or "refresh_analytics" in q.sql:
                    continue
                shown = ", ".join(repr(p) if len(repr(p)) < 80 else repr(p)[:77] + "..."
                                  for p in q.example)
                log("\n%s  %s" % (q.name, shown))
                for line in self.plan(q):
                    log(line)
        self.report(questions)

    def report(self, questions):
        size = getattr(self, "size", {})
        log("\n%s: %s files, %s functions, %s calls, %s dependencies, %s repositories"
            % (self.label, *("{:,}".format(size.get(k, 0)) for k in
                             ("files", "functions", "calls", "dependencies", "repositories"))))
        log("\n| question | goal p95 | runs | rows p50 | p50 ms | p95 ms | max ms | |")
        log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for q in questions:
            goal = "" if q.goal is None else ("%g ms" % q.goal if q.goal < 1000
                                              else "%g s" % (q.goal / 1000))
            if not q.times:
                log("| %s | %s | 0 | | | | | ERROR |" % (q.name, goal))
                continue
            p95 = percentile(q.times, 95)
            verdict = "report" if q.goal is None else ("met" if p95 < q.goal else "**MISSED**")
            if q.error:
                verdict += ", ERROR"
            log("| %s | %s | %d | %d | %s | %s | %s | %s |"
                % (q.name, goal, len(q.times), statistics.median(q.rows),
                   ms(statistics.median(q.times)), ms(p95), ms(max(q.times)), verdict))
        met = [q for q in questions if q.goal is not None and q.times
               and percentile(q.times, 95) < q.goal]
        goals = [q for q in questions if q.goal is not None]
        log("\n%d of %d goals met%s" % (len(met), len(goals), "; %d questions failed"
                                        % self.failed if self.failed else ""))


def ms(t):
    """Milliseconds as the report shows them: two decimals under 100 ms,
    whole ones above, thousands separated."""
    return "%.2f" % t if t < 100 else "{:,.0f}".format(t)


def main():
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Environment: BENCH_ITERATIONS, BENCH_QUICK=1, BENCH_SEED, "
               "BENCH_FUNCTIONS; ASTPG_CORPUS_DIR: the corpus's cache; "
               "BENCH_ASTPG_LOAD: the loader to run; PG* for the connection.")
    parser.add_argument("--iterations", type=int, default=None,
                        help="executions per question at most (default 200; --quick 20)")
    parser.add_argument("--quick", action="store_true",
                        default=env("BENCH_QUICK", "") not in ("", "0"),
                        help="a smoke test: 30,000 functions of the corpus, 20 iterations")
    parser.add_argument("--seed", type=int, default=int(env("BENCH_SEED", "13")),
                        help="seed of the parameters drawn (default 13)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop a question's runs after this long "
                             "(default 60; --quick 5)")
    parser.add_argument("--functions", type=int, default=None,
                        help="load only this many functions: the first documents "
                             "of each code base (default all; --quick 30,000); "
                             "with --copies, copies up to this many (default 1,000,000)")
    parser.add_argument("--history", type=int, default=None,
                        help="documents re-ingested as a second revision "
                             "(default 2,000; --quick 200)")
    parser.add_argument("--jobs", type=int, default=2, help="astpg-load --jobs (default 2)")
    parser.add_argument("--corpus-dir", default=None,
                        help="test/bench/corpus's cache (default: its own default)")
    parser.add_argument("--corpus-spec", default=None,
                        help="test/bench/corpus --spec: code bases of one's own")
    parser.add_argument("--copies", action="store_true",
                        help="the old corpus: copies of one library (labelled COPIES)")
    parser.add_argument("--documents", default=None,
                        help="with --copies: NDJSON documents to copy instead of "
                             "extracting the standard library")
    parser.add_argument("--only", default=None,
                        help="comma-separated words: the questions whose names hold one")
    parser.add_argument("--no-refresh", action="store_true",
                        help="leave out the refresh_analytics questions")
    parser.add_argument("--no-plans", dest="plans", action="store_false",
                        help="do not print the plans")
    parser.add_argument("--nested-plans", type=int, default=3,
                        help="nested plans shown per question (default 3)")
    parser.add_argument("--corpus-json", metavar="FILE",
                        help="a corpus built before: its corpus.json (test/bench/corpus "
                             "--json), instead of building or reading the cache")
    parser.add_argument("--loaded", action="store_true",
                        help="the corpus is already loaded (by hand, in pieces): "
                             "refresh, re-ingest and ask the questions")
    parser.add_argument("--reuse", action="store_true",
                        help="only ask the questions, of the corpus an earlier "
                             "run loaded into this database")
    args = parser.parse_args()
    quick = args.quick
    if args.functions is None:
        args.functions = int(env("BENCH_FUNCTIONS") or (30000 if quick else 0)) or None
    if args.iterations is None:
        args.iterations = int(env("BENCH_ITERATIONS") or (20 if quick else 200))
    if args.max_seconds is None:
        args.max_seconds = 5 if quick else 60
    if args.history is None:
        args.history = 200 if quick else 2000
    if ((args.functions is not None and args.functions < 1) or args.iterations < 1
            or args.jobs < 1):
        parser.error("--functions, --iterations and --jobs must be at least 1")

    bench = Bench(args)
    try:
        try:
            if not args.reuse:
                if args.copies:
                    bench.copies()
                else:
                    bench.corpus()
            bench.connect()
            bench.prepare_database()
            if args.reuse:
                bench.last_run()
            else:
                if args.loaded:
                    bench.load_seconds = None
                    log("\nthe corpus was loaded before (--loaded): load not measured here")
                else:
                    bench.load()
                first = bench.refresh(concurrently=False)
                bench.reingest()
                second = bench.refresh(concurrently=True)
                started = time.perf_counter()
                bench.sql("ANALYZE")
                log("ANALYZE: %s" % seconds(time.perf_counter() - started))
                bench.record_run(first, second)
            bench.corpus_size()
            bench.run_questions()
        finally:
            bench.close()
    except Exception:
        traceback.print_exc()
        sys.exit(2)
    sys.exit(1 if bench.failed else 0)


if __name__ == "__main__":
    main()
