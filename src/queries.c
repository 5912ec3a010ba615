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
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "catalog/pg_proc.h"

#define EQ " OPERATOR(pg_catalog.=) "

/*
 * From 1.5, the keys of a value (a path, a module, a target) within a
 * repository, as the indexes of astpg--1.4--1.5.sql hold them: 32 bits of
 * a hash of the repository, then 32 bits of a hash of the value.  Written
 * as those indexes are, so that the planner matches them; batch_writer.c
 * computes the same.
 */
#define FILE_HASH(repository, value) \
	"((pg_catalog.hashtextextended(" repository ", 0)" \
	" OPERATOR(pg_catalog.&) (-4294967296)::pg_catalog.int8)" \
	" OPERATOR(pg_catalog.|) (pg_catalog.hashtextextended(" value ", 0)" \
	" OPERATOR(pg_catalog.&) 4294967295::pg_catalog.int8))"
#define DEPENDENCY_HASH(repo_id, target) \
	"((" repo_id " OPERATOR(pg_catalog.&) (-4294967296)::pg_catalog.int8)" \
	" OPERATOR(pg_catalog.|) (pg_catalog.hashtextextended(" target ", " repo_id ")" \
	" OPERATOR(pg_catalog.&) 4294967295::pg_catalog.int8))"

/*
 * Stored dependencies that a batch may change (ASTPG_Q_BATCH_LOCK_DEPENDENTS),
 * the unresolved ones found by the key unresolved_key of their target.
 */
