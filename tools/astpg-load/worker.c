/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  One connection of astpg-load: take batches off the queue and send
 *	  each with COPY astpg.inbox (doc) FROM STDIN (FORMAT binary), in a
 *	  transaction of its own (or all in one, --single-transaction).
 *
 * Before each COMMIT the worker reads astpg.ingest_counts(): what the
 * server did with the batch's documents.  A batch is committed whole or
 * not at all, so the summary can say exactly which documents are stored.
 *
 * Every setting a batch relies on (astpg.on_error) is set with SET LOCAL
 * in the batch's own transaction, never for the session: behind a pooler
 * in transaction mode (pgbouncer's pool_mode = transaction) each
 * transaction may run on another server connection, where a session's SET
 * never went, or where another client's is still in force.
 *
 * IDENTIFICATION
 *	  tools/astpg-load/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libpq-fe.h"
#include "astpg_load.h"

/* PGcancel of each connection, for a second interrupt */
#define MAX_JOBS 64
static PGcancel *volatile cancels[MAX_JOBS];

/* Called from the signal handler: PQcancel is safe there. */
void
cancel_workers(void)
{
	char		errbuf[256];

	for (int i = 0; i < MAX_JOBS; i++)
		if (cancels[i] != NULL)
			(void) PQcancel(cancels[i], errbuf, sizeof(errbuf));
}

static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
static const char copy_trailer[2] = {'\377', '\377'};

PGconn *
connect_db(Options *opt)
{
	const char *keywords[] = {"host", "port", "user", "dbname",
	"application_name", "client_encoding", NULL};
	const char *values[] = {opt->host, opt->port, opt->user, opt->dbname,
	"astpg-load", "UTF8", NULL};

	return PQconnectdbParams(keywords, values, 1);
}

/*
 * check_server
 *		Before the first batch: can this server store documents?  On a
 *		standby (pg_is_in_recovery()), or where transactions are read-only
 *		(default_transaction_read_only, for the server, the database or the
 *		role), every batch would fail, and no resume point could help.
 *		*why says which, or why there is no answer.
 *
 * A fresh transaction's transaction_read_only is what a batch's would be:
 * on in recovery, else default_transaction_read_only.
 */
ServerState
check_server(Options *opt, char **why)
{
	PGconn	   *conn = connect_db(opt);
	PGresult   *res;
	ServerState state;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		*why = strdup(PQerrorMessage(conn));
		PQfinish(conn);
		return SERVER_UNREACHABLE;
	}
	res = PQexec(conn,
				 "SELECT pg_catalog.pg_is_in_recovery(),"
				 "       pg_catalog.current_setting('transaction_read_only')");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		*why = strdup(PQerrorMessage(conn));
		state = SERVER_UNREACHABLE;
	}
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
	{
		*why = strdup("the server is a standby in recovery; connect to the primary");
		state = SERVER_READ_ONLY;
	}
	else if (strcmp(PQgetvalue(res, 0, 1), "on") == 0)
	{
		*why = strdup("default_transaction_read_only is on (for the server, the database or the role)");
		state = SERVER_READ_ONLY;
	}
	else
		state = SERVER_WRITABLE;
	PQclear(res);
	PQfinish(conn);
	return state;
}

/*
 * The SQLSTATE of this thread's last failed command ("" if none was given):
 * a deadlock or a serialization failure makes the worker send the batch
 * again.
 */
static __thread char failed_sqlstate[6];

/* *why and failed_sqlstate for a command that failed. */
static void
note_failure(PGconn *conn, const PGresult *res, char **why)
{
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	free(*why);
	*why = strdup(PQerrorMessage(conn));
	snprintf(failed_sqlstate, sizeof(failed_sqlstate), "%s", sqlstate ? sqlstate : "");
}

/* Run a command that returns no rows; false with *why set on failure. */
static bool
run(PGconn *conn, const char *sql, char **why)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		note_failure(conn, res, why);
	PQclear(res);
	return ok;
}

static bool
read_counts(PGconn *conn, Counts *counts, char **why)
{
	PGresult   *res = PQexec(conn,
							 "SELECT documents, inserted, replaced, unchanged,"
							 "       rejected, rows FROM astpg.ingest_counts()");
	bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

	if (ok)
	{
		counts->documents = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		counts->inserted = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		counts->replaced = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		counts->unchanged = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
		counts->rejected = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
		counts->rows = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	}
	else
		note_failure(conn, res, why);
	PQclear(res);
	return ok;
}

