#!/usr/bin/env bash
#
# test/standby.sh: astpg on a hot standby.  Starts a streaming standby of the
# server the PG* variables name (pg_basebackup -R into a temporary directory,
# its own port and socket, the same binaries: $(pg_config --bindir)), loads
# real documents on the primary (test/fixtures/stdlib-sample.ndjson and the
# email package of this machine's Python, through astpg-load), refreshes the
# views, and once the standby has replayed it all:
#
#   - every read function (every function of schema astpg that astpg_reader
#     may execute, taken from the catalog) answers on the standby, as the
#     role astpg_reader, exactly as on the primary; so does every table and
#     view astpg_reader may read.  The calls are in READS below: a read
#     function added to astpg without a call there fails the test;
#   - every writer (the functions only astpg_writer may execute, COPY and
#     INSERT into astpg.inbox) fails on the standby, as astpg_writer, with
#     SQLSTATE 25006 and "cannot execute ... in a read-only transaction"
#     (or "during recovery"), and the standby stays up;
#   - after a second load and refresh on the primary, the standby follows.
#
#   test/standby.sh             (astpg and astpg-load installed; the server
#                                must allow replication connections, as
#                                initdb's and Debian's pg_hba.conf do)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
. "$here/lib.sh"

db=astpg_standby
reader=astpg_standby_reader
writer=astpg_standby_writer
bindir=$(pg_config --bindir)
work=$(mktemp -d)
standby=$work/data
sport=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# the server runs as postgres when we are root
as_server=()
[ "$(id -u)" -eq 0 ] && as_server=(runuser -u postgres --)

stop_standby() {
	[ -f "$standby/postmaster.pid" ] &&
		"${as_server[@]}" "$bindir/pg_ctl" -D "$standby" -m immediate stop >/dev/null 2>&1
	return 0
}
cleanup() {
	stop_standby
	rm -rf "$work"
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" \
		-c "DROP ROLE IF EXISTS $reader" -c "DROP ROLE IF EXISTS $writer" >/dev/null 2>&1 || true
}
trap cleanup EXIT

primary() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
# the standby, over its own socket, as a role of our choice
on_standby() {
	local role=$1
	shift
	PGPASSWORD= psql -X -q -At -h "$work" -p "$sport" -U "$role" -d "$db" "$@"
}

# --- the primary: a database, and roles for the reads and the writes -----
psql -X -q -d postgres -v ON_ERROR_STOP=1 \
	-c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" \
	-c "DROP ROLE IF EXISTS $reader" -c "DROP ROLE IF EXISTS $writer"
primary -c "CREATE EXTENSION astpg CASCADE" \
	-c "CREATE ROLE $reader LOGIN IN ROLE astpg_reader" \
	-c "CREATE ROLE $writer LOGIN IN ROLE astpg_writer"

