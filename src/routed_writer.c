/*-------------------------------------------------------------------------
 *
 * routed_writer.c
 *	  Write one validated document's rows on Citus, where astpg's tables
 *	  are distributed by repo_id, with statements that each go to the one
 *	  shard of the document's repository.
 *
 * On one server, document_writer.c writes every row of a document in one
 * statement.  Citus routes a statement to a single shard only if it reads
 * or writes one table (or is INSERT ... VALUES), so here each table gets
 * its own statement, in the same transaction: ids are taken first, links
 * between rows (a class's parent, a method's class, a call's function) and
 * dependency targets are worked out here, and each table's rows go in as
 * one INSERT ... VALUES of unnested arrays.  The result, row for row, is
 * what document_writer.c stores; the file row itself, its lock and the
 * audit row are written by document_writer.c in both cases.
 *
 * Transaction and memory contracts are those of document_writer.c.
 *
 * IDENTIFICATION
 *	  src/routed_writer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "columns.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

/*
 * Defaults that the one-statement writer fills in with COALESCE in SQL:
 * Citus evaluates such an expression around unnest() on the coordinator,
 * where it cannot run, so they are filled in here.
 */
static Jsonb *
jsonb_of(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

/*
 * The strings of a flat (owner, value) list grouped per row, each row's as
 * the text of a text[] value ("{a,b}"), for @extschema@.text_arrays().
 */
static Datum
grouped_strings(const AstpgStringList *list, int nrows)
{
	Datum	   *rows = palloc(mul_size(sizeof(Datum), Max(nrows, 1)));

	AstpgGroupStrings(list, nrows, rows);
	return AstpgBuildArray(rows, NULL, nrows, TEXTOID);
}

static void
insert_classes(AstpgDocument *doc, Datum *key, const int64 *ids, Jsonb *empty)
{
	int			n = doc->nclasses;
	Datum		args[12];
	Column		id = new_column(n),
				parent = new_column(n),
				name = new_column(n),
				qualified_name = new_column(n),
				namespace = new_column(n),
				line_start = new_column(n),
				line_end = new_column(n),
				is_abstract = new_column(n),
				attrs = new_column(n);

	for (int i = 0; i < n; i++)
	{
		AstpgClass *cls = &doc->classes[i];

		CHECK_FOR_INTERRUPTS();
		set_id(&id, i, ids, i);
		set_id(&parent, i, ids, cls->parent_index);
		set_pointer(&name, i, cls->name);
		set_pointer(&qualified_name, i, cls->qualified_name);
		set_pointer(&namespace, i, cls->namespace);
		line_start.values[i] = Int32GetDatum(cls->line_start);
		line_end.values[i] = Int32GetDatum(cls->line_end);
		is_abstract.values[i] = BoolGetDatum(cls->is_abstract);
		set_jsonb_or(&attrs, i, cls->attrs, empty);
	}
	args[0] = key[0];
	args[1] = key[1];
	args[2] = column_array(&id, n, INT8OID);
	args[3] = column_array(&parent, n, INT8OID);
	args[4] = column_array(&name, n, TEXTOID);
	args[5] = column_array(&qualified_name, n, TEXTOID);
	args[6] = column_array(&namespace, n, TEXTOID);
	args[7] = grouped_strings(&doc->bases, n);
	args[8] = column_array(&line_start, n, INT4OID);
	args[9] = column_array(&line_end, n, INT4OID);
	args[10] = column_array(&is_abstract, n, BOOLOID);
	args[11] = column_array(&attrs, n, JSONBOID);
	AstpgExecute(ASTPG_Q_ROUTED_INSERT_CLASSES, args, NULL, SPI_OK_INSERT);
}

static void
insert_functions(AstpgDocument *doc, Datum *key, const int64 *class_ids,
				 const int64 *ids, Jsonb *empty)
{
	int			n = doc->nfunctions;
	Datum		args[16];
	Jsonb	   *no_parameters = jsonb_of("[]");
	Column		id = new_column(n),
				class = new_column(n),
				name = new_column(n),
				qualified_name = new_column(n),
				signature = new_column(n),
				parameters = new_column(n),
				parameter_count = new_column(n),
				return_type = new_column(n),
				line_start = new_column(n),
				line_end = new_column(n),
				complexity = new_column(n),
				is_async = new_column(n),
				attrs = new_column(n);

	for (int i = 0; i < n; i++)
	{
		AstpgFunction *fn = &doc->functions[i];

		CHECK_FOR_INTERRUPTS();
		set_id(&id, i, ids, i);
		set_id(&class, i, class_ids, fn->class_index);
		set_pointer(&name, i, fn->name);
		set_pointer(&qualified_name, i, fn->qualified_name);
		set_pointer(&signature, i, fn->signature);
		set_jsonb_or(&parameters, i, fn->parameters, no_parameters);
		parameter_count.values[i] = Int32GetDatum(fn->parameter_count);
		set_pointer(&return_type, i, fn->return_type);
		line_start.values[i] = Int32GetDatum(fn->line_start);
		line_end.values[i] = Int32GetDatum(fn->line_end);
		set_positive_int32(&complexity, i, fn->complexity);
		is_async.values[i] = BoolGetDatum(fn->is_async);
		set_jsonb_or(&attrs, i, fn->attrs, empty);
	}
	args[0] = key[0];
	args[1] = key[1];
	args[2] = column_array(&id, n, INT8OID);
	args[3] = column_array(&class, n, INT8OID);
	args[4] = column_array(&name, n, TEXTOID);
	args[5] = column_array(&qualified_name, n, TEXTOID);
	args[6] = column_array(&signature, n, TEXTOID);
	args[7] = column_array(&parameters, n, JSONBOID);
	args[8] = column_array(&parameter_count, n, INT4OID);
	args[9] = column_array(&return_type, n, TEXTOID);
	args[10] = column_array(&line_start, n, INT4OID);
	args[11] = column_array(&line_end, n, INT4OID);
	args[12] = column_array(&complexity, n, INT4OID);
	args[13] = column_array(&is_async, n, BOOLOID);
	args[14] = grouped_strings(&doc->decorators, n);
	args[15] = column_array(&attrs, n, JSONBOID);
	AstpgExecute(ASTPG_Q_ROUTED_INSERT_FUNCTIONS, args, NULL, SPI_OK_INSERT);
}

static void
insert_calls(AstpgDocument *doc, Datum *key, const int64 *function_ids,
			 Jsonb *empty)
{
	int			n = doc->ncalls;
	Datum		args[7];
	Column		function = new_column(n),
				call_no = new_column(n),
				callee = new_column(n),
				line = new_column(n),
				attrs = new_column(n);

	for (int i = 0; i < n; i++)
	{
		AstpgCall  *call = &doc->calls[i];

		CHECK_FOR_INTERRUPTS();
		set_id(&function, i, function_ids, call->function_index);
		call_no.values[i] = Int32GetDatum(call->call_no);
		set_pointer(&callee, i, call->callee);
		set_positive_int32(&line, i, call->line);
		set_jsonb_or(&attrs, i, call->attrs, empty);
	}
	args[0] = key[0];
	args[1] = key[1];
	args[2] = column_array(&function, n, INT8OID);
	args[3] = column_array(&call_no, n, INT4OID);
	args[4] = column_array(&callee, n, TEXTOID);
	args[5] = column_array(&line, n, INT4OID);
	args[6] = column_array(&attrs, n, JSONBOID);
	AstpgExecute(ASTPG_Q_ROUTED_INSERT_CALLS, args, NULL, SPI_OK_INSERT);
}

/* A stored file that a dependency target names: by module or by path. */
typedef struct TargetFile
{
	char	   *name;
	int64		file_id;
} TargetFile;

static int
compare_target_files(const void *a, const void *b)
{
	return strcmp(((const TargetFile *) a)->name, ((const TargetFile *) b)->name);
}

/*
 * The stored files of the repository whose module (FIND_MODULES) or path
 * (FIND_PATHS) is one of targets, sorted by that name.
 */
static TargetFile *
find_target_files(AstpgQuery query, Datum *key, Datum repository,
				  Datum targets, int *count)
{
	Datum		args[3] = {key[0], repository, targets};
	TargetFile *found;
	int			n;

	n = AstpgExecute(query, args, NULL, SPI_OK_SELECT);
	found = palloc(mul_size(sizeof(TargetFile), Max(n, 1)));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		found[i].name = SPI_getvalue(SPI_tuptable->vals[i],
									 SPI_tuptable->tupdesc, 1);
		found[i].file_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc,
													   2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	qsort(found, n, sizeof(TargetFile), compare_target_files);
	*count = n;
	return found;
}

static TargetFile *
lookup_target_file(TargetFile *files, int n, char *name)
{
	TargetFile	wanted = {name, 0};

	return bsearch(&wanted, files, n, sizeof(TargetFile), compare_target_files);
}

/*
 * Dependencies, resolved as document_writer.c resolves them: to the stored
 * file of the repository whose module (the lowest file_id when several
 * share it) or else whose path equals the target.
 */
static void
insert_dependencies(AstpgDocument *doc, Datum *key, Jsonb *empty)
{
	int			n = doc->ndependencies;
	Datum		args[10];
	Datum		repository = PointerGetDatum(doc->repository);
	Datum		import_kind = CStringGetTextDatum("import");
	TargetFile *by_module;
	TargetFile *by_path;
	int			nmodules;
	int			npaths;
	Column		dependency_no = new_column(n),
				target = new_column(n),
				target_file = new_column(n),
				kind = new_column(n),
				line = new_column(n),
				strength = new_column(n),
				attrs = new_column(n);

	for (int i = 0; i < n; i++)
	{
		AstpgDependency *dep = &doc->dependencies[i];

		CHECK_FOR_INTERRUPTS();
		dependency_no.values[i] = Int32GetDatum(i + 1);
		set_pointer(&target, i, dep->target);
		kind.values[i] = dep->kind != NULL ? PointerGetDatum(dep->kind) : import_kind;
		set_positive_int32(&line, i, dep->line);
		strength.values[i] = Float8GetDatum(dep->strength);
		set_jsonb_or(&attrs, i, dep->attrs, empty);
	}
	args[3] = column_array(&target, n, TEXTOID);

	by_module = find_target_files(ASTPG_Q_ROUTED_FIND_MODULES, key, repository,
								  args[3], &nmodules);
	by_path = find_target_files(ASTPG_Q_ROUTED_FIND_PATHS, key, repository,
								args[3], &npaths);
	for (int i = 0; i < n; i++)
	{
		char	   *name = text_to_cstring(doc->dependencies[i].target);
		TargetFile *found = lookup_target_file(by_module, nmodules, name);

		CHECK_FOR_INTERRUPTS();
		if (found == NULL)
			found = lookup_target_file(by_path, npaths, name);
		target_file.values[i] = Int64GetDatum(found ? found->file_id : 0);
		target_file.nulls[i] = found == NULL;
		pfree(name);
	}

	args[0] = key[0];
	args[1] = key[1];
	args[2] = column_array(&dependency_no, n, INT4OID);
	args[4] = column_array(&target_file, n, INT8OID);
	args[5] = column_array(&kind, n, TEXTOID);
	args[6] = column_array(&line, n, INT4OID);
	args[7] = column_array(&strength, n, FLOAT8OID);
	args[8] = grouped_strings(&doc->names, n);
	args[9] = column_array(&attrs, n, JSONBOID);
	AstpgExecute(ASTPG_Q_ROUTED_INSERT_DEPENDENCIES, args, NULL, SPI_OK_INSERT);
}

static void
insert_metrics(AstpgDocument *doc, Datum *key)
{
	int			n = doc->nmetrics;
	Datum		args[4];
	Column		name = new_column(n),
				value = new_column(n);

	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		set_pointer(&name, i, doc->metrics[i].name);
		value.values[i] = Float8GetDatum(doc->metrics[i].value);
	}
	args[0] = key[0];
	args[1] = key[1];
	args[2] = column_array(&name, n, TEXTOID);
	args[3] = column_array(&value, n, FLOAT8OID);
	AstpgExecute(ASTPG_Q_ROUTED_INSERT_METRICS, args, NULL, SPI_OK_INSERT);
}

