#!/usr/bin/env bash
#
# test/readonly.sh: astpg-load and astpg-index pointed at servers that
# cannot store anything (issue 19, item 3).  Prints "N passed, N failed".
#
# It starts servers of its own from the installed binaries (astpg,
# astpg-load and astpg-index installed there; test/own_cluster.sh): a
# primary, and a real streaming standby of it (pg_basebackup -R) on a port
# of its own.  Both tools must tell a read-only server before the first
# batch, with one message and exit status 4, having written nothing (and
# printed no resume point, which could not help):
#
#   - the standby: a load, a --skip-unchanged load, an index of new files,
#     of files the primary stores unchanged, and of an empty tree into a
#     repository with no files (nothing to write: it exited 0 before);
#   - the primary with default_transaction_read_only = on for the database.
#
# And summaries count only what committed:
#
#   - a load whose server becomes read-only after three batches reports
#     those, its resume point and exit status 4; resuming there stores the
#     rest;
#   - an index whose load the server turns away (it became read-only after
#     astpg-index looked) reports no file new, not the files it meant to
#     store.
#
# Takes some 20 seconds; its own directory and servers are gone after it.
#
#   test/readonly.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
load=${ASTPG_LOAD:-$(pg_config --bindir)/astpg-load}
index=${ASTPG_INDEX:-$(pg_config --bindir)/astpg-index}
db=astpg_ro
work=$(mktemp -d)
chmod 755 "$work"
trap 'cluster_stop_all; rm -rf "$work"' EXIT

. "$here/lib.sh"
. "$here/own_cluster.sh"

primary=(-h "$work" -p 5432)
standby=(-h "$work" -p 5433)
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "${primary[@]}" -U postgres -d "$db" "$@"; }
sql_standby() { psql -X -q -At -v ON_ERROR_STOP=1 "${standby[@]}" -U postgres -d "$db" "$@"; }
# run a tool against $server; status in $status, output in $work/out, $work/err
run_load() {
	status=0
	"$load" "${server[@]}" -U postgres -d "$db" --no-progress "$@" > "$work/out" 2> "$work/err" || status=$?
}
run_index() {
	status=0
	"$index" "${server[@]}" -U postgres -d "$db" --no-progress "$@" > "$work/out" 2> "$work/err" || status=$?
}
# what the primary stores and has audited, to show nothing was written
written() { sql -c "SELECT (SELECT count(*) FROM astpg.files) || ' ' || (SELECT count(*) FROM astpg.ingests) || ' ' || (SELECT count(*) FROM astpg.rejects)"; }
summary() { sed -n 's/.*inserted \([0-9]*\), replaced \([0-9]*\), unchanged \([0-9]*\), rejected \([0-9]*\);.*/\1 \2 \3 \4/p' "$work/out"; }

