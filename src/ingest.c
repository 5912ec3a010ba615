/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  Ingest one document, as every entry point does: the single ingest(),
 *	  ingest_batch() and the inbox trigger.
 *
 * Transaction contract: with on_error = abort a refused document raises its
 * error and the caller's transaction fails.  With on_error = skip each
 * document runs in a subtransaction of its own; a document refused for what
 * it holds (SQLSTATE classes 22, 23 and 54: data exceptions, constraint
 * violations, program limits) is rolled back and stored whole in
 * astpg.rejects, and the caller goes on.  Any other error (a cancel, a
 * serialization failure, out of memory) is not the document's fault and is
 * raised again: nothing is ever silently dropped, and nothing is rejected
 * that a retry would store.
 *
 * Memory contract: each document is read in a memory context of its own,
 * deleted when it is written or refused, so that a session that ingests
 * millions of documents stays flat.
 *
 * IDENTIFICATION
 *	  src/ingest.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "astpg.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/jsonfuncs.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

/*
 * What this session ingested in its current transaction (astpg.ingest_counts):
 * a loader reads it before each COMMIT to report what the batch did.  The
 * local transaction id tells when a new transaction has begun.
 */
typedef struct IngestCounts
{
	LocalTransactionId lxid;
	int64		documents;
	int64		inserted;
	int64		replaced;
	int64		unchanged;
	int64		rejected;
	int64		rows;
	int64		positions;		/* inbox documents numbered so far */
} IngestCounts;

static IngestCounts counts;

static IngestCounts *
current_counts(void)
{
	if (counts.lxid != MyProc->lxid)
	{
		memset(&counts, 0, sizeof(counts));
		counts.lxid = MyProc->lxid;
	}
	return &counts;
}

/*
 * The counts as each open subtransaction found them, innermost first, so
 * that a rollback to a savepoint takes back what it undid.  In the
 * transaction's memory; forgotten when it ends.
 */
typedef struct SavedCounts
{
	SubTransactionId subid;
	IngestCounts counts;
	struct SavedCounts *next;
} SavedCounts;

static SavedCounts *saved_counts = NULL;

static void
counts_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	SavedCounts *top = saved_counts;

	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			top = MemoryContextAlloc(TopTransactionContext, sizeof(SavedCounts));
			top->subid = mySubid;
			top->counts = *current_counts();
			top->next = saved_counts;
			saved_counts = top;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
		case SUBXACT_EVENT_ABORT_SUB:
			if (top == NULL || top->subid != mySubid)
				break;
			if (event == SUBXACT_EVENT_ABORT_SUB)
				counts = top->counts;
			saved_counts = top->next;
			pfree(top);
			break;
		default:
			break;
	}
}

static void
counts_xact_callback(XactEvent event, void *arg)
{
	saved_counts = NULL;
}

/* AstpgInitCounts: called once, when the library is loaded. */
void
AstpgInitCounts(void)
{
	RegisterSubXactCallback(counts_subxact_callback, NULL);
	RegisterXactCallback(counts_xact_callback, NULL);
}

void
AstpgCountResult(const AstpgIngestResult *result)
{
	IngestCounts *c = current_counts();

	c->documents++;
	switch (result->status)
	{
		case ASTPG_INSERTED:
			c->inserted++;
			break;
		case ASTPG_REPLACED:
			c->replaced++;
			break;
		case ASTPG_UNCHANGED:
			c->unchanged++;
			break;
		case ASTPG_REJECTED:
			c->rejected++;
			break;
	}
	if (result->status == ASTPG_INSERTED || result->status == ASTPG_REPLACED)
		c->rows += 1 + (int64) result->classes + result->functions +
			result->calls + result->dependencies + result->metrics;
}

/* The position of the next document the inbox reads in this transaction. */
int64
AstpgNextInboxPosition(void)
{
	return current_counts()->positions++;
}

