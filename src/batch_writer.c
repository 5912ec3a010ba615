/*-------------------------------------------------------------------------
 *
 * batch_writer.c
 *	  Write a batch of validated documents with a statement per table, not
 *	  a statement per document.
 *
 * The documents are taken a repository at a time (so that on Citus each
 * statement goes to the repository's one shard), and within it:
 *
 *	1. their files are inserted, and those that are stored already (ON
 *	   CONFLICT DO NOTHING) are locked, both in the order of their paths
 *	   (bytes, as COLLATE "C").  Each document is now unchanged (its content_hash is the stored
 *	   one), replaced or inserted.  Inserting first spares a new path the
 *	   lookup of its key, whose predicate lock (at SERIALIZABLE, on the
 *	   index page) would conflict with other sessions inserting other paths
 *	   into that page;
 *	2. the replaced files' rows are updated;
 *	3. every dependency target the batch needs is resolved, by
 *	   @extschema@.dependency_targets(), the one place of that rule, which
 *	   locks the target files FOR KEY SHARE;
 *	4. the replaced files' rows below them are deleted, and the rows of
 *	   every changed document inserted, a table at a time, and their new
 *	   names added to astpg.symbol_names (symbol_names.c);
 *	5. stored dependencies that the batch's files now resolve (or no
 *	   longer resolve, where a file's module changed) are set right;
 *	6. the audit log and the metric history get a row per document, in
 *	   the order the batch gave them.
 *
 * Step 3 comes before any dependency row is touched: a concurrent
 * delete_file() of a target locks it first and then clears the rows that
 * point at it, so a writer that waited for it after deleting such a row
 * could close a cycle.  After step 3 a writer never waits for a file's
 * lock, and the rows of step 5 are locked SKIP LOCKED.
 *
 * Transaction contract: everything happens in the caller's transaction and
 * nothing here commits.  A failure fails the whole batch; the batch then
 * writes the documents one at a time to find out which one failed
 * (batch.c).  Every
 * document of a batch must have a different (repository, path).
 *
 * Memory contract: everything is allocated in CurrentMemoryContext, the
 * batch's; SPI must be connected.
 *
 * IDENTIFICATION
 *	  src/batch_writer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "columns.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

/* One document of the batch, and what the writer learns of its file. */
typedef struct Entry
{
	AstpgDocument *doc;
	AstpgIngestResult *result;
	TimestampTz started;
	int			index;			/* its place in the batch */
	int64		repo_id;
	bytea	   *key;			/* file_key(repository, path) */
	int64		file_id;
	bool		stored;			/* its file row is locked or inserted */
	bool		found;			/* ... and was stored before */
	bool		unchanged;
	bool		module_changed;
	text	   *old_module;		/* the stored module, when replaced */
} Entry;

/* A target and the file it resolves to (file_id 0: none). */
typedef struct Target
{
	char	   *name;
	int64		file_id;
} Target;

/*
 * A path deleted by other sessions between our insert and our lock is
 * stored again; this many times at most.
 */
#define MAX_STORE_ATTEMPTS 100

/*
 * On Citus: plan this transaction's statements on the workers with
 * enable_seqscan off, as astpg's functions plan their own on one server.
 *
 * Shards that were analyzed while empty (after a TRUNCATE, say) make a
 * worker plan a scan of a whole shard for every lookup, the foreign-key
 * checks it keeps for its session included: a load of 300 files took 15 s
 * instead of 2 s.  The writing functions set enable_seqscan = off for
 * themselves, but Citus carries a setting to the workers only as SET LOCAL
 * with citus.propagate_set_commands = local; so both are set here, before
 * each repository's first statement.  They stay in force on the workers
 * until the transaction ends.
 */
