/*-------------------------------------------------------------------------
 *
 * document_reader.c
 *	  Validate one astpg document (format 1, see docs/document-format.md)
 *	  and read it into an AstpgDocument, without touching the database.
 *
 * The whole document is checked before anything is written, so a refused
 * document leaves no trace.  Every refusal is SQLSTATE 22023 with the JSON
 * path of the offending value first in the primary message, e.g.
 * "document.functions[3].line_start must be an integer, not a string";
 * but for a document that astpg.document() could not give back, which is
 * jsonb's limit rather than a rule of the format: 54000, with the path of
 * the row that takes it over (see count_output).
 *
 * The jsonb is walked in place with JsonbIterator (no round trip through
 * text).  Nested values that are stored verbatim (ast, parameters, unknown
 * keys) are copied as binary containers, never re-parsed.
 *
 * Memory contract: everything is allocated in CurrentMemoryContext, which
 * the caller resets once the document is written.  Strings point into fresh
 * text datums, never into the input jsonb, so the result may outlive it.
 *
 * IDENTIFICATION
 *	  src/document_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "astpg.h"
#include "common/int.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/numeric.h"

#define MAX_PATH_DEPTH 8
#define MAX_NAME_CHARS 1024
#define MAX_PATH_CHARS 4096
#define MAX_LANGUAGE_CHARS 50

/*
 * One step of the JSON path to the value being read: an object key, or an
 * array position when key is NULL.  Paths are rendered only on error, so
 * descending costs two stores.
 */
typedef struct PathStep
{
	const char *key;
	int			keylen;
	int			index;
} PathStep;

typedef struct Reader
{
	const char *root;			/* "document", or "documents[17]" in a batch */
	int			depth;
	PathStep	steps[MAX_PATH_DEPTH];
	AstpgDocument *doc;
	int			call_capacity;	/* allocated length of doc->calls */
	int64		output_bytes;	/* bound on astpg.document()'s answer */
} Reader;

static inline void
push_key(Reader *r, const char *key, int keylen)
{
	Assert(r->depth < MAX_PATH_DEPTH);
	r->steps[r->depth].key = key;
	r->steps[r->depth].keylen = keylen;
	r->depth++;
}

static inline void
push_index(Reader *r, int index)
{
	Assert(r->depth < MAX_PATH_DEPTH);
	r->steps[r->depth].key = NULL;
	r->steps[r->depth].index = index;
	r->depth++;
}

static inline void
pop(Reader *r)
{
	r->depth--;
}

/*
 * Render the current path: document.functions[3].line_start.  Keys that are
 * not plain identifiers (metric names may be anything) are written as
 * ["quoted key"] so that the path stays unambiguous.
 */
static char *
path_string(Reader *r)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, r->root);
	for (int i = 0; i < r->depth; i++)
	{
		PathStep   *step = &r->steps[i];
		bool		plain = step->key != NULL && step->keylen > 0;

		if (step->key == NULL)
		{
			appendStringInfo(&buf, "[%d]", step->index);
			continue;
		}
		for (int j = 0; plain && j < step->keylen; j++)
		{
			char		c = step->key[j];

			plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				c == '_' || (j > 0 && c >= '0' && c <= '9');
		}
		if (plain)
		{
			appendStringInfoChar(&buf, '.');
			appendBinaryStringInfo(&buf, step->key, step->keylen);
		}
		else
		{
			appendStringInfoChar(&buf, '[');
			escape_json(&buf, pnstrdup(step->key, step->keylen));
			appendStringInfoChar(&buf, ']');
		}
	}
	return buf.data;
}

static const char *
json_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvArray:
			return "an array";
		case jbvObject:
			return "an object";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ?
				"an array" : "an object";
		default:
			return "an unknown value";
	}
}

static void
type_error(Reader *r, const char *expected, JsonbValue *v)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be %s, not %s",
					path_string(r), expected, json_type_name(v))));
}

