/*-------------------------------------------------------------------------
 *
 * json_text.c
 *	  Parse JSON text into jsonb, as jsonb_in does, but cancellable.
 *
 * The inbox takes each document as text.  PostgreSQL's jsonb_in never
 * checks for interrupts, so a cancel or a statement_timeout that arrives
 * while a document of a hundred megabytes is parsed waited for the whole
 * parse (seconds).  This is jsonb_in's parse (PostgreSQL 15,
 * src/backend/utils/adt/jsonb.c): the same lexer and parser
 * (pg_parse_json_or_ereport), the same semantic actions building the value
 * with pushJsonbValue, the same checks; so it accepts and refuses exactly
 * what jsonb_in does, with the same messages and SQLSTATEs.  The one
 * difference: each semantic action, called at least once a token, checks
 * for interrupts.  What remains uninterrupted is the lexing of one token
 * (a string of many megabytes) and the final JsonbValueToJsonb.
 *
 * IDENTIFICATION
 *	  src/json_text.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/jsonfuncs.h"
#include "utils/numeric.h"

typedef struct JsonTextState
{
	JsonbParseState *parse_state;
	JsonbValue *result;
} JsonTextState;

static size_t
check_string_length(size_t len)
{
	if (len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string too long to represent as jsonb string"),
				 errdetail("Due to an implementation restriction, jsonb strings cannot exceed %d bytes.",
						   JENTRY_OFFLENMASK)));
	return len;
}

static void
push_token(JsonTextState *state, JsonbIteratorToken token, JsonbValue *value)
{
	CHECK_FOR_INTERRUPTS();
	state->result = pushJsonbValue(&state->parse_state, token, value);
}

static void
object_start(void *arg)
{
	push_token((JsonTextState *) arg, WJB_BEGIN_OBJECT, NULL);
}

static void
object_end(void *arg)
{
	push_token((JsonTextState *) arg, WJB_END_OBJECT, NULL);
}

static void
array_start(void *arg)
{
	push_token((JsonTextState *) arg, WJB_BEGIN_ARRAY, NULL);
}

static void
array_end(void *arg)
{
	push_token((JsonTextState *) arg, WJB_END_ARRAY, NULL);
}

static void
object_field_start(void *arg, char *fname, bool isnull)
{
	JsonbValue	v;

	Assert(fname != NULL);
	v.type = jbvString;
	v.val.string.len = check_string_length(strlen(fname));
	v.val.string.val = fname;
	push_token((JsonTextState *) arg, WJB_KEY, &v);
}

static void
scalar(void *arg, char *token, JsonTokenType tokentype)
{
	JsonTextState *state = (JsonTextState *) arg;
	JsonbValue	v;

	switch (tokentype)
	{
		case JSON_TOKEN_STRING:
			Assert(token != NULL);
			v.type = jbvString;
			v.val.string.len = check_string_length(strlen(token));
			v.val.string.val = token;
			break;
		case JSON_TOKEN_NUMBER:
			/* numeric's limits are well below jsonb's: no size check */
			Assert(token != NULL);
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																CStringGetDatum(token),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1)));
			break;
		case JSON_TOKEN_TRUE:
			v.type = jbvBool;
			v.val.boolean = true;
			break;
		case JSON_TOKEN_FALSE:
			v.type = jbvBool;
			v.val.boolean = false;
			break;
		case JSON_TOKEN_NULL:
			v.type = jbvNull;
			break;
		default:
			elog(ERROR, "invalid json token type");
			break;
	}

	if (state->parse_state == NULL)
	{
		/* the whole text is one scalar: a raw scalar array, as jsonb_in */
		JsonbValue	va;

		va.type = jbvArray;
		va.val.array.rawScalar = true;
		va.val.array.nElems = 1;
		push_token(state, WJB_BEGIN_ARRAY, &va);
		push_token(state, WJB_ELEM, &v);
		push_token(state, WJB_END_ARRAY, NULL);
	}
	else if (state->parse_state->contVal.type == jbvArray)
		push_token(state, WJB_ELEM, &v);
	else if (state->parse_state->contVal.type == jbvObject)
		push_token(state, WJB_VALUE, &v);
	else
		elog(ERROR, "unexpected parent of nested structure");
}

/*
 * AstpgJsonTextToJsonb
 *		The jsonb of JSON text, or the error jsonb_in would raise for it.
 */
Jsonb *
AstpgJsonTextToJsonb(text *json_text)
{
	MemoryContext caller_context = CurrentMemoryContext;
	MemoryContext parse_context;
	JsonTextState state;
	JsonSemAction sem;
	JsonLexContext *lex;
	Jsonb	   *result;

	json_text = pg_detoast_datum_packed(json_text);

	/*
	 * The lexer's tokens and the tree of JsonbValues are garbage once the
	 * jsonb is made: build them in a context of their own, emptied before
	 * returning.  In the caller's context (a batch's, which lives until the
	 * batch is written) they made the batch's memory several times the size
	 * of its documents, and most of a load's page faults.  On an error the
	 * context goes with its parent.
	 */
	parse_context = AllocSetContextCreate(caller_context, "astpg JSON parse",
										  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(parse_context);
	memset(&state, 0, sizeof(state));
	memset(&sem, 0, sizeof(sem));
	/* a text holds no NUL byte: its length is jsonb_in's strlen */
	lex = makeJsonLexContextCstringLen(VARDATA_ANY(json_text),
									   VARSIZE_ANY_EXHDR(json_text),
									   GetDatabaseEncoding(), true);
	sem.semstate = &state;
	sem.object_start = object_start;
	sem.object_end = object_end;
	sem.array_start = array_start;
	sem.array_end = array_end;
	sem.object_field_start = object_field_start;
	sem.scalar = scalar;

	pg_parse_json_or_ereport(lex, &sem);
	CHECK_FOR_INTERRUPTS();
	MemoryContextSwitchTo(caller_context);
	result = JsonbValueToJsonb(state.result);
	MemoryContextDelete(parse_context);
	return result;
}
