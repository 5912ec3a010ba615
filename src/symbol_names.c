/*-------------------------------------------------------------------------
 *
 * symbol_names.c
 *	  Keep astpg.symbol_names, the names find_symbol searches by prefix and
 *	  by similarity, as a batch is written: so that a function is found by
 *	  its name in the transaction that stored it, not after a refresh.
 *
 * Per repository of a batch, the names of its changed documents (each
 * function's and class's name and qualified name, each file's path and
 * module) are gathered, sorted and made distinct here; those the table
 * holds already are looked up in one statement, and the others inserted in
 * one more.  Rows are never removed here: a name whose rows are gone is
 * passed over by find_symbol and pruned by maintain().
 *
 * There is no unique key: two writers that store the same new name at
 * once both insert it, rather than one waiting for the other's commit
 * (which a unique key's speculative insertion would do, making parallel
 * loaders of one repository take turns).  find_symbol and maintain() take
 * the copies as one.
 *
 * Memory contract: everything is allocated in CurrentMemoryContext, the
 * batch's; SPI is connected.
 *
 * IDENTIFICATION
 *	  src/symbol_names.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"

/* The kinds of astpg.symbol_names, and the longest name it keeps. */
#define NAME_FUNCTION 1
#define NAME_QUALIFIED_FUNCTION 2
#define NAME_CLASS 3
#define NAME_QUALIFIED_CLASS 4
#define NAME_PATH 5
#define NAME_MODULE 6
#define MAX_NAME_CHARS 256

typedef struct SymbolName
{
	text	   *name;
	text	   *member;			/* "" but for a qualified function's name */
	int16		kind;
	bool		stored;			/* the table has it already */
} SymbolName;

typedef struct SymbolNameList
{
	SymbolName	   *names;
	int			count;
	int			capacity;
} SymbolNameList;

static text *empty_text = NULL;

/* Does the text have at most MAX_NAME_CHARS characters? */
static bool
short_enough(text *t)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	/* bytes bound characters: most names are decided without counting */
	if (len <= MAX_NAME_CHARS)
		return true;
	return pg_mbstrlen_with_len(VARDATA_ANY(t), len) <= MAX_NAME_CHARS;
}

static void
add_name(SymbolNameList *list, text *name, int16 kind, text *member)
{
	SymbolName	   *n;

	if (name == NULL || !short_enough(name) ||
		(member != NULL && !short_enough(member)))
		return;
	if (list->count == list->capacity)
	{
		list->capacity = Max(64, list->capacity * 2);
		list->names = list->names == NULL ?
			palloc(mul_size(sizeof(SymbolName), list->capacity)) :
			repalloc(list->names, mul_size(sizeof(SymbolName), list->capacity));
	}
	n = &list->names[list->count++];
	n->name = name;
	n->kind = kind;
	n->member = member != NULL ? member : empty_text;
	n->stored = false;
}

static int
compare_names(const void *a, const void *b)
{
	const SymbolName *x = (const SymbolName *) a;
	const SymbolName *y = (const SymbolName *) b;
	int			c = AstpgCompareBytes(x->name, y->name);

	if (c != 0)
		return c;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return AstpgCompareBytes(x->member, y->member);
}

/* The name, kind and member of n among the sorted, distinct names, or NULL. */
static SymbolName *
find_name(SymbolNameList *list, text *name, int16 kind, text *member)
{
	SymbolName		key = {name, member, kind, false};

	return bsearch(&key, list->names, list->count, sizeof(SymbolName), compare_names);
}

