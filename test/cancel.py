#!/usr/bin/python3
"""test/cancel.py: a cancel stops an ingest promptly and leaves nothing.

Issue 10: pg_cancel_backend() and statement_timeout, during the ingest of a
huge document or of a large batch, stop it within 100 ms and leave nothing
written.  This driver makes three loads:

  calls   one document of 300,000 functions and 300,000 calls (28 MB)
  ast     one document whose "ast" is some 100 MB of JSON
  batch   2,000 ordinary documents

and sends them through each entry point: astpg.ingest(jsonb) and
astpg.ingest_batch(jsonb[]) (the documents are stored in the database
first, so that what is measured is astpg, not the parse of a 100 MB SQL
literal), and COPY astpg.inbox (doc) FROM STDIN (the text itself, as a
loader sends it).  Each statement is cancelled at several moments after it
starts, by pg_cancel_backend() from a second session or by its own
statement_timeout.  The latency is the time from the pg_cancel_backend()
call (or from the moment the timeout expires) to the client's seeing
SQLSTATE 57014.  For COPY it counts from the later of that moment and the
end of the data: a client learns of an error in COPY FROM STDIN only when
it has sent all its data (libpq), which is the protocol, not astpg.

After every cancel: no files, audit (ingests) or rejects row exists and the
same backend answers a query.  Prints each trial, then the median and the
maximum per entry point and document, and "N passed, N failed"; exits 1 if
a check failed or a latency exceeded the threshold.

  /usr/bin/python3 test/cancel.py                 the short run (test/run)
  /usr/bin/python3 test/cancel.py --long          more moments, repeated
  /usr/bin/python3 test/cancel.py --threshold-ms 100

Against the server the PG* variables name; it creates (and drops first)
the database astpg_cancel.  astpg must be installed.
"""
import argparse
import io
import statistics
import sys
import threading
import time

import psycopg2
import psycopg2.extensions

DB = "astpg_cancel"
QUERY_CANCELED = "57014"

passed = 0
failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        print("ok - %s" % what)
        passed += 1
    else:
        print("not ok - %s%s" % (what, ": " + detail if detail else ""))
        failed += 1


# ---------------------------------------------------------------- documents

def calls_document(functions):
    """One document of FUNCTIONS functions, each with one call."""
    head = ('{"astpg":1,"repository":"cancel","path":"huge/calls.py",'
            '"module":"huge.calls","language":"python",'
            '"content_hash":"calls","functions":[')
    body = ",".join(
        '{"name":"f%d","line_start":%d,"line_end":%d,'
        '"calls":[{"name":"g%d","line":%d}]}' % (i, i + 1, i + 1, i % 1000, i + 1)
        for i in range(functions))
    return head + body + "]}"


def ast_document(megabytes):
    """One document whose ast holds MEGABYTES of JSON in small nodes."""
    node = ('{"_type":"Call","func":{"_type":"Name","id":"name%d",'
            '"ctx":"Load"},"args":[%d,"s%d"],"lineno":%d}')
    count = megabytes * 1000000 // 112
    body = ",".join(node % (i, i, i % 5000, i) for i in range(count))
    return ('{"astpg":1,"repository":"cancel","path":"huge/ast.py",'
            '"module":"huge.ast","language":"python","content_hash":"ast",'
            '"ast":{"_type":"Module","body":[' + body + ']}}')


def batch_documents(count):
    """COUNT ordinary documents: a class, methods, calls, a dependency."""
    docs = []
    for i in range(count):
        functions = ",".join(
            '{"name":"m%d","class":"C","line_start":%d,"line_end":%d,'
            '"calls":[{"name":"g","line":%d},{"name":"h","line":%d}]}'
            % (j, 2 + j, 2 + j, 2 + j, 2 + j) for j in range(10))
        docs.append(
            '{"astpg":1,"repository":"cancel","path":"batch/f%d.py",'
            '"module":"batch.f%d","language":"python","content_hash":"b%d",'
            '"classes":[{"name":"C","line_start":1,"line_end":20}],'
            '"functions":[%s],"dependencies":[{"target":"batch.f%d"}],'
            '"metrics":{"loc":20}}' % (i, i, i, functions, max(i - 1, 0)))
    return docs


def copy_text(docs):
    """The documents as COPY text data, one a line."""
    out = []
    for d in docs:
        out.append(d.replace("\\", "\\\\").replace("\n", "\\n")
                   .replace("\r", "\\r").replace("\t", "\\t"))
    return ("\n".join(out) + "\n").encode()


