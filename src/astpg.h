/*-------------------------------------------------------------------------
 *
 * astpg.h
 *	  Shared declarations of the astpg extension: the in-memory form of one
 *	  document, and the prototypes of each source file, grouped by file.
 *
 * A document travels down these layers, and nothing calls back up:
 *	  astpg.c            every SQL-callable entry point, and the GUCs
 *	  batch.c            documents read one at a time, written a batch at a
 *	                     time; a refused one rejected or raised
 *	  document_reader.c  jsonb -> AstpgDocument (validation, no SPI)
 *	  class_links.c      a read document's classes and functions linked to
 *	                     their enclosing classes (no SPI)
 *	  json_text.c        JSON text -> jsonb, cancellable (the inbox's text)
 *	  batch_writer.c     AstpgDocuments -> rows, a statement per table for
 *	                     a whole batch
 *	  symbol_names.c     the names of a batch -> astpg.symbol_names
 *	  history.c          a stored version's figures for astpg.metric_history
 *	  rejects.c          a refused document -> astpg.rejects
 *	  counts.c           what a transaction ingested (astpg.ingest_counts)
 *	  deadlocks.c        repository locks, and retries after a deadlock
 *	  queries.c          the SQL text of every statement, the plan cache, and
 *	                     the installed version check
 *	  extension.c        where astpg's objects are, and whether to trust them
 *	  util.c             helpers that call nothing of astpg's
 * and beside them, read-only: import_cycles.c (astpg.import_cycles) and
 * ast_index.c (the ast_path_ops operator class).
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
#include "funcapi.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* the version of the extension this library writes, from astpg.control */
#ifndef ASTPG_VERSION
#error "ASTPG_VERSION must be defined (the Makefile takes it from astpg.control)"
#endif

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

/* One document of a batch, as the writer takes it. */
typedef struct AstpgBatchDocument
{
	AstpgDocument *doc;
	TimestampTz started;		/* when its ingest began: the audit's duration */
	AstpgIngestResult result;	/* what the writer did with it */
} AstpgBatchDocument;

/* astpg.c */
extern int	astpg_on_error;

/* batch.c */
typedef struct AstpgBatch AstpgBatch;

extern AstpgBatch *AstpgBatchCreate(MemoryContext parent, AstpgOnError on_error,
									 bool first_writer, bool alone);
extern void AstpgBatchWriteUnguarded(AstpgBatch *batch, bool *write_failed);
extern void AstpgBatchAdd(AstpgBatch *batch, Jsonb *jb, text *json_text,
						  const AstpgOrigin *origin, AstpgIngestResult *result);
extern void AstpgBatchFlush(AstpgBatch *batch);
extern int	AstpgBatchCount(AstpgBatch *batch);
extern void AstpgBatchDestroy(AstpgBatch *batch);

/* document_reader.c */
extern AstpgDocument *AstpgReadDocument(Jsonb *jb, const char *root);

/* class_links.c */
extern void AstpgLinkClasses(AstpgDocument *doc, const char *root);

/* json_text.c */
extern Jsonb *AstpgJsonTextToJsonb(text *json_text);

/* batch_writer.c */
extern void AstpgWriteBatch(AstpgBatchDocument *documents, int n, bool alone);

/* symbol_names.c */
extern void AstpgStoreSymbolNames(AstpgDocument **docs, int n, int64 repo_id);

/* history.c */
typedef struct AstpgHistoryFigures
{
	int64		complexity_total;
	int32		complexity_max; /* 0: no function gives its complexity */
	Jsonb	   *metrics;		/* {"name": value, ...} */
} AstpgHistoryFigures;

extern void AstpgHistoryOf(const AstpgDocument *doc,
						   AstpgHistoryFigures *figures);

/* rejects.c */
extern void AstpgRecordReject(Jsonb *jb, text *json_text,
							  const AstpgOrigin *origin, ErrorData *edata);

/* counts.c */
extern void AstpgInitCounts(void);
extern void AstpgCountResult(const AstpgIngestResult *result);
extern int64 AstpgNextInboxPosition(void);
extern Datum AstpgIngestCountsDatum(TupleDesc tupdesc);

/* deadlocks.c */
#define ASTPG_WRITE_ATTEMPTS 5	/* of a write that meets a deadlock */
extern bool AstpgFirstWriter(void);
extern void AstpgLockRepository(int64 repo_id, bool alone);
extern ErrorData *AstpgRetryDeadlocks(ErrorData *(*attempt) (void *arg, bool alone),
									  void *arg, bool may_retry);
extern ErrorData *AstpgWriteRetryingDeadlocks(void (*fn) (void *arg, bool alone),
											  void *arg);

/* queries.c */
#define ASTPG_MAX_QUERY_ARGS 16

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
	ASTPG_Q_LOCK_FILES,
	ASTPG_Q_LOCK_FILES_DISTRIBUTED,
	ASTPG_Q_INSERT_FILES,
	ASTPG_Q_UPDATE_FILE,
	ASTPG_Q_NEW_IDS,
	ASTPG_Q_DELETE_CALLS,
	ASTPG_Q_DELETE_FUNCTIONS,
	ASTPG_Q_DELETE_CLASSES,
	ASTPG_Q_DELETE_DEPENDENCIES,
	ASTPG_Q_DELETE_METRICS,
	ASTPG_Q_INSERT_CLASSES,
	ASTPG_Q_INSERT_FUNCTIONS,
	ASTPG_Q_INSERT_CALLS,
	ASTPG_Q_INSERT_DEPENDENCIES,
	ASTPG_Q_INSERT_METRICS,
	ASTPG_Q_DEPENDENCY_TARGETS,
	ASTPG_Q_LOCK_DEPENDENTS,
	ASTPG_Q_LOCK_DEPENDENTS_DISTRIBUTED,
	ASTPG_Q_SET_TARGETS,
	ASTPG_Q_SET_TARGETS_DISTRIBUTED,
	ASTPG_Q_STORED_NAMES,
	ASTPG_Q_INSERT_NAMES,
	ASTPG_Q_INSERT_AUDIT,
	ASTPG_Q_INSERT_HISTORY,
	ASTPG_Q_INSERT_REJECT,
	ASTPG_NUM_QUERIES
} AstpgQuery;

extern void AstpgCheckInstalledVersion(void);
extern void AstpgSPIConnect(void);
extern void AstpgSPIFinish(void);
extern bool AstpgTablesDistributed(void);
extern int	AstpgExecute(AstpgQuery query, Datum *values, const char *nulls,
						 int expected);

/* extension.c */
typedef struct AstpgExtension
{
	Oid			oid;
	Oid			schema_oid;
	char	   *schema_name;
	char	   *version;		/* extversion */
} AstpgExtension;

extern void AstpgCheckExtension(AstpgExtension *ext);

/* import_cycles.c */
extern void AstpgImportCycles(FunctionCallInfo fcinfo, int64 repo_id);

/* util.c */
extern bytea *AstpgFileKey(text *repository, text *path);
extern int64 AstpgRepoId(text *repository);
extern Datum AstpgBuildArray(Datum *values, bool *nulls, int n, Oid elemtype);
extern int	AstpgCompareBytes(const text *a, const text *b);
extern bool AstpgTextsEqual(const text *a, const text *b);
extern const char *AstpgStatusName(AstpgIngestStatus status);
extern bool AstpgRefusalOfDocument(int sqlerrcode);
extern ErrorData *AstpgInSubtransaction(void (*fn) (void *arg), void *arg);

#endif							/* ASTPG_H */
