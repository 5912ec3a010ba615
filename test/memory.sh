#!/usr/bin/env bash
#
# test/memory.sh [--long | DOCUMENTS]
#
# Backend memory stays flat over a long load, measured as the backend's
# private memory (RssAnon in /proc/PID/status: the heap, not the shared
# buffers it touches), in two ways, DOCUMENTS small documents each
# (default 10,000, about half a minute; --long: 100,000, four to ten
# minutes on two cores; 1,000,000 for a run of an hour or more):
#
#   one session:      astpg-load sends them through one connection, in
#                     batches of 1,000 (a transaction each), while this
#                     script samples the backend twice a second;
#   one transaction:  psql calls astpg.ingest once per document between one
#                     BEGIN and COMMIT, and the backend reads its own
#                     RssAnon after the 1,000th document, after every tenth
#                     of the run, and after the last (pg_read_file: run it
#                     as a superuser).
#
# Each prints the backend's RssAnon at the start (after the first 1,000
# documents, when caches and plans are warm), the end (after the last) and
# the highest seen, and fails if the end or the highest is more than 4 MB
# above the start.  Against the server the PG* variables name, which must
# run on this machine.  Prints "N passed, N failed".
set -euo pipefail
documents=${1:-10000}
[ "$documents" = --long ] && documents=100000
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
load=${ASTPG_LOAD:-$(pg_config --bindir)/astpg-load}
db=astpg_memory
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
limit=4096

if [ "$documents" -lt 2000 ]; then
	echo "memory.sh: DOCUMENTS must be at least 2,000" >&2
	exit 2
fi

# the figures and the two checks of one run: NAME START END PEAK
judge() {
	echo "$1: backend RssAnon at the start (document 1,000) ${2} kB, at the end (document ${documents}) ${3} kB, highest ${4} kB"
	check "$1: a sample at the start and at the end" "$([ -n "$2" ] && [ -n "$3" ] && echo yes)" yes
	check "$1: memory flat: end at most 4 MB above the start" \
		"$([ $((${3:-0} - ${2:-0})) -le $limit ] && echo yes)" yes
	check "$1: memory flat: highest at most 4 MB above the start" \
		"$([ $((${4:-0} - ${2:-0})) -le $limit ] && echo yes)" yes
}

# small documents of every part: a class, methods, calls, a dependency that
# resolves to the previous file, metrics; paths all distinct.  As NDJSON for
# astpg-load, or (sql) as psql input: one transaction, one astpg.ingest per
# document, and a line "rss N KB" after document 1,000, every tenth of the
# run and the last.
generate() {
	python3 - "$documents" "$1" <<'PY'
import json, sys
n, form = int(sys.argv[1]), sys.argv[2]
rss = ("\\o\nSELECT 'rss ' || %d || ' ' || substring(pg_catalog.pg_read_file("
       "'/proc/self/status') from 'RssAnon:\\s+(\\d+)');\n\\o /dev/null")
marks = {1000, n} | {n * k // 10 for k in range(1, 10)}
if form == "sql":
    print("\\set ON_ERROR_STOP 1\n\\o /dev/null\nBEGIN;")
for i in range(n):
    doc = json.dumps({
        "repository": "mem", "path": "m/f%d.py" % i, "module": "m.f%d" % i,
        "language": "python", "content_hash": "h%d" % i,
        "classes": [{"name": "C", "line_start": 1, "line_end": 20, "bases": ["B"]}],
        "functions": [{"name": "f%d" % j, "class": "C", "line_start": 2 + j,
                       "line_end": 2 + j, "decorators": ["d"],
                       "calls": [{"name": "g", "line": 2 + j}]} for j in range(3)],
        "dependencies": [{"target": "m.f%d" % max(i - 1, 0), "names": ["x"]}],
        "metrics": {"loc": 20}})
    if form == "sql":
        print("SELECT astpg.ingest('%s');" % doc.replace("'", "''"))
        if i + 1 in marks:
            print(rss % (i + 1))
    else:
        print(doc)
if form == "sql":
    print("COMMIT;")
PY
}

# --- one session: astpg-load, a transaction per 1,000 documents ---------
fresh
generate ndjson > "$work/docs.ndjson"
"$load" -d "$db" --no-progress --batch 1000 "$work/docs.ndjson" > "$work/out" 2>&1 &
loader=$!
pid=
for _ in $(seq 100); do
	pid=$(psql -X -At -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'astpg-load' LIMIT 1")
	[ -n "$pid" ] && break
	sleep 0.1
done
rss() { awk '/^RssAnon/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true; }
progress() { psql -X -At -d "$db" -c "SELECT count(*) FROM astpg.ingests"; }

first=
last=
peak=0
while kill -0 "$loader" 2>/dev/null; do
	now=$(rss)
	[ -n "$now" ] || break
	if [ -z "$first" ] && [ "$(progress)" -ge 1000 ]; then
		first=$now
	fi
	if [ -n "$first" ]; then
		last=$now
		[ "$now" -gt "$peak" ] && peak=$now
	fi
	sleep 0.5
done
status=0
wait "$loader" || status=$?
cat "$work/out"
check "one session: load exit status" "$status" 0
check "one session: every document stored" "$(progress)" "$documents"
judge "one session" "$first" "$last" "$peak"

# --- one transaction: astpg.ingest per document, one COMMIT -------------
fresh
generate sql > "$work/docs.sql"
status=0
psql -X -q -At -d "$db" -f "$work/docs.sql" > "$work/rss" 2> "$work/err" || status=$?
cat "$work/err"
check "one transaction: psql exit status" "$status" 0
check "one transaction: every document stored" \
	"$(psql -X -At -d "$db" -c "SELECT count(*) FROM astpg.files")" "$documents"
first=$(awk '$1 == "rss" && $2 == 1000 { print $3 }' "$work/rss")
last=$(awk -v n="$documents" '$1 == "rss" && $2 == n { print $3 }' "$work/rss")
peak=$(awk '$1 == "rss" && $3 > max { max = $3 } END { print max }' "$work/rss")
judge "one transaction" "$first" "$last" "$peak"

psql -X -q -d postgres -c "DROP DATABASE $db"
finish
