--
-- unchanged: a document whose content_hash equals the stored one writes
-- only its audit row.  It is read and validated first, like any other: a
-- document that breaks a rule is refused whatever its hash: otherwise a
-- stored hash would let an invalid document through unread.
--
\i test/fixtures/try_ingest.sql
SELECT r.status FROM astpg.ingest('{"repository": "u", "path": "a.py", "language": "python",
  "content_hash": "h1", "revision": "r1",
  "functions": [{"name": "f", "line_start": 1, "line_end": 2}]}') r;

-- through the inbox (JSON text) and ingest_batch (jsonb)
BEGIN;
COPY astpg.inbox (doc) FROM STDIN;
{"repository": "u", "path": "a.py", "language": "python", "content_hash": "h1", "revision": "r2", "functions": [{"name": "f", "line_start": 1, "line_end": 2}]}
\.
SELECT documents, unchanged FROM astpg.ingest_counts();
COMMIT;
SELECT r.status FROM astpg.ingest_batch(ARRAY['{"repository": "u", "path": "a.py", "language": "python", "content_hash": "h1", "revision": "r3"}']::jsonb[]) r;
SELECT status, revision, functions FROM astpg.ingests WHERE repository = 'u' ORDER BY ingest_id;

-- text that is not valid JSON is refused even when its identity matches
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "u", "path": "a.py", "content_hash": "h1", "functions": [{"name": "f",, }]}
\.
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "u", "path": "a.py", "content_hash": "h1"
\.

-- escapes in the identity, or a value of another type: read in full
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "u", "path": "a\u002epy", "language": "python", "content_hash": "h1"}
\.
SELECT status FROM astpg.ingests WHERE repository = 'u' ORDER BY ingest_id DESC LIMIT 1;
SELECT pg_temp.try_ingest('{"repository": "u", "path": 5, "language": "python", "content_hash": "h1"}');
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "u", "path": ["a.py"], "language": "python", "content_hash": "h1"}
\.

-- a key given twice counts once, the last time, as in jsonb
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "u", "path": "zzz.py", "path": "a.py", "language": "python", "content_hash": "h0", "content_hash": "h1"}
\.
SELECT path, status FROM astpg.ingests WHERE repository = 'u' ORDER BY ingest_id DESC LIMIT 1;

-- the same content_hash does not let a document that breaks a rule in,
-- nor text that jsonb refuses, and they leave no audit row
\i test/fixtures/attempt.sql
CREATE TEMP TABLE audit_before AS
SELECT count(*) AS n FROM astpg.ingests WHERE repository = 'u';
SELECT pg_temp.try_ingest('{"repository": "u", "path": "a.py", "language": "python", "content_hash": "h1",
  "functions": [{"name": "g", "line_start": 5, "line_end": 1}]}');
SELECT pg_temp.try_ingest('{"astpg": 2, "repository": "u", "path": "a.py", "language": "NOT VALID!",
  "content_hash": "h1", "functions": "garbage"}');
SELECT pg_temp.attempt($$INSERT INTO astpg.inbox VALUES ('{"repository": "u", "path": "a.py",
  "language": "python", "content_hash": "h1", "note": "\u0000"}')$$);
SELECT count(*) - (SELECT n FROM audit_before) AS new_audit_rows
  FROM astpg.ingests WHERE repository = 'u';
SELECT name FROM astpg.functions fn JOIN astpg.files f USING (file_id) WHERE f.repository = 'u';

-- a new hash is read in full, and refused if it breaks a rule
SELECT pg_temp.try_ingest('{"repository": "u", "path": "a.py", "language": "python", "content_hash": "h2",
  "functions": [{"name": "g", "line_start": 5, "line_end": 1}]}');
SELECT pg_temp.try_ingest('{"repository": "u", "path": "a.py", "language": "python", "content_hash": "h2",
  "functions": [{"name": "g", "line_start": 1, "line_end": 5}]}');
SELECT name FROM astpg.functions fn JOIN astpg.files f USING (file_id) WHERE f.repository = 'u';

-- escaped quotes and backslashes in other values do not fool the scan
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"note": "x\", \"path\": \"zzz.py\\", "repository": "u", "path": "a.py", "language": "python", "content_hash": "h2", "deep": {"path": "no.py", "a": ["\\\"", {"content_hash": "h9"}]}}
\.
SELECT path, status, content_hash FROM astpg.ingests WHERE repository = 'u' ORDER BY ingest_id DESC LIMIT 1;
SELECT count(*) FROM astpg.files WHERE repository = 'u';
