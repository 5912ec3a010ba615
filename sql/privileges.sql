--
-- privileges: astpg_reader reads, astpg_writer also writes through the API
-- (never the tables directly), PUBLIC gets nothing.
--
CREATE ROLE regress_astpg_nobody;
CREATE ROLE regress_astpg_reader IN ROLE astpg_reader;
CREATE ROLE regress_astpg_writer IN ROLE astpg_writer;

-- nothing granted to PUBLIC on any object of the extension
SELECT c.relname, a.privilege_type
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.relnamespace = 'astpg'::regnamespace AND a.grantee = 0
UNION ALL
SELECT p.proname, a.privilege_type
  FROM pg_proc p, aclexplode(p.proacl) a
 WHERE p.pronamespace = 'astpg'::regnamespace AND a.grantee = 0;
SELECT has_schema_privilege('public', 'astpg', 'USAGE') AS public_usage;

-- what each role may do
SELECT r.role,
       has_table_privilege(r.role, 'astpg.files', 'SELECT') AS select_files,
       has_table_privilege(r.role, 'astpg.ingests', 'SELECT') AS select_ingests,
       has_table_privilege(r.role, 'astpg.files', 'INSERT') AS insert_files,
       has_table_privilege(r.role, 'astpg.ingests', 'DELETE') AS delete_ingests,
       has_function_privilege(r.role, 'astpg.document(bigint)', 'EXECUTE') AS document,
       has_function_privilege(r.role, 'astpg.ingest(jsonb)', 'EXECUTE') AS ingest,
       has_function_privilege(r.role, 'astpg.delete_file(text, text)', 'EXECUTE') AS delete_file
  FROM (VALUES ('regress_astpg_nobody'), ('regress_astpg_reader'), ('regress_astpg_writer')) AS r(role)
 ORDER BY r.role;

SET SESSION AUTHORIZATION regress_astpg_nobody;
SELECT count(*) FROM astpg.files;
SELECT * FROM astpg.ingest('{"path": "p.c", "language": "c"}');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_astpg_writer;
SELECT r.status FROM astpg.ingest('{"repository": "priv", "path": "p.c", "language": "c",
  "functions": [{"name": "main", "line_start": 1, "line_end": 3}]}') r;
SELECT path, (astpg.document(file_id))->'functions'->0->>'name' AS fn
  FROM astpg.files WHERE repository = 'priv';
-- the audit log names the caller, not the function's owner
SELECT ingested_by, status FROM astpg.ingests WHERE repository = 'priv' ORDER BY ingest_id;
-- writers cannot bypass the API, nor edit the audit log
INSERT INTO astpg.files (repository, path, language) VALUES ('priv', 'q.c', 'c');
DELETE FROM astpg.ingests;
UPDATE astpg.functions SET name = 'x';
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_astpg_reader;
SELECT count(*) FROM astpg.functions fn JOIN astpg.files f USING (file_id) WHERE f.repository = 'priv';
SELECT * FROM astpg.ingest('{"repository": "priv", "path": "r.c", "language": "c"}');
SELECT astpg.delete_file('priv', 'p.c');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_astpg_writer;
SELECT astpg.delete_file('priv', 'p.c');
RESET SESSION AUTHORIZATION;
SELECT ingested_by, status FROM astpg.ingests WHERE repository = 'priv' ORDER BY ingest_id;

-- 1.4: a reader writes through none of the batch path's entry points, nor
-- calls what only astpg's own functions call
SET SESSION AUTHORIZATION regress_astpg_reader;
SELECT * FROM astpg.ingest_batch(ARRAY['{"repository": "priv", "path": "s.c", "language": "c"}']::jsonb[], 'skip');
INSERT INTO astpg.inbox (doc) VALUES ('{"repository": "priv", "path": "t.c", "language": "c"}');
SELECT astpg.record_reject('x', '22023', 'made up');
SELECT * FROM astpg.dependency_targets('priv', ARRAY['p.c']);
SELECT astpg.resolve_dependencies('priv');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_astpg_writer;
SELECT * FROM astpg.dependency_targets('priv', ARRAY['p.c']);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS written_by_reader FROM astpg.files WHERE repository = 'priv' AND path IN ('s.c', 't.c');
SELECT count(*) AS rejects_by_reader FROM astpg.rejects WHERE message = 'made up';

DROP ROLE regress_astpg_nobody, regress_astpg_reader, regress_astpg_writer;
