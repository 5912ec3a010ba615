#!/usr/bin/python3
"""test/writers.py: many sessions writing overlapping files at once.

Issue 10.  SESSIONS sessions (threads, one connection each) run OPS
operations each on a small pool of files whose modules import each other:
astpg.ingest, astpg.ingest_batch (1 to 20 documents, on_error abort and
skip), COPY into astpg.inbox, astpg.delete_file and astpg.delete_files;
a batch, a COPY or a delete_files is a transaction of its own, single
ingests and deletes come one to three a transaction; 15% of transactions
are rolled back rather than committed.  Every transaction takes its paths
in one order, so that any deadlock is astpg's own.  Every document carries
a revision of its own, so that the stored revision says which operation's
document a file holds.

Errors are classified by SQLSTATE.  A serialization failure (40001) at
REPEATABLE READ or SERIALIZABLE is retried, as a client must, and so is a
deadlock (40P01) of a transaction of several calls or of a COPY that
writes several of astpg's batches (docs/guarantees.md); any other error
(a deadlock of one call, a unique or foreign-key violation, ...) is a failure,
and so is a 40001 at READ COMMITTED, and so is a valid document that a
call with on_error skip rejected.  A document made invalid on purpose is
refused with 22023 (or rejected, with on_error skip): that is expected.

Afterwards, with astpg.resolve_dependencies() called once, the invariants:

  - one files row per (repository, path);
  - per path, the audit log (astpg.ingests in ingest_id order) is a
    possible history (inserted only when absent, replaced, unchanged and
    deleted only when present), its last change is the stored state, and
    no committed operation started after that change had committed;
  - astpg.document() of every file equals the document of its revision;
  - every resolved dependency points at a file of its repository whose
    module, or else path, is its target, the lowest file_id among those
    sharing the module; none that could be resolved is unresolved;
  - no orphan rows (children without their file, function or class);
  - the audit log holds a row for every committed document and deletion,
    with the status the call answered, and none of a rolled-back one;
    astpg.rejects holds every document rejected by a committed call.

Prints the seed, "ok - ..." / "not ok - ..." lines, a summary line per
isolation level and "N passed, N failed"; exits non-zero on any failure.
Connects with the PG* variables, to a database it creates (and drops,
unless --keep).

  test/writers.py [--sessions 8] [--ops 50] [--isolation all]
                  [--seed N] [--repos shared|per-session]
                  [--max-retry-rate PERCENT] [--pool N] [--preload N] [--keep]

--preload N first stores N more files in each repository (bulk/fK.py,
in batches, committed and analyzed before the sessions start), so that
the sessions write a few files of repositories of realistic size: at
SERIALIZABLE, predicate locks are taken on index pages, and on small
tables every repository shares the same few pages.
"""

import argparse
import collections
import hashlib
import io
import json
import random
import sys
import threading
import time

import psycopg2
import psycopg2.extensions

LEVELS = {
    "read-committed": psycopg2.extensions.ISOLATION_LEVEL_READ_COMMITTED,
    "repeatable-read": psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ,
    "serializable": psycopg2.extensions.ISOLATION_LEVEL_SERIALIZABLE,
}
POOL = 8                  # files per repository
MAX_ATTEMPTS = 100        # of one transaction, on 40001
EXAMPLES = 2              # error messages printed per SQLSTATE and call


def several_batches(p):
    """Is the operation a COPY of more than one of astpg's batches?  A batch
    ends before a path it holds comes again (and at 500 documents).
    (ingest_batch starts again from its first batch itself.)"""
    return p[0] == "inbox" and len(set(p[1])) < len(p[1])


def path_of(i):
    return "pkg/m%d.py" % i


def module_choices(i):
    # the usual module, a renamed one, one that several files share
    return ["pkg.m%d" % i, "pkg.m%d_v2" % i, "pkg.shared"]


