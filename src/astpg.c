/*-------------------------------------------------------------------------
 *
 * astpg.c
 *	  Module magic and the SQL-callable entry points of astpg.
 *
 * Each entry point is thin: it says where its documents come from and what
 * to do with a refused one, hands each to AstpgIngestDocument (ingest.c)
 * or to a batch (batch.c), and returns what was done.
 *
 * IDENTIFICATION
 *	  src/astpg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
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
PG_FUNCTION_INFO_V1(astpg_file_key);
PG_FUNCTION_INFO_V1(astpg_repo_id);

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

/*
 * astpg.ingest(doc jsonb) RETURNS astpg.ingest_result
 *
 * Validate the whole document, then write it in the caller's transaction.
 */
Datum
astpg_ingest(PG_FUNCTION_ARGS)
{
	AstpgOrigin origin = {"ingest", "document", 0};
	AstpgIngestResult result;
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	AstpgIngestDocument(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0), NULL,
						&origin, ASTPG_ON_ERROR_ABORT, &result);
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
/* The documents of an ingest_batch call, and what became of them. */
typedef struct BatchCall
{
	ArrayType  *docs;
	AstpgOnError on_error;
	bool		first_writer;
	bool		unguarded;		/* see AstpgBatchWriteUnguarded */
	AstpgIngestResult *results;
	int			count;			/* documents read */
} BatchCall;

static void
ingest_documents(void *arg)
{
	BatchCall  *call = (BatchCall *) arg;
	ArrayIterator iterator;
	AstpgBatch *batch;
	Datum		element;
	bool		isnull;

	call->count = 0;
	batch = AstpgBatchCreate(CurrentMemoryContext, call->on_error,
							 call->first_writer);
	if (call->unguarded)
		AstpgBatchWriteUnguarded(batch);
	iterator = array_create_iterator(call->docs, 0, NULL);
	while (array_iterate(iterator, &element, &isnull))
	{
		char		root[32];
		AstpgOrigin origin = {"ingest_batch", root, call->count};

		CHECK_FOR_INTERRUPTS();
		snprintf(root, sizeof(root), "documents[%d]", call->count);
		AstpgBatchAdd(batch, isnull ? NULL : DatumGetJsonbP(element), NULL,
					  &origin, &call->results[call->count]);
		call->count++;
	}
	array_free_iterator(iterator);
	AstpgBatchFlush(batch);
	AstpgBatchDestroy(batch);
}

/*
 * A call that is the first write of its transaction is written in a
 * subtransaction, its batches unguarded, and made again, alone, after a
 * deadlock (deadlocks.c): documents of more than one batch (over 500, or a
 * path given twice) are written holding the earlier batches' locks, which
 * only this releases.  A document refused at its write (or, with skip, by
 * the reader) sends the call to the usual way, a subtransaction a batch and
 * a document at a time if one fails, which rejects it (skip) or names it
 * (abort).
 */
static bool
ingest_documents_retrying(BatchCall *call)
{
	ErrorData  *edata;

	call->unguarded = true;
	edata = AstpgWriteRetryingDeadlocks(ingest_documents, call);
	call->unguarded = false;
	if (edata == NULL)
		return true;

	/*
	 * With on_error abort, a document the reader refused fails the call
	 * with an error that names it already; one refused at its write is
	 * named by the usual way.
	 */
	if (!AstpgRefusalOfDocument(edata->sqlerrcode) ||
		(call->on_error == ASTPG_ON_ERROR_ABORT && !AstpgUnguardedWriteFailed()))
		ReThrowError(edata);
	FreeErrorData(edata);
	return false;
}

Datum
astpg_ingest_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	BatchCall	call = {0};
	AstpgIngestResult *results;
	int			position;

	SetSingleFuncCall(fcinfo, 0);
	call.on_error = AstpgParseOnError(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();

	call.docs = PG_GETARG_ARRAYTYPE_P(0);
	call.results = palloc0(mul_size(sizeof(AstpgIngestResult),
									Max(ArrayGetNItems(ARR_NDIM(call.docs),
													   ARR_DIMS(call.docs)), 1)));
	call.first_writer = AstpgFirstWriter();
	if (!call.first_writer || !ingest_documents_retrying(&call))
		ingest_documents(&call);
	results = call.results;
	position = call.count;

	for (int i = 0; i < position; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {0};

		CHECK_FOR_INTERRUPTS();
		ingest_result_values(&results[i], values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_NULL();
}

/*
 * The inbox's batch: documents read by the row trigger of the statement
 * that is running, written by its statement trigger.  It lives in the
 * transaction's memory, and is forgotten when the transaction or the
 * subtransaction that began it ends without reaching the statement
 * trigger (an error).
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
									   AstpgFirstWriter());
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
 * astpg.inbox (from 1.4).  Writes what the statement's rows left in the
 * inbox's batch.
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
 * SHA-256 of the given parts, one after another, into digest.  Each part is
 * a pointer and a length.
 */
static void
sha256_of(uint8 *digest, int nparts, const void *const *parts,
		  const size_t *lengths)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	for (int i = 0; i < nparts; i++)
		if (pg_cryptohash_update(ctx, parts[i], lengths[i]) < 0)
			elog(ERROR, "could not compute SHA-256: %s",
				 pg_cryptohash_error(ctx));
	if (pg_cryptohash_final(ctx, digest, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
}

/*
 * astpg.file_key(repository text, path text) RETURNS bytea
 *
 * SHA-256 of the length of repository, repository and path, as stored (in
 * the database encoding).  The unique index on (repository, path) is built
 * on this key because a btree entry holds at most about 2700 bytes, and a
 * path may have 4096 characters, several bytes each.
 */
Datum
astpg_file_key(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(AstpgFileKey(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1)));
}

/* AstpgFileKey: astpg.file_key(repository, path), for the writer's lookups. */
bytea *
AstpgFileKey(text *repository, text *path)
{
	uint32		repository_len = pg_hton32(VARSIZE_ANY_EXHDR(repository));
	bytea	   *result = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	const void *parts[3] = {&repository_len, VARDATA_ANY(repository),
	VARDATA_ANY(path)};
	size_t		lengths[3] = {sizeof(repository_len),
		VARSIZE_ANY_EXHDR(repository), VARSIZE_ANY_EXHDR(path)};

	sha256_of((uint8 *) VARDATA(result), 3, parts, lengths);
	SET_VARSIZE(result, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	return result;
}

/*
 * AstpgRepoId
 *		The key of a repository: the first 8 bytes of the SHA-256 of its name
 *		(as stored, in the database encoding), read as a big-endian bigint.
 *
 * Every table leads its keys with it, and it is what astpg is distributed
 * by on Citus: fixed-size whatever the name's length, and the same on every
 * node.  Two names share a key with a probability of about n^2 / 2^65.
 */
int64
AstpgRepoId(text *repository)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	const void *parts[1] = {VARDATA_ANY(repository)};
	size_t		lengths[1] = {VARSIZE_ANY_EXHDR(repository)};
	uint64		key = 0;

	sha256_of(digest, 1, parts, lengths);
	for (int i = 0; i < 8; i++)
		key = (key << 8) | digest[i];
	return (int64) key;
}

/* astpg.repo_id(repository text) RETURNS bigint: see AstpgRepoId */
Datum
astpg_repo_id(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(AstpgRepoId(PG_GETARG_TEXT_PP(0)));
}
