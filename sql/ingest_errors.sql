--
-- ingest_errors: every rule of the document format, refused with SQLSTATE
-- 22023 and the JSON path of the bad value; nothing of a refused document
-- is written.  Also the nasty inputs that must be accepted.
--
\i test/fixtures/try_ingest.sql

-- a few raw, so the ERROR and DETAIL lines are pinned as a client sees them
SELECT * FROM astpg.ingest('[]');
SELECT * FROM astpg.ingest(NULL);
SELECT * FROM astpg.ingest('{"path": "a.py", "language": "python",
  "functions": [{"name": "f", "line_start": 9, "line_end": 3}]}');
SELECT * FROM astpg.ingest('{"path": "a.py", "language": "python",
  "functions": [{"name": "f", "class": "Nope", "line_start": 1, "line_end": 3}]}');

CREATE TEMP TABLE cases (n serial, doc jsonb);
INSERT INTO cases (doc) VALUES
-- the document itself
  ('5'),
  ('"a string"'),
  ('null'),
  ('{}'),
  ('{"language": "c"}'),
  ('{"path": null, "language": "c"}'),
  ('{"path": "", "language": "c"}'),
  ('{"path": ["a"], "language": "c"}'),
  ('{"path": "a.c"}'),
  ('{"path": "a.c", "language": "C"}'),
  ('{"path": "a.c", "language": ""}'),
  ('{"path": "a.c", "language": "c c"}'),
  ('{"path": "a.c", "language": 7}'),
  ('{"path": "a.c", "language": "c", "astpg": 2}'),
  ('{"path": "a.c", "language": "c", "astpg": "1"}'),
  ('{"path": "a.c", "language": "c", "repository": 1}'),
  ('{"path": "a.c", "language": "c", "module": ""}'),
  ('{"path": "a.c", "language": "c", "revision": {}}'),
  ('{"path": "a.c", "language": "c", "size_bytes": -1}'),
  ('{"path": "a.c", "language": "c", "size_bytes": 9223372036854775808}'),
  ('{"path": "a.c", "language": "c", "size_bytes": 1.5}'),
  ('{"path": "a.c", "language": "c", "content_hash": false}'),
-- arrays where objects belong, objects where arrays belong
  ('{"path": "a.c", "language": "c", "functions": {}}'),
  ('{"path": "a.c", "language": "c", "functions": [[]]}'),
  ('{"path": "a.c", "language": "c", "functions": [null]}'),
  ('{"path": "a.c", "language": "c", "classes": "A"}'),
  ('{"path": "a.c", "language": "c", "classes": [1]}'),
  ('{"path": "a.c", "language": "c", "dependencies": {"target": "os"}}'),
  ('{"path": "a.c", "language": "c", "metrics": []}'),
  ('{"path": "a.c", "language": "c", "metrics": 3}'),
-- functions
  ('{"path": "a.c", "language": "c", "functions": [{"line_start": 1, "line_end": 2}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": null, "line_start": 1, "line_end": 2}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "", "line_start": 1, "line_end": 2}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_end": 2}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": null, "line_end": 2}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2}, {"name": "g", "line_start": 1, "line_end": 2}, {"name": "h", "line_start": 1, "line_end": 2}, {"name": "i", "line_start": "3", "line_end": 4}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 0, "line_end": 2}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": -5, "line_end": 2}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1.5, "line_end": 2}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2147483648}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 9223372036854775808}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 1e400}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "complexity": 0}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "complexity": "high"}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "is_async": "yes"}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "qualified_name": ""}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "signature": 3}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "return_type": []}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "decorators": "staticmethod"}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "decorators": ["a", null]}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "parameters": "a, b"}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "parameters": ["a", 5]}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "parameters": [{"type": "int"}]}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "parameters": [{"name": "x", "default": 0}]}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "calls": {"name": "g"}}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "calls": ["g"]}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "calls": [{"line": 2}]}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "calls": [{"name": "g"}, {"name": "h", "line": 0}]}]}'),
  ('{"path": "a.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "calls": [{"name": ""}]}]}'),
-- classes, and the class/parent references
  ('{"path": "a.c", "language": "c", "classes": [{"name": "A", "line_start": 5, "line_end": 4}]}'),
  ('{"path": "a.c", "language": "c", "classes": [{"name": "A", "line_start": 1, "line_end": 4, "bases": [1]}]}'),
  ('{"path": "a.c", "language": "c", "classes": [{"name": "A", "line_start": 1, "line_end": 4, "is_abstract": 1}]}'),
  ('{"path": "a.c", "language": "c", "classes": [{"name": "A", "line_start": 1, "line_end": 4, "parent": "B"}]}'),
  ('{"path": "a.c", "language": "c", "classes": [{"name": "A", "line_start": 1, "line_end": 4, "parent": "A"}]}'),
  ('{"path": "a.c", "language": "c", "classes": [{"name": "A", "line_start": 1, "line_end": 4}, {"name": "B", "parent": "A", "line_start": 10, "line_end": 12}]}'),
  ('{"path": "a.c", "language": "c", "classes": [{"name": "A", "line_start": 1, "line_end": 4}], "functions": [{"name": "f", "class": "A", "line_start": 5, "line_end": 6}]}'),
  ('{"path": "a.c", "language": "c", "classes": [{"name": "A", "line_start": 1, "line_end": 4}], "functions": [{"name": "f", "class": "a", "line_start": 2, "line_end": 3}]}'),
