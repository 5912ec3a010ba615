/*-------------------------------------------------------------------------
 *
 * queries.c
 *	  Every SQL statement the writer runs through SPI, the cache of their
 *	  prepared plans, and the check that the installed extension is the
 *	  library's own version.
 *
 * The library serves one version of the extension (ASTPG_VERSION, from
 * astpg.control).  Every writing entry point first calls
 * AstpgCheckInstalledVersion, which reads astpg's row of pg_extension; when
 * the extension was created anew or updated since the plans were prepared,
 * the plans are dropped, and a version other than the library's is refused
 * with the hint to update it: the statements here are written for the
 * tables of that one version.  Reads written in SQL keep working.
 *
 * Plans are prepared on first use in a backend (SPI_prepare), kept
 * (SPI_keepplan) while the extension's OID and version stay the same, and
 * prepared again when PostgreSQL invalidates them (SPI_plan_is_valid).
 * Document values reach SQL only as $n parameters, never as text of a
 * statement.
 *
 * The statements name astpg's objects as "@extschema@.name", and the
 * schema's name is filled in from the extension's catalog entry (by OID)
 * when a plan is prepared, after checking that nobody but a superuser
 * controls that schema (extension.c).  A schema renamed and replaced by a
 * look-alike is therefore never used.  Every comparison uses
 * OPERATOR(pg_catalog.=), so that nothing on the caller's search_path can
 * stand in for it.
 *
 * Statements are written set-wise: each writes the rows of a whole batch
 * of one repository into one table, from arrays bound as parameters.  The
 * repository's key is a scalar parameter, so that on Citus, where the
 * tables are distributed by it, each statement goes to one shard.
 *
 * Lookups go through unique keys or indexes by construction, so that a
 * kept generic plan cannot turn into a scan that grows with the table
 * (sql/plans.sql checks the shapes).
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
#include "utils/memutils.h"

#define EQ " OPERATOR(pg_catalog.=) "

/*
 * The keys of a value (a path, a module, a target) within a repository, as
 * the indexes files_repository_path_idx, files_repository_module_idx and
 * dependencies_unresolved_target_idx hold them: 32 bits of a hash of the
 * repository, then 32 bits of a hash of the value.  Written as those
 * indexes are, so that the planner matches them; batch_writer.c computes
 * the same.
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

static const AstpgQueryDef queries[ASTPG_NUM_QUERIES] = {
	/*
	 * The stored files of a batch (of one repository), locked in the order
	 * of their paths, as the batch inserts them, so that two sessions whose
	 * batches share paths cannot deadlock on them.
	 *
	 * They are found by the keys of their paths within the repository ($3),
	 * whose index (files_repository_path_idx) keeps a repository's paths on
	 * pages of their own: at SERIALIZABLE this lookup's predicate locks are
	 * then on pages where only this repository's files go in.  Paths may share
	 * a key: the caller passes over a file whose file_key is none of the
	 * batch's ($1), locked needlessly.  Neither repo_id nor file_key is
	 * compared here, so that no other index can serve the lookup; file_key
	 * tells the repository.
	 */
	[ASTPG_Q_LOCK_FILES] = {
		"SELECT f.file_id, @extschema@.file_key(f.repository, f.path),"
		"       f.repository, f.path, f.content_hash, f.module"
		"  FROM @extschema@.files f"
		" WHERE " FILE_HASH("f.repository", "f.path") " OPERATOR(pg_catalog.=) ANY ($3)"
		" ORDER BY f.path COLLATE pg_catalog.\"C\""
		"   FOR NO KEY UPDATE OF f",
		3, {BYTEAARRAYOID, INT8OID, INT8ARRAYOID}
	},

	/*
	 * The same on Citus, by the key the tables are distributed by, so that
	 * the statement goes to the repository's one shard.
	 */
	[ASTPG_Q_LOCK_FILES_DISTRIBUTED] = {
		"SELECT f.file_id, @extschema@.file_key(f.repository, f.path),"
		"       f.repository, f.path, f.content_hash, f.module"
		"  FROM @extschema@.files f"
		" WHERE f.repo_id" EQ "$2"
		"   AND @extschema@.file_key(f.repository, f.path) OPERATOR(pg_catalog.=) ANY ($1)"
		" ORDER BY f.path COLLATE pg_catalog.\"C\""
		"   FOR NO KEY UPDATE OF f",
		2, {BYTEAARRAYOID, INT8OID}, true
	},

	/*
	 * Paths not stored yet.  Those a concurrent session stored first are not
	 * returned: ON CONFLICT DO NOTHING waits for it to commit, and the caller
	 * then locks the committed rows.
	 */
	[ASTPG_Q_INSERT_FILES] = {
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

	/* a replaced file's own row */
	[ASTPG_Q_UPDATE_FILE] = {
		"UPDATE @extschema@.files"
		"   SET module = $2, language = $3, revision = $4, size_bytes = $5,"
		"       content_hash = $6, ast = $7,"
		"       attrs = COALESCE($8, '{}'::pg_catalog.jsonb),"
		"       updated_at = pg_catalog.now()"
		" WHERE repo_id" EQ "$9 AND file_id" EQ "$1",
		9, {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, JSONBOID,
		JSONBOID, INT8OID}, true
	},

	/*
	 * Ids for a batch's classes and functions, taken before their rows are
	 * written, so that rows can refer to each other (a method's class, a
	 * call's function) in arrays bound as parameters.
	 */
	[ASTPG_Q_NEW_IDS] = {
		"SELECT ARRAY(SELECT pg_catalog.nextval('@extschema@.classes_class_id_seq'::pg_catalog.regclass)"
		"               FROM pg_catalog.generate_series(1, $1)),"
		"       ARRAY(SELECT pg_catalog.nextval('@extschema@.functions_function_id_seq'::pg_catalog.regclass)"
		"               FROM pg_catalog.generate_series(1, $2))",
		2, {INT4OID, INT4OID}, true
	},

	/*
	 * the rows below the replaced files: planned with the values, to use file_id
	 */
	[ASTPG_Q_DELETE_CALLS] = {
		"DELETE FROM @extschema@.calls WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},

	[ASTPG_Q_DELETE_FUNCTIONS] = {
		"DELETE FROM @extschema@.functions WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},

	[ASTPG_Q_DELETE_CLASSES] = {
		"DELETE FROM @extschema@.classes WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},

	[ASTPG_Q_DELETE_DEPENDENCIES] = {
		"DELETE FROM @extschema@.dependencies WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},

	[ASTPG_Q_DELETE_METRICS] = {
		"DELETE FROM @extschema@.metrics WHERE repo_id" EQ "$1"
		"   AND file_id OPERATOR(pg_catalog.=) ANY ($2)",
		2, {INT8OID, INT8ARRAYOID}, true
	},

	/*
	 * The rows of a batch's changed documents, one array per column, and
	 * their file_ids as one more.  Planned once on one server (they look
	 * nothing up), with the values on Citus, which needs them to route.
	 */
	[ASTPG_Q_INSERT_CLASSES] = {
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

	[ASTPG_Q_INSERT_FUNCTIONS] = {
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

	[ASTPG_Q_INSERT_CALLS] = {
		"INSERT INTO @extschema@.calls (repo_id, file_id, function_id, call_no,"
		"                               callee, line, attrs)"
		"VALUES ($1, pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"        pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7))",
		7, {INT8OID, INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
		INT4ARRAYOID, JSONBARRAYOID}, false, true
	},

	[ASTPG_Q_INSERT_DEPENDENCIES] = {
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

	[ASTPG_Q_INSERT_METRICS] = {
		"INSERT INTO @extschema@.metrics (repo_id, file_id, name, value)"
		"VALUES ($1, pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4))",
		4, {INT8OID, INT8ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID}, false, true
	},

	/* the resolution rule, stated once: @extschema@.dependency_targets() */
	[ASTPG_Q_DEPENDENCY_TARGETS] = {
		"SELECT t.target, t.file_id"
		"  FROM @extschema@.dependency_targets($1, $2, $3) t",
		3, {TEXTOID, TEXTARRAYOID, BOOLOID}
	},

	/*
	 * Stored dependencies that the batch may change: unresolved ones that
	 * name one of its modules or paths ($2, with their keys in $3 for the
	 * index), and those resolved to a file whose module changed ($4).  Rows a
	 * concurrent writer holds are skipped rather than waited for: that writer
	 * is replacing or resolving them itself, and waiting could deadlock two
	 * sessions that write files importing each other; resolve_dependencies()
	 * settles what such races leave.  The unresolved ones are found by the
	 * keys of the names within the repository, whose index
	 * (dependencies_unresolved_target_idx) keeps a repository's targets on
	 * pages of their own, as LOCK_FILES does for paths.
	 */
	[ASTPG_Q_LOCK_DEPENDENTS] = {
		"SELECT u.ctid, u.target, u.target_file_id"
		"  FROM @extschema@.dependencies u"
		" WHERE ((u.target_file_id IS NULL"
		"         AND " DEPENDENCY_HASH("u.repo_id", "u.target") EQ "ANY ($3)"
		"         AND u.target OPERATOR(pg_catalog.=) ANY ($2))"
		"        OR (u.target_file_id IS NOT NULL"
		"            AND u.target_file_id OPERATOR(pg_catalog.=) ANY ($4)))"
		"   AND (SELECT t.repository FROM @extschema@.files t"
		"         WHERE t.file_id" EQ "u.file_id)" EQ "$1"
		"   FOR NO KEY UPDATE OF u SKIP LOCKED",
		5, {TEXTOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8OID}
	},

	/* the same on Citus, routed by the repository's key */
	[ASTPG_Q_LOCK_DEPENDENTS_DISTRIBUTED] = {
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
	 * The rows locked above, each to its own target (NULL: none): one table
	 * and no join.  There are few such rows in a batch, so array_position's
	 * walk costs little.
	 */
	[ASTPG_Q_SET_TARGETS] = {
		"UPDATE @extschema@.dependencies d"
		"   SET target_file_id = ($3)[pg_catalog.array_position($2, d.ctid)]"
		" WHERE d.repo_id" EQ "$1 AND d.ctid OPERATOR(pg_catalog.=) ANY ($2)",
		3, {INT8OID, TIDARRAYOID, INT8ARRAYOID}, true
	},

	/*
	 * The same on Citus, one target a statement: its deparser fails on a
	 * subscripted parameter.
	 */
	[ASTPG_Q_SET_TARGETS_DISTRIBUTED] = {
		"UPDATE @extschema@.dependencies SET target_file_id = $3"
		" WHERE repo_id" EQ "$1"
		"   AND ctid OPERATOR(pg_catalog.=) ANY ($2)",
		3, {INT8OID, TIDARRAYOID, INT8OID}, true
	},

	/*
	 * The names astpg.symbol_names holds already of those a batch brings,
	 * and the others added (symbol_names.c); by the repository's key on
	 * Citus.  The lookup goes through the index that leads with the name.
	 */
	[ASTPG_Q_STORED_NAMES] = {
		"SELECT s.name, s.kind, s.member"
		"  FROM @extschema@.symbol_names s"
		" WHERE s.name OPERATOR(pg_catalog.=) ANY ($2)"
		"   AND s.repo_id" EQ "$1",
		2, {INT8OID, TEXTARRAYOID}, false, true
	},
	[ASTPG_Q_INSERT_NAMES] = {
		"INSERT INTO @extschema@.symbol_names (repo_id, name, kind, member)"
		"VALUES ($1, pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4))",
		4, {INT8OID, TEXTARRAYOID, INT2ARRAYOID, TEXTARRAYOID}, false, true
	},

	/* an audit row for every document of a batch, in the order given */
	[ASTPG_Q_INSERT_AUDIT] = {
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

	/* the metric history of every version a batch stores */
	[ASTPG_Q_INSERT_HISTORY] = {
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

	/* a refused document, where it says it belongs if it says so in strings */
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
};

/*
 * The plans, and the installed extension they were prepared for: its OID,
 * its version, and its schema.
 */
static SPIPlanPtr plans[ASTPG_NUM_QUERIES];
static Oid	plans_extension_oid = InvalidOid;
static char plans_version[NAMEDATALEN];
static char *schema_name = NULL;	/* in TopMemoryContext */

/*
 * Are astpg's tables distributed by Citus?  Found out when first asked
 * while SPI is connected, and kept until astpg.files changes: distributing
 * it (or undoing that) sends a relcache invalidation for it, which clears
 * distributed_known.  So the catalogs are not asked again for every batch.
 */
static bool distributed_known = false;
static bool tables_distributed = false;
static Oid	files_relid = InvalidOid;

static void
forget_distributed(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == files_relid)
		distributed_known = false;
}

/* The major and minor numbers of a version "1.6"; false if it is not one. */
static bool
parse_version(const char *version, int *major, int *minor)
{
	char		rest;

	return sscanf(version, "%d.%d%c", major, minor, &rest) == 2;
}

/*
 * AstpgCheckInstalledVersion
 *		Refuse to write unless the installed extension is the library's own
 *		version, and drop the kept plans if the extension was created anew
 *		or updated since they were prepared.  Every writing entry point
 *		calls it first.  Also refuses a schema that a role other than a
 *		superuser owns (extension.c).
 */
void
AstpgCheckInstalledVersion(void)
{
	static bool callback_registered = false;
	AstpgExtension ext;
	int			major,
				minor,
				lib_major,
				lib_minor;

	AstpgCheckExtension(&ext);
	if (ext.oid == plans_extension_oid && strcmp(ext.version, plans_version) == 0)
		return;

	for (int i = 0; i < ASTPG_NUM_QUERIES; i++)
	{
		if (plans[i] != NULL)
			SPI_freeplan(plans[i]);
		plans[i] = NULL;
	}
	plans_extension_oid = InvalidOid;
	distributed_known = false;

	if (strcmp(ext.version, ASTPG_VERSION) != 0)
	{
		bool		older = parse_version(ext.version, &major, &minor) &&
			parse_version(ASTPG_VERSION, &lib_major, &lib_minor) &&
			(major < lib_major || (major == lib_major && minor < lib_minor));

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("astpg's library is version %s, but the installed extension is version %s",
						ASTPG_VERSION, ext.version),
				 errdetail("The library writes only into the tables of its own version; reading with SQL still works."),
				 older ?
				 errhint("Run ALTER EXTENSION astpg UPDATE.") :
				 errhint("Install the astpg library of version %s.",
						 ext.version)));
	}

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_distributed, (Datum) 0);
		callback_registered = true;
	}
	if (schema_name != NULL)
		pfree(schema_name);
	schema_name = MemoryContextStrdup(TopMemoryContext,
									  quote_identifier(ext.schema_name));
	files_relid = get_relname_relid("files", ext.schema_oid);
	strlcpy(plans_version, ext.version, sizeof(plans_version));
	plans_extension_oid = ext.oid;
}

/*
 * Is astpg.files a Citus table?  Only asked when the citus extension is
 * installed in this database; pg_dist_partition exists only then.  SPI is
 * connected.
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
 * AstpgSPIConnect
 *		Connect SPI for astpg's statements, the caller's memory context
 *		current again, and find out (once) whether the tables are
 *		distributed.  AstpgCheckInstalledVersion has been called.
 */
void
AstpgSPIConnect(void)
{
	MemoryContext caller_context = CurrentMemoryContext;

	if (!OidIsValid(plans_extension_oid))
		elog(ERROR, "astpg wrote before checking the installed version");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(caller_context);
	if (!distributed_known)
	{
		tables_distributed = files_distributed();
		distributed_known = true;
		MemoryContextSwitchTo(caller_context);
	}
}

/* AstpgSPIFinish: disconnect SPI, the caller's memory context current again. */
void
AstpgSPIFinish(void)
{
	MemoryContext caller_context = CurrentMemoryContext;

	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	MemoryContextSwitchTo(caller_context);
}

/*
 * AstpgTablesDistributed
 *		Are astpg's tables distributed (Citus)?  Known once SPI is connected
 *		by AstpgSPIConnect.
 */
bool
AstpgTablesDistributed(void)
{
	return tables_distributed;
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
	const AstpgQueryDef *def = &queries[query];
	char	   *sql;

	if (plan != NULL && SPI_plan_is_valid(plan))
		return plan;
	if (plan != NULL)
		SPI_freeplan(plan);
	plans[query] = NULL;
	sql = qualified_sql(def->sql, schema_name);

	/*
	 * Generic plans from the start: every lookup goes through a unique key
	 * or an index whatever the parameters, so a custom plan per call would
	 * only cost planning time.  (Citus needs the values to route a
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
 * nulls follows SPI's convention (' ' not null, 'n' null; NULL: none).
 * expected is the SPI_OK_* code the statement must return.  Results stay
 * in SPI_tuptable for the caller, who frees them.  The caller's memory
 * context is current again on return (SPI leaves its own current).
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
