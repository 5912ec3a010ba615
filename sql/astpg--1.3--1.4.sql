/* astpg/sql/astpg--1.3--1.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.4'" to load this file. \quit

--
-- 1.4: loads at the COPY limit and proofs under faults.
--
-- A fresh CREATE EXTENSION astpg runs 1.0 to 1.3 and this script in turn:
-- it must work on empty tables as well as on full ones.
--

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
-- plan made on empty tables may then read a whole key filtering on it
-- (see astpg--1.1--1.2.sql).
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
        SELECT array_agg(c.file_id), array_agg(c.module), array_agg(c.path)
          INTO ids, modules, paths
          FROM (SELECT f.file_id, f.module, f.path
                  FROM @extschema@.files f
                 WHERE (@extschema@.file_key(f.repository, f.module) = ANY (ARRAY(
                            SELECT @extschema@.file_key(dependency_targets.repository, u)
                              FROM unnest(dependency_targets.targets) AS u))
                        OR @extschema@.file_key(f.repository, f.path) = ANY (ARRAY(
                            SELECT @extschema@.file_key(dependency_targets.repository, u)
                              FROM unnest(dependency_targets.targets) AS u)))
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
-- resolve_dependencies() now sets every dependency of a repository to what
-- dependency_targets() says, not only the unresolved ones: after any
-- interleaving of concurrent writers (a file's module changed while a
-- dependent was written, say) it makes resolution right again.  It returns
-- how many dependencies it changed.
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
-- Unresolved dependencies are found by a btree on the hash of their
-- target, not a hash index on it: a hash index keeps equal values in one
-- bucket's chain of overflow pages, which every insert walks, so that a
-- popular unresolved target ("os") made each new one slower (300,000
-- stored made 10,000 more take 5 times as long).  A btree finds its place
-- among duplicates by descent.  It holds the hash, not the text: a btree
-- entry holds at most about 2700 bytes and a target may be longer.
--
--
-- The hash is seeded with the repository's key, so that the same target
-- in two repositories ("os", "utils") sits on different pages: a
-- SERIALIZABLE writer that looks up its own repository's targets then
-- takes no predicate lock on the pages where other repositories' writers
-- insert.
--
DROP INDEX @extschema@.dependencies_unresolved_target_idx;
CREATE INDEX dependencies_unresolved_target_idx
    ON @extschema@.dependencies (pg_catalog.hashtextextended(target, repo_id))
    WHERE target_file_id IS NULL;

--
-- SERIALIZABLE writers of different repositories should not abort each
-- other (issue 10, defect 13).  What made them (8 sessions, each writing
-- its own repository: 91% of commits failed with 40001) were predicate
-- locks on index pages that every writer shares:
--
--  - the foreign-key checks of a document's rows read files_pkey,
--    classes_pkey and functions_pkey at the page where their new ids are,
--    and ids from one sequence put every session's rows on the same
--    rightmost page.  A cache of ids per session puts each session's new
--    rows on pages of their own;
--  - a lookup by module read the hash bucket of that module in every
--    repository ("utils" is everywhere).  A second index on the module
--    keyed by repository, which dependency_targets() uses, keeps each
--    repository's modules apart.
--
ALTER TABLE @extschema@.files ALTER COLUMN file_id SET CACHE 512;
ALTER TABLE @extschema@.classes ALTER COLUMN class_id SET CACHE 512;
ALTER TABLE @extschema@.functions ALTER COLUMN function_id SET CACHE 2048;
CREATE INDEX files_repository_module_idx
    ON @extschema@.files USING hash (@extschema@.file_key(repository, module));

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

-- dependency_targets() locks rows, which takes the owner's rights: only
-- astpg's own functions call it
REVOKE ALL ON FUNCTION @extschema@.dependency_targets(text, text[], boolean),
                       @extschema@.inbox_flush() FROM PUBLIC;

--
-- astpg-load: lines that cannot be sent as text (issue 10, defect 6).
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

COMMENT ON COLUMN @extschema@.rejects.document_text IS
'the text as given, when it is not JSON (document is then NULL); for a line astpg-load could not send as text, the line with each byte that is not UTF-8, and each NUL, written \xHH';

REVOKE ALL ON FUNCTION @extschema@.record_reject(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.record_reject(text, text, text, text) TO astpg_writer;


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
-- delete_file() at REPEATABLE READ and SERIALIZABLE: a dependency on the
-- file committed after the transaction's snapshot made the delete fail
-- with a foreign-key violation; it is a serialization failure (40001),
-- which clients retry (issue 10, defect 2's reverse form, found by
-- test/writers.py).  Otherwise as in 1.2.
--
CREATE OR REPLACE FUNCTION @extschema@.delete_file(repository text, path text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    repo            bigint := @extschema@.repo_id(delete_file.repository);
    stored_id       bigint;
    stored_revision text;
    stored_hash     text;
BEGIN
    -- on Citus, the workers plan these statements (and the foreign keys'
    -- cascades) with enable_seqscan off too
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        SET LOCAL citus.propagate_set_commands = 'local';
        SET LOCAL enable_seqscan = off;
    END IF;
    SELECT f.file_id INTO stored_id
      FROM @extschema@.files f
     WHERE f.repo_id = repo
       AND @extschema@.file_key(f.repository, f.path)
           = @extschema@.file_key(delete_file.repository, delete_file.path)
       AND f.repository = delete_file.repository
       AND f.path = delete_file.path
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    UPDATE @extschema@.dependencies d
       SET target_file_id = NULL
     WHERE d.repo_id = repo AND d.target_file_id = stored_id;

    -- a statement a table, each on the repository's shard on Citus
    BEGIN
        DELETE FROM @extschema@.files f
         WHERE f.repo_id = repo AND f.file_id = stored_id
        RETURNING f.revision, f.content_hash INTO stored_revision, stored_hash;
    EXCEPTION WHEN foreign_key_violation THEN
        -- At REPEATABLE READ and SERIALIZABLE the UPDATE above cannot see
        -- a dependency on the file that a writer committed after this
        -- transaction's snapshot was taken (the writer held the file FOR
        -- KEY SHARE, and the lock above waited for it).  That is a
        -- serialization failure, which the caller retries, not a fault.
        IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'could not serialize access due to a concurrent dependency on file "%"',
                            delete_file.path
                USING ERRCODE = 'serialization_failure';
        END IF;
        RAISE;
    END;
    INSERT INTO @extschema@.ingests (repo_id, repository, path, revision,
                                     content_hash, status, file_id, duration)
    VALUES (repo, delete_file.repository, delete_file.path, stored_revision,
            stored_hash, 'deleted', stored_id, interval '0');
    RETURN true;
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
