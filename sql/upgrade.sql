--
-- upgrade: create astpg at its oldest version, use it with the new library,
-- update step by step with data in the tables, check the data, and check
-- that the updated extension equals a fresh install by definitions:
-- columns, constraints, indexes, functions, views, triggers, privileges.
--
\i test/fixtures/load_sample.sql
DROP EXTENSION astpg;
CREATE EXTENSION astpg VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';

-- 1.0's SQL definitions against the new library
SELECT count(*) FILTER (WHERE r.status = 'inserted') AS inserted FROM sample s, astpg.ingest(s.doc) r;
SELECT to_regproc('astpg.ingest_batch') IS NULL AS no_batch_in_1_0;

ALTER EXTENSION astpg UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT r.status, count(*) FROM astpg.ingest_batch((SELECT array_agg(doc) FROM sample)) r GROUP BY 1;
-- 1.1's tables get a reject and a file of a second repository
SELECT r.status FROM astpg.ingest_batch(ARRAY['{"path": "x.py"}',
  '{"repository": "other", "path": "lib/a.py", "module": "a", "language": "python",
    "dependencies": [{"target": "b"}]}',
  '{"repository": "other", "path": "lib/b.py", "module": "b", "language": "python"}']::jsonb[],
  'skip') r;
CREATE TEMP TABLE before AS
SELECT file_id, repository, path, astpg.document(file_id) AS doc FROM astpg.files;
CREATE TEMP VIEW row_counts AS
SELECT (SELECT count(*) FROM astpg.files) AS files,
       (SELECT count(*) FROM astpg.classes) AS classes,
       (SELECT count(*) FROM astpg.functions) AS functions,
       (SELECT count(*) FROM astpg.calls) AS calls,
       (SELECT count(*) FROM astpg.dependencies) AS dependencies,
       (SELECT count(target_file_id) FROM astpg.dependencies) AS resolved,
       (SELECT count(*) FROM astpg.metrics) AS metrics,
       (SELECT count(*) FROM astpg.ingests) AS ingests,
       (SELECT count(*) FROM astpg.rejects) AS rejects;
CREATE TEMP TABLE counts_before AS SELECT * FROM row_counts;

ALTER EXTENSION astpg UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';

-- the data survived: same rows, same documents under the same file_ids
SELECT * FROM row_counts EXCEPT SELECT * FROM counts_before;
SELECT count(*) AS same_documents FROM before b WHERE astpg.document(b.file_id) = b.doc;
-- every row has its repository's key
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
-- 1.2's functions work on the migrated data
SELECT r.status, count(*) FROM astpg.ingest_batch((SELECT array_agg(doc) FROM sample)) r GROUP BY 1;
SELECT r.status, r.file_id = b.file_id AS same_file_id
  FROM before b, astpg.ingest(b.doc || '{"content_hash": "sha256:new"}') r
 WHERE b.path = 'lib/b.py';
SELECT astpg.delete_file('other', 'lib/b.py');
SELECT d.target, d.target_file_id FROM astpg.dependencies d JOIN astpg.files f USING (repo_id, file_id)
 WHERE f.repository = 'other';

-- 1.3: answers.  The data stays, and shows in the new views.
CREATE TEMP TABLE before_1_3 AS
SELECT file_id, astpg.document(file_id) AS doc FROM astpg.files;
CREATE TEMP TABLE counts_1_2 AS SELECT * FROM row_counts;
ALTER EXTENSION astpg UPDATE TO '1.3';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT * FROM row_counts EXCEPT SELECT * FROM counts_1_2;
SELECT count(*) AS documents, count(*) FILTER (WHERE astpg.document(b.file_id) = b.doc) AS same
  FROM before_1_3 b;
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
-- history begins with the first version stored by 1.3
SELECT count(*) AS history_before FROM astpg.metric_history;
SELECT r.status FROM before_1_3 b, astpg.ingest(b.doc || '{"content_hash": "sha256:1.3"}') r
 WHERE b.doc ->> 'path' = 'json/decoder.py';