# --- real documents, a primary and its standby -------------------------------
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
tree=$work/tree
mkdir -p "$tree/lib" "$work/empty"
cp "$stdlib"/{textwrap,shlex,string,bisect,heapq,fnmatch,glob,colorsys,keyword,copy}.py "$tree/lib/"
tools/extract-python --repository docs --root "$tree" "$tree"/lib/*.py > "$work/docs.ndjson" 2> /dev/null
head -5 "$work/docs.ndjson" > "$work/first5.ndjson"

cluster_init primary
cluster_start primary 5432
psql -X -q "${primary[@]}" -U postgres -d postgres -c "CREATE DATABASE $db"
sql -c "SET client_min_messages = warning" -c "CREATE EXTENSION astpg CASCADE"
server=("${primary[@]}")
run_load "$work/first5.ndjson"
run_index --repository stored "$tree"
check "primary: five documents and a tree stored" "$status $(sql -c "SELECT count(*) FROM astpg.files")" "0 15"
as_owner "$bindir/pg_basebackup" "${primary[@]}" -U postgres -D "$work/standby" -R -X stream -c fast
cluster_start standby 5433
check "standby: in recovery, with the primary's files" \
	"$(sql_standby -c "SELECT pg_is_in_recovery(), count(*) FROM astpg.files")" "t|15"
before=$(written)

# --- the standby ------------------------------------------------------------------
standby_message="astpg-load: cannot load into a read-only server: the server is a standby in recovery; connect to the primary
astpg-load: no document was sent"
server=("${standby[@]}")
run_load "$work/docs.ndjson"
check "standby, load: exit status" "$status" 4
check "standby, load: one message" "$(cat "$work/err")" "$standby_message"
check "standby, load: no summary, no resume point" "$(cat "$work/out")" ""
run_load --jobs 2 --skip-unchanged --on-error skip "$work/docs.ndjson"
check "standby, --skip-unchanged load: exit status and message" "$status $(cat "$work/err")" "4 $standby_message"

index_message="astpg-index: cannot index into a read-only server: the server is a standby in recovery; connect to the primary
astpg-index: nothing was written"
run_index --repository new "$tree"
check "standby, index of new files: exit status" "$status" 4
check "standby, index of new files: one message" "$(cat "$work/err")" "$index_message"
check "standby, index of new files: no summary counting files it did not store" "$(cat "$work/out")" ""
run_index --repository stored "$tree"
check "standby, index of stored files: exit status and message" "$status $(cat "$work/err")" "4 $index_message"
run_index --repository nothing "$work/empty"
check "standby, index of an empty tree, nothing to write: exit status and message" "$status $(cat "$work/err")" "4 $index_message"
check "standby: nothing written on the primary" "$(written)" "$before"

# --- the primary, with default_transaction_read_only --------------------------------
psql -X -q "${primary[@]}" -U postgres -d postgres -c "ALTER DATABASE $db SET default_transaction_read_only = on"
server=("${primary[@]}")
run_load "$work/docs.ndjson"
check "default_transaction_read_only, load: exit status" "$status" 4
check "default_transaction_read_only, load: one message" "$(cat "$work/err")" \
	"astpg-load: cannot load into a read-only server: default_transaction_read_only is on (for the server, the database or the role)
astpg-load: no document was sent"
check "default_transaction_read_only, load: no summary, no resume point" "$(cat "$work/out")" ""
run_index --repository stored "$tree"
check "default_transaction_read_only, index: exit status and message" "$status $(cat "$work/err")" \
	"4 astpg-index: cannot index into a read-only server: default_transaction_read_only is on (for the server, the database or the role)
astpg-index: nothing was written"
psql -X -q "${primary[@]}" -U postgres -d postgres -c "ALTER DATABASE $db RESET default_transaction_read_only"
check "default_transaction_read_only: nothing written" "$(written)" "$before"

# --- read-only in the middle of a load ---------------------------------------------
# After the third COPY into the inbox, the loader's session gets what a
# reload of default_transaction_read_only = on would give it: its next
# transaction is read-only.
sql -c "CREATE SEQUENCE copies" \
	-c "CREATE FUNCTION read_only_after_three() RETURNS trigger LANGUAGE plpgsql AS
	    \$\$BEGIN
	        IF nextval('copies') = 3 THEN
	            PERFORM set_config('default_transaction_read_only', 'on', false);
	        END IF;
	        RETURN NULL;
	    END\$\$" \
	-c "CREATE TRIGGER read_only_after_three BEFORE INSERT ON astpg.inbox
	    FOR EACH STATEMENT EXECUTE FUNCTION read_only_after_three()"
sql -c "SELECT count(*) FROM astpg.delete_files('docs', '{}')" > /dev/null
mark=$(sql -c "SELECT max(ingest_id) FROM astpg.ingests")
run_load --batch 2 "$work/docs.ndjson"
check "read-only after three batches: exit status" "$status" 4
check "read-only after three batches: it says so" "$(grep -c 'the server became read-only during the load' "$work/err")" 1
check "read-only after three batches: the summary counts the three" "$(summary)" "6 0 0 0"
check "read-only after three batches: where to resume" "$(grep -c 'to resume: astpg-load --skip=6 ' "$work/out")" 1
check "read-only after three batches: what is stored" \
	"$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 'docs'")" 6
run_load --batch 2 --skip 6 "$work/docs.ndjson"
check "resumed: exit status" "$status" 0
check "resumed: every document stored once" \
	"$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 'docs'") $(sql -c "SELECT count(*) || ' ' || count(DISTINCT path) FROM astpg.ingests WHERE ingest_id > $mark AND status = 'inserted'")" \
	"10 10 10"

# astpg-index: the server turns read-only once astpg-index has looked (the
# extractor, run after that, has the reload happen), and its load stores
# nothing
sql -c "DROP TRIGGER read_only_after_three ON astpg.inbox"
mkdir "$work/stub"
cat > "$work/stub/extract-python" <<EOF
#!/bin/sh
psql -X -q -h "$work" -p 5432 -U postgres -d postgres \\
	-c "ALTER SYSTEM SET default_transaction_read_only = on" -c "SELECT pg_reload_conf()" > /dev/null
sleep 1		# for every backend to take the reload
exec "$PWD/tools/extract-python" "\$@"
EOF
chmod 755 "$work/stub/extract-python"
before=$(written)
status=0
ASTPG_EXTRACTORS=$work/stub "$index" "${primary[@]}" -U postgres -d "$db" --no-progress \
	--repository later "$tree" > "$work/out" 2> "$work/err" || status=$?
psql -X -q "${primary[@]}" -U postgres -d postgres \
	-c "ALTER SYSTEM RESET default_transaction_read_only" -c "SELECT pg_reload_conf()" > /dev/null
check "index, read-only once it looked: exit status" "$status" 4
check "index, read-only once it looked: the summary counts nothing new" \
	"$(sed -n 's/.* files: \(new [0-9]*, changed [0-9]*\),.*/\1/p' "$work/out")" "new 0, changed 0"
check "index, read-only once it looked: nothing stored" "$(written)" "$before"

finish