static bool
is_container(JsonbValue *v, bool array)
{
	return v->type == jbvBinary &&
		(array ? JsonContainerIsArray(v->val.binary.data)
		 : JsonContainerIsObject(v->val.binary.data));
}

static inline bool
key_is(JsonbValue *key, const char *name)
{
	int			len = strlen(name);

	return key->val.string.len == len &&
		memcmp(key->val.string.val, name, len) == 0;
}

/*
 * Read a string of minchars to maxchars characters (maxchars < 0: no limit).
 * The character count is taken only when the byte count could exceed it.
 */
static text *
read_string(Reader *r, JsonbValue *v, int minchars, int maxchars)
{
	int			len;

	if (v->type != jbvString)
		type_error(r, "a string", v);
	len = v->val.string.len;
	if (len < minchars ||
		(maxchars >= 0 && len > maxchars &&
		 pg_mbstrlen_with_len(v->val.string.val, len) > maxchars))
	{
		if (minchars > 0 && len < minchars)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not be empty", path_string(r))));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", path_string(r)),
				 errdetail("The limit is %d characters.", maxchars)));
	}
	return cstring_to_text_with_len(v->val.string.val, len);
}

/*
 * Read an integer in [min, max].  jsonb keeps numbers as numeric, so "1.0"
 * and "1e2" are integers too (JSON Schema agrees); "1.5" is not, and
 * "1e400" or 2^63 is out of range rather than silently wrapped.
 */
static int64
read_integer(Reader *r, JsonbValue *v, int64 min, int64 max)
{
	const char *digits;
	char	   *end;
	int64		result;
	bool		in_range;

	if (v->type != jbvNumeric)
		type_error(r, "an integer", v);
	if (numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric))
		type_error(r, "an integer", v);

	digits = numeric_normalize(v->val.numeric);
	if (strchr(digits, '.') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be an integer, not a fractional number",
						path_string(r))));

	errno = 0;
	result = strtoi64(digits, &end, 10);
	in_range = errno == 0 && *end == '\0' && result >= min && result <= max;
	if (!in_range)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is out of range", path_string(r)),
				 errdetail("The value must be an integer from " INT64_FORMAT
						   " to " INT64_FORMAT ".", min, max)));
	return result;
}

/* Read a finite number in [min, max] as double precision. */
static float8
read_number(Reader *r, JsonbValue *v, float8 min, float8 max)
{
	const char *digits;
	float8		result;

	if (v->type != jbvNumeric)
		type_error(r, "a number", v);
	if (numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric))
		type_error(r, "a number", v);

	digits = numeric_normalize(v->val.numeric);
	result = strtod(digits, NULL);

	/* beyond double precision: overflow to infinity, or underflow to zero */
	if (isinf(result) ||
		(result == 0.0 && strspn(digits, "-0.") != strlen(digits)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is out of range for double precision",
						path_string(r))));
	if (result < min || result > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is out of range", path_string(r)),
				 errdetail("The value must be a number from %g to %g.",
						   min, max)));
	return result;
}

static bool
read_boolean(Reader *r, JsonbValue *v)
{
	if (v->type != jbvBool)
		type_error(r, "a boolean", v);
	return v->val.boolean;
}

static int32
read_line(Reader *r, JsonbValue *v)
{
	return (int32) read_integer(r, v, 1, PG_INT32_MAX);
}

/* Copy a nested value, kept verbatim, as a jsonb datum of its own. */
static Jsonb *
copy_value(JsonbValue *v)
{
	return JsonbValueToJsonb(v);
}

/*
 * Keep a key that has no column of its own, for the row's attrs.  A null
 * value counts as absent (spec: Rules), so it is not kept.
 */
static void
keep_attr(JsonbParseState **attrs, JsonbValue *key, JsonbValue *v)
{
	if (v->type == jbvNull)
		return;
	if (*attrs == NULL)
		pushJsonbValue(attrs, WJB_BEGIN_OBJECT, NULL);
	pushJsonbValue(attrs, WJB_KEY, key);
	pushJsonbValue(attrs, WJB_VALUE, v);
}

