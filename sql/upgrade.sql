--
-- upgrade: create astpg at its oldest version with real data in place,
-- update it step by step to the newest, check at each step that the data
-- stayed as it was, write with the library into the migrated data, and
-- check that the updated extension equals a fresh install (astpg--1.7.sql)
-- by definitions (test/fixtures/definitions.sql says which).
--
-- The library writes into its own version only, so the data goes into
-- 1.0's tables with SQL, as 1.0's ingest stored it
-- (test/fixtures/shred_1_0.sql), and nothing is written between the
-- updates: reads only, until the last.
--
\i test/fixtures/load_sample.sql
\i test/fixtures/normalize.sql
\i test/fixtures/shred_1_0.sql
\i test/fixtures/definitions.sql

-- The rows of every table astpg had before 1.2 added repo_id, in the
-- columns it had then, as one digest a table: the same digest, the same
-- rows.
CREATE FUNCTION pg_temp.table_digests()
RETURNS TABLE (tab text, row_count bigint, digest text)
LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT * FROM (VALUES
            ('files', 'file_id', 'file_id, repository, path, module, language, revision, '
                                 'size_bytes, content_hash, ast, attrs, created_at, updated_at'),
            ('classes', 'class_id', 'class_id, file_id, parent_id, name, qualified_name, '
                                    'namespace, bases, line_start, line_end, is_abstract, attrs'),
            ('functions', 'function_id', 'function_id, file_id, class_id, name, qualified_name, '
                                         'signature, parameters, parameter_count, return_type, '
                                         'line_start, line_end, complexity, is_async, '
                                         'decorators, attrs'),
            ('calls', 'function_id, call_no', 'function_id, call_no, file_id, callee, line, attrs'),
            ('dependencies', 'file_id, dependency_no',
             'file_id, dependency_no, target, target_file_id, kind, line, strength, names, attrs'),
            ('metrics', 'file_id, name', 'file_id, name, value'),
            ('ingests', 'ingest_id', 'ingest_id, ingested_at, ingested_by, repository, path, '
                                     'revision, content_hash, status, file_id, classes, '
                                     'functions, calls, dependencies, metrics, duration'),
            ('rejects', 'reject_id', 'reject_id, rejected_at, rejected_by, source, position, '
                                     'repository, path, document, document_text, sqlstate, '
                                     'message, detail')) AS v(tab, keys, cols)
    LOOP
        CONTINUE WHEN to_regclass('astpg.' || t.tab) IS NULL;
        RETURN QUERY EXECUTE format(
            'SELECT %L::text, count(*), md5(string_agg(x::text, E''\n'' ORDER BY %s))'
            '  FROM (SELECT %s FROM astpg.%I) x', t.tab, t.keys, t.cols, t.tab);
    END LOOP;
END
$$;

