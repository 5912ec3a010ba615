# test/lib.sh: what the shell test drivers share.  Source it.
#
#   check "what" GOT WANT    one assertion: "ok - what" or "not ok - ..."
#   finish                   "N passed, N failed"; the exit status says
#                            whether anything failed

passed=0
failed=0

check() {
	if [ "$2" = "$3" ]; then
		echo "ok - $1"
		passed=$((passed + 1))
	else
		echo "not ok - $1: got '$2', want '$3'"
		failed=$((failed + 1))
	fi
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# The database helpers the drivers share.  $db names the driver's database.
#
#   sql [PSQL ARGS]    psql on $db: quiet, unaligned tuples, stopping at the
#                      first error (-c 'SQL', or a script on standard input)
#   q DB SQL           one statement's answer on database DB
#   fresh              $db dropped and created again, with astpg in it

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

fresh() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	sql -c "SET client_min_messages = warning" -c "CREATE EXTENSION astpg CASCADE"
}
