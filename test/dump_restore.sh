#!/usr/bin/env bash
#
# test/dump_restore.sh: pg_dump keeps astpg's data.  Ingests the real sample
# documents and a generated corpus, keeps metric_history in monthly
# partitions (maintain()) with a file in two versions, refreshes the
# analytics, dumps the database, restores it into a new one, and
# compares every rebuilt document, the resolved dependencies, the audit log,
# the sequences and metric_history partition by partition; then checks that
# the restored analytics are empty until refreshed and, once refreshed, hold
# what the original's do, and that the functions built on them answer alike;
# then ingests into the restored copy.
# Against the server the PG* variables name; prints "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=astpg_dump_source
dst=astpg_dump_target
# the analytics refresh_analytics() fills; module_edges and file_summary
# are views of the tables, current without a refresh
views="class_hierarchy call_graph function_hotspots repository_summary"

. "$here/lib.sh"
# same "what" SQL: one assertion, that SQL gives the same text in both (and
# some text: two empty answers prove nothing)
same() {
	local want
	want=$(q $src "$2")
	[ -n "$want" ] || want="(an answer from the original)"
	check "$1" "$(q $dst "$2")" "$want"
}
fingerprint() {
	q "$1" "
	    SELECT md5(string_agg(astpg.document(file_id)::text, '|' ORDER BY file_id))
	           || ' ' || (SELECT count(*) FROM astpg.dependencies WHERE target_file_id IS NOT NULL)
	           || ' ' || (SELECT count(*) FROM astpg.ingests)
	      FROM astpg.files"
}
# each partition of metric_history: its bounds, whether the extension owns
# it, its rows and their digest (a partition's rows stay in it)
partitions="
    SELECT string_agg(format('%s %s member=%s rows=%s %s', c.relname,
                             pg_get_expr(c.relpartbound, c.oid),
                             EXISTS (SELECT FROM pg_depend d
                                      WHERE d.classid = 'pg_class'::regclass
                                        AND d.objid = c.oid AND d.deptype = 'e'),
                             h.n, h.digest), E'\n' ORDER BY c.relname)
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      LEFT JOIN (SELECT tableoid, count(*) AS n,
                        md5(string_agg(m::text, '|' ORDER BY m::text)) AS digest
                   FROM astpg.metric_history m GROUP BY tableoid) h ON h.tableoid = c.oid
     WHERE i.inhparent = 'astpg.metric_history'::regclass"
# a view's rows and their digest: ids are kept by the dump, so rows compare
# whole
view_rows() {
	echo "SELECT count(*) || ' ' || md5(COALESCE(string_agg(v::text, '|' ORDER BY v::text), ''))
	        FROM astpg.$1 v"
}

