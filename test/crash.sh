#!/usr/bin/env bash
#
# test/crash.sh [FILES]
#
# A crash in the middle of a parallel load: astpg-load --jobs 2
# loads FILES generated documents (default 4000), and while it runs
#
#   phase 1: one of its backends is killed with SIGKILL (the postmaster
#            then resets every backend and recovers);
#   phase 2: the server is stopped with pg_ctl stop -m immediate (through
#            pg_ctl restart -m immediate, which starts it again with the
#            same options).
#
# After recovery: one files row per path, no orphan rows, an empty inbox,
# every stored file's audit row; then astpg-load again with the --skip it
# printed stores everything exactly once: every document stored, with
# every row of it, and each path inserted once and never replaced (the
# documents that were committed beyond the resume point come back
# unchanged), and no dependency that could be resolved unresolved.
#
# Runs against the server that the PG* variables name (astpg and
# astpg-load installed), which it restarts: it needs the right to run
# pg_ctl on its data directory (as root, it runs pg_ctl as the directory's
# owner).  Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail

files=${1:-4000}
here=$(cd "$(dirname "$0")" && pwd)
load=${ASTPG_LOAD:-$(pg_config --bindir)/astpg-load}
db=astpg_crash
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

. "$here/lib.sh"

# the server's data directory and owner, and where its log goes now (the
# postmaster's standard error), to keep it there across the restart
datadir=$(psql -X -At -d postgres -c "SHOW data_directory")
owner=$(stat -c %U "$datadir")
postmaster=$(head -1 "$datadir/postmaster.pid")
serverlog=$(readlink "/proc/$postmaster/fd/2" 2>/dev/null || true)
[ -f "$serverlog" ] || serverlog=$work/server.log
touch "$serverlog"
# what the server logged since the mark
log_mark() { mark=$(stat -c %s "$serverlog"); }
log_since() { tail -c +"$((mark + 1))" "$serverlog"; }
as_owner() {
	if [ "$(id -un)" = "$owner" ]; then
		"$@"
	else
		su "$owner" -c "$(printf '%q ' "$@")"
	fi
}
wait_ready() {
	for _ in $(seq 120); do
		if psql -X -q -At -d postgres -c "SELECT 1" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	echo "the server did not come back" >&2
	return 1
}

PYTHON=python3
python3 -c 'import json' 2>/dev/null || PYTHON=/usr/bin/python3
"$PYTHON" "$here/gen_corpus.py" --files "$files" --seed 12 > "$work/corpus.ndjson"
rows=$("$PYTHON" - "$work/corpus.ndjson" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    n += 1 + len(d["classes"]) + len(d["functions"]) + len(d["dependencies"]) \
        + len(d["metrics"]) + sum(len(f.get("calls", [])) for f in d["functions"])
print(n)
PY
)