static void
routed_settings(void)
{
	static const char *const settings[] = {
		"SET LOCAL citus.propagate_set_commands = 'local'",
		"SET LOCAL enable_seqscan = off"
	};

	for (int i = 0; i < lengthof(settings); i++)
		if (SPI_execute(settings[i], false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "astpg could not run \"%s\"", settings[i]);
}

static Jsonb *
jsonb_of(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

/* Repositories by name, in byte order (as COLLATE "C"). */
static int
compare_repositories(const Entry *x, const Entry *y)
{
	return AstpgCompareBytes(x->doc->repository, y->doc->repository);
}

/*
 * Entries by repository, then by path in byte order: the order files are
 * locked in, one a client can take too (sorting its paths), so that its
 * own transactions and astpg's batches lock files alike.
 */
static int
compare_entries(const void *a, const void *b)
{
	const Entry *x = *(Entry *const *) a;
	const Entry *y = *(Entry *const *) b;
	int			c = compare_repositories(x, y);

	return c != 0 ? c : AstpgCompareBytes(x->doc->path, y->doc->path);
}

static int
compare_entry_keys(const void *a, const void *b)
{
	return AstpgCompareBytes((*(Entry *const *) a)->key, (*(Entry *const *) b)->key);
}

/* Entries in the order the batch gave them, as the audit log keeps them. */
static int
compare_indexes(const void *a, const void *b)
{
	return (*(Entry *const *) a)->index - (*(Entry *const *) b)->index;
}

/* The entry among n (sorted by file key) whose file key is key, or NULL. */
static Entry *
entry_of_key(Entry **entries, int n, bytea *key)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = AstpgCompareBytes(entries[mid]->key, key);

		if (c == 0)
			return entries[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* A copy of a text column of an SPI result, or NULL. */
static text *
text_column(HeapTuple tuple, TupleDesc tupdesc, int column)
{
	bool		isnull;
	Datum		value = SPI_getbinval(tuple, tupdesc, column, &isnull);

	return isnull ? NULL : DatumGetTextPCopy(value);
}

/*
 * The strings of a flat (owner, value) list grouped per row, each row's as
 * the text of a text[] value ("{a,b}") in rows[0..nrows), for
 * @extschema@.text_arrays().
 */
static void
group_strings(const AstpgStringList *list, int nrows, Datum *rows)
{
	int		   *counts = palloc0(mul_size(sizeof(int), Max(nrows, 1)));
	int		   *starts = palloc0(mul_size(sizeof(int), Max(nrows, 1)));
	Datum	   *sorted = palloc(mul_size(sizeof(Datum), Max(list->count, 1)));
	Datum		empty = (Datum) 0;
	int			next = 0;

	for (int i = 0; i < list->count; i++)
		counts[DatumGetInt64(list->owner[i]) - 1]++;
	for (int r = 0; r < nrows; r++)
	{
		starts[r] = next;
		next += counts[r];
		counts[r] = 0;
	}
	for (int i = 0; i < list->count; i++)
	{
		int			r = DatumGetInt64(list->owner[i]) - 1;

		CHECK_FOR_INTERRUPTS();
		sorted[starts[r] + counts[r]++] = list->value[i];
	}
	for (int r = 0; r < nrows; r++)
	{
		Datum		array;

		CHECK_FOR_INTERRUPTS();
		/* most rows have none: no array to build and print for them */
		if (counts[r] == 0)
		{
			if (empty == (Datum) 0)
				empty = CStringGetTextDatum("{}");
			rows[r] = empty;
			continue;
		}
		array = AstpgBuildArray(&sorted[starts[r]], NULL, counts[r], TEXTOID);
		rows[r] = CStringGetTextDatum(OidOutputFunctionCall(F_ARRAY_OUT, array));
	}
}

/* The values of an int8[] result column, n of them. */
static int64 *
int8_array_values(Datum array, int n)
{
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	int64	   *values = palloc(mul_size(sizeof(int64), Max(n, 1)));

	deconstruct_array(DatumGetArrayTypeP(array), INT8OID, 8, FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &count);
	if (count != n)
		elog(ERROR, "astpg expected %d new ids, got %d", n, count);
	for (int i = 0; i < n; i++)
		values[i] = DatumGetInt64(elems[i]);
	return values;
}

/* Take nclasses class ids and nfunctions function ids from their sequences. */
static void
new_ids(int nclasses, int nfunctions, int64 **class_ids,
			int64 **function_ids)
{
	Datum		args[2];
	bool		isnull;

	args[0] = Int32GetDatum(nclasses);
	args[1] = Int32GetDatum(nfunctions);
	AstpgExecute(ASTPG_Q_NEW_IDS, args, NULL, SPI_OK_SELECT);
	*class_ids = int8_array_values(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1,
												 &isnull), nclasses);
	*function_ids = int8_array_values(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 2,
													&isnull), nfunctions);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The keys of a value within a repository, as the indexes on paths and
 * modules (file_hash) and on unresolved targets (dependency_hash) hold
 * them (queries.c, FILE_HASH and DEPENDENCY_HASH): 32 bits of a hash of
 * the repository, then 32 bits of hashtextextended() of the value.
 */
static uint64
hash_text(text *value, int64 seed)
{
	return DatumGetUInt64(DirectFunctionCall2Coll(hashtextextended,
												  DEFAULT_COLLATION_OID,
												  PointerGetDatum(value),
												  Int64GetDatum(seed)));
}

static int64
file_hash(text *repository, text *value)
{
	return (int64) ((hash_text(repository, 0) & UINT64CONST(0xFFFFFFFF00000000)) |
					(hash_text(value, 0) & UINT64CONST(0xFFFFFFFF)));
}

static int64
dependency_hash(int64 repo_id, text *target)
{
	return (int64) (((uint64) repo_id & UINT64CONST(0xFFFFFFFF00000000)) |
					(hash_text(target, repo_id) & UINT64CONST(0xFFFFFFFF)));
}

/* Step 1b: lock the stored files of the entries not inserted. */
static void
lock_stored_files(Entry **entries, int n, int64 repo_id)
{
	Datum	   *keys = palloc(mul_size(sizeof(Datum), n));
	Datum	   *hashes = palloc(mul_size(sizeof(Datum), n));
	int			nkeys = 0;
	Datum		args[3];
	int			rows;

	for (int i = 0; i < n; i++)
		if (!entries[i]->stored)
		{
			hashes[nkeys] = Int64GetDatum(file_hash(entries[i]->doc->repository,
													entries[i]->doc->path));
			keys[nkeys++] = PointerGetDatum(entries[i]->key);
		}
	if (nkeys == 0)
		return;
	args[0] = AstpgBuildArray(keys, NULL, nkeys, BYTEAOID);
	args[1] = Int64GetDatum(repo_id);
	args[2] = AstpgBuildArray(hashes, NULL, nkeys, INT8OID);
	rows = AstpgExecute(AstpgTablesDistributed() ?
						ASTPG_Q_LOCK_FILES_DISTRIBUTED : ASTPG_Q_LOCK_FILES,
						args, NULL, SPI_OK_SELECT);
	for (int r = 0; r < rows; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		bool		isnull;
		Entry	   *e;
		text	   *stored_hash;

		CHECK_FOR_INTERRUPTS();
		e = entry_of_key(entries, n,
						 DatumGetByteaPP(SPI_getbinval(tuple, tupdesc, 2, &isnull)));
		/* a path that shares its key within the repository with one of the batch's */
		if (e == NULL && !AstpgTablesDistributed())
			continue;
		if (e == NULL)
			elog(ERROR, "astpg locked a file that its batch does not hold");
		if (!AstpgTextsEqual(e->doc->repository,
						 DatumGetTextPP(SPI_getbinval(tuple, tupdesc, 3, &isnull))) ||
			!AstpgTextsEqual(e->doc->path,
						 DatumGetTextPP(SPI_getbinval(tuple, tupdesc, 4, &isnull))))
			elog(ERROR, "astpg.file_key collision for path \"%s\"",
				 text_to_cstring(e->doc->path));
		e->file_id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull));
		e->stored = e->found = true;
		stored_hash = text_column(tuple, tupdesc, 5);
		/* no hash on either side means changed */
		e->unchanged = stored_hash != NULL && e->doc->content_hash != NULL &&
			AstpgTextsEqual(stored_hash, e->doc->content_hash);
		e->old_module = text_column(tuple, tupdesc, 6);
		e->module_changed = !AstpgTextsEqual(e->old_module, e->doc->module);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Step 1a: insert the files of the entries not stored yet.  Those stored
 * already, or by a concurrent session meanwhile (ON CONFLICT DO NOTHING
 * waits for it to commit), are not inserted, and stay not stored.
 */
static void
insert_new_files(Entry **entries, Entry **by_key, int n, int64 repo_id,
				 text *repository, Jsonb *empty)
{
	Column		path = new_column(n),
				module = new_column(n),
				language = new_column(n),
				revision = new_column(n),
				size_bytes = new_column(n),
				content_hash = new_column(n),
				ast = new_column(n),
				attrs = new_column(n);
	Datum		args[10];
	int			count = 0;
	int			rows;

	for (int i = 0; i < n; i++)
	{
		AstpgDocument *doc = entries[i]->doc;

		CHECK_FOR_INTERRUPTS();
		if (entries[i]->stored)
			continue;
		set_pointer(&path, count, doc->path);
		set_pointer(&module, count, doc->module);
		set_pointer(&language, count, doc->language);
		set_pointer(&revision, count, doc->revision);
		size_bytes.values[count] = Int64GetDatum(doc->size_bytes);
		size_bytes.nulls[count] = !doc->has_size_bytes;
		set_pointer(&content_hash, count, doc->content_hash);
		set_pointer(&ast, count, doc->ast);
		set_jsonb_or(&attrs, count, doc->attrs, empty);
		count++;
	}
	if (count == 0)
		return;
	args[0] = Int64GetDatum(repo_id);
	args[1] = PointerGetDatum(repository);
	args[2] = column_array(&path, count, TEXTOID);
	args[3] = column_array(&module, count, TEXTOID);
	args[4] = column_array(&language, count, TEXTOID);
	args[5] = column_array(&revision, count, TEXTOID);
	args[6] = column_array(&size_bytes, count, INT8OID);
	args[7] = column_array(&content_hash, count, TEXTOID);
	args[8] = column_array(&ast, count, JSONBOID);
	args[9] = column_array(&attrs, count, JSONBOID);
	rows = AstpgExecute(ASTPG_Q_INSERT_FILES, args, NULL,
						SPI_OK_INSERT_RETURNING);
	for (int r = 0; r < rows; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		bool		isnull;
		Entry	   *e;

		e = entry_of_key(by_key, n,
						 DatumGetByteaPP(SPI_getbinval(tuple, SPI_tuptable->tupdesc,
													   2, &isnull)));
		if (e == NULL || e->stored)
			elog(ERROR, "astpg inserted a file that its batch does not hold");
		e->file_id = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc,
												 1, &isnull));
		e->stored = true;
		e->found = false;
	}
	SPI_freetuptable(SPI_tuptable);
}

