/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Documents read one at a time and written a batch at a time: the one
 *	  path of ingest(), ingest_batch() and COPY into astpg.inbox.
 *
 * Each document is read and checked as it arrives (document_reader.c);
 * one the reader refuses is refused at once, alone: its error is raised
 * (on_error abort) or it is kept in astpg.rejects (skip).  The documents it
 * accepts are kept until the batch is full, until a document comes for a
 * path the batch already holds, or until the caller's statement ends, and
 * are then written by batch_writer.c, a statement per table.
 *
 * Transaction contract: a batch is written in a subtransaction; if that
 * fails for a reason that lies in a document (SQLSTATE classes 22, 23,
 * 54), it is rolled back and its documents are written again one at a
 * time, each in a subtransaction, so that the error names the document
 * that caused it (abort) or so that only that document is rejected (skip);
 * a unique or foreign-key violation is tried again first, as a concurrent
 * writer may have caused it.  So a skip batch opens one subtransaction per
 * batch, not one per document, unless a write fails.  A deadlock is not
 * the documents' fault either: the batch of a caller that held no lock
 * before it is written again, alone (deadlocks.c).  Any other error is
 * raised as it is.
 *
 * A caller that runs its whole statement in a subtransaction of its own and
 * starts it again after a deadlock (ingest_batch, ingest) writes its
 * batches unguarded instead: in its subtransaction, with no subtransaction
 * of their own.  Subtransactions committed into the caller's would make
 * other sessions that waited for their rows wait for the top transaction
 * instead (XactLockTableWait), which no retry releases.
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

/* Up to this many documents, a path given twice is found by comparing keys. */
#define PATHS_WITHOUT_HASH 16

/* What the batch keeps of a document besides what the writer takes. */
typedef struct Held
{
	Jsonb	   *jsonb;			/* as given, for astpg.rejects */
	bytea	   *key;			/* file_key(repository, path) */
	AstpgOrigin origin;
	AstpgIngestResult *result;	/* the caller's, or NULL */
} Held;

struct AstpgBatch
{
	MemoryContext context;		/* the documents, until written */
	AstpgOnError on_error;
	bool		first_writer;	/* its transaction held no lock before it */
	bool		alone;			/* written holding its repositories exclusively */
	bool	   *write_failed;	/* unguarded: set while its write runs */
	int			count;
	int			capacity;
	Size		bytes;
	HTAB	   *paths;			/* file keys held, once there are many */
	AstpgBatchDocument *documents;
	Held	   *held;
};

/*
 * AstpgBatchCreate
 *		An empty batch, in a context of its own below parent.  first_writer
 *		says that the caller's transaction held no lock before the batch
 *		(deadlocks.c); alone, that its writes hold their repositories'
 *		locks in exclusive mode (a retry after a deadlock).
 */
AstpgBatch *
AstpgBatchCreate(MemoryContext parent, AstpgOnError on_error,
				 bool first_writer, bool alone)
{
	AstpgBatch *batch = MemoryContextAllocZero(parent, sizeof(AstpgBatch));

	batch->context = AllocSetContextCreate(parent, "astpg batch",
										   ALLOCSET_DEFAULT_SIZES);
	batch->on_error = on_error;
	batch->first_writer = first_writer;
	batch->alone = alone;
	return batch;
}

/*
 * AstpgBatchWriteUnguarded
 *		Write the batch in the caller's (sub)transaction, with no
 *		subtransaction of its own, and let any error go up; *write_failed is
 *		true when the error was raised by a write rather than by the reading
 *		of a document.
 */
void
AstpgBatchWriteUnguarded(AstpgBatch *batch, bool *write_failed)
{
	batch->write_failed = write_failed;
	*write_failed = false;
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
			   batch->held[0].origin.root,
			   batch->held[batch->count - 1].origin.root,
			   batch->held[0].origin.source, batch->count);
}

/* The context of an error raised while document i is written alone. */
typedef struct StoringDocument
{
	const AstpgOrigin *origin;
	const AstpgDocument *doc;
} StoringDocument;

