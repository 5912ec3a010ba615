--
-- reader_limits: what the reader does with documents at its edges.
--   * class and parent references among many classes of one name are
--     resolved by the rules of docs/document-format.md, in n log n;
--   * parent links that make a cycle are refused (22023);
--   * a document that astpg.document() could not give back once its
--     defaults are filled in is refused (54000).
-- Every refusal writes nothing, not even an audit row.
--
\i test/fixtures/try_ingest.sql

--
-- references among classes of one name
--
-- the innermost class wins, the first in the document on a tie, and a
-- class is never its own parent, even when its parent names its own
-- qualified_name
SELECT pg_temp.try_ingest('{"path": "same.py", "language": "python", "repository": "limits",
  "classes": [{"name": "C", "line_start": 1, "line_end": 100, "x-id": "outer"},
              {"name": "C", "line_start": 10, "line_end": 50, "x-id": "inner, first"},
              {"name": "C", "line_start": 10, "line_end": 50, "x-id": "inner, second"},
              {"name": "C", "qualified_name": "C", "parent": "C", "line_start": 60, "line_end": 70, "x-id": "own name"},
              {"name": "C", "qualified_name": "C", "parent": "C", "line_start": 10, "line_end": 50, "x-id": "own name, inner"}],
  "functions": [{"name": "m", "class": "C", "line_start": 5, "line_end": 5, "x-id": "outer"},
                {"name": "m", "class": "C", "line_start": 20, "line_end": 20, "x-id": "inner, first"},
                {"name": "m", "class": "C", "line_start": 65, "line_end": 65, "x-id": "own name"},
                {"name": "m", "class": "C", "line_start": 50, "line_end": 99, "x-id": "inner, first"}]}');
SELECT c.attrs->>'x-id' AS class, p.attrs->>'x-id' AS parent
  FROM astpg.classes c JOIN astpg.files f USING (file_id)
  LEFT JOIN astpg.classes p ON p.class_id = c.parent_id
 WHERE f.repository = 'limits' AND f.path = 'same.py'
 ORDER BY c.class_id;
SELECT fn.attrs->>'x-id' AS expected, c.attrs->>'x-id' AS linked_to
  FROM astpg.functions fn JOIN astpg.files f USING (file_id)
  JOIN astpg.classes c ON c.class_id = fn.class_id
 WHERE f.repository = 'limits' AND f.path = 'same.py'
 ORDER BY fn.function_id;

-- 5,000 classes of one name, one method in each, and one class around
-- them all: every method is linked to its own class, the classes to the
-- outer one (before 1.4 this took time quadratic in the classes of a name)
SELECT pg_temp.try_ingest(jsonb_build_object(
  'path', 'many.py', 'language', 'python', 'repository', 'limits',
  'classes', jsonb_build_array(jsonb_build_object('name', 'C', 'line_start', 1, 'line_end', 15000))
             || (SELECT jsonb_agg(jsonb_build_object('name', 'C', 'qualified_name', 'C', 'parent', 'C',
                                                     'line_start', 3 * i, 'line_end', 3 * i + 1))
                   FROM generate_series(1, 5000) i),
  'functions', (SELECT jsonb_agg(jsonb_build_object('name', 'm', 'class', 'C',
                                                    'line_start', 3 * i + 1, 'line_end', 3 * i + 1))
                  FROM generate_series(1, 5000) i)));
SELECT count(*) AS methods,
       count(*) FILTER (WHERE c.line_start = fn.line_start - 1) AS in_their_class,
       count(DISTINCT fn.class_id) AS classes
  FROM astpg.functions fn JOIN astpg.files f USING (file_id)
  JOIN astpg.classes c ON c.class_id = fn.class_id
 WHERE f.repository = 'limits' AND f.path = 'many.py';
SELECT count(*) AS nested, count(DISTINCT c.parent_id) AS parents,
       min(p.line_end - p.line_start) AS parent_lines
  FROM astpg.classes c JOIN astpg.files f USING (file_id)
  JOIN astpg.classes p ON p.class_id = c.parent_id
 WHERE f.repository = 'limits' AND f.path = 'many.py';

--
-- parent cycles are refused
--
-- as a client sees it: A's parent is B and B's parent is A
SELECT * FROM astpg.ingest('{"path": "cycle.py", "language": "python", "repository": "limits",
  "classes": [{"name": "A", "qualified_name": "A", "parent": "B", "line_start": 1, "line_end": 10},
              {"name": "B", "qualified_name": "B", "parent": "A", "line_start": 1, "line_end": 10}]}');

CREATE TEMP TABLE cycles (n serial, doc jsonb);
INSERT INTO cycles (doc) VALUES
-- a class whose parent is its own qualified_name finds no other class
  ('{"path": "cycle.py", "language": "python", "repository": "limits",
     "classes": [{"name": "A", "qualified_name": "A", "parent": "A", "line_start": 1, "line_end": 10}]}'),
-- two classes of that name: each is the other's parent
  ('{"path": "cycle.py", "language": "python", "repository": "limits",
     "classes": [{"name": "A", "qualified_name": "A", "parent": "A", "line_start": 1, "line_end": 10},
                 {"name": "A", "qualified_name": "A", "parent": "A", "line_start": 1, "line_end": 10}]}'),
