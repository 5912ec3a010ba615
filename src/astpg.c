/*-------------------------------------------------------------------------
 *
 * astpg.c
 *	  Module magic and the SQL-callable entry points of astpg.
 *
 * Each entry point is thin: it sets up a memory context for one document,
 * hands the jsonb to the reader, connects SPI for the writer, and returns
 * what the writer did.  The work is in document_reader.c and
 * document_writer.c.
 *
 * IDENTIFICATION
 *	  src/astpg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "access/htup_details.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "funcapi.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(astpg_ingest);
PG_FUNCTION_INFO_V1(astpg_file_key);

/* Form an astpg.ingest_result tuple. */
static Datum
ingest_result_datum(TupleDesc tupdesc, AstpgIngestResult *result)
{
	Datum		values[7];
	bool		nulls[7] = {0};

	values[0] = Int64GetDatum(result->file_id);
	values[1] = CStringGetTextDatum(AstpgStatusName(result->status));
	values[2] = Int32GetDatum(result->classes);
	values[3] = Int32GetDatum(result->functions);
	values[4] = Int32GetDatum(result->calls);
	values[5] = Int32GetDatum(result->dependencies);
	values[6] = Int32GetDatum(result->metrics);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * astpg.ingest(doc jsonb) RETURNS astpg.ingest_result
 *
 * Validate the whole document, then write it in the caller's transaction.
 * The document's memory is released before returning, so a caller that
 * ingests many documents in one statement keeps a flat footprint.
 */
Datum
astpg_ingest(PG_FUNCTION_ARGS)
{
	TimestampTz started = GetCurrentTimestamp();
	TupleDesc	tupdesc;
	MemoryContext document_context;
	MemoryContext caller_context;
	AstpgDocument *doc;
	AstpgIngestResult result;
	Jsonb	   *jb;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("document must be an object, not null")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	document_context = AllocSetContextCreate(CurrentMemoryContext,
											 "astpg ingest",
											 ALLOCSET_DEFAULT_SIZES);
	caller_context = MemoryContextSwitchTo(document_context);

	jb = PG_GETARG_JSONB_P(0);
	doc = AstpgReadDocument(jb, "document");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(document_context);
	AstpgResetPlansIfStale();
	AstpgWriteDocument(doc, started, &result);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");

	MemoryContextSwitchTo(caller_context);
	MemoryContextDelete(document_context);
	PG_RETURN_DATUM(ingest_result_datum(tupdesc, &result));
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
	text	   *repository = PG_GETARG_TEXT_PP(0);
	text	   *path = PG_GETARG_TEXT_PP(1);
	uint32		repository_len = pg_hton32(VARSIZE_ANY_EXHDR(repository));
	bytea	   *result = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) &repository_len,
							 sizeof(repository_len)) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) VARDATA_ANY(repository),
							 VARSIZE_ANY_EXHDR(repository)) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) VARDATA_ANY(path),
							 VARSIZE_ANY_EXHDR(path)) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(result),
							PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute SHA-256 file key: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);

	SET_VARSIZE(result, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	PG_RETURN_BYTEA_P(result);
}
