#!/usr/bin/env bash
#
# test/loader.sh: astpg-load end to end, against the server the PG*
# variables name (astpg and astpg-load installed).
#
# Nasty documents (backslashes, tabs, quotes, "\." lines, non-ASCII, CRLF
# line ends, blank lines, a 5 MB document) must arrive intact; counts, exit
# statuses, gzip and stdin input, --jobs, --on-error, --single-transaction,
# resuming with --skip after an error, lines that cannot be sent as text
# (not UTF-8, a NUL byte), and the report after an interrupt must all say
# what really happened.  Prints "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
load=${ASTPG_LOAD:-$(pg_config --bindir)/astpg-load}
db=astpg_loader
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$here/lib.sh"
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

# --- lines that cannot be sent as text: not UTF-8, a NUL byte --------------
# The server refuses a whole COPY for one such line; the loader must turn
# each into one reject in its place (skip) or stop exactly there (abort),
# and every later line must keep its number.  Document 150 holds a byte
# that is not UTF-8, 200 a raw NUL; 171, between them, is refused by the
# server, and its position shows that nothing shifted.
python3 - "$work/corpus.ndjson" "$work/bytes.ndjson" "$work/bytes-paths" <<'PY'
import json, sys
lines = open(sys.argv[1], "rb").read().splitlines()[:300]
lines[149] = b'{"path": "bad\xff.py", "language": "python", "repository": "generated"}'
lines[170] = b'{"path": "refused.py", "language": "python", "functions": [{"name": "f", "line_start": "x", "line_end": 1}]}'
lines[199] = b'{"path": "nul.py", "language": "python",\x00 "repository": "generated"}'
open(sys.argv[2], "wb").write(b"\n".join(lines) + b"\n")
# the paths to be stored, in input order
with open(sys.argv[3], "w") as out:
    for i, line in enumerate(lines):
        if i not in (149, 170, 199):
            out.write(json.loads(line)["path"] + "\n")
PY
stored_in_order() {
	sql -c "SELECT path FROM astpg.ingests WHERE status = 'inserted' ORDER BY ingest_id" | md5sum
}
rejects() {
	sql -c "SELECT string_agg(position || ':' || sqlstate, ' ' ORDER BY reject_id) FROM astpg.rejects"
}
want_order=$(md5sum < "$work/bytes-paths")
bad_utf8="line 150 of \"$work/bytes.ndjson\", byte offset 13: invalid byte sequence for encoding \"UTF8\": 0xff"
bad_nul="line 200 of \"$work/bytes.ndjson\", byte offset 40: a NUL byte cannot be converted to text"

fresh
run_load --on-error skip --batch 100 "$work/bytes.ndjson"
check "bad bytes, skip: exit status tells of rejects" "$status" 3
check "bad bytes, skip: every other document stored" "$(sql -c "SELECT count(*) FROM astpg.files")" 297
check "bad bytes, skip: the summary counts each line once" \
	"$(sed -n 's/.*inserted \([0-9]*\), .*rejected \([0-9]*\);.*/\1 \2/p' "$work/out")" "297 3"
check "bad bytes, skip: one reject each, in its own place, nothing shifted" "$(rejects)" "49:22021 70:22023 99:22P05"
check "bad bytes, skip: stored in input order, none lost or merged" "$(stored_in_order)" "$want_order"
check "bad bytes, skip: the document after each is stored" \
	"$(sql -c "SELECT count(*) FROM astpg.files WHERE path IN ('$(sed -n 150p "$work/bytes-paths")', '$(sed -n 198p "$work/bytes-paths")')")" 2
check "bad bytes, skip: not UTF-8, the message names line and offset" \
	"$(sql -c "SELECT message FROM astpg.rejects WHERE sqlstate = '22021'")" "$bad_utf8"
check "bad bytes, skip: a NUL byte, the message names line and offset" \
	"$(sql -c "SELECT message FROM astpg.rejects WHERE sqlstate = '22P05'")" "$bad_nul"
check "bad bytes, skip: document_text has the bad bytes written \\xHH" \
	"$(sql -c "SELECT string_agg(document_text, ' | ' ORDER BY reject_id) FROM astpg.rejects WHERE sqlstate <> '22023'")" \
	'{"path": "bad\xff.py", "language": "python", "repository": "generated"} | {"path": "nul.py", "language": "python",\x00 "repository": "generated"}'
check "bad bytes, skip: the detail numbers the document and says how it is written" \
	"$(sql -c "SELECT detail FROM astpg.rejects WHERE sqlstate = '22021'")" \
	'Document 150 of the input. document_text holds the line with each byte that is not UTF-8 or is NUL (1 in all) written as \xHH.'
