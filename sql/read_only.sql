--
-- read_only: in a read-only transaction (and on a hot standby, which
-- test/standby.sh checks) every writing entry point refuses at once with
-- SQLSTATE 25006, naming itself, before it reads a document; nothing is
-- written.
--
\i test/fixtures/attempt.sql
SET default_transaction_read_only = on;
SELECT pg_temp.attempt('SELECT astpg.ingest(''{"repository": "ro", "path": "a.py", "language": "python"}'')');
SELECT pg_temp.attempt('SELECT * FROM astpg.ingest_batch(ARRAY[''{"repository": "ro", "path": "a.py", "language": "python"}'']::jsonb[], ''skip'')');
SELECT pg_temp.attempt('SELECT astpg.record_reject(''x'', ''22P02'', ''not JSON'', NULL)');
SELECT pg_temp.attempt('SELECT astpg.delete_file(''ro'', ''a.py'')');
SELECT pg_temp.attempt('SELECT astpg.refresh_analytics()');
RESET default_transaction_read_only;
BEGIN READ ONLY;
COPY astpg.inbox (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
{"repository": "ro", "path": "a.py", "language": "python"}
\.
ROLLBACK;
SELECT count(*) AS stored FROM astpg.files WHERE repository = 'ro';
SELECT count(*) AS rejected FROM astpg.rejects WHERE repository = 'ro';