/*
 * Point the dependencies that the locking statement (LOCK_WAITING or
 * LOCK_STALE, with args) finds at target_file_id, or at nothing (NULL).
 */
static void
retarget_dependencies(AstpgQuery query, Datum *args, const char *nulls_of_args,
					  Datum repo_id, Datum *target_file_id)
{
	int			n = AstpgExecute(query, args, nulls_of_args, SPI_OK_SELECT);
	Datum	   *ctids;
	Datum		update[3];
	char		nulls[4] = "   ";

	if (n == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return;
	}
	ctids = palloc(mul_size(sizeof(Datum), n));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		ItemPointer tid = palloc(sizeof(ItemPointerData));

		CHECK_FOR_INTERRUPTS();
		ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc,
																	1, &isnull)), tid);
		ctids[i] = PointerGetDatum(tid);
	}
	SPI_freetuptable(SPI_tuptable);
	update[0] = repo_id;
	update[1] = AstpgBuildArray(ctids, NULL, n, TIDOID);
	update[2] = target_file_id != NULL ? *target_file_id : (Datum) 0;
	nulls[2] = target_file_id != NULL ? ' ' : 'n';
	AstpgExecute(ASTPG_Q_ROUTED_SET_TARGETS, update, nulls, SPI_OK_UPDATE);
}