static Jsonb *
finish_attrs(JsonbParseState **attrs)
{
	if (*attrs == NULL)
		return NULL;
	return JsonbValueToJsonb(pushJsonbValue(attrs, WJB_END_OBJECT, NULL));
}

static void
string_list_add(AstpgStringList *list, int64 owner, text *value)
{
	if (list->count == list->capacity)
	{
		list->capacity = list->capacity == 0 ? 16 : list->capacity * 2;
		if (list->owner == NULL)
		{
			list->owner = palloc(mul_size(sizeof(Datum), list->capacity));
			list->value = palloc(mul_size(sizeof(Datum), list->capacity));
		}
		else
		{
			list->owner = repalloc(list->owner, mul_size(sizeof(Datum), list->capacity));
			list->value = repalloc(list->value, mul_size(sizeof(Datum), list->capacity));
		}
	}
	list->owner[list->count] = Int64GetDatum(owner);
	list->value[list->count] = PointerGetDatum(value);
	list->count++;
}

/*
 * Open an array value for element-wise reading; returns its length.  The
 * first token of a container is its BEGIN marker, consumed here.
 */
static int
open_array(Reader *r, JsonbValue *v, JsonbIterator **it)
{
	JsonbValue	begin;

	if (!is_container(v, true))
		type_error(r, "an array", v);
	*it = JsonbIteratorInit(v->val.binary.data);
	(void) JsonbIteratorNext(it, &begin, true);
	return JsonContainerSize(v->val.binary.data);
}

static JsonbIterator *
open_object(Reader *r, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	begin;

	if (!is_container(v, false))
		type_error(r, "an object", v);
	it = JsonbIteratorInit(v->val.binary.data);
	(void) JsonbIteratorNext(&it, &begin, true);
	return it;
}

/* Next key and value of an object; false at its end. */
static bool
next_pair(JsonbIterator **it, JsonbValue *key, JsonbValue *value)
{
	CHECK_FOR_INTERRUPTS();
	if (JsonbIteratorNext(it, key, true) != WJB_KEY)
		return false;
	(void) JsonbIteratorNext(it, value, true);
	return true;
}

/* Next element of an array; false at its end. */
static bool
next_element(JsonbIterator **it, JsonbValue *elem)
{
	CHECK_FOR_INTERRUPTS();
	return JsonbIteratorNext(it, elem, true) == WJB_ELEM;
}

static void
read_string_array(Reader *r, JsonbValue *v, AstpgStringList *list,
				  int64 owner)
{
	JsonbIterator *it;
	JsonbValue	elem;
	int			i = 0;

	open_array(r, v, &it);
	while (next_element(&it, &elem))
	{
		push_index(r, i++);
		string_list_add(list, owner, read_string(r, &elem, 0, -1));
		pop(r);
	}
}

static void
missing_key(Reader *r, const char *key)
{
	push_key(r, key, strlen(key));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s is required", path_string(r))));
}

static text *
join_names(text *outer, text *name)
{
	int			outer_len = VARSIZE_ANY_EXHDR(outer);
	int			name_len = VARSIZE_ANY_EXHDR(name);
	int			len = add_size(add_size(outer_len, 1), name_len);
	text	   *result = (text *) palloc(add_size(len, VARHDRSZ));
	char	   *p = VARDATA(result);

	SET_VARSIZE(result, len + VARHDRSZ);
	memcpy(p, VARDATA_ANY(outer), outer_len);
	p[outer_len] = '.';
	memcpy(p + outer_len + 1, VARDATA_ANY(name), name_len);
	return result;
}

