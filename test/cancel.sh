#!/usr/bin/env bash
#
# test/cancel.sh [ARGS]
#
# A cancel (pg_cancel_backend, statement_timeout) stops the ingest of a
# huge document or of a large batch, through ingest(), ingest_batch() and
# the inbox, promptly and with nothing written: test/cancel.py's short run
# (under a minute), against the server the PG* variables name.  ARGS go to
# test/cancel.py (--long for more moments, repeated).
#
# Issue 10's goal is 100 ms, which test/cancel.py takes by default, and
# which the medians meet.  Here the threshold is 2500 ms
# (CANCEL_THRESHOLD_MS), one the code meets on this project's 2-core
# machine, loaded or not: what is left is PostgreSQL's, in calls that never
# check for interrupts.  Writing the files row of the 100 MB ast
# compresses it in one call (lz4, about 250 ms quiet, up to 1.2 s loaded);
# COPY handles a 100 MB line for 0.3 to 1 s after the client's last byte.
# With --long (42 cancels each, quiet machine, 1.5): medians 1 to 15 ms,
# maxima 382 ms (ingest, ast) and 382 ms (inbox, ast).  Until 1.5 the GIN
# keys of files_ast_idx were extracted in one call too (1.3 s quiet, 5.4 s
# loaded: maxima of 1,239 ms); astpg.ast_path_ops extracts them cancellably.
# Before astpg parsed the inbox's text itself, a cancel of that COPY took
# 5 to 7 s (loaded); the pg_regress suite "cancel" checks that parse
# without timing it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/cancel.py" \
	--threshold-ms "${CANCEL_THRESHOLD_MS:-2500}" "$@"