/*
 * AstpgRoutedSettings
 *		Plan this transaction's statements on the workers with enable_seqscan
 *		off, as astpg's functions plan their own on one server.
 *
 * Shards that were analyzed while empty (after a TRUNCATE, say) make a
 * worker plan a scan of a whole shard for every lookup, the foreign-key
 * checks it keeps for its session included: a load of 300 files took 15 s
 * instead of 2 s.  The writing functions set enable_seqscan = off for
 * themselves, but Citus carries a setting to the workers only as SET LOCAL
 * with citus.propagate_set_commands = local; so both are set here, before
 * each document's first statement.  They stay in force on the workers
 * until the transaction ends.
 */
void
AstpgRoutedSettings(void)
{
	static const char *const settings[] = {
		"SET LOCAL citus.propagate_set_commands = 'local'",
		"SET LOCAL enable_seqscan = off"
	};

	for (int i = 0; i < lengthof(settings); i++)
		if (SPI_execute(settings[i], false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "astpg could not run \"%s\"", settings[i]);
}

/*
 * AstpgRoutedReplaceFile
 *		Update a stored file's row (file_args as for REPLACE_FILE) and delete
 *		every row below it, a table at a time.
 */
void
AstpgRoutedReplaceFile(int64 repo_id, int64 file_id, Datum *file_args,
					   const char *file_nulls)
{
	static const AstpgQuery deletes[] = {
		ASTPG_Q_ROUTED_DELETE_CALLS, ASTPG_Q_ROUTED_DELETE_FUNCTIONS,
		ASTPG_Q_ROUTED_DELETE_CLASSES, ASTPG_Q_ROUTED_DELETE_DEPENDENCIES,
		ASTPG_Q_ROUTED_DELETE_METRICS
	};
	Datum		key[2] = {Int64GetDatum(repo_id), Int64GetDatum(file_id)};

	for (int i = 0; i < lengthof(deletes); i++)
		AstpgExecute(deletes[i], key, NULL, SPI_OK_DELETE);
	AstpgExecute(ASTPG_Q_ROUTED_UPDATE_FILE, file_args, file_nulls,
				 SPI_OK_UPDATE);
}

/*
 * AstpgRoutedWriteDocument
 *		Write every row of the document below its file row, and resolve what
 *		depends on it, as document_writer.c's one statement does.
 */
void
AstpgRoutedWriteDocument(AstpgDocument *doc, int64 repo_id, int64 file_id,
						 bool module_changed)
{
	Datum		key[2] = {Int64GetDatum(repo_id), Int64GetDatum(file_id)};
	Datum		file = Int64GetDatum(file_id);
	Jsonb	   *empty = jsonb_of("{}");
	int64	   *class_ids = NULL;
	int64	   *function_ids = NULL;

	if (doc->nclasses > 0 || doc->nfunctions > 0)
		AstpgNewIds(doc->nclasses, doc->nfunctions, &class_ids, &function_ids);
	if (doc->nclasses > 0)
		insert_classes(doc, key, class_ids, empty);
	if (doc->nfunctions > 0)
		insert_functions(doc, key, class_ids, function_ids, empty);
	if (doc->ncalls > 0)
		insert_calls(doc, key, function_ids, empty);
	if (doc->ndependencies > 0)
		insert_dependencies(doc, key, empty);
	if (doc->nmetrics > 0)
		insert_metrics(doc, key);

	/* dependencies on the file's old module that its new one no longer fits */
	if (module_changed)
	{
		Datum		args[4] = {key[0], file, PointerGetDatum(doc->module),
		PointerGetDatum(doc->path)};
		char		nulls[5] = "    ";

		nulls[2] = doc->module == NULL ? 'n' : ' ';
		retarget_dependencies(ASTPG_Q_ROUTED_LOCK_STALE, args, nulls, key[0],
							  NULL);
	}

	/* stored dependencies that this file resolves: by module, then by path */
	if (doc->module != NULL)
	{
		Datum		args[2] = {key[0], PointerGetDatum(doc->module)};

		retarget_dependencies(ASTPG_Q_ROUTED_LOCK_WAITING, args, NULL, key[0],
							  &file);
	}
	if (doc->module == NULL ||
		strcmp(text_to_cstring(doc->module), text_to_cstring(doc->path)) != 0)
	{
		Datum		args[2] = {key[0], PointerGetDatum(doc->path)};

		retarget_dependencies(ASTPG_Q_ROUTED_LOCK_WAITING, args, NULL, key[0],
							  &file);
	}
}