class Docs:
    """Documents, built with astpg's defaults filled in, so that
    astpg.document() must give each back exactly."""

    def __init__(self):
        self.by_revision = {}
        self.invalid = set()
        self.lock = threading.Lock()

    def content(self, repo, i, variant, module):
        r = random.Random("%s/%d/%d/%s" % (repo, i, variant, module))
        targets = ([m for j in range(POOL) if j != i for m in module_choices(j)]
                   + [path_of(j) for j in range(POOL) if j != i]
                   + ["os", "json"])
        classes, functions = [], []
        line = 1
        for c in range(r.randrange(3)):
            name = "C%d_%d" % (i, c)
            classes.append({"name": name, "qualified_name": name,
                            "line_start": line, "line_end": line + 9,
                            "is_abstract": False,
                            "bases": ["object"] if c == 0 else []})
            if r.random() < 0.5:
                classes.append({"name": "Inner", "parent": name,
                                "qualified_name": name + ".Inner",
                                "line_start": line + 1, "line_end": line + 2,
                                "is_abstract": False, "bases": []})
            functions.append({"name": "method", "class": name,
                              "qualified_name": name + ".method",
                              "line_start": line + 3, "line_end": line + 8,
                              "complexity": 1 + r.randrange(5),
                              "is_async": False, "parameters": ["self"],
                              "decorators": [],
                              "calls": [{"name": "helper%d" % r.randrange(POOL),
                                         "line": line + 4}]})
            line += 10
        for f in range(1 + r.randrange(3)):
            functions.append({"name": "f%d" % f, "qualified_name": "f%d" % f,
                              "line_start": line, "line_end": line + 3,
                              "is_async": f == 2,
                              "parameters": [{"name": "x", "type": "int"}],
                              "decorators": [],
                              "calls": [{"name": "pkg.m%d.f0" % r.randrange(POOL),
                                         "line": line + 1 + k}
                                        for k in range(r.randrange(3))]})
            line += 4
        deps = [{"target": t, "kind": "import", "line": n + 1,
                 "strength": 1, "names": []}
                for n, t in enumerate(r.sample(targets, 1 + r.randrange(4)))]
        doc = {"astpg": 1, "repository": repo, "path": path_of(i),
               "language": "python", "size_bytes": 100 * line,
               "classes": classes, "functions": functions,
               "dependencies": deps, "metrics": {"loc": line}}
        if module is not None:
            doc["module"] = module
        return doc

    def make(self, rng, repo, i, revision, invalid=False):
        variant = rng.randrange(3)
        x = rng.random()
        mods = module_choices(i)
        module = mods[0] if x < 0.6 else mods[1] if x < 0.8 else \
            mods[2] if x < 0.95 else None
        doc = self.content(repo, i, variant, module)
        if rng.random() < 0.5:
            doc["content_hash"] = hashlib.sha256(
                json.dumps(doc, sort_keys=True).encode()).hexdigest()
        doc["revision"] = revision
        if invalid:
            doc["functions"][0]["line_end"] = 0
            with self.lock:
                self.invalid.add(revision)
        else:
            with self.lock:
                self.by_revision[revision] = doc
        return doc


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.commits = 0
        self.rollbacks = 0
        self.retries = 0
        self.multi_call_deadlocks = 0  # 40P01 of transactions of several calls, retried
        self.retried_at = collections.Counter()   # where the 40001s came
        self.attempts = 0
        self.refusals = 0          # invalid documents refused, as expected
        self.failures = collections.Counter()
        self.by_call = collections.Counter()      # (SQLSTATE, call)
        self.examples = collections.defaultdict(list)
        self.ops = []              # committed operations, see Session.op

    def fail(self, code, what, err):
        call = what.split("(")[0]
        with self.lock:
            self.failures[code] += 1
            self.by_call[(code, call)] += 1
            if len(self.examples[(code, call)]) < EXAMPLES:
                diag = getattr(err, "diag", None)
                if diag is not None and diag.message_primary:
                    msg = diag.message_primary
                    if diag.message_detail:
                        msg += " (%s)" % diag.message_detail.replace("\n", " ")
                    if diag.context:
                        msg += " [%s]" % diag.context.split("\n")[0][:100]
                else:
                    msg = str(err).strip()
                self.examples[(code, call)].append("%s: %s" % (what, msg))


