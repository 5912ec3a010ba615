/*-------------------------------------------------------------------------
 *
 * queries.c
 *	  Every SQL statement astpg runs through SPI, and the cache of their
 *	  prepared plans.
 *
 * Plans are prepared on first use in a backend (SPI_prepare), kept for the
 * life of the backend (SPI_keepplan) and dropped when the extension is
 * dropped and created again, which gives its tables new OIDs.  Document
 * values reach SQL only as $n parameters, never as text of a statement.
 *
 * The statements name astpg's objects as "@extschema@.name", and the
 * schema's name is filled in from the extension's catalog entry (by OID)
 * when a plan is prepared, after checking that nobody but a superuser
 * controls that schema (extension.c).  A schema renamed and replaced by a
 * look-alike is therefore never used.
 *
 * Every statement ends with the parameters of the repository's key
 * (repo_id), so that the statements of 1.0 and 1.1 (queries_1_1.c), which
 * take the same parameters less that one, can be bound from the same
 * values.
 *
 * Statements are written set-wise: one executor run writes all the rows of
 * one document, from arrays bound as parameters, so that a new file costs
 * three statements (look for it, insert its row, write the rest) whatever
 * its size.
 *
 * Lookups go through unique keys or hash indexes only (see the install
 * script), so that a kept generic plan cannot turn into a scan that grows
 * with the table.  Every object is schema-qualified and every comparison
 * uses OPERATOR(pg_catalog.=), so that nothing on the caller's search_path
 * can stand in for them.
 *
 * IDENTIFICATION
 *	  src/queries.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#define EQ " OPERATOR(pg_catalog.=) "

static const AstpgQueryDef queries[ASTPG_NUM_QUERIES] = {
	/*
	 * Find and lock the stored file of (repository, path).  FOR NO KEY
	 * UPDATE serializes writers of one path without blocking the foreign-key
	 * checks of dependencies that point at the file (FOR KEY SHARE).
	 */
	[ASTPG_Q_LOCK_FILE] = {
		"SELECT f.file_id,"
		"       f.repository" EQ "$1 AND f.path" EQ "$2,"
		"       f.content_hash" EQ "$3,"
		"       f.module IS DISTINCT FROM $4"
		"  FROM @extschema@.files f"
		" WHERE f.repo_id" EQ "$5"
		"   AND @extschema@.file_key(f.repository, f.path)" EQ "@extschema@.file_key($1, $2)"
		"   FOR NO KEY UPDATE OF f",
		5, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID}
	},

	/*
	 * A concurrent session may insert the same path first: DO NOTHING waits
	 * for it to commit, and the caller then locks the committed row.
	 */
	[ASTPG_Q_INSERT_FILE] = {
		"INSERT INTO @extschema@.files (repository, path, module, language, revision,"
		"                         size_bytes, content_hash, ast, attrs, repo_id)"
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
		"        COALESCE($9, '{}'::pg_catalog.jsonb), $10)"
		"    ON CONFLICT (repo_id, @extschema@.file_key(repository, path)) DO NOTHING"
		" RETURNING file_id",
		10, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID,
		JSONBOID, JSONBOID, INT8OID}
	},

	/*
	 * A stored file being replaced: its row updated, every row of its
	 * children deleted, in one executor run.
	 */
	[ASTPG_Q_REPLACE_FILE] = {
		"WITH deleted_calls AS ("
		"       DELETE FROM @extschema@.calls"
		"        WHERE repo_id" EQ "$9 AND file_id" EQ "$1),"
		"     deleted_functions AS ("
		"       DELETE FROM @extschema@.functions"
		"        WHERE repo_id" EQ "$9 AND file_id" EQ "$1),"
		"     deleted_classes AS ("
		"       DELETE FROM @extschema@.classes"
		"        WHERE repo_id" EQ "$9 AND file_id" EQ "$1),"
		"     deleted_dependencies AS ("
		"       DELETE FROM @extschema@.dependencies"
		"        WHERE repo_id" EQ "$9 AND file_id" EQ "$1),"
		"     deleted_metrics AS ("
		"       DELETE FROM @extschema@.metrics"
		"        WHERE repo_id" EQ "$9 AND file_id" EQ "$1)"
		"UPDATE @extschema@.files"
		"   SET module = $2, language = $3, revision = $4, size_bytes = $5,"
		"       content_hash = $6, ast = $7,"
		"       attrs = COALESCE($8, '{}'::pg_catalog.jsonb),"
		"       updated_at = pg_catalog.now()"
		" WHERE repo_id" EQ "$9 AND file_id" EQ "$1",
		9, {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, JSONBOID,
		JSONBOID, INT8OID}
	},

	/*
	 * Everything of a document below its file row, in one executor run:
	 * classes, functions, calls, dependencies, metrics, the resolution of
	 * other files' dependencies on this one, and the audit row.
	 *
	 * Rows arrive as one array per column.  Class and function ids are
	 * taken here, and links between rows (a nested class's parent, a
	 * method's class, a call's function) are 1-based positions in those
	 * arrays, joined to the ids.  Strings for text[] columns (bases,
	 * decorators, names) arrive as flat (owner position, value) pairs and
	 * are regrouped with array_agg.
	 *
	 * A dependency resolves to the file of its repository whose module (or
	 * else whose path) equals its target, if that file is stored; the lowest
	 * file_id wins when several share a module.  Stored dependencies of
	 * other files that name this one are resolved now; rows locked by a
	 * concurrent writer are skipped rather than waited for, since that
	 * writer is replacing or resolving them itself, and waiting could
	 * deadlock two sessions that ingest files importing each other.  If the
	 * file's module changed ($5), dependencies that named the old one are
	 * unresolved.
	 *
	 * Those two updates find their rows by one equality each (module and
	 * path are looked up apart, not with OR), check the repository with a
	 * subquery rather than a join, and update by ctid: kept plans are made
	 * once, often while the tables are still empty, and a shape with any
	 * other plan than the index lookup (a join, a self-join by key, an OR)
	 * then degenerates into walking a whole index for every file
	 * (sql/plans.sql checks it).
	 */
	[ASTPG_Q_WRITE_DOCUMENT] = {
		"WITH c AS ("
		"       SELECT pg_catalog.nextval('@extschema@.classes_class_id_seq'::pg_catalog.regclass) AS class_id, c.*"
		"         FROM ROWS FROM (pg_catalog.unnest($10), pg_catalog.unnest($11),"
		"                         pg_catalog.unnest($12), pg_catalog.unnest($13),"
		"                         pg_catalog.unnest($14), pg_catalog.unnest($15),"
		"                         pg_catalog.unnest($16), pg_catalog.unnest($17))"
		"              WITH ORDINALITY AS c(parent_ord, name, qualified_name, namespace,"
		"                                   line_start, line_end, is_abstract, attrs, ord)),"
		"     bases AS ("
		"       SELECT b.owner, pg_catalog.array_agg(b.value ORDER BY b.ord) AS bases"
		"         FROM ROWS FROM (pg_catalog.unnest($18), pg_catalog.unnest($19))"
		"              WITH ORDINALITY AS b(owner, value, ord)"
		"        GROUP BY b.owner),"
		"     new_classes AS ("
		"       INSERT INTO @extschema@.classes (repo_id, class_id, file_id, parent_id,"
		"                                  name, qualified_name, namespace, bases,"
		"                                  line_start, line_end, is_abstract, attrs)"
		"       SELECT $53, c.class_id, $1, p.class_id, c.name, c.qualified_name,"
		"              c.namespace, COALESCE(b.bases, '{}'::pg_catalog.text[]),"
		"              c.line_start, c.line_end, c.is_abstract,"
		"              COALESCE(c.attrs, '{}'::pg_catalog.jsonb)"
		"         FROM c"
		"         LEFT JOIN c p ON p.ord" EQ "c.parent_ord"
		"         LEFT JOIN bases b ON b.owner" EQ "c.ord),"
		"     f AS ("
		"       SELECT pg_catalog.nextval('@extschema@.functions_function_id_seq'::pg_catalog.regclass) AS function_id, f.*"
		"         FROM ROWS FROM (pg_catalog.unnest($20), pg_catalog.unnest($21),"
		"                         pg_catalog.unnest($22), pg_catalog.unnest($23),"
		"                         pg_catalog.unnest($24), pg_catalog.unnest($25),"
		"                         pg_catalog.unnest($26), pg_catalog.unnest($27),"
		"                         pg_catalog.unnest($28), pg_catalog.unnest($29),"
		"                         pg_catalog.unnest($30), pg_catalog.unnest($31))"
		"              WITH ORDINALITY AS f(class_ord, name, qualified_name, signature,"
		"                                   parameters, parameter_count, return_type,"
		"                                   line_start, line_end, complexity,"
		"                                   is_async, attrs, ord)),"
		"     decorators AS ("
		"       SELECT d.owner, pg_catalog.array_agg(d.value ORDER BY d.ord) AS decorators"
		"         FROM ROWS FROM (pg_catalog.unnest($32), pg_catalog.unnest($33))"
		"              WITH ORDINALITY AS d(owner, value, ord)"
		"        GROUP BY d.owner),"
		"     new_functions AS ("
		"       INSERT INTO @extschema@.functions (repo_id, function_id, file_id,"
		"                                    class_id, name,"
		"                                    qualified_name, signature, parameters,"
		"                                    parameter_count, return_type,"
		"                                    line_start, line_end, complexity,"
		"                                    is_async, decorators, attrs)"
		"       SELECT $53, f.function_id, $1, c.class_id, f.name, f.qualified_name,"
		"              f.signature, COALESCE(f.parameters, '[]'::pg_catalog.jsonb),"
		"              f.parameter_count, f.return_type, f.line_start, f.line_end,"
		"              f.complexity, f.is_async,"
		"              COALESCE(d.decorators, '{}'::pg_catalog.text[]),"
		"              COALESCE(f.attrs, '{}'::pg_catalog.jsonb)"
		"         FROM f"
		"         LEFT JOIN c ON c.ord" EQ "f.class_ord"
		"         LEFT JOIN decorators d ON d.owner" EQ "f.ord),"
		"     new_calls AS ("
		"       INSERT INTO @extschema@.calls (repo_id, function_id, call_no, file_id,"
		"                                callee, line, attrs)"
		"       SELECT $53, f.function_id, k.call_no, $1, k.callee, k.line,"
		"              COALESCE(k.attrs, '{}'::pg_catalog.jsonb)"
		"         FROM ROWS FROM (pg_catalog.unnest($34), pg_catalog.unnest($35),"
		"                         pg_catalog.unnest($36), pg_catalog.unnest($37),"
		"                         pg_catalog.unnest($38))"
		"              AS k(function_ord, call_no, callee, line, attrs)"
		"         JOIN f ON f.ord" EQ "k.function_ord),"
		"     names AS ("
		"       SELECT n.owner, pg_catalog.array_agg(n.value ORDER BY n.ord) AS names"
		"         FROM ROWS FROM (pg_catalog.unnest($44), pg_catalog.unnest($45))"
		"              WITH ORDINALITY AS n(owner, value, ord)"
		"        GROUP BY n.owner),"
		"     new_dependencies AS ("
		"       INSERT INTO @extschema@.dependencies (repo_id, file_id, dependency_no,"
		"                                       target, target_file_id, kind, line,"
		"                                       strength, names, attrs)"
		"       SELECT $53, $1, d.ord::pg_catalog.int4, d.target,"
		"              COALESCE((SELECT pg_catalog.min(t.file_id) FROM @extschema@.files t"
		"                         WHERE t.module" EQ "d.target"
		"                           AND t.repo_id" EQ "$53"
		"                           AND t.repository" EQ "$2),"
		"                       (SELECT t.file_id FROM @extschema@.files t"
		"                         WHERE t.repo_id" EQ "$53"
		"                           AND @extschema@.file_key(t.repository, t.path)" EQ
		"                               @extschema@.file_key($2, d.target)"
		"                           AND t.repository" EQ "$2"
		"                           AND t.path" EQ "d.target)),"
		"              COALESCE(d.kind, 'import'), d.line, d.strength,"
		"              COALESCE(n.names, '{}'::pg_catalog.text[]),"
		"              COALESCE(d.attrs, '{}'::pg_catalog.jsonb)"
		"         FROM ROWS FROM (pg_catalog.unnest($39), pg_catalog.unnest($40),"
		"                         pg_catalog.unnest($41), pg_catalog.unnest($42),"
		"                         pg_catalog.unnest($43))"
		"              WITH ORDINALITY AS d(target, kind, line, strength, attrs, ord)"
		"         LEFT JOIN names n ON n.owner" EQ "d.ord),"
		"     new_metrics AS ("
		"       INSERT INTO @extschema@.metrics (repo_id, file_id, name, value)"
		"       SELECT $53, $1, m.name, m.value"
		"         FROM ROWS FROM (pg_catalog.unnest($46), pg_catalog.unnest($47))"
		"              AS m(name, value)),"
		"     unresolved AS ("
		"       UPDATE @extschema@.dependencies d SET target_file_id = NULL"
		"        WHERE d.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
		"               SELECT u.ctid FROM @extschema@.dependencies u"
		"                WHERE $5"
		"                  AND u.repo_id" EQ "$53"
		"                  AND u.target_file_id" EQ "$1"
		"                  AND u.target IS DISTINCT FROM $3"
		"                  AND u.target IS DISTINCT FROM $4"
		"                  FOR NO KEY UPDATE OF u SKIP LOCKED))),"
		"     resolved AS ("
		"       UPDATE @extschema@.dependencies d SET target_file_id = $1"
		"        WHERE d.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
		"               SELECT by_module.ctid FROM ("
		"                 SELECT u.ctid FROM @extschema@.dependencies u"
		"                  WHERE u.target_file_id IS NULL"
		"                    AND u.target" EQ "$3"
		"                    AND u.repo_id" EQ "$53"
		"                    FOR NO KEY UPDATE OF u SKIP LOCKED) AS by_module"
		"               UNION ALL"
		"               SELECT by_path.ctid FROM ("
		"                 SELECT u.ctid FROM @extschema@.dependencies u"
		"                  WHERE u.target_file_id IS NULL"
		"                    AND u.target" EQ "$4"
		"                    AND u.target IS DISTINCT FROM $3"
		"                    AND u.repo_id" EQ "$53"
		"                    FOR NO KEY UPDATE OF u SKIP LOCKED) AS by_path)))"
		"INSERT INTO @extschema@.ingests (repository, path, revision, content_hash,"
		"                           status, file_id, classes, functions, calls,"
		"                           dependencies, metrics, duration, repo_id)"
		"VALUES ($2, $4, $6, $7, $8, $1, $48, $49, $50, $51, $52,"
		"        pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) $9, $53)",
		53, {
			/* $1-$9: the file, and its audit row */
			INT8OID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID, TEXTOID,
			TEXTOID, TIMESTAMPTZOID,
			/* $10-$19: classes */
			INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
			INT4ARRAYOID, INT4ARRAYOID, BOOLARRAYOID, JSONBARRAYOID,
			INT8ARRAYOID, TEXTARRAYOID,
			/* $20-$33: functions */
			INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
			JSONBARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
			INT4ARRAYOID, INT4ARRAYOID, BOOLARRAYOID, JSONBARRAYOID,
			INT8ARRAYOID, TEXTARRAYOID,
			/* $34-$38: calls */
			INT4ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
			JSONBARRAYOID,
			/* $39-$45: dependencies */
			TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, FLOAT8ARRAYOID,
			JSONBARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
			/* $46-$47: metrics */
			TEXTARRAYOID, FLOAT8ARRAYOID,
			/* $48-$52: the audit row's counts */
			INT4OID, INT4OID, INT4OID, INT4OID, INT4OID,
			/* $53: the repository's key */
			INT8OID
		}
	},

	/* an unchanged file: the audit row only */
	[ASTPG_Q_INSERT_AUDIT] = {
		"INSERT INTO @extschema@.ingests (repository, path, revision, content_hash,"
		"                           status, file_id, classes, functions, calls,"
		"                           dependencies, metrics, duration, repo_id)"
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
		"        pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) $12, $13)",
		13, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT4OID,
		INT4OID, INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID, INT8OID}
	},

	/* where a document says it belongs, if it says so in strings */
	[ASTPG_Q_INSERT_REJECT] = {
		"INSERT INTO @extschema@.rejects (source, position, repository, path,"
		"                           document, document_text, sqlstate,"
		"                           message, detail, repo_id)"
		"SELECT $1, $2, r.repository,"
		"       CASE WHEN pg_catalog.jsonb_typeof($3 OPERATOR(pg_catalog.->) 'path')"
		"                 OPERATOR(pg_catalog.=) 'string'"
		"            THEN $3 OPERATOR(pg_catalog.->>) 'path' END,"
		"       $3, $4, $5, $6, $7,"
		"       @extschema@.repo_id(COALESCE(r.repository, ''))"
		"  FROM (SELECT CASE WHEN pg_catalog.jsonb_typeof($3 OPERATOR(pg_catalog.->) 'repository')"
		"                         OPERATOR(pg_catalog.=) 'string'"
		"                    THEN $3 OPERATOR(pg_catalog.->>) 'repository' END) AS r(repository)",
		7, {TEXTOID, INT8OID, JSONBOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}
	},
};

