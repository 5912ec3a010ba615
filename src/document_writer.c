/*-------------------------------------------------------------------------
 *
 * document_writer.c
 *	  Write one validated AstpgDocument into astpg's tables through SPI.
 *
 * Transaction contract: everything happens in the caller's transaction and
 * nothing here commits, so one document is written whole or not at all.  A
 * file that is already stored keeps its file_id: its row is locked, updated
 * and its child rows replaced.  MVCC keeps readers on the old rows until the
 * caller commits, so nobody sees a mix of old and new.  Writers of the same
 * (repository, path) queue on the file row's lock; two that both find no
 * row race on the unique key with ON CONFLICT DO NOTHING, and the loser
 * goes back to lock the winner's committed row.  No unique violation
 * reaches the user.
 *
 * Memory contract: arrays are built in CurrentMemoryContext (the caller's
 * per-document context); SPI must be connected.
 *
 * IDENTIFICATION
 *	  src/document_writer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "columns.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* AstpgBuildArray: a one-dimensional array of n elements, for a $n parameter. */
Datum
AstpgBuildArray(Datum *values, bool *nulls, int n, Oid elemtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1];
	int			lbs[1] = {1};

	if (n == 0)
		return PointerGetDatum(construct_empty_array(elemtype));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	dims[0] = n;
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs,
											  elemtype, typlen, typbyval,
											  typalign));
}

static Datum
text_or_null(text *value, char *null)
{
	*null = value == NULL ? 'n' : ' ';
	return PointerGetDatum(value);
}

/* The position of a row in its array, 1-based, or NULL for none (-1). */
static inline void
set_position(Column *col, int i, int index)
{
	col->values[i] = Int32GetDatum(index + 1);
	col->nulls[i] = index < 0;
}

/* $10-$19 of ASTPG_Q_WRITE_DOCUMENT: classes */
static void
class_args(AstpgDocument *doc, Datum *args)
{
	int			n = doc->nclasses;
	Column		parent = new_column(n),
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
		set_position(&parent, i, cls->parent_index);
		set_pointer(&name, i, cls->name);
		set_pointer(&qualified_name, i, cls->qualified_name);
		set_pointer(&namespace, i, cls->namespace);
		line_start.values[i] = Int32GetDatum(cls->line_start);
		line_end.values[i] = Int32GetDatum(cls->line_end);
		is_abstract.values[i] = BoolGetDatum(cls->is_abstract);
		set_pointer(&attrs, i, cls->attrs);
	}
	args[0] = column_array(&parent, n, INT4OID);
	args[1] = column_array(&name, n, TEXTOID);
	args[2] = column_array(&qualified_name, n, TEXTOID);
	args[3] = column_array(&namespace, n, TEXTOID);
	args[4] = column_array(&line_start, n, INT4OID);
	args[5] = column_array(&line_end, n, INT4OID);
	args[6] = column_array(&is_abstract, n, BOOLOID);
	args[7] = column_array(&attrs, n, JSONBOID);
	args[8] = AstpgBuildArray(doc->bases.owner, NULL, doc->bases.count, INT8OID);
	args[9] = AstpgBuildArray(doc->bases.value, NULL, doc->bases.count, TEXTOID);
}

/* $20-$33: functions */
static void
function_args(AstpgDocument *doc, Datum *args)
{
	int			n = doc->nfunctions;
	Column		class = new_column(n),
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
		set_position(&class, i, fn->class_index);
		set_pointer(&name, i, fn->name);
		set_pointer(&qualified_name, i, fn->qualified_name);
		set_pointer(&signature, i, fn->signature);
		set_pointer(&parameters, i, fn->parameters);
		parameter_count.values[i] = Int32GetDatum(fn->parameter_count);
		set_pointer(&return_type, i, fn->return_type);
		line_start.values[i] = Int32GetDatum(fn->line_start);
		line_end.values[i] = Int32GetDatum(fn->line_end);
		set_positive_int32(&complexity, i, fn->complexity);
		is_async.values[i] = BoolGetDatum(fn->is_async);
		set_pointer(&attrs, i, fn->attrs);
	}
	args[0] = column_array(&class, n, INT4OID);
	args[1] = column_array(&name, n, TEXTOID);
	args[2] = column_array(&qualified_name, n, TEXTOID);
	args[3] = column_array(&signature, n, TEXTOID);
	args[4] = column_array(&parameters, n, JSONBOID);
	args[5] = column_array(&parameter_count, n, INT4OID);
	args[6] = column_array(&return_type, n, TEXTOID);
	args[7] = column_array(&line_start, n, INT4OID);
	args[8] = column_array(&line_end, n, INT4OID);
	args[9] = column_array(&complexity, n, INT4OID);
	args[10] = column_array(&is_async, n, BOOLOID);
	args[11] = column_array(&attrs, n, JSONBOID);
	args[12] = AstpgBuildArray(doc->decorators.owner, NULL,
						   doc->decorators.count, INT8OID);
	args[13] = AstpgBuildArray(doc->decorators.value, NULL,
						   doc->decorators.count, TEXTOID);
}

