#!/usr/bin/env bash
#
# test/dump_restore.sh: pg_dump keeps astpg's data.  Ingests the real sample
# documents and a generated corpus, dumps the database, restores it into a
# new one, and compares every rebuilt document, the resolved dependencies,
# the audit log and the sequences; then ingests into the restored copy.
# Against the server the PG* variables name; prints "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=astpg_dump_source
dst=astpg_dump_target

. "$here/lib.sh"
fingerprint() {
	psql -X -At -d "$1" -c "
	    SELECT md5(string_agg(astpg.document(file_id)::text, '|' ORDER BY file_id))
	           || ' ' || (SELECT count(*) FROM astpg.dependencies WHERE target_file_id IS NOT NULL)
	           || ' ' || (SELECT count(*) FROM astpg.ingests)
	      FROM astpg.files"
}

for db in $src $dst; do
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
python3 test/gen_corpus.py --files 50 --seed 5 > "$work/corpus.ndjson"
psql -X -q -v ON_ERROR_STOP=1 -d $src <<SQL
CREATE EXTENSION astpg;
CREATE TEMP TABLE staging (doc jsonb);
\copy staging FROM 'test/fixtures/stdlib-sample.ndjson' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
\copy staging FROM '$work/corpus.ndjson' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
SELECT count(*) FROM staging, astpg.ingest(staging.doc);
SQL

pg_dump -d $src -f "$work/dump.sql" 2> "$work/pg_dump.err"
status=0
psql -X -q -v ON_ERROR_STOP=1 -d $dst -f "$work/dump.sql" > "$work/restore.out" 2>&1 || status=$?
check "restore succeeds" "$status" 0
check "restored data equals the original" "$(fingerprint $dst)" "$(fingerprint $src)"
check "sequences continue where they were" \
	"$(psql -X -At -d $dst -c "SELECT last_value FROM astpg.functions_function_id_seq")" \
	"$(psql -X -At -d $src -c "SELECT last_value FROM astpg.functions_function_id_seq")"
check "the restored copy takes new documents" \
	"$(psql -X -At -d $dst -c "SELECT r.status FROM astpg.ingest('{\"path\": \"new.py\", \"language\": \"python\",
	     \"functions\": [{\"name\": \"f\", \"line_start\": 1, \"line_end\": 2}]}') r")" inserted

for db in $src $dst; do
	psql -X -q -d postgres -c "DROP DATABASE $db"
done
finish
