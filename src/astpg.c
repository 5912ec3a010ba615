/*-------------------------------------------------------------------------
 *
 * astpg.c
 *	  Module magic, the GUCs, and every SQL-callable entry point of astpg.
 *
 * Each entry point is thin.  A writing one refuses first a read-only server
 * or transaction, and an installed extension of another version than the
 * library's (queries.c); it then says where its
 * documents come from and what to do with a refused one, hands them to a
 * batch (batch.c), and returns what was done.  Its state is its own: modes
 * travel as arguments, not as flags other files set.
 *
 * IDENTIFICATION
 *	  src/astpg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "astpg.h"
#include "commands/trigger.h"
#include "tcop/utility.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(astpg_ingest);
PG_FUNCTION_INFO_V1(astpg_ingest_batch);
PG_FUNCTION_INFO_V1(astpg_inbox_ingest);
PG_FUNCTION_INFO_V1(astpg_inbox_flush);
PG_FUNCTION_INFO_V1(astpg_ingest_counts);
PG_FUNCTION_INFO_V1(astpg_record_reject);
PG_FUNCTION_INFO_V1(astpg_file_key);
PG_FUNCTION_INFO_V1(astpg_repo_id);
PG_FUNCTION_INFO_V1(astpg_lock_repository);
PG_FUNCTION_INFO_V1(astpg_import_cycles);

void		_PG_init(void);

/* astpg.on_error: what the inbox does with a refused document */
int			astpg_on_error = ASTPG_ON_ERROR_ABORT;

static const struct config_enum_entry on_error_options[] = {
	{"abort", ASTPG_ON_ERROR_ABORT, false},
	{"skip", ASTPG_ON_ERROR_SKIP, false},
	{NULL, 0, false}
};

