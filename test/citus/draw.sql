-- test/citus/draw.sql: the questions test/citus/run asks of both databases,
-- drawn from the one-server database after refresh_analytics(), written as
-- psql lines of pg_temp.ask() (test/citus/questions.sql) to stdout.
--
--   psql -At -v seed=N -f test/citus/draw.sql >questions-asked.sql
--
-- Draws are by md5(... || seed), so that a seed gives the same questions.
-- Each label starts with the question's name, by which test/citus/run
-- groups the answers into checks.  What is drawn:
--   files: per repository, one of each kind of place in the import graph
--     (imports others or not, imported or not);
--   functions: per repository, one of each kind (a method or not, in the
--     call graph or not);
--   names: per repository, a function's name, a method's qualified name, a
--     class's name, a file's path, a module, the first letters of a name
--     (prefix) and a name with a letter dropped (fuzzy); each either with
--     any kind and 5 results or with kinds and 50.
--
-- find_symbol cuts its exact tier at max_results by id, and ids come from
-- sequences in the order two loader jobs happened to store documents:
-- where more exact matches than max_results exist, two loads of the same
-- documents may return different ones.  So max_results is never below the
-- number of exact matches of functions or of classes.

\set QUIET on
CREATE TEMP TABLE lookups AS
SELECT 'file' AS what,
       'SELECT f.file_id, f.repo_id FROM astpg.files f WHERE f.repo_id = astpg.repo_id(%L)'
       ' AND f.repository = %L AND f.path = %L' AS lookup
UNION ALL
SELECT 'function',
       'SELECT fn.function_id, fn.repo_id FROM astpg.functions fn'
       ' JOIN astpg.files f ON f.repo_id = fn.repo_id AND f.file_id = fn.file_id'
       ' WHERE fn.repo_id = astpg.repo_id(%L) AND f.repository = %L AND f.path = %L'
       ' AND fn.qualified_name = %L AND fn.line_start = %s';

-- files
CREATE TEMP TABLE drawn_files AS
SELECT repository, path, fan_in > 0 AS imported, fan_out > 0 AS imports
  FROM (SELECT s.*, row_number() OVER (PARTITION BY s.repository, s.fan_in > 0, s.fan_out > 0
                                       ORDER BY md5(s.path || :'seed')) AS n
          FROM astpg.file_summary s) x
 WHERE n = 1;

SELECT format('SELECT pg_temp.ask(%L, %L, %L);',
              q.name || '(' || d.repository || ' ' || d.path || ', ' || q.depth || ')',
              format(l.lookup, d.repository, d.repository, d.path),
              format('SELECT string_agg(d.path || '' '' || d.depth, ''; '' ORDER BY d.n)'
                     '  FROM astpg.%s(%%1$s, %s) WITH ORDINALITY d(file_id, path, depth, n)',
                     q.name, q.depth))
  FROM drawn_files d, lookups l,
       (VALUES ('dependencies_of', 1), ('dependencies_of', 10),
               ('dependents_of', 1), ('dependents_of', 10)) q(name, depth)
 WHERE l.what = 'file'
 ORDER BY d.repository, d.path, q.name, q.depth;

-- a file's row of file_summary, as the documentation asks for it (by
-- repository and path), and within its repository's shard (by repo_id)
SELECT format('SELECT pg_temp.ask(%L, NULL, %L);',
              'file_summary(' || d.repository || ' ' || d.path || ')',
              format('SELECT string_agg(s::text, '','') FROM (SELECT repository, path, module,'
                     ' language, classes, functions, max_complexity, avg_complexity, fan_in,'
                     ' fan_out, loc FROM astpg.file_summary WHERE repository = %L AND path = %L) s',
                     d.repository, d.path))
       || E'\n'
       || format('SELECT pg_temp.ask(%L, NULL, %L);',
                 'file_summary(' || d.repository || ' ' || d.path || ', by repo_id)',
                 format('SELECT string_agg(s::text, '','') FROM (SELECT repository, path, module,'
                        ' language, classes, functions, max_complexity, avg_complexity, fan_in,'
                        ' fan_out, loc FROM astpg.file_summary WHERE repo_id = astpg.repo_id(%L)'
                        ' AND repository = %L AND path = %L) s',
                        d.repository, d.repository, d.path))
  FROM drawn_files d
 ORDER BY d.repository, d.path;