/*
 * What ingest accepts, astpg.document() must give back.  Its answer is the
 * document given, less its nulls, plus the defaults it fills in: every
 * absent qualified_name (class + "." + name: a class's qualified_name may
 * be megabytes long, and each method naming it repeats it), is_async,
 * parameters, kind, strength and so on.  It is one jsonb, whose containers
 * hold at most JENTRY_OFFLENMASK bytes (54000 beyond), as the document
 * given does.  So the reader keeps a bound on that answer: the size of the
 * document given plus each default filled in, and refuses the row whose
 * defaults take it over, before anything is written.
 *
 * A key and value added to an object costs at most two JEntries, the key,
 * the value, 3 bytes to align the value and 3 more to realign whatever
 * aligned value follows it (jsonb pads numerics and containers to 4 bytes).
 * Everything else comes back no larger: keys are sorted the same way, and
 * numbers come back in as few digits as they were given, or fewer.
 */
#define ADDED_PAIR_BYTES(key, value_bytes) \
	(2 * sizeof(JEntry) + (sizeof(key) - 1) + (value_bytes) + 6)
#define EMPTY_CONTAINER_BYTES sizeof(uint32)
#define NUMERIC_ONE_BYTES 8		/* varlena header, numeric header, a digit */

static void
count_output(Reader *r, int64 bytes)
{
	r->output_bytes += bytes;
	if (r->output_bytes > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s makes the document too large to give back",
						path_string(r)),
				 errdetail("With its defaults filled in, the document that astpg.document() gives back would exceed the %d bytes that jsonb allows.",
						   JENTRY_OFFLENMASK)));
}

/* The keys with a default that are given, null counting as absent. */
#define GIVEN_QUALIFIED_NAME	0x01
#define GIVEN_IS_FLAG			0x02	/* is_async, is_abstract */
#define GIVEN_PARAMETERS		0x04
#define GIVEN_DECORATORS		0x08
#define GIVEN_CALLS				0x10
#define GIVEN_BASES				0x20
#define GIVEN_KIND				0x40
#define GIVEN_STRENGTH			0x80
#define GIVEN_NAMES				0x100

/*
 * A function parameter: a string, or an object with a string "name" and
 * optional string "type" and "default".  Parameters are stored verbatim in
 * functions.parameters, so only their shape is checked here.
 */
static void
check_parameter(Reader *r, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	key,
				value;
	bool		has_name = false;

	if (v->type == jbvString)
		return;
	if (!is_container(v, false))
		type_error(r, "a string or an object", v);

	it = open_object(r, v);
	while (next_pair(&it, &key, &value))
	{
		bool		is_name = key_is(&key, "name");

		if (!is_name && !key_is(&key, "type") && !key_is(&key, "default"))
			continue;
		push_key(r, key.val.string.val, key.val.string.len);
		if (is_name || value.type != jbvNull)
			(void) read_string(r, &value, 0, -1);
		has_name |= is_name;
		pop(r);
	}
	if (!has_name)
		missing_key(r, "name");
}

static void
read_parameters(Reader *r, JsonbValue *v, AstpgFunction *fn)
{
	JsonbIterator *it;
	JsonbValue	elem;
	int			i = 0;

	fn->parameter_count = open_array(r, v, &it);
	while (next_element(&it, &elem))
	{
		push_index(r, i++);
		check_parameter(r, &elem);
		pop(r);
	}
	fn->parameters = copy_value(v);
}

static void
read_call(Reader *r, JsonbValue *v, AstpgCall *call)
{
	JsonbIterator *it = open_object(r, v);
	JsonbValue	key,
				value;
	JsonbParseState *attrs = NULL;

	while (next_pair(&it, &key, &value))
	{
		push_key(r, key.val.string.val, key.val.string.len);
		if (key_is(&key, "name"))
			call->callee = read_string(r, &value, 1, -1);
		else if (key_is(&key, "line"))
		{
			if (value.type != jbvNull)
				call->line = read_line(r, &value);
		}
		else
			keep_attr(&attrs, &key, &value);
		pop(r);
	}
	if (call->callee == NULL)
		missing_key(r, "name");
	call->attrs = finish_attrs(&attrs);
}