/* The astpg.ingest_counts tuple of the current transaction. */
Datum
AstpgIngestCountsDatum(TupleDesc tupdesc)
{
	IngestCounts *c = current_counts();
	Datum		values[6];
	bool		nulls[6] = {0};

	values[0] = Int64GetDatum(c->documents);
	values[1] = Int64GetDatum(c->inserted);
	values[2] = Int64GetDatum(c->replaced);
	values[3] = Int64GetDatum(c->unchanged);
	values[4] = Int64GetDatum(c->rejected);
	values[5] = Int64GetDatum(c->rows);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

AstpgOnError
AstpgParseOnError(text *value)
{
	char	   *s = value == NULL ? "abort" : text_to_cstring(value);

	if (strcmp(s, "abort") == 0)
		return ASTPG_ON_ERROR_ABORT;
	if (strcmp(s, "skip") == 0)
		return ASTPG_ON_ERROR_SKIP;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("on_error must be \"abort\" or \"skip\", not \"%s\"", s)));
	return ASTPG_ON_ERROR_ABORT;	/* keep compiler quiet */
}

/*
 * Read and write one document.  A document given as text is parsed here, so
 * that text which is not JSON at all is refused like any other bad input.
 * *parsed receives the jsonb as soon as there is one, for the reject record.
 */
static void
ingest_in_context(Jsonb *jb, text *json_text, const AstpgOrigin *origin,
				  Jsonb **parsed, AstpgIngestResult *result)
{
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext document_context = CurrentMemoryContext;
	AstpgDocument *doc;

	if (jb == NULL && json_text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be an object, not null", origin->root)));
	*parsed = jb;

	/*
	 * The reader first, whatever the document's content_hash: a document
	 * that breaks a rule is refused even when its hash is the stored one.
	 * The writer's one lookup of the stored file then decides inserted,
	 * replaced or unchanged.
	 */
	if (jb == NULL)
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												CStringGetDatum(text_to_cstring(json_text))));
	*parsed = jb;
	doc = AstpgReadDocument(jb, origin->root);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(document_context);
	AstpgResetPlansIfStale();
	if (AstpgBatchesWritten())
		AstpgWriteOne(doc, origin, started, result);
	else
	{
		/* a database not yet at 1.4: its tables take the statements of 1.3 */
		AstpgWriteDocument(doc, started, result);
		if (result->status == ASTPG_INSERTED || result->status == ASTPG_REPLACED)
			AstpgRecordHistory(doc, result);
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	MemoryContextSwitchTo(document_context);
}

/* Which document was being stored when an error was raised. */
typedef struct StoringDocument
{
	const AstpgOrigin *origin;
	const AstpgDocument *doc;
} StoringDocument;

static void
storing_document_callback(void *arg)
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
 * AstpgWriteOne
 *		Write one read document (a batch of one), an error raised meanwhile
 *		naming it.  SPI is connected.
 */
void
AstpgWriteOne(AstpgDocument *doc, const AstpgOrigin *origin,
			  TimestampTz started, AstpgIngestResult *result)
{
	StoringDocument storing = {origin, doc};
	ErrorContextCallback callback;

	callback.callback = storing_document_callback;
	callback.arg = &storing;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	AstpgWriteBatch(&doc, &started, result, 1);
	error_context_stack = callback.previous;
}

/*
 * AstpgReadOrReject
 *		Read and check one document, given as jsonb or (jb NULL) as JSON
 *		text.  A refused one raises its error (on_error = abort), or is
 *		recorded in astpg.rejects and counted, and NULL is returned (skip).
 *		*parsed receives the jsonb.
 *
 * The reader takes no locks, pins no buffers and writes nothing, so a
 * document it refuses is caught without a subtransaction: a skip batch
 * opens none for documents that break a rule.  Any other error (a cancel)
 * is raised again.
 */