/* Send COPY tuples (a whole batch, or a part of it) through COPY. */
static bool
copy_rows(PGconn *conn, const char *data, size_t len, char **why)
{
	PGresult   *res = PQexec(conn, "COPY astpg.inbox (doc) FROM STDIN (FORMAT binary)");
	bool		ok = PQresultStatus(res) == PGRES_COPY_IN;

	if (!ok)
		note_failure(conn, res, why);
	PQclear(res);
	if (!ok)
		return false;
	if (PQputCopyData(conn, copy_header, sizeof(copy_header)) != 1 ||
		PQputCopyData(conn, data, (int) len) != 1 ||
		PQputCopyData(conn, copy_trailer, sizeof(copy_trailer)) != 1 ||
		PQputCopyEnd(conn, NULL) != 1)
	{
		note_failure(conn, NULL, why);
		return false;
	}
	res = PQgetResult(conn);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		note_failure(conn, res, why);
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	return ok;
}

/*
 * Record a line that cannot be sent as text.  astpg.record_reject() stores
 * it as the inbox would, counted as a document of this transaction, so
 * that it and the documents after it keep their positions.
 */
static bool
record_reject(PGconn *conn, const LineReject *reject, char **why)
{
	const char *params[4] = {reject->text, reject->sqlstate, reject->message,
	reject->detail};
	PGresult   *res = PQexecParams(conn,
								   "SELECT astpg.record_reject($1, $2, $3, $4)",
								   4, NULL, params, NULL, NULL, 0);
	bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		note_failure(conn, res, why);
	PQclear(res);
	return ok;
}

/*
 * Send one batch; the transaction is open.  Its lines that cannot be sent
 * as text are recorded in their places, between COPYs of the documents
 * around them.
 */
static bool
send_batch(PGconn *conn, Batch *batch, char **why)
{
	size_t		from = 0;

	for (int i = 0; i <= batch->nrejects; i++)
	{
		size_t		to = i < batch->nrejects ? batch->rejects[i].offset : batch->len;

		if (to > from && !copy_rows(conn, batch->data + from, to - from, why))
			return false;
		if (i < batch->nrejects && !record_reject(conn, &batch->rejects[i], why))
			return false;
		from = to;
	}
	return true;
}

/*
 * A batch of more than one of the server's batches (astpg writes 500
 * documents at a time) holds the locks of the first while it writes the
 * next, so it can deadlock with another worker's writing files that import
 * its files (docs/guarantees.md); a serialization failure can end it at
 * REPEATABLE READ or SERIALIZABLE.  Either way it is sent again, a few
 * times, after a pause.
 */
#define SEND_ATTEMPTS 5

static bool
retryable_failure(void)
{
	return strcmp(failed_sqlstate, "40P01") == 0 ||
		strcmp(failed_sqlstate, "40001") == 0;
}

/*
 * Open a batch's transaction, with its settings local to it (see the top
 * of the file): the mode is set either way, as abort is only the default
 * where no one else set skip.
 */
static bool
begin(PGconn *conn, Options *opt, char **why)
{
	return run(conn, opt->skip_rejected ?
			   "BEGIN; SET LOCAL astpg.on_error = skip" :
			   "BEGIN; SET LOCAL astpg.on_error = abort", why);
}

/* Send one batch in a transaction of its own and commit it. */
static bool
send_and_commit(PGconn *conn, Options *opt, Batch *batch, Counts *counts,
				char **why)
{
	for (int attempt = 1;; attempt++)
	{
		failed_sqlstate[0] = '\0';
		if (begin(conn, opt, why) &&
			send_batch(conn, batch, why) &&
			read_counts(conn, counts, why) &&
			run(conn, "COMMIT", why))
			return true;
		if (!retryable_failure() || attempt == SEND_ATTEMPTS)
			return false;
		if (!run(conn, "ROLLBACK", why))
			return false;
		free(*why);
		*why = NULL;
		usleep(10000 * attempt + rand() % 10000);
	}
}

/* Take the next batch; NULL when there is none left or we are stopping. */
static Batch *
dequeue(Loader *loader)
{
	Batch	   *batch = NULL;

	pthread_mutex_lock(&loader->lock);
	while (loader->head == NULL && !loader->input_done &&
		   !loader_stopping(loader))
		loader_wait(loader);
	if (loader->head != NULL && !loader_stopping(loader))
	{
		batch = loader->head;
		loader->head = batch->next;
		if (loader->head == NULL)
			loader->tail = NULL;
		loader->queued--;
		loader->docs_sent += batch->ndocs;
		pthread_cond_broadcast(&loader->changed);
	}
	pthread_mutex_unlock(&loader->lock);
	return batch;
}

/*
 * Mark batches committed and add up what they did.  A batch's documents
 * the reader recorded unchanged (--skip-unchanged) count as unchanged; the
 * reader commits a batch left with none to send here too.
 */