void
_PG_init(void)
{
	DefineCustomEnumVariable("astpg.on_error",
							 "What COPY into astpg.inbox does with a refused document.",
							 "abort fails the whole COPY; skip stores the document in astpg.rejects and goes on.",
							 &astpg_on_error,
							 ASTPG_ON_ERROR_ABORT,
							 on_error_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("astpg");
	AstpgInitCounts();
}

/*
 * What every writing entry point does first: refuse a read-only server or
 * transaction with one clear message (SQLSTATE 25006, naming the function)
 * before anything is read, and a stale installed version (queries.c).
 */
static void
begin_write(const char *what)
{
	PreventCommandDuringRecovery(what);
	PreventCommandIfReadOnly(what);
	AstpgCheckInstalledVersion();
}

/* Form an astpg.ingest_result tuple. */
static void
ingest_result_values(AstpgIngestResult *result, Datum *values, bool *nulls)
{
	values[0] = Int64GetDatum(result->file_id);
	nulls[0] = result->status == ASTPG_REJECTED;
	values[1] = CStringGetTextDatum(AstpgStatusName(result->status));
	values[2] = Int32GetDatum(result->classes);
	values[3] = Int32GetDatum(result->functions);
	values[4] = Int32GetDatum(result->calls);
	values[5] = Int32GetDatum(result->dependencies);
	values[6] = Int32GetDatum(result->metrics);
}

static AstpgOnError
parse_on_error(text *value)
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
 * The documents of an ingest() or ingest_batch() call, and what became of
 * them.
 */
typedef struct IngestCall
{
	const char *source;			/* "ingest" or "ingest_batch" */
	Datum	   *docs;			/* jsonb, detoasted */
	bool	   *nulls;
	int			ndocs;
	AstpgOnError on_error;
	bool		first_writer;
	bool		unguarded;		/* see AstpgBatchWriteUnguarded */
	bool		write_failed;
	AstpgIngestResult *results;
} IngestCall;

static void
ingest_documents(void *arg, bool alone)
{
	IngestCall *call = (IngestCall *) arg;
	AstpgBatch *batch;

	batch = AstpgBatchCreate(CurrentMemoryContext, call->on_error,
							 call->first_writer, alone);
	if (call->unguarded)
		AstpgBatchWriteUnguarded(batch, &call->write_failed);
	for (int i = 0; i < call->ndocs; i++)
	{
		char		root[32];
		AstpgOrigin origin = {call->source, root, i};

		CHECK_FOR_INTERRUPTS();
		if (strcmp(call->source, "ingest") == 0)
			strlcpy(root, "document", sizeof(root));
		else
			snprintf(root, sizeof(root), "documents[%d]", i);
		AstpgBatchAdd(batch, call->nulls[i] ? NULL : DatumGetJsonbP(call->docs[i]),
					  NULL, &origin, &call->results[i]);
	}
	AstpgBatchFlush(batch);
	AstpgBatchDestroy(batch);
}

/*
 * Store the call's documents.  A call that is the first write of its
 * transaction is written in a subtransaction, its batches unguarded, and
 * made again, alone, after a deadlock (deadlocks.c): documents of more than
 * one batch (over 500, or a path given twice) are written holding the
 * earlier batches' locks, which only this releases.  A document refused at
 * its write (or, with skip, by the reader) sends the call to the usual
 * way, a subtransaction a batch and a document at a time if one fails,
 * which rejects it (skip) or names it (abort).
 */
static void
ingest_call(IngestCall *call)
{
	ErrorData  *edata;

	call->first_writer = AstpgFirstWriter();
	if (call->first_writer)
	{
		call->unguarded = true;
		edata = AstpgWriteRetryingDeadlocks(ingest_documents, call);
		call->unguarded = false;
		if (edata == NULL)
			return;

		/*
		 * With on_error abort, a document the reader refused fails the call
		 * with an error that names it already, as does one document refused
		 * at its write; one of several refused at their write is named by
		 * the usual way.
		 */
		if (!AstpgRefusalOfDocument(edata->sqlerrcode) ||
			(call->on_error == ASTPG_ON_ERROR_ABORT &&
			 (!call->write_failed || call->ndocs == 1)))
			ReThrowError(edata);
		FreeErrorData(edata);
		/* the usual way below may retry too: its subtransactions hold all */
	}
	ingest_documents(call, false);
}

/*
 * astpg.ingest(doc jsonb) RETURNS astpg.ingest_result
 *
 * Validate the whole document, then write it in the caller's transaction:
 * a batch of one.
 */
Datum
astpg_ingest(PG_FUNCTION_ARGS)
{
	IngestCall	call = {0};
	AstpgIngestResult result;
	Datum		doc;
	bool		isnull = PG_ARGISNULL(0);
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {0};

	begin_write("astpg.ingest()");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	doc = isnull ? (Datum) 0 : PointerGetDatum(PG_GETARG_JSONB_P(0));
	call.source = "ingest";
	call.docs = &doc;
	call.nulls = &isnull;
	call.ndocs = 1;
	call.on_error = ASTPG_ON_ERROR_ABORT;
	call.results = &result;
	ingest_call(&call);

	ingest_result_values(&result, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * astpg.ingest_batch(docs jsonb[], on_error text) RETURNS SETOF ingest_result
 *
 * One row per document, in order.  With on_error 'abort' the first refused
 * document fails the call, its error naming its position
 * ("documents[17].functions[3].line_start ..."); with 'skip' a refused one
 * comes back as 'rejected' and the others are stored.  The documents are
 * written a batch at a time (batch.c).
 */
Datum
astpg_ingest_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IngestCall	call = {0};
	ArrayType  *docs;

	begin_write("astpg.ingest_batch()");
	InitMaterializedSRF(fcinfo, 0);
	call.on_error = parse_on_error(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();

	docs = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(docs, JSONBOID, -1, false, TYPALIGN_INT, &call.docs,
					  &call.nulls, &call.ndocs);
	call.source = "ingest_batch";
	call.results = palloc0(mul_size(sizeof(AstpgIngestResult),
									Max(call.ndocs, 1)));
	ingest_call(&call);

	for (int i = 0; i < call.ndocs; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {0};

		CHECK_FOR_INTERRUPTS();
		ingest_result_values(&call.results[i], values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_NULL();
}

/*
 * The inbox's batch: documents read by the row trigger of the statement
 * that is running, written by its statement trigger.  It lives in the
 * transaction's memory, and is forgotten when the subtransaction that
 * began it is rolled back.  A transaction that would commit with
 * documents still in it fails instead (inbox_xact_callback).
 */
static AstpgBatch *inbox_batch = NULL;
static SubTransactionId inbox_batch_subid = InvalidSubTransactionId;

/*
 * A transaction that commits with documents still in the inbox's batch
 * would lose them without a word: its statement trigger did not fire (it
 * was disabled, say).  The commit fails instead, and nothing of the
 * transaction is stored.
 */
static void
inbox_xact_callback(XactEvent event, void *arg)
{
	if ((event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE ||
		 event == XACT_EVENT_PARALLEL_PRE_COMMIT) &&
		inbox_batch != NULL && AstpgBatchCount(inbox_batch) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("astpg.inbox holds %d documents that were never stored",
						AstpgBatchCount(inbox_batch)),
				 errdetail("The inbox's statement trigger inbox_flush did not fire after the rows were inserted, so the transaction is rolled back."),
				 errhint("Enable the trigger: ALTER TABLE astpg.inbox ENABLE TRIGGER inbox_flush.")));
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		inbox_batch = NULL;		/* TopTransactionContext goes, and the batch with it */
}

static void
inbox_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (inbox_batch != NULL && event == SUBXACT_EVENT_ABORT_SUB &&
		mySubid == inbox_batch_subid)
	{
		AstpgBatchDestroy(inbox_batch);
		inbox_batch = NULL;
	}
}

/*
 * astpg.inbox_ingest(): BEFORE INSERT FOR EACH ROW trigger of astpg.inbox.
 *
 * Reads the row's document, keeps it for the batch's write, and returns
 * NULL, so that nothing accumulates in the inbox: COPY astpg.inbox (doc)
 * FROM STDIN is a bulk ingest with every client's COPY support.
 * astpg.on_error says what a refused document does.  The document arrives
 * as text, so that even text that is not JSON is refused (or rejected)
 * like any other bad input.
 */
Datum
astpg_inbox_ingest(PG_FUNCTION_ARGS)
{
	static bool callbacks_registered = false;
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	AstpgOrigin origin = {"inbox", "document", 0};
	Datum		doc;
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		elog(ERROR, "astpg_inbox_ingest must be fired BEFORE INSERT FOR EACH ROW");
	begin_write("astpg.inbox_ingest()");

	if (!callbacks_registered)
	{
		RegisterXactCallback(inbox_xact_callback, NULL);
		RegisterSubXactCallback(inbox_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (inbox_batch == NULL)
	{
		inbox_batch = AstpgBatchCreate(TopTransactionContext,
									   (AstpgOnError) astpg_on_error,
									   AstpgFirstWriter(), false);
		inbox_batch_subid = GetCurrentSubTransactionId();
	}

	doc = heap_getattr(trigdata->tg_trigtuple, 1,
					   trigdata->tg_relation->rd_att, &isnull);
	origin.position = AstpgNextInboxPosition();
	AstpgBatchAdd(inbox_batch, NULL, isnull ? NULL : DatumGetTextPP(doc),
				  &origin, NULL);
	return PointerGetDatum(NULL);
}

/*
 * astpg.inbox_flush(): AFTER INSERT FOR EACH STATEMENT trigger of
 * astpg.inbox.  Writes what the statement's rows left in the inbox's batch.
 */
Datum
astpg_inbox_flush(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	AstpgBatch *batch = inbox_batch;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		elog(ERROR, "astpg_inbox_flush must be fired AFTER INSERT FOR EACH STATEMENT");
	if (batch != NULL)
	{
		AstpgCheckInstalledVersion();
		AstpgBatchFlush(batch);
		inbox_batch = NULL;
		AstpgBatchDestroy(batch);
	}
	return PointerGetDatum(NULL);
}

/*
 * astpg.ingest_counts() RETURNS astpg.ingest_counts
 *
 * What this session ingested in its current transaction, by any entry
 * point: a loader reads it before COMMIT to report on the batch.
 */
Datum
astpg_ingest_counts(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	PG_RETURN_DATUM(AstpgIngestCountsDatum(BlessTupleDesc(tupdesc)));
}

/*
 * astpg.record_reject(document_text, sqlstate, message, detail) RETURNS bigint
 *
 * A document that a client could not send as text (astpg-load: a line that
 * is not UTF-8 or holds a NUL byte), stored in astpg.rejects as the inbox
 * stores what it refuses: numbered and counted as a document of the
 * transaction, in its place among the inbox's.  Returns its position.
 */
Datum
astpg_record_reject(PG_FUNCTION_ARGS)
{
	AstpgOrigin origin = {"inbox", "document", 0};
	ErrorData	edata;
	AstpgIngestResult result;
	char	   *sqlstate;

	begin_write("astpg.record_reject()");
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

/* astpg.file_key(repository text, path text) RETURNS bytea: see AstpgFileKey */
Datum
astpg_file_key(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(AstpgFileKey(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1)));
}

/* astpg.repo_id(repository text) RETURNS bigint: see AstpgRepoId */
Datum
astpg_repo_id(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(AstpgRepoId(PG_GETARG_TEXT_PP(0)));
}

/*
 * astpg.lock_repository(repo_id bigint, alone boolean) RETURNS void
 *
 * What the writers in C do before they write a repository's files, for
 * delete_file() and delete_files() (deadlocks.c).
 */
Datum
astpg_lock_repository(PG_FUNCTION_ARGS)
{
	AstpgLockRepository(PG_GETARG_INT64(0), PG_GETARG_BOOL(1));
	PG_RETURN_VOID();
}

/*
 * astpg.import_cycles(repository text) RETURNS TABLE(component integer,
 *	   size integer, file_ids bigint[], paths text[], cycle text[])
 *
 * The import cycles of a repository (import_cycles.c).
 */
Datum
astpg_import_cycles(PG_FUNCTION_ARGS)
{
	AstpgImportCycles(fcinfo, AstpgRepoId(PG_GETARG_TEXT_PP(0)));
	return (Datum) 0;
}