check "bad bytes, skip: source and repository as for other inbox rejects" \
	"$(sql -c "SELECT string_agg(DISTINCT source || ',' || coalesce(repository, '-') || ',' || (repo_id = astpg.repo_id('')), ' ') FROM astpg.rejects WHERE sqlstate <> '22023'")" \
	"inbox,-,true"

fresh
run_load --batch 100 "$work/bytes.ndjson"
check "bad bytes, abort: exit status" "$status" 1
check "bad bytes, abort: the batches before it are committed, none of its own" \
	"$(sql -c "SELECT count(*) FROM astpg.files") $(sql -c "SELECT count(*) FROM astpg.rejects")" "100 0"
check "bad bytes, abort: it names the line" \
	"$(grep -cF "documents 101 to 150 not committed: $bad_utf8" "$work/err")" 1
check "bad bytes, abort: it says where to resume" "$(grep -c 'to resume: astpg-load --skip=100 ' "$work/out")" 1
run_load --batch 100 --on-error skip --skip "$(sed -n 's/.*to resume: astpg-load --skip=\([0-9]*\).*/\1/p' "$work/out")" "$work/bytes.ndjson"
check "bad bytes, resume with skip: exit status" "$status" 3
check "bad bytes, resume with skip: everything stored exactly once, in order" \
	"$(sql -c "SELECT count(*) || ' ' || count(DISTINCT path) FROM astpg.ingests") $(stored_in_order)" "297 297 $want_order"
check "bad bytes, resume with skip: positions in the resumed transactions" "$(rejects)" "49:22021 70:22023 99:22P05"

fresh
run_load --single-transaction --batch 100 "$work/bytes.ndjson"
check "bad bytes, single transaction: exit status" "$status" 1
check "bad bytes, single transaction: nothing committed" "$(sql -c "SELECT count(*) FROM astpg.files")" 0
check "bad bytes, single transaction: it says so" \
	"$(grep -cF "documents 1 to 150 not committed: $bad_utf8" "$work/err")" 1

gzip -c "$work/bytes.ndjson" > "$work/bytes.ndjson.gz"
fresh
run_load --on-error skip --jobs 2 --batch 50 "$work/bytes.ndjson.gz"
check "bad bytes, 2 jobs, gzip, skip: exit status" "$status" 3
check "bad bytes, 2 jobs, gzip, skip: every other document stored once" \
	"$(sql -c "SELECT count(*) || ' ' || count(DISTINCT path) FROM astpg.ingests")" "297 297"
check "bad bytes, 2 jobs, gzip, skip: one reject each, in its place" \
	"$(sql -c "SELECT string_agg(position || ':' || sqlstate, ' ' ORDER BY sqlstate) FROM astpg.rejects")" \
	"49:22021 20:22023 49:22P05"
fresh
run_load --jobs 2 --batch 50 "$work/bytes.ndjson.gz"
check "bad bytes, 2 jobs, abort: exit status" "$status" 1
check "bad bytes, 2 jobs, abort: the batches before it are committed" \
	"$(sql -c "SELECT count(*) FROM astpg.files") $(grep -c 'to resume: astpg-load --skip=100 ' "$work/out")" "100 1"
check "bad bytes, 2 jobs, abort: it names the line" \
	"$(grep -cF "documents 101 to 150 not committed: line 150 of \"$work/bytes.ndjson.gz\", byte offset 13" "$work/err")" 1

# astpg.record_reject(), which the loader records those lines with: for
# writers only, counted as a document of the transaction, and it stores
# only what the inbox itself would reject
sql_error() {
	psql -X -q -At -d "$db" -v VERBOSITY=verbose -c "$1" 2>&1 >/dev/null | sed -n 's/^ERROR:  //p'
}
psql -X -q -d postgres -c "DROP ROLE IF EXISTS astpg_loader_test_writer" \
	-c "DROP ROLE IF EXISTS astpg_loader_test_other" \
	-c "CREATE ROLE astpg_loader_test_writer IN ROLE astpg_writer" \
	-c "CREATE ROLE astpg_loader_test_other"
sql -c "GRANT USAGE ON SCHEMA astpg TO astpg_loader_test_other"
check "record_reject: counted as a rejected document of the transaction" \
	"$(sql -c "BEGIN" -c "SET ROLE astpg_loader_test_writer" -c "SELECT astpg.record_reject('a', '22021', 'm')" \
	       -c "SELECT astpg.record_reject('b', '22021', 'm', 'd')" \
	       -c "SELECT documents || ' ' || rejected FROM astpg.ingest_counts()" -c "COMMIT" | tr '\n' ' ')" "0 1 2 2 "
check "record_reject: stored as given" \
	"$(sql -c "SELECT string_agg(concat_ws(',', source, position, document_text, sqlstate, message, detail), ' ' ORDER BY reject_id) FROM astpg.rejects")" \
	"inbox,0,a,22021,m inbox,1,b,22021,m,d"