/*
 * The installed extension, as the plans were prepared for it: its OID, and
 * which set of statements fits its tables.
 */
static SPIPlanPtr plans[ASTPG_NUM_QUERIES];
static Oid	plans_extension_oid = InvalidOid;

/*
 * AstpgResetPlansIfStale
 *		Drop every kept plan if the extension was created anew since they
 *		were prepared: they name tables that no longer exist.
 *
 * Called once per SQL-level call, inside SPI.
 */
void
AstpgResetPlansIfStale(void)
{
	Oid			extension_oid = get_extension_oid("astpg", false);

	if (extension_oid == plans_extension_oid)
		return;
	for (int i = 0; i < ASTPG_NUM_QUERIES; i++)
	{
		if (plans[i] != NULL)
			SPI_freeplan(plans[i]);
		plans[i] = NULL;
	}
	plans_extension_oid = extension_oid;
}

/*
 * The statements that fit the installed version's tables: the current ones,
 * or the frozen ones of 1.0 and 1.1 until the extension is updated.
 */
static const AstpgQueryDef *
queries_for_version(const char *version)
{
	if (strcmp(version, ASTPG_TABLES_VERSION) == 0)
		return queries;
	if (strcmp(version, "1.0") == 0 || strcmp(version, "1.1") == 0)
		return AstpgQueriesV1_1;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("astpg's library does not support version \"%s\" of the extension",
					version),
			 errhint("Install the astpg library that comes with that version.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * The SQL of a statement with "@extschema@" replaced by the quoted name of
 * the extension's schema, found through its OID: what the statement names
 * is the extension's own objects, wherever they are.
 */
static char *
qualified_sql(const char *sql, const char *schema)
{
	StringInfoData buf;
	const char *placeholder = "@extschema@";
	size_t		len = strlen(placeholder);
	const char *p;

	initStringInfo(&buf);
	while ((p = strstr(sql, placeholder)) != NULL)
	{
		appendBinaryStringInfo(&buf, sql, p - sql);
		appendStringInfoString(&buf, schema);
		sql = p + len;
	}
	appendStringInfoString(&buf, sql);
	return buf.data;
}

static SPIPlanPtr
get_plan(AstpgQuery query)
{
	SPIPlanPtr	plan = plans[query];
	AstpgExtension ext;
	const AstpgQueryDef *def;
	char	   *sql;

	if (plan != NULL && SPI_plan_is_valid(plan))
		return plan;
	if (plan != NULL)
		SPI_freeplan(plan);
	plans[query] = NULL;

	/*
	 * Looked up again whenever a plan is (re)prepared: ALTER EXTENSION
	 * UPDATE changes the tables (invalidating the plans) and the version.
	 */
	AstpgCheckExtension(&ext);
	def = &queries_for_version(ext.version)[query];
	sql = qualified_sql(def->sql, quote_identifier(ext.schema_name));

	/*
	 * Generic plans from the start: every lookup goes through a unique key
	 * or a hash index whatever the parameters, so a custom plan per call
	 * would only cost planning time.
	 */
	plan = SPI_prepare_cursor(sql, def->nargs, (Oid *) def->argtypes,
							  CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for astpg query %d: %s",
			 (int) query, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed for astpg query %d", (int) query);
	pfree(sql);
	plans[query] = plan;
	return plan;
}

/*
 * AstpgExecute
 *		Run one of astpg's statements with the given parameters.
 *
 * values and nulls are those of the current statement (queries.c); a
 * statement of an older version takes a prefix of them.  nulls follows
 * SPI's convention (' ' not null, 'n' null; NULL: none).  expected is the
 * SPI_OK_* code the statement must return.  Results stay in SPI_tuptable
 * for the caller, who frees them.  The caller's memory context is current
 * again on return (SPI leaves its own current).
 */
int
AstpgExecute(AstpgQuery query, Datum *values, const char *nulls, int expected)
{
	MemoryContext caller_context = CurrentMemoryContext;
	int			ret;

	ret = SPI_execute_plan(get_plan(query), values, nulls, false, 0);
	if (ret != expected)
		elog(ERROR, "astpg query %d failed: %s", (int) query,
			 SPI_result_code_string(ret));
	MemoryContextSwitchTo(caller_context);
	return (int) SPI_processed;
}
