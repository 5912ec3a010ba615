#!/usr/bin/env bash
#
# test/loader.sh: astpg-load end to end, against the server the PG*
# variables name (astpg and astpg-load installed).
#
# Nasty documents (backslashes, tabs, quotes, "\." lines, non-ASCII, CRLF
# line ends, blank lines, a 5 MB document) must arrive intact; counts, exit
# statuses, gzip and stdin input, --jobs, --on-error, --single-transaction,
# resuming with --skip after an error, and the report after an interrupt
# must all say what really happened.  Prints "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
load=${ASTPG_LOAD:-$(pg_config --bindir)/astpg-load}
db=astpg_loader
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$here/lib.sh"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
fresh() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	sql -c "CREATE EXTENSION astpg CASCADE"
}
# run the loader; its exit status goes to $status, its output to $work/out
run_load() {
	status=0
	"$load" -d "$db" --no-progress "$@" > "$work/out" 2> "$work/err" || status=$?
}

# --- nasty documents arrive intact -------------------------------------
python3 - "$work/nasty.ndjson" "$work/nasty-expected.ndjson" <<'PY'
import json, sys
docs = [
    {"path": "C:\\dir\\file.c", "language": "c", "repository": "nasty",
     "revision": "tab\there, quote \" and backslash \\ and \\\\."},
    {"path": "\\.", "language": "c", "repository": "nasty"},
    {"path": "unicode/é😀.py", "language": "python", "repository": "nasty",
     "module": "naïve.模块", "functions": [{"name": "λ", "line_start": 1, "line_end": 1,
     "signature": "(ß='\\u00e9')", "calls": [{"name": "print\\n"}]}]},
    {"path": "nul-escaped.c", "language": "c", "repository": "nasty",
     "revision": "\\u0000 as text"},
    {"path": "big.py", "language": "python", "repository": "nasty",
     "ast": {"_type": "Module", "doc": "x" * 5_000_000}},
]
with open(sys.argv[1], "w", encoding="utf-8", newline="") as out:
    out.write("\n")                                     # a blank line first
    for i, d in enumerate(docs):
        text = json.dumps(d, ensure_ascii=(i == 0))
        out.write(text + ("\r\n" if i == 1 else "\n"))  # one CRLF line
        if i == 2:
            out.write("   \n")                          # a line of blanks
with open(sys.argv[2], "w", encoding="utf-8") as out:  # the same, plainly
    for d in docs:
        out.write(json.dumps(d) + "\n")
PY
fresh
sql -c "CREATE TABLE expected (doc jsonb)"
sql -c "\\copy expected FROM '$work/nasty-expected.ndjson' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
run_load "$work/nasty.ndjson"
check "nasty: exit status" "$status" 0
check "nasty: every document stored" "$(sql -c "SELECT count(*) FROM astpg.files")" 5
check "nasty: each arrives byte for byte" \
	"$(sql -c "SELECT count(*) FROM expected e JOIN astpg.files f ON f.path = e.doc->>'path'
	             WHERE f.revision IS NOT DISTINCT FROM e.doc->>'revision'
	               AND f.module IS NOT DISTINCT FROM e.doc->>'module'
	               AND f.ast IS NOT DISTINCT FROM e.doc->'ast'")" 5
check "nasty: nested strings too" \
	"$(sql -c "SELECT signature || '|' || (SELECT callee FROM astpg.calls) FROM astpg.functions")" \
	"(ß='\\u00e9')|print\\n"
check "nasty: the summary counts them" "$(sed -n 's/.*inserted \([0-9]*\),.*/\1/p' "$work/out")" 5

# --- a corpus: counts, gzip, stdin, jobs, unchanged ----------------------
python3 test/gen_corpus.py --files 600 --seed 9 > "$work/corpus.ndjson"
rows=$(python3 - "$work/corpus.ndjson" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    n += 1 + len(d["classes"]) + len(d["functions"]) + len(d["dependencies"]) \
        + len(d["metrics"]) + sum(len(f.get("calls", [])) for f in d["functions"])
print(n)
PY
)
fresh
run_load --batch 64 "$work/corpus.ndjson"
check "corpus: exit status" "$status" 0
check "corpus: rows in the summary" "$(sed -n 's/.*; \([0-9]*\) rows written/\1/p' "$work/out")" "$rows"
check "corpus: rows in the tables" \
	"$(sql -c "SELECT (SELECT count(*) FROM astpg.files) + (SELECT count(*) FROM astpg.classes)
	            + (SELECT count(*) FROM astpg.functions) + (SELECT count(*) FROM astpg.calls)
	            + (SELECT count(*) FROM astpg.dependencies) + (SELECT count(*) FROM astpg.metrics)")" "$rows"