/* Step 2: the replaced files' own rows. */
static void
update_replaced_files(Entry **changed, int n, int64 repo_id, Jsonb *empty)
{
	for (int i = 0; i < n; i++)
	{
		AstpgDocument *doc = changed[i]->doc;
		Datum		args[9];
		char		nulls[10] = "         ";

		CHECK_FOR_INTERRUPTS();
		if (!changed[i]->found)
			continue;
		args[0] = Int64GetDatum(changed[i]->file_id);
		args[1] = PointerGetDatum(doc->module);
		nulls[1] = doc->module == NULL ? 'n' : ' ';
		args[2] = PointerGetDatum(doc->language);
		args[3] = PointerGetDatum(doc->revision);
		nulls[3] = doc->revision == NULL ? 'n' : ' ';
		args[4] = Int64GetDatum(doc->size_bytes);
		nulls[4] = doc->has_size_bytes ? ' ' : 'n';
		args[5] = PointerGetDatum(doc->content_hash);
		nulls[5] = doc->content_hash == NULL ? 'n' : ' ';
		args[6] = PointerGetDatum(doc->ast);
		nulls[6] = doc->ast == NULL ? 'n' : ' ';
		args[7] = PointerGetDatum(doc->attrs != NULL ? doc->attrs : empty);
		args[8] = Int64GetDatum(repo_id);
		AstpgExecute(ASTPG_Q_UPDATE_FILE, args, nulls, SPI_OK_UPDATE);
	}
}

static int
compare_targets(const void *a, const void *b)
{
	return strcmp(((const Target *) a)->name, ((const Target *) b)->name);
}

static Target *
target_of(Target *targets, int n, char *name)
{
	Target		wanted = {name, 0};

	return bsearch(&wanted, targets, n, sizeof(Target), compare_targets);
}

/*
 * Step 3: what every target the batch needs resolves to, sorted by name:
 * the targets of its dependencies, and the modules, paths and former
 * modules of its files (what stored dependencies may name).
 */
static Target *
resolve_targets(Entry **changed, int n, text *repository, int *count)
{
	int			capacity = 16;
	int			ntargets = 0;
	Datum	   *names = palloc(sizeof(Datum) * capacity);
	Datum		args[3];
	Target	   *targets;
	int			rows;

#define ADD_TARGET(t) \
	do { \
		if ((t) != NULL) \
		{ \
			if (ntargets == capacity) \
			{ \
				capacity *= 2; \
				names = repalloc(names, mul_size(sizeof(Datum), capacity)); \
			} \
			names[ntargets++] = PointerGetDatum(t); \
		} \
	} while (0)

	for (int i = 0; i < n; i++)
	{
		AstpgDocument *doc = changed[i]->doc;

		CHECK_FOR_INTERRUPTS();
		for (int d = 0; d < doc->ndependencies; d++)
			ADD_TARGET(doc->dependencies[d].target);
		ADD_TARGET(doc->module);
		ADD_TARGET(doc->path);
		if (changed[i]->module_changed)
			ADD_TARGET(changed[i]->old_module);
	}
#undef ADD_TARGET

	args[0] = PointerGetDatum(repository);
	args[1] = AstpgBuildArray(names, NULL, ntargets, TEXTOID);
	args[2] = BoolGetDatum(AstpgTablesDistributed());
	rows = AstpgExecute(ASTPG_Q_DEPENDENCY_TARGETS, args, NULL, SPI_OK_SELECT);
	targets = palloc(mul_size(sizeof(Target), Max(rows, 1)));
	for (int r = 0; r < rows; r++)
	{
		bool		isnull;
		Datum		file_id;

		CHECK_FOR_INTERRUPTS();
		targets[r].name = SPI_getvalue(SPI_tuptable->vals[r],
									   SPI_tuptable->tupdesc, 1);
		file_id = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc,
								2, &isnull);
		targets[r].file_id = isnull ? 0 : DatumGetInt64(file_id);
	}
	SPI_freetuptable(SPI_tuptable);
	qsort(targets, rows, sizeof(Target), compare_targets);
	*count = rows;
	return targets;
}

