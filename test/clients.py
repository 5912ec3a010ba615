"""test/clients.py: the client programs of docs/clients.md, as the page prints
them (test/doc_snippets.py takes them out of it), against a real server,
directly and through a transaction pooler.  Run by test/clients.sh, which
starts pgbouncer and passes --pooler HOST:PORT.

For each program (psql, psycopg2, psycopg 3, asyncpg, node-postgres, JDBC),
given the documents of test/copy_cases.py and one the format refuses, in a
repository of its own:
  - what it prints: the COPY's ingest_counts() read in the COPY's
    transaction (13 documents, 12 inserted, 1 rejected), ingest's file_id
    (the stored file's) and status, the batch's statuses, and the refused
    document's SQLSTATE 22023 and message;
  - what is stored: every document as sent (astpg.document()), and the two
    rejects (COPY's and the batch's) in astpg.rejects.
First directly, one program after another; then through the pooler, all at
once, so that their transactions share its two server connections.

Controls, so that a pass means something:
  - through the pooler, asyncpg's statement cache, psycopg 3's and JDBC's
    default prepared statements do fail (the pooler really moves
    transactions between server connections) while the settings the page
    gives do not;
  - JDBC's setString without ::jsonb fails with 42883 (stringtype=unspecified
    works); node-postgres gives file ids as BigInt with the page's type
    parser; ingest_counts() in autocommit after a COPY reads zeros.
Prints "N passed, N failed".
"""
import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import copy_cases  # noqa: E402
import doc_snippets  # noqa: E402

BAD = ('{"repository": %s, "path": "bad.py", "language": "python", '
       '"functions": [{"name": "f", "line_start": "1", "line_end": 2}]}')
ERROR = "error: 22023 document.functions[0].line_start must be an integer, not a string"
PROGRAMS = ["psql", "psycopg2", "psycopg3", "asyncpg", "node", "jdbc"]
passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - %s%s" % (what, ": " + str(detail)[:3000] if detail else ""))


