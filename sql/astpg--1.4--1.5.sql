/* astpg/sql/astpg--1.4--1.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.5'" to load this file. \quit

--
-- 1.5: writers that never hand a client a deadlock of astpg's making.
--
-- A fresh CREATE EXTENSION astpg runs 1.0 to 1.4 and this script in turn:
-- it must work on empty tables as well as on full ones.
--

--
-- Writers that deadlock try again, alone in their repository (issue 10,
-- defect 3; src/deadlocks.c says why this works).
--
-- Every write of a repository's files, by the writers in C and by
-- delete_file() and delete_files(), holds lock_repository(repo_id, false)
-- until its transaction ends: writers do not wait for each other on it.
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

CREATE OR REPLACE FUNCTION @extschema@.delete_file(repository text, path text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    deleted      boolean;
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
        BEGIN
            PERFORM @extschema@.lock_repository(@extschema@.repo_id(delete_file.repository),
                                                attempt > 1);
            deleted := @extschema@.delete_file_once(delete_file.repository, delete_file.path);
            EXIT;
        EXCEPTION
            WHEN deadlock_detected THEN
                IF NOT first_writer OR attempt >= 3 THEN
                    RAISE;
                END IF;
                attempt := attempt + 1;
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
                                    delete_file.path
                        USING ERRCODE = 'serialization_failure';
                END IF;
                RAISE;
        END;
    END LOOP;
    RETURN deleted;
END
$$;

-- The files are deleted in the order of their paths (bytes, as the
-- writers lock theirs), all in one attempt, which a deadlock undoes and
-- makes again alone, as delete_file() does.  The paths are returned once
-- all are deleted: rows returned by an attempt that is rolled back could
-- not be taken back.
CREATE OR REPLACE FUNCTION @extschema@.delete_files(repository text, keep_paths text[])
RETURNS TABLE (path text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
    gone         text;
    deleted      text[];
    attempt      integer := 1;
    first_writer boolean := pg_catalog.pg_current_xact_id_if_assigned() IS NULL;
BEGIN
    -- a NULL list would delete the whole repository: refuse it
    IF delete_files.repository IS NULL OR keep_paths IS NULL THEN
        RAISE EXCEPTION 'repository and keep_paths must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        SET LOCAL citus.propagate_set_commands = 'local';
        SET LOCAL enable_seqscan = off;
    END IF;
    LOOP
        deleted := '{}';
        BEGIN
            PERFORM @extschema@.lock_repository(@extschema@.repo_id(delete_files.repository),
                                                attempt > 1);
            FOR gone IN
                SELECT f.path
                  FROM @extschema@.files f
                 WHERE f.repo_id = @extschema@.repo_id(delete_files.repository)
                   AND f.repository = delete_files.repository
                   AND NOT EXISTS (SELECT FROM pg_catalog.unnest(keep_paths) AS k(path)
                                    WHERE k.path = f.path)
                 ORDER BY f.path COLLATE "C"
            LOOP
                IF @extschema@.delete_file_once(delete_files.repository, gone) THEN
                    deleted := deleted || gone;
                END IF;
            END LOOP;
            EXIT;
        EXCEPTION
            WHEN deadlock_detected THEN
                IF NOT first_writer OR attempt >= 3 THEN
                    RAISE;
                END IF;
                attempt := attempt + 1;
                PERFORM pg_catalog.pg_sleep(0.005 * attempt + 0.01 * pg_catalog.random());
            WHEN foreign_key_violation THEN
                -- as in delete_file()
                IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
                    RAISE EXCEPTION 'could not serialize access due to a concurrent dependency on file "%"',
                                    gone
                        USING ERRCODE = 'serialization_failure';
                END IF;
                RAISE;
        END;
    END LOOP;
    RETURN QUERY SELECT d.path FROM pg_catalog.unnest(deleted) WITH ORDINALITY AS d(path, n)
                  ORDER BY d.n;
END
$$;