/* Gather the names of the documents, sorted and distinct. */
static void
gather(SymbolNameList *list, AstpgDocument **docs, int n)
{
	int			kept = 0;

	for (int i = 0; i < n; i++)
	{
		AstpgDocument *doc = docs[i];

		CHECK_FOR_INTERRUPTS();
		add_name(list, doc->path, NAME_PATH, NULL);
		add_name(list, doc->module, NAME_MODULE, NULL);
		for (int j = 0; j < doc->nclasses; j++)
		{
			AstpgClass *cls = &doc->classes[j];

			add_name(list, cls->name, NAME_CLASS, NULL);
			if (!AstpgTextsEqual(cls->qualified_name, cls->name))
				add_name(list, cls->qualified_name, NAME_QUALIFIED_CLASS, NULL);
		}
		for (int j = 0; j < doc->nfunctions; j++)
		{
			AstpgFunction *fn = &doc->functions[j];

			CHECK_FOR_INTERRUPTS();
			add_name(list, fn->name, NAME_FUNCTION, NULL);
			if (!AstpgTextsEqual(fn->qualified_name, fn->name))
				add_name(list, fn->qualified_name, NAME_QUALIFIED_FUNCTION, fn->name);
		}
	}
	if (list->count == 0)
		return;
	qsort(list->names, list->count, sizeof(SymbolName), compare_names);
	for (int i = 0; i < list->count; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (kept > 0 && compare_names(&list->names[kept - 1], &list->names[i]) == 0)
			continue;
		list->names[kept++] = list->names[i];
	}
	list->count = kept;
}

/*
 * Mark the names the table holds already for the repository: one lookup of
 * every distinct name of the batch.
 */
static void
mark_stored(SymbolNameList *list, int64 repo_id)
{
	Datum	   *names = palloc(mul_size(sizeof(Datum), list->count));
	int			nnames = 0;
	Datum		args[2];
	int			rows;

	for (int i = 0; i < list->count; i++)
		if (i == 0 || AstpgCompareBytes(list->names[i - 1].name, list->names[i].name) != 0)
			names[nnames++] = PointerGetDatum(list->names[i].name);
	args[0] = Int64GetDatum(repo_id);
	args[1] = AstpgBuildArray(names, NULL, nnames, TEXTOID);
	rows = AstpgExecute(ASTPG_Q_STORED_NAMES, args, NULL, SPI_OK_SELECT);
	for (int r = 0; r < rows; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		bool		isnull;
		SymbolName	   *found;

		CHECK_FOR_INTERRUPTS();
		found = find_name(list,
						  DatumGetTextPP(SPI_getbinval(tuple, tupdesc, 1, &isnull)),
						  DatumGetInt16(SPI_getbinval(tuple, tupdesc, 2, &isnull)),
						  DatumGetTextPP(SPI_getbinval(tuple, tupdesc, 3, &isnull)));
		if (found != NULL)
			found->stored = true;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * AstpgStoreSymbolNames
 *		Add to astpg.symbol_names the names of the n documents of one
 *		repository (repo_id) that the table does not hold yet.
 */
void
AstpgStoreSymbolNames(AstpgDocument **docs, int n, int64 repo_id)
{
	SymbolNameList	list = {0};
	Datum	   *names;
	Datum	   *kinds;
	Datum	   *members;
	int			count = 0;
	Datum		args[4];

	if (empty_text == NULL)
		empty_text = (text *) MemoryContextAllocZero(TopMemoryContext, VARHDRSZ);
	SET_VARSIZE(empty_text, VARHDRSZ);
	gather(&list, docs, n);
	if (list.count == 0)
		return;
	mark_stored(&list, repo_id);

	names = palloc(mul_size(sizeof(Datum), list.count));
	kinds = palloc(mul_size(sizeof(Datum), list.count));
	members = palloc(mul_size(sizeof(Datum), list.count));
	for (int i = 0; i < list.count; i++)
	{
		if (list.names[i].stored)
			continue;
		names[count] = PointerGetDatum(list.names[i].name);
		kinds[count] = Int16GetDatum(list.names[i].kind);
		members[count] = PointerGetDatum(list.names[i].member);
		count++;
	}
	if (count == 0)
		return;
	args[0] = Int64GetDatum(repo_id);
	args[1] = AstpgBuildArray(names, NULL, count, TEXTOID);
	args[2] = AstpgBuildArray(kinds, NULL, count, INT2OID);
	args[3] = AstpgBuildArray(members, NULL, count, TEXTOID);
	AstpgExecute(ASTPG_Q_INSERT_NAMES, args, NULL, SPI_OK_INSERT);
}