SELECT path, functions, complexity_total > 0 AS has_complexity FROM astpg.metric_history;
SELECT count(*) AS refreshed FROM astpg.refresh_analytics();
SELECT path, matched FROM astpg.find_symbol('JSONDecoder', ARRAY['class']);

-- 1.4: the data stays.
CREATE TEMP TABLE before_1_4 AS
SELECT file_id, astpg.document(file_id) AS doc FROM astpg.files;
ALTER EXTENSION astpg UPDATE TO '1.4';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT count(*) AS documents, count(*) FILTER (WHERE astpg.document(b.file_id) = b.doc) AS same
  FROM before_1_4 b;

-- 1.5: the data stays.
CREATE TEMP TABLE before_1_5 AS
SELECT file_id, astpg.document(file_id) AS doc FROM astpg.files;
ALTER EXTENSION astpg UPDATE TO '1.5';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
SELECT count(*) AS documents, count(*) FILTER (WHERE astpg.document(b.file_id) = b.doc) AS same
  FROM before_1_5 b;

-- definitions of an update and of a fresh install
CREATE TEMP VIEW definitions AS
WITH members AS (
    SELECT d.classid, d.objid
      FROM pg_depend d
      JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'astpg'
     WHERE d.deptype = 'e'
), tables AS (
    SELECT c.oid, c.relname, c.relkind, c.relacl, c.relpartbound
      FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
)
SELECT 'relation' AS kind, t.relname::text AS name,
       t.relkind::text || ' ' || COALESCE(t.relacl::text, '')
       || COALESCE(' partition by ' || pg_get_partkeydef(t.oid), '')
       || COALESCE(' ' || pg_get_expr(t.relpartbound, t.oid), '') AS definition
  FROM tables t
UNION ALL
SELECT 'column', t.relname || '.' || a.attname,
       a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
       || COALESCE(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
  FROM tables t
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = t.oid AND ad.adnum = a.attnum
UNION ALL
SELECT 'constraint', t.relname || '.' || co.conname, pg_get_constraintdef(co.oid)
  FROM tables t JOIN pg_constraint co ON co.conrelid = t.oid
UNION ALL
SELECT 'index', i.relname::text, pg_get_indexdef(i.oid)
  FROM tables t JOIN pg_index x ON x.indrelid = t.oid JOIN pg_class i ON i.oid = x.indexrelid
UNION ALL
SELECT 'trigger', t.relname || '.' || tg.tgname, pg_get_triggerdef(tg.oid)
  FROM tables t JOIN pg_trigger tg ON tg.tgrelid = t.oid AND NOT tg.tgisinternal
UNION ALL
SELECT 'view', t.relname::text, pg_get_viewdef(t.oid)
  FROM tables t WHERE t.relkind IN ('v', 'm')
UNION ALL
SELECT 'function', p.oid::regprocedure::text,
       pg_get_functiondef(p.oid) || ' ' || COALESCE(p.proacl::text, '')
  FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
UNION ALL
SELECT 'type', ty.typname::text, ty.typtype::text
  FROM pg_type ty JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = ty.oid
UNION ALL
SELECT 'kept by pg_dump', x::regclass::text, ''
  FROM pg_extension, unnest(extconfig) x WHERE extname = 'astpg';
CREATE TEMP TABLE updated AS SELECT * FROM definitions;
DROP VIEW row_counts;
DROP EXTENSION astpg;
CREATE EXTENSION astpg;
CREATE TEMP TABLE fresh AS SELECT * FROM definitions;
SELECT kind, count(*) FROM fresh GROUP BY 1 ORDER BY 1;
(SELECT 'only after update' AS side, * FROM updated EXCEPT SELECT 'only after update', * FROM fresh)
UNION ALL
(SELECT 'only in fresh install', * FROM fresh EXCEPT SELECT 'only in fresh install', * FROM updated)
ORDER BY 1, 2, 3;
-- the keys of 1.2 hold repo_id, after the ids
SELECT name, definition FROM fresh
 WHERE kind = 'constraint' AND definition ~ '^(PRIMARY|FOREIGN|UNIQUE)'
 ORDER BY 1;
SELECT name FROM fresh
 WHERE kind = 'kept by pg_dump' ORDER BY 1;
