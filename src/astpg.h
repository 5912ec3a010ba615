/*-------------------------------------------------------------------------
 *
 * astpg.h
 *	  Shared declarations of the astpg extension: the in-memory form of one
 *	  document, and the prototypes of each source file, grouped by file.
 *
 * A document travels through these stages, one source file each:
 *	  astpg.c            SQL-callable entry points (ingest, ingest_batch,
 *	                     the inbox trigger), GUCs
 *	  ingest.c           one document: read, refused (astpg.rejects) or
 *	                     written; the counts of a transaction
 *	  batch.c            documents kept and written a batch at a time
 *	  extension.c        where astpg's objects are, and whether to trust them
 *	  document_reader.c  jsonb -> AstpgDocument (validation, no SPI)
 *	  batch_writer.c     AstpgDocuments -> rows, a statement per table for
 *	                     a whole batch (from 1.4)
 *	  document_writer.c  AstpgDocument -> rows, for databases at 1.0 to 1.3
 *	  routed_writer.c    the same on Citus at 1.2 and 1.3
 *	  history.c          a stored version's metrics -> astpg.metric_history
 *	  import_cycles.c    astpg.import_cycles(): components of the import graph
 *	  queries.c          the SQL text of every statement and the plan cache
 *	  queries_1_1.c      the statements for the tables of 1.0 and 1.1
 *
 * IDENTIFICATION
 *	  src/astpg.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ASTPG_H
#define ASTPG_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/*
 * Strings that a row keeps as a text[] column (bases, decorators, names).
 * They are read into one flat list per document: owner is the 1-based
 * position of the row they belong to, so the writer can bind them as two
 * arrays and regroup them set-wise in SQL.
 */
typedef struct AstpgStringList
{
	int			count;
	int			capacity;
	Datum	   *owner;			/* int8 */
	Datum	   *value;			/* text */
} AstpgStringList;

typedef struct AstpgClass
{
	text	   *name;
	text	   *qualified_name; /* defaulted from parent and name */
	text	   *parent;			/* qualified_name of the enclosing class */
	text	   *namespace;
	int32		line_start;
	int32		line_end;
	bool		is_abstract;
	Jsonb	   *attrs;			/* keys without a column of their own */
	int			parent_index;	/* enclosing class in the document, or -1 */
} AstpgClass;

typedef struct AstpgCall
{
	int			function_index; /* owner in AstpgDocument.functions */
	int32		call_no;		/* position in the function's calls array */
	text	   *callee;
	int32		line;			/* 0 when absent */
	Jsonb	   *attrs;
} AstpgCall;

typedef struct AstpgFunction
{
	text	   *name;
	text	   *qualified_name; /* defaulted from class and name */
	text	   *class_name;		/* the "class" key */
	text	   *signature;
	Jsonb	   *parameters;		/* as given, or NULL */
	int32		parameter_count;
	text	   *return_type;
	int32		line_start;
	int32		line_end;
	int32		complexity;		/* 0 when absent */
	bool		is_async;
	Jsonb	   *attrs;
	int			class_index;	/* enclosing class in the document, or -1 */
} AstpgFunction;

typedef struct AstpgDependency
{
	text	   *target;
	text	   *kind;
	int32		line;			/* 0 when absent */
	float8		strength;
	Jsonb	   *attrs;
} AstpgDependency;

typedef struct AstpgMetric
{
	text	   *name;
	float8		value;
} AstpgMetric;

/* One validated document, ready to be written. */
typedef struct AstpgDocument
{
	text	   *repository;
	text	   *path;
	text	   *module;
	text	   *language;
	text	   *revision;
	bool		has_size_bytes;
	int64		size_bytes;
	text	   *content_hash;
	Jsonb	   *ast;
	Jsonb	   *attrs;

	int			nclasses;
	AstpgClass *classes;
	int			nfunctions;
	AstpgFunction *functions;
	int			ncalls;
	AstpgCall  *calls;
	int			ndependencies;
	AstpgDependency *dependencies;
	int			nmetrics;
	AstpgMetric *metrics;

	AstpgStringList bases;		/* owner: 1-based class position */
	AstpgStringList decorators; /* owner: 1-based function position */
	AstpgStringList names;		/* owner: 1-based dependency position */
} AstpgDocument;

/* What one ingest did: the columns of astpg.ingest_result. */
typedef enum AstpgIngestStatus
{
	ASTPG_INSERTED,
	ASTPG_REPLACED,
	ASTPG_UNCHANGED,
	ASTPG_REJECTED				/* refused, recorded in astpg.rejects */
} AstpgIngestStatus;

typedef struct AstpgIngestResult
{
	int64		file_id;
	AstpgIngestStatus status;
	int32		classes;
	int32		functions;
	int32		calls;
	int32		dependencies;
	int32		metrics;
} AstpgIngestResult;