AstpgDocument *
AstpgReadOrReject(Jsonb *jb, text *json_text, const AstpgOrigin *origin,
				  AstpgOnError on_error, Jsonb **parsed)
{
	MemoryContext caller_context = CurrentMemoryContext;
	volatile Jsonb *volatile_jb = jb;
	AstpgDocument *volatile doc = NULL;
	ErrorData  *edata = NULL;

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
		if (on_error == ASTPG_ON_ERROR_ABORT)
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

/*
 * Is this error about the document itself, rather than the circumstances?
 * Data exceptions (22), integrity constraint violations (23) and program
 * limits (54, e.g. a value too large to store) are.
 */
bool
AstpgRefusalOfDocument(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		category == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
}

/* The repository a document names, if it names one in a string. */
static text *
document_repository(Jsonb *jb)
{
	JsonbValue *v;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return NULL;
	v = getKeyJsonValueFromContainer(&jb->root, "repository",
									 strlen("repository"), NULL);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
}

/*
 * Store a refused document whole, with why it was refused, under the
 * repository it names (or the empty name's key when it names none).
 */
void
AstpgRecordReject(Jsonb *jb, text *json_text, const AstpgOrigin *origin,
				  ErrorData *edata)
{
	Datum		args[9];
	char		nulls[10] = "         ";
	text	   *repository;

	/* an SQL NULL document is kept as JSON null: what was given */
	if (jb == NULL && json_text == NULL)
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												CStringGetDatum("null")));
	args[0] = CStringGetTextDatum(origin->source);
	args[1] = Int64GetDatum(origin->position);
	args[2] = PointerGetDatum(jb);
	nulls[2] = jb == NULL ? 'n' : ' ';
	/* the text only when it is not JSON: otherwise the jsonb says it all */
	args[3] = PointerGetDatum(json_text);
	nulls[3] = jb == NULL && json_text != NULL ? ' ' : 'n';
	args[4] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	args[5] = CStringGetTextDatum(edata->message ? edata->message : "");
	args[6] = edata->detail ? CStringGetTextDatum(edata->detail) : (Datum) 0;
	nulls[6] = edata->detail ? ' ' : 'n';
	repository = document_repository(jb);
	args[7] = PointerGetDatum(repository);
	nulls[7] = repository == NULL ? 'n' : ' ';
	args[8] = Int64GetDatum(AstpgRepoId(repository != NULL ? repository :
										cstring_to_text("")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	AstpgResetPlansIfStale();
	AstpgExecute(ASTPG_Q_INSERT_REJECT, args, nulls, SPI_OK_INSERT);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * AstpgInSubtransaction
 *		Run fn(arg) in a subtransaction of its own.  Returns NULL if it
 *		succeeded, or else its error, copied into the caller's memory context,
 *		the subtransaction rolled back.  The caller's memory context and
 *		resource owner are current again on return.
 */
ErrorData *
AstpgInSubtransaction(void (*fn) (void *arg), void *arg)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_context);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller_context);
	CurrentResourceOwner = caller_owner;
	return edata;
}

/* The arguments of ingest_in_context, for AstpgInSubtransaction. */
typedef struct IngestCall
{
	Jsonb	   *jb;
	text	   *json_text;
	const AstpgOrigin *origin;
	Jsonb	  **parsed;
	AstpgIngestResult *result;
} IngestCall;

static void
ingest_call(void *arg)
{
	IngestCall *call = (IngestCall *) arg;

	ingest_in_context(call->jb, call->json_text, call->origin, call->parsed,
					  call->result);
}

/*
 * AstpgIngestDocument
 *		Ingest one document, given as jsonb or (jb NULL) as JSON text; both
 *		NULL is an SQL NULL document, which is refused.
 *
 * Returns false when the document was refused and recorded in
 * astpg.rejects (on_error = skip only); result->status is then
 * ASTPG_REJECTED.
 */
