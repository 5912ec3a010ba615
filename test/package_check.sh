#!/usr/bin/env bash
#
# test/package_check.sh: what an operator gets from the postgresql-15-astpg
# package, against the server the PG* variables name, with the package
# installed and its tools first on PATH.  test/package.sh runs it after
# installing the package it built; debian/tests/tools (autopkgtest) runs it
# in a throwaway cluster.  The regression suites are run apart (make
# installcheck).
#
# Checks: the server offers astpg at default_version of the tree's
# astpg.control and every version the tree has scripts for; CREATE
# EXTENSION makes that version and the library writes into it; the
# package's extract-js carries its pinned parser (no npm at run time); and
# astpg-index, run as an operator would (from PATH), indexes real Python
# and JavaScript files through the package's extractors and astpg-load.
# Prints "N passed, N failed".
#
#   test/package_check.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
. "$here/lib.sh"

db=astpg_package
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

control_version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" astpg.control)
echo "# astpg.control: default_version $control_version"

check "the server offers astpg at astpg.control's default_version" \
	"$(sql -d postgres -c "SELECT default_version FROM pg_available_extensions WHERE name = 'astpg'")" \
	"$control_version"
# every install and upgrade script of the tree is in the package: the
# versions they name, as the server lists them
want_versions=$(ls sql/astpg--*.sql | sed 's/.*--//; s/\.sql$//' | sort -uV | paste -sd ' ')
check "the server offers every version the tree has a script for" \
	"$(sql -d postgres -c "SELECT string_agg(version, ' ' ORDER BY string_to_array(version, '.')::int[])
	                          FROM pg_available_extension_versions WHERE name = 'astpg'")" \
	"$want_versions"

sql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db"
createdb "$db"
sql -d "$db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION astpg CASCADE"
check "CREATE EXTENSION astpg makes astpg.control's default_version" \
	"$(sql -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'astpg'")" \
	"$control_version"
# the library refuses to write into a version it was not built for (with
# the update hint): an ingest proves library and scripts are one release
check "the package's library writes into the package's schema" \
	"$(sql -d "$db" -c "SELECT status FROM astpg.ingest('{\"repository\": \"pkg\", \"path\": \"a.py\",
	     \"language\": \"python\", \"functions\": [{\"name\": \"f\", \"line_start\": 1, \"line_end\": 2}]}')")" \
	inserted

# The tools an operator runs, from PATH.
for tool in astpg-load astpg-index; do
	check "$tool is on PATH" "$(command -v "$tool" > /dev/null && echo yes)" yes
done
sharedir=$(pg_config --sharedir)
lock_version=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["packages"]["node_modules/typescript"]["version"])' \
	tools/extract-js/package-lock.json)
check "extract-js ships its parser at package-lock.json's version (no npm at run time)" \
	"$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
		"$sharedir/astpg/extract-js/node_modules/typescript/package.json" 2>/dev/null || echo missing)" \
	"$lock_version"

# Real files: the json package of this Python, and extract-js's own source
# (JavaScript) as the package installed it.
tree=$work/tree
mkdir -p "$tree/json"
cp "$(python3 -c 'import json, os; print(os.path.dirname(json.__file__))')"/*.py "$tree/json/"
cp "$sharedir/astpg/extract-js/extract.js" "$tree/"
py_files=$(ls "$tree"/json/*.py | wc -l)
status=0
# npm offline: were extract-js to reach for the registry, it would fail
npm_config_offline=true astpg-index -d "$db" --no-progress --repository pkg-tree "$tree" \
	> "$work/out" 2>&1 || status=$?
sed 's/^/# astpg-index: /' "$work/out"
check "astpg-index exits 0" "$status" 0
check "astpg-index stored every file, by language" \
	"$(sql -d "$db" -c "SELECT string_agg(language || ' ' || n, ', ' ORDER BY language)
	                      FROM (SELECT language, count(*) AS n FROM astpg.files
	                             WHERE repository = 'pkg-tree' GROUP BY language) l")" \
	"javascript 1, python $py_files"
check "functions were extracted from both (json.loads, extract.js's nameOf)" \
	"$(sql -d "$db" -c "SELECT string_agg(f.path || ':' || fn.name, ' ' ORDER BY f.path)
	                      FROM astpg.functions fn JOIN astpg.files f USING (file_id)
	                     WHERE f.repository = 'pkg-tree'
	                       AND (f.path, fn.name) IN (('json/__init__.py', 'loads'), ('extract.js', 'nameOf'))")" \
	"extract.js:nameOf json/__init__.py:loads"
# Another PostgreSQL's pg_config first on PATH (Debian's /usr/bin/pg_config
# answers for the newest server installed, say 16 beside 15): astpg-index
# asks the pg_config installed beside it for the extractors' directory.
mkdir "$work/other"
printf '#!/bin/sh\n[ "$1" = --sharedir ] && echo /usr/share/postgresql/99 || echo /usr/lib/postgresql/99/bin\n' \
	> "$work/other/pg_config"
chmod +x "$work/other/pg_config"
check "astpg-index finds its extractors with another PostgreSQL's pg_config first on PATH" \
	"$(PATH=$work/other:$PATH astpg-index -d "$db" --no-progress -q --repository pkg-other "$tree" \
		> /dev/null 2>&1; echo $?)" 0
before=$(sql -d "$db" -c "SELECT max(ingest_id) FROM astpg.ingests")
check "a second run exits 0" \
	"$(astpg-index -d "$db" --no-progress -q --repository pkg-tree "$tree" > /dev/null 2>&1; echo $?)" 0
check "the second run found every file unchanged" \
	"$(sql -d "$db" -c "SELECT count(*) FILTER (WHERE status = 'unchanged') || ' of ' || count(*)
	                      FROM astpg.ingests WHERE ingest_id > $before")" \
	"$((py_files + 1)) of $((py_files + 1))"

dropdb "$db"
finish