static void
read_calls(Reader *r, JsonbValue *v, int function_index)
{
	AstpgDocument *doc = r->doc;
	JsonbIterator *it;
	JsonbValue	elem;
	int			n = open_array(r, v, &it);
	int			i = 0;

	if (doc->ncalls + n > r->call_capacity)
	{
		int			capacity = Max(Max(r->call_capacity * 2, 64),
								   add_size(doc->ncalls, n));
		Size		size = mul_size(capacity, sizeof(AstpgCall));

		doc->calls = doc->calls == NULL ? palloc(size) :
			repalloc(doc->calls, size);
		r->call_capacity = capacity;
	}

	while (next_element(&it, &elem))
	{
		AstpgCall  *call = &doc->calls[doc->ncalls];

		memset(call, 0, sizeof(AstpgCall));
		push_index(r, i);
		call->function_index = function_index;
		call->call_no = i + 1;
		read_call(r, &elem, call);
		pop(r);
		doc->ncalls++;
		i++;
	}
}

/*
 * The keys that classes and functions share, all required: name,
 * line_start and line_end.  Returns false for any other key.  Lines are at
 * least 1, so 0 tells that one is still missing.
 */
static bool
read_span_key(Reader *r, JsonbValue *key, JsonbValue *value, text **name,
			  int32 *line_start, int32 *line_end)
{
	if (key_is(key, "name"))
		*name = read_string(r, value, 1, MAX_NAME_CHARS);
	else if (key_is(key, "line_start"))
		*line_start = read_line(r, value);
	else if (key_is(key, "line_end"))
		*line_end = read_line(r, value);
	else
		return false;
	return true;
}

static void
check_span(Reader *r, text *name, int32 line_start, int32 line_end)
{
	if (name == NULL)
		missing_key(r, "name");
	if (line_start == 0)
		missing_key(r, "line_start");
	if (line_end == 0)
		missing_key(r, "line_end");
	if (line_end < line_start)
	{
		push_key(r, "line_end", 8);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be less than line_start", path_string(r)),
				 errdetail("line_start is %d and line_end is %d.",
						   line_start, line_end)));
	}
}

static void
read_function(Reader *r, JsonbValue *v, int index)
{
	AstpgFunction *fn = &r->doc->functions[index];
	JsonbIterator *it = open_object(r, v);
	JsonbValue	key,
				value;
	JsonbParseState *attrs = NULL;
	int			given = 0;
	int64		filled_in = 0;

	fn->class_index = -1;
	while (next_pair(&it, &key, &value))
	{
		bool		present = value.type != jbvNull;

		push_key(r, key.val.string.val, key.val.string.len);
		if (read_span_key(r, &key, &value, &fn->name, &fn->line_start,
						  &fn->line_end))
			 /* done */ ;
		else if (!present)
			 /* optional, and null counts as absent */ ;
		else if (key_is(&key, "qualified_name"))
		{
			fn->qualified_name = read_string(r, &value, 1, -1);
			given |= GIVEN_QUALIFIED_NAME;
		}
		else if (key_is(&key, "class"))
			fn->class_name = read_string(r, &value, 1, -1);
		else if (key_is(&key, "signature"))
			fn->signature = read_string(r, &value, 0, -1);
		else if (key_is(&key, "parameters"))
		{
			read_parameters(r, &value, fn);
			given |= GIVEN_PARAMETERS;
		}
		else if (key_is(&key, "return_type"))
			fn->return_type = read_string(r, &value, 0, -1);
		else if (key_is(&key, "complexity"))
			fn->complexity = (int32) read_integer(r, &value, 1, PG_INT32_MAX);
		else if (key_is(&key, "is_async"))
		{
			fn->is_async = read_boolean(r, &value);
			given |= GIVEN_IS_FLAG;
		}
		else if (key_is(&key, "decorators"))
		{
			read_string_array(r, &value, &r->doc->decorators, index + 1);
			given |= GIVEN_DECORATORS;
		}
		else if (key_is(&key, "calls"))
		{
			read_calls(r, &value, index);
			given |= GIVEN_CALLS;
		}
		else
			keep_attr(&attrs, &key, &value);
		pop(r);
	}

	check_span(r, fn->name, fn->line_start, fn->line_end);
	if (fn->qualified_name == NULL)
		fn->qualified_name = fn->class_name == NULL ? fn->name :
			join_names(fn->class_name, fn->name);
	fn->attrs = finish_attrs(&attrs);

	if (!(given & GIVEN_QUALIFIED_NAME))
		filled_in += ADDED_PAIR_BYTES("qualified_name",
									  VARSIZE_ANY_EXHDR(fn->qualified_name));
	if (!(given & GIVEN_IS_FLAG))
		filled_in += ADDED_PAIR_BYTES("is_async", 0);
	if (!(given & GIVEN_PARAMETERS))
		filled_in += ADDED_PAIR_BYTES("parameters", EMPTY_CONTAINER_BYTES);
	if (!(given & GIVEN_DECORATORS))
		filled_in += ADDED_PAIR_BYTES("decorators", EMPTY_CONTAINER_BYTES);
	if (!(given & GIVEN_CALLS))
		filled_in += ADDED_PAIR_BYTES("calls", EMPTY_CONTAINER_BYTES);
	count_output(r, filled_in);
}