class Session(threading.Thread):
    def __init__(self, n, args, db, level, docs, stats, repos):
        super().__init__(name="session-%d" % n)
        self.n = n
        self.args = args
        self.db = db
        self.level = level
        self.docs = docs
        self.stats = stats
        self.repos = repos
        self.rng = random.Random("%d/%s/%d" % (args.seed, level, n))
        self.counter = 0

    def revision(self):
        self.counter += 1
        return "s%d-%d" % (self.n, self.counter)

    def pick(self):
        return self.rng.choice(self.repos), self.rng.randrange(POOL)

    def doc(self, key, invalid=False):
        return self.docs.make(self.rng, key[0], key[1], self.revision(), invalid)

    # A transaction's operations: (kind, parameters...).  Documents are made
    # when the transaction is attempted, with fresh revisions each attempt.
    # Every transaction takes its files' locks in (repository, path) order:
    # transactions that lock the same rows in different orders deadlock
    # whatever astpg does (docs/guarantees.md, "Transactions and
    # concurrency"), so a deadlock here is astpg's own.  A batch, a COPY
    # or a delete_files is a transaction of its own, its documents sorted;
    # single ingests and deletes come one to three a transaction, sorted.
    def plan(self, budget):
        x = self.rng.random()
        if x < 0.20:
            keys = sorted(self.pick() for _ in range(self.rng.choice([1, 2, 3, 5, 8, 13, 20])))
            return [("batch", keys, self.rng.choice(["abort", "skip"]),
                     self.rng.randrange(len(keys)) if self.rng.random() < 0.15 else -1)]
        if x < 0.35:
            keys = sorted(self.pick() for _ in range(1 + self.rng.randrange(5)))
            return [("inbox", keys, self.rng.choice(["abort", "skip"]),
                     self.rng.randrange(len(keys)) if self.rng.random() < 0.15 else -1)]
        if x < 0.40:
            repo = self.rng.choice(self.repos)
            keep = self.rng.sample(range(POOL), POOL - 1 - self.rng.randrange(3))
            # the preloaded files are kept too: they are not the pool's
            return [("delete_files", repo, sorted([path_of(i) for i in keep] +
                                                  ["bulk/f%d.py" % k
                                                   for k in range(self.args.preload)]))]
        ops = []
        for _ in range(min(1 + self.rng.randrange(3), budget)):
            key = self.pick()
            # ingests and re-ingests, and a third as many deletes
            ops.append(("ingest" if self.rng.random() < 0.75 else "delete",) + key)
        ops.sort(key=lambda p: (p[1], path_of(p[2])))
        return ops

    def run(self):
        conn = psycopg2.connect(dbname=self.db,
                                application_name="writers-%d" % self.n)
        conn.set_session(isolation_level=LEVELS[self.level])
        with conn.cursor() as cur:
            cur.execute("SET statement_timeout = '120s'")
        conn.commit()
        done = 0
        while done < self.args.ops:
            plans = self.plan(self.args.ops - done)
            done += len(plans)
            commit = self.rng.random() < 0.85
            self.transaction(conn, plans, commit)
        conn.close()

    def transaction(self, conn, plans, commit):
        for attempt in range(MAX_ATTEMPTS):
            with self.stats.lock:
                self.stats.attempts += 1
            events = []
            started = time.monotonic()
            what = "connect"
            try:
                with conn.cursor() as cur:
                    for p in plans:
                        what = self.describe(p)
                        self.op(cur, p, events)
                    what = "commit" if commit else "rollback"
                    if commit:
                        conn.commit()
                    else:
                        conn.rollback()
            except psycopg2.Error as e:
                conn.rollback()
                # A transaction of several calls, or of a COPY that writes
                # several of astpg's batches (a path given twice), that
                # writes files importing others' may deadlock with another
                # transaction (docs/guarantees.md): its client retries, as
                # for 40001.  A transaction of one call otherwise never
                # sees a deadlock: astpg retries it itself.
                multi_call_deadlock = e.pgcode == "40P01" and (
                    len(plans) > 1 or several_batches(plans[0]) or
                    self.args.max_deadlock_rate is not None)
                if (e.pgcode == "40001" and self.level != "read-committed") or multi_call_deadlock:
                    with self.stats.lock:
                        self.stats.retries += 1
                        self.stats.retried_at[what.split("(")[0]] += 1
                        if multi_call_deadlock:
                            self.stats.multi_call_deadlocks += 1
                    # a client backs off before it retries
                    time.sleep(self.rng.uniform(0, min(0.5, 0.001 * 2 ** attempt)))
                    continue
                self.stats.fail(e.pgcode or "connection", what, e)
                return
            except AssertionError as e:
                conn.rollback()
                self.stats.fail("driver", what, e)
                return
            ended = time.monotonic()
            with self.stats.lock:
                if commit:
                    self.stats.commits += 1
                    for ev in events:
                        self.stats.ops.append(ev + (started, ended))
                else:
                    self.stats.rollbacks += 1
            return
        self.stats.fail("retries", "transaction",
                        Exception("40001 %d times in a row" % MAX_ATTEMPTS))

    @staticmethod
    def describe(p):
        if p[0] in ("batch", "inbox"):
            return "%s(%d documents, %s%s)" % (
                "ingest_batch" if p[0] == "batch" else "COPY astpg.inbox",
                len(p[1]), p[2], ", one invalid" if p[3] >= 0 else "")
        if p[0] == "delete_files":
            return "delete_files(%s, keeping %d)" % (p[1], len(p[2]))
        return "%s(%s, %s)" % ("ingest" if p[0] == "ingest" else "delete_file",
                               p[1], path_of(p[2]))

    # Runs one operation; appends to events what it did, as
    # ("store", repo, path, revision, status) (status None: not known),
    # ("reject", repo, path, revision) or ("delete", repo, path).
    def op(self, cur, p, events):
        kind = p[0]
        if kind == "ingest":
            d = self.doc(p[1:])
            cur.execute("SELECT status FROM astpg.ingest(%s::jsonb)",
                        (json.dumps(d),))
            events.append(("store", d["repository"], d["path"], d["revision"],
                           cur.fetchone()[0]))
        elif kind in ("batch", "inbox"):
            _, keys, on_error, bad = p
            size = len(keys)
            docs = [self.doc(key, invalid=(k == bad)) for k, key in enumerate(keys)]
            expect_refusal = bad >= 0 and on_error == "abort"
            if expect_refusal:
                cur.execute("SAVEPOINT refusal")
            try:
                if kind == "batch":
                    cur.execute("SELECT status FROM astpg.ingest_batch(%s::jsonb[], %s)",
                                ([json.dumps(d) for d in docs], on_error))
                    statuses = [r[0] for r in cur.fetchall()]
                else:
                    cur.execute("SET LOCAL astpg.on_error = %s", (on_error,))
                    text = "".join(json.dumps(d).replace("\\", "\\\\") + "\n"
                                   for d in docs)
                    cur.copy_expert("COPY astpg.inbox (doc) FROM STDIN",
                                    io.StringIO(text))
                    statuses = [None] * size
            except psycopg2.Error as e:
                if expect_refusal and e.pgcode == "22023":
                    cur.execute("ROLLBACK TO SAVEPOINT refusal")
                    with self.stats.lock:
                        self.stats.refusals += 1
                    return
                raise
            if expect_refusal:
                raise AssertionError("an invalid document was not refused")
            for k, (d, s) in enumerate(zip(docs, statuses)):
                if k == bad:
                    if s not in (None, "rejected"):
                        raise AssertionError("invalid document answered %s" % s)
                    events.append(("reject", d["repository"], d["path"], d["revision"]))
                else:
                    events.append(("store", d["repository"], d["path"],
                                   d["revision"], s))
        elif kind == "delete":
            cur.execute("SELECT astpg.delete_file(%s, %s)", (p[1], path_of(p[2])))
            if cur.fetchone()[0]:
                events.append(("delete", p[1], path_of(p[2])))
        elif kind == "delete_files":
            cur.execute("SELECT path FROM astpg.delete_files(%s, %s)", (p[1], p[2]))
            for (path,) in cur.fetchall():
                events.append(("delete", p[1], path))


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failed_names = []

    def check(self, what, got, want, detail=None):
        if got == want:
            print("ok - %s" % what)
            self.passed += 1
        else:
            print("not ok - %s: got %r, want %r" % (what, got, want))
            for line in (detail or [])[:5]:
                print("#   %s" % (line,))
            self.failed += 1
            self.failed_names.append(what)


