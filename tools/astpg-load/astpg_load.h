/*-------------------------------------------------------------------------
 *
 * astpg_load.h
 *	  Shared declarations of astpg-load, the bulk loader: NDJSON in, COPY
 *	  into astpg.inbox out.
 *
 *	  main.c    options, the batch queue, progress, the summary
 *	  input.c   reads NDJSON (plain or gzip) into batches of binary COPY rows
 *	  worker.c  one connection: sends batches, one transaction each
 *	  scan.c    finds a document's top-level keys without building it
 *	  sync.c    --skip-unchanged and --sync: stored hashes, deletions
 *	  text.c    lines that cannot be sent as text (not UTF-8, NUL bytes)
 *
 * IDENTIFICATION
 *	  tools/astpg-load/astpg_load.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ASTPG_LOAD_H
#define ASTPG_LOAD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the server did with documents: astpg.ingest_counts() */
typedef struct Counts
{
	int64_t		documents;
	int64_t		inserted;
	int64_t		replaced;
	int64_t		unchanged;
	int64_t		rejected;
	int64_t		rows;
} Counts;

/*
 * A line that cannot be sent as text (text.c): with --on-error=skip the
 * worker records it through astpg.record_reject(), in its place among the
 * batch's documents.
 */
typedef struct LineReject
{
	size_t		offset;			/* its place: the bytes of data before it */
	const char *sqlstate;
	char	   *message;
	char	   *detail;
	char	   *text;			/* the line, bad bytes written \xHH */
} LineReject;

/* Documents to send in one transaction, as binary COPY tuples. */
typedef struct Batch
{
	int64_t		seq;			/* 0, 1, 2, ... in input order */
	int64_t		first;			/* index of its first document (0-based,
								 * counting the skipped ones) */
	int			ndocs;			/* documents to send, rejects included */
	int			unchanged;		/* documents of its span recorded unchanged
								 * by the reader (--skip-unchanged) */
	int64_t		text_bytes;		/* NDJSON bytes it came from */
	int64_t		input_pos;		/* input bytes read once it was full */
	char	   *data;
	size_t		len;
	size_t		cap;
	LineReject *rejects;		/* lines that cannot be sent as text */
	int			nrejects;
	struct Batch *next;
} Batch;

typedef struct Options
{
	const char *dbname;			/* a name or a connection string */
	const char *host;
	const char *port;
	const char *user;
	int			batch_size;
	bool		single_transaction;
	int			jobs;
	bool		skip_rejected;	/* --on-error=skip */
	int64_t		skip;
	int			progress;		/* -1 auto (a terminal), 0 no, 1 yes */
	bool		quiet;
	bool		no_resolve;		/* --no-resolve */
	bool		skip_unchanged; /* --skip-unchanged */
	const char *sync_repository;	/* --sync REPOSITORY, or NULL */
	char	  **files;
	int			nfiles;
} Options;

typedef struct Loader
{
	Options		opt;

	pthread_mutex_t lock;
	pthread_cond_t changed;
	Batch	   *head;			/* queue of batches to send */
	Batch	   *tail;
	int			queued;
	int			capacity;
	bool		input_done;
	bool		input_ok;		/* the input was read without error */
	int			running;		/* workers not finished yet */
	bool		failed;			/* stop: a batch failed */
	bool		read_only;		/* it failed as the server is read-only */
	char	   *failure;		/* why, for the summary */
	bool		failure_in_input;	/* the reader stopped at a bad line, and
									 * the batches before it may commit */
	int64_t		failed_first;	/* the documents it concerned */
	int			failed_ndocs;

	/* progress and results, under lock */
	int64_t		input_size;		/* bytes of all input files, 0 unknown */
	int64_t		input_read;		/* input bytes read so far */
	int64_t		docs_read;
	int64_t		docs_sent;
	int64_t		text_committed;
	int64_t		pos_committed;
	Counts		committed;
	bool	   *batch_committed;	/* by seq */
	int64_t	   *batch_docs;
	int64_t		nbatches;
	int64_t		batches_cap;

	/* --sync, set by main once the load is complete */
	bool		synced;
	int64_t		deleted;
} Loader;

/* A top-level key of a document, as scan.c found it */
typedef enum KeyKind
{
	KEY_ABSENT,
	KEY_NULL,
	KEY_STRING,
	KEY_OTHER					/* a number, an object, ... */
} KeyKind;

typedef struct KeyValue
{
	KeyKind		kind;
	char	   *text;			/* decoded, NUL-terminated when KEY_STRING */
	size_t		len;
	size_t		cap;
} KeyValue;

typedef struct DocKeys
{
	KeyValue	repository;
	KeyValue	path;
	KeyValue	language;
	KeyValue	content_hash;
	KeyValue	revision;
	KeyValue	key;			/* scratch: the key being read */
} DocKeys;

typedef struct Worker
{
	Loader	   *loader;
	int			id;
} Worker;

extern volatile sig_atomic_t interrupted;

/* main.c */
extern void loader_fail(Loader *loader, int64_t first, int ndocs,
						const char *fmt,...) __attribute__((format(printf, 4, 5)));
extern void loader_stop_reading(Loader *loader, int64_t first, int ndocs,
								const char *fmt,...) __attribute__((format(printf, 4, 5)));
extern bool loader_stopping(Loader *loader);
extern void loader_wait(Loader *loader);

/* input.c */
extern void *reader_main(void *arg);
extern void batch_append(Batch *batch, const char *text, size_t len);
extern void batch_free(Batch *batch);

/* scan.c */
extern bool scan_document(const char *line, size_t len, DocKeys *keys);
extern const char *doc_repository(DocKeys *keys);

/* sync.c */
typedef struct SyncState SyncState;
extern SyncState *sync_begin(Loader *loader);
extern void sync_note_line(SyncState *st, const char *line, size_t len);
extern int	sync_decide(SyncState *st, const char *line, size_t len, char **why);
extern int	sync_pending(SyncState *st);
extern bool sync_flush(SyncState *st, Batch *batch, char **why);
extern void sync_end(SyncState *st);
extern bool sync_delete(Loader *loader, char **why);

/* text.c */
typedef struct TextFault
{
	size_t		offset;			/* of the first bad byte in the line */
	bool		nul;			/* it is a NUL (else not UTF-8) */
	size_t		bad_bytes;		/* bad bytes in the line */
} TextFault;

extern bool text_check(const char *line, size_t len, TextFault *fault);
extern char *text_escape(const char *line, size_t len);
extern void text_describe(const char *line, size_t len, const TextFault *fault,
						  const char *source, int64_t lineno, int64_t document,
						  LineReject *reject);

/* worker.c */
typedef enum ServerState
{
	SERVER_WRITABLE,
	SERVER_READ_ONLY,			/* a standby, or read-only transactions */
	SERVER_UNREACHABLE			/* no connection, or no answer */
} ServerState;

extern void *worker_main(void *arg);
extern struct pg_conn *connect_db(Options *opt);
extern ServerState check_server(Options *opt, char **why);
extern void record_commit(Loader *loader, Batch **batches, int n,
						  const Counts *counts);
extern void cancel_workers(void);
extern bool resolve_dependencies(Options *opt, int64_t *resolved, char **why);

#endif							/* ASTPG_LOAD_H */
