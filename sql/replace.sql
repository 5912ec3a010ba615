--
-- replace: ingesting a stored (repository, path) replaces everything stored
-- for it in one transaction, keeping its file_id; the same content_hash
-- leaves it alone.
--
CREATE TEMP TABLE v (version int, doc jsonb);
INSERT INTO v VALUES
 (1, '{"repository": "r", "path": "m.py", "module": "m", "language": "python",
       "content_hash": "h1", "revision": "1", "size_bytes": 100,
       "classes": [{"name": "A", "line_start": 1, "line_end": 20},
                   {"name": "B", "parent": "A", "line_start": 5, "line_end": 10}],
       "functions": [{"name": "f", "class": "A", "line_start": 2, "line_end": 4,
                      "calls": [{"name": "g", "line": 3}, {"name": "h", "line": 4}]},
                     {"name": "g", "line_start": 30, "line_end": 31}],
       "dependencies": [{"target": "os"}, {"target": "sys", "names": ["argv"]}],
       "metrics": {"loc": 31}}'),
 (2, '{"repository": "r", "path": "m.py", "module": "m", "language": "python",
       "content_hash": "h2", "revision": "2", "size_bytes": 50,
       "functions": [{"name": "k", "line_start": 1, "line_end": 2, "calls": [{"name": "print"}]}],
       "metrics": {"loc": 2, "sloc": 2}}');

SELECT r.status, r.classes, r.functions, r.calls, r.dependencies, r.metrics
  FROM v, astpg.ingest(v.doc) r WHERE v.version = 1;
SELECT file_id AS first_id, created_at AS first_created FROM astpg.files WHERE repository = 'r' AND path = 'm.py' \gset

CREATE TEMP VIEW stored AS
SELECT (SELECT count(*) FROM astpg.classes WHERE file_id = :first_id) AS classes,
       (SELECT count(*) FROM astpg.functions WHERE file_id = :first_id) AS functions,
       (SELECT count(*) FROM astpg.calls WHERE file_id = :first_id) AS calls,
       (SELECT count(*) FROM astpg.dependencies WHERE file_id = :first_id) AS dependencies,
       (SELECT string_agg(name || '=' || value, ',' ORDER BY name) FROM astpg.metrics WHERE file_id = :first_id) AS metrics,
       (SELECT revision FROM astpg.files WHERE file_id = :first_id) AS revision;
SELECT * FROM stored;

-- version 2 replaces version 1 whole, under the same file_id
SELECT r.status, r.classes, r.functions, r.calls, r.dependencies, r.metrics
  FROM v, astpg.ingest(v.doc) r WHERE v.version = 2;
SELECT * FROM stored;
SELECT file_id = :first_id AS same_id, created_at = :'first_created' AS same_created,
       updated_at >= created_at AS updated, size_bytes
  FROM astpg.files WHERE repository = 'r' AND path = 'm.py';

-- same hash again: unchanged; the audit log has all three
SELECT r.status FROM v, astpg.ingest(v.doc) r WHERE v.version = 2;
SELECT status, revision, content_hash, functions, calls
  FROM astpg.ingests WHERE repository = 'r' AND path = 'm.py' ORDER BY ingest_id;

-- without a content_hash, nothing is known to be unchanged: always replaced
SELECT r.status FROM v, astpg.ingest(v.doc - 'content_hash') r WHERE v.version = 2;
SELECT r.status FROM v, astpg.ingest(v.doc - 'content_hash') r WHERE v.version = 2;

-- a refused replacement leaves the stored copy as it was
SELECT * FROM astpg.ingest('{"repository": "r", "path": "m.py", "language": "python",
  "functions": [{"name": "x", "line_start": 1, "line_end": "2"}]}');
SELECT * FROM stored;

-- a replacement in a transaction that rolls back leaves it as well
BEGIN;
SELECT r.status FROM v, astpg.ingest(v.doc) r WHERE v.version = 1;
SELECT * FROM stored;
ROLLBACK;
SELECT * FROM stored;

-- repositories are distinct name spaces
SELECT r.status FROM v, astpg.ingest(jsonb_set(v.doc, '{repository}', '"other"')) r WHERE v.version = 1;
SELECT repository, count(*) FROM astpg.files WHERE path = 'm.py' GROUP BY repository ORDER BY repository;

-- delete_file removes a file and everything of it, and logs it
SELECT astpg.delete_file('other', 'm.py');
SELECT astpg.delete_file('other', 'm.py');
SELECT count(*) FROM astpg.files WHERE repository = 'other';
SELECT count(*) FROM astpg.functions fn WHERE NOT EXISTS (SELECT FROM astpg.files f WHERE f.file_id = fn.file_id);
SELECT status, path FROM astpg.ingests WHERE repository = 'other' ORDER BY ingest_id;
