/*-------------------------------------------------------------------------
 *
 * rejects.c
 *	  Keep a refused document whole in astpg.rejects, with why it was
 *	  refused, so that a skip load loses nothing: what was refused can be
 *	  read, mended and sent again.
 *
 * Transaction contract: the row is written in the caller's
 * (sub)transaction, after the refused document's own subtransaction (if it
 * had one) was rolled back.
 *
 * IDENTIFICATION
 *	  src/rejects.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

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
 * AstpgRecordReject
 *		Store a refused document (jb, or json_text when it is not JSON, or
 *		neither for an SQL NULL) with its error, under the repository it
 *		names (or the empty name's key when it names none).
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

	AstpgSPIConnect();
	AstpgExecute(ASTPG_Q_INSERT_REJECT, args, nulls, SPI_OK_INSERT);
	AstpgSPIFinish();
}
