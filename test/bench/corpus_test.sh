#!/usr/bin/env bash
#
# test/bench/corpus_test.sh: test/bench/corpus on three small code bases of
# real code (--spec, folders of Debian's Python standard library and of
# astpg's own JavaScript), in a cache of its own.  Checks that
#   - the totals it prints and writes equal those counted from its NDJSON;
#   - a file with code that an earlier code base has is dropped, and one
#     without code (an empty __init__.py) is kept; a near copy (the same
#     functions, a comment added) is dropped;
#   - each code base is its own repository, its documents in path order;
#   - a second run extracts nothing and changes nothing;
#   - another cache, with other --jobs and --part-files, gets the same bytes;
#   - a part lost (an interrupted build) is the only one extracted again;
#   - a Debian package that is not installed, with --no-install, fails with
#     status 1 and says which.
# No server needed; some 30 seconds.
#
#   test/bench/corpus_test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

python=/usr/bin/python3
[ -x "$python" ] || python=python3
stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
work=$(mktemp -d /tmp/astpg-corpus-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# a: json and email; b: a copy of email (every file a copy of a's), http,
# and json's decoder with a comment added (a near copy); c: JavaScript
mkdir -p "$work/a" "$work/b/jsoncopy" "$work/c"
cp -r "$stdlib/json" "$stdlib/email" "$work/a/"
cp -r "$stdlib/email" "$stdlib/http" "$work/b/"
{ cat "$stdlib/json/decoder.py"; echo "# a near copy"; } > "$work/b/jsoncopy/decoder.py"
cp tools/extract-js/extract.js test/extract_js_test.js "$work/c/"
cat > "$work/spec.json" <<EOF
[{"name": "a", "language": "python", "kind": "dir", "root": "$work/a"},
 {"name": "b", "language": "python", "kind": "dir", "root": "$work/b"},
 {"name": "c", "language": "js", "kind": "dir", "root": "$work/c"}]
EOF

test/bench/corpus --spec "$work/spec.json" --dir "$work/one" --jobs 2 --part-files 8 \
	> "$work/first.out" 2> "$work/first.err" || { cat "$work/first.err" >&2; fail "first build"; }
cat "$work/first.out"

# the totals, counted again from the NDJSON and the copied folders
"$python" - "$work" <<'EOF'
import hashlib, json, os, sys
work = sys.argv[1]
summary = json.load(open(os.path.join(work, "one/corpus.json")))
failures = []
def check(what, got, want):
    if got != want:
        failures.append("%s: %r, expected %r" % (what, got, want))
docs = {}
for c in summary["codebases"]:
    rows = [json.loads(l) for l in open(c["ndjson"], encoding="utf-8")]
    docs[c["name"]] = rows
    check(c["name"] + " repositories", {d["repository"] for d in rows}, {c["name"]})
    paths = [d["path"] for d in rows]
    check(c["name"] + " order", paths, sorted(paths, key=os.fsencode))
    fns = [f for d in rows for f in d.get("functions") or []]
    check(c["name"] + " files", c["files"], len(rows))
    check(c["name"] + " functions", c["functions"], len(fns))
    check(c["name"] + " classes", c["classes"], sum(len(d.get("classes") or []) for d in rows))
    check(c["name"] + " calls", c["calls"], sum(len(f.get("calls") or []) for f in fns))
    check(c["name"] + " imports", c["imports"],
          sum(len(d.get("dependencies") or []) for d in rows))
for key in ("files", "functions", "classes", "calls", "imports"):
    check("total " + key, summary["totals"][key],
          sum(c[key] for c in summary["codebases"]))

# no file with code twice in the corpus
code = [d["content_hash"] for rows in docs.values() for d in rows
        if d.get("functions") or d.get("classes")]
check("files with code stored twice", len(code) - len(set(code)), 0)

# b's copy of email: its files with code are dropped, those without kept
a = {d["path"]: d for d in docs["a"]}
with_code = sorted(p for p, d in a.items()
                   if p.startswith("email/") and (d.get("functions") or d.get("classes")))
without = sorted(p for p, d in a.items()
                 if p.startswith("email/") and not (d.get("functions") or d.get("classes")))
b = {d["path"] for d in docs["b"]}
by_name = {c["name"]: c for c in summary["codebases"]}
check("b's copies dropped", by_name["b"]["dropped_copies_of_earlier_codebases"], len(with_code))
check("b's email files with code", sorted(p for p in b if p in with_code), [])
check("b's email files without code", sorted(p for p in b if p.startswith("email/")), without)
check("b's files without code kept", by_name["b"]["kept_shared_files_without_code"], len(without))
if not without:
    failures.append("email has no file without code: the test checks nothing there")
# b's http is new code, kept whole
http = sorted(os.path.relpath(os.path.join(d, f), os.path.join(work, "b"))
              for d, _, fs in os.walk(os.path.join(work, "b", "http")) for f in fs
              if f.endswith(".py"))
check("b's http", sorted(p for p in b if p.startswith("http/")), http)
# the near copy of json's decoder
check("near copy kept", "jsoncopy/decoder.py" in b, False)
check("near copies dropped", by_name["b"]["dropped_near_copies"], 1)
check("near copy functions", by_name["b"]["dropped_near_copies_functions"],
      len(a["json/decoder.py"]["functions"]))
check("c's files", [d["path"] for d in docs["c"]], ["extract.js", "extract_js_test.js"])
check("c's language", {d["language"] for d in docs["c"]}, {"javascript"})
if failures:
    print("\n".join("FAIL: " + f for f in failures), file=sys.stderr)
    sys.exit(1)
print("totals, copies, near copies, repositories and order: ok")
EOF

sums() { (cd "$1/corpus" && sha256sum ./*.ndjson); }
sums "$work/one" > "$work/one.sums"

# a second run: all cached, the same bytes
test/bench/corpus --spec "$work/spec.json" --dir "$work/one" > "$work/second.out" 2> "$work/second.err"
[ "$(grep -c ': cached' "$work/second.err")" -eq 3 ] || { cat "$work/second.err" >&2; fail "second run extracted"; }
grep -q 'part ' "$work/second.err" && fail "second run extracted a part"
sums "$work/one" | cmp -s - "$work/one.sums" || fail "second run changed the corpus"
strip() { sed 's/checked in [0-9]* s/checked in N s/' "$1"; }
diff <(strip "$work/first.out") <(strip "$work/second.out") > /dev/null ||
	fail "second run printed other totals"
echo "second run: cached, same corpus: ok"

# another cache, other jobs and parts: the same bytes
test/bench/corpus --spec "$work/spec.json" --dir "$work/two" --jobs 1 --part-files 5 \
	> /dev/null 2> "$work/two.err" || { cat "$work/two.err" >&2; fail "second cache"; }
sums "$work/two" | cmp -s - "$work/one.sums" || fail "another cache got other bytes"
echo "another cache, --jobs 1 --part-files 5: same bytes: ok"

# an interrupted build: one part of b lost; only it is extracted again
part=$(ls "$work/one/parts/b/"*.ndjson | head -1)
rm "$part" "${part%.ndjson}.json"
test/bench/corpus --spec "$work/spec.json" --dir "$work/one" > /dev/null 2> "$work/third.err"
grep -q '^b: .* 1 to extract' "$work/third.err" || { cat "$work/third.err" >&2; fail "restart"; }
[ "$(grep -c ': cached' "$work/third.err")" -eq 2 ] || fail "restart extracted a or c"
sums "$work/one" | cmp -s - "$work/one.sums" || fail "restart changed the corpus"
echo "a lost part extracted again alone, same corpus: ok"

# a Debian package missing, --no-install
cat > "$work/missing.json" <<EOF
[{"name": "m", "language": "python", "kind": "debian", "root": "/usr/lib/python3/dist-packages",
  "packages": ["astpg-no-such-package"], "depends": false}]
EOF
status=0
test/bench/corpus --spec "$work/missing.json" --dir "$work/one" --no-install \
	> /dev/null 2> "$work/missing.err" || status=$?
[ "$status" -eq 1 ] || fail "missing package: status $status, expected 1"
grep -q 'not installed (and --no-install): astpg-no-such-package' "$work/missing.err" ||
	{ cat "$work/missing.err" >&2; fail "missing package: message"; }
echo "a missing package with --no-install: status 1: ok"
echo "corpus_test: 5 passed, 0 failed"