void
record_commit(Loader *loader, Batch **batches, int n, const Counts *counts)
{
	pthread_mutex_lock(&loader->lock);
	for (int i = 0; i < n; i++)
	{
		Batch	   *batch = batches[i];

		if (batch->seq >= loader->batches_cap)
		{
			int64_t		cap = (batch->seq + 1) * 2;

			loader->batch_committed = realloc(loader->batch_committed, cap * sizeof(bool));
			loader->batch_docs = realloc(loader->batch_docs, cap * sizeof(int64_t));
			if (!loader->batch_committed || !loader->batch_docs)
			{
				fprintf(stderr, "astpg-load: out of memory\n");
				exit(1);
			}
			memset(loader->batch_committed + loader->batches_cap, 0,
				   (cap - loader->batches_cap) * sizeof(bool));
			loader->batches_cap = cap;
		}
		loader->batch_committed[batch->seq] = true;
		loader->batch_docs[batch->seq] = batch->ndocs + batch->unchanged;
		if (batch->seq >= loader->nbatches)
			loader->nbatches = batch->seq + 1;
		loader->text_committed += batch->text_bytes;
		if (batch->input_pos > loader->pos_committed)
			loader->pos_committed = batch->input_pos;
		loader->committed.documents += batch->unchanged;
		loader->committed.unchanged += batch->unchanged;
	}
	loader->committed.documents += counts->documents;
	loader->committed.inserted += counts->inserted;
	loader->committed.replaced += counts->replaced;
	loader->committed.unchanged += counts->unchanged;
	loader->committed.rejected += counts->rejected;
	loader->committed.rows += counts->rows;
	pthread_mutex_unlock(&loader->lock);
}

/*
 * worker_main
 *		Thread body: connect, then send batches until none is left.  In
 *		--single-transaction mode every batch goes into one transaction,
 *		committed at the end.
 */
void *
worker_main(void *arg)
{
	Worker	   *self = arg;
	Loader	   *loader = self->loader;
	Options    *opt = &loader->opt;
	PGconn	   *conn = connect_db(opt);
	char	   *why = NULL;
	Batch	  **open = NULL;	/* sent, not yet committed */
	int			nopen = 0;
	Batch	   *batch;
	bool		input_ok;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		why = strdup(PQerrorMessage(conn));
		goto failed;
	}
	cancels[self->id] = PQgetCancel(conn);

	while ((batch = dequeue(loader)) != NULL)
	{
		open = realloc(open, (nopen + 1) * sizeof(Batch *));
		open[nopen++] = batch;
		if (!opt->single_transaction)
		{
			Counts		counts;

			if (!send_and_commit(conn, opt, batch, &counts, &why))
				goto failed_batch;
			record_commit(loader, open, nopen, &counts);
			batch_free(batch);
			nopen = 0;
			continue;
		}
		if (nopen == 1 && !begin(conn, opt, &why))
			goto failed_batch;
		if (!send_batch(conn, batch, &why))
			goto failed_batch;
	}
	/*
	 * --single-transaction: all or nothing, so not after the reader stopped
	 * at a line it could not send
	 */
	pthread_mutex_lock(&loader->lock);
	input_ok = loader->input_ok;
	pthread_mutex_unlock(&loader->lock);
	if (nopen > 0 && input_ok && !loader_stopping(loader))
	{
		Counts		counts;

		if (!read_counts(conn, &counts, &why) || !run(conn, "COMMIT", &why))
			goto failed_batch;
		record_commit(loader, open, nopen, &counts);
	}
	goto done;

failed_batch:
	/* 25006: the server became read-only meanwhile (check_server) */
	if (strcmp(failed_sqlstate, "25006") == 0)
	{
		pthread_mutex_lock(&loader->lock);
		loader->read_only = true;
		pthread_mutex_unlock(&loader->lock);
	}
	loader_fail(loader, open[0]->first,
				(int) (open[nopen - 1]->first + open[nopen - 1]->ndocs - open[0]->first),
				"%s", why ? why : "unknown error");
	goto done;
failed:
	loader_fail(loader, -1, 0, "%s", why ? why : "unknown error");
done:
	for (int i = 0; i < nopen; i++)
		batch_free(open[i]);
	free(open);
	free(why);
	if (cancels[self->id] != NULL)
	{
		PGcancel   *cancel = cancels[self->id];

		cancels[self->id] = NULL;
		PQfreeCancel(cancel);
	}
	PQfinish(conn);

	pthread_mutex_lock(&loader->lock);
	loader->running--;
	pthread_cond_broadcast(&loader->changed);
	pthread_mutex_unlock(&loader->lock);
	return NULL;
}

/*
 * resolve_dependencies
 *		After a load over several connections: a file and a file that
 *		depends on it stored by two jobs at the same moment cannot see each
 *		other, so that dependency is left unresolved.  One pass of
 *		astpg.resolve_dependencies() catches up.
 */
bool
resolve_dependencies(Options *opt, int64_t *resolved, char **why)
{
	PGconn	   *conn = connect_db(opt);
	PGresult   *res;
	bool		ok;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		*why = strdup(PQerrorMessage(conn));
		PQfinish(conn);
		return false;
	}
	res = PQexec(conn, "SELECT astpg.resolve_dependencies()");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (ok)
		*resolved = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else
		*why = strdup(PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return ok;
}