/* $34-$38: calls */
static void
call_args(AstpgDocument *doc, Datum *args)
{
	int			n = doc->ncalls;
	Column		function = new_column(n),
				call_no = new_column(n),
				callee = new_column(n),
				line = new_column(n),
				attrs = new_column(n);

	for (int i = 0; i < n; i++)
	{
		AstpgCall  *call = &doc->calls[i];

		CHECK_FOR_INTERRUPTS();
		set_position(&function, i, call->function_index);
		call_no.values[i] = Int32GetDatum(call->call_no);
		set_pointer(&callee, i, call->callee);
		set_positive_int32(&line, i, call->line);
		set_pointer(&attrs, i, call->attrs);
	}
	args[0] = column_array(&function, n, INT4OID);
	args[1] = column_array(&call_no, n, INT4OID);
	args[2] = column_array(&callee, n, TEXTOID);
	args[3] = column_array(&line, n, INT4OID);
	args[4] = column_array(&attrs, n, JSONBOID);
}

/* $39-$45: dependencies */
static void
dependency_args(AstpgDocument *doc, Datum *args)
{
	int			n = doc->ndependencies;
	Column		target = new_column(n),
				kind = new_column(n),
				line = new_column(n),
				strength = new_column(n),
				attrs = new_column(n);

	for (int i = 0; i < n; i++)
	{
		AstpgDependency *dep = &doc->dependencies[i];

		CHECK_FOR_INTERRUPTS();
		set_pointer(&target, i, dep->target);
		set_pointer(&kind, i, dep->kind);
		set_positive_int32(&line, i, dep->line);
		strength.values[i] = Float8GetDatum(dep->strength);
		set_pointer(&attrs, i, dep->attrs);
	}
	args[0] = column_array(&target, n, TEXTOID);
	args[1] = column_array(&kind, n, TEXTOID);
	args[2] = column_array(&line, n, INT4OID);
	args[3] = column_array(&strength, n, FLOAT8OID);
	args[4] = column_array(&attrs, n, JSONBOID);
	args[5] = AstpgBuildArray(doc->names.owner, NULL, doc->names.count, INT8OID);
	args[6] = AstpgBuildArray(doc->names.value, NULL, doc->names.count, TEXTOID);
}

/* $46-$47: metrics */
static void
metric_args(AstpgDocument *doc, Datum *args)
{
	int			n = doc->nmetrics;
	Column		name = new_column(n),
				value = new_column(n);

	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		set_pointer(&name, i, doc->metrics[i].name);
		value.values[i] = Float8GetDatum(doc->metrics[i].value);
	}
	args[0] = column_array(&name, n, TEXTOID);
	args[1] = column_array(&value, n, FLOAT8OID);
}

/*
 * Write every row of the document below its file row, resolve what depends
 * on it, and log it: one executor run.
 */
