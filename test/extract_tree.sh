#!/usr/bin/env bash
#
# test/extract_tree.sh [DIR]
#
# The extractors on large real trees, loaded with astpg-load --on-error
# abort: every file that parses must be stored, not one document refused.
# tools/extract-python on this machine's standard library (or DIR);
# tools/extract-js on real npm packages (lodash and typescript, pinned),
# installed from the registry into a scratch directory.  Against the server
# the PG* variables name.  Prints "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
tree=${1:-$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}
load=${ASTPG_LOAD:-$(pg_config --bindir)/astpg-load}
db=astpg_extract
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# extract_and_load NAME COMMAND...: run an extractor (its last output line
# says how many files parsed), load what it wrote, and check that every
# file that parsed is a document and is stored, none refused.
extract_and_load() {
	local name=$1
	shift
	"$@" -o "$work/$name.ndjson" 2> "$work/$name.err"
	tail -1 "$work/$name.err"
	local documents parsed status=0
	documents=$(grep -c '' "$work/$name.ndjson")
	parsed=$(sed -n 's/^[a-z-]*: \([0-9]*\) files.*/\1/p' "$work/$name.err")
	"$load" -d "$db" --no-progress --jobs 2 "$work/$name.ndjson" > "$work/load.out" 2>&1 || status=$?
	cat "$work/load.out"
	check "$name: a document for every file that parses" "$documents" "$parsed"
	check "$name: a large tree (more than 500 files)" "$([ "$documents" -gt 500 ] && echo yes)" yes
	check "$name: no document refused (load exit status)" "$status" 0
	check "$name: every document stored" \
		"$(psql -X -At -d "$db" -c "SELECT count(*) FROM astpg.files WHERE repository = '$name'")" "$documents"
}

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -c "CREATE EXTENSION astpg CASCADE"

extract_and_load stdlib python3 "$here/../tools/extract-python" --repository stdlib "$tree"
check "stdlib: imports inside the tree resolved" \
	"$(psql -X -At -d "$db" -c "SELECT count(*) > 100 FROM astpg.dependencies WHERE target_file_id IS NOT NULL")" t

# JavaScript and TypeScript: real packages from the npm registry
(cd "$work" && npm init -y > /dev/null &&
	npm install --no-audit --no-fund --loglevel=error lodash@4.17.21 typescript@5.9.3 > /dev/null)
extract_and_load npm "$here/../tools/extract-js/extract-js" --repository npm \
	"$work/node_modules/lodash" "$work/node_modules/typescript"
check "npm: every require of a file resolved to it (unresolved, more than 1,000)" \
	"$(psql -X -At -d "$db" -c "SELECT count(*) FILTER (WHERE d.target_file_id IS NULL) || ', ' || (count(*) > 1000)
	                             FROM astpg.dependencies d JOIN astpg.files f USING (file_id)
	                            WHERE f.repository = 'npm' AND d.kind = 'require' AND d.target LIKE '%.js'")" "0, true"

psql -X -q -d postgres -c "DROP DATABASE $db"
finish