/* Step 4a: delete every row below the replaced files. */
static void
delete_replaced_rows(Entry **changed, int n, int64 repo_id)
{
	static const AstpgQuery deletes[] = {
		ASTPG_Q_DELETE_CALLS, ASTPG_Q_DELETE_FUNCTIONS,
		ASTPG_Q_DELETE_CLASSES, ASTPG_Q_DELETE_DEPENDENCIES,
		ASTPG_Q_DELETE_METRICS
	};
	Datum	   *file_ids = palloc(mul_size(sizeof(Datum), Max(n, 1)));
	int			count = 0;
	Datum		args[2];

	for (int i = 0; i < n; i++)
		if (changed[i]->found)
			file_ids[count++] = Int64GetDatum(changed[i]->file_id);
	if (count == 0)
		return;
	args[0] = Int64GetDatum(repo_id);
	args[1] = AstpgBuildArray(file_ids, NULL, count, INT8OID);
	for (int i = 0; i < lengthof(deletes); i++)
		AstpgExecute(deletes[i], args, NULL, SPI_OK_DELETE);
}

/* Step 4b: classes, then functions and calls, which refer to them. */
static void
insert_classes_functions_calls(Entry **changed, int n, int64 repo_id,
							   Jsonb *empty)
{
	int			nclasses = 0,
				nfunctions = 0,
				ncalls = 0;
	int64	   *class_ids;
	int64	   *function_ids;
	int			c_base = 0,
				f_base = 0,
				c_row = 0,
				f_row = 0,
				k_row = 0;
	Jsonb	   *no_parameters = jsonb_of("[]");
	Column		c_file, c_id, c_parent, c_name, c_qualified_name, c_namespace,
				c_bases, c_line_start, c_line_end, c_is_abstract, c_attrs;
	Column		f_file, f_id, f_class, f_name, f_qualified_name, f_signature,
				f_parameters, f_parameter_count, f_return_type, f_line_start,
				f_line_end, f_complexity, f_is_async, f_decorators, f_attrs;
	Column		k_file, k_function, k_call_no, k_callee, k_line, k_attrs;

	for (int i = 0; i < n; i++)
	{
		nclasses += changed[i]->doc->nclasses;
		nfunctions += changed[i]->doc->nfunctions;
		ncalls += changed[i]->doc->ncalls;
	}
	if (nclasses == 0 && nfunctions == 0)
		return;					/* and no calls, which belong to functions */
	new_ids(nclasses, nfunctions, &class_ids, &function_ids);

	c_file = new_column(nclasses);
	c_id = new_column(nclasses);
	c_parent = new_column(nclasses);
	c_name = new_column(nclasses);
	c_qualified_name = new_column(nclasses);
	c_namespace = new_column(nclasses);
	c_bases = new_column(nclasses);
	c_line_start = new_column(nclasses);
	c_line_end = new_column(nclasses);
	c_is_abstract = new_column(nclasses);
	c_attrs = new_column(nclasses);
	f_file = new_column(nfunctions);
	f_id = new_column(nfunctions);
	f_class = new_column(nfunctions);
	f_name = new_column(nfunctions);
	f_qualified_name = new_column(nfunctions);
	f_signature = new_column(nfunctions);
	f_parameters = new_column(nfunctions);
	f_parameter_count = new_column(nfunctions);
	f_return_type = new_column(nfunctions);
	f_line_start = new_column(nfunctions);
	f_line_end = new_column(nfunctions);
	f_complexity = new_column(nfunctions);
	f_is_async = new_column(nfunctions);
	f_decorators = new_column(nfunctions);
	f_attrs = new_column(nfunctions);
	k_file = new_column(ncalls);
	k_function = new_column(ncalls);
	k_call_no = new_column(ncalls);
	k_callee = new_column(ncalls);
	k_line = new_column(ncalls);
	k_attrs = new_column(ncalls);

	for (int i = 0; i < n; i++)
	{
		AstpgDocument *doc = changed[i]->doc;
		Datum		file_id = Int64GetDatum(changed[i]->file_id);
		int64	   *doc_class_ids = class_ids + c_base;
		int64	   *doc_function_ids = function_ids + f_base;

		group_strings(&doc->bases, doc->nclasses, &c_bases.values[c_row]);
		for (int j = 0; j < doc->nclasses; j++, c_row++)
		{
			AstpgClass *cls = &doc->classes[j];

			CHECK_FOR_INTERRUPTS();
			c_file.values[c_row] = file_id;
			set_id(&c_id, c_row, doc_class_ids, j);
			set_id(&c_parent, c_row, doc_class_ids, cls->parent_index);
			set_pointer(&c_name, c_row, cls->name);
			set_pointer(&c_qualified_name, c_row, cls->qualified_name);
			set_pointer(&c_namespace, c_row, cls->namespace);
			c_line_start.values[c_row] = Int32GetDatum(cls->line_start);
			c_line_end.values[c_row] = Int32GetDatum(cls->line_end);
			c_is_abstract.values[c_row] = BoolGetDatum(cls->is_abstract);
			set_jsonb_or(&c_attrs, c_row, cls->attrs, empty);
		}
		group_strings(&doc->decorators, doc->nfunctions,
						  &f_decorators.values[f_row]);
		for (int j = 0; j < doc->nfunctions; j++, f_row++)
		{
			AstpgFunction *fn = &doc->functions[j];

			CHECK_FOR_INTERRUPTS();
			f_file.values[f_row] = file_id;
			set_id(&f_id, f_row, doc_function_ids, j);
			set_id(&f_class, f_row, doc_class_ids, fn->class_index);
			set_pointer(&f_name, f_row, fn->name);
			set_pointer(&f_qualified_name, f_row, fn->qualified_name);
			set_pointer(&f_signature, f_row, fn->signature);
			set_jsonb_or(&f_parameters, f_row, fn->parameters, no_parameters);
			f_parameter_count.values[f_row] = Int32GetDatum(fn->parameter_count);
			set_pointer(&f_return_type, f_row, fn->return_type);
			f_line_start.values[f_row] = Int32GetDatum(fn->line_start);
			f_line_end.values[f_row] = Int32GetDatum(fn->line_end);
			set_positive_int32(&f_complexity, f_row, fn->complexity);
			f_is_async.values[f_row] = BoolGetDatum(fn->is_async);
			set_jsonb_or(&f_attrs, f_row, fn->attrs, empty);
		}
		for (int j = 0; j < doc->ncalls; j++, k_row++)
		{
			AstpgCall  *call = &doc->calls[j];

			CHECK_FOR_INTERRUPTS();
			k_file.values[k_row] = file_id;
			set_id(&k_function, k_row, doc_function_ids, call->function_index);
			k_call_no.values[k_row] = Int32GetDatum(call->call_no);
			set_pointer(&k_callee, k_row, call->callee);
			set_positive_int32(&k_line, k_row, call->line);
			set_jsonb_or(&k_attrs, k_row, call->attrs, empty);
		}
		c_base += doc->nclasses;
		f_base += doc->nfunctions;
	}

	if (nclasses > 0)
	{
		Datum		args[12];

		args[0] = Int64GetDatum(repo_id);
		args[1] = column_array(&c_file, nclasses, INT8OID);
		args[2] = column_array(&c_id, nclasses, INT8OID);
		args[3] = column_array(&c_parent, nclasses, INT8OID);
		args[4] = column_array(&c_name, nclasses, TEXTOID);
		args[5] = column_array(&c_qualified_name, nclasses, TEXTOID);
		args[6] = column_array(&c_namespace, nclasses, TEXTOID);
		args[7] = column_array(&c_bases, nclasses, TEXTOID);
		args[8] = column_array(&c_line_start, nclasses, INT4OID);
		args[9] = column_array(&c_line_end, nclasses, INT4OID);
		args[10] = column_array(&c_is_abstract, nclasses, BOOLOID);
		args[11] = column_array(&c_attrs, nclasses, JSONBOID);
		AstpgExecute(ASTPG_Q_INSERT_CLASSES, args, NULL, SPI_OK_INSERT);
	}
	if (nfunctions > 0)
	{
		Datum		args[16];

		args[0] = Int64GetDatum(repo_id);
		args[1] = column_array(&f_file, nfunctions, INT8OID);
		args[2] = column_array(&f_id, nfunctions, INT8OID);
		args[3] = column_array(&f_class, nfunctions, INT8OID);
		args[4] = column_array(&f_name, nfunctions, TEXTOID);
		args[5] = column_array(&f_qualified_name, nfunctions, TEXTOID);
		args[6] = column_array(&f_signature, nfunctions, TEXTOID);
		args[7] = column_array(&f_parameters, nfunctions, JSONBOID);
		args[8] = column_array(&f_parameter_count, nfunctions, INT4OID);
		args[9] = column_array(&f_return_type, nfunctions, TEXTOID);
		args[10] = column_array(&f_line_start, nfunctions, INT4OID);
		args[11] = column_array(&f_line_end, nfunctions, INT4OID);
		args[12] = column_array(&f_complexity, nfunctions, INT4OID);
		args[13] = column_array(&f_is_async, nfunctions, BOOLOID);
		args[14] = column_array(&f_decorators, nfunctions, TEXTOID);
		args[15] = column_array(&f_attrs, nfunctions, JSONBOID);
		AstpgExecute(ASTPG_Q_INSERT_FUNCTIONS, args, NULL, SPI_OK_INSERT);
	}
	if (ncalls > 0)
	{
		Datum		args[7];

		args[0] = Int64GetDatum(repo_id);
		args[1] = column_array(&k_file, ncalls, INT8OID);
		args[2] = column_array(&k_function, ncalls, INT8OID);
		args[3] = column_array(&k_call_no, ncalls, INT4OID);
		args[4] = column_array(&k_callee, ncalls, TEXTOID);
		args[5] = column_array(&k_line, ncalls, INT4OID);
		args[6] = column_array(&k_attrs, ncalls, JSONBOID);
		AstpgExecute(ASTPG_Q_INSERT_CALLS, args, NULL, SPI_OK_INSERT);
	}
}

