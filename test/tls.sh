#!/usr/bin/env bash
#
# test/tls.sh: astpg-load and astpg-index over TLS with sslmode=verify-full
# (issue 19, item 8).  Prints "N passed, N failed".
#
# It makes a test CA with openssl, and a server certificate it signs for
# "localhost"; then another CA, which signs a server certificate of the same
# name.  A server of its own (test/own_cluster.sh: the installed binaries,
# astpg, astpg-load and astpg-index installed there) listens on 127.0.0.1
# with ssl = on, and its pg_hba.conf turns away any TCP connection without
# TLS.  Both tools, given
#
#   host=localhost hostaddr=127.0.0.1 port=P sslmode=verify-full sslrootcert=ca.crt
#
# as -d or as PGSSLMODE/PGSSLROOTCERT, load and index over TLS (the server
# logs each connection's protocol); they refuse the same server by its
# address, which its certificate does not name, and once the server
# presents the other CA's certificate they refuse it, having sent and
# written nothing.
#
# Takes some 10 seconds; its own directory and server are gone after it.
#
#   test/tls.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
load=${ASTPG_LOAD:-$(pg_config --bindir)/astpg-load}
index=${ASTPG_INDEX:-$(pg_config --bindir)/astpg-index}
db=astpg_tls
work=$(mktemp -d)
chmod 755 "$work"
trap 'cluster_stop_all; rm -rf "$work"' EXIT

. "$here/lib.sh"
. "$here/own_cluster.sh"

# --- certificates --------------------------------------------------------------
# make_ca NAME; make_server CA NAME: NAME.crt and NAME.key, for "localhost"
make_ca() {
	openssl req -x509 -new -nodes -days 2 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-subj "/CN=astpg $1" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$work/$1.key" -out "$work/$1.crt" 2> /dev/null
}
make_server() {
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-subj "/CN=localhost" -keyout "$work/$2.key" -out "$work/$2.csr" 2> /dev/null
	printf 'subjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n' > "$work/$2.ext"
	openssl x509 -req -in "$work/$2.csr" -CA "$work/$1.crt" -CAkey "$work/$1.key" \
		-CAcreateserial -days 2 -extfile "$work/$2.ext" -out "$work/$2.crt" 2> /dev/null
	chmod 600 "$work/$2.key"
	[ "$(id -u)" -ne 0 ] || chown postgres "$work/$2.key"
}
make_ca test-ca
make_server test-ca server
make_ca other-ca
make_server other-ca impostor
check "the test CA signed the server's certificate, not the impostor's" \
	"$(openssl verify -CAfile "$work/test-ca.crt" "$work/server.crt" "$work/impostor.crt" 2>&1 | grep -c ': OK$')" 1

# --- a server with TLS only --------------------------------------------------------
port=$(free_port 55432)
cluster_init tls
cat > "$work/tls/pg_hba.conf" <<EOF
local     all  all                 trust
hostssl   all  all  127.0.0.1/32   trust
hostnossl all  all  127.0.0.1/32   reject
EOF
# in postgresql.conf, not on the command line, which ALTER SYSTEM could
# not override
cat >> "$work/tls/postgresql.conf" <<EOF
ssl = on
ssl_cert_file = '$work/server.crt'
ssl_key_file = '$work/server.key'
log_connections = on
EOF
cluster_start tls "$port" -c listen_addresses=127.0.0.1
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d "$db" "$@"; }
psql -X -q -h "$work" -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db"
sql -c "SET client_min_messages = warning" -c "CREATE EXTENSION astpg CASCADE"
conninfo="host=localhost hostaddr=127.0.0.1 port=$port user=postgres dbname=$db sslmode=verify-full sslrootcert=$work/test-ca.crt"
# TLS connections the server accepted since the mark, from application $1
# (psycopg2 names none)
log_mark() { mark=$(stat -c %s "$work/tls.log"); }
tls_connections() {
	tail -c +"$((mark + 1))" "$work/tls.log" |
		grep -c "connection authorized: user=postgres database=$db ${1:+application_name=$1 }SSL enabled (protocol=TLSv1" || true
}
written() { sql -c "SELECT (SELECT count(*) FROM astpg.files) || ' ' || (SELECT count(*) FROM astpg.ingests)"; }

stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
tree=$work/tree
mkdir -p "$tree/lib"
cp "$stdlib"/{textwrap,shlex,string,bisect,heapq,fnmatch}.py "$tree/lib/"
tools/extract-python --repository load --root "$tree" "$tree"/lib/*.py > "$work/docs.ndjson" 2> /dev/null

# --- verify-full against the test CA ------------------------------------------------
log_mark
status=0
"$load" --no-progress --jobs 2 -d "$conninfo" "$work/docs.ndjson" > "$work/out" 2> "$work/err" || status=$?
check "load, verify-full: exit status" "$status" 0
check "load, verify-full: every document stored" \
	"$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 'load'")" 6
check "load, verify-full: its connections were TLS" "$([ "$(tls_connections astpg-load)" -ge 3 ] && echo yes)" yes

log_mark
status=0
"$index" --no-progress -d "$conninfo" --repository index "$tree" > "$work/out" 2> "$work/err" || status=$?
check "index, verify-full in -d: exit status" "$status" 0
check "index, verify-full in -d: every file stored" \
	"$(sql -c "SELECT count(*) FROM astpg.files WHERE repository = 'index'")" 6
check "index, verify-full in -d: its connections and its load's were TLS" \
	"$([ "$(tls_connections astpg-load)" -ge 3 ] && [ "$(tls_connections)" -ge 1 ] && echo yes)" yes

printf '\n\ndef added(x):\n    return x\n' >> "$tree/lib/textwrap.py"
status=0
PGSSLMODE=verify-full PGSSLROOTCERT=$work/test-ca.crt \
	"$index" --no-progress -h localhost -p "$port" -U postgres -d "$db" --repository index "$tree" \
	> "$work/out" 2> "$work/err" || status=$?
check "index, verify-full from PGSSLMODE and PGSSLROOTCERT: exit status" "$status" 0
check "index, verify-full from PGSSLMODE and PGSSLROOTCERT: the edit stored" \
	"$(sed -n 's/.* new \([0-9]*\), changed \([0-9]*\),.*/\1 \2/p' "$work/out")" "0 1"

# --- what must be refused --------------------------------------------------------------
before=$(written)
status=0
"$load" --no-progress -d "${conninfo/sslmode=verify-full/sslmode=disable}" "$work/docs.ndjson" > "$work/out" 2> "$work/err" || status=$?
check "without TLS: the server turns the load away" \
	"$status $(grep -c 'pg_hba.conf rejects connection for host "127.0.0.1", user "postgres", database "astpg_tls", no encryption' "$work/err")" "1 1"

status=0
"$load" --no-progress -d "${conninfo/host=localhost hostaddr=127.0.0.1/host=127.0.0.1}" "$work/docs.ndjson" > "$work/out" 2> "$work/err" || status=$?
check "verify-full by an address the certificate does not name: refused" \
	"$status $(grep -cF 'server certificate for "localhost" (and 1 other name) does not match host name "127.0.0.1"' "$work/err")" "1 1"

# the server now presents a certificate the test CA did not sign
sql -c "ALTER SYSTEM SET ssl_cert_file = '$work/impostor.crt'" \
	-c "ALTER SYSTEM SET ssl_key_file = '$work/impostor.key'" -c "SELECT pg_reload_conf()" > /dev/null
sleep 0.5
check "the server presents the impostor's certificate" \
	"$(openssl s_client -starttls postgres -connect "127.0.0.1:$port" < /dev/null 2> /dev/null | openssl x509 -noout -issuer 2> /dev/null)" \
	"issuer=CN = astpg other-ca"
status=0
"$load" --no-progress -d "$conninfo" "$work/docs.ndjson" > "$work/out" 2> "$work/err" || status=$?
check "load, a server the CA did not sign: refused" \
	"$status $(grep -c 'SSL error: certificate verify failed' "$work/err")" "1 1"
check "load, a server the CA did not sign: nothing sent" "$(grep -c 'no document was sent' "$work/err")" 1
printf '\n# again\n' >> "$tree/lib/textwrap.py"
status=0
"$index" --no-progress -d "$conninfo" --repository index "$tree" > "$work/out" 2> "$work/err" || status=$?
check "index, a server the CA did not sign: refused" \
	"$status $(grep -c 'SSL error: certificate verify failed' "$work/err")" "1 1"
check "refused: nothing written" "$(written)" "$before"

finish
