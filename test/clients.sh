#!/usr/bin/env bash
#
# test/clients.sh: the client programs of docs/clients.md (psql, psycopg2,
# psycopg 3, asyncpg, node-postgres, JDBC) against the server the PG*
# variables name, directly and through pgbouncer in transaction pooling mode
# (started here on a free port of 127.0.0.1, with two server connections).
# test/clients.py says what is checked.  astpg installed; needs pgbouncer,
# the client libraries (tools/install-deps), and TCP to the server for JDBC.
#
#   test/clients.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=astpg_clients

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -c "CREATE EXTENSION astpg CASCADE"

work=$(mktemp -d)
pgbouncer_pid=
cleanup() {
	[ -n "$pgbouncer_pid" ] && kill "$pgbouncer_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# pgbouncer refuses to run as root: as root, it runs as postgres
run_as=()
if [ "$(id -u)" -eq 0 ]; then
	chown postgres "$work"
	run_as=(-u postgres)
fi
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=${PGUSER:-$(id -un)}
# as docs/clients.md's configuration, with trust from the clients (the
# server side authenticates with the PG* variables' password, if any)
cat > "$work/pgbouncer.ini" <<EOF
[databases]
$db = host=${PGHOST:-/var/run/postgresql} port=${PGPORT:-5432} dbname=$db user=$user${PGPASSWORD:+ password=$PGPASSWORD}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = 2
ignore_startup_parameters = extra_float_digits
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
EOF
echo "\"$user\" \"\"" > "$work/userlist.txt"
[ "$(id -u)" -eq 0 ] && chown postgres "$work"/*
pgbouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
"$pgbouncer" -d "${run_as[@]}" "$work/pgbouncer.ini"
for _ in $(seq 50); do
	[ -s "$work/pgbouncer.pid" ] && break
	sleep 0.1
done
pgbouncer_pid=$(cat "$work/pgbouncer.pid")
echo "pgbouncer $("$pgbouncer" --version | head -1 | cut -d' ' -f2) on 127.0.0.1:$port, pool_mode transaction, 2 server connections"

status=0
/usr/bin/python3 "$here/clients.py" --database "$db" --pooler "127.0.0.1:$port" || status=$?
if [ "$status" -ne 0 ]; then
	tail -20 "$work/pgbouncer.log" >&2
fi
exit "$status"