# --- the standby -----------------------------------------------------------
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
"${as_server[@]}" "$bindir/pg_basebackup" -D "$standby" -R -X stream -c fast
# A standby needs at least the primary's values of these.  Its
# configuration is its own (Debian keeps a cluster's outside its data
# directory); pg_basebackup -R put primary_conninfo in postgresql.auto.conf.
{
	for s in max_connections max_worker_processes max_wal_senders \
		max_prepared_transactions max_locks_per_transaction; do
		echo "$s = $(psql -X -At -d postgres -c "SHOW $s")"
	done
	cat <<EOF
port = $sport
listen_addresses = ''
unix_socket_directories = '$work'
hba_file = '$work/pg_hba.conf'
ident_file = '$work/pg_ident.conf'
hot_standby = on
fsync = off
EOF
} > "$work/standby.conf"
echo "local all all trust" > "$work/pg_hba.conf"
: > "$work/pg_ident.conf"
[ "$(id -u)" -eq 0 ] && chown postgres "$work"/*.conf
"${as_server[@]}" "$bindir/pg_ctl" -D "$standby" -l "$work/standby.log" -w \
	-o "-c config_file=$work/standby.conf" start >/dev/null
check "the standby is in recovery" "$(on_standby "$PGUSER" -c "SELECT pg_is_in_recovery()")" t

# --- real documents on the primary, then wait for the standby -------------
load() {
	"$bindir/astpg-load" -q -d "$db" "$@"
	primary -c "SELECT count(*) FROM astpg.refresh_analytics()" >/dev/null
	primary -c "SELECT count(*) FROM astpg.maintain()" >/dev/null
	local lsn
	lsn=$(primary -c "SELECT pg_current_wal_lsn()")
	for _ in $(seq 300); do
		[ "$(on_standby "$PGUSER" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && return 0
		sleep 0.1
	done
	echo "the standby did not replay up to $lsn in 30 s" >&2
	tail -20 "$work/standby.log" >&2
	return 1
}
python_lib=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
# under lib/, so that paths are email/*.py and modules email.*, which its
# imports name
mkdir "$work/lib"
cp -r "$python_lib/email" "$work/lib/"
/usr/bin/python3 tools/extract-python --repository email "$work/lib" -o "$work/email.ndjson" 2>/dev/null
cat test/fixtures/stdlib-sample.ndjson "$work/email.ndjson" > "$work/docs.ndjson"
primary -c "SELECT count(*) FROM astpg.refresh_analytics(false)" >/dev/null
load "$work/docs.ndjson"

# --- every read function, on both -----------------------------------------
# One call for each read function, as "signature|query".  Each query
# answers rows in a fixed order; they are compared as text.  Ids come from
# the data (they are the same on both servers).
file="(SELECT file_id FROM astpg.files WHERE repository = 'python3.11' AND path = 'json/decoder.py')"
email_file="(SELECT file_id FROM astpg.files WHERE repository = 'email' AND path = 'email/message.py')"
func="(SELECT fn.function_id FROM astpg.functions fn JOIN astpg.files f USING (file_id) WHERE f.repository = 'python3.11' AND fn.qualified_name = 'JSONDecoder.raw_decode')"
READS="
astpg.file_key(text,text)|SELECT encode(astpg.file_key('python3.11', 'json/decoder.py'), 'hex')
astpg.document(bigint)|SELECT astpg.document($file)
astpg.document(bigint,bigint)|SELECT astpg.document(astpg.repo_id('email'), $email_file)
astpg.repo_id(text)|SELECT astpg.repo_id('email')
astpg.graph_walk(bigint,integer,text)|SELECT * FROM astpg.graph_walk($email_file, 3, 'imported by') ORDER BY 1, 2
astpg.dependencies_of(bigint,integer)|SELECT * FROM astpg.dependencies_of($email_file, 3) ORDER BY 1, 2, 3
astpg.dependents_of(bigint,integer)|SELECT * FROM astpg.dependents_of($email_file) ORDER BY 1, 2, 3
astpg.callers(bigint,integer)|SELECT * FROM astpg.callers($func, 3) ORDER BY 1, 2, 3, 4
astpg.callees(bigint,integer)|SELECT * FROM astpg.callees($func, 3) ORDER BY 1, 2, 3, 4
astpg.import_cycles(text)|SELECT * FROM astpg.import_cycles('email') ORDER BY 1
astpg.dependency_graph_dot(text,text)|SELECT astpg.dependency_graph_dot('email', '')
astpg.find_symbol(text,text[],integer)|SELECT * FROM astpg.find_symbol('get_payload', max_results => 20) ORDER BY 1, 2, 3, 4, 5, 6
astpg.stored_hashes(text)|SELECT * FROM astpg.stored_hashes('email') ORDER BY 1, 2
astpg.resolve_calls(bigint,bigint[],text[])|SELECT * FROM astpg.resolve_calls(astpg.repo_id('python3.11'), ARRAY[$func]) ORDER BY 1, 2, 3, 4
astpg.calling(bigint,bigint[])|SELECT * FROM astpg.calling(astpg.repo_id('python3.11'), ARRAY[$func]) ORDER BY 1, 2
astpg.symbol_rows(text,smallint,text,bigint,integer)|SELECT * FROM astpg.symbol_rows('get_payload', 1::smallint, NULL, NULL, 20) ORDER BY 1, 2, 3, 4, 5, 6
astpg.dead_code(text,text)|SELECT * FROM astpg.dead_code('email') ORDER BY 1, 2, 3, 4, 5
astpg.package_coupling(text,integer,text)|SELECT * FROM astpg.package_coupling('email') ORDER BY 1
astpg.churn(text,timestamp with time zone,timestamp with time zone)|SELECT * FROM astpg.churn('email') ORDER BY 1, 2
astpg.trend(text,text,timestamp with time zone,timestamp with time zone)|SELECT * FROM astpg.trend('email', 'month', until => (SELECT max(ingested_at) + interval '1 second' FROM astpg.ingests)) ORDER BY 2
"
# what the catalog calls a read function: astpg_reader may execute it
catalog_reads=$(primary -c "
	SELECT p.oid::regprocedure FROM pg_proc p
	  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'astpg'
	 WHERE has_function_privilege('astpg_reader', p.oid, 'EXECUTE') ORDER BY 1::text")
check "every read function of the catalog has a call here" \
	"$(comm -3 <(echo "$catalog_reads" | LC_ALL=C sort) <(echo "$READS" | sed '/^$/d; s/|.*//' | LC_ALL=C sort) | tr -d '\t' | tr '\n' ' ')" ""

