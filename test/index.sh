#!/usr/bin/env bash
#
# test/index.sh: astpg-index end to end, against the server the PG*
# variables name (astpg, astpg-load and astpg-index installed).
#
# A git checkout of real files (some of this machine's Python library and
# a few JavaScript and TypeScript files) is indexed, changed (files edited,
# added, deleted, renamed) and indexed again: the stored documents must
# equal a fresh index of the new tree, and the audit log must show exactly
# the changes.  An unchanged tree is recorded without running an
# extractor; a file that does not parse is refused and keeps its stored
# version; two runs at once end consistent.  Prints "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
index=${ASTPG_INDEX:-$(pg_config --bindir)/astpg-index}
db=astpg_index
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$here/lib.sh"
# run astpg-index on the tree; status in $status, output in $work/out
run_index() {
	status=0
	"$index" -d "$db" --no-progress "$@" > "$work/out" 2> "$work/err" || status=$?
}
field() { sed -n "s/.* $1 \([0-9]*\)[,;].*/\1/p" "$work/out"; }
# documents of repository $1 that differ from repository $2's (by path),
# their repository and revision aside, and resolved imports that differ
differences() {
	sql -c "WITH a AS (SELECT path, astpg.document(file_id) - 'repository' - 'revision' AS d
	                     FROM astpg.files WHERE repository = '$1'),
	             b AS (SELECT path, astpg.document(file_id) - 'repository' - 'revision' AS d
	                     FROM astpg.files WHERE repository = '$2'),
	             ra AS (SELECT f.path, d.target, t.path AS resolved FROM astpg.dependencies d
	                      JOIN astpg.files f USING (file_id)
	                      LEFT JOIN astpg.files t ON t.file_id = d.target_file_id
	                     WHERE f.repository = '$1'),
	             rb AS (SELECT f.path, d.target, t.path AS resolved FROM astpg.dependencies d
	                      JOIN astpg.files f USING (file_id)
	                      LEFT JOIN astpg.files t ON t.file_id = d.target_file_id
	                     WHERE f.repository = '$2')
	        SELECT (SELECT count(*) FROM a FULL JOIN b USING (path) WHERE a.d IS DISTINCT FROM b.d)
	             + (SELECT count(*) FROM ((TABLE ra EXCEPT ALL TABLE rb) UNION ALL
	                                      (TABLE rb EXCEPT ALL TABLE ra)) x)"
}
# a fresh index of the tree as repository "fresh", compared with "t"
compare_fresh() {
	sql -c "SELECT count(*) FROM astpg.delete_files('fresh', '{}')" > /dev/null
	"$index" -d "$db" --no-progress -q --repository fresh "$tree" > /dev/null 2>&1 || true
	check "$1: the stored documents equal a fresh index of the tree" "$(differences t fresh)" 0
	check "$1: as many files as the fresh index" \
		"$(sql -c "SELECT count(*) FILTER (WHERE repository = 't') - count(*) FILTER (WHERE repository = 'fresh') FROM astpg.files")" 0
}
last_ingest() { sql -c "SELECT COALESCE(max(ingest_id), 0) FROM astpg.ingests"; }
# the audit rows of repository t since ingest $1, as "status path" lines
audit_since() {
	sql -c "SELECT status || ' ' || path FROM astpg.ingests
	         WHERE repository = 't' AND ingest_id > $1 AND status <> 'unchanged' ORDER BY 1"
}

