--
-- document: astpg.document(file_id) rebuilds the stored document; for real
-- documents it equals what was ingested, modulo key order and defaults, and
-- ingest(document(id)) is a fixpoint.
--
\i test/fixtures/load_sample.sql
\i test/fixtures/normalize.sql

SELECT count(*) FROM sample s, astpg.ingest(s.doc) r;

-- every sample document comes back as ingested, defaults filled in
SELECT s.n, s.doc->>'path' AS path,
       astpg.document(f.file_id) = pg_temp.normalize_document(s.doc) AS round_trip
  FROM sample s
  JOIN astpg.files f ON f.repository = s.doc->>'repository' AND f.path = s.doc->>'path'
 ORDER BY s.n;

-- the fixpoint: same hash is a no-op; without the hash, a full rewrite that
-- gives back the same document
SELECT r.status FROM astpg.files f, astpg.ingest(astpg.document(f.file_id)) r
 WHERE f.path = 'collections/__init__.py';
CREATE TEMP TABLE first AS
SELECT f.file_id, astpg.document(f.file_id) - 'content_hash' AS doc
  FROM astpg.files f JOIN sample s ON s.doc->>'path' = f.path;
SELECT count(*) FILTER (WHERE r.status = 'replaced') AS replaced
  FROM first, astpg.ingest(first.doc) r;
SELECT count(*) FILTER (WHERE astpg.document(file_id) = doc) AS fixpoints, count(*) AS files
  FROM first;

-- defaults filled in for a minimal document, unknown keys merged back
SELECT r.status FROM astpg.ingest('{"repository": "d", "path": "min.py", "language": "python",
  "x-tool": "extract 1.2",
  "classes": [{"name": "A", "line_start": 1, "line_end": 9},
              {"name": "B", "parent": "A", "line_start": 2, "line_end": 8, "kind": "dataclass"}],
  "functions": [{"name": "f", "class": "A.B", "line_start": 3, "line_end": 4,
                 "parameters": ["self", {"name": "x", "type": "int", "default": "0"}],
                 "calls": [{"name": "g", "extra": [1]}]}],
  "dependencies": [{"target": "os", "line": 1}],
  "ast": {"_type": "Module"}}') r;
SELECT jsonb_pretty(astpg.document(file_id)) FROM astpg.files WHERE repository = 'd' AND path = 'min.py';

-- not stored: NULL
SELECT astpg.document(-1) IS NULL AS no_document;
