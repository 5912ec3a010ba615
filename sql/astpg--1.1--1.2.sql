/* astpg/sql/astpg--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.2'" to load this file. \quit

--
-- 1.2: a trusted schema, and keys that hold the repository.
--
-- Every table gets repo_id, a fixed-size key derived from the repository's
-- name, and every primary key, unique key and foreign key includes it,
-- never as its first column.
-- A whole repository then lives together: on Citus (astpg.distribute()),
-- every ingest is a single-shard transaction, (repository, path) stays
-- unique and foreign keys hold; on one server nothing changes for users.
--
-- A fresh CREATE EXTENSION astpg runs 1.0, 1.1 and this script in turn, so
-- a fresh install and an updated one are the same by construction, and
-- this script must work on empty tables as well as on full ones.
--

--
-- The schema must be astpg's own.  The writing functions run with a
-- superuser's rights and use the objects in it: a schema that a role other
-- than a superuser owns (say one created before CREATE EXTENSION, which then
-- uses it), or that holds objects astpg did not create, would let its owner
-- put look-alikes in their place.
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
-- The key of a repository.
--
CREATE FUNCTION @extschema@.repo_id(repository text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'astpg_repo_id'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.repo_id(text) IS
'key of a repository: the first 8 bytes of the SHA-256 of its name; every table''s keys lead with it';

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
-- repo_id on every table, filled in from the files.
--
ALTER TABLE @extschema@.files ADD COLUMN repo_id bigint;
UPDATE @extschema@.files SET repo_id = @extschema@.repo_id(repository);
ALTER TABLE @extschema@.files
    ALTER COLUMN repo_id SET NOT NULL,
    ADD CONSTRAINT files_repo_id_check
        CHECK (repo_id = @extschema@.repo_id(repository));

ALTER TABLE @extschema@.classes ADD COLUMN repo_id bigint;
ALTER TABLE @extschema@.functions ADD COLUMN repo_id bigint;
ALTER TABLE @extschema@.calls ADD COLUMN repo_id bigint;
ALTER TABLE @extschema@.dependencies ADD COLUMN repo_id bigint;
ALTER TABLE @extschema@.metrics ADD COLUMN repo_id bigint;
UPDATE @extschema@.classes x SET repo_id = f.repo_id
  FROM @extschema@.files f WHERE f.file_id = x.file_id;
UPDATE @extschema@.functions x SET repo_id = f.repo_id
  FROM @extschema@.files f WHERE f.file_id = x.file_id;
UPDATE @extschema@.calls x SET repo_id = f.repo_id
  FROM @extschema@.files f WHERE f.file_id = x.file_id;
UPDATE @extschema@.dependencies x SET repo_id = f.repo_id
  FROM @extschema@.files f WHERE f.file_id = x.file_id;
UPDATE @extschema@.metrics x SET repo_id = f.repo_id
  FROM @extschema@.files f WHERE f.file_id = x.file_id;
ALTER TABLE @extschema@.classes ALTER COLUMN repo_id SET NOT NULL;
ALTER TABLE @extschema@.functions ALTER COLUMN repo_id SET NOT NULL;
ALTER TABLE @extschema@.calls ALTER COLUMN repo_id SET NOT NULL;
ALTER TABLE @extschema@.dependencies ALTER COLUMN repo_id SET NOT NULL;
ALTER TABLE @extschema@.metrics ALTER COLUMN repo_id SET NOT NULL;

-- the logs name their repository; a reject whose document names none (or
-- is not JSON) is kept under the empty name's key
ALTER TABLE @extschema@.ingests ADD COLUMN repo_id bigint;
UPDATE @extschema@.ingests SET repo_id = @extschema@.repo_id(repository);
ALTER TABLE @extschema@.ingests ALTER COLUMN repo_id SET NOT NULL;
ALTER TABLE @extschema@.rejects ADD COLUMN repo_id bigint;
UPDATE @extschema@.rejects
   SET repo_id = @extschema@.repo_id(COALESCE(repository, ''));
ALTER TABLE @extschema@.rejects ALTER COLUMN repo_id SET NOT NULL;

--
-- Keys rebuilt to include repo_id: foreign keys first, as they depend on
-- the primary keys they reference.
--
-- repo_id comes after the ids in every key, and in no other index.  astpg
-- keeps generic plans for the life of a session, often made while the
-- tables are empty, when every index that matches a lookup looks as cheap
-- as any other, even one it would have to read whole.  An index that led
-- with repo_id would match any lookup within a repository, and such a plan
-- walks the repository's whole index for each row: loading the 1,781 files
-- of a standard library took 27 times as long, the foreign-key checks of
-- calls reading 274 million index entries.  So every key leads with its
-- id, the indexes of 1.1 stay as they are (by id, hash or name), and the
-- statements astpg keeps plans for on one server look rows up by id or key
-- without naming repo_id (sql/plans.sql checks it).  Citus needs the
-- distribution column in every unique and foreign key, not first, and
-- plans each shard's statement anew with its values.  The unique key on
-- (repository, path) is created after the primary key, so that where both
-- could serve a foreign-key check, the primary key is tried first.
--
ALTER TABLE @extschema@.classes
    DROP CONSTRAINT classes_file_id_fkey,
    DROP CONSTRAINT classes_parent_id_fkey;
ALTER TABLE @extschema@.functions
    DROP CONSTRAINT functions_file_id_fkey,
    DROP CONSTRAINT functions_class_id_fkey;
ALTER TABLE @extschema@.calls
    DROP CONSTRAINT calls_function_id_fkey,
    DROP CONSTRAINT calls_file_id_fkey;
ALTER TABLE @extschema@.dependencies
    DROP CONSTRAINT dependencies_file_id_fkey,
    DROP CONSTRAINT dependencies_target_file_id_fkey;
ALTER TABLE @extschema@.metrics
    DROP CONSTRAINT metrics_file_id_fkey;

DROP INDEX @extschema@.files_repository_path_key;

ALTER TABLE @extschema@.files DROP CONSTRAINT files_pkey,
    ADD PRIMARY KEY (file_id, repo_id);
ALTER TABLE @extschema@.classes DROP CONSTRAINT classes_pkey,
    ADD PRIMARY KEY (class_id, repo_id);
ALTER TABLE @extschema@.functions DROP CONSTRAINT functions_pkey,
    ADD PRIMARY KEY (function_id, repo_id);
ALTER TABLE @extschema@.calls DROP CONSTRAINT calls_pkey,
    ADD PRIMARY KEY (function_id, repo_id, call_no);
ALTER TABLE @extschema@.dependencies DROP CONSTRAINT dependencies_pkey,
    ADD PRIMARY KEY (file_id, repo_id, dependency_no);
ALTER TABLE @extschema@.ingests DROP CONSTRAINT ingests_pkey,
    ADD PRIMARY KEY (ingest_id, repo_id);
ALTER TABLE @extschema@.rejects DROP CONSTRAINT rejects_pkey,
    ADD PRIMARY KEY (reject_id, repo_id);

-- (repository, path) is unique, through its fixed-size key
CREATE UNIQUE INDEX files_repository_path_key
    ON @extschema@.files (@extschema@.file_key(repository, path), repo_id);

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
-- No ON DELETE action for target_file_id: SET NULL would null repo_id too
-- (and Citus refuses it on a key that holds the distribution column), so
-- delete_file() clears the dependencies on a file before deleting it.
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
-- Functions that read or write by key, rewritten to lead with repo_id.
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
CREATE OR REPLACE FUNCTION @extschema@.document(file_id bigint)
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

-- Delete a file.  Its row is locked first, so that writers whose
-- foreign-key checks hold it finish; the dependencies that point at it are
-- cleared (no ON DELETE SET NULL, see above), then it goes with its rows.
DROP FUNCTION @extschema@.delete_file(text, text);
CREATE FUNCTION @extschema@.delete_file(repository text, path text)
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
    DELETE FROM @extschema@.files f
     WHERE f.repo_id = repo AND f.file_id = stored_id
    RETURNING f.revision, f.content_hash INTO stored_revision, stored_hash;
    INSERT INTO @extschema@.ingests (repo_id, repository, path, revision,
                                     content_hash, status, file_id, duration)
    VALUES (repo, delete_file.repository, delete_file.path, stored_revision,
            stored_hash, 'deleted', stored_id, interval '0');
    RETURN true;
END
$$;

COMMENT ON FUNCTION @extschema@.delete_file(text, text) IS
'delete a stored file and all its rows; false if it was not stored';

-- Resolve, one repository at a time (one shard at a time on Citus).
DROP FUNCTION @extschema@.resolve_dependencies(text);
CREATE FUNCTION @extschema@.resolve_dependencies(repository text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    repo     record;
    resolved bigint;
    total    bigint := 0;
BEGIN
    -- on Citus, the workers plan these statements with enable_seqscan off
    -- too (see src/routed_writer.c, AstpgRoutedSettings)
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        SET LOCAL citus.propagate_set_commands = 'local';
        SET LOCAL enable_seqscan = off;
    END IF;
    FOR repo IN
        SELECT DISTINCT f.repo_id, f.repository
          FROM @extschema@.files f
         WHERE resolve_dependencies.repository IS NULL
            OR f.repo_id = @extschema@.repo_id(resolve_dependencies.repository)
    LOOP
        WITH todo AS (
            SELECT d.file_id, d.dependency_no,
                   -- OFFSET 0: min() not as a walk in file_id order
                   COALESCE((SELECT min(m.file_id)
                               FROM (SELECT t.file_id FROM @extschema@.files t
                                      WHERE t.repo_id = repo.repo_id
                                        AND t.module = d.target
                                     OFFSET 0) AS m),
                            (SELECT t.file_id FROM @extschema@.files t
                              WHERE t.repo_id = repo.repo_id
                                AND @extschema@.file_key(t.repository, t.path)
                                    = @extschema@.file_key(repo.repository, d.target)
                                AND t.path = d.target)) AS target_file_id
              FROM @extschema@.dependencies d
             WHERE d.repo_id = repo.repo_id
               AND d.target_file_id IS NULL
        ), done AS (
            UPDATE @extschema@.dependencies d
               SET target_file_id = todo.target_file_id
              FROM todo
             WHERE d.repo_id = repo.repo_id
               AND d.file_id = todo.file_id
               AND d.dependency_no = todo.dependency_no
               AND todo.target_file_id IS NOT NULL
            RETURNING 1
        )
        SELECT count(*) INTO resolved FROM done;
        total := total + resolved;
    END LOOP;
    RETURN total;
END
$$;

COMMENT ON FUNCTION @extschema@.resolve_dependencies(text) IS
'resolve every stored dependency whose target file is stored now; returns how many were resolved';

--
-- Citus: distribute every table by repository.
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
                             'metrics', 'ingests', 'rejects']
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
-- Privileges: as before, nothing to PUBLIC.  distribute() is for the
-- superuser who installs astpg.
--
REVOKE ALL ON FUNCTION @extschema@.repo_id(text),
                       @extschema@.text_arrays(text[]),
                       @extschema@.document(bigint, bigint),
                       @extschema@.delete_file(text, text),
                       @extschema@.resolve_dependencies(text),
                       @extschema@.distribute(integer),
                       @extschema@.assign_id_ranges() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.repo_id(text) TO astpg_reader;
GRANT EXECUTE ON FUNCTION @extschema@.document(bigint, bigint) TO astpg_reader;
GRANT EXECUTE ON FUNCTION @extschema@.delete_file(text, text) TO astpg_writer;
GRANT EXECUTE ON FUNCTION @extschema@.resolve_dependencies(text) TO astpg_writer;
