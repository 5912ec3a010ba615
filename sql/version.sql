--
-- version: the library writes into the tables of its own version only.
-- Where the installed extension is another version (a new library
-- installed, the database not yet updated), every writing entry point
-- refuses with the hint to update, even in a session whose plans were
-- prepared before; reads written in SQL keep working.  The installed
-- version is set by hand here, as ALTER EXTENSION ... UPDATE would.
--
SELECT status FROM astpg.ingest('{"repository": "v", "path": "a.py", "language": "python", "content_hash": "sha256:a1"}');
SELECT extversion AS installed FROM pg_extension WHERE extname = 'astpg' \gset
UPDATE pg_extension SET extversion = '1.0' WHERE extname = 'astpg';
SELECT status FROM astpg.ingest('{"repository": "v", "path": "a.py", "language": "python", "content_hash": "sha256:a2"}');
SELECT status FROM astpg.ingest_batch(ARRAY['{"repository": "v", "path": "b.py", "language": "python"}']::jsonb[], 'skip');
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "v", "path": "c.py", "language": "python"}
\.
SELECT astpg.record_reject('not JSON', '22P02', 'invalid input syntax for type json', NULL);
-- reads
SELECT path, content_hash, astpg.document(file_id) ->> 'language' AS language
  FROM astpg.files WHERE repository = 'v' ORDER BY path;
SELECT count(*) AS ingests FROM astpg.ingests WHERE repository = 'v';
-- an installed version newer than the library: the hint differs
UPDATE pg_extension SET extversion = '99.0' WHERE extname = 'astpg';
SELECT status FROM astpg.ingest('{"repository": "v", "path": "a.py", "language": "python", "content_hash": "sha256:a2"}');
-- the library's own version again: the same session writes
UPDATE pg_extension SET extversion = :'installed' WHERE extname = 'astpg';
SELECT status FROM astpg.ingest('{"repository": "v", "path": "a.py", "language": "python", "content_hash": "sha256:a2"}');
SELECT path, content_hash FROM astpg.files WHERE repository = 'v' ORDER BY path;
