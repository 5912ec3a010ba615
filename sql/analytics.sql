--
-- analytics: the current answers (graph walks, import cycles, symbol
-- search, module_edges and file_summary) and the refreshed ones
-- (class_hierarchy, call_graph, function_hotspots, repository_summary) on
-- a small repository whose answers are worked out by hand (comments), then
-- on the real sample, against answers computed another way.
--
-- The fixture "fx":
--   imports   a -> b (names helper), a -> c, a -> os (not stored),
--             b -> c, c -> a, d -> a, e <-> f
--   cycles    {a, b, c} (shortest: a -> c -> a) and {e, f}
--   classes   a.Base; a.Child(Base); a.GrandChild(Child); c.Other(a.Base)
--   calls     a.main: helper() imported from b, local(), c.compute(),
--                     print() and missing() (unresolved)
--             a.local: local() (recursion)
--             Child.run: self.greet() (Base's, one level up)
--             GrandChild.go: self.greet() (two levels up), self.nothing()
--             b.helper: c.compute(); b.caller: dup() (two dup in b.py)
--             g.js: K.n: this.m()
--
CREATE TEMP TABLE fx (doc jsonb);
INSERT INTO fx VALUES
('{"repository": "fx", "path": "a.py", "module": "a", "language": "python",
   "metrics": {"loc": 40},
   "dependencies": [{"target": "b", "names": ["helper"]}, {"target": "c"}, {"target": "os"}],
   "classes": [{"name": "Base", "line_start": 20, "line_end": 22},
               {"name": "Child", "bases": ["Base"], "line_start": 23, "line_end": 26},
               {"name": "GrandChild", "bases": ["Child"], "line_start": 27, "line_end": 30}],
   "functions": [
     {"name": "main", "line_start": 1, "line_end": 10, "complexity": 4,
      "calls": [{"name": "helper"}, {"name": "local"}, {"name": "c.compute"},
                {"name": "print"}, {"name": "missing"}]},
     {"name": "local", "line_start": 11, "line_end": 19, "complexity": 1,
      "calls": [{"name": "local"}]},
     {"name": "greet", "class": "Base", "line_start": 21, "line_end": 22, "complexity": 1},
     {"name": "run", "class": "Child", "line_start": 24, "line_end": 26, "complexity": 1,
      "calls": [{"name": "self.greet"}]},
     {"name": "go", "class": "GrandChild", "line_start": 28, "line_end": 30, "complexity": 3,
      "calls": [{"name": "self.greet"}, {"name": "self.nothing"}]}]}'),
('{"repository": "fx", "path": "b.py", "module": "b", "language": "python",
   "metrics": {"loc": 12},
   "dependencies": [{"target": "c"}],
   "functions": [
     {"name": "helper", "line_start": 1, "line_end": 3, "complexity": 2,
      "calls": [{"name": "c.compute"}]},
     {"name": "dup", "line_start": 4, "line_end": 5, "complexity": 1},
     {"name": "dup", "line_start": 6, "line_end": 7, "complexity": 1},
     {"name": "caller", "line_start": 8, "line_end": 12, "complexity": 1,
      "calls": [{"name": "dup"}]}]}'),
('{"repository": "fx", "path": "c.py", "module": "c", "language": "python",
   "dependencies": [{"target": "a"}],
   "classes": [{"name": "Other", "bases": ["a.Base"], "line_start": 10, "line_end": 12}],
   "functions": [{"name": "compute", "line_start": 1, "line_end": 9, "complexity": 7}]}'),
('{"repository": "fx", "path": "d.py", "module": "d", "language": "python",
   "dependencies": [{"target": "a"}]}'),
('{"repository": "fx", "path": "e.py", "module": "e", "language": "python",
   "dependencies": [{"target": "f"}]}'),
('{"repository": "fx", "path": "f.py", "module": "f", "language": "python",
   "dependencies": [{"target": "e"}]}'),
('{"repository": "fx", "path": "g.js", "module": "g", "language": "javascript",
   "classes": [{"name": "K", "line_start": 1, "line_end": 9}],
   "functions": [{"name": "m", "class": "K", "line_start": 2, "line_end": 4, "complexity": 2},
                 {"name": "n", "class": "K", "line_start": 5, "line_end": 8, "complexity": 1,
                  "calls": [{"name": "this.m"}]}]}');
SELECT r.status, count(*) FROM fx, astpg.ingest(fx.doc) r GROUP BY 1;

-- the refreshed tables are empty until a refresh, and say so; what is
-- asked of a file is current already
SELECT count(*) AS summarized FROM astpg.file_summary WHERE repository = 'fx';
SELECT (SELECT count(*) FROM astpg.class_hierarchy) AS classes,
       (SELECT count(*) FROM astpg.call_graph) AS calls,
       (SELECT count(*) FROM astpg.function_hotspots) AS hotspots,
       (SELECT count(*) FROM astpg.repository_summary) AS summaries;
SELECT repository, refreshed_at IS NULL AS never, files_changed_since
  FROM astpg.analytics_staleness WHERE repository = 'fx';
SELECT repository, classes, calls, hotspots, last_ingest > 0 AS has_ingests
  FROM astpg.refresh_analytics(false) WHERE repository = 'fx';
SELECT repository, refreshed_at IS NOT NULL AS refreshed, files_changed_since
  FROM astpg.analytics_staleness WHERE repository = 'fx';

-- module_edges: 7 edges; file_summary: fan_in a {c,d}, b {a}, c {a,b};
-- fan_out a {b,c}; loc from the metric
SELECT s.path, t.path AS imports, e.dependencies
  FROM astpg.module_edges e
  JOIN astpg.files s ON s.file_id = e.source_file_id
  JOIN astpg.files t ON t.file_id = e.target_file_id
 WHERE s.repository = 'fx' ORDER BY 1, 2;
SELECT path, module, language, classes, functions, max_complexity, avg_complexity,
       fan_in, fan_out, loc
  FROM astpg.file_summary WHERE repository = 'fx' ORDER BY path;

-- class_hierarchy: Base has 3 descendants; GrandChild is 2 deep;
-- c.Other's "a.Base" resolves through module a
SELECT h.qualified_name, h.bases,
       ARRAY(SELECT c.qualified_name FROM astpg.classes c
              WHERE c.class_id = ANY (h.base_class_ids) ORDER BY 1) AS resolved_bases,
       h.depth, h.descendants
  FROM astpg.class_hierarchy h JOIN astpg.files f USING (file_id)
 WHERE f.repository = 'fx' ORDER BY 1;

-- call_graph: 8 edges, by each rule; print, missing, self.nothing and the
-- ambiguous dup stay out
SELECT a.qualified_name AS caller, b.qualified_name AS callee,
       fa.path AS caller_path, fb.path AS callee_path, g.calls
  FROM astpg.call_graph g
  JOIN astpg.functions a ON a.function_id = g.caller_id
  JOIN astpg.functions b ON b.function_id = g.callee_id
  JOIN astpg.files fa ON fa.file_id = g.caller_file_id
  JOIN astpg.files fb ON fb.file_id = g.callee_file_id
 WHERE fa.repository = 'fx' ORDER BY 3, 1, 2;

-- function_hotspots: ranked by complexity in the repository
SELECT rank, qualified_name, path, complexity, length, resolved_callers
  FROM astpg.function_hotspots WHERE repository = 'fx' ORDER BY rank, qualified_name;

-- repository_summary: python has 11 calls, 7 resolved; javascript 1 of 1
SELECT repository, language, files, classes, functions, calls, resolved_calls,
       unresolved_calls, dependencies, resolved_dependencies, lines,
       avg_complexity, p90_complexity
  FROM astpg.repository_summary WHERE repository = 'fx' ORDER BY language;

-- dependents_of(c): a, b at 1, d at 2; dependencies_of(d): a, then b, c
CREATE TEMP VIEW fx_files AS
SELECT path, file_id FROM astpg.files WHERE repository = 'fx';
SELECT d.path, d.depth FROM fx_files f, astpg.dependents_of(f.file_id) d
 WHERE f.path = 'c.py' ORDER BY 2, 1;
SELECT d.path, d.depth FROM fx_files f, astpg.dependencies_of(f.file_id) d
 WHERE f.path = 'd.py' ORDER BY 2, 1;
SELECT d.path, d.depth FROM fx_files f, astpg.dependencies_of(f.file_id, 1) d
 WHERE f.path = 'd.py' ORDER BY 2, 1;
SELECT count(*) AS none FROM fx_files f, astpg.dependents_of(f.file_id, 0) d
 WHERE f.path = 'c.py';

-- callers and callees, with depth
CREATE TEMP VIEW fx_functions AS
SELECT fn.qualified_name, f.path, fn.function_id
  FROM astpg.functions fn JOIN astpg.files f USING (file_id) WHERE f.repository = 'fx';
SELECT c.qualified_name, c.path, c.depth FROM fx_functions x, astpg.callers(x.function_id) c
 WHERE x.qualified_name = 'compute' ORDER BY 3, 2, 1;
SELECT c.qualified_name, c.path, c.depth FROM fx_functions x, astpg.callers(x.function_id, 5) c
 WHERE x.qualified_name = 'local' ORDER BY 3, 2, 1;
SELECT c.qualified_name, c.path, c.depth FROM fx_functions x, astpg.callees(x.function_id, 2) c
 WHERE x.qualified_name = 'main' ORDER BY 3, 2, 1;
SELECT c.qualified_name, c.depth FROM fx_functions x, astpg.callees(x.function_id, 3) c
 WHERE x.qualified_name = 'GrandChild.go' ORDER BY 2, 1;

-- import_cycles: {a, b, c} with its 2-cycle a -> c, then {e, f}
SELECT component, size, paths, cycle FROM astpg.import_cycles('fx');
SELECT count(*) AS no_cycles FROM astpg.import_cycles('no such repository');

-- the picture: nodes under the prefix, cycle edges in red
SELECT astpg.dependency_graph_dot('fx', '');
SELECT astpg.dependency_graph_dot('fx', 'e');

-- find_symbol: exact first, then prefix, then a typo away (a name of
-- twice the length, however similar, is not a typo)
SELECT kind, qualified_name, path, line, score, matched
  FROM astpg.find_symbol('compute') WHERE repository = 'fx';
SELECT kind, qualified_name, path, matched
  FROM astpg.find_symbol('Child') WHERE repository = 'fx';
SELECT kind, qualified_name, path, matched
  FROM astpg.find_symbol('helpr', ARRAY['function']) WHERE repository = 'fx';
SELECT kind, qualified_name, path, matched
  FROM astpg.find_symbol('a.py', ARRAY['file']) WHERE repository = 'fx';
-- a typo in the first half (found by the name's end), in the second (by
-- its beginning), two letters swapped
SELECT kind, qualified_name, path, matched
  FROM astpg.find_symbol('Xhild', ARRAY['class']) WHERE repository = 'fx';
SELECT kind, qualified_name, path, matched
  FROM astpg.find_symbol('GrandChilt', ARRAY['class']) WHERE repository = 'fx';
SELECT kind, qualified_name, path, matched
  FROM astpg.find_symbol('Chidl', ARRAY['class']) WHERE repository = 'fx';
SELECT count(*) AS at_most_two FROM astpg.find_symbol('d', max_results => 2);
-- LIKE's wildcards in a pattern are plain characters
SELECT count(*) AS no_wildcards FROM astpg.find_symbol('%', ARRAY['function', 'class']);
-- refusals as 'SQLSTATE: message'
\i test/fixtures/attempt.sql
SELECT pg_temp.attempt('SELECT astpg.find_symbol('''')');
SELECT pg_temp.attempt('SELECT astpg.find_symbol(''x'', ARRAY[''method''])');
SELECT count(*) AS no_results FROM astpg.find_symbol('compute', max_results => 0);

-- a change shows in file_summary at once, and in the staleness of the
-- repository's analytics until the next refresh
SELECT r.status FROM astpg.ingest('{"repository": "fx", "path": "d.py", "module": "d",
    "language": "python", "dependencies": [{"target": "a"}, {"target": "b"}]}') r;
SELECT fan_out FROM astpg.file_summary WHERE repository = 'fx' AND path = 'd.py';
SELECT repository, files_changed_since FROM astpg.analytics_staleness WHERE repository = 'fx';
SELECT count(*) FILTER (WHERE repository = 'fx') AS refreshed FROM astpg.refresh_analytics();
SELECT repository, files_changed_since FROM astpg.analytics_staleness WHERE repository = 'fx';

-- Current: a new function is found by find_symbol, its call in callers(),
-- its import in dependents_of(), with no refresh; a replace and a delete
-- take them away again.
SELECT r.status FROM astpg.ingest('{"repository": "fx", "path": "n.py", "module": "n",
    "language": "python", "dependencies": [{"target": "c"}],
    "functions": [{"name": "brand_new_function", "line_start": 1, "line_end": 3,
                   "calls": [{"name": "c.compute"}]}]}') r;
SELECT kind, qualified_name, path, matched FROM astpg.find_symbol('brand_new_function');
SELECT kind, qualified_name, path, matched FROM astpg.find_symbol('brand_new_func');
SELECT kind, qualified_name, path, matched FROM astpg.find_symbol('brand_nwe_function');
SELECT c.qualified_name, c.path FROM fx_functions x, astpg.callers(x.function_id) c
 WHERE x.qualified_name = 'compute' ORDER BY 2, 1;
SELECT d.path, d.depth FROM fx_files f, astpg.dependents_of(f.file_id, 1) d
 WHERE f.path = 'c.py' ORDER BY 2, 1;
SELECT r.status FROM astpg.ingest('{"repository": "fx", "path": "n.py", "module": "n",
    "language": "python",
    "functions": [{"name": "renamed_function", "line_start": 1, "line_end": 3}]}') r;
SELECT count(*) AS gone_by_name FROM astpg.find_symbol('brand_new_function')
 WHERE qualified_name = 'brand_new_function';
SELECT count(*) AS renamed FROM astpg.find_symbol('renamed_function');
SELECT c.qualified_name, c.path FROM fx_functions x, astpg.callers(x.function_id) c
 WHERE x.qualified_name = 'compute' ORDER BY 2, 1;
SELECT d.path FROM fx_files f, astpg.dependents_of(f.file_id, 1) d
 WHERE f.path = 'c.py' ORDER BY 1;
SELECT astpg.delete_file('fx', 'n.py');
SELECT count(*) AS deleted FROM astpg.find_symbol('renamed_function');
SELECT repository, files_changed_since FROM astpg.analytics_staleness WHERE repository = 'fx';
-- one repository refreshed alone: the others keep their refresh
SELECT repository, hotspots FROM astpg.refresh_analytics('fx');
SELECT repository, files_changed_since FROM astpg.analytics_staleness WHERE repository = 'fx';
-- A self call reaches an ancestor's method through class_hierarchy, which
-- is as of the repository's last refresh: a new subclass's self.greet()
-- is a caller of Base.greet once the repository is refreshed.
SELECT r.status FROM astpg.ingest('{"repository": "fx", "path": "s.py", "module": "s",
    "language": "python", "dependencies": [{"target": "a", "names": ["Base"]}],
    "classes": [{"name": "Sub", "bases": ["a.Base"], "line_start": 1, "line_end": 5}],
    "functions": [{"name": "hi", "class": "Sub", "line_start": 2, "line_end": 4,
                   "calls": [{"name": "self.greet"}]}]}') r;
SELECT c.qualified_name FROM fx_functions x, astpg.callers(x.function_id) c
 WHERE x.qualified_name = 'Base.greet' ORDER BY 1;
SELECT count(*) AS refreshed FROM astpg.refresh_analytics('fx');
SELECT c.qualified_name FROM fx_functions x, astpg.callers(x.function_id) c
 WHERE x.qualified_name = 'Base.greet' ORDER BY 1;
SELECT astpg.delete_file('fx', 's.py');

-- Values as long as the format allows (a path of 4096 and a name of 1024
-- four-byte characters, a callee of 5000 bytes) are stored, indexed,
-- refreshed, searched and kept in the history: no btree holds them whole.
SELECT r.status FROM astpg.ingest(jsonb_build_object(
    'repository', repeat('𝔯', 1024), 'path', repeat('𝔭', 4096), 'language', 'python',
    'functions', jsonb_build_array(jsonb_build_object(
        'name', repeat('𝔫', 1024), 'line_start', 1, 'line_end', 2,
        'calls', jsonb_build_array(jsonb_build_object('name', repeat('c', 5000))))))) r;
SELECT count(*) FILTER (WHERE repository = 'fx') AS refreshed FROM astpg.refresh_analytics();
SELECT length(path) AS path_chars, functions FROM astpg.file_summary
 WHERE repository = repeat('𝔯', 1024);
SELECT kind, length(qualified_name) AS name_chars, matched
  FROM astpg.find_symbol(repeat('𝔫', 1024), ARRAY['function']);
SELECT length(path) AS path_chars, functions FROM astpg.metric_history
 WHERE repository = repeat('𝔯', 1024) AND path = repeat('𝔭', 4096);
SELECT count(*) AS calls FROM astpg.calls WHERE callee = repeat('c', 5000);
SELECT astpg.delete_file(repeat('𝔯', 1024), repeat('𝔭', 4096));

--
-- The real sample: the views against the tables, computed another way.
--
\i test/fixtures/load_sample.sql
SELECT count(*) AS stored FROM sample, astpg.ingest(sample.doc);
SELECT count(*) FILTER (WHERE repository = 'python3.11') AS refreshed
  FROM astpg.refresh_analytics(false);
-- fan_in and fan_out of every file, from dependencies directly
SELECT count(*) AS files, count(*) FILTER (WHERE s.fan_in = x.fan_in AND s.fan_out = x.fan_out) AS same
  FROM astpg.file_summary s
  JOIN LATERAL (
       SELECT (SELECT count(DISTINCT d.file_id) FROM astpg.dependencies d
                WHERE d.target_file_id = s.file_id AND d.file_id <> s.file_id) AS fan_in,
              (SELECT count(DISTINCT d.target_file_id) FROM astpg.dependencies d
                WHERE d.file_id = s.file_id AND d.target_file_id <> s.file_id) AS fan_out) x ON true
 WHERE s.repository = 'python3.11';
SELECT path, fan_in, fan_out FROM astpg.file_summary
 WHERE repository = 'python3.11' AND fan_in + fan_out > 0 ORDER BY path;
-- a component is a set of files each reachable from the others: check it
-- with a transitive closure over the resolved imports
WITH RECURSIVE edges AS (
    SELECT DISTINCT d.file_id AS s, d.target_file_id AS t
      FROM astpg.dependencies d JOIN astpg.files f USING (file_id)
     WHERE f.repository = 'python3.11' AND d.target_file_id IS NOT NULL
), reach (s, t) AS (
    SELECT s, t FROM edges
    UNION
    SELECT r.s, e.t FROM reach r JOIN edges e ON e.s = r.t
), cyclic AS (
    SELECT DISTINCT r.s AS file_id FROM reach r
      JOIN reach back ON back.s = r.t AND back.t = r.s WHERE r.s <> r.t
)
SELECT (SELECT array_agg(f.path ORDER BY f.path) FROM cyclic c JOIN astpg.files f USING (file_id))
       = (SELECT array_agg(p ORDER BY p) FROM astpg.import_cycles('python3.11') i, unnest(i.paths) p)
       AS same_files_in_cycles;
SELECT component, size, cycle FROM astpg.import_cycles('python3.11');
-- every call_graph edge is a call of the caller that names the callee
SELECT count(*) AS edges,
       count(*) FILTER (WHERE EXISTS (
           SELECT FROM astpg.calls c JOIN astpg.functions b ON b.function_id = g.callee_id
            WHERE c.function_id = g.caller_id
              AND (c.callee = b.name OR c.callee LIKE '%.' || b.name))) AS named
  FROM astpg.call_graph g JOIN astpg.files f ON f.file_id = g.caller_file_id
 WHERE f.repository = 'python3.11';
SELECT language, files, classes, functions, calls, resolved_calls, dependencies,
       resolved_dependencies, lines
  FROM astpg.repository_summary WHERE repository = 'python3.11';
SELECT (SELECT count(*) FROM astpg.files WHERE repository = 'python3.11') AS files,
       (SELECT count(*) FROM astpg.functions fn JOIN astpg.files f USING (file_id)
         WHERE f.repository = 'python3.11') AS functions,
       (SELECT sum(value) FROM astpg.metrics m JOIN astpg.files f USING (file_id)
         WHERE f.repository = 'python3.11' AND m.name = 'loc') AS lines;
-- the calls resolved as a graph walk resolves them, function by function,
-- are the calls the refresh resolved for the whole repository at once (a
-- walk leaves out a function's calls to itself: it starts there)
CREATE TEMP TABLE walked AS
SELECT fn.function_id AS caller_id, c.function_id AS callee_id
  FROM astpg.functions fn JOIN astpg.files f USING (file_id),
       astpg.callees(fn.function_id) c
 WHERE f.repository = 'python3.11';
CREATE TEMP TABLE walked_back AS
SELECT c.function_id AS caller_id, fn.function_id AS callee_id
  FROM astpg.functions fn JOIN astpg.files f USING (file_id),
       astpg.callers(fn.function_id) c
 WHERE f.repository = 'python3.11';
SELECT (SELECT count(*) FROM astpg.call_graph g JOIN astpg.files f ON f.file_id = g.caller_file_id
         WHERE f.repository = 'python3.11') AS edges,
       (SELECT count(*) FROM (SELECT caller_id, callee_id FROM walked
                              EXCEPT SELECT caller_id, callee_id FROM astpg.call_graph) x) AS only_callees,
       (SELECT count(*) FROM (SELECT g.caller_id, g.callee_id FROM astpg.call_graph g
                               JOIN astpg.files f ON f.file_id = g.caller_file_id
                              WHERE f.repository = 'python3.11' AND g.caller_id <> g.callee_id
                              EXCEPT SELECT caller_id, callee_id FROM walked) x) AS only_graph,
       (SELECT count(*) FROM (SELECT caller_id, callee_id FROM walked
                              EXCEPT SELECT caller_id, callee_id FROM walked_back) x) AS callees_not_callers,
       (SELECT count(*) FROM (SELECT caller_id, callee_id FROM walked_back
                              EXCEPT SELECT caller_id, callee_id FROM walked) x) AS callers_not_callees;
-- the walk refuses a direction it does not know
SELECT pg_temp.attempt('SELECT astpg.graph_walk(1, 1, ''sideways'')');

-- maintain() prunes the names whose rows are gone ("renamed_function",
-- deleted above) and the copies two writers make of a name at once (rolled
-- back: the history's partitions it also makes are sql/history.sql's)
BEGIN;
INSERT INTO astpg.symbol_names (name, kind, member, repo_id)
SELECT name, kind, member, repo_id FROM astpg.symbol_names
 WHERE name = 'compute' AND repo_id = astpg.repo_id('fx');
SELECT name, count(*) FROM astpg.symbol_names
 WHERE name IN ('renamed_function', 'compute') AND repo_id = astpg.repo_id('fx')
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS pruned FROM astpg.maintain() WHERE partition_name = 'symbol_names';
SELECT name, count(*) FROM astpg.symbol_names
 WHERE name IN ('renamed_function', 'compute') AND repo_id = astpg.repo_id('fx')
 GROUP BY 1 ORDER BY 1;
ROLLBACK;
