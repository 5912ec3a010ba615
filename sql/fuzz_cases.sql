--
-- fuzz_cases: documents of test/fuzz.py's kinds that no other suite pins.
-- A failing case the fuzzer finds becomes a test here.
--
\i test/fixtures/try_ingest.sql
\i test/fixtures/normalize.sql

-- text that jsonb cannot hold, through the inbox in skip mode: rejected
-- with its SQLSTATE, the text kept as sent, nothing stored
SET astpg.on_error = skip;
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "fz", "path": "nul.c", "language": "c", "revision": "a\u0000b"}
{"repository": "fz", "path": "lone.c", "language": "c", "functions": [{"name": "\ud800", "line_start": 1, "line_end": 1}]}
{"repository": "fz", "path": "reversed.c", "language": "c", "module": "\udc00\ud800"}
{"repository": "fz", "path": "pair.c", "language": "c", "module": "\ud83d\ude00"}
{"repository": "fz", "path": "text.c", "language": "c", "signature": "\\u0000 and \\ud800 as text"}
{"repository": "fz", "path": "trailing.c", "language": "c"} x
\.
SELECT position, document IS NULL AS no_document, length(document_text) > 0 AS text_kept,
       sqlstate, message
  FROM astpg.rejects WHERE source = 'inbox' ORDER BY reject_id;
SELECT path, module, attrs FROM astpg.files WHERE repository = 'fz' ORDER BY path;

-- nesting deeper than jsonb's parser allows: refused (54001, a class 54
-- error, so rejected in skip mode), not a crash
CREATE TEMP TABLE deep_text AS
SELECT '{"repository": "fz", "path": "too-deep.c", "language": "c", "ast": '
       || repeat('[', 100000) || repeat(']', 100000) || '}' AS doc;
INSERT INTO astpg.inbox (doc) SELECT doc FROM deep_text;
SELECT position, sqlstate, message FROM astpg.rejects
 WHERE source = 'inbox' AND document_text LIKE '%too-deep.c%';
RESET astpg.on_error;
\set VERBOSITY terse
SELECT * FROM astpg.ingest((SELECT doc::jsonb FROM deep_text));
\set VERBOSITY default
SELECT count(*) AS stored FROM astpg.files WHERE path = 'too-deep.c';

-- a key given twice: jsonb keeps the last, at the top level and in a row
SELECT status, classes, functions
  FROM astpg.ingest('{"repository": "fz", "path": "first.c", "path": "dup.c", "language": "c",
                      "functions": [{"name": "f", "name": "g", "line_start": 9, "line_end": 9, "line_start": 1}]}');
SELECT path, name, line_start, line_end
  FROM astpg.files JOIN astpg.functions USING (file_id)
 WHERE repository = 'fz' AND path IN ('first.c', 'dup.c');

-- deep nesting where astpg keeps values verbatim: the attrs of a call
-- and a parameter object; document() gives them back, and that is a fixpoint
CREATE TEMP TABLE deep_doc AS
SELECT jsonb_build_object('repository', 'fz', 'path', 'deep-attrs.c', 'language', 'c',
         'functions', jsonb_build_array(jsonb_build_object(
             'name', 'f', 'line_start', 1, 'line_end', 2,
             'parameters', jsonb_build_array(jsonb_build_object('name', 'p',
                 'x', (repeat('{"a": ', 3000) || '1' || repeat('}', 3000))::jsonb)),
             'calls', jsonb_build_array(jsonb_build_object('name', 'g',
                 'x-deep', (repeat('[', 3000) || repeat(']', 3000))::jsonb))))) AS doc;
SELECT status, functions, calls FROM astpg.ingest((SELECT doc FROM deep_doc));
SELECT astpg.document(f.file_id) = pg_temp.normalize_document(d.doc) AS given_back
  FROM astpg.files f, deep_doc d WHERE f.path = 'deep-attrs.c';
SELECT r.status, astpg.document(r.file_id) = pg_temp.normalize_document(d.doc) AS fixpoint
  FROM deep_doc d, astpg.ingest(astpg.document((SELECT file_id FROM astpg.files WHERE path = 'deep-attrs.c'))) r;

-- classes nested 500 deep, each the parent of the next, listed backwards,
-- and a method of the innermost: every reference resolves
CREATE TEMP TABLE chain AS
SELECT jsonb_build_object('repository', 'fz', 'path', 'chain.py', 'language', 'python',
         'classes', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                        'name', 'C' || (i % 3), 'line_start', i + 1, 'line_end', 1000 - i,
                        'parent', CASE WHEN i > 0 THEN (SELECT string_agg('C' || (j % 3), '.' ORDER BY j)
                                                          FROM generate_series(0, i - 1) j) END))
                        ORDER BY i DESC)
                       FROM generate_series(0, 499) i),
         'functions', jsonb_build_array(jsonb_build_object('name', 'm', 'line_start', 500, 'line_end', 501,
             'class', (SELECT string_agg('C' || (j % 3), '.' ORDER BY j) FROM generate_series(0, 499) j)))) AS doc;