-- dependencies
  ('{"path": "a.c", "language": "c", "dependencies": [{"kind": "import"}]}'),
  ('{"path": "a.c", "language": "c", "dependencies": [{"target": ""}]}'),
  ('{"path": "a.c", "language": "c", "dependencies": [{"target": "os", "kind": ""}]}'),
  ('{"path": "a.c", "language": "c", "dependencies": [{"target": "os", "line": 0}]}'),
  ('{"path": "a.c", "language": "c", "dependencies": [{"target": "os", "strength": 1.5}]}'),
  ('{"path": "a.c", "language": "c", "dependencies": [{"target": "os", "strength": -0.1}]}'),
  ('{"path": "a.c", "language": "c", "dependencies": [{"target": "os", "strength": "strong"}]}'),
  ('{"path": "a.c", "language": "c", "dependencies": [{"target": "os", "names": [["path"]]}]}'),
-- metrics
  ('{"path": "a.c", "language": "c", "metrics": {"loc": "12"}}'),
  ('{"path": "a.c", "language": "c", "metrics": {"loc": 1e400}}'),
  ('{"path": "a.c", "language": "c", "metrics": {"loc": -1e400}}'),
  ('{"path": "a.c", "language": "c", "metrics": {"tiny": 1e-400}}'),
  ('{"path": "a.c", "language": "c", "metrics": {"lines of code": true}}'),
  ('{"path": "a.c", "language": "c", "metrics": {"": {}}}'),
-- a late error: everything valid but the last value
  ('{"path": "late.c", "language": "c",
     "classes": [{"name": "A", "line_start": 1, "line_end": 40}],
     "functions": [{"name": "f", "class": "A", "line_start": 2, "line_end": 3, "calls": [{"name": "g"}]}],
     "dependencies": [{"target": "os"}],
     "metrics": {"loc": 40, "sloc": "30"}}');

SELECT n, pg_temp.try_ingest(doc) FROM cases ORDER BY n;

-- strings over their length limits, counted in characters, not bytes
SELECT pg_temp.try_ingest(jsonb_build_object('path', repeat('p', 4097), 'language', 'c'));
SELECT pg_temp.try_ingest(jsonb_build_object('path', 'a.c', 'language', repeat('c', 51)));
SELECT pg_temp.try_ingest(jsonb_build_object('path', 'a.c', 'language', 'c',
  'functions', jsonb_build_array(jsonb_build_object('name', repeat('n', 1025), 'line_start', 1, 'line_end', 1))));
SELECT pg_temp.try_ingest(jsonb_build_object('path', 'a.c', 'language', 'c',
  'classes', jsonb_build_array(jsonb_build_object('name', repeat('é', 1025), 'line_start', 1, 'line_end', 1))));

-- nothing of any refused document was written, not even an audit row
SELECT count(*) AS files FROM astpg.files WHERE path IN ('a.c', 'late.c');
SELECT count(*) AS audit_rows FROM astpg.ingests WHERE path IN ('a.c', 'late.c');

--
-- nasty but valid: accepted and stored as given
--
-- null everywhere an optional value may be
SELECT pg_temp.try_ingest('{"path": "nulls.c", "language": "c", "repository": "nasty",
  "astpg": null, "module": null, "revision": null, "size_bytes": null,
  "content_hash": null, "ast": null, "metrics": {"loc": null},
  "classes": [{"name": "A", "line_start": 1, "line_end": 5, "qualified_name": null,
               "parent": null, "namespace": null, "bases": null, "is_abstract": null}],
  "functions": [{"name": "f", "line_start": 1, "line_end": 2, "qualified_name": null,
                 "class": null, "signature": null, "parameters": null,
                 "return_type": null, "complexity": null, "is_async": null,
                 "decorators": null, "calls": [{"name": "g", "line": null}]}],
  "dependencies": [{"target": "os", "kind": null, "line": null, "strength": null, "names": null}]}');
SELECT jsonb_pretty(astpg.document(file_id)) FROM astpg.files WHERE repository = 'nasty' AND path = 'nulls.c';

-- empty strings where the spec allows them; integers written as 3.0 or 3e0
SELECT pg_temp.try_ingest('{"path": "empty.c", "language": "c", "repository": "nasty",
  "revision": "", "content_hash": "", "size_bytes": 0,
  "functions": [{"name": "f", "line_start": 3.0, "line_end": 3e0, "signature": ""}],
  "dependencies": [{"target": "x", "strength": 0, "names": [""]}]}');
SELECT line_start, line_end, signature FROM astpg.functions fn
  JOIN astpg.files f USING (file_id) WHERE f.repository = 'nasty' AND f.path = 'empty.c';