static void
write_document(AstpgDocument *doc, int64 repo_id, int64 file_id,
			   bool module_changed, TimestampTz started,
			   AstpgIngestResult *result)
{
	Datum		args[53];
	char		nulls[54];

	memset(nulls, ' ', 53);
	nulls[53] = '\0';
	args[0] = Int64GetDatum(file_id);
	args[1] = PointerGetDatum(doc->repository);
	args[2] = text_or_null(doc->module, &nulls[2]);
	args[3] = PointerGetDatum(doc->path);
	args[4] = BoolGetDatum(module_changed);
	args[5] = text_or_null(doc->revision, &nulls[5]);
	args[6] = text_or_null(doc->content_hash, &nulls[6]);
	args[7] = CStringGetTextDatum(AstpgStatusName(result->status));
	args[8] = TimestampTzGetDatum(started);
	class_args(doc, &args[9]);
	function_args(doc, &args[19]);
	call_args(doc, &args[33]);
	dependency_args(doc, &args[38]);
	metric_args(doc, &args[45]);
	args[47] = Int32GetDatum(result->classes);
	args[48] = Int32GetDatum(result->functions);
	args[49] = Int32GetDatum(result->calls);
	args[50] = Int32GetDatum(result->dependencies);
	args[51] = Int32GetDatum(result->metrics);
	args[52] = Int64GetDatum(repo_id);
	AstpgExecute(ASTPG_Q_WRITE_DOCUMENT, args, nulls, SPI_OK_INSERT);
}

/*
 * Look for the stored file of (repository, path) and lock it.  Returns false
 * if there is none.  *unchanged tells whether its content_hash equals the
 * one given, *module_changed whether its module differs from the one given.
 */
