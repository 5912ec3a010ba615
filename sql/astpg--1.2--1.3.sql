/* astpg/sql/astpg--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.3'" to load this file. \quit

--
-- 1.3: answers.  Materialized views for dashboards and graphs, graph
-- functions over them, symbol search with pg_trgm, and each file's metrics
-- across revisions (metric_history).
--
-- The views are refreshed by astpg.refresh_analytics(), and every answer
-- built on them is as fresh as its last refresh (astpg.analytics_refreshes
-- tells when that was).  Their keys hold repo_id as the tables' keys do, so
-- that a view's rows of one repository live together.
--
-- A fresh CREATE EXTENSION astpg runs 1.0, 1.1, 1.2 and this script in
-- turn: it must work on empty tables as well as on full ones.
--

--
-- Indexes for lookups by name on the tables: exact names of functions,
-- and "who calls this name?".  The trigram indexes of find_symbol's prefix
-- and fuzzy matches are on the views (below), not on the tables: on the
-- tables they cost every ingest a fifth of its speed (measured: 1,781
-- documents of a standard library in 6.6 s with them, 5.5 s without).
--
--
-- A btree entry holds at most about 2700 bytes, and names, paths and callees
-- may be longer (1024 characters of 4 bytes each for a name; a callee is
-- the call's source text, of any length): an index on the whole value
-- would refuse valid documents.  So equality lookups of text go through
-- hash indexes, as in 1.0, and the one ordered index on a name holds its
-- first 256 characters.
--
CREATE INDEX functions_name_idx
    ON @extschema@.functions (pg_catalog.left(name, 256), function_id);
CREATE INDEX calls_callee_idx ON @extschema@.calls USING hash (callee);
CREATE INDEX classes_name_idx ON @extschema@.classes USING hash (name);
CREATE INDEX classes_qualified_name_idx ON @extschema@.classes USING hash (qualified_name);


--
-- Materialized views, in the order they are refreshed: each one reads only
-- the tables and the views before it.  Every view has a unique index
-- without a predicate, so that it can be refreshed CONCURRENTLY.
--

-- Resolved imports between two different files, one row per pair.
CREATE MATERIALIZED VIEW @extschema@.module_edges AS
SELECT d.repo_id,
       d.file_id AS source_file_id,
       d.target_file_id,
       count(*)::integer AS dependencies
  FROM @extschema@.dependencies d
 WHERE d.target_file_id IS NOT NULL
   AND d.target_file_id <> d.file_id
 GROUP BY d.repo_id, d.file_id, d.target_file_id;

CREATE UNIQUE INDEX module_edges_key
    ON @extschema@.module_edges (source_file_id, target_file_id, repo_id);
CREATE INDEX module_edges_target_idx ON @extschema@.module_edges (target_file_id);
CREATE INDEX module_edges_repo_id_idx ON @extschema@.module_edges (repo_id);

COMMENT ON MATERIALIZED VIEW @extschema@.module_edges IS
'resolved imports between files: source imports target, through "dependencies" rows';

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
-- Base classes resolved within the repository.  A base named in the source
-- resolves, in this order, to
--   1. the class of the same file with that qualified name or name;
--   2. for "module.Class", the class of the file whose module is "module";
--   3. the class of the repository whose name is the base's last part;
-- and only where that step finds exactly one class.  The ancestors are
-- walked over resolved bases (a cycle of bases stops the walk), nearest
-- first: ancestor_distances gives each one's distance.
--
CREATE MATERIALIZED VIEW @extschema@.class_hierarchy AS
WITH bases AS (
    SELECT c.repo_id, c.class_id, c.file_id, b.base, b.ord,
           pg_catalog.split_part(b.base, '.', -1) AS base_name,
           CASE WHEN pg_catalog.strpos(b.base, '.') > 0
                THEN pg_catalog.left(b.base, pg_catalog.length(b.base)
                                     - pg_catalog.length(pg_catalog.split_part(b.base, '.', -1)) - 1)
           END AS base_module
      FROM @extschema@.classes c,
           pg_catalog.unnest(c.bases) WITH ORDINALITY AS b(base, ord)
), candidates AS (
    -- each step: how many classes it finds for a base, and the first
    SELECT b.repo_id, b.class_id, b.ord, 1 AS step,
           pg_catalog.count(DISTINCT t.class_id) AS found,
           pg_catalog.min(t.class_id) AS base_id
      FROM bases b
      JOIN @extschema@.classes t
        ON t.file_id = b.file_id AND t.repo_id = b.repo_id
       AND (t.qualified_name = b.base OR t.name = b.base)
     GROUP BY b.repo_id, b.class_id, b.ord
    UNION ALL
    SELECT b.repo_id, b.class_id, b.ord, 2,
           pg_catalog.count(DISTINCT t.class_id), pg_catalog.min(t.class_id)
      FROM bases b
      JOIN @extschema@.files m ON m.repo_id = b.repo_id AND m.module = b.base_module
      JOIN @extschema@.classes t
        ON t.file_id = m.file_id AND t.repo_id = m.repo_id
       AND t.qualified_name = b.base_name
     GROUP BY b.repo_id, b.class_id, b.ord
    UNION ALL
    SELECT b.repo_id, b.class_id, b.ord, 3, t.found, t.base_id
      FROM bases b
      JOIN (SELECT x.repo_id, x.name, pg_catalog.count(*) AS found,
                   pg_catalog.min(x.class_id) AS base_id
              FROM @extschema@.classes x
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
       COALESCE(r.base_class_ids, '{}') AS base_class_ids,
       COALESCE(a.depth, 0) AS depth,
       COALESCE(d.descendants, 0) AS descendants,
       COALESCE(a.ancestor_ids, '{}') AS ancestor_ids,
       COALESCE(a.ancestor_distances, '{}') AS ancestor_distances,
       c.name, c.line_start
  FROM @extschema@.classes c
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

CREATE UNIQUE INDEX class_hierarchy_key ON @extschema@.class_hierarchy (class_id, repo_id);

COMMENT ON MATERIALIZED VIEW @extschema@.class_hierarchy IS
'each class with its resolved base classes, depth of inheritance and number of descendants';

--
-- Calls resolved to the function they call, where that function is
-- unambiguous:
--   a bare name f(): the one function named f outside classes in the
--     caller's file; failing any, the one such function of the file that
--     the caller's file imports the name f from ("from m import f");
--   self.m(), this.m(), cls.m(): the method m of the caller's class, or of
--     its nearest resolved ancestor that has one (one at that distance);
--   p.f(): the one function f outside classes in the file that the
--     caller's file imports as module p ("import p", or "from q import p"
--     where q.p is a stored module).
-- A call that none of these resolves to exactly one function stays out
-- (repository_summary counts it as unresolved).
--
CREATE MATERIALIZED VIEW @extschema@.call_graph AS
WITH module_level AS MATERIALIZED (
    -- file_id alone is a key: ids are unique across repositories
    SELECT f.file_id, f.name,
           pg_catalog.min(f.function_id) AS function_id,
           pg_catalog.count(*) AS found
      FROM @extschema@.functions f
     WHERE f.class_id IS NULL
     GROUP BY f.file_id, f.name
), methods AS MATERIALIZED (
    SELECT f.class_id, f.name,
           pg_catalog.min(f.function_id) AS function_id,
           pg_catalog.min(f.file_id) AS file_id,
           pg_catalog.count(*) AS found
      FROM @extschema@.functions f
     WHERE f.class_id IS NOT NULL
     GROUP BY f.class_id, f.name
), imported_names AS MATERIALIZED (
    SELECT d.file_id, n.name,
           pg_catalog.min(d.target_file_id) AS target_file_id,
           pg_catalog.count(DISTINCT d.target_file_id) AS found
      FROM @extschema@.dependencies d,
           pg_catalog.unnest(d.names) AS n(name)
     WHERE d.target_file_id IS NOT NULL
     GROUP BY d.file_id, n.name
), imported_modules AS MATERIALIZED (
    SELECT i.file_id, i.prefix,
           pg_catalog.min(i.target_file_id) AS target_file_id,
           pg_catalog.count(DISTINCT i.target_file_id) AS found
      FROM (SELECT d.file_id, d.target AS prefix, d.target_file_id
              FROM @extschema@.dependencies d
             WHERE d.target_file_id IS NOT NULL
            UNION ALL
            SELECT d.file_id, n.name, m.file_id
              FROM @extschema@.dependencies d
             CROSS JOIN LATERAL pg_catalog.unnest(d.names) AS n(name)
              JOIN @extschema@.files m
                ON m.repo_id = d.repo_id AND m.module = d.target || '.' || n.name) i
     GROUP BY i.file_id, i.prefix
), bare AS MATERIALIZED (
    SELECT c.repo_id, c.function_id AS caller_id, c.file_id, c.callee,
           l.function_id AS local_id, l.found AS local_found
      FROM @extschema@.calls c
      LEFT JOIN module_level l ON l.file_id = c.file_id AND l.name = c.callee
     WHERE pg_catalog.strpos(c.callee, '.') = 0
), dotted AS MATERIALIZED (
    SELECT c.repo_id, c.function_id AS caller_id, c.call_no, c.file_id,
           pg_catalog.left(c.callee, pg_catalog.length(c.callee)
                           - pg_catalog.length(pg_catalog.split_part(c.callee, '.', -1)) - 1)
               AS prefix,
           pg_catalog.split_part(c.callee, '.', -1) AS name
      FROM @extschema@.calls c
     WHERE pg_catalog.strpos(c.callee, '.') > 0
), bare_imported AS MATERIALIZED (
    SELECT b.repo_id, b.caller_id, b.file_id, b.callee AS name, i.target_file_id
      FROM bare b
      JOIN imported_names i ON i.file_id = b.file_id AND i.name = b.callee
     WHERE b.local_found IS NULL AND i.found = 1
), dotted_imported AS MATERIALIZED (
    SELECT d.repo_id, d.caller_id, d.file_id, d.name, i.target_file_id
      FROM dotted d
      JOIN imported_modules i ON i.file_id = d.file_id AND i.prefix = d.prefix
     WHERE d.prefix NOT IN ('self', 'this', 'cls') AND i.found = 1
), self_calls AS MATERIALIZED (
    SELECT d.repo_id, d.caller_id, d.call_no, d.file_id, d.name, caller.class_id
      FROM dotted d
      JOIN @extschema@.functions caller ON caller.function_id = d.caller_id
     WHERE d.prefix IN ('self', 'this', 'cls') AND caller.class_id IS NOT NULL
), scopes AS MATERIALIZED (
    -- a class and its resolved ancestors, with their distance from it
    SELECT c.class_id, c.class_id AS owner_id, 0 AS distance
      FROM @extschema@.classes c
    UNION ALL
    SELECT h.class_id, a.owner_id, a.distance
      FROM @extschema@.class_hierarchy h,
           ROWS FROM (pg_catalog.unnest(h.ancestor_ids),
                      pg_catalog.unnest(h.ancestor_distances)) AS a(owner_id, distance)
), self_scopes AS MATERIALIZED (
    -- each self call with the classes it may reach, before their methods:
    -- joined the other way round, a test suite's classes times the
    -- methods of unittest.TestCase make a hundred million rows
    SELECT s.repo_id, s.caller_id, s.call_no, s.file_id, s.name, sc.owner_id, sc.distance
      FROM self_calls s
      JOIN scopes sc ON sc.class_id = s.class_id
), self_candidates AS (
    SELECT s.repo_id, s.caller_id, s.call_no, s.file_id,
           pg_catalog.array_agg(m.function_id ORDER BY s.distance, m.function_id) AS ids,
           pg_catalog.array_agg(m.file_id ORDER BY s.distance, m.function_id) AS file_ids,
           pg_catalog.array_agg(s.distance ORDER BY s.distance, m.function_id) AS distances,
           pg_catalog.array_agg(m.found ORDER BY s.distance, m.function_id) AS found
      FROM self_scopes s
      JOIN methods m ON m.class_id = s.owner_id AND m.name = s.name
     GROUP BY s.repo_id, s.caller_id, s.call_no, s.file_id
), resolved AS (
    -- a bare name, in the caller's file
    SELECT b.repo_id, b.caller_id, b.local_id AS callee_id,
           b.file_id AS caller_file_id, b.file_id AS callee_file_id
      FROM bare b
     WHERE b.local_found = 1
    UNION ALL
    -- a bare name, imported from a resolved file
    SELECT b.repo_id, b.caller_id, t.function_id, b.file_id, t.file_id
      FROM bare_imported b
      JOIN module_level t ON t.file_id = b.target_file_id AND t.name = b.name
     WHERE t.found = 1
    UNION ALL
    -- a method of the caller's class or of its nearest ancestor having it
    SELECT s.repo_id, s.caller_id, s.ids[1], s.file_id, s.file_ids[1]
      FROM self_candidates s
     WHERE s.found[1] = 1
       AND (pg_catalog.cardinality(s.distances) = 1 OR s.distances[2] > s.distances[1])
    UNION ALL
    -- a function of an imported module
    SELECT d.repo_id, d.caller_id, t.function_id, d.file_id, t.file_id
      FROM dotted_imported d
      JOIN module_level t ON t.file_id = d.target_file_id AND t.name = d.name
     WHERE t.found = 1
)
SELECT r.repo_id, r.caller_id, r.callee_id, r.caller_file_id, r.callee_file_id,
       pg_catalog.count(*)::integer AS calls
  FROM resolved r
 GROUP BY r.repo_id, r.caller_id, r.callee_id, r.caller_file_id, r.callee_file_id;

CREATE UNIQUE INDEX call_graph_key ON @extschema@.call_graph (caller_id, callee_id, repo_id);
CREATE INDEX call_graph_callee_idx ON @extschema@.call_graph (callee_id);

COMMENT ON MATERIALIZED VIEW @extschema@.call_graph IS
'calls resolved to the one function they call: caller -> callee, with the number of calls';

-- One row per file: its size, complexity and place in the import graph.
CREATE MATERIALIZED VIEW @extschema@.file_summary AS
SELECT f.file_id, f.repo_id, f.repository, f.path, f.module, f.language,
       COALESCE(c.classes, 0) AS classes,
       COALESCE(fn.functions, 0) AS functions,
       fn.max_complexity,
       fn.avg_complexity,
       COALESCE(fi.fan_in, 0) AS fan_in,
       COALESCE(fo.fan_out, 0) AS fan_out,
       m.loc
  FROM @extschema@.files f
  LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.count(*)::integer AS classes
               FROM @extschema@.classes x GROUP BY x.repo_id, x.file_id) c
    ON c.file_id = f.file_id AND c.repo_id = f.repo_id
  LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.count(*)::integer AS functions,
                    pg_catalog.max(x.complexity) AS max_complexity,
                    pg_catalog.round(pg_catalog.avg(x.complexity), 2) AS avg_complexity
               FROM @extschema@.functions x GROUP BY x.repo_id, x.file_id) fn
    ON fn.file_id = f.file_id AND fn.repo_id = f.repo_id
  LEFT JOIN (SELECT e.repo_id, e.target_file_id AS file_id, pg_catalog.count(*)::integer AS fan_in
               FROM @extschema@.module_edges e GROUP BY e.repo_id, e.target_file_id) fi
    ON fi.file_id = f.file_id AND fi.repo_id = f.repo_id
  LEFT JOIN (SELECT e.repo_id, e.source_file_id AS file_id, pg_catalog.count(*)::integer AS fan_out
               FROM @extschema@.module_edges e GROUP BY e.repo_id, e.source_file_id) fo
    ON fo.file_id = f.file_id AND fo.repo_id = f.repo_id
  LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.max(x.value) AS loc
               FROM @extschema@.metrics x WHERE x.name = 'loc'
              GROUP BY x.repo_id, x.file_id) m
    ON m.file_id = f.file_id AND m.repo_id = f.repo_id;

CREATE UNIQUE INDEX file_summary_key ON @extschema@.file_summary (file_id, repo_id);
CREATE INDEX file_summary_path_idx ON @extschema@.file_summary USING hash (path);
CREATE INDEX file_summary_fan_in_idx ON @extschema@.file_summary (repo_id, fan_in DESC);
CREATE INDEX file_summary_repository_idx ON @extschema@.file_summary USING hash (repository);

COMMENT ON MATERIALIZED VIEW @extschema@.file_summary IS
'one row per file: classes, functions, complexity, fan_in and fan_out in the import graph, loc';

-- One row per function: its complexity and callers, ranked in its repository.
CREATE MATERIALIZED VIEW @extschema@.function_hotspots AS
SELECT fn.function_id, fn.repo_id, fn.file_id, f.repository, f.path,
       fn.qualified_name, fn.name, fn.complexity,
       fn.line_end - fn.line_start + 1 AS length,
       COALESCE(k.callers, 0) AS resolved_callers,
       pg_catalog.rank() OVER (PARTITION BY fn.repo_id
                               ORDER BY fn.complexity DESC NULLS LAST,
                                        COALESCE(k.callers, 0) DESC)::integer AS rank,
       fn.line_start
  FROM @extschema@.functions fn
  JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
  LEFT JOIN (SELECT g.repo_id, g.callee_id, pg_catalog.count(*)::integer AS callers
               FROM @extschema@.call_graph g GROUP BY g.repo_id, g.callee_id) k
    ON k.callee_id = fn.function_id AND k.repo_id = fn.repo_id;

CREATE UNIQUE INDEX function_hotspots_key ON @extschema@.function_hotspots (function_id, repo_id);
CREATE INDEX function_hotspots_rank_idx ON @extschema@.function_hotspots (repo_id, rank);
CREATE INDEX function_hotspots_repository_idx
    ON @extschema@.function_hotspots USING hash (repository);

COMMENT ON MATERIALIZED VIEW @extschema@.function_hotspots IS
'one row per function: complexity, length, resolved callers and rank in its repository (1: most complex)';

-- One row per repository and language: the dashboard.
CREATE MATERIALIZED VIEW @extschema@.repository_summary AS
WITH per_file AS (
    SELECT s.file_id, s.repo_id, s.repository, s.language, s.classes, s.functions, s.loc,
           COALESCE(c.calls, 0) AS calls,
           COALESCE(r.resolved_calls, 0) AS resolved_calls,
           COALESCE(d.dependencies, 0) AS dependencies,
           COALESCE(d.resolved_dependencies, 0) AS resolved_dependencies
      FROM @extschema@.file_summary s
      LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.count(*) AS calls
                   FROM @extschema@.calls x GROUP BY x.repo_id, x.file_id) c
        ON c.file_id = s.file_id AND c.repo_id = s.repo_id
      LEFT JOIN (SELECT g.repo_id, g.caller_file_id AS file_id,
                        pg_catalog.sum(g.calls) AS resolved_calls
                   FROM @extschema@.call_graph g GROUP BY g.repo_id, g.caller_file_id) r
        ON r.file_id = s.file_id AND r.repo_id = s.repo_id
      LEFT JOIN (SELECT x.repo_id, x.file_id, pg_catalog.count(*) AS dependencies,
                        pg_catalog.count(x.target_file_id) AS resolved_dependencies
                   FROM @extschema@.dependencies x GROUP BY x.repo_id, x.file_id) d
        ON d.file_id = s.file_id AND d.repo_id = s.repo_id
), complexity AS (
    SELECT f.repo_id, f.language,
           pg_catalog.round(pg_catalog.avg(fn.complexity), 2) AS avg_complexity,
           pg_catalog.percentile_disc(0.9) WITHIN GROUP (ORDER BY fn.complexity)
               AS p90_complexity
      FROM @extschema@.functions fn
      JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
     GROUP BY f.repo_id, f.language
)
SELECT p.repository, p.repo_id, p.language,
       pg_catalog.count(*) AS files,
       pg_catalog.sum(p.classes)::bigint AS classes,
       pg_catalog.sum(p.functions)::bigint AS functions,
       pg_catalog.sum(p.calls)::bigint AS calls,
       pg_catalog.sum(p.resolved_calls)::bigint AS resolved_calls,
       (pg_catalog.sum(p.calls) - pg_catalog.sum(p.resolved_calls))::bigint AS unresolved_calls,
       pg_catalog.sum(p.dependencies)::bigint AS dependencies,
       pg_catalog.sum(p.resolved_dependencies)::bigint AS resolved_dependencies,
       pg_catalog.sum(p.loc)::bigint AS lines,
       x.avg_complexity,
       x.p90_complexity
  FROM per_file p
  LEFT JOIN complexity x ON x.repo_id = p.repo_id AND x.language = p.language
 GROUP BY p.repository, p.repo_id, p.language, x.avg_complexity, x.p90_complexity;

CREATE UNIQUE INDEX repository_summary_key
    ON @extschema@.repository_summary (repo_id, language);

COMMENT ON MATERIALIZED VIEW @extschema@.repository_summary IS
'one row per repository and language: files, classes, functions, calls (resolved or not), dependencies, lines, complexity';

--
-- When each view was last refreshed, and how long that took.  Not kept by
-- pg_dump: a restored database's views are empty until refreshed, and this
-- table says so by being empty too.
--
CREATE TABLE @extschema@.analytics_refreshes (
    view_name    text PRIMARY KEY,
    refreshed_at timestamptz NOT NULL,
    duration     interval NOT NULL,
    concurrent   boolean NOT NULL,
    row_count    bigint NOT NULL
);

COMMENT ON TABLE @extschema@.analytics_refreshes IS
'the last refresh of each materialized view: when, how long, how, and its rows';

CREATE FUNCTION @extschema@.refresh_analytics(concurrently boolean DEFAULT true)
RETURNS SETOF @extschema@.analytics_refreshes
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The views read whole tables, joined on several keys through CTEs whose
-- sizes the planner cannot know: it picks nested loops that turn a second
-- into minutes (measured on a standard library: call_graph 56 s against
-- 0.13 s), and JIT compilation costs more than it saves.  (Merge joins
-- stay: CONCURRENTLY compares old and new rows with a full join that only
-- a merge join can do.)
SET enable_nestloop = off
SET jit = off
SET work_mem = '64MB'
AS $$
DECLARE
    matview   text;
    started   timestamptz;
    rows_now  bigint;
    refreshed @extschema@.analytics_refreshes;
BEGIN
    -- dependency order: each view reads only those before it
    FOREACH matview IN ARRAY ARRAY['module_edges', 'class_hierarchy', 'call_graph',
                                     'file_summary', 'function_hotspots',
                                     'repository_summary', 'symbols']
    LOOP
        started := pg_catalog.clock_timestamp();
        EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW %s @extschema@.%I',
                                  CASE WHEN COALESCE(refresh_analytics.concurrently, true)
                                       THEN 'CONCURRENTLY' ELSE '' END,
                                  matview);
        EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM @extschema@.%I', matview)
            INTO rows_now;
        INSERT INTO @extschema@.analytics_refreshes AS r
               (view_name, refreshed_at, duration, concurrent, row_count)
        VALUES (matview, started, pg_catalog.clock_timestamp() - started,
                COALESCE(refresh_analytics.concurrently, true), rows_now)
        ON CONFLICT ON CONSTRAINT analytics_refreshes_pkey DO UPDATE
           SET refreshed_at = EXCLUDED.refreshed_at, duration = EXCLUDED.duration,
               concurrent = EXCLUDED.concurrent, row_count = EXCLUDED.row_count
        RETURNING r.* INTO refreshed;
        RETURN NEXT refreshed;
    END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.refresh_analytics(boolean) IS
'refresh every materialized view of astpg in dependency order; records each in analytics_refreshes';

--
-- Walks over the import graph and the call graph, breadth first: each node
-- once, at its shortest distance, up to max_depth.  One query per level,
-- through the views' indexes; the nodes already seen are subtracted
-- set-wise, so cycles cost nothing.
--
-- The starting file or function is the first argument, unnamed: the result
-- has a column file_id (function_id), and PostgreSQL does not let a
-- parameter and a result column share a name.
--
CREATE FUNCTION @extschema@.graph_walk(start bigint, max_depth integer, direction text)
RETURNS TABLE (node_id bigint, depth integer)
LANGUAGE plpgsql STABLE STRICT ROWS 100
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seen     bigint[] := ARRAY[start];
    frontier bigint[] := ARRAY[start];
    level    integer := 0;
BEGIN
    IF direction NOT IN ('imports', 'imported by', 'calls', 'called by') THEN
        RAISE EXCEPTION 'direction must be "imports", "imported by", "calls" or "called by"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WHILE level < max_depth AND pg_catalog.cardinality(frontier) > 0 LOOP
        CASE direction
            WHEN 'imports' THEN
                frontier := ARRAY(SELECT e.target_file_id FROM @extschema@.module_edges e
                                   WHERE e.source_file_id = ANY (frontier)
                                  EXCEPT SELECT pg_catalog.unnest(seen));
            WHEN 'imported by' THEN
                frontier := ARRAY(SELECT e.source_file_id FROM @extschema@.module_edges e
                                   WHERE e.target_file_id = ANY (frontier)
                                  EXCEPT SELECT pg_catalog.unnest(seen));
            WHEN 'calls' THEN
                frontier := ARRAY(SELECT g.callee_id FROM @extschema@.call_graph g
                                   WHERE g.caller_id = ANY (frontier)
                                  EXCEPT SELECT pg_catalog.unnest(seen));
            ELSE
                frontier := ARRAY(SELECT g.caller_id FROM @extschema@.call_graph g
                                   WHERE g.callee_id = ANY (frontier)
                                  EXCEPT SELECT pg_catalog.unnest(seen));
        END CASE;
        level := level + 1;
        seen := seen || frontier;
        RETURN QUERY SELECT pg_catalog.unnest(frontier), level;
    END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.graph_walk(bigint, integer, text) IS
'breadth-first walk of module_edges or call_graph from a file or function: each node once, at its shortest depth';

CREATE FUNCTION @extschema@.dependencies_of(bigint, max_depth integer DEFAULT 10)
RETURNS TABLE (file_id bigint, path text, depth integer)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
SELECT f.file_id, f.path, w.depth
  FROM @extschema@.graph_walk($1, $2, 'imports') w
  JOIN @extschema@.files f ON f.file_id = w.node_id
 ORDER BY w.depth, f.path
$$;

COMMENT ON FUNCTION @extschema@.dependencies_of(bigint, integer) IS
'the files a file imports, directly or not: each once, at its shortest depth (reads module_edges)';

CREATE FUNCTION @extschema@.dependents_of(bigint, max_depth integer DEFAULT 10)
RETURNS TABLE (file_id bigint, path text, depth integer)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
SELECT f.file_id, f.path, w.depth
  FROM @extschema@.graph_walk($1, $2, 'imported by') w
  JOIN @extschema@.files f ON f.file_id = w.node_id
 ORDER BY w.depth, f.path
$$;

COMMENT ON FUNCTION @extschema@.dependents_of(bigint, integer) IS
'the files that import a file, directly or not: what a change to it may break (reads module_edges)';

CREATE FUNCTION @extschema@.callers(bigint, max_depth integer DEFAULT 1)
RETURNS TABLE (function_id bigint, qualified_name text, path text, depth integer)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
SELECT fn.function_id, fn.qualified_name, f.path, w.depth
  FROM @extschema@.graph_walk($1, $2, 'called by') w
  JOIN @extschema@.functions fn ON fn.function_id = w.node_id
  JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
 ORDER BY w.depth, f.path, fn.line_start
$$;

COMMENT ON FUNCTION @extschema@.callers(bigint, integer) IS
'the functions that call a function, directly or not, each at its shortest depth (reads call_graph)';

CREATE FUNCTION @extschema@.callees(bigint, max_depth integer DEFAULT 1)
RETURNS TABLE (function_id bigint, qualified_name text, path text, depth integer)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
SELECT fn.function_id, fn.qualified_name, f.path, w.depth
  FROM @extschema@.graph_walk($1, $2, 'calls') w
  JOIN @extschema@.functions fn ON fn.function_id = w.node_id
  JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
 ORDER BY w.depth, f.path, fn.line_start
$$;

COMMENT ON FUNCTION @extschema@.callees(bigint, integer) IS
'the functions a function calls, directly or not, each at its shortest depth (reads call_graph)';

-- Strongly connected components of a repository's import graph (C).
CREATE FUNCTION @extschema@.import_cycles(repository text,
    OUT component integer, OUT size integer, OUT file_ids bigint[],
    OUT paths text[], OUT cycle text[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'astpg_import_cycles'
LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION @extschema@.import_cycles(text) IS
'import cycles: each strongly connected component of 2 or more files, with one shortest cycle through it (reads module_edges)';

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
-- Metrics across revisions: every ingest that stores a new version of a
-- file (inserted or replaced) appends a row, written by the ingest itself
-- in its transaction.  Partitioned by month of ingested_at: maintain()
-- creates the months ahead and drops those past the retention; the DEFAULT
-- partition takes what no month holds yet, so an ingest never fails.
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

-- Indexes go on each partition, not on the parent: pg_dump writes the
-- monthly partitions (not members of the extension) with their indexes,
-- and a parent's index, created anew by CREATE EXTENSION on restore, would
-- make ATTACH PARTITION create those indexes first, and the restore fail.
CREATE INDEX metric_history_default_path_idx
    ON @extschema@.metric_history_default USING hash (path);
CREATE INDEX metric_history_default_repo_id_idx
    ON @extschema@.metric_history_default (repo_id, ingested_at);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.metric_history_default', '');

COMMENT ON TABLE @extschema@.metric_history IS
'each stored version of each file: its metrics, functions, classes and complexity, by ingest time (partitioned by month)';

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
        RETURN NEXT;
    END LOOP;

    IF retention IS NULL THEN
        RETURN;
    END IF;
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
        RETURN NEXT;
    END LOOP;
    DELETE FROM @extschema@.metric_history_default h WHERE h.ingested_at < cutoff;
END
$$;

COMMENT ON FUNCTION @extschema@.maintain(interval) IS
'create metric_history''s partitions for this month and the next three; with a retention, drop the months older than it';

--
-- Every function, class and file by name, for find_symbol: a view of its
-- own, so that its trigram indexes change only when symbols do, not when
-- a hotspot's rank moves.  A file's name is its path, its qualified name
-- its module.  pg_trgm may live in any schema: its operator class is named
-- through the schema it was created in, found by OID.
--
CREATE MATERIALIZED VIEW @extschema@.symbols AS
SELECT 'function'::text AS kind, fn.function_id AS id, fn.repo_id, fn.name,
       fn.qualified_name, f.repository, f.path, fn.line_start AS line
  FROM @extschema@.functions fn
  JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
UNION ALL
SELECT 'class', c.class_id, c.repo_id, c.name, c.qualified_name, f.repository, f.path,
       c.line_start
  FROM @extschema@.classes c
  JOIN @extschema@.files f ON f.file_id = c.file_id AND f.repo_id = c.repo_id
UNION ALL
SELECT 'file', f.file_id, f.repo_id, f.path, COALESCE(f.module, f.path), f.repository, f.path, 1
  FROM @extschema@.files f;

CREATE UNIQUE INDEX symbols_key ON @extschema@.symbols (id, repo_id, kind);

COMMENT ON MATERIALIZED VIEW @extschema@.symbols IS
'every function, class and file by name and qualified name (a file: its path and module), for find_symbol';

DO $$
DECLARE
    trgm name;
BEGIN
    SELECT n.nspname INTO STRICT trgm
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    EXECUTE pg_catalog.format(
        'CREATE INDEX symbols_name_trgm_idx ON @extschema@.symbols'
        ' USING gin (name %1$I.gin_trgm_ops);'
        'CREATE INDEX symbols_qualified_name_trgm_idx ON @extschema@.symbols'
        ' USING gin (qualified_name %1$I.gin_trgm_ops)', trgm);
END
$$;

--
-- Symbol search: functions, classes and files whose name, qualified name,
-- path or module matches a pattern.  Exact matches first, then those that
-- begin with it, then similar ones (pg_trgm similarity, above its
-- threshold), each group by score.
--
-- Exact names are looked up in the tables, so they are current; prefixes
-- and similar names are searched in the symbols view, through its trigram
-- indexes, and each hit is checked against the tables, so that nothing
-- deleted since the last refresh comes back.  Defined through the schema
-- pg_trgm was created in, so that nothing else can stand in for its
-- operators.
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
-- ("__init__": 1 ms planned for it, 60 to 1,100 ms generic)
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
    wanted   text[] := COALESCE(kinds, ARRAY['function', 'class', 'file']);
    prefix   text;
    returned integer := 0;
    found    integer;
    tier     integer;
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
    prefix := pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                  pattern, '\', '\\'), '%%', '\%%'), '_', '\_') || '%%';

    -- exact: the name, the qualified name, the path or the module, from
    -- the tables.  A function's name has no dot and a method's qualified
    -- name has one: a common name ("__init__") stops after max_results
    -- entries of (left(name, 256), function_id); a qualified name is
    -- looked up in the view, whose hits are checked against the table.
    RETURN QUERY
    SELECT * FROM (
        SELECT 'function'::text, fn.function_id, fn.qualified_name, f.repository, f.path,
               fn.line_start, 1::real, 'exact'::text
          FROM (SELECT x.function_id, x.file_id, x.repo_id, x.qualified_name, x.line_start
                  FROM @extschema@.functions x
                 WHERE 'function' = ANY (wanted) AND pg_catalog.strpos(pattern, '.') = 0
                   AND pg_catalog.left(x.name, 256) = pg_catalog.left(pattern, 256)
                   AND x.name = pattern
                 ORDER BY pg_catalog.left(x.name, 256), x.function_id
                 LIMIT max_results) fn
          JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
        UNION ALL
        SELECT 'function', fn.function_id, fn.qualified_name, f.repository, f.path,
               fn.line_start, 1, 'exact'
          FROM (SELECT x.id, x.repo_id FROM @extschema@.symbols x
                 WHERE 'function' = ANY (wanted) AND pg_catalog.strpos(pattern, '.') > 0
                   AND x.qualified_name = pattern AND x.kind = 'function'
                 ORDER BY x.id
                 LIMIT max_results) s
          JOIN @extschema@.functions fn ON fn.function_id = s.id AND fn.repo_id = s.repo_id
          JOIN @extschema@.files f ON f.file_id = fn.file_id AND f.repo_id = fn.repo_id
         WHERE fn.qualified_name = pattern
        UNION ALL
        SELECT 'class', c.class_id, c.qualified_name, f.repository, f.path, c.line_start, 1, 'exact'
          FROM (SELECT x.class_id, x.file_id, x.repo_id, x.qualified_name, x.line_start
                  FROM @extschema@.classes x
                 WHERE 'class' = ANY (wanted)
                   AND (x.name = pattern OR x.qualified_name = pattern)
                 ORDER BY x.class_id
                 LIMIT max_results) c
          JOIN @extschema@.files f ON f.file_id = c.file_id AND f.repo_id = c.repo_id
        UNION ALL
        SELECT 'file', f.file_id, COALESCE(f.module, f.path), f.repository, f.path, 1, 1, 'exact'
          FROM @extschema@.files f
         WHERE 'file' = ANY (wanted)
           AND (f.path = pattern OR f.module = pattern)) x
     ORDER BY 3, 4, 5, 2
     LIMIT max_results;
    GET DIAGNOSTICS found = ROW_COUNT;
    returned := returned + found;
    IF returned >= max_results THEN
        RETURN;
    END IF;

    -- prefix: names that begin with the pattern, then fuzzy: similar names
    -- (pg_trgm.similarity_threshold); from the view, each hit checked
    -- against the tables.  Two statements, so that each plan uses the
    -- trigram indexes.
    FOR tier IN 1..2 LOOP
        IF tier = 1 THEN
        RETURN QUERY
        SELECT x.kind, x.id, x.qualified_name, x.repository, x.path, x.line, x.score,
               'prefix'::text
          FROM (SELECT s.kind, s.id, s.repo_id, s.qualified_name, s.repository, s.path, s.line,
                       GREATEST(%1$I.similarity(s.name, pattern),
                                %1$I.similarity(s.qualified_name, pattern)) AS score
                  FROM @extschema@.symbols s
                 WHERE s.kind = ANY (wanted)
                   AND s.name <> pattern AND s.qualified_name <> pattern
                   AND (s.name LIKE prefix OR s.qualified_name LIKE prefix)
                 ORDER BY 8 DESC, 4, 5, 6, 2
                 LIMIT max_results - returned) x
         WHERE CASE x.kind
               WHEN 'function' THEN EXISTS (SELECT FROM @extschema@.functions fn
                                             WHERE fn.function_id = x.id AND fn.repo_id = x.repo_id)
               WHEN 'class' THEN EXISTS (SELECT FROM @extschema@.classes c
                                          WHERE c.class_id = x.id AND c.repo_id = x.repo_id)
               ELSE EXISTS (SELECT FROM @extschema@.files f
                             WHERE f.file_id = x.id AND f.repo_id = x.repo_id) END
         ORDER BY 7 DESC, 3, 4, 5, 2;
        ELSE
        RETURN QUERY
        SELECT x.kind, x.id, x.qualified_name, x.repository, x.path, x.line, x.score,
               'fuzzy'::text
          FROM (SELECT s.kind, s.id, s.repo_id, s.qualified_name, s.repository, s.path, s.line,
                       GREATEST(%1$I.similarity(s.name, pattern),
                                %1$I.similarity(s.qualified_name, pattern)) AS score
                  FROM @extschema@.symbols s
                 WHERE s.kind = ANY (wanted)
                   AND s.name <> pattern AND s.qualified_name <> pattern
                   AND (s.name OPERATOR(%1$I.%%) pattern
                        OR s.qualified_name OPERATOR(%1$I.%%) pattern)
                   AND NOT (s.name LIKE prefix OR s.qualified_name LIKE prefix)
                 ORDER BY 8 DESC, 4, 5, 6, 2
                 LIMIT max_results - returned) x
         WHERE CASE x.kind
               WHEN 'function' THEN EXISTS (SELECT FROM @extschema@.functions fn
                                             WHERE fn.function_id = x.id AND fn.repo_id = x.repo_id)
               WHEN 'class' THEN EXISTS (SELECT FROM @extschema@.classes c
                                          WHERE c.class_id = x.id AND c.repo_id = x.repo_id)
               ELSE EXISTS (SELECT FROM @extschema@.files f
                             WHERE f.file_id = x.id AND f.repo_id = x.repo_id) END
         ORDER BY 7 DESC, 3, 4, 5, 2;
        END IF;
        GET DIAGNOSTICS found = ROW_COUNT;
        returned := returned + found;
        EXIT WHEN returned >= max_results;
    END LOOP;
END
$$;
$sql$, trgm);
END
$do$;

COMMENT ON FUNCTION @extschema@.find_symbol(text, text[], integer) IS
'functions, classes and files by name: exact matches, then prefix, then similar (pg_trgm), with a score';

--
-- Citus: metric_history is distributed with the other tables; the views
-- and analytics_refreshes stay on the coordinator.
--
CREATE OR REPLACE FUNCTION @extschema@.distribute(shard_count integer DEFAULT 32)
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
                             'metrics', 'ingests', 'rejects', 'metric_history']
    LOOP
        PERFORM create_distributed_table(pg_catalog.format('@extschema@.%I', t),
                                         'repo_id',
                                         colocate_with => '@extschema@.files');
    END LOOP;
    PERFORM @extschema@.assign_id_ranges();
END
$$;

--
-- Privileges: readers read the views, the history and the refresh log, and
-- run the read functions; writers also refresh the views and maintain the
-- history's partitions.  Nothing to PUBLIC.
--
REVOKE ALL ON FUNCTION @extschema@.refresh_analytics(boolean),
                       @extschema@.graph_walk(bigint, integer, text),
                       @extschema@.class_ancestors(bigint[], bigint[], bigint[]),
                       @extschema@.dependencies_of(bigint, integer),
                       @extschema@.dependents_of(bigint, integer),
                       @extschema@.callers(bigint, integer),
                       @extschema@.callees(bigint, integer),
                       @extschema@.import_cycles(text),
                       @extschema@.dependency_graph_dot(text, text),
                       @extschema@.maintain(interval),
                       @extschema@.find_symbol(text, text[], integer) FROM PUBLIC;
GRANT SELECT ON @extschema@.module_edges, @extschema@.class_hierarchy,
                @extschema@.call_graph, @extschema@.file_summary,
                @extschema@.function_hotspots, @extschema@.repository_summary,
                @extschema@.symbols, @extschema@.analytics_refreshes,
                @extschema@.metric_history, @extschema@.metric_history_default
   TO astpg_reader;
GRANT EXECUTE ON FUNCTION @extschema@.graph_walk(bigint, integer, text),
                          @extschema@.dependencies_of(bigint, integer),
                          @extschema@.dependents_of(bigint, integer),
                          @extschema@.callers(bigint, integer),
                          @extschema@.callees(bigint, integer),
                          @extschema@.import_cycles(text),
                          @extschema@.dependency_graph_dot(text, text),
                          @extschema@.find_symbol(text, text[], integer)
   TO astpg_reader;
GRANT EXECUTE ON FUNCTION @extschema@.refresh_analytics(boolean),
                          @extschema@.maintain(interval)
   TO astpg_writer;

--
-- Incremental sync (astpg-index): what a client needs to keep a repository
-- current in a few set-wise calls.  It hashes its files, asks which
-- (path, content_hash) pairs are stored, records the unchanged ones in one
-- call, sends only new and changed documents, and deletes what is no
-- longer in its tree.
--

-- The stored content_hash of every file of a repository: all a client
-- needs to tell new, changed and unchanged files apart without parsing.
CREATE FUNCTION @extschema@.stored_hashes(repository text)
RETURNS TABLE (path text, content_hash text)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT f.path, f.content_hash
  FROM @extschema@.files f
 WHERE f.repo_id = @extschema@.repo_id(stored_hashes.repository)
   AND f.repository = stored_hashes.repository
$$;

COMMENT ON FUNCTION @extschema@.stored_hashes(text) IS
'path and content_hash of every stored file of a repository';

--
-- Record files the client found unchanged, set-wise: what ingest does for
-- each document whose content_hash is the stored one (lock the file's
-- row, write only an 'unchanged' audit row), without the documents.
-- Rows are found by the unique key (file_key, repo_id) and locked in
-- file_id order, so that two callers with overlapping paths cannot
-- deadlock each other.  A concurrent writer of a path either commits
-- first, and the locked row then carries its hash ('changed' when it
-- differs), or waits for this transaction.  Returns each path given with
-- 'unchanged', or 'changed' when the client must send the document (not
-- stored, or stored with another hash).
--
CREATE FUNCTION @extschema@.record_unchanged(repository text, paths text[],
                                             content_hashes text[],
                                             revisions text[] DEFAULT NULL)
RETURNS TABLE (path text, status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    repo    bigint := @extschema@.repo_id(record_unchanged.repository);
    started timestamptz := pg_catalog.clock_timestamp();
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

    RETURN QUERY
    WITH given AS (
        SELECT g.path, g.content_hash, g.revision, g.ord
          FROM ROWS FROM (pg_catalog.unnest(paths), pg_catalog.unnest(content_hashes),
                          pg_catalog.unnest(revisions))
               WITH ORDINALITY AS g(path, content_hash, revision, ord)
    ), locked AS MATERIALIZED (
        -- EvalPlanQual rereads a row a concurrent writer changed: its
        -- content_hash is then the committed one
        SELECT f.file_id, f.path, f.content_hash
          FROM @extschema@.files f
         WHERE (@extschema@.file_key(f.repository, f.path), f.repo_id) IN
               (SELECT @extschema@.file_key(record_unchanged.repository, g.path), repo
                  FROM given g)
           AND f.repository = record_unchanged.repository
         ORDER BY f.file_id
           FOR NO KEY UPDATE OF f
    ), audit AS (
        -- the columns and values of ingest's audit row for an unchanged
        -- document (src/document_writer.c, insert_audit)
        INSERT INTO @extschema@.ingests (repository, path, revision, content_hash,
                                         status, file_id, classes, functions, calls,
                                         dependencies, metrics, duration, repo_id)
        SELECT record_unchanged.repository, g.path, g.revision, g.content_hash,
               'unchanged', l.file_id, 0, 0, 0, 0, 0,
               pg_catalog.clock_timestamp() - started, repo
          FROM given g
          JOIN locked l ON l.path = g.path AND l.content_hash = g.content_hash
         ORDER BY g.ord
        RETURNING path
    )
    -- the audit rows are exactly these pairs (a data-modifying CTE runs
    -- whether or not it is read): one join, not a search per path
    SELECT g.path,
           CASE WHEN l.file_id IS NOT NULL THEN 'unchanged' ELSE 'changed' END
      FROM given g
      LEFT JOIN locked l ON l.path = g.path AND l.content_hash = g.content_hash
     ORDER BY g.ord;
END
$$;

COMMENT ON FUNCTION @extschema@.record_unchanged(text, text[], text[], text[]) IS
'log the given files whose stored content_hash is the given one as unchanged, as ingest would; returns unchanged or changed for each path';

--
-- Delete a repository's stored files that are not among keep_paths (a
-- snapshot of the client's tree), each through delete_file(): its row
-- locked, the dependencies on it cleared, its 'deleted' audit row.
-- Deletes are few, and one behaviour for one file or many is worth a
-- statement per file.  A file a concurrent caller deleted first is not
-- returned.  Returns the paths deleted.
--
CREATE FUNCTION @extschema@.delete_files(repository text, keep_paths text[])
RETURNS TABLE (path text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    gone text;
BEGIN
    -- a NULL list would delete the whole repository: refuse it
    IF delete_files.repository IS NULL OR keep_paths IS NULL THEN
        RAISE EXCEPTION 'repository and keep_paths must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR gone IN
        SELECT f.path
          FROM @extschema@.files f
         WHERE f.repo_id = @extschema@.repo_id(delete_files.repository)
           AND f.repository = delete_files.repository
           AND NOT EXISTS (SELECT FROM pg_catalog.unnest(keep_paths) AS k(path)
                            WHERE k.path = f.path)
         ORDER BY f.path
    LOOP
        IF @extschema@.delete_file(delete_files.repository, gone) THEN
            path := gone;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.delete_files(text, text[]) IS
'delete the stored files of a repository whose path is not in keep_paths, as delete_file does; returns their paths';

REVOKE ALL ON FUNCTION @extschema@.stored_hashes(text),
                       @extschema@.record_unchanged(text, text[], text[], text[]),
                       @extschema@.delete_files(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.stored_hashes(text) TO astpg_reader;
GRANT EXECUTE ON FUNCTION @extschema@.record_unchanged(text, text[], text[], text[]),
                          @extschema@.delete_files(text, text[])
   TO astpg_writer;