/* Step 4c: dependencies, each resolved as step 3 found; and metrics. */
static void
insert_dependencies_metrics(Entry **changed, int n, int64 repo_id,
							Target *targets, int ntargets, Jsonb *empty)
{
	int			ndependencies = 0,
				nmetrics = 0,
				d_row = 0,
				m_row = 0;
	Datum		import_kind = CStringGetTextDatum("import");
	Column		d_file, d_no, d_target, d_target_file, d_kind, d_line,
				d_strength, d_names, d_attrs;
	Column		m_file, m_name, m_value;

	for (int i = 0; i < n; i++)
	{
		ndependencies += changed[i]->doc->ndependencies;
		nmetrics += changed[i]->doc->nmetrics;
	}
	d_file = new_column(ndependencies);
	d_no = new_column(ndependencies);
	d_target = new_column(ndependencies);
	d_target_file = new_column(ndependencies);
	d_kind = new_column(ndependencies);
	d_line = new_column(ndependencies);
	d_strength = new_column(ndependencies);
	d_names = new_column(ndependencies);
	d_attrs = new_column(ndependencies);
	m_file = new_column(nmetrics);
	m_name = new_column(nmetrics);
	m_value = new_column(nmetrics);

	for (int i = 0; i < n; i++)
	{
		AstpgDocument *doc = changed[i]->doc;
		Datum		file_id = Int64GetDatum(changed[i]->file_id);

		group_strings(&doc->names, doc->ndependencies,
						  &d_names.values[d_row]);
		for (int j = 0; j < doc->ndependencies; j++, d_row++)
		{
			AstpgDependency *dep = &doc->dependencies[j];
			char	   *name = text_to_cstring(dep->target);
			Target	   *found = target_of(targets, ntargets, name);

			CHECK_FOR_INTERRUPTS();
			d_file.values[d_row] = file_id;
			d_no.values[d_row] = Int32GetDatum(j + 1);
			set_pointer(&d_target, d_row, dep->target);
			d_target_file.values[d_row] = Int64GetDatum(found ? found->file_id : 0);
			d_target_file.nulls[d_row] = found == NULL || found->file_id == 0;
			d_kind.values[d_row] = dep->kind != NULL ?
				PointerGetDatum(dep->kind) : import_kind;
			set_positive_int32(&d_line, d_row, dep->line);
			d_strength.values[d_row] = Float8GetDatum(dep->strength);
			set_jsonb_or(&d_attrs, d_row, dep->attrs, empty);
			pfree(name);
		}
		for (int j = 0; j < doc->nmetrics; j++, m_row++)
		{
			CHECK_FOR_INTERRUPTS();
			m_file.values[m_row] = file_id;
			set_pointer(&m_name, m_row, doc->metrics[j].name);
			m_value.values[m_row] = Float8GetDatum(doc->metrics[j].value);
		}
	}

	if (ndependencies > 0)
	{
		Datum		args[10];

		args[0] = Int64GetDatum(repo_id);
		args[1] = column_array(&d_file, ndependencies, INT8OID);
		args[2] = column_array(&d_no, ndependencies, INT4OID);
		args[3] = column_array(&d_target, ndependencies, TEXTOID);
		args[4] = column_array(&d_target_file, ndependencies, INT8OID);
		args[5] = column_array(&d_kind, ndependencies, TEXTOID);
		args[6] = column_array(&d_line, ndependencies, INT4OID);
		args[7] = column_array(&d_strength, ndependencies, FLOAT8OID);
		args[8] = column_array(&d_names, ndependencies, TEXTOID);
		args[9] = column_array(&d_attrs, ndependencies, JSONBOID);
		AstpgExecute(ASTPG_Q_INSERT_DEPENDENCIES, args, NULL,
					 SPI_OK_INSERT);
	}
	if (nmetrics > 0)
	{
		Datum		args[4];

		args[0] = Int64GetDatum(repo_id);
		args[1] = column_array(&m_file, nmetrics, INT8OID);
		args[2] = column_array(&m_name, nmetrics, TEXTOID);
		args[3] = column_array(&m_value, nmetrics, FLOAT8OID);
		AstpgExecute(ASTPG_Q_INSERT_METRICS, args, NULL, SPI_OK_INSERT);
	}
}