static void
read_class(Reader *r, JsonbValue *v, int index)
{
	AstpgClass *cls = &r->doc->classes[index];
	JsonbIterator *it = open_object(r, v);
	JsonbValue	key,
				value;
	JsonbParseState *attrs = NULL;
	int			given = 0;
	int64		filled_in = 0;

	cls->parent_index = -1;
	while (next_pair(&it, &key, &value))
	{
		bool		present = value.type != jbvNull;

		push_key(r, key.val.string.val, key.val.string.len);
		if (read_span_key(r, &key, &value, &cls->name, &cls->line_start,
						  &cls->line_end))
			 /* done */ ;
		else if (!present)
			 /* optional, and null counts as absent */ ;
		else if (key_is(&key, "qualified_name"))
		{
			cls->qualified_name = read_string(r, &value, 1, -1);
			given |= GIVEN_QUALIFIED_NAME;
		}
		else if (key_is(&key, "parent"))
			cls->parent = read_string(r, &value, 1, -1);
		else if (key_is(&key, "namespace"))
			cls->namespace = read_string(r, &value, 0, -1);
		else if (key_is(&key, "bases"))
		{
			read_string_array(r, &value, &r->doc->bases, index + 1);
			given |= GIVEN_BASES;
		}
		else if (key_is(&key, "is_abstract"))
		{
			cls->is_abstract = read_boolean(r, &value);
			given |= GIVEN_IS_FLAG;
		}
		else
			keep_attr(&attrs, &key, &value);
		pop(r);
	}

	check_span(r, cls->name, cls->line_start, cls->line_end);
	if (cls->qualified_name == NULL)
		cls->qualified_name = cls->parent == NULL ? cls->name :
			join_names(cls->parent, cls->name);
	cls->attrs = finish_attrs(&attrs);

	if (!(given & GIVEN_QUALIFIED_NAME))
		filled_in += ADDED_PAIR_BYTES("qualified_name",
									  VARSIZE_ANY_EXHDR(cls->qualified_name));
	if (!(given & GIVEN_IS_FLAG))
		filled_in += ADDED_PAIR_BYTES("is_abstract", 0);
	if (!(given & GIVEN_BASES))
		filled_in += ADDED_PAIR_BYTES("bases", EMPTY_CONTAINER_BYTES);
	count_output(r, filled_in);
}