# starts the load in the background, waits until both jobs are writing
# and a few batches are committed
start_load() {
	"$load" -d "$db" --no-progress --jobs 2 --batch 50 "$work/corpus.ndjson" \
		> "$work/out" 2> "$work/err" &
	loader=$!
	for _ in $(seq 200); do
		if [ "$(sql -c "SELECT count(*) >= 2 FROM pg_stat_activity
		                 WHERE datname = '$db' AND application_name = 'astpg-load'
		                   AND query LIKE 'COPY%'")" = t ] &&
		   [ "$(sql -c "SELECT count(*) FROM astpg.files")" -ge 300 ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "the load did not get going" >&2
}

# after the crash: the loader's report, then the invariants of a
# recovered database, then the resumed load and what it stored
after_crash() {
	local name=$1
	local status=0
	wait "$loader" || status=$?
	wait_ready
	local stored skip beyond
	stored=$(sql -c "SELECT count(*) FROM astpg.files")
	skip=$(sed -n 's/.*to resume: astpg-load --skip=\([0-9]*\).*/\1/p' "$work/out")
	beyond=$(sed -n 's/.*also committed: \([0-9]*\) later.*/\1/p' "$work/out")
	echo "# $name: $stored of $files stored, resume at --skip=$skip, ${beyond:-0} committed beyond it"
	check "$name: the loader says it did not finish" "$status" 1
	check "$name: stopped before the end" "$([ "$stored" -lt "$files" ] && echo yes)" yes
	check "$name: it printed where to resume" "$([ -n "$skip" ] && echo yes)" yes
	# a batch whose COMMIT went through but whose answer was lost is stored
	# without the loader knowing: more may be stored than it says, never less
	check "$name: what the loader says is committed is stored" \
		"$([ "$((${skip:-0} + ${beyond:-0}))" -le "$stored" ] && echo yes)" yes
	check_invariants "$name, recovered"
	local again=0
	"$load" -d "$db" --no-progress --jobs 2 --batch 50 --skip "${skip:-0}" \
		"$work/corpus.ndjson" > "$work/out2" 2> "$work/err2" || again=$?
	check "$name: the resumed load succeeds" "$again" 0
	check "$name, resumed: every document stored" "$(sql -c "SELECT count(*) FROM astpg.files")" "$files"
	check "$name, resumed: the rest inserted, those stored before the crash unchanged" \
		"$(sed -n 's/.*inserted \([0-9]*\), replaced \([0-9]*\), unchanged \([0-9]*\),.*/\1 \2 \3/p' "$work/out2")" \
		"$((files - stored)) 0 $((stored - ${skip:-0}))"
	check "$name, resumed: every row of them" \
		"$(sql -c "SELECT (SELECT count(*) FROM astpg.files) + (SELECT count(*) FROM astpg.classes)
		            + (SELECT count(*) FROM astpg.functions) + (SELECT count(*) FROM astpg.calls)
		            + (SELECT count(*) FROM astpg.dependencies) + (SELECT count(*) FROM astpg.metrics)")" "$rows"
	check "$name, resumed: each path inserted once, never replaced" \
		"$(sql -c "SELECT count(*) FILTER (WHERE status = 'inserted') || ' ' ||
		                  count(DISTINCT path) FILTER (WHERE status = 'inserted') || ' ' ||
		                  count(*) FILTER (WHERE status IN ('replaced', 'deleted'))
		             FROM astpg.ingests")" "$files $files 0"
	check_invariants "$name, resumed"
	check "$name, resumed: no dependency that could be resolved is unresolved" \
		"$(sql -c "SELECT count(*) FROM astpg.dependencies d JOIN astpg.files f USING (file_id)
		            WHERE d.target_file_id IS NULL
		              AND EXISTS (SELECT FROM astpg.files t WHERE t.repository = f.repository
		                             AND (t.module = d.target OR t.path = d.target))")" 0
}

check_invariants() {
	local name=$1
	check "$name: one files row per path" \
		"$(sql -c "SELECT count(*) FROM (SELECT FROM astpg.files GROUP BY repository, path
		                                  HAVING count(*) > 1) x")" 0
	check "$name: no orphan rows" \
		"$(sql -c "SELECT (SELECT count(*) FROM astpg.functions x WHERE NOT EXISTS
		                     (SELECT FROM astpg.files f WHERE f.file_id = x.file_id))
		            + (SELECT count(*) FROM astpg.classes x WHERE NOT EXISTS
		                     (SELECT FROM astpg.files f WHERE f.file_id = x.file_id))
		            + (SELECT count(*) FROM astpg.dependencies x WHERE NOT EXISTS
		                     (SELECT FROM astpg.files f WHERE f.file_id = x.file_id))
		            + (SELECT count(*) FROM astpg.metrics x WHERE NOT EXISTS
		                     (SELECT FROM astpg.files f WHERE f.file_id = x.file_id))
		            + (SELECT count(*) FROM astpg.calls x WHERE NOT EXISTS
		                     (SELECT FROM astpg.functions g WHERE g.function_id = x.function_id))")" 0
	check "$name: every stored file has the rows its audit row counts" \
		"$(sql -c "SELECT count(*) FROM astpg.files f JOIN astpg.ingests i
		                ON i.file_id = f.file_id AND i.status = 'inserted'
		            WHERE (i.classes, i.functions, i.calls, i.dependencies, i.metrics)
		                  IS DISTINCT FROM
		                  ((SELECT count(*) FROM astpg.classes x WHERE x.file_id = f.file_id)::int,
		                   (SELECT count(*) FROM astpg.functions x WHERE x.file_id = f.file_id)::int,
		                   (SELECT count(*) FROM astpg.calls x WHERE x.file_id = f.file_id)::int,
		                   (SELECT count(*) FROM astpg.dependencies x WHERE x.file_id = f.file_id)::int,
		                   (SELECT count(*) FROM astpg.metrics x WHERE x.file_id = f.file_id)::int)")" 0
	check "$name: every stored file has its audit row, and only they" \
		"$(sql -c "SELECT (SELECT count(*) FROM astpg.files f WHERE NOT EXISTS
		                     (SELECT FROM astpg.ingests i WHERE i.file_id = f.file_id
		                         AND i.status = 'inserted'))
		            + (SELECT count(*) FROM astpg.ingests i WHERE NOT EXISTS
		                     (SELECT FROM astpg.files f WHERE f.file_id = i.file_id))")" 0
	check "$name: nothing left in the inbox" "$(sql -c "SELECT count(*) FROM astpg.inbox")" 0
	check "$name: the indexes are sound (amcheck)" \
		"$(sql -c "CREATE EXTENSION IF NOT EXISTS amcheck" \
		       -c "SELECT count(*) FROM (SELECT bt_index_check(c.oid, true)
		             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		             JOIN pg_am a ON a.oid = c.relam
		            WHERE a.amname = 'btree' AND c.relkind = 'i' AND c.relnamespace = 'astpg'::regnamespace
		              AND c.relpersistence = 'p' AND i.indisvalid) x" | tail -1)" \
		"$(sql -c "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		             JOIN pg_am a ON a.oid = c.relam
		            WHERE a.amname = 'btree' AND c.relkind = 'i' AND c.relnamespace = 'astpg'::regnamespace
		              AND c.relpersistence = 'p' AND i.indisvalid")"
}

# --- phase 1: SIGKILL of a loading backend --------------------------------
fresh
start_load
victim=$(sql -c "SELECT pid FROM pg_stat_activity
                  WHERE datname = '$db' AND application_name = 'astpg-load'
                    AND query LIKE 'COPY%' ORDER BY state = 'active' DESC, pid LIMIT 1")
log_mark
kill -9 "$victim" 2>/dev/null || as_owner kill -9 "$victim"
after_crash "kill -9"
check "kill -9: the server reset its backends and recovered" \
	"$(log_since | grep -c -e "(PID $victim) was terminated by signal 9" \
	                      -e "database system is ready to accept connections" || true)" 2

# --- phase 2: pg_ctl stop -m immediate --------------------------------------
fresh
start_load
log_mark
as_owner "$(pg_config --bindir)/pg_ctl" restart -D "$datadir" -m immediate -w -s \
	-l "$serverlog" >/dev/null
after_crash "stop -m immediate"
check "stop -m immediate: the server recovered from an immediate shutdown" \
	"$(log_since | grep -c -e "received immediate shutdown request" \
	                      -e "database system was not properly shut down; automatic recovery in progress" || true)" 2

psql -X -q -d postgres -c "DROP DATABASE $db"
finish
