# test/own_cluster.sh: throwaway PostgreSQL clusters of the installed
# binaries ($(pg_config --bindir)), for drivers that need servers of their
# own (a standby, TLS).  Source it once $work is set: the clusters live
# there, their sockets too.  As root they run as user postgres, and $work
# is given to it.
#
#   cluster_init NAME [initdb option]...    initdb $work/NAME (trust, UTF8)
#   cluster_start NAME PORT [option]...     start it: socket in $work, no TCP
#                                           unless an option says so
#                                           ("-c listen_addresses=..."),
#                                           log in $work/NAME.log
#   cluster_stop_all                        stop every cluster started (for
#                                           the driver's EXIT trap)
#   as_owner COMMAND...                     run as the clusters' owner
#   free_port FROM                          the first port from FROM on that
#                                           nothing listens on (127.0.0.1)

bindir=$(pg_config --bindir)
started_clusters=()
if [ "$(id -u)" -eq 0 ]; then
	chown postgres "$work"
	as_owner() { runuser -u postgres -- "$@"; }
else
	as_owner() { "$@"; }
fi

cluster_init() {
	local name=$1
	shift
	as_owner "$bindir/initdb" -D "$work/$name" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 --no-sync "$@" > "$work/$name.initdb" 2>&1 || {
		cat "$work/$name.initdb" >&2
		return 1
	}
}

cluster_start() {
	local name=$1 port=$2
	shift 2
	started_clusters+=("$name")
	as_owner "$bindir/pg_ctl" -D "$work/$name" -l "$work/$name.log" -w -t 60 \
		-o "-p $port -k $work -c listen_addresses='' -c fsync=off $*" start > /dev/null || {
		cat "$work/$name.log" >&2
		return 1
	}
}

cluster_stop_all() {
	for name in "${started_clusters[@]}"; do
		as_owner "$bindir/pg_ctl" -D "$work/$name" -m immediate -w stop > /dev/null 2>&1 || true
	done
}

free_port() {
	local port=$1
	while (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; do
		port=$((port + 1))
	done
	echo "$port"
}
