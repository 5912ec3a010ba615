/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Documents read one at a time and written a batch at a time: the path
 *	  of ingest_batch() and of COPY into astpg.inbox.
 *
 * Each document is read and checked as it arrives (ingest.c); one the
 * reader refuses is refused at once, alone.  The documents it accepts are
 * kept until the batch is full, until a document comes for a path the
 * batch already holds, or until the caller's statement ends, and are then
 * written by batch_writer.c, a statement per table.
 *
 * Transaction contract: per-document atomicity is as documented for each
 * entry point.  The batch is written in a subtransaction; if that fails
 * for a reason that lies in a document (SQLSTATE classes 22, 23, 54), it is
 * rolled back and its documents are written again one at a time, so that
 * the error names the document that caused it (on_error = abort) or so
 * that only that document is rejected (skip); a unique or foreign-key
 * violation is tried again first, as a concurrent writer may have caused
 * it.  Any other error is raised as it is.  So a skip batch opens one subtransaction per batch, not one
 * per document, unless a write fails.
 *
 * Memory contract: documents live in the batch's context, emptied after
 * each write, so that a COPY of millions of documents stays flat.
 *
 * IDENTIFICATION
 *	  src/batch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "astpg.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

/*
 * A batch is written when it holds this many documents, or documents of
 * this many bytes: large enough that a statement's cost is spread over
 * many rows, small enough that memory stays bounded.
 */
#define BATCH_DOCUMENTS 500
#define BATCH_BYTES (64 * 1024 * 1024)

struct AstpgBatch
{
	MemoryContext context;		/* the documents, until written */
	AstpgOnError on_error;
	bool		legacy;			/* database not at 1.4: one at a time */
	bool		holds_nothing;	/* no lock taken by the transaction yet */
	bool		unguarded;		/* written without a subtransaction */
	int			count;
	Size		bytes;
	HTAB	   *paths;			/* file keys of the documents held */
	AstpgDocument *documents[BATCH_DOCUMENTS];
	Jsonb	   *jsonb[BATCH_DOCUMENTS]; /* as given, for astpg.rejects */
	AstpgOrigin origins[BATCH_DOCUMENTS];
	TimestampTz started[BATCH_DOCUMENTS];
	AstpgIngestResult *results[BATCH_DOCUMENTS];	/* the caller's */
	AstpgIngestResult written[BATCH_DOCUMENTS];
};