def verify(conn, level, docs, stats, checks):
    cur = conn.cursor()
    cur.execute("SELECT astpg.resolve_dependencies()")
    conn.commit()
    name = lambda s: "%s: %s" % (level, s)

    cur.execute("""SELECT repository, path, count(*) FROM astpg.files
                    GROUP BY 1, 2 HAVING count(*) > 1""")
    dups = cur.fetchall()
    checks.check(name("one files row per (repository, path)"), len(dups), 0, dups)

    # the audit log, path by path
    cur.execute("""SELECT ingest_id, repository, path, revision, status, file_id
                     FROM astpg.ingests ORDER BY ingest_id""")
    audit = cur.fetchall()
    cur.execute("SELECT repository, path, file_id, revision FROM astpg.files")
    files = {(r, p): (fid, rev) for r, p, fid, rev in cur.fetchall()}
    history = collections.defaultdict(list)
    for row in audit:
        history[(row[1], row[2])].append(row)
    impossible, wrong_state = [], []
    last_change = {}
    for key, rows in history.items():
        stored = None              # revision stored, per the log
        for _, _, _, rev, status, fid in rows:
            ok = {"inserted": stored is None,
                  "replaced": stored is not None,
                  "unchanged": stored is not None,
                  "deleted": stored is not None and rev == stored}[status]
            if not ok:
                impossible.append((key, status, rev, "stored: %s" % stored))
            if status in ("inserted", "replaced"):
                stored = rev
            elif status == "deleted":
                stored = None
            if status != "unchanged":
                last_change[key] = (status, rev)
        now = files.get(key, (None, None))[1] if key in files else None
        if stored != now or (key in files) != (stored is not None):
            wrong_state.append((key, "log says %s" % stored,
                                "files says %s" % (files[key][1] if key in files else "absent")))
    for key in files:
        if key not in history:
            wrong_state.append((key, "no audit row", "stored"))
    checks.check(name("the audit log of every path is a possible history"),
                 len(impossible), 0, impossible)
    checks.check(name("every path's stored state is its last change in the audit log"),
                 len(wrong_state), 0, wrong_state)

    # valid documents that a skipping call rejected are failures, and are
    # not expected in the audit log
    cur.execute("""SELECT repository, path, document->>'revision', sqlstate, message
                     FROM astpg.rejects""")
    reject_rows = cur.fetchall()
    valid_rejected = [r for r in reject_rows if r[2] not in docs.invalid]
    for r in valid_rejected:
        stats.fail("rejected " + r[3], "on_error skip(valid document %s %s, revision %s)" % r[:3],
                   Exception(r[4]))
    checks.check(name("no valid document rejected"), len(valid_rejected), 0,
                 ["%s %s %s: %s %s" % r for r in valid_rejected])
    gone = {r[2] for r in valid_rejected}
    ops = [e for e in stats.ops if not (e[0] == "store" and (e[3] in gone or e[4] == "rejected"))]

    # against what the clients saw: no committed change started after the
    # stored state's change had committed.  Events end in (started, ended).
    audit_status = {row[3]: row[4] for row in audit if row[4] != "deleted"}
    def changes(e):
        return e[0] == "delete" or (e[0] == "store" and
                                    (e[4] or audit_status.get(e[3])) in ("inserted", "replaced"))
    by_revision = {}
    per_path = collections.defaultdict(list)
    for e in ops:
        if e[0] == "store":
            by_revision[e[3]] = e
        if e[0] in ("store", "delete"):
            per_path[(e[1], e[2])].append(e)
    stale = []
    for key, evs in per_path.items():
        if key in files:
            w = by_revision.get(files[key][1])
            if w is None:
                stale.append((key, "stored revision %s is no committed operation's" % files[key][1]))
                continue
            later = [e for e in evs if e is not w and e[-2] > w[-1] and changes(e)]
        else:
            deletes = [e for e in evs if e[0] == "delete"]
            if not deletes:
                if any(changes(e) for e in evs):
                    stale.append((key, "absent, but stored and never deleted"))
                continue
            w = max(deletes, key=lambda e: e[-1])
            later = [e for e in evs if e[0] == "store" and e[-2] > w[-1] and changes(e)]
        if later:
            stale.append((key, "state from %s, committed at %.3f" % (w[:4], w[-1]),
                          "but %s started at %.3f and committed" % (later[0][:5], later[0][-2])))
    checks.check(name("no committed change is newer than the stored state"),
                 len(stale), 0, stale)

    # astpg.document() against the document of the stored revision
    mismatched = []
    for (repo, path), (fid, rev) in sorted(files.items()):
        want = docs.by_revision.get(rev)
        if want is None:
            mismatched.append((repo, path, "unknown revision %s" % rev))
            continue
        cur.execute("SELECT astpg.document(%s) = %s::jsonb, astpg.document(%s)",
                    (fid, json.dumps(want), fid))
        same, got = cur.fetchone()
        if not same:
            diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
            mismatched.append((repo, path, rev, "keys differing: %s" % diff))
    checks.check(name("document() of every file is the document of its revision"),
                 len(mismatched), 0, mismatched)

    # dependencies, after resolve_dependencies()
    cur.execute("""
        WITH d AS (
            SELECT d.file_id, d.dependency_no, d.target, d.target_file_id,
                   f.repository, f.path,
                   COALESCE((SELECT min(t.file_id) FROM astpg.files t
                              WHERE t.repository = f.repository AND t.module = d.target),
                            (SELECT t.file_id FROM astpg.files t
                              WHERE t.repository = f.repository AND t.path = d.target)) AS want,
                   t.repository AS t_repository, t.module AS t_module, t.path AS t_path
              FROM astpg.dependencies d
              JOIN astpg.files f ON f.file_id = d.file_id
              LEFT JOIN astpg.files t ON t.file_id = d.target_file_id)
        SELECT CASE WHEN target_file_id IS NULL THEN 'unresolved'
                    WHEN t_repository IS DISTINCT FROM repository
                      OR (t_module IS DISTINCT FROM target AND t_path <> target)
                    THEN 'mismatched'
                    ELSE 'not the rule''s' END,
               repository, path, target, target_file_id, want, t_module, t_path
          FROM d
         WHERE target_file_id IS DISTINCT FROM want
         ORDER BY 1, 2, 3""")
    bad = collections.defaultdict(list)
    for row in cur.fetchall():
        bad[row[0]].append("%s %s -> %r: points at %s (module %s, path %s), want %s"
                           % (row[1], row[2], row[3], row[4], row[6], row[7], row[5]))
    checks.check(name("every resolved dependency points at a file whose module or path is its target"),
                 len(bad["mismatched"]), 0, bad["mismatched"])
    checks.check(name("every resolved dependency points at the lowest file_id of the module (or the path)"),
                 len(bad["not the rule's"]), 0, bad["not the rule's"])
    checks.check(name("no dependency that could be resolved is unresolved"),
                 len(bad["unresolved"]), 0, bad["unresolved"])

    # orphans
    cur.execute("""
        SELECT 'functions', count(*) FROM astpg.functions x
         WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = x.file_id)
        UNION ALL SELECT 'classes', count(*) FROM astpg.classes x
         WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = x.file_id)
        UNION ALL SELECT 'dependencies', count(*) FROM astpg.dependencies x
         WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = x.file_id)
        UNION ALL SELECT 'metrics', count(*) FROM astpg.metrics x
         WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = x.file_id)
        UNION ALL SELECT 'calls', count(*) FROM astpg.calls x
         WHERE NOT EXISTS (SELECT FROM astpg.functions g
                            WHERE g.function_id = x.function_id AND g.file_id = x.file_id)
        UNION ALL SELECT 'methods', count(*) FROM astpg.functions x
         WHERE x.class_id IS NOT NULL
           AND NOT EXISTS (SELECT FROM astpg.classes c
                            WHERE c.class_id = x.class_id AND c.file_id = x.file_id)
        UNION ALL SELECT 'nested classes', count(*) FROM astpg.classes x
         WHERE x.parent_id IS NOT NULL
           AND NOT EXISTS (SELECT FROM astpg.classes c
                            WHERE c.class_id = x.parent_id AND c.file_id = x.file_id)
        UNION ALL SELECT 'dependency targets', count(*) FROM astpg.dependencies x
         WHERE x.target_file_id IS NOT NULL
           AND NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = x.target_file_id)""")
    orphans = [r for r in cur.fetchall() if r[1]]
    checks.check(name("no orphan rows"), len(orphans), 0, orphans)

    # the audit log against the committed calls
    want = collections.Counter()
    rejected = collections.Counter()
    for ev in ops:
        if ev[0] == "store":
            want[(ev[1], ev[2], ev[3])] += 1
        elif ev[0] == "delete":
            want[(ev[1], ev[2], "deleted")] += 1
        else:
            rejected[(ev[1], ev[2], ev[3])] += 1
    got = collections.Counter()
    wrong_status = []
    stored_status = {ev[3]: ev[4] for ev in ops if ev[0] == "store"}
    for _, repo, path, rev, status, _ in audit:
        got[(repo, path, "deleted" if status == "deleted" else rev)] += 1
        if status != "deleted" and stored_status.get(rev) not in (None, status):
            wrong_status.append((repo, path, rev, "audit %s, call answered %s"
                                 % (status, stored_status[rev])))
    missing = list((want - got).items())
    extra = list((got - want).items())
    checks.check(name("every committed document and deletion has its audit row"),
                 len(missing), 0, missing)
    checks.check(name("no audit row of a rolled-back or unknown call"), len(extra), 0, extra)
    checks.check(name("audit statuses are those the calls answered"),
                 len(wrong_status), 0, wrong_status)
    got_rejects = collections.Counter(tuple(r[:3]) for r in reject_rows
                                      if r[2] in docs.invalid)
    checks.check(name("astpg.rejects holds exactly the invalid documents of committed calls"),
                 sorted((got_rejects - rejected).items()) + sorted((rejected - got_rejects).items()),
                 [])
    conn.commit()