static void
read_dependency(Reader *r, JsonbValue *v, int index)
{
	AstpgDependency *dep = &r->doc->dependencies[index];
	JsonbIterator *it = open_object(r, v);
	JsonbValue	key,
				value;
	JsonbParseState *attrs = NULL;
	int			given = 0;
	int64		filled_in = 0;

	dep->strength = 1.0;
	while (next_pair(&it, &key, &value))
	{
		bool		present = value.type != jbvNull;

		push_key(r, key.val.string.val, key.val.string.len);
		if (key_is(&key, "target"))
			dep->target = read_string(r, &value, 1, -1);
		else if (!present)
			 /* optional, and null counts as absent */ ;
		else if (key_is(&key, "kind"))
		{
			dep->kind = read_string(r, &value, 1, -1);
			given |= GIVEN_KIND;
		}
		else if (key_is(&key, "line"))
			dep->line = read_line(r, &value);
		else if (key_is(&key, "strength"))
		{
			dep->strength = read_number(r, &value, 0.0, 1.0);
			given |= GIVEN_STRENGTH;
		}
		else if (key_is(&key, "names"))
		{
			read_string_array(r, &value, &r->doc->names, index + 1);
			given |= GIVEN_NAMES;
		}
		else
			keep_attr(&attrs, &key, &value);
		pop(r);
	}
	if (dep->target == NULL)
		missing_key(r, "target");
	dep->attrs = finish_attrs(&attrs);

	if (!(given & GIVEN_KIND))
		filled_in += ADDED_PAIR_BYTES("kind", sizeof("import") - 1);
	if (!(given & GIVEN_STRENGTH))
		filled_in += ADDED_PAIR_BYTES("strength", NUMERIC_ONE_BYTES);
	if (!(given & GIVEN_NAMES))
		filled_in += ADDED_PAIR_BYTES("names", EMPTY_CONTAINER_BYTES);
	count_output(r, filled_in);
}

static void
read_metrics(Reader *r, JsonbValue *v)
{
	AstpgDocument *doc = r->doc;
	JsonbIterator *it = open_object(r, v);
	JsonbValue	key,
				value;

	doc->metrics = palloc(mul_size(sizeof(AstpgMetric),
								   Max(JsonContainerSize(v->val.binary.data), 1)));
	while (next_pair(&it, &key, &value))
	{
		AstpgMetric *metric;

		if (value.type == jbvNull)
			continue;
		metric = &doc->metrics[doc->nmetrics++];
		push_key(r, key.val.string.val, key.val.string.len);
		metric->name = cstring_to_text_with_len(key.val.string.val,
												key.val.string.len);
		metric->value = read_number(r, &value, -DBL_MAX, DBL_MAX);
		pop(r);
	}
}

/* Read an array of objects with one reader per element. */
static int
read_rows(Reader *r, JsonbValue *v, Size row_size, void **rows,
		  void (*read_row) (Reader *, JsonbValue *, int))
{
	JsonbIterator *it;
	JsonbValue	elem;
	int			n = open_array(r, v, &it);
	int			i = 0;

	*rows = palloc0(mul_size(Max(n, 1), row_size));
	while (next_element(&it, &elem))
	{
		push_index(r, i);
		read_row(r, &elem, i);
		pop(r);
		i++;
	}
	return n;
}

static bool
valid_language(text *language)
{
	const char *p = VARDATA_ANY(language);
	int			len = VARSIZE_ANY_EXHDR(language);

	if (len < 1 || len > MAX_LANGUAGE_CHARS)
		return false;
	for (int i = 0; i < len; i++)
	{
		char		c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  strchr("_+#.-", c) != NULL))
			return false;
	}
	return true;
}