static HTAB *
new_path_set(MemoryContext context)
{
	HASHCTL		ctl;

	ctl.keysize = PG_SHA256_DIGEST_LENGTH;
	ctl.entrysize = PG_SHA256_DIGEST_LENGTH;
	ctl.hcxt = context;
	return hash_create("astpg batch paths", BATCH_DOCUMENTS, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * AstpgBatchCreate
 *		An empty batch, in a context of its own below parent.  first_writer
 *		says that the caller's transaction has written nothing before the
 *		batch (deadlocks.c).
 */
AstpgBatch *
AstpgBatchCreate(MemoryContext parent, AstpgOnError on_error, bool first_writer)
{
	AstpgBatch *batch = MemoryContextAllocZero(parent, sizeof(AstpgBatch));

	batch->context = AllocSetContextCreate(parent, "astpg batch",
										   ALLOCSET_DEFAULT_SIZES);
	batch->on_error = on_error;
	batch->holds_nothing = first_writer;
	batch->paths = new_path_set(batch->context);
	return batch;
}

/* Did an unguarded write fail?  (Rather than the reading of a document.) */
static bool unguarded_write_failed = false;

/*
 * AstpgBatchWriteUnguarded
 *		From now on write the batch in the caller's (sub)transaction, not in
 *		a subtransaction of its own, and let any error go up: for a caller
 *		that runs the whole statement in a subtransaction and starts it
 *		again after a deadlock.  Subtransactions of its own, committed into
 *		the caller's, would make other sessions that waited for their rows
 *		wait for the top transaction instead (XactLockTableWait), which no
 *		retry releases.
 */
void
AstpgBatchWriteUnguarded(AstpgBatch *batch)
{
	batch->unguarded = true;
	unguarded_write_failed = false;
}

/*
 * AstpgUnguardedWriteFailed
 *		Was the error that ended a statement of unguarded batches raised by a
 *		batch's write, rather than by the reading of a document?
 */
bool
AstpgUnguardedWriteFailed(void)
{
	return unguarded_write_failed;
}

/* AstpgBatchCount: how many documents the batch holds, not yet written. */
int
AstpgBatchCount(AstpgBatch *batch)
{
	return batch->count;
}

/* AstpgBatchDestroy: free a batch that has been written (or is dropped). */
void
AstpgBatchDestroy(AstpgBatch *batch)
{
	MemoryContextDelete(batch->context);
	pfree(batch);
}

/* Which batch was being stored when an error was raised. */
static void
storing_batch_callback(void *arg)
{
	AstpgBatch *batch = (AstpgBatch *) arg;

	errcontext("while storing %s to %s of %s, a batch of %d documents",
			   batch->origins[0].root, batch->origins[batch->count - 1].root,
			   batch->origins[0].source, batch->count);
}

/*
 * What one write of the batch stores: all of its documents (document -1),
 * or one alone.  SPI is connected for it, and an error raised meanwhile
 * names the batch (a document alone names itself: AstpgWriteOne).
 */
typedef struct BatchWrite
{
	AstpgBatch *batch;
	int			document;
} BatchWrite;

static void
write_with_spi(void *arg)
{
	BatchWrite *write = (BatchWrite *) arg;
	AstpgBatch *batch = write->batch;
	MemoryContext caller_context = CurrentMemoryContext;
	ErrorContextCallback callback;

	callback.callback = storing_batch_callback;
	callback.arg = batch;
	callback.previous = error_context_stack;
	if (write->document < 0)
		error_context_stack = &callback;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(caller_context);
	AstpgResetPlansIfStale();
	if (write->document < 0)
		AstpgWriteBatch(batch->documents, batch->started, batch->written,
						batch->count);
	else
		AstpgWriteOne(batch->documents[write->document],
					  &batch->origins[write->document],
					  batch->started[write->document],
					  &batch->written[write->document]);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	MemoryContextSwitchTo(caller_context);
	error_context_stack = callback.previous;
}

/* Write the whole batch in a subtransaction; the error if it fails. */
static ErrorData *
write_whole_batch(AstpgBatch *batch)
{
	BatchWrite	write = {batch, -1};

	return AstpgInSubtransaction(write_with_spi, &write);
}

/*
 * A unique or foreign-key violation that a concurrent writer caused is not
 * the document's fault: the document is written again, a few times, each
 * time with a new snapshot, before it is held against it.
 */
static bool
concurrent_violation(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_UNIQUE_VIOLATION ||
		sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION;
}

/*
 * Write document i alone, in a subtransaction.  With on_error = skip a
 * document refused for what it holds is rejected; with abort its error is
 * raised, naming it.
 */
static void
write_alone(AstpgBatch *batch, int i)
{
	BatchWrite	write = {batch, i};
	AstpgIngestResult *result = &batch->written[i];
	ErrorData  *edata;

	for (int attempt = 1;; attempt++)
	{
		edata = AstpgInSubtransaction(write_with_spi, &write);
		if (edata == NULL)
			return;
		if (!concurrent_violation(edata->sqlerrcode) ||
			attempt == ASTPG_WRITE_ATTEMPTS ||
			IsolationUsesXactSnapshot())
			break;
		FreeErrorData(edata);
		CHECK_FOR_INTERRUPTS();
	}

	if (batch->on_error == ASTPG_ON_ERROR_ABORT ||
		!AstpgRefusalOfDocument(edata->sqlerrcode))
		ReThrowError(edata);
	AstpgRecordReject(batch->jsonb[i], NULL, &batch->origins[i], edata);
	FreeErrorData(edata);
	memset(result, 0, sizeof(AstpgIngestResult));
	result->status = ASTPG_REJECTED;
}

/*
 * Write every document alone, in order.  Run in a subtransaction of its
 * own, so that a deadlock met by any of them undoes all of them: the
 * locks of those written before it may be part of the cycle.
 */
static void
write_one_at_a_time(void *arg)
{
	AstpgBatch *batch = (AstpgBatch *) arg;

	for (int i = 0; i < batch->count; i++)
	{
		CHECK_FOR_INTERRUPTS();
		write_alone(batch, i);
	}
}

/*
 * AstpgBatchFlush
 *		Write the documents the batch holds, report each one's result to its
 *		caller, and empty the batch.
 *
 * The batch is written whole, in a subtransaction; if a document in it is
 * refused, the batch is written again a document at a time, so that only
 * that document is rejected (on_error skip) or the error names it (abort).
 *
 * A deadlock is not the documents' fault either.  If the transaction held
 * no lock before the batch, the subtransaction is rolled back, which
 * releases every lock it held, and the batch is written again, alone in its
 * repositories (deadlocks.c).  A deadlock that takes in locks held before
 * (an earlier statement's or batch's, which no retry here can release) is
 * raised.
 */
void
AstpgBatchFlush(AstpgBatch *batch)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ErrorData  *edata;
	bool		was_alone;

	if (batch->count == 0)
		return;
	MemoryContextSwitchTo(batch->context);
	was_alone = AstpgWritingAlone();
	if (batch->unguarded)
	{
		BatchWrite	write = {batch, -1};

		unguarded_write_failed = true;
		write_with_spi(&write);
		unguarded_write_failed = false;
		edata = NULL;
	}
	else for (int attempt = 1;; attempt++)
	{
		edata = write_whole_batch(batch);
		if (edata != NULL && AstpgRefusalOfDocument(edata->sqlerrcode))
		{
			FreeErrorData(edata);
			edata = AstpgInSubtransaction(write_one_at_a_time, batch);
		}

		if (edata == NULL ||
			edata->sqlerrcode != ERRCODE_T_R_DEADLOCK_DETECTED ||
			!batch->holds_nothing ||
			attempt == ASTPG_WRITE_ATTEMPTS)
			break;
		FreeErrorData(edata);
		AstpgPauseBeforeRetry(attempt);
	}
	AstpgWriteAlone(was_alone);
	if (edata != NULL)
		ReThrowError(edata);
	/* the next batch is written holding this one's locks */
	batch->holds_nothing = false;
	for (int i = 0; i < batch->count; i++)
	{
		AstpgCountResult(&batch->written[i]);
		if (batch->results[i] != NULL)
			*batch->results[i] = batch->written[i];
	}
	MemoryContextSwitchTo(caller_context);

	batch->count = 0;
	batch->bytes = 0;
	MemoryContextReset(batch->context);
	batch->paths = new_path_set(batch->context);
}

/*
 * AstpgBatchAdd
 *		Read one document, given as jsonb or (jb NULL) as JSON text, and keep
 *		it for the batch's next write; origin says where it comes from.
 *
 * *result, if result is not NULL, receives what was done with it once that
 * is known: at once for a refused document, at the write otherwise (so the
 * caller keeps result valid until AstpgBatchFlush).  A jsonb given must
 * stay valid until then too; a text is read at once.
 */
void
AstpgBatchAdd(AstpgBatch *batch, Jsonb *jb, text *json_text,
			  const AstpgOrigin *origin, AstpgIngestResult *result)
{
	MemoryContext caller_context = CurrentMemoryContext;
	AstpgDocument *doc;
	Jsonb	   *parsed;
	TimestampTz started;
	bytea	   *key;
	bool		found;
	int			i;

	if (batch->count == 0)
	{
		/* the installed version decides, once a batch */
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		AstpgResetPlansIfStale();
		batch->legacy = !AstpgBatchesWritten();
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");
		MemoryContextSwitchTo(caller_context);
	}
	if (batch->legacy)
	{
		AstpgIngestResult own;

		AstpgIngestDocument(jb, json_text, origin, batch->on_error,
							result != NULL ? result : &own);
		return;
	}

	started = GetCurrentTimestamp();
	MemoryContextSwitchTo(batch->context);
	doc = AstpgReadOrReject(jb, json_text, origin, batch->on_error, &parsed);
	if (doc == NULL)
	{
		if (result != NULL)
		{
			memset(result, 0, sizeof(AstpgIngestResult));
			result->status = ASTPG_REJECTED;
		}
		MemoryContextSwitchTo(caller_context);
		return;
	}

	/* a second version of a path held: the first is written first */
	key = AstpgFileKey(doc->repository, doc->path);
	hash_search(batch->paths, VARDATA(key), HASH_FIND, &found);
	if (found)
	{
		MemoryContextSwitchTo(caller_context);
		AstpgBatchFlush(batch);
		MemoryContextSwitchTo(batch->context);
		/* the document was read into the context just emptied: again */
		doc = AstpgReadOrReject(jb, json_text, origin, batch->on_error,
								&parsed);
		key = AstpgFileKey(doc->repository, doc->path);
	}
	hash_search(batch->paths, VARDATA(key), HASH_ENTER, NULL);

	i = batch->count++;
	batch->documents[i] = doc;
	batch->jsonb[i] = parsed;
	batch->origins[i].source = origin->source;
	batch->origins[i].root = pstrdup(origin->root);
	batch->origins[i].position = origin->position;
	batch->started[i] = started;
	batch->results[i] = result;
	batch->bytes += VARSIZE(parsed);
	MemoryContextSwitchTo(caller_context);

	if (batch->count == BATCH_DOCUMENTS || batch->bytes >= BATCH_BYTES)
		AstpgBatchFlush(batch);
}
