--
-- inbox: COPY astpg.inbox (doc) FROM STDIN ingests each row as it arrives
-- and keeps none; astpg.on_error says what a refused document does.
--
-- the setting can be made before the library is loaded, and it is kept
SET astpg.on_error = abort;

-- abort: one refused document fails the whole COPY
COPY astpg.inbox (doc) FROM STDIN;
{"repository": "in", "path": "a.c", "language": "c"}
{"repository": "in", "path": "b.c", "language": "c", "functions": [{"name": "f", "line_start": 0, "line_end": 1}]}
\.
SELECT count(*) FROM astpg.files WHERE repository = 'in';
SHOW astpg.on_error;

-- documents full of backslashes, tabs, quotes and non-ASCII arrive intact
-- through CSV with a quote and a delimiter that JSON text cannot hold raw
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "in", "path": "C:\\dir\\tab\there.c", "language": "c", "revision": "\"quoted\" \\. é ü 😀"}
{"repository": "in", "path": "\\.", "language": "c"}
\.
SELECT path, revision FROM astpg.files WHERE repository = 'in' ORDER BY path;
SELECT count(*) AS kept_in_inbox FROM astpg.inbox;

-- skip: refused documents are stored whole, the rest go on
SET astpg.on_error = skip;
BEGIN;
COPY astpg.inbox (doc) FROM STDIN;
{"repository": "in", "path": "c.c", "language": "c"}
not JSON at all
{"repository": "in", "path": "d.c", "language": "c", "metrics": {"loc": "many"}}
{"repository": "in", "path": "e.c", "language": "c"}
\.
SELECT * FROM astpg.ingest_counts();
COMMIT;
SELECT path FROM astpg.files WHERE repository = 'in' ORDER BY path;
SELECT source, position, repository, path, document, document_text, sqlstate, message
  FROM astpg.rejects WHERE source = 'inbox' ORDER BY reject_id;

-- an empty line is an empty document: not JSON, rejected
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02', FORCE_NOT_NULL (doc));

\.
SELECT count(*) FROM astpg.rejects WHERE document_text = '';

-- a COPY whose statement trigger does not fire: its documents were read but
-- never written, and the commit fails rather than drop them
ALTER TABLE astpg.inbox DISABLE TRIGGER inbox_flush;
SELECT count(*) AS files_before FROM astpg.files \gset
\copy astpg.inbox (doc) FROM 'test/fixtures/stdlib-sample.ndjson' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
SELECT count(*) - :files_before AS stored FROM astpg.files;
BEGIN;
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "lost", "path": "a.py", "language": "python"}
{"repository": "lost", "path": "b.py", "language": "python"}
{"repository": "lost", "path": "c.py", "language": "python"}
\.
SELECT documents FROM astpg.ingest_counts();
COMMIT;
SELECT count(*) AS stored FROM astpg.files WHERE repository = 'lost';
-- a later statement that fires it writes what earlier ones left
BEGIN;
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "lost", "path": "a.py", "language": "python"}
\.
ALTER TABLE astpg.inbox ENABLE TRIGGER inbox_flush;
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "lost", "path": "b.py", "language": "python"}
\.
COMMIT;
SELECT path FROM astpg.files WHERE repository = 'lost' ORDER BY path;

-- plain INSERT works too, jsonb included
INSERT INTO astpg.inbox (doc)
SELECT jsonb_build_object('repository', 'in', 'path', 'ins' || i || '.c', 'language', 'c')
  FROM generate_series(1, 3) i;
SELECT count(*) FROM astpg.files WHERE repository = 'in' AND path LIKE 'ins%';
SELECT count(*) AS kept_in_inbox FROM astpg.inbox;
RESET astpg.on_error;

-- a bad setting is refused
SET astpg.on_error = ignore;

-- who may use the inbox
SELECT has_table_privilege('astpg_writer', 'astpg.inbox', 'INSERT') AS writer_insert,
       has_table_privilege('astpg_reader', 'astpg.inbox', 'INSERT') AS reader_insert,
       has_table_privilege('astpg_reader', 'astpg.rejects', 'SELECT') AS reader_rejects,
       has_table_privilege('astpg_writer', 'astpg.rejects', 'DELETE') AS writer_delete_rejects,
       has_function_privilege('astpg_writer', 'astpg.ingest_batch(jsonb[], text)', 'EXECUTE') AS writer_batch,
       has_function_privilege('astpg_reader', 'astpg.ingest_batch(jsonb[], text)', 'EXECUTE') AS reader_batch;
