/*-------------------------------------------------------------------------
 *
 * queries_1_1.c
 *	  The SQL of every statement astpg runs, as it was for the tables of
 *	  versions 1.0 and 1.1 (no repo_id).
 *
 * A database whose extension is still at 1.0 or 1.1 keeps working with this
 * library until it is updated (ALTER EXTENSION astpg UPDATE), as the
 * upgrade test shows.  Like a released install script, this file is frozen:
 * it is never edited again.  Each statement takes the same parameters as
 * its current form in queries.c, less the trailing repo_id, which SPI then
 * ignores.  "@extschema@" stands for astpg's schema (see queries.c).
 *
 * IDENTIFICATION
 *	  src/queries_1_1.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "catalog/pg_type.h"

#define EQ " OPERATOR(pg_catalog.=) "

const AstpgQueryDef AstpgQueriesV1_1[ASTPG_NUM_QUERIES] = {
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
		" WHERE @extschema@.file_key(f.repository, f.path)" EQ "@extschema@.file_key($1, $2)"
		"   FOR NO KEY UPDATE OF f",
		4, {TEXTOID, TEXTOID, TEXTOID, TEXTOID}
	},

	/*
	 * A concurrent session may insert the same path first: DO NOTHING waits
	 * for it to commit, and the caller then locks the committed row.
	 */
	[ASTPG_Q_INSERT_FILE] = {
		"INSERT INTO @extschema@.files (repository, path, module, language, revision,"
		"                         size_bytes, content_hash, ast, attrs)"
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
		"        COALESCE($9, '{}'::pg_catalog.jsonb))"
		"    ON CONFLICT (@extschema@.file_key(repository, path)) DO NOTHING"
		" RETURNING file_id",
		9, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID,
		JSONBOID, JSONBOID}
	},

	/*
	 * A stored file being replaced: its row updated, every row of its
	 * children deleted, in one executor run.
	 */
	[ASTPG_Q_REPLACE_FILE] = {
		"WITH deleted_calls AS ("
		"       DELETE FROM @extschema@.calls WHERE file_id" EQ "$1),"
		"     deleted_functions AS ("
		"       DELETE FROM @extschema@.functions WHERE file_id" EQ "$1),"
		"     deleted_classes AS ("
		"       DELETE FROM @extschema@.classes WHERE file_id" EQ "$1),"
		"     deleted_dependencies AS ("
		"       DELETE FROM @extschema@.dependencies WHERE file_id" EQ "$1),"
		"     deleted_metrics AS ("
		"       DELETE FROM @extschema@.metrics WHERE file_id" EQ "$1)"
		"UPDATE @extschema@.files"
		"   SET module = $2, language = $3, revision = $4, size_bytes = $5,"
		"       content_hash = $6, ast = $7,"
		"       attrs = COALESCE($8, '{}'::pg_catalog.jsonb),"
		"       updated_at = pg_catalog.now()"
		" WHERE file_id" EQ "$1",
		8, {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, JSONBOID,
		JSONBOID}
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
		"       INSERT INTO @extschema@.classes (class_id, file_id, parent_id, name,"
		"                                  qualified_name, namespace, bases,"
		"                                  line_start, line_end, is_abstract, attrs)"
		"       SELECT c.class_id, $1, p.class_id, c.name, c.qualified_name,"
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
		"       INSERT INTO @extschema@.functions (function_id, file_id, class_id, name,"
		"                                    qualified_name, signature, parameters,"
		"                                    parameter_count, return_type,"
		"                                    line_start, line_end, complexity,"
		"                                    is_async, decorators, attrs)"
		"       SELECT f.function_id, $1, c.class_id, f.name, f.qualified_name,"
		"              f.signature, COALESCE(f.parameters, '[]'::pg_catalog.jsonb),"
		"              f.parameter_count, f.return_type, f.line_start, f.line_end,"
		"              f.complexity, f.is_async,"
		"              COALESCE(d.decorators, '{}'::pg_catalog.text[]),"
		"              COALESCE(f.attrs, '{}'::pg_catalog.jsonb)"
		"         FROM f"
		"         LEFT JOIN c ON c.ord" EQ "f.class_ord"
		"         LEFT JOIN decorators d ON d.owner" EQ "f.ord),"
		"     new_calls AS ("
		"       INSERT INTO @extschema@.calls (function_id, call_no, file_id, callee, line,"
		"                                attrs)"
		"       SELECT f.function_id, k.call_no, $1, k.callee, k.line,"
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
		"       INSERT INTO @extschema@.dependencies (file_id, dependency_no, target,"
		"                                       target_file_id, kind, line,"
		"                                       strength, names, attrs)"
		"       SELECT $1, d.ord::pg_catalog.int4, d.target,"
		"              COALESCE((SELECT pg_catalog.min(t.file_id) FROM @extschema@.files t"
		"                         WHERE t.module" EQ "d.target"
		"                           AND t.repository" EQ "$2),"
		"                       (SELECT t.file_id FROM @extschema@.files t"
		"                         WHERE @extschema@.file_key(t.repository, t.path)" EQ
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
		"       INSERT INTO @extschema@.metrics (file_id, name, value)"
		"       SELECT $1, m.name, m.value"
		"         FROM ROWS FROM (pg_catalog.unnest($46), pg_catalog.unnest($47))"
		"              AS m(name, value)),"
		"     unresolved AS ("
		"       UPDATE @extschema@.dependencies d SET target_file_id = NULL"
		"        WHERE d.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
		"               SELECT u.ctid FROM @extschema@.dependencies u"
		"                WHERE $5"
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
		"                    AND (SELECT t.repository FROM @extschema@.files t"
		"                          WHERE t.file_id" EQ "u.file_id)" EQ "$2"
		"                    FOR NO KEY UPDATE OF u SKIP LOCKED) AS by_module"
		"               UNION ALL"
		"               SELECT by_path.ctid FROM ("
		"                 SELECT u.ctid FROM @extschema@.dependencies u"
		"                  WHERE u.target_file_id IS NULL"
		"                    AND u.target" EQ "$4"
		"                    AND u.target IS DISTINCT FROM $3"
		"                    AND (SELECT t.repository FROM @extschema@.files t"
		"                          WHERE t.file_id" EQ "u.file_id)" EQ "$2"
		"                    FOR NO KEY UPDATE OF u SKIP LOCKED) AS by_path)))"
		"INSERT INTO @extschema@.ingests (repository, path, revision, content_hash,"
		"                           status, file_id, classes, functions, calls,"
		"                           dependencies, metrics, duration)"
		"VALUES ($2, $4, $6, $7, $8, $1, $48, $49, $50, $51, $52,"
		"        pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) $9)",
		52, {
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
			INT4OID, INT4OID, INT4OID, INT4OID, INT4OID
		}
	},

	/* an unchanged file: the audit row only */
	[ASTPG_Q_INSERT_AUDIT] = {
		"INSERT INTO @extschema@.ingests (repository, path, revision, content_hash,"
		"                           status, file_id, classes, functions, calls,"
		"                           dependencies, metrics, duration)"
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
		"        pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) $12)",
		12, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT4OID,
		INT4OID, INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID}
	},

	/* where a document says it belongs, if it says so in strings */
	[ASTPG_Q_INSERT_REJECT] = {
		"INSERT INTO @extschema@.rejects (source, position, repository, path,"
		"                           document, document_text, sqlstate,"
		"                           message, detail)"
		"SELECT $1, $2,"
		"       CASE WHEN pg_catalog.jsonb_typeof($3 OPERATOR(pg_catalog.->) 'repository')"
		"                 OPERATOR(pg_catalog.=) 'string'"
		"            THEN $3 OPERATOR(pg_catalog.->>) 'repository' END,"
		"       CASE WHEN pg_catalog.jsonb_typeof($3 OPERATOR(pg_catalog.->) 'path')"
		"                 OPERATOR(pg_catalog.=) 'string'"
		"            THEN $3 OPERATOR(pg_catalog.->>) 'path' END,"
		"       $3, $4, $5, $6, $7",
		7, {TEXTOID, INT8OID, JSONBOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}
	},
};
