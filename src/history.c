/*-------------------------------------------------------------------------
 *
 * history.c
 *	  Append a stored version's metrics to astpg.metric_history.
 *
 * Every ingest that stores a new version of a file (inserted or replaced)
 * appends one row: the document's metrics as a jsonb object, its counts of
 * functions and classes, and the total and maximum complexity of its
 * functions, with the revision and the time.  The row is written by the
 * ingest itself, in the document's transaction (and subtransaction), so the
 * history holds exactly the versions that were committed.
 *
 * The aggregates come from the document already read, not from the tables:
 * one single-table INSERT per version, which Citus routes to the
 * repository's shard like the other writes.
 *
 * Databases still at a version before 1.3 have no metric_history: nothing
 * is written there (AstpgHistoryKept).
 *
 * IDENTIFICATION
 *	  src/history.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

/* The document's metrics as a jsonb object; a repeated name keeps its last. */
static Jsonb *
metrics_object(const AstpgDocument *doc)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;
	int			i;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < doc->nmetrics; i++)
	{
		JsonbValue	key;
		JsonbValue	value;

		CHECK_FOR_INTERRUPTS();
		key.type = jbvString;
		key.val.string.val = VARDATA_ANY(doc->metrics[i].name);
		key.val.string.len = VARSIZE_ANY_EXHDR(doc->metrics[i].name);
		value.type = jbvNumeric;
		value.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric,
																Float8GetDatum(doc->metrics[i].value)));
		pushJsonbValue(&state, WJB_KEY, &key);
		pushJsonbValue(&state, WJB_VALUE, &value);
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(result);
}

/*
 * AstpgHistoryOf
 *		The figures of a document that metric_history keeps beside its
 *		counts.
 */
void
AstpgHistoryOf(const AstpgDocument *doc, AstpgHistoryFigures *figures)
{
	figures->complexity_total = 0;
	figures->complexity_max = 0;
	for (int i = 0; i < doc->nfunctions; i++)
	{
		int32		complexity = doc->functions[i].complexity;

		CHECK_FOR_INTERRUPTS();
		figures->complexity_total += complexity;
		figures->complexity_max = Max(figures->complexity_max, complexity);
	}
	figures->metrics = metrics_object(doc);
}

/*
 * AstpgRecordHistory
 *		Append the version just stored.  SPI is connected.  (Databases at
 *		1.3; from 1.4 batch_writer.c writes a batch's history at once.)
 */
void
AstpgRecordHistory(const AstpgDocument *doc, const AstpgIngestResult *result)
{
	Datum		args[12];
	char		nulls[13] = "            ";
	AstpgHistoryFigures figures;

	Assert(result->status == ASTPG_INSERTED || result->status == ASTPG_REPLACED);
	if (!AstpgHistoryKept())
		return;
	AstpgHistoryOf(doc, &figures);

	args[0] = Int64GetDatum(AstpgRepoId(doc->repository));
	args[1] = PointerGetDatum(doc->repository);
	args[2] = PointerGetDatum(doc->path);
	args[3] = Int64GetDatum(result->file_id);
	args[4] = PointerGetDatum(doc->revision);
	nulls[4] = doc->revision == NULL ? 'n' : ' ';
	args[5] = PointerGetDatum(doc->content_hash);
	nulls[5] = doc->content_hash == NULL ? 'n' : ' ';
	args[6] = CStringGetTextDatum(AstpgStatusName(result->status));
	args[7] = Int32GetDatum(doc->nfunctions);
	args[8] = Int32GetDatum(doc->nclasses);
	args[9] = Int64GetDatum(figures.complexity_total);
	/* no function gives its complexity: no maximum (complexity is >= 1) */
	args[10] = Int32GetDatum(figures.complexity_max);
	nulls[10] = figures.complexity_max == 0 ? 'n' : ' ';
	args[11] = PointerGetDatum(figures.metrics);

	AstpgExecute(ASTPG_Q_INSERT_HISTORY, args, nulls, SPI_OK_INSERT);
}