static bool
lock_stored_file(int64 repo_id, text *repository, text *path,
				 text *content_hash, text *module, int64 *file_id,
				 bool *unchanged, bool *module_changed)
{
	Datum		args[5];
	char		nulls[6] = "     ";
	HeapTuple	tuple;
	TupleDesc	tupdesc;
	bool		isnull;

	args[0] = PointerGetDatum(repository);
	args[1] = PointerGetDatum(path);
	args[2] = text_or_null(content_hash, &nulls[2]);
	args[3] = text_or_null(module, &nulls[3]);
	args[4] = Int64GetDatum(repo_id);
	if (AstpgTablesDistributed())
		AstpgRoutedSettings();
	if (AstpgExecute(AstpgTablesDistributed() ? ASTPG_Q_ROUTED_LOCK_FILE :
					 ASTPG_Q_LOCK_FILE, args, nulls, SPI_OK_SELECT) == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return false;
	}

	tuple = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;
	*file_id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull));
	if (!DatumGetBool(SPI_getbinval(tuple, tupdesc, 2, &isnull)))
		elog(ERROR, "astpg.file_key collision for path \"%s\"",
			 text_to_cstring(path));
	/* a NULL comparison (no hash on either side) means changed */
	*unchanged = DatumGetBool(SPI_getbinval(tuple, tupdesc, 3, &isnull)) &&
		!isnull;
	*module_changed = DatumGetBool(SPI_getbinval(tuple, tupdesc, 4, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/* The file's own columns, in the order both INSERT and UPDATE bind them. */
static void
file_columns(AstpgDocument *doc, Datum *args, char *nulls)
{
	args[0] = text_or_null(doc->module, &nulls[0]);
	args[1] = PointerGetDatum(doc->language);
	args[2] = text_or_null(doc->revision, &nulls[2]);
	args[3] = Int64GetDatum(doc->size_bytes);
	nulls[3] = doc->has_size_bytes ? ' ' : 'n';
	args[4] = text_or_null(doc->content_hash, &nulls[4]);
	args[5] = PointerGetDatum(doc->ast);
	nulls[5] = doc->ast == NULL ? 'n' : ' ';
	args[6] = PointerGetDatum(doc->attrs);
	nulls[6] = doc->attrs == NULL ? 'n' : ' ';
}

/* Insert the file row; false if a concurrent session stored the path first. */
static bool
insert_file(AstpgDocument *doc, int64 repo_id, int64 *file_id)
{
	Datum		args[10];
	char		nulls[11] = "          ";
	bool		isnull;

	args[0] = PointerGetDatum(doc->repository);
	args[1] = PointerGetDatum(doc->path);
	file_columns(doc, &args[2], &nulls[2]);
	args[9] = Int64GetDatum(repo_id);
	if (AstpgExecute(ASTPG_Q_INSERT_FILE, args, nulls,
					 SPI_OK_INSERT_RETURNING) == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return false;
	}
	*file_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/* The parameters of REPLACE_FILE (and of its routed UPDATE). */
static void
replace_file_args(AstpgDocument *doc, int64 repo_id, int64 file_id,
				  Datum *args, char *nulls)
{
	args[0] = Int64GetDatum(file_id);
	file_columns(doc, &args[1], &nulls[1]);
	args[8] = Int64GetDatum(repo_id);
}

/* Update the stored file's row and delete every row below it. */
static void
replace_file(AstpgDocument *doc, int64 repo_id, int64 file_id)
{
	Datum		args[9];
	char		nulls[10] = "         ";

	replace_file_args(doc, repo_id, file_id, args, nulls);
	AstpgExecute(ASTPG_Q_REPLACE_FILE, args, nulls, SPI_OK_UPDATE);
}

/* The audit row of an unchanged document: all that it writes. */
static void
insert_audit(int64 repo_id, text *repository, text *path, text *revision,
			 text *content_hash, TimestampTz started,
			 AstpgIngestResult *result)
{
	Datum		args[13];
	char		nulls[14] = "             ";

	args[0] = PointerGetDatum(repository);
	args[1] = PointerGetDatum(path);
	args[2] = text_or_null(revision, &nulls[2]);
	args[3] = text_or_null(content_hash, &nulls[3]);
	args[4] = CStringGetTextDatum(AstpgStatusName(result->status));
	args[5] = Int64GetDatum(result->file_id);
	args[6] = Int32GetDatum(result->classes);
	args[7] = Int32GetDatum(result->functions);
	args[8] = Int32GetDatum(result->calls);
	args[9] = Int32GetDatum(result->dependencies);
	args[10] = Int32GetDatum(result->metrics);
	args[11] = TimestampTzGetDatum(started);
	args[12] = Int64GetDatum(repo_id);
	AstpgExecute(ASTPG_Q_INSERT_AUDIT, args, nulls, SPI_OK_INSERT);
}

const char *
AstpgStatusName(AstpgIngestStatus status)
{
	switch (status)
	{
		case ASTPG_INSERTED:
			return "inserted";
		case ASTPG_REPLACED:
			return "replaced";
		case ASTPG_UNCHANGED:
			return "unchanged";
		case ASTPG_REJECTED:
			return "rejected";
	}
	elog(ERROR, "unknown astpg ingest status %d", (int) status);
	return NULL;				/* keep compiler quiet */
}

/*
 * AstpgWriteDocument
 *		Store a validated document: insert it, replace the stored copy of its
 *		(repository, path), or leave an unchanged one alone; then log it.
 *
 * started is when the ingest began, for the audit log's duration.  The
 * counts in result are the rows written (zero when unchanged).
 */
void
AstpgWriteDocument(AstpgDocument *doc, TimestampTz started,
				   AstpgIngestResult *result)
{
	int64		repo_id = AstpgRepoId(doc->repository);
	int64		file_id = 0;
	bool		unchanged = false;
	bool		module_changed = false;

	memset(result, 0, sizeof(AstpgIngestResult));
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (lock_stored_file(repo_id, doc->repository, doc->path,
							 doc->content_hash,
							 doc->module, &file_id, &unchanged,
							 &module_changed))
		{
			result->status = unchanged ? ASTPG_UNCHANGED : ASTPG_REPLACED;
			break;
		}
		if (insert_file(doc, repo_id, &file_id))
		{
			result->status = ASTPG_INSERTED;
			break;
		}
		/* another session stored this path meanwhile: lock its row */
	}
	result->file_id = file_id;

	if (result->status == ASTPG_UNCHANGED)
	{
		insert_audit(repo_id, doc->repository, doc->path, doc->revision,
					 doc->content_hash, started, result);
		return;
	}
	result->classes = doc->nclasses;
	result->functions = doc->nfunctions;
	result->calls = doc->ncalls;
	result->dependencies = doc->ndependencies;
	result->metrics = doc->nmetrics;
	if (!AstpgTablesDistributed())
	{
		if (result->status == ASTPG_REPLACED)
			replace_file(doc, repo_id, file_id);
		write_document(doc, repo_id, file_id, module_changed, started, result);
		return;
	}

	/* on Citus: a statement a table, each on the repository's shard */
	if (result->status == ASTPG_REPLACED)
	{
		Datum		args[9];
		char		nulls[10] = "         ";

		replace_file_args(doc, repo_id, file_id, args, nulls);
		AstpgRoutedReplaceFile(repo_id, file_id, args, nulls);
	}
	AstpgRoutedWriteDocument(doc, repo_id, file_id, module_changed);
	insert_audit(repo_id, doc->repository, doc->path, doc->revision,
				 doc->content_hash, started, result);
}