static void
storing_one_callback(void *arg)
{
	StoringDocument *storing = (StoringDocument *) arg;

	/* the inbox's documents are numbered in the transaction */
	if (strcmp(storing->origin->source, "inbox") == 0)
		errcontext("while storing document %lld (repository \"%s\", path \"%s\") of inbox",
				   (long long) storing->origin->position,
				   text_to_cstring(storing->doc->repository),
				   text_to_cstring(storing->doc->path));
	else
		errcontext("while storing %s (repository \"%s\", path \"%s\") of %s",
				   storing->origin->root,
				   text_to_cstring(storing->doc->repository),
				   text_to_cstring(storing->doc->path),
				   storing->origin->source);
}

/*
 * Write documents [first, first + n) of the batch, with SPI connected and
 * an error raised meanwhile naming what was being stored: the batch, or a
 * document written alone.
 */
static void
write_documents(AstpgBatch *batch, int first, int n, bool alone)
{
	MemoryContext caller_context = CurrentMemoryContext;
	StoringDocument storing = {&batch->held[first].origin,
	batch->documents[first].doc};
	ErrorContextCallback callback;

	callback.previous = error_context_stack;
	callback.callback = n == 1 ? storing_one_callback : storing_batch_callback;
	callback.arg = n == 1 ? (void *) &storing : (void *) batch;
	error_context_stack = &callback;
	AstpgSPIConnect();
	AstpgWriteBatch(&batch->documents[first], n, alone);
	AstpgSPIFinish();
	error_context_stack = callback.previous;
	MemoryContextSwitchTo(caller_context);
}

/* One write of the batch in a subtransaction: all of it, or one document. */
typedef struct BatchWrite
{
	AstpgBatch *batch;
	int			document;		/* -1: all */
	bool		alone;
} BatchWrite;

