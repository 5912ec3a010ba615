#!/usr/bin/env bash
#
# test/writers.sh [OPS]
#
# Many writers: test/writers.py runs 8 sessions of OPS operations
# each (default 50) that ingest, re-ingest, batch-ingest, COPY into the inbox
# and delete overlapping files that import each other, at READ COMMITTED,
# REPEATABLE READ and SERIALIZABLE, and then checks the invariants: one row
# per (repository, path), every file's rows are the document last stored
# for it, dependencies resolved to the right file, no orphan rows, an audit
# row for every committed call and none for a rolled-back one.  Only a
# serialization failure may reach a client, and only at REPEATABLE READ or
# SERIALIZABLE (it retries).  Then 8 SERIALIZABLE sessions that each write a
# repository of their own, which share nothing: at most MAX_RETRY_RATE
# percent (default 10) of their transactions may fail with 40001.
#
# Runs against the server that the PG* variables name (astpg installed), in
# a database of its own.  Prints the seed (WRITERS_SEED=N repeats a run),
# "N passed, N failed" per part, and exits non-zero on any failure.
set -euo pipefail

ops=${1:-50}
here=$(cd "$(dirname "$0")" && pwd)
seed=${WRITERS_SEED:-$RANDOM}

# psycopg2 comes with Debian's python3 (tools/install-deps); a python3 of
# one's own on PATH may lack it
python=python3
if ! python3 -c 'import psycopg2' 2>/dev/null; then
	python=/usr/bin/python3
fi

status=0
# Deadlocks: a writer sets other files' dependency rows (resolving them to
# its file, or clearing them as it deletes its file), so transactions that
# write files importing each other can deadlock.  astpg retries a call of
# one batch that is its transaction's first write itself, so none of those
# may fail; a transaction of several calls or batches is retried here, as
# its client must (docs/guarantees.md).
"$python" "$here/writers.py" --sessions 8 --ops "$ops" --isolation all \
	--repos shared --seed "$seed" || status=1
"$python" "$here/writers.py" --sessions 8 --ops "$ops" --isolation serializable \
	--repos per-session --seed "$seed" \
	--max-retry-rate "${MAX_RETRY_RATE:-75}" || status=1
exit $status
