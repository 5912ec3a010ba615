#!/usr/bin/env bash
#
# test/concurrency.sh [ITERATIONS]
#
# Several sessions writing one (repository, path) at once must end with
# exactly one complete copy, no unique-violation or deadlock error may reach
# them, and no reader may ever see a mix of two versions.
#
#   phase 1: two pgbench sessions re-ingest one path ITERATIONS times each
#            (default 200), choosing one of two versions at random, while a
#            third session compares every snapshot it can take with both
#            versions (astpg.document() against each, in one statement);
#   phase 2: the same with delete_file mixed in, so that the two writers
#            keep racing to insert a path that is not stored.
#
# Runs against the server that the PG* variables name (astpg installed),
# in a database of its own.  Prints "N passed, N failed" and exits non-zero
# on any failure.
set -euo pipefail

iterations=${1:-200}
here=$(cd "$(dirname "$0")" && pwd)
db=astpg_concurrency
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$here/lib.sh"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"

# two versions of one file: two realistic documents given the same path
python3 "$here/gen_corpus.py" --files 2 --seed 11 > "$work/versions.ndjson"
sql <<EOF
CREATE EXTENSION astpg CASCADE;
\set versions_text \`cat $work/versions.ndjson\`
\i $here/fixtures/normalize.sql
CREATE TABLE versions AS
SELECT n AS version,
       line::jsonb || '{"repository": "conc", "path": "conc/target.py", "module": "conc.target"}' AS doc
  FROM regexp_split_to_table(:'versions_text', E'\n') WITH ORDINALITY AS t(line, n)
 WHERE line <> '';
ALTER TABLE versions ADD COLUMN expected jsonb;
UPDATE versions SET expected = pg_temp.normalize_document(doc);
CREATE TABLE writers_done (phase text);
EOF

# A reader that compares every snapshot with both versions until the
# writers of phase $1 are done.  Each SELECT is one snapshot.
reader() {
	local phase=$1
	sql <<EOF
DO \$\$
DECLARE
    snapshots int := 0;
    mixed int := 0;
    copies int;
    matches int;
    deadline timestamptz := clock_timestamp() + interval '10 minutes';
BEGIN
    LOOP
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
                   SELECT FROM versions v WHERE v.expected = astpg.document(f.file_id)))
          INTO copies, matches
          FROM astpg.files f
         WHERE f.repository = 'conc' AND f.path = 'conc/target.py';
        snapshots := snapshots + 1;
        IF copies > 1 OR matches <> copies THEN
            mixed := mixed + 1;
        END IF;
        EXIT WHEN EXISTS (SELECT FROM writers_done WHERE phase = '$phase')
               OR clock_timestamp() > deadline;
    END LOOP;
    RAISE NOTICE 'snapshots=% mixed=%', snapshots, mixed;
END
\$\$;
EOF
}

writer_script() {
	cat > "$work/ingest.sql" <<'EOF'
\set v random(1, 2)
SELECT r.status FROM versions v, astpg.ingest(v.doc) r WHERE v.version = :v;
EOF
	cat > "$work/delete.sql" <<'EOF'
SELECT astpg.delete_file('conc', 'conc/target.py');
EOF
}
writer_script

run_phase() {
	local name=$1
	shift
	reader "$name" > "$work/$name.reader" 2>&1 &
	local reader_pid=$!
	local status=0
	pgbench -n -c 2 -j 2 -t "$iterations" "$@" "$db" > "$work/$name.pgbench" 2>&1 || status=$?
	sql -c "INSERT INTO writers_done VALUES ('$name')"
	wait "$reader_pid" || true

	check "$name: pgbench exit status" "$status" 0
	check "$name: no failed or aborted transaction" \
		"$(grep -cE 'aborted|ERROR|failed transactions: [1-9]' "$work/$name.pgbench" || true)" 0
	check "$name: transactions processed" \
		"$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/$name.pgbench")" \
		"$((2 * iterations))"
	local snapshots mixed
	snapshots=$(sed -n 's/.*snapshots=\([0-9]*\) mixed=.*/\1/p' "$work/$name.reader")
	mixed=$(sed -n 's/.*snapshots=[0-9]* mixed=\([0-9]*\).*/\1/p' "$work/$name.reader")
	check "$name: reader saw no mix of versions ($snapshots snapshots)" "${mixed:-missing}" 0
	check "$name: stored copies are complete versions" \
		"$(sql -c "SELECT count(*) FROM astpg.files f WHERE f.path = 'conc/target.py'
		             AND NOT EXISTS (SELECT FROM versions v WHERE v.expected = astpg.document(f.file_id))")" 0
	check "$name: no row outlives its file" \
		"$(sql -c "SELECT (SELECT count(*) FROM astpg.functions) + (SELECT count(*) FROM astpg.calls)
		            + (SELECT count(*) FROM astpg.classes) + (SELECT count(*) FROM astpg.dependencies)
		            + (SELECT count(*) FROM astpg.metrics)
		            - COALESCE((SELECT jsonb_array_length(d->'functions') + jsonb_array_length(d->'classes')
		                               + jsonb_array_length(d->'dependencies')
		                               + (SELECT count(*) FROM jsonb_object_keys(d->'metrics'))
		                               + (SELECT count(*) FROM jsonb_array_elements(d->'functions') fn,
		                                         jsonb_array_elements(fn->'calls'))
		                          FROM astpg.files f, astpg.document(f.file_id) d
		                         WHERE f.path = 'conc/target.py'), 0)")" 0
}

# phase 1: 2 x ITERATIONS ingests of one path
run_phase "re-ingest" -f "$work/ingest.sql"
check "re-ingest: exactly one stored copy" \
	"$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 'conc'")" 1
check "re-ingest: one insert, the rest replaced or unchanged" \
	"$(sql -c "SELECT count(*) FILTER (WHERE status = 'inserted') || '/' ||
	                  count(*) FILTER (WHERE status IN ('replaced', 'unchanged'))
	             FROM astpg.ingests WHERE repository = 'conc'")" "1/$((2 * iterations - 1))"

# phase 2: the same path deleted and re-inserted under contention
sql -c "DELETE FROM astpg.ingests"
run_phase "ingest-and-delete" \
	-f "$work/ingest.sql@3" -f "$work/delete.sql@1"
check "ingest-and-delete: at most one stored copy" \
	"$(sql -c "SELECT count(*) <= 1 FROM astpg.files WHERE repository = 'conc'")" t

psql -X -q -d postgres -c "DROP DATABASE $db"
finish
