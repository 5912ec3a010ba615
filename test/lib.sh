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