/*
 * Step 5: stored dependencies that name one of the batch's modules or
 * paths while unresolved, or point at a file whose module changed, set to
 * what step 3 found for their target.
 */
static void
retarget_dependents(Entry **changed, int n, int64 repo_id, text *repository,
					Target *targets, int ntargets)
{
	Datum	   *names = palloc(mul_size(sizeof(Datum), 2 * n));
	Datum	   *hashes = palloc(mul_size(sizeof(Datum), 2 * n));
	Datum	   *moved = palloc(mul_size(sizeof(Datum), Max(n, 1)));
	int			nnames = 0,
				nmoved = 0,
				rows;
	Datum		args[5];
	Datum	   *tids;
	Column		target_file;
	int			nchanges = 0;

	for (int i = 0; i < n; i++)
	{
		text	   *own[2] = {changed[i]->doc->module, changed[i]->doc->path};

		for (int j = 0; j < 2; j++)
		{
			if (own[j] == NULL)
				continue;
			names[nnames] = PointerGetDatum(own[j]);
			/* the key of the index on unresolved targets */
			hashes[nnames] = Int64GetDatum(dependency_hash(repo_id, own[j]));
			nnames++;
		}
		if (changed[i]->module_changed)
			moved[nmoved++] = Int64GetDatum(changed[i]->file_id);
	}
	args[0] = PointerGetDatum(repository);
	args[1] = AstpgBuildArray(names, NULL, nnames, TEXTOID);
	args[2] = AstpgBuildArray(hashes, NULL, nnames, INT8OID);
	args[3] = AstpgBuildArray(moved, NULL, nmoved, INT8OID);
	args[4] = Int64GetDatum(repo_id);
	rows = AstpgExecute(AstpgTablesDistributed() ?
						ASTPG_Q_LOCK_DEPENDENTS_DISTRIBUTED :
						ASTPG_Q_LOCK_DEPENDENTS,
						args, NULL, SPI_OK_SELECT);
	if (rows == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return;
	}
	tids = palloc(mul_size(sizeof(Datum), rows));
	target_file = new_column(rows);
	for (int r = 0; r < rows; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *name = SPI_getvalue(tuple, tupdesc, 2);
		Datum		current = SPI_getbinval(tuple, tupdesc, 3, &isnull);
		int64		current_id = isnull ? 0 : DatumGetInt64(current);
		Target	   *wanted = target_of(targets, ntargets, name);
		ItemPointer tid;

		CHECK_FOR_INTERRUPTS();
		/* a target step 3 did not resolve is left for resolve_dependencies() */
		if (wanted == NULL || wanted->file_id == current_id)
			continue;
		tid = palloc(sizeof(ItemPointerData));
		ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(tuple, tupdesc,
																	1, &isnull)), tid);
		tids[nchanges] = PointerGetDatum(tid);
		target_file.values[nchanges] = Int64GetDatum(wanted->file_id);
		target_file.nulls[nchanges] = wanted->file_id == 0;
		nchanges++;
	}
	SPI_freetuptable(SPI_tuptable);
	if (nchanges == 0)
		return;
	if (!AstpgTablesDistributed())
	{
		args[0] = Int64GetDatum(repo_id);
		args[1] = AstpgBuildArray(tids, NULL, nchanges, TIDOID);
		args[2] = column_array(&target_file, nchanges, INT8OID);
		AstpgExecute(ASTPG_Q_SET_TARGETS, args, NULL, SPI_OK_UPDATE);
		return;
	}

	/*
	 * Citus cannot send a subscripted parameter to a shard (its deparser
	 * fails on it): there, one UPDATE per file the rows now point at.
	 */
	for (int i = 0; i < nchanges; i++)
	{
		Datum	   *same = palloc(mul_size(sizeof(Datum), nchanges));
		int			nsame = 0;
		char		nulls[4] = "   ";

		if (tids[i] == (Datum) 0)
			continue;			/* done with an earlier one */
		for (int j = i; j < nchanges; j++)
		{
			if (tids[j] == (Datum) 0 ||
				target_file.nulls[j] != target_file.nulls[i] ||
				(!target_file.nulls[i] &&
				 DatumGetInt64(target_file.values[j]) !=
				 DatumGetInt64(target_file.values[i])))
				continue;
			same[nsame++] = tids[j];
			if (j > i)
				tids[j] = (Datum) 0;
		}
		args[0] = Int64GetDatum(repo_id);
		args[1] = AstpgBuildArray(same, NULL, nsame, TIDOID);
		args[2] = target_file.values[i];
		nulls[2] = target_file.nulls[i] ? 'n' : ' ';
		AstpgExecute(ASTPG_Q_SET_TARGETS_DISTRIBUTED, args, nulls, SPI_OK_UPDATE);
		pfree(same);
	}
}