for db in $src $dst; do
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
python3 test/gen_corpus.py --files 50 --seed 5 > "$work/corpus.ndjson"
# The sample's versions are dated two months back, as if ingested before
# maintain() first ran: they stay in the DEFAULT partition, whose rows the
# dump keeps through pg_extension_config_dump.  The corpus's move into this
# month's partition, made by maintain(), which is no member of the
# extension and is dumped as a table of its own.  Then a new version of one
# file, so that its history holds two rows, one in each partition.
psql -X -q -v ON_ERROR_STOP=1 -d $src > "$work/source.out" <<SQL
CREATE EXTENSION astpg CASCADE;
CREATE TEMP TABLE staging (doc jsonb);
\copy staging FROM 'test/fixtures/stdlib-sample.ndjson' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
SELECT count(*) FROM staging, astpg.ingest(staging.doc);
UPDATE astpg.metric_history_default SET ingested_at = ingested_at - interval '2 months';
TRUNCATE staging;
\copy staging FROM '$work/corpus.ndjson' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
SELECT count(*) FROM staging, astpg.ingest(staging.doc);
SELECT * FROM astpg.maintain();
SQL
check "a new version of a file is stored" \
	"$(q $src "SELECT r.status FROM astpg.files f,
	       astpg.ingest(astpg.document(f.file_id)
	                    || '{\"revision\": \"3.12.1\", \"content_hash\": \"sha256:changed\"}'
	                    || jsonb_build_object('functions', astpg.document(f.file_id)->'functions'
	                       || '[{\"name\": \"added\", \"line_start\": 900, \"line_end\": 910,
	                             \"complexity\": 4}]')) r
	     WHERE f.repository = 'python3.11' AND f.path = 'json/decoder.py'")" replaced
check "its history holds both versions, in two partitions" \
	"$(q $src "SELECT string_agg(revision || ':' || (tableoid = 'astpg.metric_history_default'::regclass),
	                             ' ' ORDER BY ingested_at)
	             FROM astpg.metric_history
	            WHERE repository = 'python3.11' AND path = 'json/decoder.py'")" \
	"3.11.7:true 3.12.1:false"
check "the original's analytics hold rows once refreshed" \
	"$(q $src "SELECT bool_and(hotspots > 0) AND sum(calls) > 0 FROM astpg.refresh_analytics(false)")" t

pg_dump -d $src -f "$work/dump.sql" 2> "$work/pg_dump.err"
# Without ON_ERROR_STOP, so that one error does not hide what the rest
# restores; every error fails the first check.
status=0
psql -X -q -d $dst -f "$work/dump.sql" > "$work/restore.out" 2>&1 || status=$?
check "restore succeeds" "$status $(grep -E '^psql:.*(ERROR|FATAL):' "$work/restore.out" | head -3)" "0 "
check "restored data equals the original" "$(fingerprint $dst)" "$(fingerprint $src)"
check "sequences continue where they were" \
	"$(q $dst "SELECT last_value FROM astpg.functions_function_id_seq")" \
	"$(q $src "SELECT last_value FROM astpg.functions_function_id_seq")"
same "metric_history keeps its partitions, their bounds and their rows" "$partitions"
check "maintain() on the restored copy finds its months" \
	"$(q $dst "SELECT count(*) FROM astpg.maintain()
	            WHERE partition_name IN ($(q $src "SELECT string_agg(quote_literal(c.relname), ', ')
	                                                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	                                                WHERE i.inhparent = 'astpg.metric_history'::regclass"))")" 0

# pg_dump does not keep the analytics, which refresh_analytics() makes
# again: restored, they are as the extension script left them, empty, and
# analytics_refreshes is not dumped
check "the restored analytics are empty until refreshed" \
	"$(for v in $views; do q $dst "SELECT '$v=' || count(*) FROM astpg.$v"; done | paste -sd' ')" \
	"$(for v in $views; do echo "$v=0"; done | paste -sd' ')"
check "and analytics_refreshes says so by being empty" \
	"$(q $dst "SELECT count(*) FROM astpg.analytics_refreshes")" 0
check "refresh_analytics(false) refreshes every repository of the restored copy" \
	"$(q $dst "SELECT count(*) FROM astpg.refresh_analytics(false)")" \
	"$(q $src "SELECT count(DISTINCT repository) FROM astpg.files")"
for v in $views; do
	same "$v holds the original's rows" "$(view_rows "$v")"
done
same "analytics_refreshes counts the same rows" \
	"SELECT string_agg(repository || '=' || classes || ',' || calls || ',' || hotspots, ' ' ORDER BY repository)
	   FROM astpg.analytics_refreshes"
for v in module_edges file_summary; do
	same "$v (a view of the tables) holds the original's rows" "$(view_rows "$v")"
done
same "import_cycles gives the same components" \
	"SELECT string_agg(r.repository || ': ' || c::text, E'\n' ORDER BY r.repository, c.component)
	   FROM (SELECT DISTINCT repository FROM astpg.files) r, astpg.import_cycles(r.repository) c"
same "find_symbol gives the same answers" \
	"SELECT string_agg(p || ': ' || s::text, E'\n' ORDER BY p, n)
	   FROM unnest(ARRAY['JSONDecoder', 'json.decoder', 'dataclass', 'OrderdDict', 'mod1']) AS p,
	        astpg.find_symbol(p, NULL, 20) WITH ORDINALITY AS s(kind, id, qualified_name, repository,
	                                                           path, line, score, matched, n)"
same "the graph walks give the same answers" \
	"SELECT md5(string_agg(f.file_id || ' ' || w::text, '|' ORDER BY f.file_id, w::text))
	   FROM astpg.files f,
	        LATERAL (SELECT 'd' AS way, * FROM astpg.dependencies_of(f.file_id)
	                 UNION ALL SELECT 'r', * FROM astpg.dependents_of(f.file_id)) w"
check "a second refresh works on the restored copy" \
	"$(q $dst "SELECT count(*) FROM astpg.refresh_analytics()")" \
	"$(q $src "SELECT count(DISTINCT repository) FROM astpg.files")"

check "the restored copy takes new documents" \
	"$(q $dst "SELECT r.status FROM astpg.ingest('{\"path\": \"new.py\", \"language\": \"python\",
	     \"functions\": [{\"name\": \"f\", \"line_start\": 1, \"line_end\": 2}]}') r")" inserted
check "and their history goes to this month's partition" \
	"$(q $dst "SELECT tableoid::regclass FROM astpg.metric_history WHERE path = 'new.py'")" \
	"$(q $dst "SELECT 'astpg.metric_history_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')")"

for db in $src $dst; do
	psql -X -q -d postgres -c "DROP DATABASE $db"
done
finish
