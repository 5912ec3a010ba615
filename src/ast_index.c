/*-------------------------------------------------------------------------
 *
 * ast_index.c
 *	  The GIN keys of a files row's ast, as jsonb_path_ops makes them, but
 *	  in a way that a cancel can stop.
 *
 * files_ast_idx serves ast @> '{...}' (and @?, @@).  PostgreSQL's
 * jsonb_path_ops extracts a key per JSON value of the document, and then
 * GIN sorts them all, without checking for interrupts in either: for a
 * 100 MB ast that took over a second, in which a cancel or a
 * statement_timeout waited.  This extractValue function makes
 * the very same keys, so that jsonb_path_ops' own query, consistent and
 * triconsistent functions serve the operator class, and returns them
 * sorted (in GIN's order: btint4cmp) and without duplicates, so that GIN's
 * sort finds them sorted at once; both the walk and the sort check for
 * interrupts.
 *
 * The key of a value is a hash of the keys of the objects that lead to it
 * and of the value itself (JsonbHashScalarValue), array elements adding
 * nothing of their own: {"a": {"b": 1}} gives one key, hash(a, b, 1).
 *
 * IDENTIFICATION
 *	  src/ast_index.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/jsonb.h"

/* tokens (or keys) between two checks for interrupts */
#define INTERRUPT_EVERY 4096

/* A growable array of keys. */
typedef struct Keys
{
	uint32	   *values;
	Size		count;
	Size		size;
} Keys;

static void
add_key(Keys *keys, uint32 key)
{
	if (keys->count == keys->size)
	{
		keys->size *= 2;
		keys->values = repalloc_huge(keys->values, keys->size * sizeof(uint32));
	}
	keys->values[keys->count++] = key;
}

/*
 * Sort keys in the order of btint4cmp (signed), by a radix sort of four
 * passes over bytes that checks for interrupts as it goes; then drop
 * duplicates.
 */
static void
sort_unique(Keys *keys)
{
	uint32	   *from = keys->values;
	uint32	   *to = palloc_extended(Max(keys->count, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	Size		n = keys->count;
	Size		unique = 0;

	for (int shift = 0; shift < 32; shift += 8)
	{
		Size		start[257] = {0};
		uint32	   *swap;

		for (Size i = 0; i < n; i++)
		{
			/* the sign bit flipped: signed order as unsigned */
			start[(((from[i] ^ 0x80000000) >> shift) & 0xFF) + 1]++;
			if (i % (INTERRUPT_EVERY * 16) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		for (int b = 0; b < 256; b++)
			start[b + 1] += start[b];
		for (Size i = 0; i < n; i++)
		{
			to[start[((from[i] ^ 0x80000000) >> shift) & 0xFF]++] = from[i];
			if (i % (INTERRUPT_EVERY * 16) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		swap = from;
		from = to;
		to = swap;
	}
	/* after an even number of passes the keys are back in keys->values */
	for (Size i = 0; i < n; i++)
		if (unique == 0 || from[i] != from[unique - 1])
			from[unique++] = from[i];
	pfree(to);
	keys->count = unique;
}

/*
 * astpg.gin_extract_ast(jsonb, internal, internal) RETURNS internal
 *
 * GIN's extractValue for astpg.ast_path_ops: jsonb_path_ops' keys.
 */
PG_FUNCTION_INFO_V1(astpg_gin_extract_ast);

Datum
astpg_gin_extract_ast(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	int32	   *nentries = (int32 *) PG_GETARG_POINTER(1);
	Keys		keys;
	uint32	   *hashes;			/* per level: the keys that lead there */
	int			depth = 0;
	int			levels = 32;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	Datum	   *entries;
	Size		tokens = 0;

	if (JB_ROOT_COUNT(jb) == 0)
	{
		*nentries = 0;
		PG_RETURN_POINTER(NULL);
	}

	keys.size = Max(2 * JB_ROOT_COUNT(jb), 16);
	keys.count = 0;
	keys.values = palloc_extended(keys.size * sizeof(uint32), MCXT_ALLOC_HUGE);
	hashes = palloc(levels * sizeof(uint32));
	hashes[0] = 0;

	it = JsonbIteratorInit(&jb->root);
	while ((r = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (++tokens % INTERRUPT_EVERY == 0)
			CHECK_FOR_INTERRUPTS();
		switch (r)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				/* a level that starts from its parent's keys */
				if (depth + 2 >= levels)
				{
					levels *= 2;
					hashes = repalloc(hashes, levels * sizeof(uint32));
				}
				depth++;
				hashes[depth] = hashes[depth - 1];
				break;
			case WJB_KEY:
				JsonbHashScalarValue(&v, &hashes[depth]);
				break;
			case WJB_ELEM:
			case WJB_VALUE:
				JsonbHashScalarValue(&v, &hashes[depth]);
				add_key(&keys, hashes[depth]);
				hashes[depth] = hashes[depth - 1];
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				depth--;
				/* the level goes back to its parent's keys (none at the top) */
				hashes[depth] = depth > 0 ? hashes[depth - 1] : 0;
				break;
			default:
				elog(ERROR, "invalid JsonbIteratorNext rc: %d", (int) r);
		}
	}

	sort_unique(&keys);
	if (keys.count > PG_INT32_MAX / sizeof(Datum))
		elog(ERROR, "too many GIN keys in an ast: %zu", keys.count);
	entries = palloc_extended(Max(keys.count, 1) * sizeof(Datum), MCXT_ALLOC_HUGE);
	for (Size i = 0; i < keys.count; i++)
		entries[i] = UInt32GetDatum(keys.values[i]);
	*nentries = (int32) keys.count;
	PG_RETURN_POINTER(entries);
}