-- three, after valid classes and reached from one: the first class of the
-- cycle in the document is named
  ('{"path": "cycle.py", "language": "python", "repository": "limits",
     "classes": [{"name": "X", "line_start": 1, "line_end": 10},
                 {"name": "Y", "parent": "X", "line_start": 2, "line_end": 10},
                 {"name": "Z", "qualified_name": "Z", "parent": "B", "line_start": 1, "line_end": 1},
                 {"name": "C", "qualified_name": "C", "parent": "B", "line_start": 1, "line_end": 10},
                 {"name": "A", "qualified_name": "A", "parent": "C", "line_start": 1, "line_end": 10},
                 {"name": "B", "qualified_name": "B", "parent": "A", "line_start": 1, "line_end": 10}]}'),
-- two cycles, the first class leading to the later one: the cycle with the
-- first class in the document is named
  ('{"path": "cycle.py", "language": "python", "repository": "limits",
     "classes": [{"name": "Z", "qualified_name": "Z", "parent": "B", "line_start": 6, "line_end": 6},
                 {"name": "P", "qualified_name": "P", "parent": "Q", "line_start": 1, "line_end": 5},
                 {"name": "Q", "qualified_name": "Q", "parent": "P", "line_start": 1, "line_end": 5},
                 {"name": "A", "qualified_name": "A", "parent": "B", "line_start": 6, "line_end": 9},
                 {"name": "B", "qualified_name": "B", "parent": "A", "line_start": 6, "line_end": 9}]}'),
-- a missing parent is reported before a cycle, a cycle before a missing class
  ('{"path": "cycle.py", "language": "python", "repository": "limits",
     "classes": [{"name": "A", "qualified_name": "A", "parent": "B", "line_start": 1, "line_end": 10},
                 {"name": "B", "qualified_name": "B", "parent": "A", "line_start": 1, "line_end": 10},
                 {"name": "D", "parent": "Nope", "line_start": 1, "line_end": 10}]}'),
  ('{"path": "cycle.py", "language": "python", "repository": "limits",
     "classes": [{"name": "A", "qualified_name": "A", "parent": "B", "line_start": 1, "line_end": 10},
                 {"name": "B", "qualified_name": "B", "parent": "A", "line_start": 1, "line_end": 10}],
     "functions": [{"name": "f", "class": "Nope", "line_start": 1, "line_end": 1}]}');
SELECT n, pg_temp.try_ingest(doc) FROM cycles ORDER BY n;

-- 10,000 classes in one cycle, each the parent of the next
SELECT pg_temp.try_ingest(jsonb_build_object(
  'path', 'cycle.py', 'language', 'python', 'repository', 'limits',
  'classes', (SELECT jsonb_agg(jsonb_build_object('name', 'K' || i, 'qualified_name', 'K' || i,
                                                  'parent', 'K' || (i + 9999) % 10000,
                                                  'line_start', 1, 'line_end', 1))
                FROM generate_series(0, 9999) i)));

--
-- what ingest accepts, astpg.document() gives back
--
-- astpg.document() fills in each method's qualified_name as class + "."
-- + name: a class whose given qualified_name is 1 MiB long and 130 methods
-- naming it make a document of 131 MiB whose answer would be 261 MiB, over
-- the 256 MiB that one jsonb can hold.  It is refused at the method whose
-- defaults take the answer over.
SELECT pg_temp.try_ingest(jsonb_build_object(
  'path', 'huge.py', 'language', 'python', 'repository', 'limits',
  'classes', jsonb_build_array(jsonb_build_object('name', 'C', 'qualified_name', q,
                                                  'line_start', 1, 'line_end', 1000)),
  'functions', (SELECT jsonb_agg(jsonb_build_object('name', 'm' || i, 'class', q,
                                                    'line_start', i, 'line_end', i))
                  FROM generate_series(1, 130) i)))
  FROM repeat('q', 1048576) q;

-- with the qualified names given, the answer is no larger than the
-- document: accepted (that astpg.document() then gives back its 131 MiB is
-- left out, as it takes seconds)
SELECT pg_temp.try_ingest(jsonb_build_object(
  'path', 'named.py', 'language', 'python', 'repository', 'limits',
  'classes', jsonb_build_array(jsonb_build_object('name', 'C', 'qualified_name', q,
                                                  'line_start', 1, 'line_end', 1000)),
  'functions', (SELECT jsonb_agg(jsonb_build_object('name', 'm' || i, 'class', q,
                                                    'qualified_name', 'm' || i,
                                                    'line_start', i, 'line_end', i))
                  FROM generate_series(1, 130) i)))
  FROM repeat('q', 1048576) q;
SELECT count(*) AS methods, sum(length(c.qualified_name)) AS class_name_chars
  FROM astpg.functions fn JOIN astpg.files f USING (file_id)
  JOIN astpg.classes c ON c.class_id = fn.class_id
 WHERE f.repository = 'limits' AND f.path = 'named.py';

-- nothing of any refused document was written, not even an audit row
SELECT count(*) AS files FROM astpg.files
 WHERE repository = 'limits' AND path IN ('cycle.py', 'huge.py');
SELECT count(*) AS audit_rows FROM astpg.ingests
 WHERE repository = 'limits' AND path IN ('cycle.py', 'huge.py');