SELECT status, classes, functions FROM astpg.ingest((SELECT doc FROM chain));
SELECT count(*) FILTER (WHERE c.parent_id IS NULL) AS roots,
       count(*) FILTER (WHERE p.qualified_name || '.' || c.name = c.qualified_name) AS linked,
       max(length(c.qualified_name)) AS longest
  FROM astpg.classes c LEFT JOIN astpg.classes p ON p.class_id = c.parent_id
 WHERE c.file_id = (SELECT file_id FROM astpg.files WHERE path = 'chain.py');
SELECT f.qualified_name = (SELECT doc->'functions'->0->>'class' FROM chain) || '.m' AS method_linked,
       k.line_start AS class_line
  FROM astpg.functions f JOIN astpg.classes k ON k.class_id = f.class_id
 WHERE f.file_id = (SELECT file_id FROM astpg.files WHERE path = 'chain.py');
-- the method one line past the innermost class: no enclosing class
SELECT regexp_replace(pg_temp.try_ingest(
           jsonb_set(jsonb_set((SELECT doc FROM chain), '{functions,0,line_start}', '502'),
                     '{functions,0,line_end}', '502')),
         '(C0\.C1\.C2\.)+', 'C0.C1.C2. ... ') AS answer;

-- one file twice in a skip batch, the second refused: the first stays whole
SELECT r.status, r.functions
  FROM astpg.ingest_batch(ARRAY[
    '{"repository": "fz", "path": "twice.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2}]}',
    '{"repository": "fz", "path": "twice.c", "language": "c", "functions": [{"name": "g", "line_start": 2, "line_end": 1}]}'
  ]::jsonb[], 'skip') r;
SELECT astpg.document(file_id)->'functions' AS functions FROM astpg.files WHERE path = 'twice.c';
SELECT position, sqlstate, message FROM astpg.rejects WHERE source = 'ingest_batch';

-- SQL text, quotes, backslashes and Unicode edge cases in every kind of
-- string, and as metric names, are stored and given back as they are
CREATE TEMP TABLE nasty AS
SELECT jsonb_build_object('repository', 'fz', 'path', E'\';\\. DROP TABLE astpg.files; --', 'language', 'c',
         'module', E'\u202e\u200f e\u0301 \U0001F600\U0001D518 \uffff\U0010ffff',
         'revision', E'$$; SELECT 1; $$', 'x-\\N', E'\\.',
         'classes', jsonb_build_array(jsonb_build_object('name', E'"\\"', 'line_start', 1, 'line_end', 9,
             'bases', jsonb_build_array('', E'\t\n\r\x01'))),
         'functions', jsonb_build_array(jsonb_build_object('name', '%s %d %n', 'class', E'"\\"',
             'line_start', 2, 'line_end', 3, 'decorators', jsonb_build_array(E'\u2028\u2029'),
             'calls', jsonb_build_array(jsonb_build_object('name', E'E\'\\x00\''), jsonb_build_object('name', 'null')))),
         'dependencies', jsonb_build_array(jsonb_build_object('target', E'\ufeff', 'names', jsonb_build_array(E'\u0130\u0131\u00df'))),
         'metrics', jsonb_build_object('', 1, E'\\.', -0.0, E'\'', 5e-324, E'\U0001F600', 1e300)) AS doc;
SELECT status, classes, functions, calls, dependencies, metrics FROM astpg.ingest((SELECT doc FROM nasty));
SELECT astpg.document(f.file_id) = pg_temp.normalize_document(n.doc) AS given_back
  FROM nasty n JOIN astpg.files f ON f.path = n.doc->>'path';
SELECT name, value FROM astpg.metrics
 WHERE file_id = (SELECT file_id FROM astpg.files f, nasty n WHERE f.path = n.doc->>'path')
 ORDER BY name COLLATE "C";

-- leave nothing behind for the suites that follow
SELECT count(*) AS deleted
  FROM astpg.files f, astpg.delete_file(f.repository, f.path) d
 WHERE f.repository = 'fz' AND d;
DELETE FROM astpg.rejects;
DELETE FROM astpg.ingests WHERE repository = 'fz';
DELETE FROM astpg.metric_history WHERE repository = 'fz';
