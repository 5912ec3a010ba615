/*-------------------------------------------------------------------------
 *
 * main.c
 *	  astpg-load: load NDJSON documents into astpg at COPY speed.
 *
 * The main thread reads the input into batches (input.c); --jobs worker
 * threads, one connection each, send them through COPY into astpg.inbox,
 * one transaction per batch (worker.c).  A progress bar goes to stderr when
 * it is a terminal.  On an error or an interrupt the summary says exactly
 * which documents are committed, and how to resume.
 *
 * --skip-unchanged leaves out the documents whose stored content_hash is
 * their own, and --sync deletes, once all is committed, the stored files of
 * a repository the input does not name (sync.c): astpg-index's sync for
 * producers that already have NDJSON.
 *
 * Exit status: 0 every document stored; 1 some documents not committed
 * (an error or an interrupt); 2 bad usage; 3 all committed, but the server
 * rejected some (--on-error=skip: see astpg.rejects); 4 the server is
 * read-only (a standby, or default_transaction_read_only): found before the
 * first batch, nothing is sent, or the load stopped when it became so.
 *
 * IDENTIFICATION
 *	  tools/astpg-load/main.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "astpg_load.h"

#define EXIT_NOT_COMMITTED 1
#define EXIT_USAGE 2
#define EXIT_REJECTED 3
#define EXIT_READ_ONLY 4

volatile sig_atomic_t interrupted = 0;

static void
usage(FILE *out)
{
	fprintf(out,
			"astpg-load loads NDJSON documents (one astpg document a line) into astpg.\n\n"
			"Usage:\n  astpg-load [OPTION]... [FILE]...\n\n"
			"FILE is plain or gzip NDJSON; none or \"-\" reads standard input.\n\n"
			"Options:\n"
			"  -b, --batch=N            documents per transaction (default 1000)\n"
			"  -1, --single-transaction all documents in one transaction\n"
			"  -j, --jobs=N             parallel connections (default 1)\n"
			"      --on-error=MODE      abort (default): a refused document stops the load;\n"
			"                           skip: it is stored in astpg.rejects, the load goes on\n"
			"      --skip=N             skip the first N documents (to resume a load)\n"
			"      --no-resolve         with --jobs > 1, do not resolve at the end the\n"
			"                           dependencies between files two jobs stored at once\n"
			"      --skip-unchanged     do not send a document whose content_hash is the one\n"
			"                           stored for its path: record it unchanged, as the\n"
			"                           server would (it is then not validated again)\n"
			"      --sync=REPOSITORY    once every document is committed, delete the files\n"
			"                           of REPOSITORY that no document of the input names\n"
			"      --progress           show progress even when stderr is not a terminal\n"
			"      --no-progress        never show progress\n"
			"  -q, --quiet              no summary\n"
			"  -d, --dbname=DBNAME      database name or connection string\n"
			"  -h, --host=HOST          server host or socket directory\n"
			"  -p, --port=PORT          server port\n"
			"  -U, --username=USER      user name\n"
			"      --help               show this help\n\n"
			"PG* environment variables apply as in psql.\n"
			"Exit status: 0 all stored; 1 some documents not committed; 2 bad usage;\n"
			"3 all committed but some rejected (see astpg.rejects); 4 the server is\n"
			"read-only (a standby, or default_transaction_read_only is on).\n");
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_signal(int signo)
{
	(void) signo;
	if (interrupted)
		cancel_workers();		/* a second interrupt: stop at once */
	interrupted = 1;
}

/*
 * Record a failure: the first one, as later ones are consequences, unless
 * the first was the reader's stop at a bad line (that leaves the batches
 * before it to commit, and one of those failing comes first in the input).
 * stop tells the workers to stop too.
 */
static void record_failure(Loader *loader, bool stop, int64_t first, int ndocs,
						   const char *fmt, va_list ap)
			__attribute__((format(printf, 5, 0)));

