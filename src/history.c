/*-------------------------------------------------------------------------
 *
 * history.c
 *	  The figures of a stored version for astpg.metric_history.
 *
 * Every ingest that stores a new version of a file (inserted or replaced)
 * appends one row (batch_writer.c writes them, a statement per batch): the document's metrics as a jsonb object, its counts of
 * functions and classes, and the total and maximum complexity of its
 * functions, with the revision and the time.  The row is written by the
 * ingest itself, in the document's transaction (and subtransaction), so the
 * history holds exactly the versions that were committed.
 *
 * The aggregates come from the document already read, not from the tables:
 * one single-table INSERT per version, which Citus routes to the
 * repository's shard like the other writes.
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
