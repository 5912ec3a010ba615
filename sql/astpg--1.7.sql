/* astpg/sql/astpg--1.7.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION astpg" to load this file. \quit

--
-- astpg 1.7: the whole schema, as CREATE EXTENSION astpg makes it.
--
-- astpg keeps source code as parsed: one JSON document per source file
-- (docs/document-format.md), which the C library validates and shreds into
-- the tables below in the caller's transaction.  files has a row per
-- (repository, path), with its raw AST; classes, functions, calls,
-- dependencies and metrics hold what the file defines, calls, imports and
-- measures, and go away with it; ingests is the audit log of every write,
-- rejects the documents a batch or the inbox refused, metric_history the
-- metrics of every stored version of a file.  The read functions and
-- find_symbol() answer from the tables as they are; tables that
-- refresh_analytics() fills a repository at a time serve dashboards.  Every key holds
-- repo_id, a key derived from the repository's name, after the ids: on
-- Citus (distribute()) a repository lives on one shard.
--
-- A database installed before 1.7 reaches the same schema through the
-- upgrade scripts (astpg--1.0.sql, then astpg--1.0--1.1.sql up to
-- astpg--1.6--1.7.sql), which hold each object's history: here is each
-- one's current definition, once.  sql/upgrade.sql proves the two routes
-- give the same definitions, down to the order of each table's columns and
-- indexes, their privileges and comments.
--
-- In order: the schema check and the roles; keys, types and an operator
-- class; tables; keys and indexes; writing; materialized views; reading;
-- maintenance; Citus; privileges; what pg_dump keeps.
--

--
-- The schema must be astpg's own.  The writing functions run with a
-- superuser's rights and use the objects in it: a schema that a role other
-- than a superuser owns (say one created before CREATE EXTENSION, which then
-- uses it), or that holds objects astpg did not create, would let its owner
-- put look-alikes in their place.  Checked before anything is made in it.
--
DO $$
DECLARE
    ext_oid    oid;
    ext_schema oid;
    owner_name name;
    strangers  text;
BEGIN
    SELECT e.oid, e.extnamespace INTO ext_oid, ext_schema
      FROM pg_catalog.pg_extension e WHERE e.extname = 'astpg';
    SELECT r.rolname INTO owner_name
      FROM pg_catalog.pg_namespace n
      JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
     WHERE n.oid = ext_schema AND NOT r.rolsuper;
    IF owner_name IS NOT NULL THEN
        RAISE EXCEPTION 'schema "%" is owned by role "%", which is not a superuser',
                        ext_schema::pg_catalog.regnamespace, owner_name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'astpg''s functions run with a superuser''s rights on the objects of its schema, and a schema''s owner can replace them.',
                  HINT = 'Drop that schema and let CREATE EXTENSION astpg create it, or have a superuser own it.';
    END IF;

    -- objects in the schema that are neither members of the extension nor
    -- parts of one (indexes, constraints, sequences of identity columns,
    -- row types), however deep
    WITH RECURSIVE ours AS (
        SELECT d.classid, d.objid
          FROM pg_catalog.pg_depend d
         WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = ext_oid AND d.deptype = 'e'
        UNION
        SELECT d.classid, d.objid
          FROM pg_catalog.pg_depend d
          JOIN ours o ON o.classid = d.refclassid AND o.objid = d.refobjid
         WHERE d.deptype IN ('a', 'i')
    )
    SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(o.classid, o.objid, 0),
                                 ', ' ORDER BY 1)
      INTO strangers
      FROM (SELECT 'pg_catalog.pg_class'::pg_catalog.regclass AS classid, c.oid AS objid
              FROM pg_catalog.pg_class c WHERE c.relnamespace = ext_schema
            UNION ALL
            SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid
              FROM pg_catalog.pg_proc p WHERE p.pronamespace = ext_schema
            UNION ALL
            SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid
              FROM pg_catalog.pg_type t WHERE t.typnamespace = ext_schema
            UNION ALL
            SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, o.oid
              FROM pg_catalog.pg_operator o WHERE o.oprnamespace = ext_schema) o
     WHERE (o.classid, o.objid) NOT IN (SELECT ours.classid, ours.objid FROM ours);
    IF strangers IS NOT NULL THEN
        RAISE EXCEPTION 'schema "%" holds objects that are not part of extension astpg',
                        ext_schema::pg_catalog.regnamespace
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('Not part of astpg: %s.', strangers),
                  HINT = 'Install astpg into a schema of its own: drop that schema and let CREATE EXTENSION astpg create it.';
    END IF;
END
$$;

--
-- Roles.  They belong to the cluster, not to the extension: a second
-- database that creates astpg reuses them, and DROP EXTENSION leaves them.
--
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'astpg_reader') THEN
        CREATE ROLE astpg_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'astpg_writer') THEN
        CREATE ROLE astpg_writer NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role('astpg_writer', 'astpg_reader', 'MEMBER') THEN
        GRANT astpg_reader TO astpg_writer;
    END IF;
END
$$;

--
-- The key of a file.  Unique indexes on long text fail beyond ~2700 bytes
-- per entry, and a path may hold 4096 characters; the SHA-256 of
-- (repository, path) is 32 bytes whatever their length.
--
CREATE FUNCTION @extschema@.file_key(repository text, path text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'astpg_file_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.file_key(text, text) IS
'SHA-256 key of (repository, path): what the unique index of astpg.files is built on';

--
-- The key of a repository.  Every table has it, and every key holds it,
-- after the ids.
--
CREATE FUNCTION @extschema@.repo_id(repository text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'astpg_repo_id'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.repo_id(text) IS
'key of a repository: the first 8 bytes of the SHA-256 of its name; every table''s keys hold it, after the ids';

--
-- Types of the API's results.
--
CREATE TYPE @extschema@.ingest_result AS (
    file_id      bigint,
    status       text,
    classes      integer,
    functions    integer,
    calls        integer,
    dependencies integer,
    metrics      integer
);

CREATE TYPE @extschema@.ingest_counts AS (
    documents bigint,
    inserted  bigint,
    replaced  bigint,
    unchanged bigint,
    rejected  bigint,
    rows      bigint
);

--
-- files_ast_idx's operator class: keys a cancel can stop.  PostgreSQL's
-- jsonb_path_ops extracts and sorts the keys of a value without checking
-- for interrupts: a cancel during the ingest of a 100 MB ast waited over a
-- second for it.  astpg.ast_path_ops is jsonb_path_ops with an
-- extractValue function of astpg's (src/ast_index.c) that makes the same
-- keys, checking for interrupts, and hands them to GIN sorted and without
-- duplicates; the query side is jsonb_path_ops' own, so ast @> '{...}', @?
-- and @@ use the index as they would jsonb_path_ops.
--
CREATE FUNCTION @extschema@.gin_extract_ast(jsonb, internal, internal)
RETURNS internal
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'astpg_gin_extract_ast';

CREATE OPERATOR CLASS @extschema@.ast_path_ops FOR TYPE jsonb USING gin AS
    OPERATOR 7 pg_catalog.@> (jsonb, jsonb),
    OPERATOR 15 pg_catalog.@? (jsonb, jsonpath),
    OPERATOR 16 pg_catalog.@@ (jsonb, jsonpath),
    FUNCTION 1 pg_catalog.btint4cmp(integer, integer),
    FUNCTION 2 @extschema@.gin_extract_ast(jsonb, internal, internal),
    FUNCTION 3 pg_catalog.gin_extract_jsonb_query_path(jsonb, internal, smallint, internal,
                                                       internal, internal, internal),
    FUNCTION 4 pg_catalog.gin_consistent_jsonb_path(internal, smallint, jsonb, integer,
                                                    internal, internal, internal, internal),
    FUNCTION 6 pg_catalog.gin_triconsistent_jsonb_path(internal, smallint, jsonb, integer,
                                                       internal, internal, internal),
    STORAGE integer;

--
-- Tables.  Every child table carries file_id and repo_id (so that the
-- schema can be distributed on repo_id) and goes away with its file (ON
-- DELETE CASCADE).  Their keys and indexes are in the next section.
--
-- repo_id is the last column of each table it was added to: 1.2 added it
-- to the tables of 1.0 and 1.1, and a fresh install has the columns of an
-- updated database in the same order (what SELECT * and COPY without a
-- column list see).  It is filled in by the writers and checked against
-- the repository in files.
--
-- Ids come from identity sequences.  Those of files, classes and functions
-- are cached per session: the foreign-key checks of a document's rows read
-- files_pkey, classes_pkey and functions_pkey at the page where their new
-- ids are, and ids from one sequence put every session's rows on the same
-- rightmost page, which SERIALIZABLE writers of different repositories
-- then share.
--
CREATE TABLE @extschema@.files (
    file_id      bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 512),
    repository   text NOT NULL,
    path         text NOT NULL,
    module       text,
    language     text NOT NULL,
    revision     text,
    size_bytes   bigint,
    content_hash text,
    ast          jsonb,
    attrs        jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    repo_id      bigint NOT NULL,
    CONSTRAINT files_path_check
        CHECK (pg_catalog.length(path) BETWEEN 1 AND 4096),
    CONSTRAINT files_language_check
        CHECK (language OPERATOR(pg_catalog.~) '^[a-z0-9_+#.-]{1,50}$'),
    CONSTRAINT files_size_bytes_check CHECK (size_bytes >= 0),
    CONSTRAINT files_repo_id_check
        CHECK (repo_id = @extschema@.repo_id(repository))
);

COMMENT ON TABLE @extschema@.files IS
'one row per source file; (repository, path) is unique';
COMMENT ON COLUMN @extschema@.files.ast IS 'the raw AST, as ingested';
COMMENT ON COLUMN @extschema@.files.attrs IS
'top-level document keys that have no column of their own';

--
-- files.ast compressed with lz4: a files row's ast is compressed when the
-- row is written, in one call that never checks for interrupts, and a
-- cancel or a statement_timeout that arrives meanwhile waits for it.
-- Writing a 100 MB ast (168 MB as jsonb; test/cancel.py's document) took,
-- on the project's 2-core machine, 875 ms with pglz, the default, and 250
-- ms with lz4 (4.5 s and 1.2 s when the machine was loaded); lz4 stores it
-- in 19 MB where pglz stores 16 MB.  Storing it uncompressed (STORAGE
-- EXTERNAL) would be as quick but take 169 MB.  A server built without lz4
-- keeps pglz (the error is feature_not_supported), silently: it works as
-- it did.  What stays uninterrupted is the extraction of the GIN entries
-- of files_ast_idx (about a second for this document), which only
-- dropping it would avoid.
--
DO $$
BEGIN
    ALTER TABLE @extschema@.files ALTER COLUMN ast SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;

CREATE TABLE @extschema@.classes (
    class_id       bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 512),
    file_id        bigint NOT NULL,
    parent_id      bigint,
    name           text NOT NULL,
    qualified_name text NOT NULL,
    namespace      text,
    bases          text[] NOT NULL DEFAULT '{}',
    line_start     integer NOT NULL,
    line_end       integer NOT NULL,
    is_abstract    boolean NOT NULL DEFAULT false,
    attrs          jsonb NOT NULL DEFAULT '{}',
    repo_id        bigint NOT NULL,
    CONSTRAINT classes_lines_check
        CHECK (line_start >= 1 AND line_end >= line_start)
);

COMMENT ON TABLE @extschema@.classes IS
'classes, structs, interfaces and traits; parent_id links nested classes';

CREATE TABLE @extschema@.functions (
    function_id     bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 2048),
    file_id         bigint NOT NULL,
    class_id        bigint,
    name            text NOT NULL,
    qualified_name  text NOT NULL,
    signature       text,
    parameters      jsonb NOT NULL DEFAULT '[]',
    parameter_count integer NOT NULL DEFAULT 0,
    return_type     text,
    line_start      integer NOT NULL,
    line_end        integer NOT NULL,
    complexity      integer,
    is_async        boolean NOT NULL DEFAULT false,
    decorators      text[] NOT NULL DEFAULT '{}',
    attrs           jsonb NOT NULL DEFAULT '{}',
    repo_id         bigint NOT NULL,
    CONSTRAINT functions_lines_check
        CHECK (line_start >= 1 AND line_end >= line_start),
    CONSTRAINT functions_complexity_check CHECK (complexity >= 1)
);

COMMENT ON TABLE @extschema@.functions IS
'functions and methods; class_id is the enclosing class of a method';

CREATE TABLE @extschema@.calls (
    function_id bigint NOT NULL,
    call_no     integer NOT NULL,
    file_id     bigint NOT NULL,
    callee      text NOT NULL,
    line        integer,
    attrs       jsonb NOT NULL DEFAULT '{}',
    repo_id     bigint NOT NULL
);

COMMENT ON TABLE @extschema@.calls IS
'call sites inside a function, callee as written; call_no keeps their order';

CREATE TABLE @extschema@.dependencies (
    file_id        bigint NOT NULL,
    dependency_no  integer NOT NULL,
    target         text NOT NULL,
    target_file_id bigint,
    kind           text NOT NULL DEFAULT 'import',
    line           integer,
    strength       double precision NOT NULL DEFAULT 1.0,
    names          text[] NOT NULL DEFAULT '{}',
    attrs          jsonb NOT NULL DEFAULT '{}',
    repo_id        bigint NOT NULL,
    CONSTRAINT dependencies_strength_check CHECK (strength BETWEEN 0 AND 1)
);

COMMENT ON TABLE @extschema@.dependencies IS
'imports, includes and requires; target_file_id is the stored file the target names, if any';

CREATE TABLE @extschema@.metrics (
    file_id bigint NOT NULL,
    name    text NOT NULL,
    value   double precision NOT NULL,
    repo_id bigint NOT NULL
);

COMMENT ON TABLE @extschema@.metrics IS 'file-level metrics, one row each';

-- The audit log.  No foreign key: the log outlives the files it names.
CREATE TABLE @extschema@.ingests (
    ingest_id    bigint GENERATED BY DEFAULT AS IDENTITY,
    ingested_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    ingested_by  text NOT NULL DEFAULT SESSION_USER,
    repository   text NOT NULL,
    path         text NOT NULL,
    revision     text,
    content_hash text,
    status       text NOT NULL,
    file_id      bigint,
    classes      integer NOT NULL DEFAULT 0,
    functions    integer NOT NULL DEFAULT 0,
    calls        integer NOT NULL DEFAULT 0,
    dependencies integer NOT NULL DEFAULT 0,
    metrics      integer NOT NULL DEFAULT 0,
    duration     interval NOT NULL,
    repo_id      bigint NOT NULL,
    CONSTRAINT ingests_status_check
        CHECK (status IN ('inserted', 'replaced', 'unchanged', 'deleted'))
);

COMMENT ON TABLE @extschema@.ingests IS
'audit log: one row per ingest or delete_file call, with the rows it wrote';

-- Refused documents, stored whole when a batch or the inbox skips them.  A
-- reject whose document names no repository (or is not JSON) is kept under
-- the empty name's key.
CREATE TABLE @extschema@.rejects (
    reject_id     bigint GENERATED BY DEFAULT AS IDENTITY,
    rejected_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    rejected_by   text NOT NULL DEFAULT SESSION_USER,
    source        text NOT NULL,
    position      bigint NOT NULL,
    repository    text,
    path          text,
    document      jsonb,
    document_text text,
    sqlstate      text NOT NULL,
    message       text NOT NULL,
    detail        text,
    repo_id       bigint NOT NULL,
    CONSTRAINT rejects_document_check
        CHECK (document IS NOT NULL OR document_text IS NOT NULL)
);

COMMENT ON TABLE @extschema@.rejects IS
'documents refused by ingest_batch(..., ''skip'') or the inbox with astpg.on_error = skip, stored whole';
COMMENT ON COLUMN @extschema@.rejects.position IS
'0-based position of the document in its batch, or among the documents of its transaction (inbox)';
COMMENT ON COLUMN @extschema@.rejects.document_text IS
'the text as given, when it is not JSON (document is then NULL); for a line astpg-load could not send as text, the line with each byte that is not UTF-8, and each NUL, written \xHH';

-- COPY astpg.inbox (doc) FROM STDIN: each row is ingested by the trigger and
-- not kept.  doc is text so that text which is not JSON reaches the trigger
-- and can be rejected like any other bad document.
CREATE TABLE @extschema@.inbox (
    doc text
);

COMMENT ON TABLE @extschema@.inbox IS
'COPY documents in here: each row is ingested as it arrives and none is kept (astpg.on_error says what a refused one does)';

--
-- When each repository's analytics were last refreshed: the ingest id
-- they include, so that astpg.analytics_staleness can count what came
-- after.
CREATE TABLE @extschema@.analytics_refreshes (
    repo_id      bigint NOT NULL,
    repository   text NOT NULL,
    refreshed_at timestamptz NOT NULL,
    duration     interval NOT NULL,
    last_ingest  bigint NOT NULL,
    classes      bigint NOT NULL,
    calls        bigint NOT NULL,
    hotspots     bigint NOT NULL,
    PRIMARY KEY (repository, repo_id)
);

COMMENT ON TABLE @extschema@.analytics_refreshes IS
'the last refresh of each repository''s analytics: when, how long, the last ingest it includes, and the rows it made';

--
-- Each run of maintain(): when, and what it did (astpg.health reads the
-- last).  A log of the database's, not kept by pg_dump.
--
CREATE TABLE @extschema@.maintenance_runs (
    ran_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    created integer NOT NULL,
    dropped integer NOT NULL,
    pruned  bigint NOT NULL
);

COMMENT ON TABLE @extschema@.maintenance_runs IS
'each run of maintain(): when, the history partitions it created and dropped, and the names it pruned';

--
-- Metrics across revisions: every ingest that stores a new version of a
-- file (inserted or replaced) appends a row, written by the ingest itself
-- in its transaction.  Partitioned by month of ingested_at: maintain()
-- creates the months ahead and drops those past the retention; the DEFAULT
-- partition takes what no month holds yet, so an ingest never fails.  No
-- month exists until maintain() first runs.
--
CREATE TABLE @extschema@.metric_history (
    repo_id          bigint NOT NULL,
    repository       text NOT NULL,
    path             text NOT NULL,
    file_id          bigint NOT NULL,
    revision         text,
    content_hash     text,
    status           text NOT NULL CHECK (status IN ('inserted', 'replaced')),
    ingested_at      timestamptz NOT NULL,
    functions        integer NOT NULL,
    classes          integer NOT NULL,
    complexity_total bigint NOT NULL,
    complexity_max   integer,
    metrics          jsonb NOT NULL DEFAULT '{}'
) PARTITION BY RANGE (ingested_at);

CREATE TABLE @extschema@.metric_history_default
    PARTITION OF @extschema@.metric_history DEFAULT;

COMMENT ON TABLE @extschema@.metric_history IS
'each stored version of each file: its metrics, functions, classes and complexity, by ingest time (partitioned by month)';

--
-- Keys and indexes, table by table, in the order the upgrade scripts made
-- them.  The planner considers a table's indexes in the order they were
-- made, and of two paths that cost the same keeps the first: a fresh
-- install makes them in the order an updated database has them, so that
-- both plan alike (see below, on plans made while the tables are empty).
--
-- repo_id comes after the ids in every key, and in no other index.  astpg
-- keeps generic plans for the life of a session, often made while the
-- tables are empty, when every index that matches a lookup looks as cheap
-- as any other, even one it would have to read whole.  An index that led
-- with repo_id would match any lookup within a repository, and such a plan
-- walks the repository's whole index for each row: loading the 1,781 files
-- of a standard library took 27 times as long, the foreign-key checks of
-- calls reading 274 million index entries.  So every key leads with its
-- id, the lookups of 1.0 come first (by id, hash or name), and the
-- statements astpg keeps plans for on one server look rows up by id or key
-- without naming repo_id (sql/plans.sql checks it).  Citus needs the
-- distribution column in every unique and foreign key, not first, and
-- plans each shard's statement anew with its values.  The unique key on
-- (repository, path) comes after the primary key, so that where both
-- could serve a foreign-key check, the primary key is tried first.
--
-- A btree entry holds at most about 2700 bytes, and names, paths and
-- callees may be longer (1024 characters of 4 bytes each for a name; a
-- callee is the call's source text, of any length): an index on the whole
-- value would refuse valid documents.  So equality lookups of text go
-- through hash indexes, and the ordered indexes on names hold their first
-- 256 characters.  The trigram index of find_symbol's prefix and fuzzy
-- matches is on astpg.symbol_names, which holds each name once, not on the
-- tables: on the tables such indexes cost every ingest a fifth of its speed
-- (measured: 1,781 documents of a standard library in 6.6 s with them, 5.5
-- s without).
--
-- SERIALIZABLE writers of different repositories: the writers' lookups
-- stay on their repository's index pages.  At SERIALIZABLE a lookup takes
-- a predicate lock on every index page it reads (a btree leaf, a hash
-- bucket), whether it finds a row or not, and another transaction that
-- inserts into that page then makes a read-write conflict with it.  A
-- writer looks up every dependency target of its documents by module and
-- by path (dependency_targets()), the paths of its files
-- (src/batch_writer.c, step 1) and its modules and paths among the
-- unresolved dependencies (step 5).  Indexes keyed by a hash of the value
-- alone put each lookup on a page of its own among every repository's
-- entries: a batch of 20 documents read most pages of them, and the 8
-- sessions of test/writers.py, each writing its own repository of 800
-- files, locked the same pages all the time.  These indexes are keyed
-- instead by 32 bits of a hash of the repository, then 32 bits of a hash
-- of the value:
--
--     files:         (hashtextextended(repository, 0) & -2^32)
--                    | (hashtextextended(value, 0) & (2^32 - 1))
--     dependencies:  (repo_id & -2^32)
--                    | (hashtextextended(target, repo_id) & (2^32 - 1))
--
-- (dependencies hold no repository name).  A repository's entries sit
-- together, on pages where only its writers insert once the index has a
-- few pages per repository.  Values of one repository may share a key, so
-- every lookup compares the values too.  The keys are expressions of
-- pg_catalog functions, not functions of astpg's, so that
-- dependency_targets(), whose body names objects by schema name, needs
-- nothing more; and expressions, not columns, so that no other lookup
-- within a repository can pick these indexes (see above, why no key leads
-- with repo_id).  src/queries.c and src/batch_writer.c write and compute
-- the same.  The unique key on file_key(repository, path) stays what ON
-- CONFLICT checks, which takes no predicate lock; files_module_idx and
-- files_path_idx (hash) stay for readers' lookups across repositories.
--

-- files: lookups by name (hash indexes take values of any length), the
-- primary key, (repository, path) unique through its fixed-size key, the
-- writers' lookups by module and path within a repository, and the GIN
-- index of ast @> '{...}' containment queries
CREATE INDEX files_path_idx ON @extschema@.files USING hash (path);
CREATE INDEX files_module_idx ON @extschema@.files USING hash (module);
ALTER TABLE @extschema@.files
    ADD CONSTRAINT files_pkey PRIMARY KEY (file_id, repo_id);
CREATE UNIQUE INDEX files_repository_path_key
    ON @extschema@.files (@extschema@.file_key(repository, path), repo_id);
CREATE INDEX files_repository_module_idx
    ON @extschema@.files (((pg_catalog.hashtextextended(repository, 0) & (-4294967296)::bigint)
                           | (pg_catalog.hashtextextended(module, 0) & 4294967295::bigint)));
CREATE INDEX files_repository_path_idx
    ON @extschema@.files (((pg_catalog.hashtextextended(repository, 0) & (-4294967296)::bigint)
                           | (pg_catalog.hashtextextended(path, 0) & 4294967295::bigint)));
CREATE INDEX files_ast_idx ON @extschema@.files USING gin (ast @extschema@.ast_path_ops);

-- classes: by file, by parent, the primary key, by name
CREATE INDEX classes_file_id_idx ON @extschema@.classes (file_id);
CREATE INDEX classes_parent_id_idx ON @extschema@.classes (parent_id);
ALTER TABLE @extschema@.classes
    ADD CONSTRAINT classes_pkey PRIMARY KEY (class_id, repo_id);
CREATE INDEX classes_name_idx ON @extschema@.classes USING hash (name);
CREATE INDEX classes_qualified_name_idx ON @extschema@.classes USING hash (qualified_name);

-- functions: by file, by class, the primary key, by name (exact names)
CREATE INDEX functions_file_id_idx ON @extschema@.functions (file_id);
CREATE INDEX functions_class_id_idx ON @extschema@.functions (class_id);
ALTER TABLE @extschema@.functions
    ADD CONSTRAINT functions_pkey PRIMARY KEY (function_id, repo_id);
-- a function by its name, or by its name and qualified name (find_symbol)
CREATE INDEX functions_name_idx ON @extschema@.functions
    (pg_catalog.left(name, 256), pg_catalog.left(qualified_name, 256));

-- calls: by file, the primary key, "who calls this name?"
ALTER TABLE @extschema@.calls
    ADD CONSTRAINT calls_pkey PRIMARY KEY (function_id, repo_id, call_no);
-- the calls of a file by the name they call, the callee's last part: the
-- calls that may reach a function (callers()), and a file's rows (its
-- foreign keys, and deleting them)
CREATE INDEX calls_file_name_idx ON @extschema@.calls
    (file_id, pg_catalog.left(pg_catalog.split_part(callee, '.', -1), 256));

-- dependencies: by target file (the dependencies delete_file() unresolves,
-- and the foreign key's check when a file goes), the primary key, and the
-- unresolved targets a newly stored file must resolve.
--
-- The index by target file is partial, so that it cannot serve "IS NULL":
-- a plan made on empty tables would walk every unresolved row through it
-- instead of looking the target up in dependencies_unresolved_target_idx.
-- That one is a btree on a hash of the target, not a hash index on it: a
-- hash index keeps equal values in one bucket's chain of overflow pages,
-- which every insert walks, so that a popular unresolved target ("os")
-- made each new one slower (300,000 stored made 10,000 more take 5 times
-- as long).  A btree finds its place among duplicates by descent.  It
-- holds a hash, not the text: a target may be longer than a btree entry
-- can be.
CREATE INDEX dependencies_target_file_id_idx
    ON @extschema@.dependencies (target_file_id)
    WHERE target_file_id IS NOT NULL;
ALTER TABLE @extschema@.dependencies
    ADD CONSTRAINT dependencies_pkey PRIMARY KEY (file_id, repo_id, dependency_no);
CREATE INDEX dependencies_unresolved_target_idx
    ON @extschema@.dependencies (((repo_id & (-4294967296)::bigint)
                                  | (pg_catalog.hashtextextended(target, repo_id)
                                     & 4294967295::bigint)))
    WHERE target_file_id IS NULL;

-- metrics: by file
CREATE INDEX metrics_file_id_idx ON @extschema@.metrics (file_id);

-- the logs: their primary keys
ALTER TABLE @extschema@.ingests
    ADD CONSTRAINT ingests_pkey PRIMARY KEY (ingest_id, repo_id);
ALTER TABLE @extschema@.rejects
    ADD CONSTRAINT rejects_pkey PRIMARY KEY (reject_id, repo_id);
-- the last hour's and day's rows, for astpg.health: BRIN, as the rows come
-- in time order and the index costs an ingest next to nothing
CREATE INDEX ingests_ingested_at_idx ON @extschema@.ingests USING brin (ingested_at);
CREATE INDEX rejects_rejected_at_idx ON @extschema@.rejects USING brin (rejected_at);

-- metric_history: indexes go on each partition, not on the parent.
-- pg_dump writes the monthly partitions (not members of the extension)
-- with their indexes, and a parent's index, created anew by CREATE
-- EXTENSION on restore, would make ATTACH PARTITION create those indexes
-- first, and the restore fail.  maintain() copies the DEFAULT partition's.
CREATE INDEX metric_history_default_path_idx
    ON @extschema@.metric_history_default USING hash (path);
CREATE INDEX metric_history_default_repo_id_idx
    ON @extschema@.metric_history_default (repo_id, ingested_at);

--
-- Foreign keys, in the order the upgrade scripts made them (their
-- triggers, which cascade a file's deletion, fire in that order).  No ON
-- DELETE action for target_file_id: SET NULL would null repo_id too (and
-- Citus refuses it on a key that holds the distribution column), so
-- delete_file() clears the dependencies on a file before deleting it.
--
ALTER TABLE @extschema@.classes
    ADD CONSTRAINT classes_file_id_fkey FOREIGN KEY (file_id, repo_id)
        REFERENCES @extschema@.files (file_id, repo_id) ON DELETE CASCADE,
    ADD CONSTRAINT classes_parent_id_fkey FOREIGN KEY (parent_id, repo_id)
        REFERENCES @extschema@.classes (class_id, repo_id) ON DELETE CASCADE;
ALTER TABLE @extschema@.functions
    ADD CONSTRAINT functions_file_id_fkey FOREIGN KEY (file_id, repo_id)
        REFERENCES @extschema@.files (file_id, repo_id) ON DELETE CASCADE,
    ADD CONSTRAINT functions_class_id_fkey FOREIGN KEY (class_id, repo_id)
        REFERENCES @extschema@.classes (class_id, repo_id) ON DELETE CASCADE;
ALTER TABLE @extschema@.calls
    ADD CONSTRAINT calls_function_id_fkey FOREIGN KEY (function_id, repo_id)
        REFERENCES @extschema@.functions (function_id, repo_id) ON DELETE CASCADE,
    ADD CONSTRAINT calls_file_id_fkey FOREIGN KEY (file_id, repo_id)
        REFERENCES @extschema@.files (file_id, repo_id) ON DELETE CASCADE;
ALTER TABLE @extschema@.dependencies
    ADD CONSTRAINT dependencies_file_id_fkey FOREIGN KEY (file_id, repo_id)
        REFERENCES @extschema@.files (file_id, repo_id) ON DELETE CASCADE,
    ADD CONSTRAINT dependencies_target_file_id_fkey
        FOREIGN KEY (target_file_id, repo_id)
        REFERENCES @extschema@.files (file_id, repo_id);
ALTER TABLE @extschema@.metrics
    ADD CONSTRAINT metrics_file_id_fkey FOREIGN KEY (file_id, repo_id)
        REFERENCES @extschema@.files (file_id, repo_id) ON DELETE CASCADE;

--
-- Writing.  The C entry points (src/) validate whole documents and write
-- them; the functions after them are the writers' helpers in SQL and
-- PL/pgSQL: dependency resolution, the repository lock and its retry,
-- deletes, and the incremental sync of astpg-index.
--

-- SECURITY DEFINER: writers change data through the API only, and cannot
-- touch the tables (or the audit log) directly.
--
-- enable_seqscan = off: every lookup an ingest makes (its own, and the
-- foreign-key checks PostgreSQL runs for it) goes through a unique key or an
-- index.  Plans are kept for the life of a session, and one made while the
-- tables were empty (freshly created or truncated, then analyzed) would
-- otherwise scan them whole for every row once they have grown: a load of
-- 5,000 documents that takes 20 s took over 10 minutes that way.
CREATE FUNCTION @extschema@.ingest(doc jsonb)
RETURNS @extschema@.ingest_result
AS 'MODULE_PATHNAME', 'astpg_ingest'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off;

COMMENT ON FUNCTION @extschema@.ingest(jsonb) IS
'store one document (see the astpg document format), replacing the stored copy of its (repository, path)';

CREATE FUNCTION @extschema@.ingest_batch(docs jsonb[], on_error text DEFAULT 'abort')
RETURNS SETOF @extschema@.ingest_result
AS 'MODULE_PATHNAME', 'astpg_ingest_batch'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off;

COMMENT ON FUNCTION @extschema@.ingest_batch(jsonb[], text) IS
'ingest many documents in one call; on_error ''abort'' refuses the batch for one bad document, ''skip'' stores it in astpg.rejects and goes on';

CREATE FUNCTION @extschema@.inbox_ingest()
RETURNS trigger
AS 'MODULE_PATHNAME', 'astpg_inbox_ingest'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off;

CREATE TRIGGER inbox_ingest
    BEFORE INSERT ON @extschema@.inbox
    FOR EACH ROW EXECUTE FUNCTION @extschema@.inbox_ingest();

--
-- COPY into the inbox writes its documents a batch at a time: the row
-- trigger reads and checks each one and keeps it, and this statement
-- trigger writes what is kept when the statement ends (src/astpg.c).
--
CREATE FUNCTION @extschema@.inbox_flush()
RETURNS trigger
AS 'MODULE_PATHNAME', 'astpg_inbox_flush'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off;

CREATE TRIGGER inbox_flush
    AFTER INSERT ON @extschema@.inbox
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.inbox_flush();

CREATE FUNCTION @extschema@.ingest_counts()
RETURNS @extschema@.ingest_counts
AS 'MODULE_PATHNAME', 'astpg_ingest_counts'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION @extschema@.ingest_counts() IS
'what this session ingested in its current transaction: documents by status, and rows written';

--
-- astpg-load: lines that cannot be sent as text.
--
-- A line that is not valid UTF-8, or that holds a NUL byte, cannot reach
-- the inbox at all: the server refuses the whole COPY for it.  With
-- on_error = skip the loader records it through record_reject() instead,
-- in its place between the COPYs of the documents around it.  It must
-- count as a document of the transaction, as every row of the inbox does,
-- so that its position and those of the documents after it are the ones
-- they would have had, and astpg.ingest_counts() reports it rejected.
-- record_reject() numbers and counts it as the inbox numbers and counts
-- its rows (src/ingest.c).  A writer can thus only add a reject to its own
-- transaction, never change another.
--
CREATE FUNCTION @extschema@.record_reject(document_text text, sqlstate text,
                                          message text, detail text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'astpg_record_reject'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.record_reject(text, text, text, text) IS
'store in astpg.rejects, as the inbox would, a document that cannot be sent as text (astpg-load: a line that is not UTF-8 or holds a NUL byte); counted as a rejected document of this transaction; returns its position';

-- On Citus, ingest writes a table's rows as INSERT ... VALUES of unnested
-- arrays, which the shard expands; a text[] column's values arrive as the
-- text of each row's array, and this turns them back into rows of text[].
CREATE FUNCTION @extschema@.text_arrays(texts text[])
RETURNS SETOF text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT t::text[] FROM unnest($1) AS t $$;

COMMENT ON FUNCTION @extschema@.text_arrays(text[]) IS
'each element (the text of a text[] value) as a text[] row; used by ingest on Citus';

--
-- Dependency resolution: the rule in one place.
--
-- A dependency resolves to the stored file of its repository whose module
-- equals its target (the lowest file_id when several share the module),
-- or else whose path does.  dependency_targets() answers that for a set of
-- targets at once; the writer (src/batch_writer.c) and
-- resolve_dependencies() both ask it, and nothing else decides.
--
-- The files found are locked FOR KEY SHARE, as the foreign-key check of
-- the dependency rows written next would lock them: a concurrent
-- delete_file() of a target either finishes first (the target is then not
-- found, and the dependency stays unresolved: never a foreign-key error)
-- or waits for the writer.  The writer asks before it touches any
-- dependency row, so that wait cannot close a cycle (a deadlock).
--
-- routed: the tables are distributed (Citus), and each statement must name
-- repo_id to go to one shard.  On one server repo_id is not named, since a
-- plan made on empty tables may then read a whole key filtering on it (see
-- "Keys and indexes").  There the lookups by module and by path go through
-- files_repository_module_idx and files_repository_path_idx.  A file whose
-- module (path) shares the key of a target is a candidate, and locked,
-- needlessly; the rule compares modules and paths, and does not take it.
-- The lookup itself does not compare f.module or f.path: the planner might
-- then read files_module_idx or files_path_idx, whose buckets every
-- repository shares.
--
CREATE FUNCTION @extschema@.dependency_targets(repository text, targets text[],
                                                          routed boolean DEFAULT false)
RETURNS TABLE (target text, file_id bigint)
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    -- the files that may answer: by module, or by path
    ids     bigint[];
    modules text[];
    paths   text[];
    -- the targets' keys in this repository, as the indexes hold them
    keys    bigint[];
BEGIN
    IF routed THEN
        SELECT array_agg(c.file_id), array_agg(c.module), array_agg(c.path)
          INTO ids, modules, paths
          FROM (SELECT f.file_id, f.module, f.path
                  FROM @extschema@.files f
                 WHERE f.repo_id = @extschema@.repo_id(dependency_targets.repository)
                   AND f.repository = dependency_targets.repository
                   AND (f.module = ANY (dependency_targets.targets)
                        OR f.path = ANY (dependency_targets.targets))
                   FOR KEY SHARE OF f) AS c;
    ELSE
        keys := ARRAY(SELECT (hashtextextended(dependency_targets.repository, 0)
                              & (-4294967296)::bigint)
                             | (hashtextextended(u, 0) & 4294967295::bigint)
                        FROM unnest(dependency_targets.targets) AS u);
        SELECT array_agg(c.file_id), array_agg(c.module), array_agg(c.path)
          INTO ids, modules, paths
          FROM (SELECT f.file_id, f.module, f.path
                  FROM @extschema@.files f
                 WHERE (((hashtextextended(f.repository, 0) & (-4294967296)::bigint)
                         | (hashtextextended(f.module, 0) & 4294967295::bigint)) = ANY (keys)
                        OR ((hashtextextended(f.repository, 0) & (-4294967296)::bigint)
                            | (hashtextextended(f.path, 0) & 4294967295::bigint)) = ANY (keys))
                   AND f.repository = dependency_targets.repository
                   FOR KEY SHARE OF f) AS c;
    END IF;

    -- the rule: by module, the lowest file_id; else by path
    RETURN QUERY
    WITH candidates AS (
        SELECT * FROM unnest(ids, modules, paths) AS c(file_id, module, path)
    )
    SELECT t.target, COALESCE(m.file_id, p.file_id)
      FROM (SELECT DISTINCT u FROM unnest(dependency_targets.targets) AS u
             WHERE u IS NOT NULL) AS t(target)
      LEFT JOIN (SELECT c.module, min(c.file_id) AS file_id
                   FROM candidates c GROUP BY c.module) AS m
             ON m.module = t.target
      LEFT JOIN (SELECT c.path, min(c.file_id) AS file_id
                   FROM candidates c GROUP BY c.path) AS p
             ON p.path = t.target;
END
$$;

COMMENT ON FUNCTION @extschema@.dependency_targets(text, text[], boolean) IS
'the stored file each target resolves to (by module, the lowest file_id first; else by path), NULL where none; locks those files FOR KEY SHARE';

--
-- resolve_dependencies() sets every dependency of a repository to what
-- dependency_targets() says, not only the unresolved ones: after any
-- interleaving of concurrent writers (a file's module changed while a
-- dependent was written, say) it makes resolution right again.  It returns
-- how many dependencies it changed.  On Citus it updates a statement per
-- file pointed at.
--
CREATE FUNCTION @extschema@.resolve_dependencies(repository text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    repo    record;
    routed  boolean := EXISTS (SELECT FROM pg_catalog.pg_extension
                                WHERE extname = 'citus');
    targets text[];
    target_file_ids bigint[];
    wanted  record;
    pointed bigint;
    changed bigint;
    total   bigint := 0;
BEGIN
    -- on Citus, the workers plan these statements with enable_seqscan off
    -- too (see src/batch_writer.c)
    IF routed THEN
        SET LOCAL citus.propagate_set_commands = 'local';
        SET LOCAL enable_seqscan = off;
    END IF;
    FOR repo IN
        SELECT DISTINCT f.repo_id, f.repository
          FROM @extschema@.files f
         WHERE resolve_dependencies.repository IS NULL
            OR f.repo_id = @extschema@.repo_id(resolve_dependencies.repository)
    LOOP
        -- two statements: on Citus the first goes to the shard, and the
        -- second runs dependency_targets() here (it queries the shards)
        targets := ARRAY(SELECT DISTINCT d.target
                           FROM @extschema@.dependencies d
                          WHERE d.repo_id = repo.repo_id);
        SELECT coalesce(array_agg(w.target), '{}'), coalesce(array_agg(w.file_id), '{}')
          INTO targets, target_file_ids
          FROM @extschema@.dependency_targets(repo.repository, targets, routed) AS w;
        IF routed THEN
            -- one table, no join, no subscript (which Citus cannot send):
            -- a statement per file pointed at, each on the repository's shard
            changed := 0;
            FOR wanted IN
                SELECT w.file_id, array_agg(w.target) AS targets
                  FROM unnest(targets, target_file_ids) AS w(target, file_id)
                 GROUP BY w.file_id
            LOOP
                UPDATE @extschema@.dependencies d
                   SET target_file_id = wanted.file_id
                 WHERE d.repo_id = repo.repo_id
                   AND d.target = ANY (wanted.targets)
                   AND d.target_file_id IS DISTINCT FROM wanted.file_id;
                GET DIAGNOSTICS pointed = ROW_COUNT;
                changed := changed + pointed;
            END LOOP;
        ELSE
            UPDATE @extschema@.dependencies d
               SET target_file_id = w.file_id
              FROM unnest(targets, target_file_ids) AS w(target, file_id)
             WHERE d.repo_id = repo.repo_id
               AND d.target = w.target
               AND d.target_file_id IS DISTINCT FROM w.file_id;
            GET DIAGNOSTICS changed = ROW_COUNT;
        END IF;
        total := total + changed;
    END LOOP;
    RETURN total;
END
$$;

COMMENT ON FUNCTION @extschema@.resolve_dependencies(text) IS
'set every stored dependency (of one repository, or of all) to the file it resolves to now; returns how many changed';

--
-- Writers that deadlock try again, alone in their repository
-- (src/deadlocks.c says why this works).
--
-- Every write of a repository's files, by the writers in C and by
-- delete_paths() (delete_file() and delete_files()), holds
-- lock_repository(repo_id, false) until its transaction ends: writers do
-- not wait for each other on it.
-- A call that is the first to write in its transaction and is failed by a
-- deadlock rolls its attempt back, which releases every lock it held, and
-- tries again holding lock_repository(repo_id, true): exclusive, it waits
-- for every transaction that writes the repository to end and keeps new
-- ones out until this one ends.  The client never sees the deadlock.
--
CREATE FUNCTION @extschema@.lock_repository(repo_id bigint, alone boolean)
RETURNS void
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'astpg_lock_repository';
COMMENT ON FUNCTION @extschema@.lock_repository(bigint, boolean) IS
'lock the repository of repo_id until the transaction ends: in share mode as every writer does, or alone (exclusive) as a writer does after a deadlock';

--
-- Deleting files.  A file's row is locked first, so that writers whose
-- foreign-key checks hold it finish; the dependencies that point at it are
-- cleared (no ON DELETE SET NULL, see "Foreign keys"), then it goes with
-- its rows, and a 'deleted' audit row is written.
--

-- One attempt at deleting a file: callers retry it and say what a
-- foreign-key violation means.
CREATE FUNCTION @extschema@.delete_file_once(repository text, path text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    repo            bigint := @extschema@.repo_id(delete_file_once.repository);
    stored_id       bigint;
    stored_revision text;
    stored_hash     text;
BEGIN
    SELECT f.file_id INTO stored_id
      FROM @extschema@.files f
     WHERE f.repo_id = repo
       AND @extschema@.file_key(f.repository, f.path)
           = @extschema@.file_key(delete_file_once.repository, delete_file_once.path)
       AND f.repository = delete_file_once.repository
       AND f.path = delete_file_once.path
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    UPDATE @extschema@.dependencies d
       SET target_file_id = NULL
     WHERE d.repo_id = repo AND d.target_file_id = stored_id;

    -- a statement a table, each on the repository's shard on Citus
    DELETE FROM @extschema@.files f
     WHERE f.repo_id = repo AND f.file_id = stored_id
    RETURNING f.revision, f.content_hash INTO stored_revision, stored_hash;

    INSERT INTO @extschema@.ingests (repo_id, repository, path, revision,
                                     content_hash, status, file_id, duration)
    VALUES (repo, delete_file_once.repository, delete_file_once.path, stored_revision,
            stored_hash, 'deleted', stored_id, interval '0');
    RETURN true;
END
$$;

-- Delete the stored files of paths, in that order, in one attempt, which
-- a deadlock undoes and makes again, alone, as the writers in C do; the
-- paths of the files deleted.
CREATE FUNCTION @extschema@.delete_paths(repository text, paths text[])
RETURNS text[]
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    gone         text;
    deleted      text[];
    attempt      integer := 1;
    first_writer boolean := pg_catalog.pg_current_xact_id_if_assigned() IS NULL;
BEGIN
    -- on Citus, the workers plan these statements (and the foreign keys'
    -- cascades) with enable_seqscan off too
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        SET LOCAL citus.propagate_set_commands = 'local';
        SET LOCAL enable_seqscan = off;
    END IF;
    LOOP
        deleted := '{}';
        BEGIN
            PERFORM @extschema@.lock_repository(@extschema@.repo_id(delete_paths.repository),
                                                attempt > 1);
            FOREACH gone IN ARRAY paths LOOP
                IF @extschema@.delete_file_once(delete_paths.repository, gone) THEN
                    deleted := deleted || gone;
                END IF;
            END LOOP;
            RETURN deleted;
        EXCEPTION
            WHEN deadlock_detected THEN
                IF NOT first_writer OR attempt >= 3 THEN
                    RAISE;
                END IF;
                attempt := attempt + 1;
                -- let the other transaction get ahead before locking again
                PERFORM pg_catalog.pg_sleep(0.005 * attempt + 0.01 * pg_catalog.random());
            WHEN foreign_key_violation THEN
                -- At REPEATABLE READ and SERIALIZABLE the UPDATE of
                -- delete_file_once() cannot see a dependency on the file
                -- that a writer committed after this transaction's snapshot
                -- was taken (the writer held the file FOR KEY SHARE, and the
                -- lock waited for it).  That is a serialization failure,
                -- which the caller retries, not a fault.
                IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
                    RAISE EXCEPTION 'could not serialize access due to a concurrent dependency on file "%"',
                                    gone
                        USING ERRCODE = 'serialization_failure';
                END IF;
                RAISE;
        END;
    END LOOP;
END
$$;

CREATE FUNCTION @extschema@.delete_file(repository text, path text)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.cardinality(@extschema@.delete_paths(repository, ARRAY[path])) > 0;

COMMENT ON FUNCTION @extschema@.delete_file(text, text) IS
'delete a stored file and all its rows; false if it was not stored';

--
-- Incremental sync (astpg-index): what a client needs to keep a repository
-- current in a few set-wise calls.  It hashes its files, asks which
-- (path, content_hash) pairs are stored, records the unchanged ones in one
-- call, sends only new and changed documents, and deletes what is no
-- longer in its tree.
--
-- On Citus every statement here names the repository's repo_id and goes
-- to its shard (test/citus/run checks it).  They are PL/pgSQL for that: a
-- SQL function with SET search_path is never inlined, and Citus cannot
-- plan a parameter of a SQL function that is not ("could not create
-- distributed plan"); in PL/pgSQL the repo_id is a value when the
-- statement runs.
--

-- The stored content_hash of every file of a repository: all a client
-- needs to tell new, changed and unchanged files apart without parsing.
CREATE FUNCTION @extschema@.stored_hashes(repository text)
RETURNS TABLE (path text, content_hash text)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    repo bigint := @extschema@.repo_id(stored_hashes.repository);
BEGIN
    RETURN QUERY
    SELECT f.path, f.content_hash
      FROM @extschema@.files f
     WHERE f.repo_id = repo
       AND f.repository = stored_hashes.repository;
END
$$;

COMMENT ON FUNCTION @extschema@.stored_hashes(text) IS
'path and content_hash of every stored file of a repository';

--
-- Record files the client found unchanged, set-wise: what ingest does for
-- each document whose content_hash is the stored one (lock the file's
-- row, write only an 'unchanged' audit row), without the documents.
-- The stored rows of the given paths are found by their unique key
-- (file_key, repo_id) and locked in file_id order, whatever their hash, so
-- that two callers with overlapping paths cannot deadlock each other.  A
-- concurrent writer of a path either commits first, and the locked row
-- then carries its hash ('changed' when it differs), or waits for this
-- transaction.  The given pairs are matched to the stored rows on the node
-- that was called (no table), and the audit rows written as one INSERT ...
-- VALUES of unnested arrays: on Citus each statement is a router query.
-- Returns each path given with 'unchanged', or 'changed' when the client
-- must send the document (not stored, or stored with another hash).
--
CREATE FUNCTION @extschema@.record_unchanged(repository text, paths text[],
                                                        content_hashes text[],
                                                        revisions text[] DEFAULT NULL)
RETURNS TABLE (path text, status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
    repo          bigint := @extschema@.repo_id(record_unchanged.repository);
    started       timestamptz := pg_catalog.clock_timestamp();
    keys          bytea[];
    stored_ids    bigint[];
    stored_paths  text[];
    stored_hashes text[];
    same_ids      bigint[];
    same_paths    text[];
    same_hashes   text[];
    same_revs     text[];
    audit_ids     bigint[];
BEGIN
    IF record_unchanged.repository IS NULL OR paths IS NULL OR content_hashes IS NULL THEN
        RAISE EXCEPTION 'repository, paths and content_hashes must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.cardinality(paths) <> pg_catalog.cardinality(content_hashes)
       OR pg_catalog.cardinality(paths)
          <> pg_catalog.cardinality(COALESCE(revisions, paths)) THEN
        RAISE EXCEPTION 'paths, content_hashes and revisions must have the same length'
            USING ERRCODE = 'array_subscript_error';
    END IF;
    -- on Citus, the workers plan these statements (and the lookups by
    -- key) with enable_seqscan off too, as delete_file's
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        SET LOCAL citus.propagate_set_commands = 'local';
        SET LOCAL enable_seqscan = off;
    END IF;

    SELECT pg_catalog.array_agg(@extschema@.file_key(record_unchanged.repository, p))
      INTO keys
      FROM pg_catalog.unnest(paths) AS p;

    -- the stored rows, locked in file_id order so that two callers with
    -- overlapping paths cannot deadlock; EvalPlanQual rereads a row a
    -- concurrent writer changed: its content_hash is then the committed one
    SELECT pg_catalog.array_agg(l.file_id), pg_catalog.array_agg(l.path),
           pg_catalog.array_agg(l.content_hash)
      INTO stored_ids, stored_paths, stored_hashes
      FROM (SELECT f.file_id, f.path, f.content_hash
              FROM @extschema@.files f
             WHERE f.repo_id = repo
               AND @extschema@.file_key(f.repository, f.path) = ANY (keys)
               AND f.repository = record_unchanged.repository
             ORDER BY f.file_id
               FOR NO KEY UPDATE OF f) l;

    -- the given pairs stored as they are, in the order given
    SELECT pg_catalog.array_agg(s.file_id ORDER BY g.ord), pg_catalog.array_agg(g.path ORDER BY g.ord),
           pg_catalog.array_agg(g.content_hash ORDER BY g.ord),
           pg_catalog.array_agg(g.revision ORDER BY g.ord)
      INTO same_ids, same_paths, same_hashes, same_revs
      FROM ROWS FROM (pg_catalog.unnest(paths), pg_catalog.unnest(content_hashes),
                      pg_catalog.unnest(revisions))
           WITH ORDINALITY AS g(path, content_hash, revision, ord)
      JOIN ROWS FROM (pg_catalog.unnest(stored_ids), pg_catalog.unnest(stored_paths),
                      pg_catalog.unnest(stored_hashes)) AS s(file_id, path, content_hash)
        ON s.path = g.path AND s.content_hash = g.content_hash;

    -- their audit rows: the columns and values of ingest's audit row for
    -- an unchanged document (src/batch_writer.c, insert_audit).  The
    -- ids are taken here: Citus evaluates a column's default once for the
    -- VALUES row, before the shard expands it into one row a path.
    IF same_ids IS NOT NULL THEN
        audit_ids := ARRAY(SELECT pg_catalog.nextval('@extschema@.ingests_ingest_id_seq'::pg_catalog.regclass)
                             FROM pg_catalog.generate_series(1, pg_catalog.cardinality(same_ids)));
        INSERT INTO @extschema@.ingests (ingest_id, repository, path, revision, content_hash,
                                         status, file_id, classes, functions, calls,
                                         dependencies, metrics, duration, repo_id)
        VALUES (pg_catalog.unnest(audit_ids), record_unchanged.repository, pg_catalog.unnest(same_paths),
                pg_catalog.unnest(same_revs), pg_catalog.unnest(same_hashes),
                'unchanged', pg_catalog.unnest(same_ids), 0, 0, 0, 0, 0,
                pg_catalog.clock_timestamp() - started, repo);
    END IF;

    RETURN QUERY
    SELECT g.path,
           CASE WHEN s.file_id IS NOT NULL THEN 'unchanged' ELSE 'changed' END
      FROM ROWS FROM (pg_catalog.unnest(paths), pg_catalog.unnest(content_hashes))
           WITH ORDINALITY AS g(path, content_hash, ord)
      LEFT JOIN ROWS FROM (pg_catalog.unnest(stored_ids), pg_catalog.unnest(stored_paths),
                           pg_catalog.unnest(stored_hashes)) AS s(file_id, path, content_hash)
        ON s.path = g.path AND s.content_hash = g.content_hash
     ORDER BY g.ord;
END
$$;

COMMENT ON FUNCTION @extschema@.record_unchanged(text, text[], text[], text[]) IS
'log the given files whose stored content_hash is the given one as unchanged, as ingest would; returns unchanged or changed for each path';

--
-- Delete a repository's stored files that are not among keep_paths (a
-- snapshot of the client's tree), as delete_file() does, in one attempt of
-- delete_paths().  The paths are taken in byte order, as the writers lock
-- theirs, by a statement of their own: on Citus, a query of a shard cannot
-- also call delete_paths(), which queries shards.  A file a concurrent
-- caller deleted first is not returned.  Returns the paths deleted.
--
CREATE FUNCTION @extschema@.delete_files(repository text, keep_paths text[])
RETURNS TABLE (path text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
    gone text[];
BEGIN
    -- a NULL list would delete the whole repository: refuse it
    IF delete_files.repository IS NULL OR keep_paths IS NULL THEN
        RAISE EXCEPTION 'repository and keep_paths must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT pg_catalog.array_agg(f.path ORDER BY f.path COLLATE "C") INTO gone
      FROM @extschema@.files f
     WHERE f.repo_id = @extschema@.repo_id(delete_files.repository)
       AND f.repository = delete_files.repository
       AND NOT EXISTS (SELECT FROM pg_catalog.unnest(keep_paths) AS k(path)
                        WHERE k.path = f.path);
    RETURN QUERY
    SELECT d.path
      FROM pg_catalog.unnest(@extschema@.delete_paths(delete_files.repository,
                                                      COALESCE(gone, '{}')))
           WITH ORDINALITY AS d(path, n)
     ORDER BY d.n;
END
$$;

COMMENT ON FUNCTION @extschema@.delete_files(text, text[]) IS
'delete the stored files of a repository whose path is not in keep_paths, as delete_file does; returns their paths';

--
-- Analytics.  What is asked of one file or symbol (find_symbol, callers
-- and callees, what a file imports and what imports it, a file's summary)
-- is read from the tables through their indexes, and is current in every
-- transaction.  What a dashboard shows for a whole repository is kept in
-- the tables below, which refresh_analytics() fills a repository at a
-- time; astpg.analytics_staleness says how far each repository's are
-- behind.  They hold derived data only: pg_dump does not keep them, and a
-- restored database has them empty until its first refresh.
--

-- Resolved imports between two different files, one row per pair: a view
-- of astpg.dependencies, current.
CREATE VIEW @extschema@.module_edges AS
SELECT d.repo_id,
       d.file_id AS source_file_id,
       d.target_file_id,
       pg_catalog.count(*)::integer AS dependencies
  FROM @extschema@.dependencies d
 WHERE d.target_file_id IS NOT NULL
   AND d.target_file_id <> d.file_id
 GROUP BY d.repo_id, d.file_id, d.target_file_id;

COMMENT ON VIEW @extschema@.module_edges IS
'resolved imports between files: source imports target, through "dependencies" rows; current';

-- One row per file: its size, complexity and place in the import graph,
-- each figure looked up for the file alone, so that a file's row is
-- current and costs a few index lookups.
CREATE VIEW @extschema@.file_summary AS
SELECT f.file_id, f.repo_id, f.repository, f.path, f.module, f.language,
       c.classes, fn.functions, fn.max_complexity, fn.avg_complexity,
       fi.fan_in, fo.fan_out, m.loc
  FROM @extschema@.files f
 CROSS JOIN LATERAL (SELECT pg_catalog.count(*)::integer AS classes
                       FROM @extschema@.classes x
                      WHERE x.file_id = f.file_id AND x.repo_id = f.repo_id) c
 CROSS JOIN LATERAL (SELECT pg_catalog.count(*)::integer AS functions,
                            pg_catalog.max(x.complexity) AS max_complexity,
                            pg_catalog.round(pg_catalog.avg(x.complexity), 2) AS avg_complexity
                       FROM @extschema@.functions x
                      WHERE x.file_id = f.file_id AND x.repo_id = f.repo_id) fn
 CROSS JOIN LATERAL (SELECT pg_catalog.count(DISTINCT x.file_id)::integer AS fan_in
                       FROM @extschema@.dependencies x
                      WHERE x.target_file_id = f.file_id AND x.repo_id = f.repo_id
                        AND x.file_id <> f.file_id) fi
 CROSS JOIN LATERAL (SELECT pg_catalog.count(DISTINCT x.target_file_id)::integer AS fan_out
                       FROM @extschema@.dependencies x
                      WHERE x.file_id = f.file_id AND x.repo_id = f.repo_id
                        AND x.target_file_id IS NOT NULL
                        AND x.target_file_id <> f.file_id) fo
 CROSS JOIN LATERAL (SELECT pg_catalog.max(x.value) AS loc
                       FROM @extschema@.metrics x
                      WHERE x.file_id = f.file_id AND x.repo_id = f.repo_id
                        AND x.name = 'loc') m;

COMMENT ON VIEW @extschema@.file_summary IS
'one row per file: classes, functions, complexity, fan_in and fan_out in the import graph, loc; current';

-- Each class with its resolved bases and ancestors (refreshed).
CREATE TABLE @extschema@.class_hierarchy (
    class_id           bigint NOT NULL,
    repo_id            bigint NOT NULL,
    file_id            bigint NOT NULL,
    qualified_name     text NOT NULL,
    bases              text[] NOT NULL,
    base_class_ids     bigint[] NOT NULL,
    depth              integer NOT NULL,
    descendants        integer NOT NULL,
    ancestor_ids       bigint[] NOT NULL,
    ancestor_distances integer[] NOT NULL,
    name               text NOT NULL,
    line_start         integer NOT NULL,
    PRIMARY KEY (class_id, repo_id)
);
-- the classes that descend from a class: callers() of a method
CREATE INDEX class_hierarchy_ancestors_idx
    ON @extschema@.class_hierarchy USING gin (ancestor_ids);

COMMENT ON TABLE @extschema@.class_hierarchy IS
'each class with its resolved base classes, depth of inheritance and number of descendants; as of its repository''s last refresh';

-- Calls resolved to the function they call (resolve_calls), counted per
-- pair of functions (refreshed).
CREATE TABLE @extschema@.call_graph (
    repo_id        bigint NOT NULL,
    caller_id      bigint NOT NULL,
    callee_id      bigint NOT NULL,
    caller_file_id bigint NOT NULL,
    callee_file_id bigint NOT NULL,
    calls          integer NOT NULL,
    PRIMARY KEY (caller_id, callee_id, repo_id)
);
CREATE INDEX call_graph_callee_idx ON @extschema@.call_graph (callee_id);

COMMENT ON TABLE @extschema@.call_graph IS
'calls resolved to the one function they call: caller -> callee, with the number of calls; as of the repository''s last refresh';

-- The most complex functions of each repository, with their resolved
-- callers: the first 100 by rank, what a dashboard shows (refreshed).
CREATE TABLE @extschema@.function_hotspots (
    function_id      bigint NOT NULL,
    repo_id          bigint NOT NULL,
    file_id          bigint NOT NULL,
    repository       text NOT NULL,
    path             text NOT NULL,
    qualified_name   text NOT NULL,
    name             text NOT NULL,
    complexity       integer,
    length           integer NOT NULL,
    resolved_callers integer NOT NULL,
    rank             integer NOT NULL,
    line_start       integer NOT NULL,
    PRIMARY KEY (function_id, repo_id)
);
CREATE INDEX function_hotspots_rank_idx ON @extschema@.function_hotspots (repository, rank);

COMMENT ON TABLE @extschema@.function_hotspots IS
'the 100 most complex functions of each repository (rank 1: most complex; ties share a rank), with length and resolved callers; as of its last refresh';

-- One row per repository and language: the dashboard (refreshed).
CREATE TABLE @extschema@.repository_summary (
    repository            text NOT NULL,
    repo_id               bigint NOT NULL,
    language              text NOT NULL,
    files                 bigint NOT NULL,
    classes               bigint NOT NULL,
    functions             bigint NOT NULL,
    calls                 bigint NOT NULL,
    resolved_calls        bigint NOT NULL,
    unresolved_calls      bigint NOT NULL,
    dependencies          bigint NOT NULL,
    resolved_dependencies bigint NOT NULL,
    lines                 bigint,
    avg_complexity        numeric,
    p90_complexity        integer,
    PRIMARY KEY (language, repo_id)
);

COMMENT ON TABLE @extschema@.repository_summary IS
'one row per repository and language: files, classes, functions, calls (resolved or not), dependencies, lines, complexity; as of its last refresh';

--
-- The ancestors of classes, given their resolved bases as parallel arrays
-- (repository, class, base): each ancestor once, with its shortest and
-- longest distance.  A cycle of bases stops the walk.  A function of its
-- own, because Citus cannot run a recursive query over distributed tables:
-- the view hands it the edges, and the walk reads no table.
--
CREATE FUNCTION @extschema@.class_ancestors(repo_ids bigint[], class_ids bigint[],
                                            base_ids bigint[])
RETURNS TABLE (repo_id bigint, class_id bigint, ancestor_id bigint,
               distance integer, longest integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
WITH RECURSIVE edges AS (
    SELECT e.repo_id, e.class_id, e.base_id
      FROM ROWS FROM (pg_catalog.unnest(repo_ids), pg_catalog.unnest(class_ids),
                      pg_catalog.unnest(base_ids)) AS e(repo_id, class_id, base_id)
), walk (repo_id, class_id, ancestor_id, distance, path) AS (
    SELECT e.repo_id, e.class_id, e.base_id, 1, ARRAY[e.class_id, e.base_id]
      FROM edges e
    UNION ALL
    SELECT w.repo_id, w.class_id, e.base_id, w.distance + 1, w.path || e.base_id
      FROM walk w
      JOIN edges e ON e.class_id = w.ancestor_id AND e.repo_id = w.repo_id
     WHERE e.base_id <> ALL (w.path) AND w.distance < 64
)
SELECT w.repo_id, w.class_id, w.ancestor_id,
       pg_catalog.min(w.distance), pg_catalog.max(w.distance)
  FROM walk w
 GROUP BY w.repo_id, w.class_id, w.ancestor_id
$$;

--
-- Calls resolved to the function they call, where that function is
-- unambiguous: the rule, in one place.
--   a bare name f(): the one function named f outside classes in the
--     caller's file; failing any, the one such function of the file that
--     the caller's file imports the name f from ("from m import f");
--   self.m(), this.m(), cls.m(): the method m of the caller's class, or of
--     its nearest resolved ancestor that has one (one at that distance);
--     ancestors as astpg.class_hierarchy holds them, that is as of the
--     repository's last refresh;
--   p.f(): the one function f outside classes in the file that the
--     caller's file imports as module p ("import p", or "from q import p"
--     where q.p is a stored module).
-- A call that none of these resolves to exactly one function is left out.
--
-- resolve_calls(repo, function_ids, names) resolves the calls of the given
-- functions (all of the repository's: NULL), only those to the given names
-- (the part after the last dot; all: NULL).  repo NULL: every repository.
-- Everything else is read from the tables as they are now, so that
-- callers(), callees() and graph_walk() are current.
--
-- One text serves two sizes of question.  A few functions (a graph walk)
-- are resolved with index lookups, planned for the ids given; a whole
-- repository (a refresh) with hash joins, since nested loops over these
-- CTEs, whose sizes the planner cannot know, turn a second into minutes.
--
CREATE FUNCTION @extschema@.resolve_calls(repo bigint, function_ids bigint[],
                                          names text[] DEFAULT NULL)
RETURNS TABLE (repo_id bigint, caller_id bigint, call_no integer, callee_id bigint,
               caller_file_id bigint, callee_file_id bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
SET enable_hashjoin = on
SET enable_mergejoin = on
SET enable_nestloop = on
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    IF function_ids IS NOT NULL AND pg_catalog.cardinality(function_ids) <= 1000 THEN
        PERFORM pg_catalog.set_config('enable_hashjoin', 'off', true);
        PERFORM pg_catalog.set_config('enable_mergejoin', 'off', true);
    ELSE
        PERFORM pg_catalog.set_config('enable_nestloop', 'off', true);
    END IF;
    RETURN QUERY
    WITH c AS MATERIALIZED (
        SELECT x.repo_id, x.function_id AS caller_id, x.call_no, x.file_id, x.callee,
               pg_catalog.strpos(x.callee, '.') > 0 AS dotted,
               pg_catalog.split_part(x.callee, '.', -1) AS name,
               CASE WHEN pg_catalog.strpos(x.callee, '.') > 0
                    THEN pg_catalog.left(x.callee, pg_catalog.length(x.callee)
                             - pg_catalog.length(pg_catalog.split_part(x.callee, '.', -1)) - 1)
               END AS prefix
          FROM @extschema@.calls x
         WHERE (repo IS NULL OR x.repo_id = repo)
           AND (function_ids IS NULL OR x.function_id = ANY (function_ids))
           AND (names IS NULL
                OR pg_catalog.left(pg_catalog.split_part(x.callee, '.', -1), 256)
                   = ANY (names))
    ), files AS MATERIALIZED (
        -- the callers' files: all of the repository's when every call is
        -- asked for (reading the files is cheaper than making the millions
        -- of calls distinct; the planner drops the branch not taken)
        SELECT f.repo_id, f.file_id FROM @extschema@.files f
         WHERE function_ids IS NULL AND names IS NULL AND (repo IS NULL OR f.repo_id = repo)
        UNION ALL
        SELECT DISTINCT c.repo_id, c.file_id FROM c
         WHERE function_ids IS NOT NULL OR names IS NOT NULL
    ), imports AS MATERIALIZED (
        -- what the callers' files import, resolved: by module or path, and
        -- "from q import p" where q.p is a stored module
        SELECT d.repo_id, d.file_id, d.target AS prefix, d.target_file_id, d.names
          FROM files f
          JOIN @extschema@.dependencies d ON d.file_id = f.file_id AND d.repo_id = f.repo_id
         WHERE d.target_file_id IS NOT NULL
           AND (repo IS NULL OR d.repo_id = repo)
        UNION ALL
        SELECT d.repo_id, d.file_id, n.name, m.file_id, NULL
          FROM files f
          JOIN @extschema@.dependencies d ON d.file_id = f.file_id AND d.repo_id = f.repo_id
         CROSS JOIN LATERAL pg_catalog.unnest(d.names) AS n(name)
          JOIN @extschema@.files m
            ON m.repo_id = d.repo_id AND m.module = d.target || '.' || n.name
         WHERE (repo IS NULL OR d.repo_id = repo) AND (repo IS NULL OR m.repo_id = repo)
    ), module_level AS MATERIALIZED (
        -- functions outside classes, of the callers' files and of the
        -- files they import
        SELECT fn.repo_id, fn.file_id, fn.name,
               pg_catalog.min(fn.function_id) AS function_id,
               pg_catalog.count(*) AS found
          FROM (SELECT f.repo_id, f.file_id FROM files f
                UNION SELECT i.repo_id, i.target_file_id FROM imports i) t
          JOIN @extschema@.functions fn ON fn.file_id = t.file_id AND fn.repo_id = t.repo_id
         WHERE fn.class_id IS NULL
           AND (repo IS NULL OR fn.repo_id = repo)
         GROUP BY fn.repo_id, fn.file_id, fn.name
    ), imported_names AS MATERIALIZED (
        SELECT i.repo_id, i.file_id, n.name,
               pg_catalog.min(i.target_file_id) AS target_file_id,
               pg_catalog.count(DISTINCT i.target_file_id) AS found
          FROM imports i, pg_catalog.unnest(i.names) AS n(name)
         WHERE i.names IS NOT NULL
         GROUP BY i.repo_id, i.file_id, n.name
    ), imported_modules AS MATERIALIZED (
        SELECT i.repo_id, i.file_id, i.prefix,
               pg_catalog.min(i.target_file_id) AS target_file_id,
               pg_catalog.count(DISTINCT i.target_file_id) AS found
          FROM imports i
         GROUP BY i.repo_id, i.file_id, i.prefix
    ), self_calls AS MATERIALIZED (
        SELECT c.repo_id, c.caller_id, c.call_no, c.file_id, c.name, caller.class_id
          FROM c
          JOIN @extschema@.functions caller
            ON caller.function_id = c.caller_id AND caller.repo_id = c.repo_id
         WHERE c.dotted AND c.prefix IN ('self', 'this', 'cls')
           AND caller.class_id IS NOT NULL
           AND (repo IS NULL OR caller.repo_id = repo)
    ), scopes AS MATERIALIZED (
        -- a class and its resolved ancestors, with their distance from it
        SELECT DISTINCT s.repo_id, s.class_id, s.class_id AS owner_id, 0 AS distance
          FROM self_calls s
        UNION ALL
        SELECT h.repo_id, h.class_id, a.owner_id, a.distance
          FROM (SELECT DISTINCT s.repo_id, s.class_id FROM self_calls s) s
          JOIN @extschema@.class_hierarchy h
            ON h.class_id = s.class_id AND h.repo_id = s.repo_id,
               ROWS FROM (pg_catalog.unnest(h.ancestor_ids),
                          pg_catalog.unnest(h.ancestor_distances)) AS a(owner_id, distance)
         WHERE (repo IS NULL OR h.repo_id = repo)
    ), methods AS MATERIALIZED (
        SELECT fn.repo_id, fn.class_id, fn.name,
               pg_catalog.min(fn.function_id) AS function_id,
               pg_catalog.min(fn.file_id) AS file_id,
               pg_catalog.count(*) AS found
          FROM (SELECT DISTINCT sc.repo_id, sc.owner_id FROM scopes sc) o
          JOIN @extschema@.functions fn ON fn.class_id = o.owner_id AND fn.repo_id = o.repo_id
         WHERE (repo IS NULL OR fn.repo_id = repo)
         GROUP BY fn.repo_id, fn.class_id, fn.name
    ), self_scopes AS MATERIALIZED (
        -- each self call with the classes it may reach, before their
        -- methods: joined the other way round, a test suite's classes times
        -- the methods of unittest.TestCase make a hundred million rows
        SELECT s.repo_id, s.caller_id, s.call_no, s.file_id, s.name, sc.owner_id, sc.distance
          FROM self_calls s
          JOIN scopes sc ON sc.class_id = s.class_id AND sc.repo_id = s.repo_id
    ), self_candidates AS (
        SELECT s.repo_id, s.caller_id, s.call_no, s.file_id,
               pg_catalog.array_agg(m.function_id ORDER BY s.distance, m.function_id) AS ids,
               pg_catalog.array_agg(m.file_id ORDER BY s.distance, m.function_id) AS file_ids,
               pg_catalog.array_agg(s.distance ORDER BY s.distance, m.function_id) AS distances,
               pg_catalog.array_agg(m.found ORDER BY s.distance, m.function_id) AS found
          FROM self_scopes s
          JOIN methods m ON m.class_id = s.owner_id AND m.repo_id = s.repo_id
           AND m.name = s.name
         GROUP BY s.repo_id, s.caller_id, s.call_no, s.file_id
    )
    -- a bare name, in the caller's file
    SELECT c.repo_id, c.caller_id, c.call_no, l.function_id, c.file_id, c.file_id
      FROM c
      JOIN module_level l ON l.file_id = c.file_id AND l.repo_id = c.repo_id
       AND l.name = c.callee
     WHERE NOT c.dotted AND l.found = 1
    UNION ALL
    -- a bare name imported from a resolved file, when the caller's file has
    -- no function of that name.  Each call joined to its file's imports
    -- first, then to the functions of the file imported (OFFSET 0 keeps
    -- that order: the CTEs' row counts are unknown to the planner, which
    -- joined every call to every function of its name first, 13 million
    -- rows on the benchmark corpus)
    SELECT c.repo_id, c.caller_id, c.call_no, t.function_id, c.file_id, t.file_id
      FROM (SELECT c.repo_id, c.caller_id, c.call_no, c.file_id, c.callee, i.target_file_id
              FROM c
              JOIN imported_names i ON i.file_id = c.file_id AND i.repo_id = c.repo_id
               AND i.name = c.callee
             WHERE NOT c.dotted AND i.found = 1
            OFFSET 0) c
      JOIN module_level t ON t.file_id = c.target_file_id AND t.repo_id = c.repo_id
       AND t.name = c.callee
     WHERE t.found = 1
       AND NOT EXISTS (SELECT FROM module_level l
                        WHERE l.file_id = c.file_id AND l.repo_id = c.repo_id
                          AND l.name = c.callee)
    UNION ALL
    -- a method of the caller's class, or of its nearest ancestor having it
    SELECT s.repo_id, s.caller_id, s.call_no, s.ids[1], s.file_id, s.file_ids[1]
      FROM self_candidates s
     WHERE s.found[1] = 1
       AND (pg_catalog.cardinality(s.distances) = 1 OR s.distances[2] > s.distances[1])
    UNION ALL
    -- a function of an imported module (the imports first, as above: the
    -- other order made 58 million rows)
    SELECT c.repo_id, c.caller_id, c.call_no, t.function_id, c.file_id, t.file_id
      FROM (SELECT c.repo_id, c.caller_id, c.call_no, c.file_id, c.name, i.target_file_id
              FROM c
              JOIN imported_modules i ON i.file_id = c.file_id AND i.repo_id = c.repo_id
               AND i.prefix = c.prefix
             WHERE c.dotted AND c.prefix NOT IN ('self', 'this', 'cls') AND i.found = 1
            OFFSET 0) c
      JOIN module_level t ON t.file_id = c.target_file_id AND t.repo_id = c.repo_id
       AND t.name = c.name
     WHERE t.found = 1;
END
$$;

COMMENT ON FUNCTION @extschema@.resolve_calls(bigint, bigint[], text[]) IS
'the calls of the given functions (NULL: all) of a repository (NULL: all), resolved to the one function each calls, from the tables as they are now';

--
-- The names find_symbol searches by prefix and by similarity: every
-- function's and class's name and qualified name, every file's path and
-- module, once per repository and kind.  The writer adds the names of each
-- batch it stores, in the batch's transaction, so that a name is found as
-- soon as its row is.  A name whose rows are all gone stays until
-- maintain() prunes it; find_symbol passes over it.  Two writers that
-- store the same new name at once may both add it, rather than one wait
-- for the other to commit: find_symbol and maintain() take such copies as
-- one.  Names longer than 256 characters are not kept here (find_symbol
-- still finds them by their exact name, in the tables).
--
-- kind: 1 a function's name, 2 a function's qualified name (member: its
-- name, by which the function is found), 3 a class's name, 4 a class's
-- qualified name, 5 a file's path, 6 a file's module.  A qualified name
-- equal to the name is kept once, as the name.
--
-- The name's collation is "C": its btree indexes then serve LIKE 'prefix%'
-- and keep names in byte order, whatever the database's collation.
--
CREATE TABLE @extschema@.symbol_names (
    name    text COLLATE "C" NOT NULL CHECK (pg_catalog.length(name) <= 256),
    kind    smallint NOT NULL CHECK (kind BETWEEN 1 AND 6),
    member  text NOT NULL DEFAULT '' CHECK (pg_catalog.length(member) <= 256),
    repo_id bigint NOT NULL
);

COMMENT ON TABLE @extschema@.symbol_names IS
'every name find_symbol searches, per repository and kind (1 function, 2 qualified function, 3 class, 4 qualified class, 5 file path, 6 module), kept by the writer';

-- the writer's lookup of the names it stores, exact lookups of qualified
-- names and find_symbol's prefixes; leads with the name, as the writer's
-- kept plans need
CREATE INDEX symbol_names_name_idx
    ON @extschema@.symbol_names (name, kind, member, repo_id);
-- find_symbol's fuzzy matches by their ends: names read backwards
CREATE INDEX symbol_names_reversed_idx
    ON @extschema@.symbol_names (pg_catalog.reverse(name));


--
-- Reading: documents rebuilt from the tables; walks over the import and
-- call graphs, and symbol search, from the tables as they are now.
--

-- The stored document of a file in a repository: every table is read by
-- (repo_id, file_id), which on Citus is one shard.  PL/pgSQL rather than
-- SQL: Citus cannot plan the parameters of a SQL function that is not
-- inlined, and one with SET search_path never is.
CREATE FUNCTION @extschema@.document(repo_id bigint, file_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
RETURN (
SELECT f.attrs
       || jsonb_strip_nulls(jsonb_build_object(
            'astpg', 1,
            'repository', f.repository,
            'path', f.path,
            'module', f.module,
            'language', f.language,
            'revision', f.revision,
            'size_bytes', f.size_bytes,
            'content_hash', f.content_hash))
       || jsonb_build_object(
            'classes', COALESCE((
                SELECT jsonb_agg(c.attrs
                                 || jsonb_strip_nulls(jsonb_build_object(
                                      'name', c.name,
                                      'qualified_name', c.qualified_name,
                                      'parent', p.qualified_name,
                                      'namespace', c.namespace,
                                      'line_start', c.line_start,
                                      'line_end', c.line_end,
                                      'is_abstract', c.is_abstract))
                                 || jsonb_build_object('bases', to_jsonb(c.bases))
                                 ORDER BY c.class_id)
                  FROM @extschema@.classes c
                  LEFT JOIN @extschema@.classes p
                         ON p.repo_id = $1 AND p.class_id = c.parent_id
                 WHERE c.repo_id = $1 AND c.file_id = $2), '[]'),
            'functions', COALESCE((
                SELECT jsonb_agg(fn.attrs
                                 || jsonb_strip_nulls(jsonb_build_object(
                                      'name', fn.name,
                                      'qualified_name', fn.qualified_name,
                                      'class', c.qualified_name,
                                      'signature', fn.signature,
                                      'return_type', fn.return_type,
                                      'line_start', fn.line_start,
                                      'line_end', fn.line_end,
                                      'complexity', fn.complexity,
                                      'is_async', fn.is_async))
                                 || jsonb_build_object(
                                      'parameters', fn.parameters,
                                      'decorators', to_jsonb(fn.decorators),
                                      'calls', COALESCE(k.calls, '[]'))
                                 ORDER BY fn.function_id)
                  FROM @extschema@.functions fn
                  LEFT JOIN @extschema@.classes c
                         ON c.repo_id = $1 AND c.class_id = fn.class_id
                  LEFT JOIN (SELECT k.function_id,
                                    jsonb_agg(k.attrs
                                              || jsonb_strip_nulls(jsonb_build_object(
                                                   'name', k.callee,
                                                   'line', k.line))
                                              ORDER BY k.call_no) AS calls
                               FROM @extschema@.calls k
                              WHERE k.repo_id = $1 AND k.file_id = $2
                              GROUP BY k.function_id) k
                         ON k.function_id = fn.function_id
                 WHERE fn.repo_id = $1 AND fn.file_id = $2), '[]'),
            'dependencies', COALESCE((
                SELECT jsonb_agg(d.attrs
                                 || jsonb_strip_nulls(jsonb_build_object(
                                      'target', d.target,
                                      'kind', d.kind,
                                      'line', d.line,
                                      'strength', d.strength))
                                 || jsonb_build_object('names', to_jsonb(d.names))
                                 ORDER BY d.dependency_no)
                  FROM @extschema@.dependencies d
                 WHERE d.repo_id = $1 AND d.file_id = $2), '[]'),
            'metrics', COALESCE((
                SELECT jsonb_object_agg(m.name, m.value)
                  FROM @extschema@.metrics m
                 WHERE m.repo_id = $1 AND m.file_id = $2), '{}'))
       || CASE WHEN f.ast IS NULL THEN '{}'::jsonb
               ELSE jsonb_build_object('ast', f.ast) END
  FROM @extschema@.files f
 WHERE f.repo_id = $1 AND f.file_id = $2);
END
$$;

COMMENT ON FUNCTION @extschema@.document(bigint, bigint) IS
'the stored document of a file, by (repo_id, file_id): what document(file_id) returns, read from one shard on Citus';

-- document(file_id), as documented since 1.0: the file's repository first
-- (on Citus, a look at every shard for the id)
CREATE FUNCTION @extschema@.document(file_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    repo bigint;
BEGIN
    SELECT f.repo_id INTO repo FROM @extschema@.files f WHERE f.file_id = $1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN @extschema@.document(repo, $1);
END
$$;

COMMENT ON FUNCTION @extschema@.document(bigint) IS
'the stored document of a file, rebuilt from the tables with defaults filled in';

--
-- Walks over the import graph and the call graph, breadth first: each node
-- once, at the depth it was first reached, up to max_depth.  Read from the
-- tables, so that a walk is current: imports from astpg.dependencies,
-- calls resolved by resolve_calls() (callers of a name found first among
-- the calls to that name in the files that can reach it).  A walk stays in
-- the repository of its start.
--
-- The starting file or function is the first argument, unnamed: the result
-- has columns named file_id and function_id, which a parameter of that name
-- would shadow.
--
CREATE FUNCTION @extschema@.graph_walk(start bigint, max_depth integer, direction text)
RETURNS TABLE (node_id bigint, depth integer)
LANGUAGE plpgsql STABLE STRICT ROWS 100
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    seen     bigint[] := ARRAY[start];
    frontier bigint[] := ARRAY[start];
    level    integer := 0;
    repo     bigint;
BEGIN
    IF direction NOT IN ('imports', 'imported by', 'calls', 'called by') THEN
        RAISE EXCEPTION 'direction must be "imports", "imported by", "calls" or "called by"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF direction IN ('imports', 'imported by') THEN
        SELECT f.repo_id INTO repo FROM @extschema@.files f WHERE f.file_id = start;
    ELSE
        SELECT f.repo_id INTO repo FROM @extschema@.functions f WHERE f.function_id = start;
    END IF;
    IF repo IS NULL THEN
        RETURN;
    END IF;
    WHILE level < max_depth AND pg_catalog.cardinality(frontier) > 0 LOOP
        CASE direction
            WHEN 'imports' THEN
                frontier := ARRAY(SELECT d.target_file_id FROM @extschema@.dependencies d
                                   WHERE d.file_id = ANY (frontier) AND d.repo_id = repo
                                     AND d.target_file_id IS NOT NULL
                                  EXCEPT SELECT pg_catalog.unnest(seen));
            WHEN 'imported by' THEN
                frontier := ARRAY(SELECT d.file_id FROM @extschema@.dependencies d
                                   WHERE d.target_file_id = ANY (frontier) AND d.repo_id = repo
                                  EXCEPT SELECT pg_catalog.unnest(seen));
            WHEN 'calls' THEN
                frontier := ARRAY(SELECT r.callee_id
                                    FROM @extschema@.resolve_calls(repo, frontier) r
                                  EXCEPT SELECT pg_catalog.unnest(seen));
            ELSE
                frontier := ARRAY(SELECT c.caller_id
                                    FROM @extschema@.calling(repo, frontier) c
                                  EXCEPT SELECT pg_catalog.unnest(seen));
        END CASE;
        level := level + 1;
        seen := seen || frontier;
        RETURN QUERY SELECT pg_catalog.unnest(frontier), level;
    END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.graph_walk(bigint, integer, text) IS
'breadth-first walk from a file (directions "imports", "imported by") or a function ("calls", "called by"), each node at its first depth; current';

--
-- The resolved calls to the given functions of a repository: the calls by
-- their name (the part after the last dot) in the files whose calls can
-- reach them, resolved by resolve_calls() and kept where they resolve to
-- one of them.  The files are the functions' own, those that import them
-- (by module or path, or "from q import p" where q.p is their module), and
-- for methods those of the classes that descend from theirs (as
-- astpg.class_hierarchy holds them).
--
CREATE FUNCTION @extschema@.calling(repo bigint, function_ids bigint[])
RETURNS TABLE (caller_id bigint, callee_id bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    caller_ids bigint[];
    wanted     text[];
BEGIN
    WITH targets AS (
        SELECT fn.function_id, fn.file_id, fn.class_id, fn.name
          FROM @extschema@.functions fn
         WHERE fn.function_id = ANY (function_ids) AND fn.repo_id = repo
    ), reaching AS (
        SELECT t.file_id FROM targets t
        UNION
        SELECT d.file_id FROM @extschema@.dependencies d
         WHERE d.target_file_id IN (SELECT t.file_id FROM targets t) AND d.repo_id = repo
        UNION
        SELECT d.file_id
          FROM @extschema@.files m
          JOIN @extschema@.files p
            ON p.repo_id = m.repo_id
           AND p.module = pg_catalog.left(m.module, pg_catalog.length(m.module)
                              - pg_catalog.length(pg_catalog.split_part(m.module, '.', -1)) - 1)
          JOIN @extschema@.dependencies d
            ON d.target_file_id = p.file_id AND d.repo_id = p.repo_id
           AND pg_catalog.split_part(m.module, '.', -1) = ANY (d.names)
         WHERE m.file_id IN (SELECT t.file_id FROM targets t) AND m.repo_id = repo
           AND pg_catalog.strpos(m.module, '.') > 0
        UNION
        SELECT h.file_id FROM @extschema@.class_hierarchy h
         WHERE h.ancestor_ids OPERATOR(pg_catalog.&&)
                   ARRAY(SELECT t.class_id FROM targets t WHERE t.class_id IS NOT NULL)
           AND h.repo_id = repo
    )
    SELECT ARRAY(SELECT DISTINCT c.function_id
                   FROM reaching r
                   JOIN @extschema@.calls c ON c.file_id = r.file_id AND c.repo_id = repo
                  WHERE pg_catalog.left(pg_catalog.split_part(c.callee, '.', -1), 256)
                        IN (SELECT pg_catalog.left(t.name, 256) FROM targets t)),
           ARRAY(SELECT DISTINCT pg_catalog.left(t.name, 256) FROM targets t)
      INTO caller_ids, wanted;
    RETURN QUERY
    SELECT DISTINCT r.caller_id, r.callee_id
      FROM @extschema@.resolve_calls(repo, caller_ids, wanted) r
     WHERE r.callee_id = ANY (function_ids);
END
$$;

COMMENT ON FUNCTION @extschema@.calling(bigint, bigint[]) IS
'the functions whose resolved calls reach the given functions of a repository, from the tables as they are now';

--
-- The walks, with each node's name and file.  plpgsql, planned with the
-- values: Citus cannot plan the parameters of a SQL function.  The walk
-- first, into arrays, then its nodes' rows in the start's repository: on
-- Citus a statement that both called graph_walk() and read a table would
-- go to the repository's shard with the call, where the walk cannot query
-- the shards.
--
CREATE FUNCTION @extschema@.dependencies_of(bigint, max_depth integer DEFAULT 10)
RETURNS TABLE (file_id bigint, path text, depth integer)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    repo   bigint;
    nodes  bigint[];
    depths integer[];
BEGIN
    -- (a scalar subquery here would be planned apart on Citus, its result
    -- sent back to the coordinator)
    SELECT s.repo_id INTO repo FROM @extschema@.files s WHERE s.file_id = $1;
    SELECT pg_catalog.array_agg(w.node_id), pg_catalog.array_agg(w.depth) INTO nodes, depths
      FROM @extschema@.graph_walk($1, max_depth, 'imports') w;
    RETURN QUERY
    SELECT f.file_id, f.path, w.depth
      FROM ROWS FROM (pg_catalog.unnest(nodes), pg_catalog.unnest(depths)) AS w(node_id, depth)
      JOIN @extschema@.files f ON f.file_id = w.node_id AND f.repo_id = repo
     ORDER BY w.depth, f.path;
END
$$;

COMMENT ON FUNCTION @extschema@.dependencies_of(bigint, integer) IS
'files a file imports, directly (depth 1) or through others; current';

CREATE FUNCTION @extschema@.dependents_of(bigint, max_depth integer DEFAULT 10)
RETURNS TABLE (file_id bigint, path text, depth integer)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    repo   bigint;
    nodes  bigint[];
    depths integer[];
BEGIN
    -- (a scalar subquery here would be planned apart on Citus, its result
    -- sent back to the coordinator)
    SELECT s.repo_id INTO repo FROM @extschema@.files s WHERE s.file_id = $1;
    SELECT pg_catalog.array_agg(w.node_id), pg_catalog.array_agg(w.depth) INTO nodes, depths
      FROM @extschema@.graph_walk($1, max_depth, 'imported by') w;
    RETURN QUERY
    SELECT f.file_id, f.path, w.depth
      FROM ROWS FROM (pg_catalog.unnest(nodes), pg_catalog.unnest(depths)) AS w(node_id, depth)
      JOIN @extschema@.files f ON f.file_id = w.node_id AND f.repo_id = repo
     ORDER BY w.depth, f.path;
END
$$;

COMMENT ON FUNCTION @extschema@.dependents_of(bigint, integer) IS
'files that import a file, directly (depth 1) or through others: what a change to it may reach; current';

CREATE FUNCTION @extschema@.callers(bigint, max_depth integer DEFAULT 1)
RETURNS TABLE (function_id bigint, qualified_name text, path text, depth integer)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    repo   bigint;
    nodes  bigint[];
    depths integer[];
BEGIN
    -- (a scalar subquery here would be planned apart on Citus, its result
    -- sent back to the coordinator)
    SELECT s.repo_id INTO repo FROM @extschema@.functions s WHERE s.function_id = $1;
    SELECT pg_catalog.array_agg(w.node_id), pg_catalog.array_agg(w.depth) INTO nodes, depths
      FROM @extschema@.graph_walk($1, max_depth, 'called by') w;
    RETURN QUERY
    SELECT fn.function_id, fn.qualified_name, f.path, w.depth
      FROM ROWS FROM (pg_catalog.unnest(nodes), pg_catalog.unnest(depths)) AS w(node_id, depth)
      JOIN @extschema@.functions fn ON fn.function_id = w.node_id AND fn.repo_id = repo
      JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
     ORDER BY w.depth, f.path, fn.line_start;
END
$$;

COMMENT ON FUNCTION @extschema@.callers(bigint, integer) IS
'functions whose calls resolve to a function, directly (depth 1) or through others; current';

CREATE FUNCTION @extschema@.callees(bigint, max_depth integer DEFAULT 1)
RETURNS TABLE (function_id bigint, qualified_name text, path text, depth integer)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    repo   bigint;
    nodes  bigint[];
    depths integer[];
BEGIN
    -- (a scalar subquery here would be planned apart on Citus, its result
    -- sent back to the coordinator)
    SELECT s.repo_id INTO repo FROM @extschema@.functions s WHERE s.function_id = $1;
    SELECT pg_catalog.array_agg(w.node_id), pg_catalog.array_agg(w.depth) INTO nodes, depths
      FROM @extschema@.graph_walk($1, max_depth, 'calls') w;
    RETURN QUERY
    SELECT fn.function_id, fn.qualified_name, f.path, w.depth
      FROM ROWS FROM (pg_catalog.unnest(nodes), pg_catalog.unnest(depths)) AS w(node_id, depth)
      JOIN @extschema@.functions fn ON fn.function_id = w.node_id AND fn.repo_id = repo
      JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
     ORDER BY w.depth, f.path, fn.line_start;
END
$$;

COMMENT ON FUNCTION @extschema@.callees(bigint, integer) IS
'functions a function''s calls resolve to, directly (depth 1) or through others; current';

-- Strongly connected components of a repository's import graph (C).
CREATE FUNCTION @extschema@.import_cycles(repository text,
    OUT component integer, OUT size integer, OUT file_ids bigint[],
    OUT paths text[], OUT cycle text[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'astpg_import_cycles'
LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION @extschema@.import_cycles(text) IS
'import cycles: each strongly connected component of 2 or more files, with one shortest cycle through it; current';

--
-- The import graph of the files under a path prefix, as Graphviz DOT.
-- Files in an import cycle are filled, and the edges inside a cycle's
-- component are red.
--
CREATE FUNCTION @extschema@.dependency_graph_dot(repository text, path_prefix text DEFAULT '')
RETURNS text
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dot text;
BEGIN
    WITH nodes AS (
        -- numbered by path, so that the text does not depend on ids
        SELECT s.file_id, s.path, pg_catalog.row_number() OVER (ORDER BY s.path) AS n
          FROM @extschema@.file_summary s
         WHERE s.repository = dependency_graph_dot.repository
           AND pg_catalog.starts_with(s.path, path_prefix)
    ), components AS (
        SELECT c.component, x.file_id
          FROM @extschema@.import_cycles(dependency_graph_dot.repository) c,
               pg_catalog.unnest(c.file_ids) AS x(file_id)
    ), edges AS (
        SELECT s.n AS source, t.n AS target,
               cs.component IS NOT NULL AND cs.component = ct.component AS in_cycle
          FROM @extschema@.module_edges e
          JOIN nodes s ON s.file_id = e.source_file_id
          JOIN nodes t ON t.file_id = e.target_file_id
          LEFT JOIN components cs ON cs.file_id = e.source_file_id
          LEFT JOIN components ct ON ct.file_id = e.target_file_id
    )
    SELECT 'digraph astpg {' || E'\n'
           || '  graph [rankdir=LR, label=' || pg_catalog.to_json(
                  dependency_graph_dot.repository || CASE WHEN path_prefix = '' THEN ''
                                                     ELSE ': ' || path_prefix END)::text
           || ', labelloc=t, fontname="Helvetica"];' || E'\n'
           || '  node [shape=box, fontname="Helvetica", fontsize=10];' || E'\n'
           || COALESCE((SELECT pg_catalog.string_agg(
                          '  n' || n.n || ' [label=' || pg_catalog.to_json(n.path)::text
                          || CASE WHEN EXISTS (SELECT FROM components c WHERE c.file_id = n.file_id)
                                  THEN ', style=filled, fillcolor="#f4cccc", color=red'
                                  ELSE '' END
                          || '];', E'\n' ORDER BY n.path) FROM nodes n) || E'\n', '')
           || COALESCE((SELECT pg_catalog.string_agg(
                          '  n' || e.source || ' -> n' || e.target
                          || CASE WHEN e.in_cycle THEN ' [color=red, penwidth=2]' ELSE '' END
                          || ';', E'\n' ORDER BY e.source, e.target)
                        FROM edges e) || E'\n', '')
           || '}' || E'\n'
      INTO dot;
    RETURN dot;
END
$$;

COMMENT ON FUNCTION @extschema@.dependency_graph_dot(text, text) IS
'Graphviz DOT text of the import graph of a repository''s files under a path prefix, cycles in red';

--
-- The rows a name of astpg.symbol_names stands for, in a repository: the
-- functions, classes or files that have it as their name, qualified name,
-- path or module (by kind), each with its file; at most max_rows, by
-- qualified name, path and id.  The name is compared in the database's
-- collation, whatever the caller's (symbol_names' names are in "C"), so
-- that the tables' indexes on names serve the lookups.
--
CREATE FUNCTION @extschema@.symbol_rows(sym_name text, sym_kind smallint, sym_member text,
                                        repo bigint, max_rows integer)
RETURNS TABLE (kind text, id bigint, qualified_name text, repository text,
               path text, line integer)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    wanted text COLLATE "default" := sym_name;
    wanted_member text COLLATE "default" := sym_member;
BEGIN
    CASE sym_kind
        WHEN 1, 2 THEN
            RETURN QUERY
            SELECT 'function'::text, fn.function_id, fn.qualified_name, f.repository, f.path,
                   fn.line_start
              FROM (SELECT x.function_id, x.file_id, x.repo_id, x.qualified_name, x.line_start
                      FROM @extschema@.functions x
                     WHERE x.repo_id = repo
                       AND pg_catalog.left(x.name, 256)
                           = pg_catalog.left(CASE sym_kind WHEN 1 THEN wanted ELSE wanted_member END, 256)
                       AND x.name = CASE sym_kind WHEN 1 THEN wanted ELSE wanted_member END
                       AND (sym_kind = 1 OR (pg_catalog.left(x.qualified_name, 256)
                                         = pg_catalog.left(wanted, 256)
                                         AND x.qualified_name = wanted))
                     ORDER BY pg_catalog.left(x.name, 256), pg_catalog.left(x.qualified_name, 256),
                              x.function_id
                     LIMIT max_rows) fn
              JOIN @extschema@.files f
                ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id AND f.repo_id = repo
             ORDER BY 3, 5, 2;
        WHEN 3, 4 THEN
            RETURN QUERY
            SELECT 'class'::text, c.class_id, c.qualified_name, f.repository, f.path, c.line_start
              FROM @extschema@.classes c
              JOIN @extschema@.files f ON f.file_id = c.file_id AND f.repo_id = c.repo_id
             WHERE c.repo_id = repo
               AND CASE sym_kind WHEN 3 THEN c.name = wanted ELSE c.qualified_name = wanted END
             ORDER BY 3, 5, 2
             LIMIT max_rows;
        ELSE
            RETURN QUERY
            SELECT 'file'::text, f.file_id, COALESCE(f.module, f.path), f.repository, f.path, 1
              FROM @extschema@.files f
             WHERE f.repo_id = repo
               AND CASE sym_kind WHEN 5 THEN f.path = wanted ELSE f.module = wanted END
             ORDER BY 3, 5, 2
             LIMIT max_rows;
    END CASE;
END
$$;

COMMENT ON FUNCTION @extschema@.symbol_rows(text, smallint, text, bigint, integer) IS
'the functions, classes or files a name of symbol_names stands for in a repository (find_symbol)';

--
-- Symbol search: functions, classes and files whose name, qualified name,
-- path or module matches a pattern.  Three tiers, each read from a btree
-- and cut by max_results and kinds as it is read:
--   exact: from the tables, by their indexes on names (a function's
--     qualified name through its name, which symbol_names gives);
--   prefix: the names of symbol_names that begin with the pattern, in
--     byte order (symbol_names_name_idx's, a range of it);
--   fuzzy: names a typo away from the pattern (one or two characters
--     changed, dropped, added or swapped): of nearly its length (two
--     characters more or fewer), beginning with its first half or ending
--     with its second half (an edit leaves one of them whole), and similar
--     to it by pg_trgm's similarity (above pg_trgm.similarity_threshold);
--     most similar first.  Of the names that begin with the first half,
--     the 250 on either side of the pattern in byte order (those that
--     share the longest beginnings with it; symbol_names_name_idx), and
--     as many by their ends (symbol_names_reversed_idx): a common half
--     ("test_") costs no more than a rare one.  Patterns of fewer than 4
--     characters have no fuzzy tier.
-- A trigram index would find more distant names, but on a million names
-- its scans read most of the index (GiST, whatever its signature length)
-- or recheck tens of thousands of rows (GIN): hundreds of milliseconds.
-- Each name found stands for the rows that have it, in its repository
-- (symbol_rows), so that everything comes from the tables as they are now.
-- Defined through the schema pg_trgm was created in, so that nothing else
-- can stand in for its functions.
--
DO $do$
DECLARE
    trgm name;
BEGIN
    SELECT n.nspname INTO STRICT trgm
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    EXECUTE pg_catalog.format($sql$
CREATE FUNCTION @extschema@.find_symbol(pattern text, kinds text[] DEFAULT NULL,
                                        max_results integer DEFAULT 50)
RETURNS TABLE (kind text, id bigint, qualified_name text, repository text,
               path text, line integer, score real, matched text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- each statement planned for its pattern: the generic plan PL/pgSQL would
-- settle on after five calls reads every function of a common name
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
    wanted   text[] := COALESCE(kinds, ARRAY['function', 'class', 'file']);
    codes    smallint[];
    prefix   text;
    returned integer := 0;
    found    integer;
    tier     text;
    hit      record;
    done     text[] := '{}';    -- the names expanded, and the rows returned
    members  text[];            -- the functions whose qualified name is pattern:
    in_repos bigint[];          -- their names and repositories
    half     integer := (pg_catalog.length(pattern) + 1) / 2;
    head     text;              -- LIKE patterns: the pattern's first half,
    tail     text;              -- and its second half reversed
BEGIN
    IF pattern IS NULL OR pattern = '' THEN
        RAISE EXCEPTION 'pattern must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT wanted <@ ARRAY['function', 'class', 'file'] THEN
        RAISE EXCEPTION 'kinds must be among "function", "class" and "file"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_results IS NULL OR max_results < 1 THEN
        RETURN;
    END IF;
    codes := ARRAY(SELECT v.code FROM (VALUES ('function', 1::smallint), ('function', 2),
                                              ('class', 3), ('class', 4),
                                              ('file', 5), ('file', 6)) v(k, code)
                    WHERE v.k = ANY (wanted));
    prefix := pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                  pattern, '\', '\\'), '%%', '\%%'), '_', '\_') || '%%';
    head := pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                pg_catalog.left(pattern, half), '\', '\\'), '%%', '\%%'), '_', '\_') || '%%';
    tail := pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                pg_catalog.left(pg_catalog.reverse(pattern), half),
                '\', '\\'), '%%', '\%%'), '_', '\_') || '%%';

    -- exact: the name, the qualified name, the path or the module.  The
    -- names and repositories of functions of that qualified name first, by
    -- a statement of their own: on Citus, symbol_rows() called for each row
    -- of symbol_names would run on its shard, where it cannot query others.
    IF 'function' = ANY (wanted) THEN
        SELECT pg_catalog.array_agg(s.member), pg_catalog.array_agg(s.repo_id)
          INTO members, in_repos
          FROM (SELECT DISTINCT s.member, s.repo_id FROM @extschema@.symbol_names s
                 WHERE s.name = pattern AND s.kind = 2) s;
    END IF;
    FOR hit IN
        SELECT x.* FROM (
            SELECT 'function'::text AS kind, fn.function_id AS id, fn.qualified_name,
                   f.repository, f.path, fn.line_start AS line
              FROM (SELECT y.function_id, y.file_id, y.repo_id, y.qualified_name, y.line_start
                      FROM @extschema@.functions y
                     WHERE 'function' = ANY (wanted)
                       AND pg_catalog.left(y.name, 256) = pg_catalog.left(pattern, 256)
                       AND y.name = pattern
                     ORDER BY pg_catalog.left(y.name, 256), pg_catalog.left(y.qualified_name, 256),
                              y.function_id
                     LIMIT max_results) fn
              JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
            UNION
            SELECT r.kind, r.id, r.qualified_name, r.repository, r.path, r.line
              FROM ROWS FROM (pg_catalog.unnest(members), pg_catalog.unnest(in_repos))
                   AS s(member, repo_id),
                   LATERAL @extschema@.symbol_rows(pattern, 2::smallint, s.member, s.repo_id,
                                                   max_results) r
            UNION
            SELECT 'class', c.class_id, c.qualified_name, f.repository, f.path, c.line_start
              FROM (SELECT y.class_id, y.file_id, y.repo_id, y.qualified_name, y.line_start
                      FROM @extschema@.classes y
                     WHERE 'class' = ANY (wanted) AND y.name = pattern
                    UNION
                    SELECT y.class_id, y.file_id, y.repo_id, y.qualified_name, y.line_start
                      FROM @extschema@.classes y
                     WHERE 'class' = ANY (wanted) AND y.qualified_name = pattern
                     ORDER BY 1 LIMIT max_results) c
              JOIN @extschema@.files f ON f.file_id = c.file_id AND f.repo_id = c.repo_id
            UNION
            SELECT 'file', f.file_id, COALESCE(f.module, f.path), f.repository, f.path, 1
              FROM @extschema@.files f
             WHERE 'file' = ANY (wanted) AND (f.path = pattern OR f.module = pattern)) x
         ORDER BY 3, 4, 5, 2
         LIMIT max_results
    LOOP
        kind := hit.kind; id := hit.id; qualified_name := hit.qualified_name;
        repository := hit.repository; path := hit.path; line := hit.line;
        score := 1; matched := 'exact';
        done := done || (hit.kind || ' ' || hit.id);
        RETURN NEXT;
        returned := returned + 1;
    END LOOP;

    -- prefix, then fuzzy: each name found standing for its rows not
    -- returned yet
    FOR tier IN SELECT t FROM pg_catalog.unnest(ARRAY['prefix', 'fuzzy']) t LOOP
        EXIT WHEN returned >= max_results;
        CONTINUE WHEN tier = 'fuzzy' AND pg_catalog.length(pattern) < 4;
        FOR hit IN EXECUTE CASE tier WHEN 'prefix' THEN $q$
            SELECT s.name, s.kind, s.member, s.repo_id,
                   %1$I.similarity(s.name, $1) AS score
              FROM @extschema@.symbol_names s
             WHERE s.name LIKE $3 AND s.name <> $1 AND s.kind = ANY ($2)
             ORDER BY s.name, s.kind, s.member, s.repo_id
             LIMIT $4 $q$ ELSE $q$
            SELECT s.name, s.kind, s.member, s.repo_id, s.score
              FROM (SELECT x.name, x.kind, x.member, x.repo_id,
                           %1$I.similarity(x.name, $1) AS score
                      FROM ((SELECT y.* FROM @extschema@.symbol_names y
                              WHERE y.name LIKE $5 AND y.name >= $1
                              ORDER BY y.name LIMIT $7)
                            UNION
                            (SELECT y.* FROM @extschema@.symbol_names y
                              WHERE y.name LIKE $5 AND y.name < $1
                              ORDER BY y.name DESC LIMIT $7)
                            UNION
                            (SELECT y.* FROM @extschema@.symbol_names y
                              WHERE pg_catalog.reverse(y.name) LIKE $6
                                AND pg_catalog.reverse(y.name) >= pg_catalog.reverse($1)
                              ORDER BY pg_catalog.reverse(y.name) LIMIT $7)
                            UNION
                            (SELECT y.* FROM @extschema@.symbol_names y
                              WHERE pg_catalog.reverse(y.name) LIKE $6
                                AND pg_catalog.reverse(y.name) < pg_catalog.reverse($1)
                              ORDER BY pg_catalog.reverse(y.name) DESC LIMIT $7)) x
                     WHERE pg_catalog.length(x.name)
                               BETWEEN pg_catalog.length($1) - 2 AND pg_catalog.length($1) + 2
                       AND x.kind = ANY ($2) AND NOT x.name LIKE $3 AND x.name <> $1
                       AND x.name OPERATOR(%1$I.%%) $1) s
             ORDER BY s.score DESC, s.name, s.kind, s.member, s.repo_id
             LIMIT $4 $q$ END
            USING pattern, codes, prefix, 10 * max_results + 100, head, tail, 250
        LOOP
            CONTINUE WHEN (hit.kind || ' ' || hit.repo_id || ' ' || hit.member || ' ' || hit.name)
                          = ANY (done);
            done := done || (hit.kind || ' ' || hit.repo_id || ' ' || hit.member || ' ' || hit.name);
            FOR kind, id, qualified_name, repository, path, line IN
                SELECT r.* FROM @extschema@.symbol_rows(hit.name, hit.kind, hit.member,
                                                        hit.repo_id, max_results) r
            LOOP
                CONTINUE WHEN (kind || ' ' || id) = ANY (done)
                              OR qualified_name = pattern;
                done := done || (kind || ' ' || id);
                score := hit.score;
                matched := tier;
                RETURN NEXT;
                returned := returned + 1;
                EXIT WHEN returned >= max_results;
            END LOOP;
            EXIT WHEN returned >= max_results;
        END LOOP;
    END LOOP;
END
$$;
$sql$, trgm);
END
$do$;

COMMENT ON FUNCTION @extschema@.find_symbol(text, text[], integer) IS
'functions, classes and files by name: exact matches, then by prefix, then a typo away (similar by pg_trgm), each read from a btree; current';

-- >>> questions: dead_code, package_coupling, churn, trend
--
-- Questions of one repository: dead code, package coupling, churn and
-- trend.  (This block is the same text in astpg--1.7.sql and
-- astpg--1.6--1.7.sql; docs/questions.md documents the four functions.)
--
-- Each takes the repository's name and reads its rows alone: every table
-- is filtered by repo_id = repo_id(repository), and joined on repo_id as
-- well as the ids, so that on Citus each statement goes to the
-- repository's shard.  PL/pgSQL with RETURN QUERY, planned for its values
-- (force_custom_plan): Citus cannot plan the parameters of a SQL function
-- that is not inlined, and a generic plan would not know the repository.
-- An unknown repository gives no rows, as import_cycles() does; a bad
-- option is refused with invalid_parameter_value (22023).
--

--
-- Functions that nothing in their repository is known to call: no row of
-- call_graph has them as callee, but for themselves (recursion).  As fresh
-- as call_graph (and class_hierarchy): functions stored since the
-- repository's last refresh have no callers there yet.  Calls from
-- module-level code, references that are not calls (callbacks, a
-- decorator's wrapper returned, getattr) and calls astpg does not resolve
-- (obj.m(), ambiguous names, other repositories) are not seen, so each
-- function comes with the reason it may be alive all the same, the first
-- that applies:
--   runtime      a dunder (__init__, __eq__ ...) or a JavaScript
--                constructor: the language calls it
--   test         in a test file (a directory test, tests, __tests__ or
--                *_test(s); a file test_*, *_test(s).*, *.test.*, *.spec.*,
--                test(s).*, conftest.py), or named test* or as a test
--                hook (setUp, tearDown, ...): the test runner calls it
--   entry point  main or _main: called from the command line
--   decorated    a decorator other than staticmethod or classmethod: called
--                through what the decorator made of it (property,
--                route, fixture ...)
--   override     a method whose name a resolved ancestor of its class
--                defines, or calls on self, cls or this: called through it
--   nested       a function inside a function (.<locals>.): returned or
--                passed on, mostly
--   ambiguous    its name is defined twice in its file (outside classes)
--                or class: calls of that name are not resolved
--   private      _name or #name: nothing outside its module or class
--                should call it, and the calls inside are resolved.  The
--                dead code candidates.
--   method       another method: obj.m() calls are not resolved
--   public       another function: its module's interface, which other
--                repositories may call
--
CREATE FUNCTION @extschema@.dead_code(repository text, path_prefix text DEFAULT '')
RETURNS TABLE (function_id bigint, qualified_name text, path text, line integer,
               reason text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    repo bigint;
BEGIN
    IF dead_code.repository IS NULL THEN
        RAISE EXCEPTION 'repository must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dead_code.path_prefix IS NULL THEN
        RAISE EXCEPTION 'path_prefix must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    repo := @extschema@.repo_id(dead_code.repository);

    RETURN QUERY
    WITH candidates AS MATERIALIZED (
        -- the functions under the prefix that no other function calls
        SELECT fn.function_id, fn.file_id, fn.class_id, fn.name, fn.qualified_name,
               fn.line_start, fn.decorators, f.path
          FROM @extschema@.functions fn
          JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
         WHERE fn.repo_id = repo AND f.repo_id = repo
           AND f.repository = dead_code.repository
           AND pg_catalog.starts_with(f.path, dead_code.path_prefix)
           AND NOT EXISTS (SELECT FROM @extschema@.call_graph g
                            WHERE g.repo_id = repo AND g.callee_id = fn.function_id
                              AND g.caller_id <> fn.function_id)
    ), namesakes AS (
        -- names defined more than once in a file outside classes, or in a class
        SELECT fn.file_id, COALESCE(fn.class_id, -1) AS class_id, fn.name
          FROM @extschema@.functions fn
         WHERE fn.repo_id = repo
           AND fn.file_id IN (SELECT c.file_id FROM candidates c)
         GROUP BY fn.file_id, COALESCE(fn.class_id, -1), fn.name
        HAVING pg_catalog.count(*) > 1
    ), ancestry AS MATERIALIZED (
        -- each method with the resolved ancestors of its class
        SELECT c.function_id, c.name, a.class_id
          FROM candidates c
          JOIN @extschema@.class_hierarchy h ON h.class_id = c.class_id AND h.repo_id = repo
         CROSS JOIN LATERAL pg_catalog.unnest(h.ancestor_ids) AS a(class_id)
    ), inherited AS (
        -- the method names those ancestors define or call on self, cls or
        -- this.  Their calls are looked up by function (calls_pkey), not
        -- found by reading every call of the repository: OFFSET 0 keeps
        -- the lookup a subquery of its own (half the time on a standard
        -- library, whose ancestors' methods make a tenth of its calls).
        SELECT m.class_id, m.name
          FROM @extschema@.functions m
         WHERE m.repo_id = repo
           AND m.class_id IN (SELECT x.class_id FROM ancestry x)
        UNION
        SELECT m.class_id, pg_catalog.substr(k.callee, pg_catalog.strpos(k.callee, '.') + 1)
          FROM @extschema@.functions m
         CROSS JOIN LATERAL (SELECT c.callee FROM @extschema@.calls c
                              WHERE c.function_id = m.function_id AND c.repo_id = repo
                             OFFSET 0) AS k
         WHERE m.repo_id = repo
           AND m.class_id IN (SELECT x.class_id FROM ancestry x)
           AND k.callee ~ '^(self|cls|this)\.[^.]+$'
    ), overriding AS (
        SELECT DISTINCT x.function_id
          FROM ancestry x
          JOIN inherited i ON i.class_id = x.class_id AND i.name = x.name
    )
    SELECT c.function_id, c.qualified_name, c.path, c.line_start,
           CASE
           WHEN c.name ~ '^__.+__$' OR (c.name = 'constructor' AND c.class_id IS NOT NULL)
               THEN 'runtime'
           WHEN c.path ~ '(^|/)(tests?|__tests__|[^/]*_tests?)/'
             OR c.path ~ '(^|/)(test_[^/]*|[^/]*_tests?\.[^/.]*|[^/]*\.(test|spec)\.[^/.]*|tests?\.[^/.]*|conftest\.py)$'
             OR pg_catalog.starts_with(c.name, 'test')
             OR c.name IN ('setUp', 'tearDown', 'setUpClass', 'tearDownClass', 'setUpModule',
                           'tearDownModule', 'asyncSetUp', 'asyncTearDown', 'load_tests',
                           'setup_module', 'teardown_module', 'setup_class', 'teardown_class',
                           'setup_method', 'teardown_method', 'setup_function',
                           'teardown_function')
               THEN 'test'
           WHEN c.name IN ('main', '_main')
               THEN 'entry point'
           WHEN EXISTS (SELECT FROM pg_catalog.unnest(c.decorators) AS d(decorator)
                         WHERE d.decorator NOT IN ('staticmethod', 'classmethod'))
               THEN 'decorated'
           WHEN o.function_id IS NOT NULL
               THEN 'override'
           WHEN pg_catalog.strpos(c.qualified_name, '.<locals>.') > 0
               THEN 'nested'
           WHEN n.name IS NOT NULL
               THEN 'ambiguous'
           WHEN pg_catalog.starts_with(c.name, '_') OR pg_catalog.starts_with(c.name, '#')
               THEN 'private'
           WHEN c.class_id IS NOT NULL
               THEN 'method'
           ELSE 'public'
           END
      FROM candidates c
      LEFT JOIN overriding o ON o.function_id = c.function_id
      LEFT JOIN namesakes n
             ON n.file_id = c.file_id AND n.class_id = COALESCE(c.class_id, -1)
            AND n.name = c.name
     ORDER BY c.path, c.line_start, c.function_id;
END
$$;

COMMENT ON FUNCTION @extschema@.dead_code(text, text) IS
'functions of a repository (under a path prefix) that no other function is known to call (call_graph), each with the reason it may be alive all the same; reason ''private'': the dead code candidates';

--
-- Coupling between the packages of a repository, after Robert C. Martin
-- (as JDepend counts it): a package's afferent coupling ca is the number
-- of other packages with a file that imports one of its files, its
-- efferent coupling ce the number of other packages that its files
-- import, and its instability ce / (ca + ce), from 0 (only depended on) to
-- 1 (only depending); NULL for a package that neither.  afferent_files
-- and efferent_files count files instead: those of other packages that
-- import one of its files, and those of its own that import another
-- package's.  Only resolved imports count (dependencies.target_file_id):
-- code outside the repository has no package here.
--
-- A package is, with package_by 'directory', the first depth directories
-- of a file's path (a file in fewer directories is in its own, a file at
-- the top in '.'); with 'module', the first depth dotted parts of its
-- module (files without a module are left out).  Read from the tables,
-- so current.
--
CREATE FUNCTION @extschema@.package_coupling(repository text, depth integer DEFAULT 1,
                                             package_by text DEFAULT 'directory')
RETURNS TABLE (package text, files bigint, ca bigint, ce bigint, instability numeric,
               afferent_files bigint, efferent_files bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    repo bigint;
BEGIN
    IF package_coupling.repository IS NULL THEN
        RAISE EXCEPTION 'repository must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF package_coupling.depth IS NULL OR package_coupling.depth < 1 THEN
        RAISE EXCEPTION 'depth must be 1 or more'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF package_coupling.package_by IS NULL
       OR package_coupling.package_by NOT IN ('directory', 'module') THEN
        RAISE EXCEPTION 'package_by must be "directory" or "module"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    repo := @extschema@.repo_id(package_coupling.repository);

    RETURN QUERY
    WITH members AS MATERIALIZED (
        SELECT f.file_id,
               CASE WHEN package_coupling.package_by = 'module'
                    THEN pg_catalog.array_to_string(
                             (pg_catalog.string_to_array(f.module, '.'))[1:package_coupling.depth],
                             '.')
                    ELSE COALESCE(NULLIF(pg_catalog.array_to_string(
                             (pg_catalog.string_to_array(f.path, '/'))
                                 [1:LEAST(package_coupling.depth,
                                          pg_catalog.cardinality(
                                              pg_catalog.string_to_array(f.path, '/')) - 1)],
                             '/'), ''), '.')
               END AS package
          FROM @extschema@.files f
         WHERE f.repo_id = repo AND f.repository = package_coupling.repository
           AND (package_coupling.package_by = 'directory' OR f.module IS NOT NULL)
    ), crossing AS MATERIALIZED (
        -- resolved imports from a file of one package to a file of another
        SELECT DISTINCT s.package AS source, d.file_id AS source_file_id, t.package AS target
          FROM @extschema@.dependencies d
          JOIN members s ON s.file_id = d.file_id
          JOIN members t ON t.file_id = d.target_file_id
         WHERE d.repo_id = repo AND d.target_file_id IS NOT NULL
           AND s.package <> t.package
    )
    SELECT p.package, p.files, COALESCE(a.ca, 0), COALESCE(e.ce, 0),
           CASE WHEN COALESCE(a.ca, 0) + COALESCE(e.ce, 0) > 0
                THEN pg_catalog.round(COALESCE(e.ce, 0)::numeric
                                      / (COALESCE(a.ca, 0) + COALESCE(e.ce, 0)), 3)
           END,
           COALESCE(a.files, 0), COALESCE(e.files, 0)
      FROM (SELECT m.package, pg_catalog.count(*) AS files
              FROM members m GROUP BY m.package) p
      LEFT JOIN (SELECT x.target AS package,
                        pg_catalog.count(DISTINCT x.source) AS ca,
                        pg_catalog.count(DISTINCT x.source_file_id) AS files
                   FROM crossing x GROUP BY x.target) a ON a.package = p.package
      LEFT JOIN (SELECT x.source AS package,
                        pg_catalog.count(DISTINCT x.target) AS ce,
                        pg_catalog.count(DISTINCT x.source_file_id) AS files
                   FROM crossing x GROUP BY x.source) e ON e.package = p.package
     ORDER BY p.package;
END
$$;

COMMENT ON FUNCTION @extschema@.package_coupling(text, integer, text) IS
'per package (directory or module prefix at a depth): afferent (ca) and efferent (ce) coupling in packages, instability ce/(ca+ce), and the files behind them';

--
-- Churn: the versions of each file stored per month (UTC), from the audit
-- log: inserted and replaced are versions, deleted is counted beside them,
-- unchanged is not (nothing new was stored).  By path, so that a file
-- deleted and stored again is one file; the log keeps every repository's
-- rows since it began (1.0), deleted files' too.  since and until bound
-- ingested_at (since <= ingested_at < until).
--
CREATE FUNCTION @extschema@.churn(repository text, since timestamptz DEFAULT NULL,
                                  until timestamptz DEFAULT NULL)
RETURNS TABLE (path text, month date, versions bigint, inserted bigint, replaced bigint,
               deleted bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    repo bigint;
BEGIN
    IF churn.repository IS NULL THEN
        RAISE EXCEPTION 'repository must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF churn.since >= churn.until THEN
        RAISE EXCEPTION 'since must be earlier than until'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    repo := @extschema@.repo_id(churn.repository);

    RETURN QUERY
    SELECT i.path,
           pg_catalog.date_trunc('month', i.ingested_at AT TIME ZONE 'UTC')::date,
           pg_catalog.count(*) FILTER (WHERE i.status IN ('inserted', 'replaced')),
           pg_catalog.count(*) FILTER (WHERE i.status = 'inserted'),
           pg_catalog.count(*) FILTER (WHERE i.status = 'replaced'),
           pg_catalog.count(*) FILTER (WHERE i.status = 'deleted')
      FROM @extschema@.ingests i
     WHERE i.repo_id = repo AND i.repository = churn.repository
       AND i.status IN ('inserted', 'replaced', 'deleted')
       AND (churn.since IS NULL OR i.ingested_at >= churn.since)
       AND (churn.until IS NULL OR i.ingested_at < churn.until)
     GROUP BY 1, 2
     ORDER BY 1, 2;
END
$$;

COMMENT ON FUNCTION @extschema@.churn(text, timestamptz, timestamptz) IS
'versions of each file stored per month (UTC) from the audit log: inserted + replaced, and deletions';

--
-- Trend: a repository's totals as they stood at points in time, per month
-- (UTC) or per revision, from metric_history (the figures of every stored
-- version) and the audit log (deletions, and revisions).  At each point
-- every path counts with its last version stored before the point
-- (as_of), a file not changed for months at the version it last had,
-- unless the path's last event before the point is a deletion.
--   per 'month'     every month from the first event (or since) to the
--                   one until (default now()) falls in; as_of is the
--                   month's end, or until if earlier.
--   per 'revision'  every revision the audit log names in [since, until),
--                   from its first row (a version stored, or a file found
--                   unchanged), in that order; as_of is when the next
--                   revision's first row was written, or until.  So a
--                   revision's deletions count whether they come after
--                   its versions or, as astpg-index makes them, after it
--                   recorded the unchanged files and before the new
--                   versions; a revision that changed nothing has the
--                   totals of the one before.  Loads of revisions are
--                   taken to follow each other.
-- versions and deleted count what happened in the point's period (from
-- its start, or since, to as_of).  History begins at 1.3 and keeps what
-- maintain()'s retention leaves: files stored before, or whose versions
-- are all past it, are not counted.  loc sums the loc metric where a
-- version has one.
--
CREATE FUNCTION @extschema@.trend(repository text, per text DEFAULT 'month',
                                  since timestamptz DEFAULT NULL,
                                  until timestamptz DEFAULT NULL)
RETURNS TABLE (point text, as_of timestamptz, files bigint, classes bigint,
               functions bigint, complexity bigint, loc bigint, versions bigint,
               deleted bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    repo bigint;
    upto timestamptz := COALESCE(trend.until, pg_catalog.now());
BEGIN
    IF trend.repository IS NULL THEN
        RAISE EXCEPTION 'repository must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF trend.per IS NULL OR trend.per NOT IN ('month', 'revision') THEN
        RAISE EXCEPTION 'per must be "month" or "revision"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF trend.since >= trend.until THEN
        RAISE EXCEPTION 'since must be earlier than until'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    repo := @extschema@.repo_id(trend.repository);

    RETURN QUERY
    WITH events AS MATERIALIZED (
        -- versions (stored) and deletions of each path before the end
        SELECT h.path, h.ingested_at AS at, true AS stored, h.revision, h.classes,
               h.functions, h.complexity_total, (h.metrics ->> 'loc')::numeric AS loc
          FROM @extschema@.metric_history h
         WHERE h.repo_id = repo AND h.repository = trend.repository AND h.ingested_at < upto
        UNION ALL
        SELECT i.path, i.ingested_at, false, NULL, NULL, NULL, NULL, NULL
          FROM @extschema@.ingests i
         WHERE i.repo_id = repo AND i.repository = trend.repository
           AND i.status = 'deleted' AND i.ingested_at < upto
    ), spans AS MATERIALIZED (
        -- each version, until the next event of its path (a deletion at
        -- the same moment as a version is taken as coming first)
        SELECT e.*, pg_catalog.lead(e.at) OVER (PARTITION BY e.path
                                                ORDER BY e.at, e.stored) AS ended_at
          FROM events e
    ), points AS MATERIALIZED (
        SELECT pg_catalog.to_char(m.month, 'YYYY-MM') AS point,
               GREATEST(m.month AT TIME ZONE 'UTC', trend.since) AS starts,
               LEAST((m.month + interval '1 month') AT TIME ZONE 'UTC', upto) AS as_of
          FROM pg_catalog.generate_series(
                   pg_catalog.date_trunc('month', COALESCE(trend.since,
                                                           (SELECT pg_catalog.min(e.at)
                                                              FROM events e))
                                                  AT TIME ZONE 'UTC'),
                   pg_catalog.date_trunc('month', upto AT TIME ZONE 'UTC'),
                   interval '1 month') AS m(month)
         WHERE trend.per = 'month' AND m.month AT TIME ZONE 'UTC' < upto
           AND EXISTS (SELECT FROM events)
        UNION ALL
        SELECT r.revision, r.first_at, LEAST(r.next_at, upto)
          FROM (SELECT v.revision, v.first_at,
                       pg_catalog.lead(v.first_at) OVER (ORDER BY v.first_at, v.revision)
                           AS next_at
                  FROM (SELECT i.revision, pg_catalog.min(i.ingested_at) AS first_at
                          FROM @extschema@.ingests i
                         WHERE trend.per = 'revision'
                           AND i.repo_id = repo AND i.repository = trend.repository
                           AND i.status IN ('inserted', 'replaced', 'unchanged')
                           AND i.revision IS NOT NULL AND i.ingested_at < upto
                         GROUP BY i.revision) v) r
         WHERE trend.per = 'revision'
           AND (trend.since IS NULL OR r.first_at >= trend.since)
    )
    SELECT p.point, p.as_of,
           pg_catalog.count(s.path),
           COALESCE(pg_catalog.sum(s.classes), 0)::bigint,
           COALESCE(pg_catalog.sum(s.functions), 0)::bigint,
           COALESCE(pg_catalog.sum(s.complexity_total), 0)::bigint,
           pg_catalog.sum(s.loc)::bigint,
           (SELECT pg_catalog.count(*) FROM events e
             WHERE e.stored AND e.at >= p.starts AND e.at < p.as_of),
           (SELECT pg_catalog.count(*) FROM events e
             WHERE NOT e.stored AND e.at >= p.starts AND e.at < p.as_of)
      FROM points p
      LEFT JOIN spans s
             ON s.stored AND s.at < p.as_of AND (s.ended_at IS NULL OR s.ended_at >= p.as_of)
     GROUP BY p.point, p.starts, p.as_of
     ORDER BY p.starts, p.point;
END
$$;

COMMENT ON FUNCTION @extschema@.trend(text, text, timestamptz, timestamptz) IS
'a repository''s totals (files, classes, functions, complexity, loc) as they stood at each month''s end or each revision, from metric_history and the audit log';

REVOKE ALL ON FUNCTION @extschema@.dead_code(text, text),
                       @extschema@.package_coupling(text, integer, text),
                       @extschema@.churn(text, timestamptz, timestamptz),
                       @extschema@.trend(text, text, timestamptz, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.dead_code(text, text),
                          @extschema@.package_coupling(text, integer, text),
                          @extschema@.churn(text, timestamptz, timestamptz),
                          @extschema@.trend(text, text, timestamptz, timestamptz)
    TO astpg_reader;
-- <<< questions

--
-- Maintenance: refreshing the analytics, the history's partitions, and
-- pruning symbol_names.
--

--
-- How stale each repository's analytics are: when they were last
-- refreshed, and how many of its files were stored (inserted or replaced)
-- or deleted since, from the audit log.  A repository never refreshed has
-- no refreshed_at and no count.  An ingest is since the refresh if its id
-- is above the last one the refresh included.  On Citus each node takes
-- ids from a range of its own (node group g: g * 2^48 + 1 up, see
-- assign_id_ranges()), and the last id may be from a higher range than a
-- later ingest's: an ingest from a lower range is since the refresh if it
-- was written after the refresh began.  Both are ranges of ingests_pkey
-- (the second bounded on both sides, ids being positive, so that the
-- planner reads it as the narrow range it is); on one server every id is
-- below 2^48 and the second range is empty.
--
CREATE VIEW @extschema@.analytics_staleness AS
SELECT COALESCE(s.repository, r.repository) AS repository,
       r.refreshed_at,
       (SELECT pg_catalog.count(DISTINCT i.path)
          FROM @extschema@.ingests i
         WHERE (i.ingest_id > r.last_ingest
                OR (i.ingest_id > 0 AND i.ingest_id < ((r.last_ingest >> 48) << 48)
                    AND i.ingested_at > r.refreshed_at))
           AND i.repo_id = r.repo_id
           AND i.status <> 'unchanged')::integer AS files_changed_since,
       s.repository IS NULL AS repository_gone
  FROM (SELECT DISTINCT f.repository, f.repo_id FROM @extschema@.files f) s
  FULL JOIN @extschema@.analytics_refreshes r ON r.repo_id = s.repo_id;

COMMENT ON VIEW @extschema@.analytics_staleness IS
'per repository: when its analytics were last refreshed, and how many of its files were stored or deleted since';

--
-- Refresh the analytics of the repositories of repos (NULL: all, in one
-- pass): each table's rows of those repositories are replaced in one
-- transaction, so that readers see the old rows until it commits.  Only a
-- repository that still has files gets rows.
--
CREATE FUNCTION @extschema@.refresh_repositories(repos bigint[])
RETURNS SETOF @extschema@.analytics_refreshes
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- each statement planned for the repositories given: generic plans could
-- not tell one repository from all of them
SET plan_cache_mode = force_custom_plan
-- The statements read whole tables, joined on several keys through CTEs
-- whose sizes the planner cannot know: it picks nested loops that turn a
-- second into minutes (measured on a standard library: call_graph 56 s
-- against 0.13 s), and JIT compilation costs more than it saves.
SET enable_nestloop = off
SET jit = off
SET work_mem = '64MB'
AS $$
DECLARE
    started     timestamptz := pg_catalog.clock_timestamp();
    last_ingest bigint;
BEGIN
    -- what the refresh includes: every ingest committed before it began
    SELECT COALESCE(pg_catalog.max(i.ingest_id), 0) INTO last_ingest
      FROM @extschema@.ingests i;

    DELETE FROM @extschema@.class_hierarchy x
     WHERE repos IS NULL OR x.repo_id = ANY (repos);
    -- Base classes resolved within the repository.  A base named in the
    -- source resolves, in this order, to
    --   1. the class of the same file with that qualified name or name;
    --   2. for "module.Class", the class of the file whose module is
    --      "module";
    --   3. the class of the repository whose name is the base's last part;
    -- and only where that step finds exactly one class.  The ancestors are
    -- walked over resolved bases (a cycle of bases stops the walk),
    -- nearest first: ancestor_distances gives each one's distance.
    INSERT INTO @extschema@.class_hierarchy
    WITH classes AS MATERIALIZED (
        SELECT c.* FROM @extschema@.classes c
         WHERE repos IS NULL OR c.repo_id = ANY (repos)
    ), bases AS (
        SELECT c.repo_id, c.class_id, c.file_id, b.base, b.ord,
               pg_catalog.split_part(b.base, '.', -1) AS base_name,
               CASE WHEN pg_catalog.strpos(b.base, '.') > 0
                    THEN pg_catalog.left(b.base, pg_catalog.length(b.base)
                             - pg_catalog.length(pg_catalog.split_part(b.base, '.', -1)) - 1)
               END AS base_module
          FROM classes c,
               pg_catalog.unnest(c.bases) WITH ORDINALITY AS b(base, ord)
    ), candidates AS (
        -- each step: how many classes it finds for a base, and the first
        SELECT b.repo_id, b.class_id, b.ord, 1 AS step,
               pg_catalog.count(DISTINCT t.class_id) AS found,
               pg_catalog.min(t.class_id) AS base_id
          FROM bases b
          JOIN classes t
            ON t.file_id = b.file_id AND t.repo_id = b.repo_id
           AND (t.qualified_name = b.base OR t.name = b.base)
         GROUP BY b.repo_id, b.class_id, b.ord
        UNION ALL
        SELECT b.repo_id, b.class_id, b.ord, 2,
               pg_catalog.count(DISTINCT t.class_id), pg_catalog.min(t.class_id)
          FROM bases b
          JOIN @extschema@.files m ON m.repo_id = b.repo_id AND m.module = b.base_module
          JOIN classes t
            ON t.file_id = m.file_id AND t.repo_id = m.repo_id
           AND t.qualified_name = b.base_name
         GROUP BY b.repo_id, b.class_id, b.ord
        UNION ALL
        SELECT b.repo_id, b.class_id, b.ord, 3, t.found, t.base_id
          FROM bases b
          JOIN (SELECT x.repo_id, x.name, pg_catalog.count(*) AS found,
                       pg_catalog.min(x.class_id) AS base_id
                  FROM classes x
                 GROUP BY x.repo_id, x.name) t
            ON t.repo_id = b.repo_id AND t.name = b.base_name
    ), resolved AS (
        -- the first step that finds anything decides
        SELECT s.repo_id, s.class_id, s.ord, s.base_id
          FROM (SELECT DISTINCT ON (c.repo_id, c.class_id, c.ord) c.*
                  FROM candidates c
                 ORDER BY c.repo_id, c.class_id, c.ord, c.step) s
         WHERE s.found = 1 AND s.base_id <> s.class_id
    ), ancestors AS (
        SELECT a.repo_id, a.class_id, a.ancestor_id, a.distance, a.longest
          FROM @extschema@.class_ancestors(
                   ARRAY(SELECT r.repo_id FROM resolved r ORDER BY r.class_id, r.ord),
                   ARRAY(SELECT r.class_id FROM resolved r ORDER BY r.class_id, r.ord),
                   ARRAY(SELECT r.base_id FROM resolved r ORDER BY r.class_id, r.ord)) a
    )
    SELECT c.class_id, c.repo_id, c.file_id, c.qualified_name, c.bases,
           COALESCE(r.base_class_ids, '{}'),
           COALESCE(a.depth, 0),
           COALESCE(d.descendants, 0),
           COALESCE(a.ancestor_ids, '{}'),
           COALESCE(a.ancestor_distances, '{}'),
           c.name, c.line_start
      FROM classes c
      LEFT JOIN (SELECT x.repo_id, x.class_id,
                        pg_catalog.array_agg(x.base_id ORDER BY x.ord) AS base_class_ids
                   FROM resolved x
                  GROUP BY x.repo_id, x.class_id) r
        ON r.class_id = c.class_id AND r.repo_id = c.repo_id
      LEFT JOIN (SELECT x.repo_id, x.class_id,
                        pg_catalog.max(x.longest)::integer AS depth,
                        pg_catalog.array_agg(x.ancestor_id ORDER BY x.distance, x.ancestor_id)
                            AS ancestor_ids,
                        pg_catalog.array_agg(x.distance ORDER BY x.distance, x.ancestor_id)
                            AS ancestor_distances
                   FROM ancestors x
                  GROUP BY x.repo_id, x.class_id) a
        ON a.class_id = c.class_id AND a.repo_id = c.repo_id
      LEFT JOIN (SELECT x.repo_id, x.ancestor_id AS class_id,
                        pg_catalog.count(*)::integer AS descendants
                   FROM ancestors x
                  GROUP BY x.repo_id, x.ancestor_id) d
        ON d.class_id = c.class_id AND d.repo_id = c.repo_id;

    -- after class_hierarchy: self calls resolve through it
    DELETE FROM @extschema@.call_graph x
     WHERE repos IS NULL OR x.repo_id = ANY (repos);
    INSERT INTO @extschema@.call_graph
    SELECT r.repo_id, r.caller_id, r.callee_id, r.caller_file_id, r.callee_file_id,
           pg_catalog.count(*)::integer
      FROM (SELECT x.repo_id FROM pg_catalog.unnest(repos) x(repo_id)
            UNION ALL SELECT NULL WHERE repos IS NULL) w
     CROSS JOIN LATERAL @extschema@.resolve_calls(w.repo_id, NULL) r
     GROUP BY r.repo_id, r.caller_id, r.callee_id, r.caller_file_id, r.callee_file_id;

    DELETE FROM @extschema@.function_hotspots x
     WHERE repos IS NULL OR x.repo_id = ANY (repos);
    INSERT INTO @extschema@.function_hotspots
    SELECT h.function_id, h.repo_id, h.file_id, f.repository, f.path, h.qualified_name,
           h.name, h.complexity, h.length, h.resolved_callers, h.rank, h.line_start
      FROM (SELECT fn.function_id, fn.repo_id, fn.file_id, fn.qualified_name, fn.name,
                   fn.complexity, fn.line_end - fn.line_start + 1 AS length,
                   COALESCE(k.callers, 0) AS resolved_callers,
                   pg_catalog.rank() OVER (PARTITION BY fn.repo_id
                                           ORDER BY fn.complexity DESC NULLS LAST,
                                                    COALESCE(k.callers, 0) DESC)::integer AS rank,
                   fn.line_start
              FROM @extschema@.functions fn
              LEFT JOIN (SELECT g.repo_id, g.callee_id, pg_catalog.count(*)::integer AS callers
                           FROM @extschema@.call_graph g
                          WHERE repos IS NULL OR g.repo_id = ANY (repos)
                          GROUP BY g.repo_id, g.callee_id) k
                ON k.callee_id = fn.function_id AND k.repo_id = fn.repo_id
             WHERE repos IS NULL OR fn.repo_id = ANY (repos)) h
      JOIN @extschema@.files f ON f.file_id = h.file_id AND f.repo_id = h.repo_id
     WHERE h.rank <= 100;

    DELETE FROM @extschema@.repository_summary x
     WHERE repos IS NULL OR x.repo_id = ANY (repos);
    INSERT INTO @extschema@.repository_summary
    WITH per_file AS (
        SELECT f.file_id, f.repo_id, f.repository, f.language,
               COALESCE(c.classes, 0) AS classes,
               COALESCE(fn.functions, 0) AS functions,
               m.loc,
               COALESCE(k.calls, 0) AS calls,
               COALESCE(r.resolved_calls, 0) AS resolved_calls,
               COALESCE(d.dependencies, 0) AS dependencies,
               COALESCE(d.resolved_dependencies, 0) AS resolved_dependencies
          FROM @extschema@.files f
          LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.count(*) AS classes
                       FROM @extschema@.classes x
                      WHERE repos IS NULL OR x.repo_id = ANY (repos)
                      GROUP BY x.repo_id, x.file_id) c
            ON c.file_id = f.file_id AND c.repo_id = f.repo_id
          LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.count(*) AS functions
                       FROM @extschema@.functions x
                      WHERE repos IS NULL OR x.repo_id = ANY (repos)
                      GROUP BY x.repo_id, x.file_id) fn
            ON fn.file_id = f.file_id AND fn.repo_id = f.repo_id
          LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.max(x.value) AS loc
                       FROM @extschema@.metrics x
                      WHERE x.name = 'loc' AND (repos IS NULL OR x.repo_id = ANY (repos))
                      GROUP BY x.repo_id, x.file_id) m
            ON m.file_id = f.file_id AND m.repo_id = f.repo_id
          LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.count(*) AS calls
                       FROM @extschema@.calls x
                      WHERE repos IS NULL OR x.repo_id = ANY (repos)
                      GROUP BY x.repo_id, x.file_id) k
            ON k.file_id = f.file_id AND k.repo_id = f.repo_id
          LEFT JOIN (SELECT g.repo_id, g.caller_file_id AS file_id,
                            pg_catalog.sum(g.calls) AS resolved_calls
                       FROM @extschema@.call_graph g
                      WHERE repos IS NULL OR g.repo_id = ANY (repos)
                      GROUP BY g.repo_id, g.caller_file_id) r
            ON r.file_id = f.file_id AND r.repo_id = f.repo_id
          LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.count(*) AS dependencies,
                            pg_catalog.count(x.target_file_id) AS resolved_dependencies
                       FROM @extschema@.dependencies x
                      WHERE repos IS NULL OR x.repo_id = ANY (repos)
                      GROUP BY x.repo_id, x.file_id) d
            ON d.file_id = f.file_id AND d.repo_id = f.repo_id
         WHERE repos IS NULL OR f.repo_id = ANY (repos)
    ), complexity AS (
        SELECT f.repo_id, f.language,
               pg_catalog.round(pg_catalog.avg(fn.complexity), 2) AS avg_complexity,
               pg_catalog.percentile_disc(0.9) WITHIN GROUP (ORDER BY fn.complexity)
                   AS p90_complexity
          FROM @extschema@.functions fn
          JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
         WHERE repos IS NULL OR fn.repo_id = ANY (repos)
         GROUP BY f.repo_id, f.language
    )
    SELECT p.repository, p.repo_id, p.language,
           pg_catalog.count(*),
           pg_catalog.sum(p.classes)::bigint,
           pg_catalog.sum(p.functions)::bigint,
           pg_catalog.sum(p.calls)::bigint,
           pg_catalog.sum(p.resolved_calls)::bigint,
           (pg_catalog.sum(p.calls) - pg_catalog.sum(p.resolved_calls))::bigint,
           pg_catalog.sum(p.dependencies)::bigint,
           pg_catalog.sum(p.resolved_dependencies)::bigint,
           pg_catalog.sum(p.loc)::bigint,
           x.avg_complexity,
           x.p90_complexity
      FROM per_file p
      LEFT JOIN complexity x ON x.repo_id = p.repo_id AND x.language = p.language
     GROUP BY p.repository, p.repo_id, p.language, x.avg_complexity, x.p90_complexity;

    -- one row per repository refreshed; those that no longer have files
    -- lose their row (and had every other row deleted above)
    DELETE FROM @extschema@.analytics_refreshes x
     WHERE repos IS NULL OR x.repo_id = ANY (repos);
    RETURN QUERY
    INSERT INTO @extschema@.analytics_refreshes AS a
    SELECT s.repo_id, s.repository, started, pg_catalog.clock_timestamp() - started,
           last_ingest,
           (SELECT pg_catalog.count(*) FROM @extschema@.class_hierarchy x
             WHERE x.repo_id = s.repo_id),
           (SELECT pg_catalog.count(*) FROM @extschema@.call_graph x
             WHERE x.repo_id = s.repo_id),
           (SELECT pg_catalog.count(*) FROM @extschema@.function_hotspots x
             WHERE x.repo_id = s.repo_id)
      FROM @extschema@.repository_summary s
     WHERE repos IS NULL OR s.repo_id = ANY (repos)
     GROUP BY s.repo_id, s.repository
    RETURNING a.*;
END
$$;

COMMENT ON FUNCTION @extschema@.refresh_repositories(bigint[]) IS
'refresh the analytics of the repositories of these repo_ids (NULL: all, in one pass); what refresh_analytics() runs';

CREATE FUNCTION @extschema@.refresh_analytics(repository text)
RETURNS SETOF @extschema@.analytics_refreshes
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
SELECT * FROM @extschema@.refresh_repositories(ARRAY[@extschema@.repo_id(repository)])
$$;

COMMENT ON FUNCTION @extschema@.refresh_analytics(text) IS
'refresh the analytics of one repository (class_hierarchy, call_graph, function_hotspots, repository_summary); records it in analytics_refreshes';

-- Every repository's, in one pass.  concurrently is kept for the callers of
-- 1.5 and before, whose views it was about: readers see the old rows until
-- a refresh commits, whatever it says.
CREATE FUNCTION @extschema@.refresh_analytics(concurrently boolean DEFAULT true)
RETURNS SETOF @extschema@.analytics_refreshes
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
SELECT * FROM @extschema@.refresh_repositories(NULL)
$$;

COMMENT ON FUNCTION @extschema@.refresh_analytics(boolean) IS
'refresh the analytics of every repository in one pass; records each in analytics_refreshes (concurrently is ignored: readers never wait)';

CREATE FUNCTION @extschema@.maintain(retention interval DEFAULT NULL)
RETURNS TABLE (action text, partition_name text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- months are UTC months, counted on timestamps without a time zone so
    -- that the session's TimeZone cannot shift them
    this_month  timestamp := pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC');
    month_start timestamptz;
    month_end   timestamptz;
    cutoff      timestamptz;
    part        record;
    part_name   text;
    repo        bigint;
    gone        bigint;
    pruned      bigint := 0;
    created     integer := 0;
    dropped     integer := 0;
BEGIN
    -- this month and the next three, ahead of the ingests that need them
    FOR i IN 0..3 LOOP
        month_start := (this_month + pg_catalog.make_interval(months => i)) AT TIME ZONE 'UTC';
        month_end := (this_month + pg_catalog.make_interval(months => i + 1)) AT TIME ZONE 'UTC';
        part_name := 'metric_history_'
            || pg_catalog.to_char(this_month + pg_catalog.make_interval(months => i), 'YYYYMM');
        CONTINUE WHEN pg_catalog.to_regclass(pg_catalog.format('@extschema@.%I', part_name)) IS NOT NULL;
        -- the DEFAULT partition's indexes are every partition's
        EXECUTE pg_catalog.format(
            'CREATE TABLE @extschema@.%I (LIKE @extschema@.metric_history_default'
            ' INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)',
            part_name);
        -- rows the DEFAULT partition took for that month move in first;
        -- ingests wait meanwhile, or one committed between the move and
        -- the ATTACH would leave a row behind that fails it
        LOCK TABLE @extschema@.metric_history_default IN SHARE ROW EXCLUSIVE MODE;
        EXECUTE pg_catalog.format(
            'WITH moved AS (DELETE FROM @extschema@.metric_history_default h'
            '                WHERE h.ingested_at >= $1 AND h.ingested_at < $2 RETURNING h.*)'
            ' INSERT INTO @extschema@.%I SELECT * FROM moved', part_name)
            USING month_start, month_end;
        EXECUTE pg_catalog.format(
            'ALTER TABLE @extschema@.metric_history ATTACH PARTITION @extschema@.%I'
            ' FOR VALUES FROM (%L) TO (%L)', part_name, month_start, month_end);
        action := 'created';
        partition_name := part_name;
        created := created + 1;
        RETURN NEXT;
    END LOOP;

    -- symbol_names: the names whose rows are all gone (the rows that
    -- symbol_rows() finds for a name, asked of every name at once), and the
    -- copies two writers made of one name at once; a repository at a time,
    -- which on Citus is a statement on its shard
    FOR repo IN SELECT DISTINCT s.repo_id FROM @extschema@.symbol_names s LOOP
        DELETE FROM @extschema@.symbol_names s
         WHERE s.repo_id = repo
           AND NOT CASE s.kind
               WHEN 1 THEN EXISTS (SELECT FROM @extschema@.functions x
                                    WHERE x.repo_id = repo
                                      AND pg_catalog.left(x.name, 256) = pg_catalog.left(s.name, 256)
                                      AND x.name = s.name)
               WHEN 2 THEN EXISTS (SELECT FROM @extschema@.functions x
                                    WHERE x.repo_id = repo
                                      AND pg_catalog.left(x.name, 256) = pg_catalog.left(s.member, 256)
                                      AND x.name = s.member
                                      AND pg_catalog.left(x.qualified_name, 256)
                                          = pg_catalog.left(s.name, 256)
                                      AND x.qualified_name = s.name)
               WHEN 3 THEN EXISTS (SELECT FROM @extschema@.classes x
                                    WHERE x.repo_id = repo AND x.name = s.name)
               WHEN 4 THEN EXISTS (SELECT FROM @extschema@.classes x
                                    WHERE x.repo_id = repo AND x.qualified_name = s.name)
               WHEN 5 THEN EXISTS (SELECT FROM @extschema@.files x
                                    WHERE x.repo_id = repo AND x.path = s.name)
               ELSE EXISTS (SELECT FROM @extschema@.files x
                             WHERE x.repo_id = repo AND x.module = s.name)
               END;
        GET DIAGNOSTICS gone = ROW_COUNT;
        pruned := pruned + gone;
        DELETE FROM @extschema@.symbol_names s
         USING @extschema@.symbol_names t
         WHERE s.repo_id = repo AND t.repo_id = repo
           AND t.name = s.name AND t.kind = s.kind AND t.member = s.member
           AND t.ctid < s.ctid;
        GET DIAGNOSTICS gone = ROW_COUNT;
        pruned := pruned + gone;
    END LOOP;
    IF pruned > 0 THEN
        action := 'pruned ' || pruned || ' names';
        partition_name := 'symbol_names';
        RETURN NEXT;
    END IF;

    IF retention IS NOT NULL THEN
        cutoff := pg_catalog.now() - retention;
        -- whole months that ended before the cutoff
        FOR part IN
            SELECT c.relname,
                   pg_catalog.to_date(pg_catalog.substr(c.relname, 16), 'YYYYMM')::timestamp
                       AT TIME ZONE 'UTC' AS month_start
              FROM pg_catalog.pg_inherits i
              JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = '@extschema@.metric_history'::pg_catalog.regclass
               AND c.relname ~ '^metric_history_[0-9]{6}$'
             ORDER BY c.relname
        LOOP
            CONTINUE WHEN (part.month_start AT TIME ZONE 'UTC' + interval '1 month')
                          AT TIME ZONE 'UTC' > cutoff;
            EXECUTE pg_catalog.format('DROP TABLE @extschema@.%I', part.relname);
            action := 'dropped';
            partition_name := part.relname;
            dropped := dropped + 1;
            RETURN NEXT;
        END LOOP;
        DELETE FROM @extschema@.metric_history_default h WHERE h.ingested_at < cutoff;
    END IF;

    -- for astpg.health: when maintain() last ran, and what it did
    INSERT INTO @extschema@.maintenance_runs (created, dropped, pruned)
    VALUES (created, dropped, pruned);
END
$$;

COMMENT ON FUNCTION @extschema@.maintain(interval) IS
'create metric_history''s partitions for this month and the next three; prune symbol_names; with a retention, drop the months older than it; logged in maintenance_runs';

--
-- Health at a glance: one row a check, with its value, 'ok' or 'warning',
-- and what to do about a warning.  Cheap enough to read often: the audit
-- log and the rejects are read from the last day only (their BRIN indexes
-- on time), the rest from small tables and the catalogs.
--
CREATE VIEW @extschema@.health AS
WITH ingests AS (
    SELECT pg_catalog.count(*) FILTER (WHERE i.ingested_at > pg_catalog.now() - interval '1 hour')
               AS last_hour,
           pg_catalog.count(*) AS last_day
      FROM @extschema@.ingests i
     WHERE i.ingested_at > pg_catalog.now() - interval '1 day'
), rejects AS (
    SELECT pg_catalog.count(*) FILTER (WHERE r.rejected_at > pg_catalog.now() - interval '1 hour')
               AS last_hour,
           pg_catalog.count(*) AS last_day
      FROM @extschema@.rejects r
     WHERE r.rejected_at > pg_catalog.now() - interval '1 day'
), unresolved AS (
    -- rejects whose path has not been stored since they were refused
    SELECT pg_catalog.count(*) AS rejects, pg_catalog.min(r.rejected_at) AS oldest
      FROM @extschema@.rejects r
     WHERE NOT EXISTS (SELECT FROM @extschema@.files f
                        WHERE @extschema@.file_key(f.repository, f.path)
                              = @extschema@.file_key(r.repository, r.path)
                          AND f.repo_id = r.repo_id AND f.updated_at >= r.rejected_at)
), staleness AS (
    SELECT pg_catalog.count(*) FILTER (WHERE s.refreshed_at IS NULL) AS never,
           pg_catalog.count(*) FILTER (WHERE s.files_changed_since > 0) AS behind,
           pg_catalog.sum(s.files_changed_since) AS changed,
           pg_catalog.min(s.refreshed_at) AS oldest
      FROM @extschema@.analytics_staleness s
     WHERE NOT s.repository_gone
), sizes AS (
    SELECT pg_catalog.sum(pg_catalog.pg_table_size(c.oid)) FILTER (WHERE c.relkind IN ('r', 't'))
               AS tables,
           pg_catalog.sum(pg_catalog.pg_relation_size(c.oid)) FILTER (WHERE c.relkind = 'i')
               AS indexes
      FROM pg_catalog.pg_class c
     WHERE c.relnamespace = '@extschema@'::pg_catalog.regnamespace
), maintained AS (
    SELECT pg_catalog.max(m.ran_at) AS last_run FROM @extschema@.maintenance_runs m
), partitions AS (
    SELECT pg_catalog.count(*) FILTER (WHERE c.relname > 'metric_history_'
               || pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYYMM')) AS ahead,
           (SELECT pg_catalog.count(*) FROM @extschema@.metric_history_default) AS in_default
      FROM pg_catalog.pg_inherits i
      JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = '@extschema@.metric_history'::pg_catalog.regclass
       AND c.relname ~ '^metric_history_[0-9]{6}$'
)
SELECT x.item, x.value, CASE WHEN x.ok THEN 'ok' ELSE 'warning' END AS status,
       CASE WHEN x.ok THEN '' ELSE x.advice END AS advice
  FROM ingests, rejects, unresolved, staleness, sizes, maintained, partitions,
       LATERAL (VALUES
    (1, 'documents ingested in the last hour', ingests.last_hour::text, true, ''),
    (2, 'documents ingested in the last day', ingests.last_day::text, true, ''),
    (3, 'documents refused in the last hour', rejects.last_hour::text, rejects.last_hour = 0,
     'Read them in astpg.rejects (ORDER BY rejected_at DESC): sqlstate and message say what broke the format; fix the producer and send them again.'),
    (4, 'documents refused in the last day', rejects.last_day::text, rejects.last_day = 0,
     'Read them in astpg.rejects (ORDER BY rejected_at DESC): sqlstate and message say what broke the format; fix the producer and send them again.'),
    (5, 'oldest refused document whose path was not stored since',
     COALESCE(unresolved.oldest::text || ' (' || unresolved.rejects || ' such rejects)', 'none'),
     unresolved.oldest IS NULL,
     'Send a valid version of each path again, or DELETE the rejects you have dealt with from astpg.rejects.'),
    (6, 'repositories whose analytics were never refreshed', staleness.never::text,
     staleness.never = 0,
     'Run SELECT astpg.refresh_analytics(); schedule it (pg_cron) so that dashboards follow the loads.'),
    (7, 'repositories with files changed since their analytics were refreshed',
     staleness.behind::text || ' (' || COALESCE(staleness.changed, 0) || ' files)',
     staleness.behind = 0,
     'Run SELECT astpg.refresh_analytics() (or refresh_analytics(repository) for one); answers about single files and symbols are current regardless.'),
    (8, 'oldest refresh of a repository''s analytics', COALESCE(staleness.oldest::text, 'none'),
     true, ''),
    (9, 'size of astpg''s tables and of their indexes',
     pg_catalog.pg_size_pretty(COALESCE(sizes.tables, 0)) || ' and '
     || pg_catalog.pg_size_pretty(COALESCE(sizes.indexes, 0)),
     true, ''),
    (10, 'last run of maintain()', COALESCE(maintained.last_run::text, 'never'),
     maintained.last_run > pg_catalog.now() - interval '2 days',
     'Run SELECT astpg.maintain() at least daily (pg_cron): it makes the history''s coming months and prunes symbol_names.'),
    (11, 'months of metric_history made ahead of this one', partitions.ahead::text,
     partitions.ahead >= 1,
     'Run SELECT astpg.maintain(): without the coming month''s partition the history goes to the DEFAULT partition.'),
    (12, 'rows of metric_history in its DEFAULT partition', partitions.in_default::text,
     partitions.in_default = 0,
     'Run SELECT astpg.maintain(): it moves them into their month''s partition.'))
    AS x(position, item, value, ok, advice)
 ORDER BY x.position;

COMMENT ON VIEW @extschema@.health IS
'health at a glance: recent ingests and rejects, the oldest reject not mended, the analytics'' staleness, sizes, the last maintain() and the history''s coming months; status ok or warning, with what to do';

--
-- Citus: distribute every table by repository, the analytics' included, so
-- that every question about a repository is a statement on its shard.
--

-- Ids come from each node's own sequences (an ingest may run on any node
-- that has Citus's metadata), so each node takes them from a range of its
-- own: node group g from g * 2^48 + 1 to (g + 1) * 2^48 - 1, as Citus does
-- for sequences of its own.  Ids already taken stay as they are.  Run again
-- after adding nodes.
CREATE FUNCTION @extschema@.assign_id_ranges()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    command text := $command$
DO $do$
DECLARE
    node_group bigint := (SELECT groupid FROM pg_catalog.pg_dist_local_group);
    low        bigint := (node_group << 48) + 1;
    high       bigint := ((node_group + 1) << 48) - 1;
    seq        text;
    last       bigint;
BEGIN
    SET LOCAL citus.enable_ddl_propagation TO off;
    FOREACH seq IN ARRAY ARRAY['files_file_id_seq', 'classes_class_id_seq',
                               'functions_function_id_seq',
                               'ingests_ingest_id_seq', 'rejects_reject_id_seq']
    LOOP
        EXECUTE pg_catalog.format('SELECT last_value FROM @extschema@.%I', seq)
           INTO last;
        IF last >= high THEN
            RAISE EXCEPTION 'sequence @extschema@.% is past its node''s range', seq;
        END IF;
        EXECUTE pg_catalog.format(
            'ALTER SEQUENCE @extschema@.%I MINVALUE %s MAXVALUE %s START %s %s',
            seq, low, high, low,
            CASE WHEN last < low THEN 'RESTART ' || low ELSE '' END);
    END LOOP;
END
$do$
$command$;
    failed text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'astpg.assign_id_ranges() needs the citus extension'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    EXECUTE command;
    SELECT pg_catalog.string_agg(r.nodename || ':' || r.nodeport || ': ' || r.result, '; ')
      INTO failed
      FROM run_command_on_workers(command) r
     WHERE NOT r.success;
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'could not assign id ranges on every worker'
            USING DETAIL = failed;
    END IF;
END
$$;

COMMENT ON FUNCTION @extschema@.assign_id_ranges() IS
'on Citus: give each node''s id sequences a range of their own (distribute() does it; run again after adding nodes)';

CREATE FUNCTION @extschema@.distribute(shard_count integer DEFAULT 32)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'astpg.distribute() needs the citus extension'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Run CREATE EXTENSION citus in this database first, on a server with shared_preload_libraries = ''citus''.';
    END IF;
    IF shard_count IS NULL OR shard_count < 1 THEN
        RAISE EXCEPTION 'shard_count must be a positive integer'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- files first: the other tables' foreign keys reference it, and are
    -- colocated with it
    PERFORM create_distributed_table('@extschema@.files', 'repo_id',
                                     shard_count => distribute.shard_count,
                                     colocate_with => 'none');
    FOREACH t IN ARRAY ARRAY['classes', 'functions', 'calls', 'dependencies',
                             'metrics', 'ingests', 'rejects', 'metric_history',
                             'symbol_names', 'class_hierarchy', 'call_graph',
                             'function_hotspots', 'repository_summary',
                             'analytics_refreshes']
    LOOP
        PERFORM create_distributed_table(pg_catalog.format('@extschema@.%I', t),
                                         'repo_id',
                                         colocate_with => '@extschema@.files');
    END LOOP;
    PERFORM @extschema@.assign_id_ranges();
END
$$;

COMMENT ON FUNCTION @extschema@.distribute(integer) IS
'on Citus: distribute and colocate every astpg table by repo_id (once, as a superuser)';

--
-- Privileges: nothing to PUBLIC; readers read, writers also write, through
-- the API functions only.  distribute() and assign_id_ranges() are for the
-- superuser who installs astpg.  The sequence of rejects has its default
-- privileges (its owner's alone), as 1.1 left it; the others were revoked
-- from PUBLIC, which had nothing on them either.
--
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.files_file_id_seq,
                       @extschema@.classes_class_id_seq,
                       @extschema@.functions_function_id_seq,
                       @extschema@.ingests_ingest_id_seq FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;

-- astpg_reader: the schema, every table and view (not the inbox), the
-- documents and the read functions
GRANT USAGE ON SCHEMA @extschema@ TO astpg_reader;
GRANT SELECT ON @extschema@.files, @extschema@.classes, @extschema@.functions,
                @extschema@.calls, @extschema@.dependencies, @extschema@.metrics,
                @extschema@.ingests, @extschema@.rejects,
                @extschema@.module_edges, @extschema@.class_hierarchy,
                @extschema@.call_graph, @extschema@.file_summary,
                @extschema@.function_hotspots, @extschema@.repository_summary,
                @extschema@.symbol_names, @extschema@.analytics_refreshes,
                @extschema@.analytics_staleness, @extschema@.health,
                @extschema@.maintenance_runs,
                @extschema@.metric_history, @extschema@.metric_history_default
   TO astpg_reader;
GRANT EXECUTE ON FUNCTION @extschema@.file_key(text, text),
                          @extschema@.repo_id(text),
                          @extschema@.document(bigint),
                          @extschema@.document(bigint, bigint),
                          @extschema@.graph_walk(bigint, integer, text),
                          @extschema@.resolve_calls(bigint, bigint[], text[]),
                          @extschema@.calling(bigint, bigint[]),
                          @extschema@.symbol_rows(text, smallint, text, bigint, integer),
                          @extschema@.dependencies_of(bigint, integer),
                          @extschema@.dependents_of(bigint, integer),
                          @extschema@.callers(bigint, integer),
                          @extschema@.callees(bigint, integer),
                          @extschema@.import_cycles(text),
                          @extschema@.dependency_graph_dot(text, text),
                          @extschema@.find_symbol(text, text[], integer),
                          @extschema@.stored_hashes(text)
   TO astpg_reader;

-- astpg_writer (a member of astpg_reader): the writing functions, the
-- inbox, refreshing the views and keeping the history's partitions
GRANT INSERT ON @extschema@.inbox TO astpg_writer;
GRANT EXECUTE ON FUNCTION @extschema@.ingest(jsonb),
                          @extschema@.ingest_batch(jsonb[], text),
                          @extschema@.ingest_counts(),
                          @extschema@.record_reject(text, text, text, text),
                          @extschema@.delete_file(text, text),
                          @extschema@.resolve_dependencies(text),
                          @extschema@.record_unchanged(text, text[], text[], text[]),
                          @extschema@.delete_files(text, text[]),
                          @extschema@.refresh_analytics(boolean),
                          @extschema@.refresh_analytics(text),
                          @extschema@.maintain(interval)
   TO astpg_writer;

--
-- pg_dump keeps the rows of these tables and the state of their sequences.
-- Not the analytics (class_hierarchy, call_graph, function_hotspots,
-- repository_summary, analytics_refreshes), which refresh_analytics()
-- fills again; symbol_names is kept, as a restored database's find_symbol
-- needs it and nothing but the writer fills it; not the parent of metric_history's
-- partitions, which holds no rows, nor its monthly partitions, which
-- belong to the database and not to the extension.
--
SELECT pg_catalog.pg_extension_config_dump('@extschema@.files', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.files_file_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.classes', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.classes_class_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.functions', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.functions_function_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.calls', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dependencies', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.metrics', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ingests', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ingests_ingest_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rejects', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rejects_reject_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.metric_history_default', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.symbol_names', '');
