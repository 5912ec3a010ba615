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