static void
record_failure(Loader *loader, bool stop, int64_t first, int ndocs,
			   const char *fmt, va_list ap)
{
	char		buf[4096];

	vsnprintf(buf, sizeof(buf), fmt, ap);

	pthread_mutex_lock(&loader->lock);
	if (loader->failure == NULL || loader->failure_in_input)
	{
		size_t		len = strlen(buf);

		while (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		free(loader->failure);
		loader->failure = strdup(buf);
		loader->failure_in_input = !stop;
		loader->failed_first = first;
		loader->failed_ndocs = ndocs;
	}
	if (stop)
		loader->failed = true;
	pthread_cond_broadcast(&loader->changed);
	pthread_mutex_unlock(&loader->lock);
}

/* A failure that stops the load: nothing more is sent. */
void
loader_fail(Loader *loader, int64_t first, int ndocs, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	record_failure(loader, true, first, ndocs, fmt, ap);
	va_end(ap);
}

/*
 * The reader cannot go on (a line that cannot be sent, with abort): the
 * batches already queued, all before it, are still sent and committed, so
 * that the load stops exactly where a refused document would have stopped
 * it.  The reader then ends its input.
 */
void
loader_stop_reading(Loader *loader, int64_t first, int ndocs, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	record_failure(loader, false, first, ndocs, fmt, ap);
	va_end(ap);
}

/* Called with or without the lock: reads two flags. */
bool
loader_stopping(Loader *loader)
{
	return loader->failed || interrupted;
}

/* Wait for the queue to change, or 100 ms, so that interrupts are seen. */
void
loader_wait(Loader *loader)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 100 * 1000 * 1000;
	if (until.tv_nsec >= 1000000000)
	{
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&loader->changed, &loader->lock, &until);
}