class Source(io.RawIOBase):
    """COPY data that notes when the client has sent its last byte."""

    def __init__(self, data):
        self.data = memoryview(data)
        self.at = 0
        self.sent = None

    def readable(self):
        return True

    def read(self, size=-1):
        if self.at >= len(self.data):
            if self.sent is None:
                self.sent = time.perf_counter()
            return b""
        size = len(self.data) if size < 0 else size
        chunk = self.data[self.at:self.at + size]
        self.at += len(chunk)
        return bytes(chunk)


# ---------------------------------------------------------------- the server

def connect(dbname):
    conn = psycopg2.connect(dbname=dbname, application_name="astpg-cancel")
    return conn


def prepare(docs):
    admin = connect("postgres")
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute("DROP DATABASE IF EXISTS " + DB)
    cur.execute("CREATE DATABASE " + DB)
    admin.close()

    conn = connect(DB)
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION astpg CASCADE")
    # stored uncompressed: fetching them is then no part of what is measured
    cur.execute("CREATE TABLE cancel_source (name text PRIMARY KEY, doc jsonb)")
    cur.execute("ALTER TABLE cancel_source ALTER doc SET STORAGE EXTERNAL")
    cur.execute("CREATE TABLE cancel_batch (n int PRIMARY KEY, doc jsonb)")
    cur.execute("CREATE TEMP TABLE load (name text, n int, doc text)")
    rows = io.StringIO()
    for name in ("calls", "ast"):
        rows.write("%s\t\\N\t" % name)
        rows.write(copy_text([docs[name]]).decode())
    for n, d in enumerate(docs["batch"]):
        rows.write("batch\t%d\t" % n)
        rows.write(copy_text([d]).decode())
    rows.seek(0)
    cur.copy_expert("COPY load FROM STDIN", rows)
    cur.execute("INSERT INTO cancel_source SELECT name, doc::jsonb FROM load"
                " WHERE n IS NULL")
    cur.execute("INSERT INTO cancel_batch SELECT n, doc::jsonb FROM load"
                " WHERE name = 'batch'")
    conn.commit()
    conn.close()


STATEMENTS = {
    "ingest": "SELECT r.status FROM cancel_source s, astpg.ingest(s.doc) r"
              " WHERE s.name = '%s'",
    "ingest_batch": "SELECT count(*) FROM astpg.ingest_batch(("
                    "SELECT array_agg(doc ORDER BY n) FROM %s))",
}


def written(cur):
    cur.execute("SELECT (SELECT count(*) FROM astpg.files),"
                " (SELECT count(*) FROM astpg.ingests),"
                " (SELECT count(*) FROM astpg.rejects),"
                " (SELECT count(*) FROM astpg.inbox)")
    return cur.fetchone()