#define LOCK_DEPENDENTS(unresolved_key) \
	"SELECT u.ctid, u.target, u.target_file_id" \
	"  FROM @extschema@.dependencies u" \
	" WHERE ((u.target_file_id IS NULL" \
	"         AND " unresolved_key " OPERATOR(pg_catalog.=) ANY ($3)" \
	"         AND u.target OPERATOR(pg_catalog.=) ANY ($2))" \
	"        OR (u.target_file_id IS NOT NULL" \
	"            AND u.target_file_id OPERATOR(pg_catalog.=) ANY ($4)))" \
	"   AND (SELECT t.repository FROM @extschema@.files t" \
	"         WHERE t.file_id" EQ "u.file_id)" EQ "$1" \
	"   FOR NO KEY UPDATE OF u SKIP LOCKED"

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
		" WHERE @extschema@.file_key(f.repository, f.path)" EQ "@extschema@.file_key($1, $2)"
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
		"    ON CONFLICT (@extschema@.file_key(repository, path), repo_id) DO NOTHING"
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
	 * file_id wins when several share a module.  (OFFSET 0 keeps min() from
	 * being planned as a walk of files in file_id order until a module
	 * matches: a walk of the whole table for a module that is not stored.)  Stored dependencies of
	 * other files that name this one are resolved now; rows locked by a
	 * concurrent writer are skipped rather than waited for, since that
	 * writer is replacing or resolving them itself, and waiting could
	 * deadlock two sessions that ingest files importing each other.  If the
	 * file's module changed ($5), dependencies that named the old one are
	 * unresolved.
	 *
	 * Those two updates find their rows by one equality each (module and
	 * path are looked up apart, not with OR), check the repository by
	 * repo_id rather than a join, and update by ctid: kept plans are made
	 * once, often while the tables are still empty, and a shape with any
	 * other plan than the index lookup (a join, a self-join by key, an OR)
	 * then degenerates into walking a whole index for every file
	 * (sql/plans.sql checks it).  For the same reason no statement here
	 * names repo_id in a condition: every key holds it, and a plan made on
	 * empty tables may then read a whole key, filtering on repo_id, rather
	 * than look up the id or hash the statement is about (see
	 * astpg--1.1--1.2.sql).  Ids and file keys are unique across
	 * repositories, so they need no repo_id to find their row.
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
		"              COALESCE((SELECT pg_catalog.min(m.file_id)"
		"                          FROM (SELECT t.file_id FROM @extschema@.files t"
		"                                 WHERE t.module" EQ "d.target"
		"                                   AND t.repository" EQ "$2"
		"                                OFFSET 0) AS m),"
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
		"       INSERT INTO @extschema@.metrics (repo_id, file_id, name, value)"
		"       SELECT $53, $1, m.name, m.value"
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

	/*
	 * A stored version's metrics and aggregates (history.c).  From 1.3; the
	 * time is the statement's own, as in the audit row.
	 */
	[ASTPG_Q_INSERT_HISTORY] = {
		"INSERT INTO @extschema@.metric_history (repo_id, repository, path, file_id,"
		"                           revision, content_hash, status, ingested_at,"
		"                           functions, classes, complexity_total,"
		"                           complexity_max, metrics)"
		"VALUES ($1, $2, $3, $4, $5, $6, $7, pg_catalog.clock_timestamp(),"
		"        $8, $9, $10, $11, $12)",
		12, {INT8OID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID,
		INT4OID, INT4OID, INT8OID, INT4OID, JSONBOID}
	},

	/* where a document says it belongs, if it says so in strings */
	[ASTPG_Q_INSERT_REJECT] = {
		"INSERT INTO @extschema@.rejects (source, position, repository, path,"
		"                           document, document_text, sqlstate,"
		"                           message, detail, repo_id)"
		"VALUES ($1, $2, $8,"
		"        CASE WHEN pg_catalog.jsonb_typeof($3 OPERATOR(pg_catalog.->) 'path')"
		"                  OPERATOR(pg_catalog.=) 'string'"
		"             THEN $3 OPERATOR(pg_catalog.->>) 'path' END,"
		"        $3, $4, $5, $6, $7, $9)",
		9, {TEXTOID, INT8OID, JSONBOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, INT8OID}
	},

	/*
	 * On Citus, where the tables are distributed by repo_id, a document is
	 * written by the statements below instead of REPLACE_FILE and
	 * WRITE_DOCUMENT: Citus sends a statement to the one shard of the
	 * repository only if it touches one table (or is INSERT ... VALUES), so
	 * each of these does.  Rows go in as INSERT ... VALUES with unnest() of
	 * the array parameters in the single VALUES row, which the shard
	 * expands; ids are taken first, on the coordinator; lookups are
	 * separate statements whose answers the writer binds.  Citus plans
	 * these with the values (custom plans), as it needs them to find the
	 * shard.
	 */
	/* LOCK_FILE, with the key Citus routes by */
	[ASTPG_Q_ROUTED_LOCK_FILE] = {
		"SELECT f.file_id,"
		"       f.repository" EQ "$1 AND f.path" EQ "$2,"
		"       f.content_hash" EQ "$3,"
		"       f.module IS DISTINCT FROM $4"
		"  FROM @extschema@.files f"
		" WHERE f.repo_id" EQ "$5"
		"   AND @extschema@.file_key(f.repository, f.path)" EQ "@extschema@.file_key($1, $2)"
		"   FOR NO KEY UPDATE OF f",
		5, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID}, true
	},
	[ASTPG_Q_ROUTED_NEW_IDS] = {
		"SELECT ARRAY(SELECT pg_catalog.nextval('@extschema@.classes_class_id_seq'::pg_catalog.regclass)"
		"               FROM pg_catalog.generate_series(1, $1)),"
		"       ARRAY(SELECT pg_catalog.nextval('@extschema@.functions_function_id_seq'::pg_catalog.regclass)"
		"               FROM pg_catalog.generate_series(1, $2))",
		2, {INT4OID, INT4OID}, true
	},
	[ASTPG_Q_ROUTED_UPDATE_FILE] = {
		"UPDATE @extschema@.files"
		"   SET module = $2, language = $3, revision = $4, size_bytes = $5,"
		"       content_hash = $6, ast = $7,"
		"       attrs = COALESCE($8, '{}'::pg_catalog.jsonb),"
		"       updated_at = pg_catalog.now()"
		" WHERE repo_id" EQ "$9 AND file_id" EQ "$1",
		9, {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, JSONBOID,
		JSONBOID, INT8OID}, true
	},
	[ASTPG_Q_ROUTED_DELETE_CALLS] = {
		"DELETE FROM @extschema@.calls WHERE repo_id" EQ "$1 AND file_id" EQ "$2",
		2, {INT8OID, INT8OID}, true
	},
	[ASTPG_Q_ROUTED_DELETE_FUNCTIONS] = {
		"DELETE FROM @extschema@.functions WHERE repo_id" EQ "$1 AND file_id" EQ "$2",
		2, {INT8OID, INT8OID}, true
	},
	[ASTPG_Q_ROUTED_DELETE_CLASSES] = {
		"DELETE FROM @extschema@.classes WHERE repo_id" EQ "$1 AND file_id" EQ "$2",
		2, {INT8OID, INT8OID}, true
	},
	[ASTPG_Q_ROUTED_DELETE_DEPENDENCIES] = {
		"DELETE FROM @extschema@.dependencies WHERE repo_id" EQ "$1 AND file_id" EQ "$2",
		2, {INT8OID, INT8OID}, true
	},
	[ASTPG_Q_ROUTED_DELETE_METRICS] = {
		"DELETE FROM @extschema@.metrics WHERE repo_id" EQ "$1 AND file_id" EQ "$2",
		2, {INT8OID, INT8OID}, true
	},
	[ASTPG_Q_ROUTED_INSERT_CLASSES] = {
		"INSERT INTO @extschema@.classes (repo_id, file_id, class_id, parent_id, name,"
		"                                 qualified_name, namespace, bases,"
		"                                 line_start, line_end, is_abstract, attrs)"
		"VALUES ($1, $2, pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
		"        @extschema@.text_arrays($8), pg_catalog.unnest($9),"
		"        pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12))",
		12, {INT8OID, INT8OID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
			TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID,
		BOOLARRAYOID, JSONBARRAYOID}, true
	},
	[ASTPG_Q_ROUTED_INSERT_FUNCTIONS] = {
		"INSERT INTO @extschema@.functions (repo_id, file_id, function_id, class_id,"
		"                                   name, qualified_name, signature,"
		"                                   parameters, parameter_count, return_type,"
		"                                   line_start, line_end, complexity,"
		"                                   is_async, decorators, attrs)"
		"VALUES ($1, $2, pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
		"        pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10),"
		"        pg_catalog.unnest($11), pg_catalog.unnest($12), pg_catalog.unnest($13),"
		"        pg_catalog.unnest($14), @extschema@.text_arrays($15),"
		"        pg_catalog.unnest($16))",
		16, {INT8OID, INT8OID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
			TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, INT4ARRAYOID,
			TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID,
		BOOLARRAYOID, TEXTARRAYOID, JSONBARRAYOID}, true
	},
	[ASTPG_Q_ROUTED_INSERT_CALLS] = {
		"INSERT INTO @extschema@.calls (repo_id, file_id, function_id, call_no,"
		"                               callee, line, attrs)"
		"VALUES ($1, $2, pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7))",
		7, {INT8OID, INT8OID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
		INT4ARRAYOID, JSONBARRAYOID}, true
	},

	/* the stored files that dependency targets name: by module ... */
	[ASTPG_Q_ROUTED_FIND_MODULES] = {
		"SELECT t.module, pg_catalog.min(t.file_id)"
		"  FROM @extschema@.files t"
		" WHERE t.repo_id" EQ "$1 AND t.repository" EQ "$2"
		"   AND t.module OPERATOR(pg_catalog.=) ANY ($3)"
		" GROUP BY t.module",
		3, {INT8OID, TEXTOID, TEXTARRAYOID}, true
	},
	/* ... and by path */
	[ASTPG_Q_ROUTED_FIND_PATHS] = {
		"SELECT t.path, t.file_id"
		"  FROM @extschema@.files t"
		" WHERE t.repo_id" EQ "$1 AND t.repository" EQ "$2"
		"   AND t.path OPERATOR(pg_catalog.=) ANY ($3)",
		3, {INT8OID, TEXTOID, TEXTARRAYOID}, true
	},
	[ASTPG_Q_ROUTED_INSERT_DEPENDENCIES] = {
		"INSERT INTO @extschema@.dependencies (repo_id, file_id, dependency_no, target,"
		"                                      target_file_id, kind, line, strength,"
		"                                      names, attrs)"
		"VALUES ($1, $2, pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
		"        pg_catalog.unnest($8), @extschema@.text_arrays($9),"
		"        pg_catalog.unnest($10))",
		10, {INT8OID, INT8OID, INT4ARRAYOID, TEXTARRAYOID, INT8ARRAYOID,
			TEXTARRAYOID, INT4ARRAYOID, FLOAT8ARRAYOID, TEXTARRAYOID,
		JSONBARRAYOID}, true
	},
	[ASTPG_Q_ROUTED_INSERT_METRICS] = {
		"INSERT INTO @extschema@.metrics (repo_id, file_id, name, value)"
		"VALUES ($1, $2, pg_catalog.unnest($3), pg_catalog.unnest($4))",
		4, {INT8OID, INT8OID, TEXTARRAYOID, FLOAT8ARRAYOID}, true
	},

	/*
	 * Unresolved dependencies of the repository that name $2: those this
	 * file now resolves.  Rows a concurrent writer holds are skipped, as in
	 * WRITE_DOCUMENT.
	 */
	[ASTPG_Q_ROUTED_LOCK_WAITING] = {
		"SELECT u.ctid FROM @extschema@.dependencies u"
		" WHERE u.repo_id" EQ "$1"
		"   AND u.target_file_id IS NULL"
		"   AND u.target" EQ "$2"
		"   FOR NO KEY UPDATE OF u SKIP LOCKED",
		2, {INT8OID, TEXTOID}, true
	},
	/* dependencies resolved to file $2 that name neither its module nor path */
	[ASTPG_Q_ROUTED_LOCK_STALE] = {
		"SELECT u.ctid FROM @extschema@.dependencies u"
		" WHERE u.repo_id" EQ "$1"
		"   AND u.target_file_id" EQ "$2"
		"   AND u.target IS DISTINCT FROM $3"
		"   AND u.target IS DISTINCT FROM $4"
		"   FOR NO KEY UPDATE OF u SKIP LOCKED",
		4, {INT8OID, INT8OID, TEXTOID, TEXTOID}, true
	},
	[ASTPG_Q_ROUTED_SET_TARGETS] = {
		"UPDATE @extschema@.dependencies SET target_file_id = $3"
		" WHERE repo_id" EQ "$1"
		"   AND ctid OPERATOR(pg_catalog.=) ANY ($2)",
		3, {INT8OID, TIDARRAYOID, INT8OID}, true
	},

	/*
	 * From 1.4, a batch of documents of one repository is written with a
	 * statement per table (batch_writer.c): each statement takes the rows
	 * of every document in the batch as one array per column, and their
	 * file_ids as one more.  The repository's key is the scalar $1 (or
	 * last) parameter, so that on Citus each statement goes to one shard;
	 * inserts are planned with the values there (custom_on_citus), and on
	 * one server once (their plans look nothing up).
	 *
	 * The stored files of the batch, locked in the order of their paths
	 * (the batch is of one repository), as the batch inserts them, so that
	 * two sessions whose batches share paths cannot deadlock on them.
	 *
	 * From 1.5 they are found by the keys of their paths within the
	 * repository ($3), whose index keeps a repository's paths on pages of
	 * their own: at SERIALIZABLE this lookup's predicate locks are then on
	 * pages where only this repository's files go in.  Paths may share a
	 * key: the caller passes over a file whose file_key is none of the
	 * batch's ($1), locked needlessly.  Neither repo_id nor file_key is
	 * compared here, so that no other index can serve the lookup; file_key
	 * tells the repository.
	 */
	[ASTPG_Q_BATCH_LOCK_FILES] = {
		"SELECT f.file_id, @extschema@.file_key(f.repository, f.path),"
		"       f.repository, f.path, f.content_hash, f.module"
		"  FROM @extschema@.files f"
		" WHERE " FILE_HASH("f.repository", "f.path") " OPERATOR(pg_catalog.=) ANY ($3)"
		" ORDER BY f.path COLLATE pg_catalog.\"C\""
		"   FOR NO KEY UPDATE OF f",
		3, {BYTEAARRAYOID, INT8OID, INT8ARRAYOID}
	},
	/* the same by file_key, until ALTER EXTENSION astpg UPDATE TO '1.5' */
	[ASTPG_Q_BATCH_LOCK_FILES_1_4] = {
		"SELECT f.file_id, @extschema@.file_key(f.repository, f.path),"
		"       f.repository, f.path, f.content_hash, f.module"
		"  FROM @extschema@.files f"
		" WHERE @extschema@.file_key(f.repository, f.path) OPERATOR(pg_catalog.=) ANY ($1)"
		" ORDER BY f.path COLLATE pg_catalog.\"C\""
		"   FOR NO KEY UPDATE OF f",
		2, {BYTEAARRAYOID, INT8OID}
	},
	[ASTPG_Q_BATCH_ROUTED_LOCK_FILES] = {
		"SELECT f.file_id, @extschema@.file_key(f.repository, f.path),"
		"       f.repository, f.path, f.content_hash, f.module"
		"  FROM @extschema@.files f"
		" WHERE f.repo_id" EQ "$2"
		"   AND @extschema@.file_key(f.repository, f.path) OPERATOR(pg_catalog.=) ANY ($1)"
		" ORDER BY f.path COLLATE pg_catalog.\"C\""
		"   FOR NO KEY UPDATE OF f",
		2, {BYTEAARRAYOID, INT8OID}, true
	},
	/* paths not stored yet; those a concurrent session stored first are not returned */
	[ASTPG_Q_BATCH_INSERT_FILES] = {
		"INSERT INTO @extschema@.files (repo_id, repository, path, module, language,"
		"                               revision, size_bytes, content_hash, ast, attrs)"
		"VALUES ($1, $2, pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
		"        pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10))"
		"    ON CONFLICT (@extschema@.file_key(repository, path), repo_id) DO NOTHING"
		" RETURNING file_id, @extschema@.file_key(repository, path)",
		10, {INT8OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
			TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, JSONBARRAYOID,
		JSONBARRAYOID}, false, true
	},
	/* the rows below the replaced files: planned with the values, to use file_id */
	[ASTPG_Q_BATCH_DELETE_CALLS] = {
		"DELETE FROM @extschema@.calls WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},
	[ASTPG_Q_BATCH_DELETE_FUNCTIONS] = {
		"DELETE FROM @extschema@.functions WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},
	[ASTPG_Q_BATCH_DELETE_CLASSES] = {
		"DELETE FROM @extschema@.classes WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},
	[ASTPG_Q_BATCH_DELETE_DEPENDENCIES] = {
		"DELETE FROM @extschema@.dependencies WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},
	[ASTPG_Q_BATCH_DELETE_METRICS] = {
		"DELETE FROM @extschema@.metrics WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},
	[ASTPG_Q_BATCH_INSERT_CLASSES] = {
		"INSERT INTO @extschema@.classes (repo_id, file_id, class_id, parent_id, name,"
		"                                 qualified_name, namespace, bases,"
		"                                 line_start, line_end, is_abstract, attrs)"
		"VALUES ($1, pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
		"        @extschema@.text_arrays($8), pg_catalog.unnest($9),"
		"        pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12))",
		12, {INT8OID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
			TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID,
		BOOLARRAYOID, JSONBARRAYOID}, false, true
	},
	[ASTPG_Q_BATCH_INSERT_FUNCTIONS] = {
		"INSERT INTO @extschema@.functions (repo_id, file_id, function_id, class_id,"
		"                                   name, qualified_name, signature,"
		"                                   parameters, parameter_count, return_type,"
		"                                   line_start, line_end, complexity,"
		"                                   is_async, decorators, attrs)"
		"VALUES ($1, pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
		"        pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10),"
		"        pg_catalog.unnest($11), pg_catalog.unnest($12), pg_catalog.unnest($13),"
		"        pg_catalog.unnest($14), @extschema@.text_arrays($15),"
		"        pg_catalog.unnest($16))",
		16, {INT8OID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
			TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, INT4ARRAYOID,
			TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID,
		BOOLARRAYOID, TEXTARRAYOID, JSONBARRAYOID}, false, true
	},
	[ASTPG_Q_BATCH_INSERT_CALLS] = {
		"INSERT INTO @extschema@.calls (repo_id, file_id, function_id, call_no,"
		"                               callee, line, attrs)"
		"VALUES ($1, pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7))",
		7, {INT8OID, INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
		INT4ARRAYOID, JSONBARRAYOID}, false, true
	},
	[ASTPG_Q_BATCH_INSERT_DEPENDENCIES] = {
		"INSERT INTO @extschema@.dependencies (repo_id, file_id, dependency_no, target,"
		"                                      target_file_id, kind, line, strength,"
		"                                      names, attrs)"
		"VALUES ($1, pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
		"        pg_catalog.unnest($8), @extschema@.text_arrays($9),"
		"        pg_catalog.unnest($10))",
		10, {INT8OID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT8ARRAYOID,
			TEXTARRAYOID, INT4ARRAYOID, FLOAT8ARRAYOID, TEXTARRAYOID,
		JSONBARRAYOID}, false, true
	},
	[ASTPG_Q_BATCH_INSERT_METRICS] = {
		"INSERT INTO @extschema@.metrics (repo_id, file_id, name, value)"
		"VALUES ($1, pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4))",
		4, {INT8OID, INT8ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID}, false, true
	},

	/* the resolution rule: see astpg--1.3--1.4.sql */
	[ASTPG_Q_DEPENDENCY_TARGETS] = {
		"SELECT t.target, t.file_id"
		"  FROM @extschema@.dependency_targets($1, $2, $3) t",
		3, {TEXTOID, TEXTARRAYOID, BOOLOID}
	},

	/*
	 * Stored dependencies that the batch may change: unresolved ones that
	 * name one of its modules or paths ($2, with their keys in $3 for the
	 * index), and those resolved to a file whose module changed ($4).
	 * Rows a concurrent writer holds are skipped rather than waited for:
	 * that writer is replacing or resolving them itself, and waiting could
	 * deadlock two sessions that write files importing each other;
	 * resolve_dependencies() settles what such races leave.
	 *
	 * From 1.5 the unresolved ones are found by the keys of the names
	 * within the repository ($3), whose index keeps a repository's
	 * targets on pages of their own (see ASTPG_Q_BATCH_LOCK_FILES).
	 */
	[ASTPG_Q_BATCH_LOCK_DEPENDENTS] = {
		LOCK_DEPENDENTS(DEPENDENCY_HASH("u.repo_id", "u.target")),
		5, {TEXTOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8OID}
	},
	/* the same, until ALTER EXTENSION astpg UPDATE TO '1.5' */
	[ASTPG_Q_BATCH_LOCK_DEPENDENTS_1_4] = {
		LOCK_DEPENDENTS("pg_catalog.hashtextextended(u.target, u.repo_id)"),
		5, {TEXTOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8OID}
	},
	[ASTPG_Q_BATCH_ROUTED_LOCK_DEPENDENTS] = {
		"SELECT u.ctid, u.target, u.target_file_id"
		"  FROM @extschema@.dependencies u"
		" WHERE u.repo_id" EQ "$5"
		"   AND ((u.target_file_id IS NULL"
		"         AND u.target OPERATOR(pg_catalog.=) ANY ($2))"
		"        OR u.target_file_id OPERATOR(pg_catalog.=) ANY ($4))"
		"   FOR NO KEY UPDATE OF u SKIP LOCKED",
		5, {TEXTOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8OID}, true
	},
	/*
	 * The rows locked above, each to its own target (NULL: none): one
	 * table and no join, so that Citus sends it to one shard.  There are
	 * few such rows in a batch, so array_position's walk costs little.
	 */
	[ASTPG_Q_BATCH_SET_TARGETS] = {
		"UPDATE @extschema@.dependencies d"
		"   SET target_file_id = ($3)[pg_catalog.array_position($2, d.ctid)]"
		" WHERE d.repo_id" EQ "$1 AND d.ctid OPERATOR(pg_catalog.=) ANY ($2)",
		3, {INT8OID, TIDARRAYOID, INT8ARRAYOID}, true
	},
	[ASTPG_Q_BATCH_INSERT_AUDIT] = {
		"INSERT INTO @extschema@.ingests (repo_id, repository, path, revision,"
		"                                 content_hash, status, file_id, classes,"
		"                                 functions, calls, dependencies, metrics,"
		"                                 duration)"
		"VALUES ($1, $2, pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
		"        pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10),"
		"        pg_catalog.unnest($11), pg_catalog.unnest($12), pg_catalog.unnest($13))",
		13, {INT8OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
			TEXTARRAYOID, INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID,
			INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INTERVALARRAYOID},
		false, true
	},
	[ASTPG_Q_BATCH_INSERT_HISTORY] = {
		"INSERT INTO @extschema@.metric_history (repo_id, repository, path, file_id,"
		"                           revision, content_hash, status, ingested_at,"
		"                           functions, classes, complexity_total,"
		"                           complexity_max, metrics)"
		"VALUES ($1, $2, pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
		"        pg_catalog.clock_timestamp(), pg_catalog.unnest($8),"
		"        pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11),"
		"        pg_catalog.unnest($12))",
		12, {INT8OID, TEXTOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
			TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID,
		INT8ARRAYOID, INT4ARRAYOID, JSONBARRAYOID}, false, true
	},
};

/*
 * The installed extension, as the plans were prepared for it: its OID, and
 * which set of statements fits its tables.
 */
static SPIPlanPtr plans[ASTPG_NUM_QUERIES];
static Oid	plans_extension_oid = InvalidOid;

/*
 * Are astpg's tables distributed by Citus?  Found out when first asked and
 * kept until astpg.files changes: distributing it (or undoing that) sends a
 * relcache invalidation for it, which clears distributed_known.  So the
 * catalogs are not asked again for every document.
 */
static bool distributed_known = false;
static bool tables_distributed = false;
static Oid	files_relid = InvalidOid;
static Oid	schema_oid = InvalidOid;

static void
forget_distributed(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == files_relid)
		distributed_known = false;
}

/*
 * Is astpg.files a Citus table?  Only asked when the citus extension is
 * installed in this database; pg_dist_partition exists only then.
 */
static bool
files_distributed(void)
{
	static const char *sql =
		"SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p"
		"                WHERE p.logicalrelid" EQ "$1)";
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	bool		isnull;
	bool		result;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return false;
	args[0] = ObjectIdGetDatum(files_relid);
	if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not find out whether astpg's tables are distributed");
	result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/*
 * AstpgTablesDistributed
 *		Are astpg's tables distributed (Citus)?  Up to date as of the last
 *		AstpgResetPlansIfStale.
 */
bool
AstpgTablesDistributed(void)
{
	return tables_distributed;
}

/*
 * AstpgHistoryKept
 *		Does the installed version keep astpg.metric_history (1.3 on)?
 *
 * A catalog cache lookup, cheap enough for every document, and right at
 * once after ALTER EXTENSION UPDATE.  Valid after AstpgResetPlansIfStale.
 */
bool
AstpgHistoryKept(void)
{
	return OidIsValid(get_relname_relid("metric_history", schema_oid));
}

/*
 * AstpgBatchesWritten
 *		Does the installed version write documents a batch at a time (1.4
 *		on)?  Its inbox_flush() tells, found through the catalog cache.
 */
bool
AstpgBatchesWritten(void)
{
	return OidIsValid(GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
									  CStringGetDatum("inbox_flush"),
									  PointerGetDatum(buildoidvector(NULL, 0)),
									  ObjectIdGetDatum(schema_oid)));
}

/*
 * AstpgKeyedByRepository
 *		Are paths, modules and unresolved targets indexed by their keys
 *		within the repository (FILE_HASH, DEPENDENCY_HASH: 1.5 on)?
 *		files_repository_path_idx tells, found through the catalog cache.
 *		Valid after AstpgResetPlansIfStale.
 */
bool
AstpgKeyedByRepository(void)
{
	return OidIsValid(get_relname_relid("files_repository_path_idx", schema_oid));
}

/*
 * AstpgResetPlansIfStale
 *		Drop every kept plan if the extension was created anew since they
 *		were prepared: they name tables that no longer exist.
 *
 * Called once per document, inside SPI.  Also finds out, when it is not
 * known, whether the tables are distributed.
 */
void
AstpgResetPlansIfStale(void)
{
	static bool callback_registered = false;
	MemoryContext caller_context = CurrentMemoryContext;
	Oid			extension_oid = get_extension_oid("astpg", false);

	if (extension_oid != plans_extension_oid || !distributed_known)
	{
		AstpgExtension ext;

		if (!callback_registered)
		{
			CacheRegisterRelcacheCallback(forget_distributed, (Datum) 0);
			callback_registered = true;
		}
		AstpgCheckExtension(&ext);
		schema_oid = ext.schema_oid;
		files_relid = get_relname_relid("files", ext.schema_oid);
		tables_distributed = files_distributed();
		distributed_known = true;
		MemoryContextSwitchTo(caller_context);
	}
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
	/* 1.3 to 1.5 left the tables 1.2's statements write as they were */
	if (strcmp(version, ASTPG_TABLES_VERSION) == 0 ||
		strcmp(version, "1.6") == 0 ||
		strcmp(version, "1.4") == 0 || strcmp(version, "1.3") == 0 ||
		strcmp(version, "1.2") == 0)
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
	if (def->sql == NULL)
		elog(ERROR, "astpg query %d does not exist in version %s",
			 (int) query, ext.version);
	sql = qualified_sql(def->sql, quote_identifier(ext.schema_name));

	/*
	 * Generic plans from the start: every lookup goes through a unique key
	 * or a hash index whatever the parameters, so a custom plan per call
	 * would only cost planning time.  (Citus needs the values to route a
	 * statement with several tables; the statements it runs take no
	 * generic plan, or are single-table statements it routes generically.)
	 */
	plan = SPI_prepare_cursor(sql, def->nargs, (Oid *) def->argtypes,
							  def->custom_plans ||
							  (def->custom_on_citus && AstpgTablesDistributed()) ?
							  0 : CURSOR_OPT_GENERIC_PLAN);
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