-- functions
CREATE TEMP TABLE drawn_functions AS
SELECT repository, path, qualified_name, line_start, method, called, calling
  FROM (SELECT x.*,
               row_number() OVER (PARTITION BY x.repository, x.method, x.called OR x.calling
                                  ORDER BY md5(x.path || x.qualified_name || x.line_start
                                               || :'seed')) AS n
          FROM (SELECT f.repository, f.path, fn.qualified_name, fn.line_start,
                       fn.class_id IS NOT NULL AS method,
                       EXISTS (SELECT FROM astpg.call_graph g
                                WHERE g.repo_id = fn.repo_id
                                  AND g.callee_id = fn.function_id) AS called,
                       EXISTS (SELECT FROM astpg.call_graph g
                                WHERE g.repo_id = fn.repo_id
                                  AND g.caller_id = fn.function_id) AS calling
                  FROM astpg.functions fn
                  JOIN astpg.files f ON f.repo_id = fn.repo_id AND f.file_id = fn.file_id) x) y
 WHERE n = 1;

SELECT format('SELECT pg_temp.ask(%L, %L, %L);',
              q.name || '(' || d.repository || ' ' || d.path || ' ' || d.qualified_name || ':'
                  || d.line_start || ', ' || q.depth || ')',
              format(l.lookup, d.repository, d.repository, d.path, d.qualified_name, d.line_start),
              format('SELECT string_agg(c.qualified_name || '' '' || c.path || '' '' || c.depth,'
                     ' ''; '' ORDER BY c.n)'
                     '  FROM astpg.%s(%%1$s, %s) WITH ORDINALITY c(function_id, qualified_name,'
                     ' path, depth, n)', q.name, q.depth))
  FROM drawn_functions d, lookups l,
       (VALUES ('callers', 1), ('callers', 3), ('callees', 1), ('callees', 3)) q(name, depth)
 WHERE l.what = 'function'
 ORDER BY d.repository, d.path, d.qualified_name, d.line_start, q.name, q.depth;

-- graph_walk in its four directions, from a file that imports and is
-- imported and a function that calls and is called (where there are)
SELECT format('SELECT pg_temp.ask(%L, %L, %L);',
              'graph_walk(' || d.repository || ' ' || d.path || ', 3, ' || q.direction || ')',
              format(l.lookup, d.repository, d.repository, d.path),
              format('SELECT pg_temp.file_names(%%2$s, array_agg(w.node_id), array_agg(w.depth))'
                     '  FROM astpg.graph_walk(%%1$s, 3, %L) w', q.direction))
  FROM (SELECT DISTINCT ON (repository) * FROM drawn_files
         ORDER BY repository, (imported AND imports) DESC, (imported OR imports) DESC, md5(path || :'seed')) d,
       lookups l, (VALUES ('imports'), ('imported by')) q(direction)
 WHERE l.what = 'file'
 ORDER BY d.repository, q.direction;
SELECT format('SELECT pg_temp.ask(%L, %L, %L);',
              'graph_walk(' || d.repository || ' ' || d.path || ' ' || d.qualified_name || ':'
                  || d.line_start || ', 3, ' || q.direction || ')',
              format(l.lookup, d.repository, d.repository, d.path, d.qualified_name, d.line_start),
              format('SELECT pg_temp.function_names(%%2$s, array_agg(w.node_id), array_agg(w.depth))'
                     '  FROM astpg.graph_walk(%%1$s, 3, %L) w', q.direction))
  FROM (SELECT DISTINCT ON (repository) * FROM drawn_functions
         ORDER BY repository, (called AND calling) DESC, (called OR calling) DESC,
                  md5(path || qualified_name || :'seed')) d,
       lookups l, (VALUES ('calls'), ('called by')) q(direction)
 WHERE l.what = 'function'
 ORDER BY d.repository, q.direction;