class Run:
    """One program on one file: the command, and then what it printed."""

    def __init__(self, progs, program, mode, env, jdbc_url):
        self.program, self.repository = program, "clients-%s-%s" % (program, mode)
        self.dir = os.path.join(progs.dir, self.repository)
        os.makedirs(self.dir)
        self.lines = copy_cases.documents(self.repository, long_chars=30_000)
        self.path = os.path.join(self.dir, "docs.ndjson")
        with open(self.path, "w", encoding="utf-8") as f:
            for line in self.lines + [BAD % json.dumps(self.repository)]:
                f.write(line + "\n")
        self.env = env
        if program == "psql":
            self.args = ["bash", progs.path("psql-file.sh")]
        elif program in ("psycopg2", "psycopg3", "asyncpg"):
            self.args = ["/usr/bin/python3", progs.path("astpg_%s.py" % program), self.path]
        elif program == "node":
            self.args = ["node", progs.path("astpg.js"), self.path]
            self.env = dict(env, NODE_PATH=progs.node_env["NODE_PATH"])
        else:
            self.args = ["java", "-cp", progs.java_cp, "AstpgClient", jdbc_url, self.path]

    def start(self):
        self.proc = subprocess.Popen(self.args, cwd=self.dir, env=self.env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish(self):
        self.out, self.err = self.proc.communicate(timeout=300)
        return self.proc.returncode


def psql_as_lines(out):
    """psql's ingest_counts() table as the other programs' copy: line."""
    rows = out.split("\n")
    i = rows.index("COPY 0")
    names = [c.strip() for c in rows[i + 1].split("|")]
    values = [c.strip() for c in rows[i + 3].split("|")]
    return ["copy: " + " ".join("%s=%s" % nv for nv in zip(names, values))]


def verify(conn, run, label):
    name = "%s %s" % (label, run.program)
    if run.finish() != 0:
        check(name + ": runs", False, run.err)
        return
    lines = run.out.strip().split("\n")
    if run.program == "psql":
        lines = psql_as_lines(run.out)
    with conn.cursor() as cur:
        cur.execute("SELECT file_id FROM astpg.files WHERE repository = %s AND path = %s",
                    (run.repository, json.loads(run.lines[0])["path"]))
        file_id = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM astpg.rejects WHERE repository = %s", (run.repository,))
        rejects = cur.fetchone()[0]
    copy = lines[0]
    check(name + ": COPY's counts, read in its transaction",
          re.fullmatch(r"copy: documents=13 inserted=12 replaced=0 unchanged=0 rejected=1"
                       r" rows=[1-9][0-9]*", copy), copy)
    if run.program != "psql":
        check(name + ": ingest, batch, error", lines[1:] == [
            "ingest: file_id=%d status=replaced" % file_id,
            "batch: rejected=1 replaced=12", ERROR], lines[1:])
    def documents(repository):
        with conn.cursor() as cur:
            cur.execute("SELECT path, astpg.document(file_id)::text FROM astpg.files"
                        " WHERE repository = %s", (repository,))
            return dict(cur.fetchall())
    failures = copy_cases.compare(documents, run.lines, name)
    check(name + ": every document stored as sent", not failures, "; ".join(failures[:3]))
    check(name + ": the refused document in astpg.rejects, once a load",
          rejects == (1 if run.program == "psql" else 2), rejects)
    return copy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", default="astpg_clients")
    ap.add_argument("--pooler", required=True, help="HOST:PORT of pgbouncer")
    args = ap.parse_args()
    os.environ["PGDATABASE"] = args.database
    phost, pport = args.pooler.rsplit(":", 1)
    direct_env = dict(os.environ)
    pooled_env = dict(os.environ, PGHOST=phost, PGPORT=pport)
    conn = psycopg2.connect("")
    conn.autocommit = True
    work = tempfile.mkdtemp(prefix="astpg-clients-")
    try:
        progs = doc_snippets.prepare(work)
        direct_url = doc_snippets.jdbc_url(args.database)
        pooled_url = doc_snippets.jdbc_url(args.database, phost, pport)

        counts = set()
        for program in PROGRAMS:   # directly, one after another
            run = Run(progs, program, "direct", direct_env, direct_url)
            run.start()
            counts.add(verify(conn, run, "direct"))
        runs = [Run(progs, p, "pooled", pooled_env, pooled_url) for p in PROGRAMS]
        for run in runs:           # through the pooler, all at once
            run.start()
        for run in runs:
            counts.add(verify(conn, run, "pgbouncer"))
        check("every program reports the same counts", len(counts) == 1, counts)

        pooler_controls(progs, pooled_env, pooled_url)
        other_controls(conn, progs, direct_url)
    finally:
        shutil.rmtree(work)
        conn.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def pooler_controls(progs, env, url, n=20):
    """Prepared statements fail through the pooler unless turned off as
    docs/clients.md says: every other call another client holds a server
    connection in a transaction, so that the pooler moves this one."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        holder = psycopg2.connect("")
        def shuffle(i):
            if i % 2 == 0:
                holder.cursor().execute("SELECT 1")
            else:
                holder.commit()
        doc = '{"repository": "clients-prepared", "path": "p%d.py", "language": "python"}'

        async def asyncpg_failures(connect):
            conn = await connect()
            failures = collections.Counter()
            for i in range(n):
                shuffle(i)
                try:
                    await conn.fetchrow("SELECT status FROM astpg.ingest($1::jsonb)", doc % i)
                except Exception as e:   # asyncpg's own, from the server's
                    failures[getattr(e, "sqlstate", type(e).__name__)] += 1
            holder.commit()
            await conn.close()
            return dict(failures)

        def psycopg_failures(conn):
            import psycopg
            failures = collections.Counter()
            for i in range(n):
                shuffle(i)
                try:
                    conn.execute("SELECT status FROM astpg.ingest(%s::jsonb)", (doc % i,))
                except psycopg.Error as e:
                    failures[e.sqlstate] += 1
            holder.commit()
            conn.close()
            return dict(failures)

        import asyncpg
        import psycopg
        apg, py3 = progs.python("asyncpg"), progs.python("psycopg3")
        default = asyncio.run(asyncpg_failures(asyncpg.connect))
        documented = asyncio.run(asyncpg_failures(apg.connect))
        check("pgbouncer: asyncpg's statement cache fails (%s), statement_cache_size=0 does not"
              % default, default and not documented, documented)
        default = psycopg_failures(psycopg.connect(autocommit=True))
        documented = psycopg_failures(py3.connect())
        check("pgbouncer: psycopg 3's prepared statements fail (%s), prepare_threshold=None"
              " does not" % default, default and not documented, documented)
        holder.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    default = java(progs, "prepared", url, str(n))
    documented = java(progs, "prepared", url, str(n), "documented")
    check("pgbouncer: JDBC's prepared statements fail (%s), prepareThreshold=0 does not"
          % default.strip(), default.startswith("failures: {")
          and default.strip() != "failures: {}" and documented.strip() == "failures: {}",
          (default, documented))


def java(progs, *args):
    p = subprocess.run(["java", "-cp", progs.java_cp, "Harness"] + list(args),
                       capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else "exit %d: %s" % (p.returncode, p.stderr[-1500:])


def other_controls(conn, progs, url):
    doc = '{"repository": "clients-varchar", "path": "v.py", "language": "python"}'
    out = java(progs, "varchar", url, doc).strip().split("\n")
    check("JDBC: setString without ::jsonb is 42883, stringtype=unspecified works", out == [
        "setString: 42883 ERROR: function astpg.ingest(character varying) does not exist",
        "stringtype=unspecified: inserted"], out)

    node = ("const a = require(process.argv[1]); const pg = require('pg');"
            "(async () => { const c = new pg.Client(); await c.connect();"
            " const r = await a.ingest(c, JSON.parse(process.argv[2]));"
            " const n = await c.query('SELECT count(*) FROM astpg.files');"
            " console.log(typeof r.file_id, typeof n.rows[0].count); await c.end(); })()"
            ".catch((e) => { console.error(e.message); process.exit(1); });")
    out = subprocess.run(["node", "-e", node, progs.path("astpg.js"),
                          '{"repository": "clients-node", "path": "n.py", "language": "python"}'],
                         env=progs.node_env, capture_output=True, text=True)
    check("node-postgres: bigint comes back as BigInt", out.stdout.split() == ["bigint", "bigint"],
          out.stdout + out.stderr)

    # the mistake the page warns of: a COPY, then ingest_counts() in the
    # next transaction
    lines = copy_cases.documents("clients-autocommit", long_chars=10)
    path = os.path.join(progs.dir, "autocommit.ndjson")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    with conn.cursor() as cur, open(path, "rb") as f:
        cur.copy_expert(progs.python("psycopg2").COPY_CSV, f)
        cur.execute("SELECT documents, inserted FROM astpg.ingest_counts()")
        after = cur.fetchone()
        cur.execute("SELECT count(*) FROM astpg.files WHERE repository = 'clients-autocommit'")
        stored = cur.fetchone()[0]
    check("autocommit: ingest_counts() after the COPY's transaction reads zeros (%d stored)"
          % stored, after == (0, 0) and stored == len(lines), after)


if __name__ == "__main__":
    sys.exit(main())