/* Step 4d: the names of the changed documents, for find_symbol. */
static void
store_names(Entry **changed, int n, int64 repo_id)
{
	AstpgDocument **docs = palloc(mul_size(sizeof(AstpgDocument *), n));

	for (int i = 0; i < n; i++)
		docs[i] = changed[i]->doc;
	AstpgStoreSymbolNames(docs, n, repo_id);
}

/* Step 6a: an audit row for every document of the batch. */
static void
insert_audit(Entry **entries, int n, int64 repo_id, text *repository)
{
	Column		path = new_column(n),
				revision = new_column(n),
				content_hash = new_column(n),
				status = new_column(n),
				file_id = new_column(n),
				classes = new_column(n),
				functions = new_column(n),
				calls = new_column(n),
				dependencies = new_column(n),
				metrics = new_column(n),
				duration = new_column(n);
	Datum		now = TimestampTzGetDatum(GetCurrentTimestamp());
	Datum		args[13];

	for (int i = 0; i < n; i++)
	{
		Entry	   *e = entries[i];

		CHECK_FOR_INTERRUPTS();
		set_pointer(&path, i, e->doc->path);
		set_pointer(&revision, i, e->doc->revision);
		set_pointer(&content_hash, i, e->doc->content_hash);
		status.values[i] = CStringGetTextDatum(AstpgStatusName(e->result->status));
		file_id.values[i] = Int64GetDatum(e->file_id);
		classes.values[i] = Int32GetDatum(e->result->classes);
		functions.values[i] = Int32GetDatum(e->result->functions);
		calls.values[i] = Int32GetDatum(e->result->calls);
		dependencies.values[i] = Int32GetDatum(e->result->dependencies);
		metrics.values[i] = Int32GetDatum(e->result->metrics);
		/* computed here: Citus cannot send clock_timestamp() - unnest() */
		duration.values[i] = DirectFunctionCall2(timestamp_mi, now,
												 TimestampTzGetDatum(e->started));
	}
	args[0] = Int64GetDatum(repo_id);
	args[1] = PointerGetDatum(repository);
	args[2] = column_array(&path, n, TEXTOID);
	args[3] = column_array(&revision, n, TEXTOID);
	args[4] = column_array(&content_hash, n, TEXTOID);
	args[5] = column_array(&status, n, TEXTOID);
	args[6] = column_array(&file_id, n, INT8OID);
	args[7] = column_array(&classes, n, INT4OID);
	args[8] = column_array(&functions, n, INT4OID);
	args[9] = column_array(&calls, n, INT4OID);
	args[10] = column_array(&dependencies, n, INT4OID);
	args[11] = column_array(&metrics, n, INT4OID);
	args[12] = column_array(&duration, n, INTERVALOID);
	AstpgExecute(ASTPG_Q_INSERT_AUDIT, args, NULL, SPI_OK_INSERT);
}

/* Step 6b: the metric history of every stored version. */
static void
insert_history(Entry **changed, int n, int64 repo_id, text *repository)
{
	Column		path = new_column(n),
				file_id = new_column(n),
				revision = new_column(n),
				content_hash = new_column(n),
				status = new_column(n),
				functions = new_column(n),
				classes = new_column(n),
				complexity_total = new_column(n),
				complexity_max = new_column(n),
				metrics = new_column(n);
	Datum		args[12];

	if (n == 0)
		return;
	for (int i = 0; i < n; i++)
	{
		AstpgDocument *doc = changed[i]->doc;
		AstpgHistoryFigures figures;

		CHECK_FOR_INTERRUPTS();
		AstpgHistoryOf(doc, &figures);
		set_pointer(&path, i, doc->path);
		file_id.values[i] = Int64GetDatum(changed[i]->file_id);
		set_pointer(&revision, i, doc->revision);
		set_pointer(&content_hash, i, doc->content_hash);
		status.values[i] = CStringGetTextDatum(AstpgStatusName(changed[i]->result->status));
		functions.values[i] = Int32GetDatum(doc->nfunctions);
		classes.values[i] = Int32GetDatum(doc->nclasses);
		complexity_total.values[i] = Int64GetDatum(figures.complexity_total);
		/* no function gives its complexity: no maximum (complexity is >= 1) */
		set_positive_int32(&complexity_max, i, figures.complexity_max);
		set_pointer(&metrics, i, figures.metrics);
	}
	args[0] = Int64GetDatum(repo_id);
	args[1] = PointerGetDatum(repository);
	args[2] = column_array(&path, n, TEXTOID);
	args[3] = column_array(&file_id, n, INT8OID);
	args[4] = column_array(&revision, n, TEXTOID);
	args[5] = column_array(&content_hash, n, TEXTOID);
	args[6] = column_array(&status, n, TEXTOID);
	args[7] = column_array(&functions, n, INT4OID);
	args[8] = column_array(&classes, n, INT4OID);
	args[9] = column_array(&complexity_total, n, INT8OID);
	args[10] = column_array(&complexity_max, n, INT4OID);
	args[11] = column_array(&metrics, n, JSONBOID);
	AstpgExecute(ASTPG_Q_INSERT_HISTORY, args, NULL, SPI_OK_INSERT);
}

