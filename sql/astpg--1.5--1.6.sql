/* astpg/sql/astpg--1.5--1.6.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.6'" to load this file. \quit

--
-- 1.6 begins: fresh installs from one script, astpg--1.6.sql; the library
-- serves one version.
--
-- A fresh CREATE EXTENSION astpg runs astpg--1.6.sql alone, not this
-- chain.  Whatever 1.6 changes is made twice, here for databases updated
-- from 1.5 and in astpg--1.6.sql for fresh installs, and sql/upgrade.sql
-- checks that both give the same definitions.
--

-- >>> questions: dead_code, package_coupling, churn, trend
--
-- Questions of one repository: dead code, package coupling, churn and
-- trend.  (This block is the same text in astpg--1.6.sql and
-- astpg--1.5--1.6.sql; docs/questions.md documents the four functions.)
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
        -- the method names those ancestors define or call on self, cls or this
        SELECT m.class_id, m.name
          FROM @extschema@.functions m
         WHERE m.repo_id = repo
           AND m.class_id IN (SELECT x.class_id FROM ancestry x)
        UNION
        SELECT m.class_id, pg_catalog.substr(k.callee, pg_catalog.strpos(k.callee, '.') + 1)
          FROM @extschema@.functions m
          JOIN @extschema@.calls k ON k.function_id = m.function_id AND k.repo_id = m.repo_id
         WHERE m.repo_id = repo AND k.repo_id = repo
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
             OR c.path ~ '(^|/)(test_[^/]*|[^/]*_tests?\.[^/]*|[^/]*\.(test|spec)\.[^/]*|tests?\.[^/]*|conftest\.py)$'
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
-- version) and the audit log's deletions.  At each point every path
-- counts with its last version stored before the point (as_of), a file
-- not changed for months at the version it last had, unless the path's
-- last event before the point is a deletion.
--   per 'month'     every month from the first event (or since) to the
--                   one until (default now()) falls in; as_of is the
--                   month's end, or until if earlier.
--   per 'revision'  every revision of a version stored in [since, until),
--                   at its first version, in that order; as_of is when
--                   the next revision's first version was stored, or
--                   until: a revision's deletions, made after its versions,
--                   count.
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
                  FROM (SELECT e.revision, pg_catalog.min(e.at) AS first_at
                          FROM events e
                         WHERE e.stored AND e.revision IS NOT NULL
                         GROUP BY e.revision) v) r
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
'a repository''s totals (files, classes, functions, complexity, loc) as they stood at each month''s end or each revision, from metric_history and deletions';

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