def preload(conn, args, docs, stats):
    """args.preload files in each repository the sessions write, stored
    before they start; their modules and paths are not the pool's."""
    repos = (["writers-%d" % n for n in range(args.sessions)]
             if args.repos == "per-session" else ["alpha", "beta"])
    cur = conn.cursor()
    for repo in repos:
        for first in range(0, args.preload, 200):
            batch = []
            for k in range(first, min(first + 200, args.preload)):
                doc = docs.content(repo, POOL + k, 0, "bulk.f%d" % k)
                doc["path"] = "bulk/f%d.py" % k
                # imports of other bulk files, none of the pool's: a
                # renamed pool module does not retarget hundreds of rows
                for n, dep in enumerate(doc["dependencies"]):
                    dep["target"] = "bulk.f%d" % ((k * 7 + n * 13) % args.preload)
                doc["revision"] = "pre-%s-%d" % (repo, k)
                docs.by_revision[doc["revision"]] = doc
                batch.append(doc)
            started = time.monotonic()
            cur.execute("SELECT status FROM astpg.ingest_batch(%s::jsonb[])",
                        ([json.dumps(d) for d in batch],))
            statuses = [r[0] for r in cur.fetchall()]
            conn.commit()
            ended = time.monotonic()
            for d, s in zip(batch, statuses):
                stats.ops.append(("store", d["repository"], d["path"], d["revision"],
                                  s, started, ended))
    cur.execute("ANALYZE")
    conn.commit()