static void
format_duration(char *buf, size_t size, double seconds)
{
	long		s = (long) (seconds + 0.5);

	if (s >= 3600)
		snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

/* One line of progress on stderr, redrawn in place. */
static void
show_progress(Loader *loader, double started, bool final)
{
	double		elapsed = now() - started;
	int64_t		docs,
				text,
				pos,
				size;
	char		line[256];
	int			n;

	pthread_mutex_lock(&loader->lock);
	docs = loader->committed.documents;
	text = loader->text_committed;
	pos = loader->pos_committed;
	size = loader->input_size;
	pthread_mutex_unlock(&loader->lock);

	n = snprintf(line, sizeof(line), "%lld documents  %.0f documents/s  %.1f MB/s",
				 (long long) docs, elapsed > 0 ? docs / elapsed : 0.0,
				 elapsed > 0 ? text / elapsed / 1e6 : 0.0);
	if (size > 0)
	{
		double		done = (double) pos / size;
		int			width = 24;
		int			filled = (int) (done * width);
		char		bar[32];
		char		eta[32];

		memset(bar, '=', filled);
		memset(bar + filled, ' ', width - filled);
		bar[width] = '\0';
		format_duration(eta, sizeof(eta), done > 0 ? elapsed / done - elapsed : 0);
		snprintf(line + n, sizeof(line) - n, "  [%s] %3.0f%%  ETA %s",
				 bar, done * 100, final ? "0:00" : eta);
	}
	fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
	fflush(stderr);
}

/* Documents committed from the start without a gap: the resume point. */
static int64_t
committed_prefix(Loader *loader, int64_t *beyond)
{
	int64_t		prefix = 0;
	int64_t		seq = 0;

	*beyond = 0;
	while (seq < loader->nbatches && loader->batch_committed[seq])
		prefix += loader->batch_docs[seq++];
	for (; seq < loader->nbatches; seq++)
		if (loader->batch_committed[seq])
			*beyond += loader->batch_docs[seq];
	return prefix;
}

static void
summary(Loader *loader, double seconds, bool complete)
{
	Counts	   *c = &loader->committed;
	int64_t		beyond;
	int64_t		prefix = committed_prefix(loader, &beyond);
	int64_t		skip = loader->opt.skip;

	printf("astpg-load: %lld documents committed in %.1f s (%.0f documents/s, %.1f MB/s, %.0f rows/s)\n",
		   (long long) c->documents, seconds,
		   seconds > 0 ? c->documents / seconds : 0.0,
		   seconds > 0 ? loader->text_committed / seconds / 1e6 : 0.0,
		   seconds > 0 ? c->rows / seconds : 0.0);
	printf("  inserted %lld, replaced %lld, unchanged %lld, rejected %lld; %lld rows written\n",
		   (long long) c->inserted, (long long) c->replaced,
		   (long long) c->unchanged, (long long) c->rejected,
		   (long long) c->rows);
	if (c->rejected > 0)
		printf("  rejected documents are stored whole in astpg.rejects\n");
	if (loader->synced)
		printf("  deleted %lld files of repository \"%s\" that the input does not name\n",
			   (long long) loader->deleted, loader->opt.sync_repository);
	if (complete)
		return;

	/* documents are numbered from 1, counting the skipped ones */
	if (prefix > 0)
		printf("  committed: documents %lld to %lld of the input\n",
			   (long long) (skip + 1), (long long) (skip + prefix));
	else
		printf("  committed: none of the documents after the first %lld\n",
			   (long long) skip);
	if (beyond > 0)
		printf("  also committed: %lld later documents (other jobs); loading them again leaves them unchanged\n",
			   (long long) beyond);
	printf("  to resume: astpg-load --skip=%lld ...\n", (long long) (skip + prefix));
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		{"batch", required_argument, NULL, 'b'},
		{"single-transaction", no_argument, NULL, '1'},
		{"jobs", required_argument, NULL, 'j'},
		{"on-error", required_argument, NULL, 'e'},
		{"skip", required_argument, NULL, 's'},
		{"progress", no_argument, NULL, 'P'},
		{"no-progress", no_argument, NULL, 'N'},
		{"quiet", no_argument, NULL, 'q'},
		{"no-resolve", no_argument, NULL, 'R'},
		{"skip-unchanged", no_argument, NULL, 'K'},
		{"sync", required_argument, NULL, 'S'},
		{"dbname", required_argument, NULL, 'd'},
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}
	};
	Loader		loader;
	Options    *opt = &loader.opt;
	pthread_t  *threads;
	pthread_t	reader;
	Worker	   *workers;
	double		started;
	bool		input_ok;
	char	   *why = NULL;
	int			c;

	memset(&loader, 0, sizeof(loader));
	opt->batch_size = 1000;
	opt->jobs = 1;
	opt->progress = -1;

	while ((c = getopt_long(argc, argv, "b:1j:qd:h:p:U:", long_options, NULL)) != -1)
	{
		char	   *end;

		errno = 0;
		switch (c)
		{
			case 'b':
				opt->batch_size = (int) strtol(optarg, &end, 10);
				if (*end || errno || opt->batch_size < 1)
				{
					fprintf(stderr, "astpg-load: --batch must be a positive integer\n");
					return EXIT_USAGE;
				}
				break;
			case '1':
				opt->single_transaction = true;
				break;
			case 'j':
				opt->jobs = (int) strtol(optarg, &end, 10);
				if (*end || errno || opt->jobs < 1 || opt->jobs > 64)
				{
					fprintf(stderr, "astpg-load: --jobs must be from 1 to 64\n");
					return EXIT_USAGE;
				}
				break;
			case 'e':
				if (strcmp(optarg, "skip") == 0)
					opt->skip_rejected = true;
				else if (strcmp(optarg, "abort") != 0)
				{
					fprintf(stderr, "astpg-load: --on-error must be abort or skip\n");
					return EXIT_USAGE;
				}
				break;
			case 's':
				opt->skip = strtoll(optarg, &end, 10);
				if (*end || errno || opt->skip < 0)
				{
					fprintf(stderr, "astpg-load: --skip must be a non-negative integer\n");
					return EXIT_USAGE;
				}
				break;
			case 'P':
				opt->progress = 1;
				break;
			case 'N':
				opt->progress = 0;
				break;
			case 'q':
				opt->quiet = true;
				break;
			case 'R':
				opt->no_resolve = true;
				break;
			case 'K':
				opt->skip_unchanged = true;
				break;
			case 'S':
				opt->sync_repository = optarg;
				break;
			case 'd':
				opt->dbname = optarg;
				break;
			case 'h':
				opt->host = optarg;
				break;
			case 'p':
				opt->port = optarg;
				break;
			case 'U':
				opt->user = optarg;
				break;
			case '?':
				if (optind > 0 && strcmp(argv[optind - 1], "--help") == 0)
				{
					usage(stdout);
					return 0;
				}
				usage(stderr);
				return EXIT_USAGE;
		}
	}
	opt->files = argv + optind;
	opt->nfiles = argc - optind;
	if (opt->single_transaction && opt->jobs > 1)
	{
		fprintf(stderr, "astpg-load: --single-transaction needs --jobs=1\n");
		return EXIT_USAGE;
	}
	if (opt->progress < 0)
		opt->progress = isatty(STDERR_FILENO);

	/*
	 * A server that cannot store anything is told apart before the first
	 * batch: one message, and no resume point, as there is nothing to
	 * resume.
	 */
	switch (check_server(opt, &why))
	{
		case SERVER_WRITABLE:
			break;
		case SERVER_READ_ONLY:
			fprintf(stderr, "astpg-load: cannot load into a read-only server: %s\n"
					"astpg-load: no document was sent\n", why);
			return EXIT_READ_ONLY;
		case SERVER_UNREACHABLE:
			fprintf(stderr, "astpg-load: %s", why);
			fprintf(stderr, "astpg-load: no document was sent\n");
			return EXIT_NOT_COMMITTED;
	}
	free(why);

	pthread_mutex_init(&loader.lock, NULL);
	pthread_cond_init(&loader.changed, NULL);
	loader.capacity = opt->jobs * 2;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	started = now();
	threads = calloc(opt->jobs, sizeof(pthread_t));
	workers = calloc(opt->jobs, sizeof(Worker));
	loader.running = opt->jobs;
	for (int i = 0; i < opt->jobs; i++)
	{
		workers[i].loader = &loader;
		workers[i].id = i;
		pthread_create(&threads[i], NULL, worker_main, &workers[i]);
	}
	pthread_create(&reader, NULL, reader_main, &loader);

	/* wait for the input and the workers, drawing progress meanwhile */
	pthread_mutex_lock(&loader.lock);
	while (!loader.input_done || loader.running > 0)
	{
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&loader.changed, &loader.lock, &until);
		if (opt->progress)
		{
			pthread_mutex_unlock(&loader.lock);
			show_progress(&loader, started, false);
			pthread_mutex_lock(&loader.lock);
		}
	}
	pthread_mutex_unlock(&loader.lock);
	pthread_join(reader, NULL);
	for (int i = 0; i < opt->jobs; i++)
		pthread_join(threads[i], NULL);
	if (opt->progress)
		show_progress(&loader, started, true);
	input_ok = loader.input_ok;

	{
		bool		complete = input_ok && loader.failure == NULL &&
			!interrupted && loader.committed.documents == loader.docs_read;

		if (loader.failure != NULL)
		{
			if (loader.failed_first >= 0 && loader.failed_ndocs > 0)
				fprintf(stderr, "astpg-load: documents %lld to %lld not committed: %s\n",
						(long long) loader.failed_first + 1,
						(long long) (loader.failed_first + loader.failed_ndocs),
						loader.failure);
			else
				fprintf(stderr, "astpg-load: %s\n", loader.failure);
		}
		else if (interrupted)
			fprintf(stderr, "astpg-load: interrupted\n");

		/*
		 * --sync only once everything is committed: a document that did not
		 * reach the server must not cost its path's stored version.  Before
		 * the resolution, so that it sees the final set of files.
		 */
		if (complete && opt->sync_repository)
		{
			char	   *why = NULL;

			if (!sync_delete(&loader, &why))
			{
				fprintf(stderr, "astpg-load: every document is committed, but deleting the files of \"%s\" the input does not name failed: %s",
						opt->sync_repository, why);
				complete = false;
			}
		}
		if (complete && opt->jobs > 1 && !opt->no_resolve)
		{
			int64_t		resolved = 0;
			char	   *why = NULL;

			if (!resolve_dependencies(opt, &resolved, &why))
			{
				fprintf(stderr, "astpg-load: every document is committed, but resolving dependencies failed: %s",
						why);
				complete = false;
			}
			else if (!opt->quiet)
				printf("astpg-load: resolved %lld dependencies between files stored by different jobs\n",
					   (long long) resolved);
		}
		if (!opt->quiet || !complete)
			summary(&loader, now() - started, complete);
		if (loader.read_only)
		{
			fprintf(stderr, "astpg-load: the server became read-only during the load; resume once it accepts writes again\n");
			return EXIT_READ_ONLY;
		}
		if (!complete)
			return EXIT_NOT_COMMITTED;
		return loader.committed.rejected > 0 ? EXIT_REJECTED : 0;
	}
}