check "record_reject: only what the inbox would reject" \
	"$(sql_error "SET ROLE astpg_loader_test_writer; SELECT astpg.record_reject('a', '42501', 'm')")" \
	'22023: sqlstate must be of class 22, 23 or 54, not "42501"'
check "record_reject: not for PUBLIC" \
	"$(sql_error "SET ROLE astpg_loader_test_other; SELECT astpg.record_reject('a', '22021', 'm')")" \
	"42501: permission denied for function record_reject"

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

# --- --skip-unchanged: only what changed is sent ----------------------------
# A statement trigger on the inbox counts the COPYs that reach the server.
count_copies() {
	sql -c "CREATE TABLE copies (at timestamptz)" \
		-c "CREATE FUNCTION note_copy() RETURNS trigger LANGUAGE plpgsql AS
		    'BEGIN INSERT INTO copies VALUES (now()); RETURN NULL; END'" \
		-c "CREATE TRIGGER note_copy BEFORE INSERT ON astpg.inbox
		    FOR EACH STATEMENT EXECUTE FUNCTION note_copy()"
}
python3 - "$work/corpus.ndjson" "$work/again.ndjson" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
# the same documents written differently: an escaped key, and a key given
# twice, whose last value counts, as in jsonb
lines[10] = lines[10].replace('"path"', '"p\\u0061th"', 1)
lines[11] = '{"content_hash": "sha256:old", ' + lines[11][1:]
# changed: the last of two hashes, and a document really changed
lines[12] = lines[12][:-1] + ', "content_hash": "sha256:new"}'
d = json.loads(lines[13])
d["content_hash"], d["functions"] = "sha256:changed", []
lines[13] = json.dumps(d)
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
fresh
run_load --batch 100 "$work/corpus.ndjson"
count_copies
run_load --batch 100 --skip-unchanged "$work/corpus.ndjson"
check "skip-unchanged: exit status" "$status" 0
check "skip-unchanged: nothing sent" "$(sql -c "SELECT count(*) FROM copies")" 0
check "skip-unchanged: the summary counts them unchanged" \
	"$(sed -n 's/.*inserted \([0-9]*\), replaced \([0-9]*\), unchanged \([0-9]*\),.*/\1 \2 \3/p' "$work/out")" "0 0 600"
check "skip-unchanged: one unchanged audit row per document" \
	"$(sql -c "SELECT count(*) || ' ' || count(DISTINCT path) FROM astpg.ingests WHERE status = 'unchanged'")" "600 600"
run_load --batch 100 --skip-unchanged "$work/again.ndjson"
check "skip-unchanged, changes: exit status" "$status" 0
check "skip-unchanged, changes: only the changed ones sent" "$(sql -c "SELECT count(*) FROM copies")" 1
check "skip-unchanged, changes: the summary" \
	"$(sed -n 's/.*inserted \([0-9]*\), replaced \([0-9]*\), unchanged \([0-9]*\),.*/\1 \2 \3/p' "$work/out")" "0 2 598"
check "skip-unchanged, changes: stored and audited" \
	"$(sql -c "SELECT (SELECT count(*) FROM astpg.ingests WHERE status = 'unchanged') || ' ' ||
	                  (SELECT string_agg(content_hash, ',' ORDER BY content_hash) FROM astpg.ingests WHERE status = 'replaced')")" \
	"1198 sha256:changed,sha256:new"

# a path another writer changes between stored_hashes() and
# record_unchanged() is sent after all: here the first batch's COPY changes
# it, and the queue (two batches) holds the reader back until that commits
python3 - "$work/corpus.ndjson" "$work/raced.ndjson" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
d = json.loads(lines[20])
d["content_hash"] = "sha256:q"
new = [json.dumps(dict(d, path="x%d.py" % i, module="x%d" % i)) for i in range(3)]
open(sys.argv[2], "w").write("\n".join([json.dumps(d)] + new + [lines[21]]) + "\n")
PY
raced=$(sed -n 22p "$work/corpus.ndjson" | python3 -c 'import json, sys; print(json.load(sys.stdin)["path"])')
sql -c "CREATE FUNCTION race() RETURNS trigger LANGUAGE plpgsql AS
        'BEGIN UPDATE astpg.files SET content_hash = ''sha256:raced'' WHERE path = ''$raced''; RETURN NULL; END'" \
	-c "CREATE TRIGGER race BEFORE INSERT ON astpg.inbox FOR EACH STATEMENT EXECUTE FUNCTION race()"
run_load --batch 1 --skip-unchanged "$work/raced.ndjson"
check "skip-unchanged, raced: exit status" "$status" 0
check "skip-unchanged, raced: sent after all" \
	"$(sed -n 's/.*inserted \([0-9]*\), replaced \([0-9]*\), unchanged \([0-9]*\),.*/\1 \2 \3/p' "$work/out") $(sql -c "SELECT status FROM astpg.ingests WHERE path = '$raced' ORDER BY ingest_id DESC LIMIT 1")" \
	"3 2 0 replaced"