def run_level(args, level, checks):
    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    db = "astpg_writers"
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS %s" % db)
        cur.execute("CREATE DATABASE %s" % db)
    conn = psycopg2.connect(dbname=db)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION astpg CASCADE")
    conn.commit()

    docs, stats = Docs(), Stats()
    if args.preload:
        preload(conn, args, docs, stats)
    sessions = []
    for n in range(args.sessions):
        repos = ["writers-%d" % n] if args.repos == "per-session" else ["alpha", "beta"]
        sessions.append(Session(n, args, db, level, docs, stats, repos))
    t0 = time.monotonic()
    for s in sessions:
        s.start()
    for s in sessions:
        s.join()
    elapsed = time.monotonic() - t0

    before = len(checks.failed_names)
    verify(conn, level, docs, stats, checks)
    conn.close()
    if not args.keep:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE %s" % db)
    admin.close()
    invariants = checks.failed_names[before:]
    checks.check("%s: no error reached a client but retried 40001s" % level,
                 dict(stats.failures), {})

    attempts = stats.attempts
    if args.max_retry_rate is not None:
        serialization = stats.retries - stats.multi_call_deadlocks
        rate = 100.0 * serialization / max(attempts, 1)
        checks.check("%s: at most %g%% of attempts end in 40001 (%s repositories)"
                     % (level, args.max_retry_rate, args.repos),
                     rate <= args.max_retry_rate, True,
                     ["%.1f%%: %d of %d attempts" % (rate, serialization, attempts)])
    if args.max_deadlock_rate is not None:
        rate = 100.0 * stats.multi_call_deadlocks / max(attempts, 1)
        checks.check("%s: at most %g%% of attempts end in a deadlock (%s repositories)"
                     % (level, args.max_deadlock_rate, args.repos),
                     rate <= args.max_deadlock_rate, True,
                     ["%.1f%%: %d of %d attempts" % (rate, stats.multi_call_deadlocks,
                                                     attempts)])
    print("# %s: %d sessions x %d ops (%s repositories), %.1f s: %d commits, "
          "%d rollbacks, %d retries (40001: %.0f%% of %d attempts; deadlocks of "
          "transactions, retried: %d), "
          "%d expected refusals, failures: %s; invariants: %s"
          % (level, args.sessions, args.ops, args.repos, elapsed,
             stats.commits, stats.rollbacks, stats.retries,
             100.0 * (stats.retries - stats.multi_call_deadlocks) / max(attempts, 1),
             attempts, stats.multi_call_deadlocks, stats.refusals,
             ", ".join("%s %d" % kv for kv in sorted(stats.failures.items())) or "none",
             "all hold" if not invariants else
             "%d failed (%s)" % (len(invariants), "; ".join(
                 n.split(": ", 1)[1] for n in invariants))))
    if stats.retries:
        print("#   40001 raised by: %s" % ", ".join(
            "%s %d" % kv for kv in stats.retried_at.most_common()))
    if stats.by_call:
        print("#   failures by call: %s" % ", ".join(
            "%s %s %d" % (code, call, n) for (code, call), n in sorted(stats.by_call.items())))
    for (code, _), exs in sorted(stats.examples.items()):
        for ex in exs:
            print("#   %s %s" % (code, ex))
    return stats