/* What to do with a refused document. */
typedef enum AstpgOnError
{
	ASTPG_ON_ERROR_ABORT,		/* raise the error: the transaction fails */
	ASTPG_ON_ERROR_SKIP			/* record it in astpg.rejects, go on */
} AstpgOnError;

/* Where a document comes from, for error messages and astpg.rejects. */
typedef struct AstpgOrigin
{
	const char *source;			/* "ingest", "ingest_batch" or "inbox" */
	const char *root;			/* JSON path of the document itself */
	int64		position;		/* 0-based, in its batch or transaction */
} AstpgOrigin;

/* astpg.c */
extern int	astpg_on_error;
extern int64 AstpgRepoId(text *repository);
extern bytea *AstpgFileKey(text *repository, text *path);

/* ingest.c */
extern bool AstpgIngestDocument(Jsonb *jb, text *json_text,
								const AstpgOrigin *origin,
								AstpgOnError on_error,
								AstpgIngestResult *result);
extern AstpgOnError AstpgParseOnError(text *value);
extern Datum AstpgIngestCountsDatum(TupleDesc tupdesc);
extern int64 AstpgNextInboxPosition(void);
extern void AstpgInitCounts(void);
extern ErrorData *AstpgInSubtransaction(void (*fn) (void *arg), void *arg);

/* deadlocks.c */
#define ASTPG_WRITE_ATTEMPTS 5	/* of a write that meets a deadlock */
extern bool AstpgFirstWriter(void);
extern void AstpgWriteAlone(bool alone);
extern bool AstpgWritingAlone(void);
extern void AstpgLockRepository(int64 repo_id);
extern void AstpgPauseBeforeRetry(int attempt);
extern ErrorData *AstpgWriteRetryingDeadlocks(void (*fn) (void *arg), void *arg);

extern void AstpgCountResult(const AstpgIngestResult *result);
extern bool AstpgRefusalOfDocument(int sqlerrcode);
extern void AstpgRecordReject(Jsonb *jb, text *json_text,
							  const AstpgOrigin *origin, ErrorData *edata);
extern AstpgDocument *AstpgReadOrReject(Jsonb *jb, text *json_text,
										const AstpgOrigin *origin,
										AstpgOnError on_error,
										Jsonb **parsed);
extern void AstpgWriteOne(AstpgDocument *doc, const AstpgOrigin *origin,
						  TimestampTz started, AstpgIngestResult *result);

/* batch.c */
typedef struct AstpgBatch AstpgBatch;

extern AstpgBatch *AstpgBatchCreate(MemoryContext parent, AstpgOnError on_error,
									 bool first_writer);
extern void AstpgBatchAdd(AstpgBatch *batch, Jsonb *jb, text *json_text,
						  const AstpgOrigin *origin, AstpgIngestResult *result);
extern void AstpgBatchFlush(AstpgBatch *batch);
extern void AstpgBatchWriteUnguarded(AstpgBatch *batch);
extern bool AstpgUnguardedWriteFailed(void);
extern int	AstpgBatchCount(AstpgBatch *batch);
extern void AstpgBatchDestroy(AstpgBatch *batch);

/* document_reader.c */
extern AstpgDocument *AstpgReadDocument(Jsonb *jb, const char *root);

/* json_text.c */
extern Jsonb *AstpgJsonTextToJsonb(text *json_text);

/* document_writer.c */
extern void AstpgWriteDocument(AstpgDocument *doc, TimestampTz started,
							   AstpgIngestResult *result);
extern const char *AstpgStatusName(AstpgIngestStatus status);
extern Datum AstpgBuildArray(Datum *values, bool *nulls, int n, Oid elemtype);

/* history.c */
typedef struct AstpgHistoryFigures
{
	int64		complexity_total;
	int32		complexity_max; /* 0: no function gives its complexity */
	Jsonb	   *metrics;		/* {"name": value, ...} */
} AstpgHistoryFigures;

extern void AstpgHistoryOf(const AstpgDocument *doc,
						   AstpgHistoryFigures *figures);
extern void AstpgRecordHistory(const AstpgDocument *doc,
							   const AstpgIngestResult *result);

/* batch_writer.c */
extern void AstpgWriteBatch(AstpgDocument **documents,
							const TimestampTz *started,
							AstpgIngestResult *results, int n);
extern void AstpgGroupStrings(const AstpgStringList *list, int nrows,
							  Datum *rows);
extern void AstpgNewIds(int nclasses, int nfunctions, int64 **class_ids,
						int64 **function_ids);

/* routed_writer.c */
extern void AstpgRoutedSettings(void);
extern void AstpgRoutedReplaceFile(int64 repo_id, int64 file_id,
								   Datum *file_args, const char *file_nulls);
