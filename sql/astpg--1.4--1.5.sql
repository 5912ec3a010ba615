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
DROP INDEX @extschema@.files_repository_module_idx;
CREATE INDEX files_repository_module_idx
    ON @extschema@.files (((pg_catalog.hashtextextended(repository, 0) & (-4294967296)::bigint)
                           | (pg_catalog.hashtextextended(module, 0) & 4294967295::bigint)));

CREATE INDEX files_repository_path_idx
    ON @extschema@.files (((pg_catalog.hashtextextended(repository, 0) & (-4294967296)::bigint)
                           | (pg_catalog.hashtextextended(path, 0) & 4294967295::bigint)));

DROP INDEX @extschema@.dependencies_unresolved_target_idx;
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