# --- the tree: real files in a git checkout ---------------------------------
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
tree=$work/tree
mkdir -p "$tree/lib" "$tree/web"
cp -R "$stdlib/json" "$stdlib/email" "$tree/lib/"
cp "$stdlib"/{textwrap,shlex,string,bisect,heapq,fnmatch,glob,colorsys}.py "$tree/lib/"
rm -rf "$tree"/lib/*/__pycache__ "$tree"/lib/email/architecture.rst
cp tools/extract-js/extract.js "$tree/web/extract.js"
cat > "$tree/web/shapes.ts" <<'TS'
import {area} from './geometry';
export class Square { constructor(private side: number) {} area(): number { return area(this.side); } }
TS
cat > "$tree/web/geometry.ts" <<'TS'
export function area(side: number): number { return side > 0 ? side * side : 0; }
TS
git -C "$tree" init -q
git -C "$tree" -c user.email=t@t -c user.name=t add -A
git -C "$tree" -c user.email=t@t -c user.name=t commit -qm one
commit() { git -C "$tree" -c user.email=t@t -c user.name=t add -A && git -C "$tree" -c user.email=t@t -c user.name=t commit -qm "$1"; }
files=$(find "$tree" -name .git -prune -o -type f \( -name '*.py' -o -name '*.js' -o -name '*.ts' \) -print | wc -l)

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
sql -c "CREATE EXTENSION astpg CASCADE"

# --- first index ----------------------------------------------------------------
run_index --repository t "$tree"
check "first: exit status" "$status" 0
check "first: every file new" "$(field new)" "$files"
check "first: every file stored" "$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 't'")" "$files"
check "first: JavaScript and TypeScript too" \
	"$(sql -c "SELECT string_agg(DISTINCT language, ',' ORDER BY language) FROM astpg.files WHERE repository = 't'")" \
	"javascript,python,typescript"
check "first: the revision is the checkout's" \
	"$(sql -c "SELECT count(DISTINCT revision) || ' ' || min(revision) FROM astpg.files WHERE repository = 't'")" \
	"1 $(git -C "$tree" rev-parse HEAD)"

# --- nothing changed: no extractor runs, one unchanged row per file ----------------
mkdir "$work/stub"
printf '#!/bin/sh\ntouch %s/extracted; exit 1\n' "$work" > "$work/stub/extract-python"
chmod +x "$work/stub/extract-python"
before=$(last_ingest)
status=0
ASTPG_EXTRACTORS=$work/stub "$index" -d "$db" --no-progress --repository t "$tree" > "$work/out" 2>&1 || status=$?
check "unchanged: exit status" "$status" 0
check "unchanged: counted" "$(field unchanged)" "$files"
check "unchanged: no file extracted" "$([ -e "$work/extracted" ] && echo yes || echo no)" no
check "unchanged: one audit row per file" \
	"$(sql -c "SELECT count(*) FILTER (WHERE status = 'unchanged') || ' ' || count(*) FROM astpg.ingests WHERE ingest_id > $before")" \
	"$files $files"

# --- edited, added, deleted, renamed ------------------------------------------------
printf '\n\ndef added_function(x):\n    return x if x else None\n' >> "$tree/lib/textwrap.py"
printf '\n// edited\nexport function twice(n: number): number { return area(n) * 2; }\n' >> "$tree/web/shapes.ts"
cp "$stdlib/keyword.py" "$tree/lib/keyword.py"
git -C "$tree" rm -q lib/colorsys.py
git -C "$tree" mv lib/fnmatch.py lib/fnmatch2.py
git -C "$tree" mv web/geometry.ts web/geom.ts
sed -i 's#./geometry#./geom#' "$tree/web/shapes.ts"
commit two
before=$(last_ingest)
run_index --repository t "$tree"
check "changes: exit status" "$status" 0
check "changes: counted" "$(field new) $(field changed) $(field deleted) $(field unchanged)" \
	"3 2 3 $((files - 5))"
check "changes: the audit log says exactly what changed" "$(audit_since "$before" | tr '\n' ',')" \
	"deleted lib/colorsys.py,deleted lib/fnmatch.py,deleted web/geometry.ts,inserted lib/fnmatch2.py,inserted lib/keyword.py,inserted web/geom.ts,replaced lib/textwrap.py,replaced web/shapes.ts,"
compare_fresh changes

# --- deleting without --no-delete, and with it ----------------------------------------
git -C "$tree" rm -q lib/glob.py
commit three
run_index --repository t --no-delete "$tree"
check "no-delete: the file stays" "$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 't' AND path = 'lib/glob.py'")" 1
check "no-delete: counted" "$(field deleted)" 0
before=$(last_ingest)
run_index --repository t "$tree"
check "delete: the file goes" "$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 't' AND path = 'lib/glob.py'")" 0
check "delete: audited" "$(audit_since "$before")" "deleted lib/glob.py"

# --- a file that does not parse: refused, its stored version kept -------------------
stored=$(sql -c "SELECT content_hash FROM astpg.files WHERE repository = 't' AND path = 'lib/bisect.py'")
printf '\ndef broken(:\n' >> "$tree/lib/bisect.py"
before=$(last_ingest)
run_index --repository t "$tree"
check "refused: exit status" "$status" 3
check "refused: counted" "$(field refused)" 1
check "refused: named" "$(grep -c 'lib/bisect.py: refused' "$work/err")" 1
check "refused: the stored version is kept" \
	"$(sql -c "SELECT content_hash FROM astpg.files WHERE repository = 't' AND path = 'lib/bisect.py'")" "$stored"
check "refused: nothing deleted, nothing replaced" "$(audit_since "$before")" ""
git -C "$tree" checkout -q lib/bisect.py

# --- two runs at once ------------------------------------------------------------------
for f in heapq shlex string; do printf '\n\ndef %s_extra():\n    pass\n' "$f" >> "$tree/lib/$f.py"; done
cp "$stdlib"/{calendar,codecs,copy}.py "$tree/lib/"
git -C "$tree" rm -q lib/keyword.py lib/json/tool.py
commit four
s1=0 s2=0
"$index" -d "$db" --no-progress --repository t "$tree" > "$work/out1" 2>&1 & p1=$!
"$index" -d "$db" --no-progress --repository t "$tree" > "$work/out2" 2>&1 & p2=$!
wait $p1 || s1=$?
wait $p2 || s2=$?
check "concurrent: both succeed" "$s1 $s2" "0 0"
compare_fresh concurrent
check "concurrent: each deletion audited once" \
	"$(sql -c "SELECT count(*) FROM astpg.ingests WHERE repository = 't' AND status = 'deleted' AND path IN ('lib/keyword.py', 'lib/json/tool.py')")" 2

# --- the progress bar, on a terminal -----------------------------------------------------
printf '\n# touched\n' >> "$tree/lib/heapq.py"
script -q -e -c "$index -d $db --repository t $tree" "$work/tty" > /dev/null || true
check "progress: drawn on a terminal, to the end" \
	"$(tr '\r' '\n' < "$work/tty" | grep -q '1/1 files .*\[=*\] 100%' && echo yes)" yes

# --- usage ---------------------------------------------------------------------------------
run_index "$tree"
check "usage: no --repository" "$status" 2
run_index --repository t "$work/does-not-exist"
check "usage: a missing PATH" "$status" 2

psql -X -q -d postgres -c "DROP DATABASE $db"
finish