static void
write_in_subtransaction(void *arg)
{
	BatchWrite *write = (BatchWrite *) arg;

	if (write->document < 0)
		write_documents(write->batch, 0, write->batch->count, write->alone);
	else
		write_documents(write->batch, write->document, 1, write->alone);
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
write_alone(AstpgBatch *batch, int i, bool alone)
{
	BatchWrite	write = {batch, i, alone};
	AstpgIngestResult *result = &batch->documents[i].result;
	ErrorData  *edata;

	for (int attempt = 1;; attempt++)
	{
		edata = AstpgInSubtransaction(write_in_subtransaction, &write);
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
	AstpgRecordReject(batch->held[i].jsonb, NULL, &batch->held[i].origin,
					  edata);
	FreeErrorData(edata);
	memset(result, 0, sizeof(AstpgIngestResult));
	result->status = ASTPG_REJECTED;
}

/*
 * Write every document alone, in order.  Run in a subtransaction of its
 * own, so that a deadlock met by any of them undoes all of them: the
 * locks of those written before it may be part of the cycle.
 */
typedef struct OneAtATime
{
	AstpgBatch *batch;
	bool		alone;
} OneAtATime;

static void
write_one_at_a_time(void *arg)
{
	OneAtATime *call = (OneAtATime *) arg;

	for (int i = 0; i < call->batch->count; i++)
	{
		CHECK_FOR_INTERRUPTS();
		write_alone(call->batch, i, call->alone);
	}
}

/*
 * One attempt at writing the batch: whole, in a subtransaction; if a
 * document in it is refused, a document at a time.  Returns the error that
 * ended it, its subtransaction rolled back, or NULL.
 */
static ErrorData *
write_guarded(void *arg, bool alone)
{
	AstpgBatch *batch = (AstpgBatch *) arg;
	BatchWrite	whole = {batch, -1, alone || batch->alone};
	OneAtATime	each = {batch, alone || batch->alone};
	ErrorData  *edata;

	edata = AstpgInSubtransaction(write_in_subtransaction, &whole);
	if (edata != NULL && AstpgRefusalOfDocument(edata->sqlerrcode))
	{
		FreeErrorData(edata);
		edata = AstpgInSubtransaction(write_one_at_a_time, &each);
	}
	return edata;
}

/*
 * AstpgBatchFlush
 *		Write the documents the batch holds, report each one's result to its
 *		caller, and empty the batch.
 *
 * A document of a batch of one with on_error abort is written directly:
 * its error names it already, and there is nothing to redo.
 */
void
AstpgBatchFlush(AstpgBatch *batch)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ErrorData  *edata = NULL;

	if (batch->count == 0)
		return;
	MemoryContextSwitchTo(batch->context);
	if (batch->write_failed != NULL)
	{
		*batch->write_failed = true;
		write_documents(batch, 0, batch->count, batch->alone);
		*batch->write_failed = false;
	}
	else if (batch->count == 1 && batch->on_error == ASTPG_ON_ERROR_ABORT &&
			 !batch->first_writer)
		write_documents(batch, 0, 1, batch->alone);
	else
		edata = AstpgRetryDeadlocks(write_guarded, batch, batch->first_writer);
	if (edata != NULL)
		ReThrowError(edata);

	/* the next batch is written holding this one's locks */
	batch->first_writer = false;
	for (int i = 0; i < batch->count; i++)
	{
		AstpgCountResult(&batch->documents[i].result);
		if (batch->held[i].result != NULL)
			*batch->held[i].result = batch->documents[i].result;
	}
	MemoryContextSwitchTo(caller_context);

	batch->count = 0;
	batch->capacity = 0;
	batch->bytes = 0;
	batch->paths = NULL;
	MemoryContextReset(batch->context);
}

/*
 * Read and check one document, given as jsonb or (jb NULL) as JSON text.
 * A refused one raises its error (on_error = abort), or is recorded in
 * astpg.rejects and counted, and NULL is returned (skip).  *parsed
 * receives the jsonb.
 *
 * The reader's errors are caught without a subtransaction.  That is sound
 * only because the reader and json_text.c take no locks, pin no buffers,
 * open no files and write nothing: they read memory and allocate it, so an
 * error leaves nothing that a subtransaction's rollback would have to
 * release.  Hence everything that could (detoasting, which reads TOAST
 * tables) is done before PG_TRY: the caller detoasts a jsonb, and a text
 * is detoasted here.  Any other error than a refusal (a cancel) is raised
 * again.
 */
static AstpgDocument *
read_or_reject(AstpgBatch *batch, Jsonb *jb, text *json_text,
			   const AstpgOrigin *origin, Jsonb **parsed)
{
	MemoryContext caller_context = CurrentMemoryContext;
	volatile Jsonb *volatile_jb = jb;
	AstpgDocument *volatile doc = NULL;
	ErrorData  *edata = NULL;

	if (jb == NULL && json_text != NULL)
		json_text = pg_detoast_datum_packed(json_text);
	*parsed = jb;
	PG_TRY();
	{
		if (jb == NULL && json_text == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be an object, not null", origin->root)));
		if (jb == NULL)
			volatile_jb = AstpgJsonTextToJsonb(json_text);
		doc = AstpgReadDocument((Jsonb *) volatile_jb, origin->root);
	}
	PG_CATCH();
	{
		if (batch->on_error == ASTPG_ON_ERROR_ABORT)
			PG_RE_THROW();
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		if (!AstpgRefusalOfDocument(edata->sqlerrcode))
			PG_RE_THROW();
		FlushErrorState();
	}
	PG_END_TRY();
	*parsed = (Jsonb *) volatile_jb;
	if (edata == NULL)
		return doc;

	{
		AstpgIngestResult result;

		AstpgRecordReject(*parsed, json_text, origin, edata);
		FreeErrorData(edata);
		memset(&result, 0, sizeof(result));
		result.status = ASTPG_REJECTED;
		AstpgCountResult(&result);
	}
	return NULL;
}

/* Does the batch hold a document of this file key already? */
static bool
holds_path(AstpgBatch *batch, bytea *key)
{
	bool		found;

	if (batch->paths != NULL)
	{
		hash_search(batch->paths, VARDATA(key), HASH_FIND, &found);
		return found;
	}
	for (int i = 0; i < batch->count; i++)
		if (memcmp(VARDATA(batch->held[i].key), VARDATA(key),
				   PG_SHA256_DIGEST_LENGTH) == 0)
			return true;
	return false;
}

/*
 * Remember the file key of the batch's newest document; a hash table of
 * them once a linear search would cost more than making one.
 */
static void
remember_path(AstpgBatch *batch, bytea *key)
{
	if (batch->paths == NULL && batch->count >= PATHS_WITHOUT_HASH)
	{
		HASHCTL		ctl;

		ctl.keysize = PG_SHA256_DIGEST_LENGTH;
		ctl.entrysize = PG_SHA256_DIGEST_LENGTH;
		ctl.hcxt = batch->context;
		batch->paths = hash_create("astpg batch paths", BATCH_DOCUMENTS, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (int i = 0; i < batch->count; i++)
			hash_search(batch->paths, VARDATA(batch->held[i].key), HASH_ENTER,
						NULL);
	}
	if (batch->paths != NULL)
		hash_search(batch->paths, VARDATA(key), HASH_ENTER, NULL);
}

/* Room for one more document: the arrays grow, up to a full batch. */
static void
make_room(AstpgBatch *batch)
{
	int			capacity;

	if (batch->count < batch->capacity)
		return;
	capacity = batch->capacity == 0 ? 4 : Min(batch->capacity * 2, BATCH_DOCUMENTS);
	if (batch->capacity == 0)
	{
		batch->documents = palloc(mul_size(sizeof(AstpgBatchDocument), capacity));
		batch->held = palloc(mul_size(sizeof(Held), capacity));
	}
	else
	{
		batch->documents = repalloc(batch->documents,
									mul_size(sizeof(AstpgBatchDocument), capacity));
		batch->held = repalloc(batch->held, mul_size(sizeof(Held), capacity));
	}
	batch->capacity = capacity;
}

/*
 * AstpgBatchAdd
 *		Read one document, given as jsonb or (jb NULL) as JSON text, and keep
 *		it for the batch's next write; origin says where it comes from.
 *
 * *result, if result is not NULL, receives what was done with it once that
 * is known: at once for a refused document, at the write otherwise (so the
 * caller keeps result valid until AstpgBatchFlush).  A jsonb given must be
 * detoasted, and stay valid until then too; a text is read at once.
 */
void
AstpgBatchAdd(AstpgBatch *batch, Jsonb *jb, text *json_text,
			  const AstpgOrigin *origin, AstpgIngestResult *result)
{
	MemoryContext caller_context = CurrentMemoryContext;
	TimestampTz started = GetCurrentTimestamp();
	AstpgDocument *doc;
	Jsonb	   *parsed;
	bytea	   *key;
	int			i;

	MemoryContextSwitchTo(batch->context);
	doc = read_or_reject(batch, jb, json_text, origin, &parsed);
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
	if (holds_path(batch, key))
	{
		MemoryContextSwitchTo(caller_context);
		AstpgBatchFlush(batch);
		MemoryContextSwitchTo(batch->context);
		/* the document was read into the context just emptied: again */
		doc = read_or_reject(batch, jb, json_text, origin, &parsed);
		key = AstpgFileKey(doc->repository, doc->path);
	}

	make_room(batch);
	i = batch->count;
	batch->documents[i].doc = doc;
	batch->documents[i].started = started;
	memset(&batch->documents[i].result, 0, sizeof(AstpgIngestResult));
	batch->held[i].jsonb = parsed;
	batch->held[i].key = key;
	batch->held[i].origin.source = origin->source;
	batch->held[i].origin.root = pstrdup(origin->root);
	batch->held[i].origin.position = origin->position;
	batch->held[i].result = result;
	remember_path(batch, key);
	batch->count++;
	batch->bytes += VARSIZE(parsed);
	MemoryContextSwitchTo(caller_context);

	if (batch->count == BATCH_DOCUMENTS || batch->bytes >= BATCH_BYTES)
		AstpgBatchFlush(batch);
}
