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
BEGIN
    IF routed THEN
        RETURN QUERY
        WITH candidates AS MATERIALIZED (
            SELECT f.file_id, f.module, f.path
              FROM @extschema@.files f
             WHERE f.repo_id = @extschema@.repo_id(dependency_targets.repository)
               AND f.repository = dependency_targets.repository
               AND (f.module = ANY (dependency_targets.targets)
                    OR f.path = ANY (dependency_targets.targets))
               FOR KEY SHARE OF f)
        SELECT t.target, COALESCE(m.file_id, p.file_id)
          FROM (SELECT DISTINCT u FROM unnest(dependency_targets.targets) AS u
                 WHERE u IS NOT NULL) AS t(target)
          LEFT JOIN (SELECT c.module, min(c.file_id) AS file_id
                       FROM candidates c GROUP BY c.module) AS m
                 ON m.module = t.target
          LEFT JOIN (SELECT c.path, min(c.file_id) AS file_id
                       FROM candidates c GROUP BY c.path) AS p
                 ON p.path = t.target;
    ELSE
        RETURN QUERY
        WITH candidates AS MATERIALIZED (
            SELECT f.file_id, f.module, f.path
              FROM @extschema@.files f
             WHERE (f.module = ANY (dependency_targets.targets)
                    OR @extschema@.file_key(f.repository, f.path) = ANY (ARRAY(
                           SELECT @extschema@.file_key(dependency_targets.repository, u)
                             FROM unnest(dependency_targets.targets) AS u)))
               AND f.repository = dependency_targets.repository
               FOR KEY SHARE OF f)
        SELECT t.target, COALESCE(m.file_id, p.file_id)
          FROM (SELECT DISTINCT u FROM unnest(dependency_targets.targets) AS u
                 WHERE u IS NOT NULL) AS t(target)
          LEFT JOIN (SELECT c.module, min(c.file_id) AS file_id
                       FROM candidates c GROUP BY c.module) AS m
                 ON m.module = t.target
          LEFT JOIN (SELECT c.path, min(c.file_id) AS file_id
                       FROM candidates c GROUP BY c.path) AS p
                 ON p.path = t.target;
    END IF;
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
        WITH wanted AS MATERIALIZED (
            SELECT w.target, w.file_id
              FROM @extschema@.dependency_targets(
                       repo.repository,
                       ARRAY(SELECT DISTINCT d.target
                               FROM @extschema@.dependencies d
                              WHERE d.repo_id = repo.repo_id),
                       routed) AS w
        ), done AS (
            UPDATE @extschema@.dependencies d
               SET target_file_id = w.file_id
              FROM wanted w
             WHERE d.repo_id = repo.repo_id
               AND d.target = w.target
               AND d.target_file_id IS DISTINCT FROM w.file_id
            RETURNING 1
        )
        SELECT count(*) INTO changed FROM done;
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
DROP INDEX @extschema@.dependencies_unresolved_target_idx;
CREATE INDEX dependencies_unresolved_target_idx
    ON @extschema@.dependencies (pg_catalog.hashtextextended(target, 0))
    WHERE target_file_id IS NULL;

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
