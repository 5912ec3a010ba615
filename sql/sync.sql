--
-- sync: the server side of astpg-index.  stored_hashes() tells a client
-- what is stored, record_unchanged() logs the files it found unchanged
-- (as ingest would, set-wise), delete_files() deletes what left its tree.
--
\i test/fixtures/attempt.sql
SELECT i.status FROM astpg.ingest_batch(ARRAY[
  '{"repository": "sync", "path": "a.py", "module": "a", "language": "python", "content_hash": "ha", "revision": "r1"}',
  '{"repository": "sync", "path": "b.py", "module": "b", "language": "python", "content_hash": "hb", "revision": "r1",
    "dependencies": [{"target": "a"}, {"target": "c"}]}',
  '{"repository": "sync", "path": "c.py", "module": "c", "language": "python", "content_hash": "hc", "revision": "r1"}',
  '{"repository": "sync", "path": "nohash.py", "language": "python"}',
  '{"repository": "other", "path": "a.py", "language": "python", "content_hash": "ha"}'
]::jsonb[]) i;

-- what is stored, one repository at a time
SELECT * FROM astpg.stored_hashes('sync') ORDER BY path;
SELECT * FROM astpg.stored_hashes('nothing') ORDER BY path;

-- equal, different, unknown, and stored without a hash: only the first is
-- unchanged, and only it gets an audit row (with the revision given)
SELECT * FROM astpg.record_unchanged('sync',
  ARRAY['a.py', 'b.py', 'new.py', 'nohash.py'], ARRAY['ha', 'hB', 'hn', 'h'],
  ARRAY['r2', 'r2', 'r2', 'r2']);
SELECT repository, path, revision, content_hash, status, file_id = (SELECT file_id FROM astpg.files
         WHERE repository = 'sync' AND path = 'a.py') AS same_file,
       classes + functions + calls + dependencies + metrics AS rows, duration >= '0' AS timed,
       ingested_by = session_user AS by_caller
  FROM astpg.ingests WHERE repository = 'sync' AND status = 'unchanged' ORDER BY ingest_id;
-- without revisions; the stored rows are left as they were
SELECT * FROM astpg.record_unchanged('sync', ARRAY['c.py'], ARRAY['hc']);
SELECT path, revision, status FROM astpg.ingests
 WHERE repository = 'sync' AND status = 'unchanged' ORDER BY ingest_id;
SELECT path, revision, content_hash FROM astpg.files WHERE repository = 'sync' ORDER BY path;
SELECT * FROM astpg.record_unchanged('sync', '{}', '{}');
SELECT pg_temp.attempt($$SELECT astpg.record_unchanged('sync', ARRAY['a.py', 'b.py'], ARRAY['ha'])$$);
SELECT pg_temp.attempt($$SELECT astpg.record_unchanged('sync', ARRAY['a.py'], ARRAY['ha'], ARRAY['r', 'r'])$$);
SELECT pg_temp.attempt($$SELECT astpg.record_unchanged('sync', NULL, ARRAY['ha'])$$);

-- nothing to delete
SELECT * FROM astpg.delete_files('sync', ARRAY['a.py', 'b.py', 'c.py', 'nohash.py', 'new.py']);
-- a.py and c.py go: b.py's dependencies on them are cleared, the other
-- repository's a.py stays, each deletion is audited
SELECT f.path, d.target, t.path AS resolved_to
  FROM astpg.dependencies d JOIN astpg.files f USING (file_id)
  LEFT JOIN astpg.files t ON t.file_id = d.target_file_id
 WHERE f.repository = 'sync' ORDER BY d.target;
SELECT * FROM astpg.delete_files('sync', ARRAY['b.py', 'nohash.py', 'new.py']) ORDER BY path;
SELECT f.path, d.target, d.target_file_id
  FROM astpg.dependencies d JOIN astpg.files f USING (file_id)
 WHERE f.repository = 'sync' ORDER BY d.target;
SELECT repository, path FROM astpg.files
 WHERE repository IN ('sync', 'other') ORDER BY repository, path;
SELECT repository, path, revision, content_hash, status, file_id IS NOT NULL AS has_file_id
  FROM astpg.ingests WHERE repository = 'sync' AND status = 'deleted' ORDER BY ingest_id;
-- an empty list deletes the repository's every file
SELECT * FROM astpg.delete_files('sync', '{}') ORDER BY path;
SELECT * FROM astpg.stored_hashes('sync');
SELECT pg_temp.attempt($$SELECT astpg.delete_files('sync', NULL)$$);

-- privileges: readers ask, only writers record and delete
CREATE ROLE regress_astpg_sync_reader IN ROLE astpg_reader;
CREATE ROLE regress_astpg_sync_writer IN ROLE astpg_writer;
SELECT r.role,
       has_function_privilege(r.role, 'astpg.stored_hashes(text)', 'EXECUTE') AS stored_hashes,
       has_function_privilege(r.role, 'astpg.record_unchanged(text, text[], text[], text[])', 'EXECUTE')
           AS record_unchanged,
       has_function_privilege(r.role, 'astpg.delete_files(text, text[])', 'EXECUTE') AS delete_files
  FROM (VALUES ('public'), ('regress_astpg_sync_reader'), ('regress_astpg_sync_writer')) AS r(role)
 ORDER BY r.role;
SET SESSION AUTHORIZATION regress_astpg_sync_reader;
SELECT * FROM astpg.stored_hashes('other');
SELECT pg_temp.attempt($$SELECT astpg.record_unchanged('other', ARRAY['a.py'], ARRAY['ha'])$$);
SELECT pg_temp.attempt($$SELECT astpg.delete_files('other', '{}')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_astpg_sync_writer;
SELECT * FROM astpg.record_unchanged('other', ARRAY['a.py'], ARRAY['ha']);
SELECT * FROM astpg.delete_files('other', '{}');
RESET SESSION AUTHORIZATION;
SELECT repository, path, status, ingested_by FROM astpg.ingests
 WHERE repository = 'other' ORDER BY ingest_id;
DROP ROLE regress_astpg_sync_reader, regress_astpg_sync_writer;