/*
 * What step 5 needs of one repository's write: done for every repository
 * of the batch only after all of them are written.
 */
typedef struct Retarget
{
	Entry	  **changed;
	int			nchanged;
	Target	   *targets;
	int			ntargets;
} Retarget;

/*
 * Write the documents of one repository: steps 1 to 4, and 6.  Step 5 is
 * left to the caller, in *retarget.
 */
static void
write_repository(Entry **entries, int n, bool alone, Jsonb *empty,
				 Retarget *retarget)
{
	text	   *repository = entries[0]->doc->repository;
	int64		repo_id = entries[0]->repo_id;
	Entry	  **changed = palloc(mul_size(sizeof(Entry *), n));
	int			nchanged = 0;
	Target	   *targets;
	int			ntargets;
	Entry	  **by_key;

	/* in share mode, or exclusive for a retry after a deadlock */
	AstpgLockRepository(repo_id, alone);
	if (AstpgTablesDistributed())
		routed_settings();
	by_key = palloc(mul_size(sizeof(Entry *), n));
	memcpy(by_key, entries, mul_size(sizeof(Entry *), n));
	qsort(by_key, n, sizeof(Entry *), compare_entry_keys);
	for (int attempt = 1;; attempt++)
	{
		bool		all_stored = true;

		CHECK_FOR_INTERRUPTS();
		insert_new_files(entries, by_key, n, repo_id, repository, empty);
		lock_stored_files(by_key, n, repo_id);
		for (int i = 0; i < n; i++)
			all_stored &= entries[i]->stored;
		if (all_stored)
			break;

		/*
		 * Another session deleted some of these paths meanwhile: again.  A
		 * path deleted as often as it is inserted, many times over, is a
		 * conflict the client must settle, as for a serialization failure.
		 */
		if (attempt == MAX_STORE_ATTEMPTS)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not store the files of repository \"%s\": other sessions kept deleting them",
							text_to_cstring(repository)),
					 errhint("Retry the transaction.")));
	}

	for (int i = 0; i < n; i++)
	{
		Entry	   *e = entries[i];
		AstpgIngestResult *result = e->result;

		memset(result, 0, sizeof(AstpgIngestResult));
		result->file_id = e->file_id;
		if (e->found && e->unchanged)
		{
			result->status = ASTPG_UNCHANGED;
			continue;
		}
		result->status = e->found ? ASTPG_REPLACED : ASTPG_INSERTED;
		result->classes = e->doc->nclasses;
		result->functions = e->doc->nfunctions;
		result->calls = e->doc->ncalls;
		result->dependencies = e->doc->ndependencies;
		result->metrics = e->doc->nmetrics;
		changed[nchanged++] = e;
	}

	if (nchanged > 0)
	{
		update_replaced_files(changed, nchanged, repo_id, empty);
		targets = resolve_targets(changed, nchanged, repository, &ntargets);
		delete_replaced_rows(changed, nchanged, repo_id);
		insert_classes_functions_calls(changed, nchanged, repo_id, empty);
		insert_dependencies_metrics(changed, nchanged, repo_id, targets,
									ntargets, empty);
		store_names(changed, nchanged, repo_id);
		retarget->targets = targets;
		retarget->ntargets = ntargets;
	}
	retarget->changed = changed;
	retarget->nchanged = nchanged;
	/* logged in the order they came in, not the order they were locked in */
	qsort(entries, n, sizeof(Entry *), compare_indexes);
	qsort(changed, nchanged, sizeof(Entry *), compare_indexes);
	insert_audit(entries, n, repo_id, repository);
	insert_history(changed, nchanged, repo_id, repository);
}

/*
 * AstpgWriteBatch
 *		Store n validated documents, each with a different (repository,
 *		path): insert it, replace the stored copy, or leave an unchanged one
 *		alone; log each.  documents[i].result receives what it did, and
 *		documents[i].started is when its ingest began (for the audit log's
 *		duration).  alone: take the repositories' locks in exclusive mode (a
 *		retry after a deadlock, deadlocks.c).
 */
void
AstpgWriteBatch(AstpgBatchDocument *documents, int n, bool alone)
{
	Entry	   *storage = palloc0(mul_size(sizeof(Entry), Max(n, 1)));
	Entry	  **entries = palloc(mul_size(sizeof(Entry *), Max(n, 1)));
	Jsonb	   *empty = jsonb_of("{}");
	Retarget   *retargets = palloc0(mul_size(sizeof(Retarget), Max(n, 1)));
	int			nrepositories = 0;
	int			first = 0;

	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		storage[i].doc = documents[i].doc;
		storage[i].result = &documents[i].result;
		storage[i].started = documents[i].started;
		storage[i].index = i;
		storage[i].repo_id = AstpgRepoId(documents[i].doc->repository);
		storage[i].key = AstpgFileKey(documents[i].doc->repository,
									  documents[i].doc->path);
		entries[i] = &storage[i];
	}
	qsort(entries, n, sizeof(Entry *), compare_entries);
	for (int i = 1; i < n; i++)
		if (compare_entries(&entries[i - 1], &entries[i]) == 0)
			elog(ERROR, "astpg batch holds path \"%s\" twice",
				 text_to_cstring(entries[i]->doc->path));

	/* a repository at a time, in the order of their keys */
	while (first < n)
	{
		int			last = first + 1;

		while (last < n && compare_repositories(entries[first], entries[last]) == 0)
			last++;
		write_repository(&entries[first], last - first, alone, empty,
						 &retargets[nrepositories++]);
		first = last;
	}

	/*
	 * Step 5 last: the dependency rows it locks belong to other files, whose
	 * writers may be waiting for them; a transaction that went on to lock
	 * the next repository's files while holding them could close a cycle.
	 */
	for (int r = 0; r < nrepositories; r++)
	{
		Retarget   *retarget = &retargets[r];

		if (retarget->nchanged == 0)
			continue;
		retarget_dependents(retarget->changed, retarget->nchanged,
							retarget->changed[0]->repo_id,
							retarget->changed[0]->doc->repository,
							retarget->targets, retarget->ntargets);
	}
}
