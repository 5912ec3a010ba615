#!/usr/bin/env bash
#
# test/extract_tree.sh [DIR]
#
# tools/extract-python on a large real tree (default: the standard library
# of this machine's python3), loaded with astpg-load --on-error abort: every
# file that parses must be stored, not one document refused.  Against the
# server the PG* variables name.  Prints "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
tree=${1:-$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}
load=${ASTPG_LOAD:-$(pg_config --bindir)/astpg-load}
db=astpg_extract
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$here/../tools/extract-python" --repository stdlib "$tree" \
	-o "$work/tree.ndjson" 2> "$work/extract.err"
tail -1 "$work/extract.err"
documents=$(grep -c '' "$work/tree.ndjson")
parsed=$(sed -n 's/^extract-python: \([0-9]*\) files.*/\1/p' "$work/extract.err")

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -c "CREATE EXTENSION astpg"
status=0
"$load" -d "$db" --no-progress --jobs 2 "$work/tree.ndjson" > "$work/load.out" 2>&1 || status=$?
cat "$work/load.out"

check "extract: a document for every file that parses" "$documents" "$parsed"
check "extract: a large tree (more than 500 files)" "$([ "$documents" -gt 500 ] && echo yes)" yes
check "load: no document refused (exit status)" "$status" 0
check "load: every document stored" \
	"$(psql -X -At -d "$db" -c "SELECT count(*) FROM astpg.files")" "$documents"
check "load: imports inside the tree resolved" \
	"$(psql -X -At -d "$db" -c "SELECT count(*) > 100 FROM astpg.dependencies WHERE target_file_id IS NOT NULL")" t
psql -X -q -d postgres -c "DROP DATABASE $db"
finish
