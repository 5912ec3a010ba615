#!/usr/bin/env bash
#
# test/fuzz.sh [COUNT [SEED]]
#
# Hostile documents through astpg.ingest, astpg.ingest_batch and COPY
# astpg.inbox (test/fuzz.py): each must be stored and given back by
# astpg.document() as docs/document-format.md says, or refused with the
# SQLSTATE the format promises and leave nothing behind but its reject row;
# the backend must never crash.  COUNT documents (default 3000, about 40 s;
# FUZZ_COUNT=100000 for a long run), from a random seed unless SEED (or
# FUZZ_SEED) is given; the seed is printed first, so that any failure can
# be repeated.  Failing cases, minimised, are printed and kept in
# fuzz-failures.ndjson in the current directory.
#
# Runs against the server that the PG* variables name (astpg installed),
# in a database of its own.  Prints "N passed, N failed" and exits non-zero
# on any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
count=${1:-${FUZZ_COUNT:-3000}}
seed=${2:-${FUZZ_SEED:-}}

. "$here/lib.sh"

# Debian's python3 has psycopg2 (python3-psycopg2); a python3 earlier on
# PATH (pyenv, a virtualenv) may not
python=/usr/bin/python3
[ -x "$python" ] || python=python3

status=0
"$python" "$here/fuzz.py" --count "$count" ${seed:+--seed "$seed"} --via all \
	--failures fuzz-failures.ndjson || status=$?
check "fuzz: $count documents through ingest, ingest_batch and the inbox" "$status" 0
finish