bool
AstpgIngestDocument(Jsonb *jb, text *json_text, const AstpgOrigin *origin,
					AstpgOnError on_error, AstpgIngestResult *result)
{
	MemoryContext caller_context = CurrentMemoryContext;
	MemoryContext document_context;
	Jsonb	  **parsed;			/* in memory: survives the longjmp */
	ErrorData  *edata = NULL;
	bool		first_writer;

	document_context = AllocSetContextCreate(caller_context, "astpg document",
											 ALLOCSET_DEFAULT_SIZES);
	parsed = MemoryContextAllocZero(document_context, sizeof(Jsonb *));
	memset(result, 0, sizeof(AstpgIngestResult));

	/*
	 * The first writer of its transaction retries a deadlock, and so writes
	 * in a subtransaction even when it has no reject to record
	 * (deadlocks.c); a later one, with on_error abort, needs none.
	 */
	first_writer = AstpgFirstWriter();
	if (on_error == ASTPG_ON_ERROR_ABORT && !first_writer)
	{
		MemoryContextSwitchTo(document_context);
		ingest_in_context(jb, json_text, origin, parsed, result);
		MemoryContextSwitchTo(caller_context);
		MemoryContextDelete(document_context);
		AstpgCountResult(result);
		return true;
	}

	{
		IngestCall	call = {jb, json_text, origin, parsed, result};

		edata = first_writer ?
			AstpgWriteRetryingDeadlocks(ingest_call, &call) :
			AstpgInSubtransaction(ingest_call, &call);
	}

	if (edata != NULL && on_error == ASTPG_ON_ERROR_ABORT)
		ReThrowError(edata);
	if (edata != NULL)
	{
		if (!AstpgRefusalOfDocument(edata->sqlerrcode))
			ReThrowError(edata);
		/* a jsonb parsed from text lives in document_context: still here */
		AstpgRecordReject(*parsed != NULL ? *parsed : jb, json_text, origin, edata);
		FreeErrorData(edata);
		memset(result, 0, sizeof(AstpgIngestResult));
		result->status = ASTPG_REJECTED;
	}
	MemoryContextDelete(document_context);
	AstpgCountResult(result);
	return edata == NULL;
}

/*
 * astpg.record_reject(document_text, sqlstate, message, detail) RETURNS bigint
 *
 * A document that a client could not send as text (astpg-load: a line that
 * is not UTF-8 or holds a NUL byte), stored in astpg.rejects as the inbox
 * stores what it refuses: numbered and counted as a document of the
 * transaction, in its place among the inbox's.  Returns its position.
 */
PG_FUNCTION_INFO_V1(astpg_record_reject);

Datum
astpg_record_reject(PG_FUNCTION_ARGS)
{
	AstpgOrigin origin = {"inbox", "document", 0};
	ErrorData	edata;
	AstpgIngestResult result;
	char	   *sqlstate;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("document_text, sqlstate and message must not be null")));
	sqlstate = text_to_cstring(PG_GETARG_TEXT_PP(1));
	/* what the inbox itself rejects: classes 22, 23 and 54 */
	if (strlen(sqlstate) != 5 ||
		strspn(sqlstate, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 5 ||
		!AstpgRefusalOfDocument(MAKE_SQLSTATE(sqlstate[0], sqlstate[1],
											  sqlstate[2], sqlstate[3],
											  sqlstate[4])))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sqlstate must be of class 22, 23 or 54, not \"%s\"",
						sqlstate)));

	memset(&edata, 0, sizeof(edata));
	edata.sqlerrcode = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2],
									 sqlstate[3], sqlstate[4]);
	edata.message = text_to_cstring(PG_GETARG_TEXT_PP(2));
	edata.detail = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	origin.position = AstpgNextInboxPosition();
	AstpgRecordReject(NULL, PG_GETARG_TEXT_PP(0), &origin, &edata);

	memset(&result, 0, sizeof(result));
	result.status = ASTPG_REJECTED;
	AstpgCountResult(&result);
	PG_RETURN_INT64(origin.position);
}
