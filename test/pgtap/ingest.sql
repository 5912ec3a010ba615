-- test/pgtap/ingest.sql: ingest, replace, round trip and delete, on real and
-- realistic documents.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION astpg CASCADE;
SELECT plan(23);

\i test/fixtures/load_sample.sql
\i test/fixtures/normalize.sql

-- forty realistic documents of some 250 functions each: methods, nested
-- classes, calls, dependencies resolved inside the corpus and not
\set corpus_text `python3 test/gen_corpus.py --files 40 --functions 250 --calls 170 --seed 7`
CREATE TEMP TABLE corpus AS
SELECT n, line::jsonb AS doc
  FROM regexp_split_to_table(:'corpus_text', E'\n') WITH ORDINALITY AS t(line, n)
 WHERE line <> '';
\unset corpus_text
CREATE TEMP TABLE docs AS SELECT doc FROM sample UNION ALL SELECT doc FROM corpus;

SELECT ok((SELECT avg(jsonb_array_length(doc->'functions')) FROM corpus) >= 200,
          'the generated documents hold hundreds of functions');
SELECT ok((SELECT count(*) FROM docs, jsonb_array_elements(doc->'classes') c WHERE c ? 'parent') > 10,
          'the documents hold nested classes');

CREATE TEMP TABLE first_results AS
SELECT d.doc->>'path' AS path, r.* FROM docs d, astpg.ingest(d.doc) r;

SELECT is((SELECT count(*) FROM first_results WHERE status = 'inserted'), 52::bigint,
          'every document is inserted');
SELECT is((SELECT sum(functions) FROM first_results),
          (SELECT count(*) FROM astpg.functions),
          'ingest reports the functions it wrote');
SELECT is((SELECT sum(calls) FROM first_results),
          (SELECT count(*) FROM astpg.calls),
          'ingest reports the calls it wrote');
SELECT ok((SELECT count(*) FROM astpg.dependencies WHERE target_file_id IS NOT NULL) > 0
          AND (SELECT count(*) FROM astpg.dependencies WHERE target_file_id IS NULL) > 0,
          'some dependencies are resolved and some are not');
SELECT is_empty($$
    SELECT d.file_id, d.dependency_no
      FROM astpg.dependencies d
      JOIN astpg.files f ON f.file_id = d.file_id
     WHERE (d.target_file_id IS NULL) <> NOT EXISTS (
             SELECT FROM astpg.files t
              WHERE t.repository = f.repository
                AND (t.module = d.target OR t.path = d.target))
$$, 'a dependency is resolved exactly when its target is stored, whatever the order');

-- the round trip
SELECT set_eq(
    $$SELECT astpg.document(f.file_id) FROM astpg.files f$$,
    $$SELECT pg_temp.normalize_document(doc) FROM docs$$,
    'document() gives back every ingested document, defaults filled in');

-- the fixpoint, with and without the content hash
SELECT is((SELECT count(*) FROM astpg.files f, astpg.ingest(astpg.document(f.file_id)) r
            WHERE r.status = 'unchanged'), 52::bigint,
          'ingest(document(id)) is unchanged for every file');
CREATE TEMP TABLE before AS
SELECT f.file_id, astpg.document(f.file_id) - 'content_hash' AS doc FROM astpg.files f;
SELECT is((SELECT count(*) FROM before b, astpg.ingest(b.doc) r
            WHERE r.status = 'replaced' AND r.file_id = b.file_id), 52::bigint,
          'without a hash every file is replaced under its own file_id');
SELECT set_eq($$SELECT astpg.document(file_id) FROM before$$,
              $$SELECT doc FROM before$$,
              'document(ingest(document(id))) = document(id)');

-- errors: SQLSTATE and message
SELECT throws_ok($$SELECT astpg.ingest('{"path": "x.py", "language": "python", "functions": [{"name": "f", "line_start": 1, "line_end": 2}, {"name": "g", "line_start": "1", "line_end": 2}]}')$$,
    '22023', 'document.functions[1].line_start must be an integer, not a string',
    'a string where a line belongs');
SELECT throws_ok($$SELECT astpg.ingest('{"path": "x.py", "language": "python", "classes": {"name": "A"}}')$$,
    '22023', 'document.classes must be an array, not an object',
    'an object where an array belongs');
SELECT throws_ok($$SELECT astpg.ingest('{"path": "x.py", "language": "python", "functions": [{"name": "f", "line_start": 1, "line_end": 2, "class": "A"}]}')$$,
    '22023', 'document.functions[0].class names no enclosing class',
    'a class that names no enclosing class');
SELECT throws_ok($$SELECT astpg.ingest('{"path": "x.py", "language": "python", "metrics": {"loc": 1e400}}')$$,
    '22023', 'document.metrics.loc is out of range for double precision',
    'a metric beyond double precision');
SELECT throws_ok($$SELECT astpg.ingest('{"path": "x.py", "language": "python", "size_bytes": 9223372036854775808}')$$,
    '22023', 'document.size_bytes is out of range',
    'an integer beyond 64 bits');
SELECT is((SELECT count(*) FROM astpg.files WHERE path = 'x.py'), 0::bigint,
          'nothing of a refused document is stored');

-- a refused replacement keeps the stored copy whole
SELECT throws_ok(format('SELECT astpg.ingest(%L)',
                        jsonb_set(doc, '{functions,3,line_end}', '"x"')),
    '22023', 'document.functions[3].line_end must be an integer, not a string',
    'a bad replacement is refused')
  FROM corpus WHERE n = 1;
SELECT is(astpg.document(f.file_id), pg_temp.normalize_document(c.doc) - 'content_hash',
          'and the stored copy is unchanged')
  FROM corpus c JOIN astpg.files f ON f.path = c.doc->>'path' WHERE c.n = 1;

-- delete_file takes every row of the file and unresolves its dependents
SELECT ok(astpg.delete_file(doc->>'repository', doc->>'path'), 'delete_file finds the file')
  FROM corpus WHERE n = 2;
SELECT is_empty($$
    SELECT 'classes' FROM astpg.classes c WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = c.file_id)
    UNION ALL SELECT 'functions' FROM astpg.functions x WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = x.file_id)
    UNION ALL SELECT 'calls' FROM astpg.calls x WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = x.file_id)
    UNION ALL SELECT 'dependencies' FROM astpg.dependencies x WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = x.file_id)
    UNION ALL SELECT 'metrics' FROM astpg.metrics x WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = x.file_id)
$$, 'no row outlives its file');
SELECT is_empty($$
    SELECT FROM astpg.dependencies d JOIN corpus c ON c.n = 2
     WHERE d.target = c.doc->>'module' AND d.target_file_id IS NOT NULL
$$, 'dependencies on a deleted file are unresolved');
SELECT ok(NOT astpg.delete_file(doc->>'repository', doc->>'path'), 'a second delete finds nothing')
  FROM corpus WHERE n = 2;

SELECT * FROM finish();
ROLLBACK;