-- After an update: every table's rows, and every file's document, as they
-- were before it.
CREATE FUNCTION pg_temp.unchanged()
RETURNS TABLE (tables bigint, same_rows bigint, documents bigint, same_documents bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    SELECT (SELECT count(*) FROM digests_before),
           (SELECT count(*) FROM pg_temp.table_digests() d
              JOIN digests_before b USING (tab, row_count, digest)),
           (SELECT count(*) FROM documents_before),
           (SELECT count(*) FROM documents_before b
             WHERE astpg.document(b.file_id) IS NOT DISTINCT FROM b.doc);
END
$$;

-- The documents astpg holds here: the sample's twelve, and a second
-- repository in which a imports b.
CREATE TEMP TABLE docs AS
SELECT n, doc FROM sample
UNION ALL
SELECT 12 + n, doc FROM (VALUES
    (1, '{"repository": "other", "path": "lib/a.py", "module": "a", "language": "python",
          "dependencies": [{"target": "b"}]}'::jsonb),
    (2, '{"repository": "other", "path": "lib/b.py", "module": "b", "language": "python"}')) v(n, doc);

-- each route makes the schema too (DROP EXTENSION leaves it, with its
-- privileges)
DROP EXTENSION astpg;
DROP SCHEMA astpg;
CREATE EXTENSION astpg VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
-- the library writes into its own version only: at 1.0 every writing
-- entry point refuses, with the hint to update, and writes nothing
SELECT status FROM astpg.ingest((SELECT doc FROM docs ORDER BY n LIMIT 1));
SELECT count(*) AS files FROM astpg.files;

-- 1.0's tables filled with SQL, as 1.0's ingest would have filled them:
-- each document comes back from 1.0's document() as ingest gives it back
CREATE TEMP TABLE stored AS
SELECT d.n, d.doc, pg_temp.shred_1_0(d.doc) AS file_id FROM docs d ORDER BY d.n;
SELECT count(*) AS documents,
       count(*) FILTER (WHERE astpg.document(file_id) = pg_temp.normalize_document(doc))
       AS as_ingest_gives_them
  FROM stored;
-- 1.0's resolution, in SQL: each dependency on a stored module
SELECT astpg.resolve_dependencies() AS resolved;
SELECT to_regproc('astpg.ingest_batch') IS NULL AS no_batch_in_1_0;
CREATE TEMP TABLE digests_before AS SELECT * FROM pg_temp.table_digests();
CREATE TEMP TABLE documents_before AS
SELECT file_id, astpg.document(file_id) AS doc FROM astpg.files;
SELECT tab, row_count FROM digests_before ORDER BY 1;

-- 1.1: bulk loading.  The data stays; rejects gets a row, as 1.1's
-- ingest_batch(..., 'skip') stored one.
ALTER EXTENSION astpg UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT * FROM pg_temp.unchanged();
INSERT INTO astpg.rejects (source, position, path, document, sqlstate, message)
VALUES ('ingest_batch', 0, 'x.py', '{"path": "x.py"}', '22023',
        'documents[0].language is required');
TRUNCATE digests_before;
INSERT INTO digests_before SELECT * FROM pg_temp.table_digests();

-- 1.2: repo_id in every table and key.  The data stays, and every row has
-- its repository's key.
ALTER EXTENSION astpg UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT * FROM pg_temp.unchanged();
SELECT count(*) AS files_keyed FROM astpg.files WHERE repo_id = astpg.repo_id(repository);
SELECT t.tab, count(*) AS wrong_repo_id
  FROM (SELECT 'classes' AS tab, repo_id, file_id FROM astpg.classes
        UNION ALL SELECT 'functions', repo_id, file_id FROM astpg.functions
        UNION ALL SELECT 'calls', repo_id, file_id FROM astpg.calls
        UNION ALL SELECT 'dependencies', repo_id, file_id FROM astpg.dependencies
        UNION ALL SELECT 'metrics', repo_id, file_id FROM astpg.metrics) t
  JOIN astpg.files f USING (file_id)
 WHERE t.repo_id <> f.repo_id
 GROUP BY 1;
SELECT count(*) AS logs_keyed FROM astpg.ingests WHERE repo_id = astpg.repo_id(repository);
SELECT repository, repo_id = astpg.repo_id('') AS keyed_as_empty FROM astpg.rejects;
SELECT count(*) AS documents, count(*) FILTER (WHERE astpg.document(f.repo_id, f.file_id)
                                                     = astpg.document(f.file_id)) AS same_by_key
  FROM astpg.files f;

-- 1.3: answers.  The data stays, and shows in the new views.
ALTER EXTENSION astpg UPDATE TO '1.3';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT * FROM pg_temp.unchanged();
SELECT count(*) AS views_refreshed FROM astpg.refresh_analytics(false);
-- every file, function, call and dependency is counted once in the views
SELECT s.repository, s.language, s.files, s.functions, s.calls, s.dependencies,
       s.resolved_dependencies,
       (s.files, s.functions, s.calls, s.dependencies, s.resolved_dependencies)
       = (SELECT count(*), sum((SELECT count(*) FROM astpg.functions x WHERE x.file_id = f.file_id)),
                 sum((SELECT count(*) FROM astpg.calls x WHERE x.file_id = f.file_id)),
                 sum((SELECT count(*) FROM astpg.dependencies x WHERE x.file_id = f.file_id)),
                 sum((SELECT count(target_file_id) FROM astpg.dependencies x
                       WHERE x.file_id = f.file_id))
            FROM astpg.files f WHERE f.repository = s.repository AND f.language = s.language)
       AS same_as_tables
  FROM astpg.repository_summary s ORDER BY 1, 2;
SELECT count(*) AS files_summarized FROM astpg.file_summary s
  JOIN astpg.files f USING (file_id, repo_id);
SELECT count(*) AS hotspots FROM astpg.function_hotspots;
SELECT path, matched FROM astpg.find_symbol('JSONDecoder', ARRAY['class']);
-- history begins with the first version stored after 1.3
SELECT count(*) AS history FROM astpg.metric_history;

-- 1.4 and 1.5: the data stays.
ALTER EXTENSION astpg UPDATE TO '1.4';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT * FROM pg_temp.unchanged();
ALTER EXTENSION astpg UPDATE TO '1.5';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT * FROM pg_temp.unchanged();
SELECT count(*) AS refreshed FROM astpg.refresh_analytics();

-- 1.6: the data stays.
ALTER EXTENSION astpg UPDATE TO '1.6';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT * FROM pg_temp.unchanged();

-- 1.7: the data stays, and the library writes into it.
ALTER EXTENSION astpg UPDATE TO '1.7';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT * FROM pg_temp.unchanged();
-- every document again: unchanged where its content_hash is stored,
-- replaced (under its file_id) where it has none
SELECT r.status, count(*), bool_and(r.file_id = s.file_id) AS same_file_ids
  FROM astpg.ingest_batch((SELECT array_agg(doc ORDER BY n) FROM docs))
       WITH ORDINALITY AS r(file_id, status, classes, functions, calls, dependencies, metrics, n)
  JOIN stored s USING (n)
 GROUP BY 1 ORDER BY 1;
-- a changed document replaces the stored one, under its file_id, and
-- starts its history
UPDATE stored SET doc = doc || '{"content_hash": "sha256:1.6", "revision": "3.11.8"}'
 WHERE doc ->> 'path' = 'json/decoder.py';
SELECT r.status, r.file_id = s.file_id AS same_file_id
  FROM stored s, astpg.ingest(s.doc) r
 WHERE s.doc ->> 'path' = 'json/decoder.py';
SELECT path, revision, status, functions, complexity_total > 0 AS has_complexity
  FROM astpg.metric_history ORDER BY path, ingested_at;
-- each document reads as it was given: the changed one, and the others as
-- they were stored at 1.0
SELECT count(*) AS documents,
       count(*) FILTER (WHERE astpg.document(file_id) = pg_temp.normalize_document(doc)) AS same
  FROM stored;
-- deleting a file unresolves the dependencies on it; storing it again
-- (through the inbox) resolves them
SELECT astpg.delete_file('other', 'lib/b.py');
SELECT d.target, d.target_file_id FROM astpg.dependencies d
  JOIN astpg.files f USING (repo_id, file_id)
 WHERE f.repository = 'other';
COPY astpg.inbox (doc) FROM STDIN;
{"repository": "other", "path": "lib/b.py", "module": "b", "language": "python"}
\.
SELECT d.target, d.target_file_id = t.file_id AS resolved
  FROM astpg.dependencies d
  JOIN astpg.files f USING (repo_id, file_id)
  JOIN astpg.files t ON t.repository = 'other' AND t.path = 'lib/b.py'
 WHERE f.repository = 'other';
SELECT astpg.resolve_dependencies() AS changed;
SELECT status, count(*) FROM astpg.ingests GROUP BY 1 ORDER BY 1;

-- definitions of the updated extension and of a fresh install
CREATE TEMP TABLE updated AS SELECT * FROM definitions;
DROP EXTENSION astpg;
DROP SCHEMA astpg;
CREATE EXTENSION astpg;
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
CREATE TEMP TABLE fresh AS SELECT * FROM definitions;
SELECT kind, count(*) FROM fresh GROUP BY 1 ORDER BY 1;
(SELECT 'only after update' AS side, * FROM updated EXCEPT SELECT 'only after update', * FROM fresh)
UNION ALL
(SELECT 'only in fresh install', * FROM fresh EXCEPT SELECT 'only in fresh install', * FROM updated)
ORDER BY 1, 2, 3;
-- the keys hold repo_id, after the ids
SELECT name, definition FROM fresh
 WHERE kind = 'constraint' AND definition ~ '^(PRIMARY|FOREIGN|UNIQUE)'
 ORDER BY 1;
SELECT name FROM fresh
 WHERE kind = 'kept by pg_dump' ORDER BY 1;