def main():
    global POOL
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--ops", type=int, default=50,
                    help="operations per session (50: a short run; 2000: a long one)")
    ap.add_argument("--isolation", default="all",
                    choices=sorted(LEVELS) + ["all"])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--repos", default="shared", choices=["shared", "per-session"],
                    help="shared: two repositories for all; per-session: one each")
    ap.add_argument("--max-retry-rate", type=float, default=None, metavar="PERCENT",
                    help="fail if more than PERCENT of transaction attempts end in 40001")
    ap.add_argument("--max-deadlock-rate", type=float, default=None, metavar="PERCENT",
                    help="retry a deadlock (40P01) of any transaction, as a client "
                         "would, and fail if more than PERCENT of attempts end in one "
                         "(default: only transactions of several calls or several "
                         "batches are retried, and any other deadlock fails the run)")
    ap.add_argument("--pool", type=int, default=POOL, metavar="N",
                    help="files each session picks from, per repository (default %d)" % POOL)
    ap.add_argument("--preload", type=int, default=0, metavar="N",
                    help="store N more files in each repository before the sessions start")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    args = ap.parse_args()
    POOL = args.pool
    if args.seed is None:
        args.seed = random.randrange(1 << 31)
    print("# seed %d" % args.seed)
    levels = list(LEVELS) if args.isolation == "all" else [args.isolation]
    checks = Checks()
    for level in levels:
        run_level(args, level, checks)
    print("%d passed, %d failed" % (checks.passed, checks.failed))
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