static void
read_top_level_key(Reader *r, JsonbValue *key, JsonbValue *value,
				   JsonbParseState **attrs)
{
	AstpgDocument *doc = r->doc;

	if (key_is(key, "path"))
		doc->path = read_string(r, value, 1, MAX_PATH_CHARS);
	else if (key_is(key, "language"))
	{
		doc->language = read_string(r, value, 0, -1);
		if (!valid_language(doc->language))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be 1 to 50 characters of a-z, 0-9, _, +, #, . and -",
							path_string(r))));
	}
	else if (value->type == jbvNull)
		 /* optional, and null counts as absent */ ;
	else if (key_is(key, "astpg"))
	{
		if (read_integer(r, value, PG_INT64_MIN, PG_INT64_MAX) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be 1", path_string(r)),
					 errdetail("This version of astpg reads format 1 only.")));
	}
	else if (key_is(key, "repository"))
		doc->repository = read_string(r, value, 0, -1);
	else if (key_is(key, "module"))
		doc->module = read_string(r, value, 1, -1);
	else if (key_is(key, "revision"))
		doc->revision = read_string(r, value, 0, -1);
	else if (key_is(key, "size_bytes"))
	{
		doc->size_bytes = read_integer(r, value, 0, PG_INT64_MAX);
		doc->has_size_bytes = true;
	}
	else if (key_is(key, "content_hash"))
		doc->content_hash = read_string(r, value, 0, -1);
	else if (key_is(key, "functions"))
		doc->nfunctions = read_rows(r, value, sizeof(AstpgFunction),
									(void **) &doc->functions, read_function);
	else if (key_is(key, "classes"))
		doc->nclasses = read_rows(r, value, sizeof(AstpgClass),
								  (void **) &doc->classes, read_class);
	else if (key_is(key, "dependencies"))
		doc->ndependencies = read_rows(r, value, sizeof(AstpgDependency),
									   (void **) &doc->dependencies,
									   read_dependency);
	else if (key_is(key, "metrics"))
		read_metrics(r, value);
	else if (key_is(key, "ast"))
		doc->ast = copy_value(value);
	else
		keep_attr(attrs, key, value);
}

/*
 * AstpgReadDocument
 *		Validate a document and read it into memory.
 *
 * root names the document in error messages: "document" for a single
 * ingest, "documents[17]" for a batch.  Raises an ERROR (SQLSTATE 22023,
 * or 54000 for the size of astpg.document()'s answer) for the first rule
 * the document breaks.
 */
AstpgDocument *
AstpgReadDocument(Jsonb *jb, const char *root)
{
	Reader		r = {0};
	AstpgDocument *doc = palloc0(sizeof(AstpgDocument));
	JsonbValue	whole,
				key,
				value;
	JsonbIterator *it;
	JsonbParseState *attrs = NULL;

	r.root = root;
	r.doc = doc;

	/*
	 * The answer of astpg.document() starts as the document given, plus the
	 * top-level keys it always has (astpg, repository, the arrays and
	 * metrics), counted as if all were absent; rows add their defaults.
	 */
	r.output_bytes = VARSIZE_ANY(jb) +
		ADDED_PAIR_BYTES("astpg", NUMERIC_ONE_BYTES) +
		ADDED_PAIR_BYTES("repository", 0) +
		ADDED_PAIR_BYTES("classes", EMPTY_CONTAINER_BYTES) +
		ADDED_PAIR_BYTES("functions", EMPTY_CONTAINER_BYTES) +
		ADDED_PAIR_BYTES("dependencies", EMPTY_CONTAINER_BYTES) +
		ADDED_PAIR_BYTES("metrics", EMPTY_CONTAINER_BYTES);

	if (JB_ROOT_IS_SCALAR(jb))
	{
		(void) JsonbExtractScalar(&jb->root, &whole);
		type_error(&r, "an object", &whole);
	}
	whole.type = jbvBinary;
	whole.val.binary.data = &jb->root;
	whole.val.binary.len = VARSIZE(jb) - VARHDRSZ;

	it = open_object(&r, &whole);
	while (next_pair(&it, &key, &value))
	{
		push_key(&r, key.val.string.val, key.val.string.len);
		read_top_level_key(&r, &key, &value, &attrs);
		pop(&r);
	}

	if (doc->path == NULL)
		missing_key(&r, "path");
	if (doc->language == NULL)
		missing_key(&r, "language");
	if (doc->repository == NULL)
		doc->repository = cstring_to_text("");
	doc->attrs = finish_attrs(&attrs);

	/* classes and functions may come in any order: link them at the end */
	AstpgLinkClasses(doc, root);
	return doc;
}