# a path sent twice in one transaction: the second is sent too (recording
# it unchanged would wait for the first's row lock, held to the end)
python3 - "$work/corpus.ndjson" "$work/twice.ndjson" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[30])
d["content_hash"] = "sha256:twice"
open(sys.argv[2], "w").write(json.dumps(d) + "\n" + json.dumps(d) + "\n")
PY
status=0
timeout 60 "$load" -d "$db" --no-progress -1 --batch 1 --skip-unchanged "$work/twice.ndjson" > "$work/out" 2> "$work/err" || status=$?
check "skip-unchanged, a path twice in one transaction: exit status" "$status" 0
check "skip-unchanged, a path twice in one transaction: both sent" \
	"$(sed -n 's/.*inserted \([0-9]*\), replaced \([0-9]*\), unchanged \([0-9]*\),.*/\1 \2 \3/p' "$work/out") $(sql -c "SELECT count(*) FROM copies WHERE at = (SELECT max(at) FROM copies)")" \
	"0 1 1 2"

# --- --sync: the stored files the input does not name are deleted -----------
python3 - "$work/corpus.ndjson" "$work/sync.ndjson" "$work/sync-ok.ndjson" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
# lines[5] is left out; lines[6] is refused, so its stored version stays
bad = json.loads(lines[6])
bad["content_hash"] = "sha256:bad"
bad["functions"] = [{"name": "f", "line_start": "x", "line_end": 1}]
other = json.dumps({"repository": "other", "path": "new.py", "language": "python"})
open(sys.argv[2], "w").write("\n".join(lines[:5] + [json.dumps(bad)] + lines[7:] + [other]) + "\n")
# then lines[7] goes too, and nothing is refused
open(sys.argv[3], "w").write("\n".join(lines[:5] + lines[6:7] + lines[8:]) + "\n")
PY
gone=$(sed -n 6p "$work/corpus.ndjson" | python3 -c 'import json, sys; print(json.load(sys.stdin)["path"])')
refused=$(sed -n 7p "$work/corpus.ndjson" | python3 -c 'import json, sys; print(json.load(sys.stdin)["path"])')
gone2=$(sed -n 8p "$work/corpus.ndjson" | python3 -c 'import json, sys; print(json.load(sys.stdin)["path"])')
fresh
run_load --batch 100 "$work/corpus.ndjson"
echo '{"repository": "other", "path": "kept.py", "language": "python"}' > "$work/other.ndjson"
run_load "$work/other.ndjson"
run_load --batch 100 --sync generated "$work/sync.ndjson"
check "sync, not all committed: exit status" "$status" 1
check "sync, not all committed: nothing deleted" \
	"$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 'generated'") $(grep -c deleted "$work/out" || true)" "600 0"
run_load --batch 100 --on-error skip --sync generated "$work/sync.ndjson"
check "sync, some rejected: exit status" "$status" 3
check "sync: the file left out is deleted, and audited" \
	"$(sql -c "SELECT count(*) FROM astpg.files WHERE path = '$gone'") $(sql -c "SELECT string_agg(path, ',') FROM astpg.ingests WHERE status = 'deleted'")" \
	"0 $gone"
check "sync: a refused document's stored version is kept" \
	"$(sql -c "SELECT content_hash <> 'sha256:bad' FROM astpg.files WHERE path = '$refused'")" t
check "sync: other repositories are loaded, not synced" \
	"$(sql -c "SELECT string_agg(path, ',' ORDER BY path) FROM astpg.files WHERE repository = 'other'")" "kept.py,new.py"
check "sync: the summary says how many were deleted" \
	"$(grep -c 'deleted 1 files of repository "generated"' "$work/out")" 1
run_load --batch 100 --skip-unchanged --sync generated "$work/sync-ok.ndjson"
check "sync with skip-unchanged: exit status" "$status" 0
check "sync with skip-unchanged: the summary" \
	"$(sed -n 's/.*inserted \([0-9]*\), replaced \([0-9]*\), unchanged \([0-9]*\),.*/\1 \2 \3/p' "$work/out") $(grep -c 'deleted 1 files' "$work/out")" \
	"0 0 598 1"
check "sync with skip-unchanged: what is stored" \
	"$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 'generated'") $(sql -c "SELECT count(*) FROM astpg.files WHERE path IN ('$gone', '$gone2')")" \
	"598 0"

psql -X -q -d postgres -c "DROP DATABASE $db" \
	-c "DROP ROLE astpg_loader_test_writer" -c "DROP ROLE astpg_loader_test_other"
finish