gzip -c "$work/corpus.ndjson" > "$work/corpus.ndjson.gz"
run_load "$work/corpus.ndjson.gz"
check "gzip: all unchanged the second time" "$(sed -n 's/.*unchanged \([0-9]*\),.*/\1/p' "$work/out")" 600
fresh
status=0
"$load" -d "$db" --no-progress -j 2 --batch 50 < "$work/corpus.ndjson" > "$work/out" 2>&1 || status=$?
check "stdin, 2 jobs: exit status" "$status" 0
check "stdin, 2 jobs: every document stored" "$(sql -c "SELECT count(*) FROM astpg.files")" 600
check "stdin, 2 jobs: nothing left in the inbox" "$(sql -c "SELECT count(*) FROM astpg.inbox")" 0
check "stdin, 2 jobs: every dependency whose target is stored is resolved" \
	"$(sql -c "SELECT count(*) FROM astpg.dependencies d WHERE d.target_file_id IS NULL
	             AND EXISTS (SELECT FROM astpg.files f WHERE f.module = d.target)")" 0

# --- refused documents: skip, abort, resume --------------------------------
python3 - "$work/corpus.ndjson" "$work/bad.ndjson" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()[:300]
lines[249] = '{"path": "bad.py", "language": "python", "functions": [{"name": "f", "line_start": "x", "line_end": 1}]}'
lines[270] = '\\.'
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
fresh
run_load --on-error skip --batch 100 "$work/bad.ndjson"
check "skip: exit status tells of rejects" "$status" 3
check "skip: the good ones are stored" "$(sql -c "SELECT count(*) FROM astpg.files")" 298
check "skip: the bad ones are in astpg.rejects, whole" \
	"$(sql -c "SELECT string_agg(coalesce(document->>'path', document_text) || ':' || sqlstate, ' ' ORDER BY reject_id) FROM astpg.rejects")" \
	"bad.py:22023 \\.:22P02"

fresh
run_load --batch 100 "$work/bad.ndjson"
check "abort: exit status" "$status" 1
check "abort: batches before the bad one are committed" "$(sql -c "SELECT count(*) FROM astpg.files")" 200
check "abort: it says which documents failed" \
	"$(grep -c 'documents 201 to 300 not committed: .*document.functions\[0\].line_start must be an integer' "$work/err")" 1
check "abort: it says where to resume" "$(grep -c 'to resume: astpg-load --skip=200' "$work/out")" 1
run_load --batch 100 --skip 200 --on-error skip "$work/bad.ndjson"
check "resume: exit status" "$status" 3
check "resume: all but the two bad documents stored" "$(sql -c "SELECT count(*) FROM astpg.files")" 298
check "resume: nothing loaded twice" "$(sql -c "SELECT count(*) FROM astpg.ingests WHERE status <> 'inserted'")" 0

fresh
run_load --single-transaction --batch 100 "$work/bad.ndjson"
check "single transaction: exit status" "$status" 1
check "single transaction: nothing committed" "$(sql -c "SELECT count(*) FROM astpg.files")" 0

# --- an interrupt: the report matches the database ------------------------
python3 test/gen_corpus.py --files 4000 --seed 10 > "$work/long.ndjson"
fresh
status=0
"$load" -d "$db" --no-progress --batch 20 "$work/long.ndjson" > "$work/out" 2> "$work/err" &
pid=$!
sleep 2
kill -INT "$pid"
wait "$pid" || status=$?
stored=$(sql -c "SELECT count(*) FROM astpg.files")
check "interrupt: exit status" "$status" 1
check "interrupt: stopped before the end" "$([ "$stored" -lt 4000 ] && echo yes)" yes
check "interrupt: the resume point is what is stored" \
	"$(sed -n 's/.*to resume: astpg-load --skip=\([0-9]*\).*/\1/p' "$work/out")" "$stored"

# --- the progress bar, on a terminal --------------------------------------
fresh
script -q -e -c "$load -d $db --batch 100 $work/corpus.ndjson" "$work/tty" > /dev/null || true
check "progress: drawn on a terminal, to the end" \
	"$(tr '\r' '\n' < "$work/tty" | grep -q '600 documents .*documents/s .*MB/s .*\[=*\] 100%  ETA 0:00' && echo yes)" yes
check "progress: not drawn when stderr is not a terminal" \
	"$(grep -c 'ETA' "$work/err" || true)" 0

# --- usage -----------------------------------------------------------------
run_load --jobs 0 "$work/bad.ndjson"
check "usage: a bad option" "$status" 2
run_load "$work/does-not-exist.ndjson"
check "usage: a missing file" "$status" 1

psql -X -q -d postgres -c "DROP DATABASE $db"
finish