extern void AstpgRoutedWriteDocument(AstpgDocument *doc, int64 repo_id,
									 int64 file_id, bool module_changed);

/* extension.c */
typedef struct AstpgExtension
{
	Oid			schema_oid;
	char	   *schema_name;
	char	   *version;		/* extversion */
} AstpgExtension;

extern void AstpgCheckExtension(AstpgExtension *ext);

/* queries.c */
#define ASTPG_TABLES_VERSION "1.5"	/* the version queries.c is written for */
#define ASTPG_MAX_QUERY_ARGS 64

typedef struct AstpgQueryDef
{
	const char *sql;			/* "@extschema@" stands for astpg's schema */
	int			nargs;
	Oid			argtypes[ASTPG_MAX_QUERY_ARGS];
	bool		custom_plans;	/* let the planner (Citus) see the values */
	bool		custom_on_citus;	/* ... when the tables are distributed */
} AstpgQueryDef;

typedef enum AstpgQuery
{
	ASTPG_Q_LOCK_FILE,
	ASTPG_Q_INSERT_FILE,
	ASTPG_Q_REPLACE_FILE,
	ASTPG_Q_WRITE_DOCUMENT,
	ASTPG_Q_INSERT_AUDIT,
	ASTPG_Q_INSERT_REJECT,
	ASTPG_Q_INSERT_HISTORY,		/* from 1.3 */
	/* on Citus: one table a statement, each on one shard (routed_writer.c) */
	ASTPG_Q_ROUTED_LOCK_FILE,
	ASTPG_Q_ROUTED_NEW_IDS,
	ASTPG_Q_ROUTED_UPDATE_FILE,
	ASTPG_Q_ROUTED_DELETE_CALLS,
	ASTPG_Q_ROUTED_DELETE_FUNCTIONS,
	ASTPG_Q_ROUTED_DELETE_CLASSES,
	ASTPG_Q_ROUTED_DELETE_DEPENDENCIES,
	ASTPG_Q_ROUTED_DELETE_METRICS,
	ASTPG_Q_ROUTED_INSERT_CLASSES,
	ASTPG_Q_ROUTED_INSERT_FUNCTIONS,
	ASTPG_Q_ROUTED_INSERT_CALLS,
	ASTPG_Q_ROUTED_FIND_MODULES,
	ASTPG_Q_ROUTED_FIND_PATHS,
	ASTPG_Q_ROUTED_INSERT_DEPENDENCIES,
	ASTPG_Q_ROUTED_INSERT_METRICS,
	ASTPG_Q_ROUTED_LOCK_WAITING,
	ASTPG_Q_ROUTED_LOCK_STALE,
	ASTPG_Q_ROUTED_SET_TARGETS,
	/* from 1.4: a batch of documents, a statement per table (batch_writer.c) */
	ASTPG_Q_BATCH_LOCK_FILES,
	ASTPG_Q_BATCH_LOCK_FILES_1_4,
	ASTPG_Q_BATCH_ROUTED_LOCK_FILES,
	ASTPG_Q_BATCH_INSERT_FILES,
	ASTPG_Q_BATCH_DELETE_CALLS,
	ASTPG_Q_BATCH_DELETE_FUNCTIONS,
	ASTPG_Q_BATCH_DELETE_CLASSES,
	ASTPG_Q_BATCH_DELETE_DEPENDENCIES,
	ASTPG_Q_BATCH_DELETE_METRICS,
	ASTPG_Q_BATCH_INSERT_CLASSES,
	ASTPG_Q_BATCH_INSERT_FUNCTIONS,
	ASTPG_Q_BATCH_INSERT_CALLS,
	ASTPG_Q_BATCH_INSERT_DEPENDENCIES,
	ASTPG_Q_BATCH_INSERT_METRICS,
	ASTPG_Q_DEPENDENCY_TARGETS,
	ASTPG_Q_BATCH_LOCK_DEPENDENTS,
	ASTPG_Q_BATCH_LOCK_DEPENDENTS_1_4,
	ASTPG_Q_BATCH_ROUTED_LOCK_DEPENDENTS,
	ASTPG_Q_BATCH_SET_TARGETS,
	ASTPG_Q_BATCH_INSERT_AUDIT,
	ASTPG_Q_BATCH_INSERT_HISTORY,
	ASTPG_NUM_QUERIES
} AstpgQuery;

extern void AstpgResetPlansIfStale(void);
extern bool AstpgTablesDistributed(void);
extern bool AstpgHistoryKept(void);
extern bool AstpgBatchesWritten(void);
extern bool AstpgKeyedByRepository(void);
/* queries_1_1.c */
extern const AstpgQueryDef AstpgQueriesV1_1[];
/* queries.c */
extern int	AstpgExecute(AstpgQuery query, Datum *values, const char *nulls,
						 int expected);

#endif							/* ASTPG_H */
