#!/usr/bin/env bash
#
# test/package.sh: build the Debian package postgresql-15-astpg from this
# tree as an operator would (dpkg-buildpackage -us -uc -b, debian/), install
# it, and run the regression suites and the package's own checks against a
# fresh cluster that has only the package's astpg; validate META.json
# (PGXN) on the way.
#
# The tree is copied first (tracked and untracked files, not ignored ones:
# no build products), so the build writes nothing here.  Steps:
#   1. META.json against the PGXN Meta Spec (test/pgxn_meta.py);
#   2. the versions agree: debian/changelog's upstream version is
#      default_version of astpg.control; debian/control is current with
#      debian/control.in (pg_buildext checkcontrol, during the build);
#   3. Build-Depends installed with apt-get when missing, then
#      DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b (nocheck:
#      the suites run against the installed package below instead of
#      against debian/postgresql-15-astpg during the build;
#      PACKAGE_BUILD_CHECK=1 runs them there too);
#   4. the .deb's version, and its files (extension, library, every
#      script, tools, extractors, extract-js's parser);
#   5. the package installed, and against it, in clusters made for the
#      purpose: `make installcheck` (pg_regress and isolation suites) and
#      test/package_check.sh (versions, tools from PATH, astpg-index on
#      real files).
#
# Two ways to install (step 5), PACKAGE_INSTALL=apt or extract:
#   apt (default)  apt-get install ./postgresql-15-astpg_*.deb, system-wide,
#                  then debian/tests/installcheck and debian/tests/tools
#                  (the package's autopkgtests: pg_buildext installcheck,
#                  pg_virtualenv).  For CI and fresh machines: it replaces
#                  a `make install`ed astpg with the package's files and
#                  leaves the package installed (apt-get purge
#                  postgresql-15-astpg removes it; make install puts a
#                  build of the tree back).
#   extract        nothing system-wide: PostgreSQL 15 is copied into a
#                  temporary directory (a relocated installation finds its
#                  libraries and share directory beside its binaries), any
#                  astpg files in the copy are removed, the .deb is
#                  unpacked into it (dpkg -x) and a cluster of its own runs
#                  from it.  For machines whose PostgreSQL others use.
#
#   test/package.sh
#   PACKAGE_INSTALL=extract test/package.sh
#   KEEP=1 test/package.sh          keep the temporary directory
#   PACKAGE_DEB=path.deb test/package.sh   test a package built before
#                                   (steps 3 and 4's build skipped)
#
# Needs root (or sudo) for apt-get, and for the clusters (run as postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
. test/lib.sh
mode=${PACKAGE_INSTALL:-apt}
case $mode in
apt | extract) ;;
*) echo "package.sh: PACKAGE_INSTALL is apt or extract, not '$mode'" >&2; exit 2 ;;
esac
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
apt_get() { DEBIAN_FRONTEND=noninteractive $sudo apt-get -y -qq --no-install-recommends "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/astpg-package.XXXXXX")
# the clusters' server (user postgres) reads the suites' fixtures
chmod 755 "$work"
data=$work/data
status=1
as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
	if [ -f "$data/postmaster.pid" ]; then
		as_postgres "$work/root/usr/lib/postgresql/15/bin/pg_ctl" -D "$data" -m immediate stop \
			> /dev/null 2>&1 || true
	fi
	if [ "$status" -eq 0 ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$work"
	else
		echo "package.sh: kept $work" >&2
	fi
}
trap cleanup EXIT

echo "== package: META.json (PGXN)"
test/pgxn_meta.py | sed 's/^/  /'
[ "${PIPESTATUS[0]}" -eq 0 ]

echo "== package: copy the tree into $work"
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" astpg.control)
tree=$work/astpg-$version
mkdir "$tree"
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf - | tar -C "$tree" -xf -
else
	cp -a . "$tree"
	rm -rf "$tree/tools/extract-js/node_modules"
fi

# dpkg-parsechangelog comes with dpkg-dev, which the build needs anyway
command -v dpkg-buildpackage > /dev/null || apt_get install dpkg-dev > /dev/null
deb_version=$(cd "$tree" && dpkg-parsechangelog -S Version)
if [ "${deb_version%-*}" != "$version" ]; then
	echo "package.sh: debian/changelog is at $deb_version, astpg.control's default_version is" \
		"$version: add a changelog entry for $version-1 (see docs/packaging.md)" >&2
	exit 1
fi

if [ -n "${PACKAGE_DEB:-}" ]; then
	deb=$(readlink -f "$PACKAGE_DEB")
	echo "== package: $deb, as built before"
	deb_version=$(dpkg-deb -f "$deb" Version)
else
	echo "== package: Build-Depends"
	if ! (cd "$tree" && dpkg-checkbuilddeps 2> /dev/null); then
		echo "package.sh: installing the Build-Depends" >&2
		$sudo apt-get update -qq
		(cd "$tree" && apt_get build-dep ./ > /dev/null)
	fi

	echo "== package: dpkg-buildpackage -us -uc -b"
	start=$SECONDS
	build_options=nocheck
	[ -z "${PACKAGE_BUILD_CHECK:-}" ] || build_options=
	if ! (cd "$tree" && DEB_BUILD_OPTIONS=$build_options dpkg-buildpackage -us -uc -b \
		> "$work/build.log" 2>&1); then
		tail -25 "$work/build.log" >&2
		echo "package.sh: the build failed (log: $work/build.log)" >&2
		exit 1
	fi
	deb=$(ls "$work"/postgresql-15-astpg_*.deb)
	echo "  built $(basename "$deb") ($(du -k "$deb" | cut -f1) kB) in $((SECONDS - start)) s"
