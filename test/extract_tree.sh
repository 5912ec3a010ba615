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
# JavaScript and TypeScript: real packages from the npm registry
(cd "$work" && npm init -y > /dev/null &&
	npm install --no-audit --no-fund --loglevel=error lodash@4.17.21 typescript@5.9.3 > /dev/null)
"$here/../tools/extract-js/extract-js" --repository npm "$work/node_modules/lodash" \
	"$work/node_modules/typescript" -o "$work/js.ndjson" 2> "$work/extract-js.err"
tail -1 "$work/extract-js.err"
js_documents=$(grep -c '' "$work/js.ndjson")
js_parsed=$(sed -n 's/^extract-js: \([0-9]*\) files.*/\1/p' "$work/extract-js.err")
status=0
"$load" -d "$db" --no-progress --jobs 2 "$work/js.ndjson" > "$work/load.out" 2>&1 || status=$?
cat "$work/load.out"
check "extract-js: a document for every file that parses" "$js_documents" "$js_parsed"
check "extract-js: real packages (more than 1,000 files)" "$([ "$js_documents" -gt 1000 ] && echo yes)" yes
check "extract-js load: no document refused (exit status)" "$status" 0
check "extract-js load: relative requires resolved to files" \
	"$(psql -X -At -d "$db" -c "SELECT count(*) FILTER (WHERE d.target_file_id IS NULL) || '/' || count(*) > '0/1'
	                             FROM astpg.dependencies d JOIN astpg.files f USING (file_id)
	                            WHERE f.repository = 'npm' AND d.kind = 'require' AND d.target LIKE '\_%.js'")" t

psql -X -q -d postgres -c "DROP DATABASE $db"
finish