-- the largest values that fit
SELECT pg_temp.try_ingest('{"path": "big.c", "language": "c", "repository": "nasty",
  "size_bytes": 9223372036854775807,
  "functions": [{"name": "f", "line_start": 2147483647, "line_end": 2147483647, "complexity": 2147483647}],
  "metrics": {"huge": 1.7976931348623157e308, "small": -1.7976931348623157e308, "tiny": 5e-324}}');
SELECT f.size_bytes, fn.line_end, fn.complexity
  FROM astpg.files f JOIN astpg.functions fn USING (file_id)
 WHERE f.repository = 'nasty' AND f.path = 'big.c';
SELECT name, value FROM astpg.metrics m JOIN astpg.files f USING (file_id)
 WHERE f.repository = 'nasty' AND f.path = 'big.c' ORDER BY name;

-- a path of 4096 characters of four bytes each (16 kB, beyond any btree entry)
SELECT pg_temp.try_ingest(jsonb_build_object('repository', 'nasty', 'path', repeat('😀', 4096), 'language', 'c'));
SELECT length(path), octet_length(path) FROM astpg.files WHERE repository = 'nasty' AND path LIKE '😀%';
SELECT pg_temp.try_ingest(jsonb_build_object('repository', 'nasty', 'path', repeat('😀', 4096), 'language', 'c'));

-- very long strings where there is no limit: a 1 MB signature and module
SELECT pg_temp.try_ingest(jsonb_build_object('repository', 'nasty', 'path', 'long.c', 'language', 'c',
  'module', repeat('m', 1000000),
  'functions', jsonb_build_array(jsonb_build_object('name', 'f', 'line_start', 1, 'line_end', 1,
                                                    'signature', repeat('s', 1000000)))));
SELECT length(f.module), length(fn.signature) FROM astpg.files f JOIN astpg.functions fn USING (file_id)
 WHERE f.repository = 'nasty' AND f.path = 'long.c';

-- deep nesting inside ast is stored as given
SELECT pg_temp.try_ingest(jsonb_build_object('repository', 'nasty', 'path', 'deep.c', 'language', 'c',
  'ast', (repeat('[', 5000) || repeat(']', 5000))::jsonb));
SELECT ast = (repeat('[', 5000) || repeat(']', 5000))::jsonb AS same_ast
  FROM astpg.files WHERE repository = 'nasty' AND path = 'deep.c';

-- duplicate names: two classes A (conditional definitions); the line decides
-- which one a method and a nested class belong to
SELECT pg_temp.try_ingest('{"path": "dup.py", "language": "python", "repository": "nasty",
  "classes": [{"name": "A", "line_start": 1, "line_end": 10},
              {"name": "A", "line_start": 20, "line_end": 30},
              {"name": "B", "parent": "A", "line_start": 22, "line_end": 25}],
  "functions": [{"name": "m", "class": "A", "line_start": 2, "line_end": 3},
                {"name": "m", "class": "A", "line_start": 26, "line_end": 27},
                {"name": "m", "class": "A.B", "line_start": 23, "line_end": 24},
                {"name": "m", "line_start": 40, "line_end": 41},
                {"name": "m", "line_start": 40, "line_end": 41}],
  "metrics": {"loc": 1, "loc": 2}}');
SELECT fn.qualified_name, fn.line_start, c.line_start AS class_line
  FROM astpg.functions fn JOIN astpg.files f USING (file_id)
  LEFT JOIN astpg.classes c ON c.class_id = fn.class_id
 WHERE f.repository = 'nasty' AND f.path = 'dup.py'
 ORDER BY fn.line_start, fn.function_id;
SELECT c.qualified_name, c.line_start, p.line_start AS parent_line
  FROM astpg.classes c JOIN astpg.files f USING (file_id)
  LEFT JOIN astpg.classes p ON p.class_id = c.parent_id
 WHERE f.repository = 'nasty' AND f.path = 'dup.py'
 ORDER BY c.line_start;
SELECT name, value FROM astpg.metrics m JOIN astpg.files f USING (file_id)
 WHERE f.repository = 'nasty' AND f.path = 'dup.py';

-- 100,000 functions in one document, each a method with a call
SELECT r.status, r.classes, r.functions, r.calls
  FROM astpg.ingest(jsonb_build_object(
         'repository', 'nasty', 'path', 'huge.py', 'language', 'python',
         'classes', jsonb_build_array(jsonb_build_object('name', 'C', 'line_start', 1, 'line_end', 300001)),
         'functions', (SELECT jsonb_agg(jsonb_build_object(
                          'name', 'f' || i, 'class', 'C',
                          'line_start', 3 * i, 'line_end', 3 * i + 1,
                          'calls', jsonb_build_array(jsonb_build_object('name', 'g', 'line', 3 * i + 1))))
                         FROM generate_series(1, 100000) i))) r;
SELECT count(*), count(DISTINCT class_id), min(qualified_name), max(line_end)
  FROM astpg.functions fn JOIN astpg.files f USING (file_id)
 WHERE f.repository = 'nasty' AND f.path = 'huge.py';