fi

echo "== package: what it holds"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' > "$work/contents"
has() { grep -qx "$1" "$work/contents" && echo yes || echo "no ($1)"; }
check "the package's version is $version-N" "$(dpkg-deb -f "$deb" Version | sed 's/-[^-]*$//')" "$version"
check "the extension's control file" "$(has /usr/share/postgresql/15/extension/astpg.control)" yes
check "the library" "$(has /usr/lib/postgresql/15/lib/astpg.so)" yes
for script in sql/astpg--*.sql; do
	check "$(basename "$script")" "$(has "/usr/share/postgresql/15/extension/$(basename "$script")")" yes
done
for f in /usr/lib/postgresql/15/bin/astpg-load /usr/lib/postgresql/15/bin/astpg-index \
	/usr/bin/astpg-load /usr/bin/astpg-index /usr/share/postgresql/15/astpg/extract-python \
	/usr/share/postgresql/15/astpg/extract-js/extract-js \
	/usr/share/postgresql/15/astpg/extract-js/node_modules/typescript/package.json; do
	check "$f" "$(has "$f")" yes
done
check "its dependencies" \
	"$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' |
		grep -xE 'postgresql-15|python3|python3-psycopg2|nodejs|libpq5' | sort | paste -sd ' ')" \
	"libpq5 nodejs postgresql-15 python3 python3-psycopg2"
echo "  $(grep -c . "$work/contents") entries; installed size $(dpkg-deb -f "$deb" Installed-Size) kB"

echo "== package: install ($mode)"
cd "$tree"
if [ "$mode" = apt ]; then
	apt_get install "$deb" > /dev/null
	check "dpkg has postgresql-15-astpg $deb_version installed" \
		"$(dpkg-query -W -f '${Status} ${Version}' postgresql-15-astpg)" "install ok installed $deb_version"
	echo "== package: debian/tests/installcheck (pg_regress and isolation suites)"
	debian/tests/installcheck > "$work/installcheck.log" 2>&1 ||
		{ cat "$work/installcheck.log" >&2; check "installcheck" failed passed; }
	grep -E "^ok|^not ok|^test |All .* passed|failed" "$work/installcheck.log" | sed 's/^/  /' || true
	echo "== package: debian/tests/tools"
	debian/tests/tools 2>&1 | sed 's/^/  /'
	[ "${PIPESTATUS[0]}" -eq 0 ] || check "debian/tests/tools" failed passed
else
	root=$work/root
	pg=$root/usr/lib/postgresql/15/bin
	pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
	mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql"
	cp -a "$("$pg_config" --bindir)/.." "$root/usr/lib/postgresql/15"
	cp -a "$("$pg_config" --sharedir)" "$root/usr/share/postgresql/15"
	# a `make install` of astpg into the original must not be tested
	rm -rf "$root"/usr/lib/postgresql/15/lib/astpg.so "$root"/usr/lib/postgresql/15/lib/bitcode/astpg* \
		"$root"/usr/share/postgresql/15/extension/astpg[.-]* "$root"/usr/share/postgresql/15/astpg \
		"$pg"/astpg-load "$pg"/astpg-index
	dpkg -x "$deb" "$root"
	mkdir "$data" "$work/sock" "$work/log"
	[ "$(id -u)" -ne 0 ] || chown postgres "$data" "$work/sock" "$work/log"
	as_postgres "$pg/initdb" -D "$data" -A trust -U postgres > /dev/null
	port=$((20000 + RANDOM % 20000))
	as_postgres "$pg/pg_ctl" -D "$data" -l "$work/log/server.log" -w \
		-o "-p $port -k $work/sock -c listen_addresses=" start > /dev/null
	unset PGDATABASE PGSERVICE PGPASSWORD PGOPTIONS PGHOSTADDR PGSERVICEFILE PGSYSCONFDIR
	export PGHOST=$work/sock PGPORT=$port PGUSER=postgres PG_CONFIG=$pg/pg_config
	export PATH=$root/usr/bin:$pg:$PATH
	check "the copy's pg_config names the copy" "$(pg_config --sharedir)" "$root/usr/share/postgresql/15"
	echo "== package: make installcheck (pg_regress and isolation suites)"
	if make installcheck > "$work/installcheck.log" 2>&1; then
		grep -E "^test |All .* passed" "$work/installcheck.log" | sed 's/^/  /'
	else
		cat "$work/installcheck.log" regression.diffs output_iso/regression.diffs >&2 2> /dev/null || true
		check "make installcheck" failed passed
	fi
	echo "== package: test/package_check.sh"
	test/package_check.sh 2>&1 | sed 's/^/  /'
	[ "${PIPESTATUS[0]}" -eq 0 ] || check "test/package_check.sh" failed passed
fi
cd "$src"
if finish; then status=0; fi
echo "package.sh: done in $SECONDS s"
exit "$status"
