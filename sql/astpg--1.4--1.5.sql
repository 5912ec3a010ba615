/* astpg/sql/astpg--1.4--1.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.5'" to load this file. \quit

--
-- 1.5: writers that retry their deadlocks themselves, and SERIALIZABLE
-- writers whose lookups stay on their own repository's index pages.
--
-- A fresh CREATE EXTENSION astpg runs 1.0 to 1.4 and this script in turn:
-- it must work on empty tables as well as on full ones.
--

--
-- What 1.4 released without (stop 13 shipped these in astpg--1.3--1.4.sql
-- after its release; they belong here).  Each may already be in place, on a
-- database installed from that copy, so each can run twice.
--

--
-- resolve_dependencies() sets every dependency right, not only the
-- unresolved ones, by the rule of dependency_targets() (issue 10, defect
-- 4), and on Citus a statement per file pointed at.
--
CREATE OR REPLACE FUNCTION @extschema@.resolve_dependencies(repository text DEFAULT NULL)
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
-- Ids cached per session (issue 10, defect 13): the foreign-key checks of a
-- document's rows read files_pkey, classes_pkey and functions_pkey at the
-- page where their new ids are, and ids from one sequence put every
-- session's rows on the same rightmost page, which SERIALIZABLE writers of
-- different repositories then share.
--
ALTER TABLE @extschema@.files ALTER COLUMN file_id SET CACHE 512;
ALTER TABLE @extschema@.classes ALTER COLUMN class_id SET CACHE 512;
ALTER TABLE @extschema@.functions ALTER COLUMN function_id SET CACHE 2048;

--
-- Incremental sync on Citus: stored_hashes() as PL/pgSQL.
--
-- As a SQL function with SET search_path it is never inlined, and Citus
-- cannot plan a parameter of a SQL function that is not ("could not create
-- distributed plan"): astpg-index and astpg-load --skip-unchanged failed on
-- a distributed astpg.  In PL/pgSQL the repository's repo_id is a value
-- when the statement runs, and the statement a router query on its shard
-- (test/citus/run checks it, with document(repo_id, file_id) for the same
-- reason in 1.2).  Signature, result, volatility and grants are unchanged.
--
CREATE OR REPLACE FUNCTION @extschema@.stored_hashes(repository text)
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

--
-- Incremental sync on Citus: record_unchanged() in statements that each
-- stay on the repository's shard.
--
-- 1.3's one statement (the given pairs, the stored rows locked, the audit
-- rows inserted, all as CTEs) finds the stored rows through a subquery,
-- which Citus cannot prune to a shard: it planned the CTEs one by one on
-- the coordinator and then failed to read back its own intermediate
-- result ('invalid input syntax for type bigint: "PGCOPY"').  Now the
-- stored rows are locked by their unique key with repo_id given, the
-- given pairs matched to them on the node that was called (no table), and
-- the audit rows written as one INSERT ... VALUES of unnested arrays, as
-- ingest's routed writer does (src/queries.c): each a router query on
-- Citus, and on one server the same three index lookups and one insert.
-- What it returns and writes is unchanged, and so are its locks: the
-- stored rows of the given paths, in file_id order, whatever their hash.
--
CREATE OR REPLACE FUNCTION @extschema@.record_unchanged(repository text, paths text[],
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
    -- an unchanged document (src/document_writer.c, insert_audit).  The
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

--
-- files.ast compressed with lz4 (issue 10, defect 8: a slow cancel).
--
-- A files row's ast is compressed when the row is written, in one call
-- that never checks for interrupts: a cancel or a statement_timeout that
-- arrives meanwhile waits for it.  Writing a 100 MB ast (168 MB as
-- jsonb; test/cancel.py's document) into a table of this column took, on
-- the project's 2-core machine, 875 ms with pglz, the default, and 250 ms
-- with lz4 (4.5 s and 1.2 s when the machine was loaded); lz4 stores it
-- in 19 MB where pglz stores 16 MB.  Storing it uncompressed (STORAGE
-- EXTERNAL) would be as quick but take 169 MB.  Only values written from
-- now on are compressed with lz4; those stored stay pglz and read as
-- before.  A server built without lz4 keeps pglz (the error is
-- feature_not_supported), silently: it works as it did.  What stays
-- uninterrupted is the extraction of the GIN entries of files_ast_idx
-- (about a second for this document), which only dropping it would avoid.
--
DO $$
BEGIN
    ALTER TABLE @extschema@.files ALTER COLUMN ast SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;

--
-- Writers that deadlock try again, alone in their repository (issue 10,
-- defect 3; src/deadlocks.c says why this works).
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
REVOKE ALL ON FUNCTION @extschema@.lock_repository(bigint, boolean) FROM PUBLIC;

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
REVOKE ALL ON FUNCTION @extschema@.delete_file_once(text, text) FROM PUBLIC;

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
REVOKE ALL ON FUNCTION @extschema@.delete_paths(text, text[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.delete_file(repository text, path text)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.cardinality(@extschema@.delete_paths(repository, ARRAY[path])) > 0;

-- The paths in byte order, as the writers lock theirs.  They are read by a
-- statement of their own: on Citus, a query of a shard cannot also call
-- delete_paths(), which queries shards.
CREATE OR REPLACE FUNCTION @extschema@.delete_files(repository text, keep_paths text[])
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

--
-- SERIALIZABLE writers of different repositories: lookups that stay on
-- their repository's index pages (issue 10, defect 13).
--
-- At SERIALIZABLE a lookup takes a predicate lock on every index page it
-- reads (a btree leaf, a hash bucket), whether it finds a row or not, and
-- another transaction that inserts into that page then makes a read-write
-- conflict with it.  A writer looks up every dependency target of its
-- documents by module and by path (dependency_targets()), the paths of
-- its files (src/batch_writer.c, step 1) and its modules and paths among
-- the unresolved dependencies (step 5).  The indexes it read were keyed by
-- a hash of the value (file_key(), hashtextextended()), so each lookup
-- fell on a page of its own among every repository's entries: a batch of
-- 20 documents read most pages of them, and the 8 sessions of
-- test/writers.py, each writing its own repository of 800 files, locked
-- the same pages all the time.
--
-- These indexes are keyed instead by 32 bits of a hash of the repository,
-- then 32 bits of a hash of the value:
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
-- nothing new; and expressions, not columns, so that no other lookup
-- within a repository can pick these indexes (see astpg--1.1--1.2.sql, why
-- no key leads with repo_id).  src/queries.c and src/batch_writer.c write
-- and compute the same.
--
-- The unique key on file_key(repository, path) stays what ON CONFLICT
-- checks, which takes no predicate lock; files_module_idx and
-- files_path_idx (hash) stay for readers' lookups across repositories.
--
DROP INDEX IF EXISTS @extschema@.files_repository_module_idx;
CREATE INDEX files_repository_module_idx
    ON @extschema@.files (((pg_catalog.hashtextextended(repository, 0) & (-4294967296)::bigint)
                           | (pg_catalog.hashtextextended(module, 0) & 4294967295::bigint)));

CREATE INDEX files_repository_path_idx
    ON @extschema@.files (((pg_catalog.hashtextextended(repository, 0) & (-4294967296)::bigint)
                           | (pg_catalog.hashtextextended(path, 0) & 4294967295::bigint)));

DROP INDEX IF EXISTS @extschema@.dependencies_unresolved_target_idx;
CREATE INDEX dependencies_unresolved_target_idx
    ON @extschema@.dependencies (((repo_id & (-4294967296)::bigint)
                                  | (pg_catalog.hashtextextended(target, repo_id)
                                     & 4294967295::bigint)))
    WHERE target_file_id IS NULL;

--
-- dependency_targets() as in 1.4, its lookups by module and by path
-- through the indexes above.  A file whose module (path) shares the key of
-- a target is a candidate, and locked, needlessly; the rule below compares
-- modules and paths, and does not take it.  The lookup itself does not
-- compare f.module or f.path: the planner might then read files_module_idx
-- or files_path_idx, whose buckets every repository shares.
--
CREATE OR REPLACE FUNCTION @extschema@.dependency_targets(repository text, targets text[],
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

--
-- files_ast_idx with keys a cancel can stop (issue 10: a cancel during the
-- ingest of a 100 MB ast waited over a second for PostgreSQL's
-- jsonb_path_ops to extract and sort the keys of every value).
--
-- astpg.ast_path_ops is jsonb_path_ops with an extractValue function of
-- astpg's (src/ast_index.c) that makes the same keys, checking for
-- interrupts, and hands them to GIN sorted and without duplicates; the
-- query side is jsonb_path_ops' own, so ast @> '{...}', @? and @@ use the
-- index as before.  The index is rebuilt with it: on a large database
-- that reads every ast once.
--
CREATE FUNCTION @extschema@.gin_extract_ast(jsonb, internal, internal)
RETURNS internal
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'astpg_gin_extract_ast';
REVOKE ALL ON FUNCTION @extschema@.gin_extract_ast(jsonb, internal, internal) FROM PUBLIC;

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

DROP INDEX @extschema@.files_ast_idx;
CREATE INDEX files_ast_idx ON @extschema@.files USING gin (ast @extschema@.ast_path_ops);