def trial(worker, pid, control, entry, doc, copy_data, how, ms):
    """One statement, cancelled ms after it starts (by pg_cancel_backend()
    or by statement_timeout); returns the latency in ms, or None when it
    ended before the cancel."""
    wcur = worker.cursor()
    if how == "timeout":
        wcur.execute("SET statement_timeout = %d" % ms)
    outcome = {}
    started = threading.Event()
    source = Source(copy_data) if entry == "inbox" else None

    def run():
        try:
            started.set()
            outcome["start"] = time.perf_counter()
            if entry == "inbox":
                wcur.copy_expert("COPY astpg.inbox (doc) FROM STDIN", source,
                                 size=1 << 20)
            elif entry == "ingest_batch" and doc == "batch":
                wcur.execute(STATEMENTS[entry] % "cancel_batch")
            elif entry == "ingest_batch":
                wcur.execute(STATEMENTS[entry] %
                             "(SELECT 0 AS n, doc FROM cancel_source"
                             " WHERE name = '%s') s" % doc)
            else:
                wcur.execute(STATEMENTS[entry] % doc)
            outcome["result"] = "completed"
        except psycopg2.Error as e:
            outcome["result"] = e.pgcode
            outcome["message"] = str(e).strip().splitlines()[0]
        outcome["end"] = time.perf_counter()

    thread = threading.Thread(target=run)
    thread.start()
    started.wait()
    cancelled = None
    if how == "cancel":
        time.sleep(ms / 1000.0)
        if thread.is_alive():
            cancelled = time.perf_counter()
            control.cursor().execute("SELECT pg_cancel_backend(%s)", (pid,))
    thread.join()
    worker.rollback()
    if how == "timeout":
        wcur.execute("RESET statement_timeout")
        worker.commit()
        cancelled = outcome["start"] + ms / 1000.0

    what = "%s %s, %s at %d ms" % (entry, doc, how, ms)
    wcur.execute("SELECT pg_backend_pid()")
    check(what + ": the backend still answers", wcur.fetchone()[0] == pid)
    worker.rollback()
    left = written(control.cursor())
    control.rollback()
    check(what + ": nothing written", left == (0, 0, 0, 0),
          "files, ingests, rejects, inbox: %s" % (left,))

    if outcome["result"] == "completed":
        print("# %s: ended after %.0f ms, before the cancel" %
              (what, (outcome["end"] - outcome["start"]) * 1000))
        return None
    check(what + ": SQLSTATE 57014", outcome["result"] == QUERY_CANCELED,
          "%s %s" % (outcome["result"], outcome.get("message")))
    if outcome["result"] != QUERY_CANCELED:
        return None
    since = cancelled
    if source is not None and source.sent is not None:
        since = max(since, source.sent)
    latency = (outcome["end"] - since) * 1000
    print("# %s: canceled %.1f ms after %s" %
          (what, latency,
           "the end of the data" if since != cancelled else "the " + how))
    return latency


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true",
                        help="more moments, each repeated")
    parser.add_argument("--threshold-ms", type=float, default=100.0,
                        help="fail above this latency (default 100)")
    parser.add_argument("--only", help="entry:doc[,entry:doc...] to run")
    parser.add_argument("--moments",
                        help="how:ms[,how:ms...] (how: cancel or timeout)"
                             " instead of the default moments")
    args = parser.parse_args()

    if args.long:
        moments = [("cancel", ms) for ms in (50, 100, 200, 350, 500, 800,
                                              1200, 2000, 3000, 5000)]
        moments += [("timeout", ms) for ms in (50, 200, 1000, 3000)]
        repeat = 3
    else:
        moments = [("cancel", 50), ("cancel", 200), ("cancel", 500),
                   ("timeout", 300)]
        repeat = 1
    if args.moments:
        moments = [(m.split(":")[0], int(m.split(":")[1]))
                   for m in args.moments.split(",")]

    t = time.perf_counter()
    docs = {"calls": calls_document(300000), "ast": ast_document(100),
            "batch": batch_documents(2000)}
    copy_data = {name: copy_text([docs[name]]) for name in ("calls", "ast")}
    copy_data["batch"] = copy_text(docs["batch"])
    print("# documents: calls %.1f MB, ast %.1f MB, batch %d of %.1f MB"
          " (%.1f s)" % (len(docs["calls"]) / 1e6, len(docs["ast"]) / 1e6,
                         len(docs["batch"]), len(copy_data["batch"]) / 1e6,
                         time.perf_counter() - t))
    t = time.perf_counter()
    prepare(docs)
    print("# loaded into %s (%.1f s)" % (DB, time.perf_counter() - t))

    cases = [("ingest", "calls"), ("ingest", "ast"),
             ("ingest_batch", "batch"), ("ingest_batch", "calls"),
             ("inbox", "calls"), ("inbox", "ast"), ("inbox", "batch")]
    if args.only:
        wanted = [tuple(c.split(":")) for c in args.only.split(",")]
        cases = [c for c in cases if c in wanted]

    worker = connect(DB)
    control = connect(DB)
    wcur = worker.cursor()
    wcur.execute("SELECT pg_backend_pid()")
    pid = wcur.fetchone()[0]
    worker.rollback()

    summary = []
    for entry, doc in cases:
        latencies = []
        for _ in range(repeat):
            for how, ms in moments:
                latency = trial(worker, pid, control, entry, doc,
                                copy_data.get(doc), how, ms)
                if latency is not None:
                    latencies.append(latency)
        control.autocommit = True
        control.cursor().execute("VACUUM astpg.files")
        control.autocommit = False
        summary.append((entry, doc, latencies))

    print("# latency from the cancel to 57014 at the client, ms:")
    print("# %-13s %-6s %3s %8s %8s" % ("entry", "doc", "n", "median", "max"))
    for entry, doc, latencies in summary:
        if latencies:
            print("# %-13s %-6s %3d %8.1f %8.1f" %
                  (entry, doc, len(latencies), statistics.median(latencies),
                   max(latencies)))
        else:
            print("# %-13s %-6s   0" % (entry, doc))
    for entry, doc, latencies in summary:
        worst = max(latencies) if latencies else 0.0
        check("%s %s: every cancel within %.0f ms" %
              (entry, doc, args.threshold_ms), worst <= args.threshold_ms,
              "the slowest took %.1f ms" % worst)
        check("%s %s: at least one cancel landed" % (entry, doc),
              len(latencies) > 0)
    worker.close()
    control.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
