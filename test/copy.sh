#!/usr/bin/env bash
#
# test/copy.sh: every way docs/clients.md shows of sending NDJSON stores each
# document exactly as sent, and COPY's text format does not (test/copy_ways.py
# says how).  Against the server the PG* variables name, astpg and
# astpg-load installed; needs python3-psycopg2, python3-psycopg,
# python3-asyncpg, node and npm, a JDK and libpostgresql-jdbc-java
# (tools/install-deps), and TCP to the server for JDBC.
#
#   test/copy.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Debian's python3, where the client libraries are (a python3 earlier on
# PATH may not have them)
exec /usr/bin/python3 "$here/copy_ways.py" "$@"
