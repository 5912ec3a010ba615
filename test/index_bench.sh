#!/usr/bin/env bash
#
# test/index_bench.sh: astpg-index's incremental cases on the demo's
# library (this machine's Python standard library, site-packages passed
# over as tools/demo does), against the server the PG* variables name:
# a first index, then re-indexes with nothing changed, after touching 10
# files, and after deleting 10 files, each the median of RUNS (default 3)
# end to end, extraction included.  Goals: unchanged under 3 s, 10
# touched under 5 s.  The library is copied, so that it can be changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
index=${ASTPG_INDEX:-$(pg_config --bindir)/astpg-index}
runs=${RUNS:-3}
db=astpg_index_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lib=$work/lib
cp -R "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')" "$lib"
rm -rf "$lib/site-packages"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -c "CREATE EXTENSION astpg CASCADE"

# seconds of one run; its exit status may be 3 (the library's few files
# that do not parse)
timed() {
	local start end
	start=$(date +%s.%N)
	"$index" -d "$db" --no-progress --repository lib --exclude site-packages "$lib" > "$work/out" 2> /dev/null || [ $? -eq 3 ]
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }

echo "first index: $(timed) s ($(tail -1 "$work/out"))"
mapfile -t pyfiles < <(cd "$lib" && find email json logging xml -name '*.py' | sort)
t=(); for i in $(seq "$runs"); do t+=("$(timed)"); done
echo "unchanged: median $(median "${t[@]}") s of ${t[*]} (goal < 3 s; $(tail -1 "$work/out"))"
t=(); for i in $(seq "$runs"); do
	for f in "${pyfiles[@]:0:10}"; do printf '\n# touched %s\n' "$i" >> "$lib/$f"; done
	t+=("$(timed)")
done
echo "10 touched: median $(median "${t[@]}") s of ${t[*]} (goal < 5 s; $(tail -1 "$work/out"))"
t=(); for i in $(seq "$runs"); do
	for f in "${pyfiles[@]:$((i * 10)):10}"; do rm "$lib/$f"; done
	t+=("$(timed)")
done
echo "10 deleted: median $(median "${t[@]}") s of ${t[*]} ($(tail -1 "$work/out"))"
gone=$(printf "'%s'," "${pyfiles[@]:10:$((runs * 10))}")
echo "deleted: $(psql -X -At -d "$db" -c "SELECT count(*) FROM astpg.files WHERE repository = 'lib' AND path IN (${gone%,})") of $((runs * 10)) still stored, $(psql -X -At -d "$db" -c "SELECT count(*) FROM astpg.ingests WHERE repository = 'lib' AND status = 'deleted' AND path IN (${gone%,})") 'deleted' audit rows"
psql -X -q -d postgres -c "DROP DATABASE $db"
