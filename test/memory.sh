#!/usr/bin/env bash
#
# test/memory.sh [DOCUMENTS]
#
# Backend memory stays flat over a long load: astpg-load sends DOCUMENTS
# (default 100,000; 1,000,000 for the long run) small documents through
# one connection, in batches of 1,000, while this script samples the
# backend's private memory (RssAnon in /proc/PID/status: the heap, not the
# shared buffers it touches).  It compares the sample after the first
# 1,000 documents with the highest one seen later.  Against the server the
# PG* variables name, which must run on this machine.  Prints the figures
# and "N passed, N failed"; fails if memory grew by more than 4 MB.
set -euo pipefail
documents=${1:-100000}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
load=${ASTPG_LOAD:-$(pg_config --bindir)/astpg-load}
db=astpg_memory
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -c "CREATE EXTENSION astpg CASCADE"

# small documents of every part: a class, methods, calls, a dependency that
# resolves to the previous file, metrics; paths all distinct
python3 - "$documents" > "$work/docs.ndjson" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({
        "repository": "mem", "path": "m/f%d.py" % i, "module": "m.f%d" % i,
        "language": "python", "content_hash": "h%d" % i,
        "classes": [{"name": "C", "line_start": 1, "line_end": 20, "bases": ["B"]}],
        "functions": [{"name": "f%d" % j, "class": "C", "line_start": 2 + j,
                       "line_end": 2 + j, "decorators": ["d"],
                       "calls": [{"name": "g", "line": 2 + j}]} for j in range(3)],
        "dependencies": [{"target": "m.f%d" % max(i - 1, 0), "names": ["x"]}],
        "metrics": {"loc": 20}}))
PY

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
peak=0
while kill -0 "$loader" 2>/dev/null; do
	now=$(rss)
	[ -n "$now" ] || break
	if [ -z "$first" ] && [ "$(progress)" -ge 1000 ]; then
		first=$now
	fi
	[ -n "$first" ] && [ "$now" -gt "$peak" ] && peak=$now
	sleep 0.5
done
status=0
wait "$loader" || status=$?
cat "$work/out"

check "load: exit status" "$status" 0
check "a memory sample after 1,000 documents" "$([ -n "$first" ] && echo yes)" yes
growth=$(( ${peak:-0} - ${first:-0} ))
echo "backend RssAnon after 1,000 documents: ${first} kB; highest until document ${documents}: ${peak} kB; growth ${growth} kB"
check "memory flat: grew by at most 4 MB" "$([ "$growth" -le 4096 ] && echo yes)" yes
psql -X -q -d postgres -c "DROP DATABASE $db"
finish