-- find_symbol: names of each kind, a prefix and a misspelling per
-- repository, each with the kinds and max_results given
CREATE TEMP TABLE patterns AS
WITH names AS (
    SELECT f.repository, 'function name' AS drawn, fn.name AS pattern
      FROM astpg.functions fn JOIN astpg.files f ON f.repo_id = fn.repo_id AND f.file_id = fn.file_id
     WHERE fn.class_id IS NULL
    UNION ALL
    SELECT f.repository, 'method', fn.qualified_name
      FROM astpg.functions fn JOIN astpg.files f ON f.repo_id = fn.repo_id AND f.file_id = fn.file_id
     WHERE fn.class_id IS NOT NULL
    UNION ALL
    SELECT f.repository, 'class name', c.name
      FROM astpg.classes c JOIN astpg.files f ON f.repo_id = c.repo_id AND f.file_id = c.file_id
    UNION ALL
    SELECT f.repository, 'path', f.path FROM astpg.files f
    UNION ALL
    SELECT f.repository, 'module', f.module FROM astpg.files f WHERE f.module IS NOT NULL
    UNION ALL
    SELECT f.repository, 'prefix', left(fn.name, 5)
      FROM astpg.functions fn JOIN astpg.files f ON f.repo_id = fn.repo_id AND f.file_id = fn.file_id
     WHERE length(fn.name) >= 9
    UNION ALL
    SELECT f.repository, 'misspelled', left(fn.name, length(fn.name) / 2)
                                        || substr(fn.name, length(fn.name) / 2 + 2)
      FROM astpg.functions fn JOIN astpg.files f ON f.repo_id = fn.repo_id AND f.file_id = fn.file_id
     WHERE length(fn.name) >= 8
)
SELECT DISTINCT ON (repository, drawn) repository, drawn, pattern
  FROM names
 ORDER BY repository, drawn, md5(pattern || :'seed');

SELECT format('SELECT pg_temp.ask(%L, NULL, %L);',
              'find_symbol(' || p.drawn || ' ' || p.pattern || ', '
                  || COALESCE(k.kinds::text, 'any') || ', ' || k.max_results || ')',
              format('SELECT string_agg(concat_ws('' '', s.kind, s.qualified_name, s.repository,'
                     ' s.path, s.line, s.score, s.matched), ''; '' ORDER BY s.n)'
                     '  FROM astpg.find_symbol(%L, %L, %s) WITH ORDINALITY'
                     ' s(kind, id, qualified_name, repository, path, line, score, matched, n)',
                     p.pattern, k.kinds, k.max_results))
  FROM patterns p
 CROSS JOIN LATERAL (
        -- the exact matches find_symbol cuts by id (see above)
        SELECT greatest((SELECT count(*) FROM astpg.functions fn WHERE fn.name = p.pattern),
                        (SELECT count(*) FROM astpg.classes c
                          WHERE c.name = p.pattern OR c.qualified_name = p.pattern)) AS exact) e
 CROSS JOIN LATERAL (
        VALUES (NULL::text[], greatest(5, e.exact)),
               (CASE p.drawn WHEN 'class name' THEN '{class}'::text[]
                             WHEN 'path' THEN '{file}' WHEN 'module' THEN '{file}'
                             ELSE '{function,class}' END, greatest(50, e.exact))) k(kinds, max_results)
 -- one of the two, drawn
 WHERE (k.kinds IS NULL) = (get_byte(decode(md5(p.pattern || :'seed'), 'hex'), 0) % 2 = 0)
 ORDER BY p.repository, p.drawn, k.kinds NULLS FIRST;

-- the whole-repository questions
SELECT format('SELECT pg_temp.ask(%L, NULL, %L);',
              'import_cycles(' || r.repository || ')',
              format('SELECT string_agg(c.component || '' '' || c.size || '' '' || c.paths::text'
                     ' || '' '' || c.cycle::text, ''; '' ORDER BY c.component)'
                     '  FROM astpg.import_cycles(%L) c', r.repository))
       || E'\n'
       || format('SELECT pg_temp.ask(%L, NULL, %L);',
                 'dependency_graph_dot(' || r.repository || ')',
                 format('SELECT replace(astpg.dependency_graph_dot(%L), E''\n'', '' '')',
                        r.repository))
       || E'\n'
       || format('SELECT pg_temp.ask(%L, NULL, %L);',
                 'dependency_graph_dot(' || r.repository || ', ' || r.prefix || ')',
                 format('SELECT replace(astpg.dependency_graph_dot(%L, %L), E''\n'', '' '')',
                        r.repository, r.prefix))
  FROM (SELECT f.repository,
               COALESCE(min(CASE WHEN strpos(f.path, '/') > 0
                                 THEN split_part(f.path, '/', 1) || '/' END),
                        left(min(f.path), 1)) AS prefix
          FROM astpg.files f GROUP BY f.repository) r
 ORDER BY r.repository;

-- errors: the same SQLSTATE and message
SELECT format('SELECT pg_temp.ask(%L, NULL, %L);', label, question)
  FROM (VALUES ('find_symbol(empty pattern)', 'SELECT count(*)::text FROM astpg.find_symbol('''')'),
               ('find_symbol(bad kinds)',
                'SELECT count(*)::text FROM astpg.find_symbol(''x'', ''{method}'')'),
               ('graph_walk(bad direction)',
                'SELECT count(*)::text FROM astpg.graph_walk(1, 1, ''sideways'')')) e(label, question);