# One psql session per server runs every query (a process per query is
# slow on a busy machine): each answer follows a line "@@ name", an error
# included (psql goes on after one).
sections() {
	local -n into=$1
	local key= line
	while IFS= read -r line; do
		if [[ $line == '@@ '* ]]; then
			key=${line#@@ }
			into[$key]=
		elif [ -n "$key" ]; then
			into[$key]+="$line"$'\n'
		fi
	done
}
compare_reads() {
	local when=$1 sig query rel script=$work/reads.sql
	local -a names=()
	: > "$script"
	while IFS='|' read -r sig query; do
		[ -n "$sig" ] || continue
		names+=("$sig")
		printf '\\echo @@ %s\n%s;\n' "$sig" "$query" >> "$script"
	done <<< "$READS"
	# every table and view a reader may read, whole
	for rel in $(primary -c "
		SELECT c.oid::regclass FROM pg_class c
		 WHERE c.relnamespace = 'astpg'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
		   AND has_table_privilege('astpg_reader', c.oid, 'SELECT') ORDER BY 1::text"); do
		names+=("$rel")
		printf '\\echo @@ %s\nSELECT count(*), md5(coalesce(string_agg(t::text, E%s ORDER BY t::text), %s)) FROM %s t;\n' \
			"$rel" "'\\n'" "''" "$rel" >> "$script"
	done
	local -A on_primary=() on_standby=()
	# the primary as the standby's reader reads it: as astpg_reader
	sections on_primary < <(psql -X -q -At -d "$db" -c "SET ROLE $reader" -f "$script" 2>&1)
	sections on_standby < <(on_standby "$reader" -f "$script" 2>&1)
	local name a b
	for name in "${names[@]}"; do
		a=${on_primary[$name]-missing}
		b=${on_standby[$name]-missing}
		if [ "$a" = "$b" ] && [[ $a != *ERROR* ]] && [ -n "$a" ]; then
			check "$when: $name answers on the standby as on the primary ($(printf %s "$a" | wc -l) rows)" same same
		else
			check "$when: $name answers on the standby as on the primary" "$(echo "$b" | head -3)" "$(echo "$a" | head -3)"
		fi
	done
}
compare_reads "first load"

# --- every writer fails on the standby with 25006 --------------------------
# "signature|statement", run as astpg_writer
WRITES="
astpg.ingest(jsonb)|SELECT * FROM astpg.ingest('{\"repository\": \"standby\", \"path\": \"w.py\", \"language\": \"python\"}')
astpg.ingest_batch(jsonb[],text)|SELECT * FROM astpg.ingest_batch(ARRAY['{\"repository\": \"standby\", \"path\": \"w.py\", \"language\": \"python\"}']::jsonb[])
astpg.ingest_batch(jsonb[],text) skip|SELECT * FROM astpg.ingest_batch(ARRAY['{\"repository\": \"standby\", \"path\": \"w.py\", \"language\": \"python\"}']::jsonb[], 'skip')
astpg.record_unchanged(text,text[],text[],text[])|SELECT * FROM astpg.record_unchanged('email', ARRAY['email/message.py'], ARRAY['sha256:0'], ARRAY[NULL])
astpg.record_reject(text,text,text,text)|SELECT astpg.record_reject('not JSON', '22P02', 'invalid input syntax for type json')
astpg.delete_file(text,text)|SELECT astpg.delete_file('email', 'email/message.py')
astpg.delete_files(text,text[])|SELECT * FROM astpg.delete_files('email', ARRAY['email/message.py'])
astpg.resolve_dependencies(text)|SELECT astpg.resolve_dependencies()
astpg.refresh_analytics(boolean)|SELECT * FROM astpg.refresh_analytics()
astpg.refresh_analytics(boolean) false|SELECT * FROM astpg.refresh_analytics(false)
astpg.refresh_analytics(text)|SELECT * FROM astpg.refresh_analytics('email')
astpg.maintain(interval)|SELECT * FROM astpg.maintain('1 year')
COPY astpg.inbox|(psql's \\copy, below)
INSERT INTO astpg.inbox|INSERT INTO astpg.inbox (doc) VALUES ('{\"repository\": \"standby\", \"path\": \"w.py\", \"language\": \"python\"}')
"
# Writer functions that only read: ingest_counts() reports what this
# session's transaction stored, nothing on a standby, and answers there.
ANSWERS_ON_STANDBY="astpg.ingest_counts()"
catalog_writes=$(primary -c "
	SELECT p.oid::regprocedure FROM pg_proc p
	  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'astpg'
	 WHERE has_function_privilege('astpg_writer', p.oid, 'EXECUTE')
	   AND NOT has_function_privilege('astpg_reader', p.oid, 'EXECUTE') ORDER BY 1::text")
check "every writer function of the catalog has a call here" \
	"$(comm -3 <(echo "$catalog_writes" | LC_ALL=C sort) <( (echo "$WRITES" | sed '/^$/d; /^COPY\|^INSERT/d; s/[| ].*//'; echo "$ANSWERS_ON_STANDBY") | LC_ALL=C sort -u) | tr -d '\t' | tr '\n' ' ')" ""
check "ingest_counts() answers on the standby" \
	"$(on_standby "$writer" -c "SELECT documents FROM astpg.ingest_counts()")" 0

echo '{"repository": "standby", "path": "c.py", "language": "python"}' > "$work/one.ndjson"
script=$work/writes.sql
: > "$script"
names=()
while IFS='|' read -r sig stmt; do
	[ -n "$sig" ] || continue
	# the COPY as docs/clients.md shows it
	[[ $sig == COPY* ]] &&
		stmt="\\copy astpg.inbox (doc) FROM '$work/one.ndjson' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02', ENCODING 'UTF8')"
	for on_error in abort skip; do
		names+=("$sig ($on_error)")
		printf 'SET astpg.on_error = %s;\n%s\n\\echo @@ %s\n\\echo :SQLSTATE: :LAST_ERROR_MESSAGE\n' \
			"$on_error" "$stmt$([[ $stmt == \\* ]] || echo ';')" "$sig ($on_error)" >> "$script"
	done
done <<< "$WRITES"
declare -A wrote=()
sections wrote < <(on_standby "$writer" -f "$script" 2>/dev/null)
for name in "${names[@]}"; do
	err=${wrote[$name]-}
	err=${err%$'\n'}
	if [[ $err =~ ^25006:\ cannot\ execute\ [A-Za-z_.\ \(\)]+\ (in\ a\ read-only\ transaction|during\ recovery)$ ]]; then
		check "$name fails on the standby: $err" ok ok
	else
		check "$name fails on the standby with 25006" "$err" "25006: cannot execute ..."
	fi
done
check "the standby is up, still in recovery" "$(on_standby "$PGUSER" -c "SELECT pg_is_in_recovery()")" t
check "nothing was written on the primary" \
	"$(primary -c "SELECT count(*) FROM astpg.files WHERE repository = 'standby'")" 0

# --- the standby follows the primary ---------------------------------------
/usr/bin/python3 - "$work/docs.ndjson" > "$work/v2.ndjson" <<'PY'
import json, sys
# a second revision of each email module: one function fewer
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    if d["repository"] == "email" and d.get("functions"):
        d["functions"].pop()
        d["revision"], d["content_hash"] = "v2", (d.get("content_hash") or "") + "-v2"
        print(json.dumps(d))
PY
load "$work/v2.ndjson"
primary -c "SELECT astpg.delete_file('email', 'email/base64mime.py')" >/dev/null
load /dev/null
compare_reads "after a second load"

stop_standby
if grep -E "terminated by signal|PANIC|TRAP" "$work/standby.log"; then
	check "the standby's log shows no crash" crash none
fi
finish
