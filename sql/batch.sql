--
-- batch: ingest_batch(docs jsonb[], on_error) stores many documents in one
-- call.  abort: one bad document refuses the batch, its error names its
-- position.  skip: each document in its own subtransaction, a refused one
-- stored whole in astpg.rejects and returned as 'rejected'.
--
\i test/fixtures/load_sample.sql

-- one row per document, in order
SELECT r.status, r.functions, r.calls
  FROM astpg.ingest_batch((SELECT array_agg(doc ORDER BY n) FROM sample)) r;
SELECT r.status, count(*)
  FROM astpg.ingest_batch((SELECT array_agg(doc ORDER BY n) FROM sample)) r
 GROUP BY r.status;

CREATE TEMP TABLE mixed AS
SELECT ARRAY[
  '{"repository": "b", "path": "ok1.c", "language": "c"}',
  '{"repository": "b", "path": "no-language.c"}',
  NULL,
  '{"repository": "b", "path": "bad-line.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2}, {"name": "g", "line_start": "x", "line_end": 2}]}',
  '[1, 2]',
  '{"repository": "b", "path": "ok2.c", "language": "c", "functions": [{"name": "f", "line_start": 1, "line_end": 2}]}'
]::jsonb[] AS docs;

-- abort (the default): the first refused document fails the whole call
SELECT * FROM astpg.ingest_batch((SELECT docs FROM mixed));
SELECT * FROM astpg.ingest_batch((SELECT docs[4:6] FROM mixed), 'abort');
SELECT count(*) AS stored FROM astpg.files WHERE repository = 'b';

-- skip: the good ones are stored, the bad ones rejected and kept
SELECT r.status, r.file_id IS NOT NULL AS has_file, r.functions
  FROM astpg.ingest_batch((SELECT docs FROM mixed), 'skip') r;
SELECT path FROM astpg.files WHERE repository = 'b' ORDER BY path;
SELECT source, position, repository, path, document, document_text, sqlstate, message
  FROM astpg.rejects WHERE source = 'ingest_batch' ORDER BY reject_id;
SELECT rejected_by = session_user AS by_session_user, rejected_at <= clock_timestamp() AS dated
  FROM astpg.rejects ORDER BY reject_id LIMIT 1;

-- a rejected document leaves nothing behind, not even in the audit log
SELECT count(*) FROM astpg.ingests WHERE repository = 'b' AND path <> 'ok1.c' AND path <> 'ok2.c';

-- a batch in a transaction that rolls back takes its rejects with it
BEGIN;
SELECT count(*) FROM astpg.ingest_batch((SELECT docs FROM mixed), 'skip');
ROLLBACK;
SELECT count(*) AS rejects FROM astpg.rejects;

-- what is not the document's fault is not a rejection: a cancel fails the
-- call even in skip mode, and nothing is recorded
CREATE TEMP TABLE slow AS
SELECT array_agg(jsonb_build_object('repository', 'slow', 'path', 'f' || i, 'language', 'c',
                 'functions', (SELECT jsonb_agg(jsonb_build_object('name', 'f' || j, 'line_start', j, 'line_end', j))
                                 FROM generate_series(1, 200) j))) AS docs
  FROM generate_series(1, 2000) i;
SET statement_timeout = '200ms';
\set VERBOSITY terse
SELECT count(*) FROM astpg.ingest_batch((SELECT docs FROM slow), 'skip');
\set VERBOSITY default
RESET statement_timeout;
SELECT count(*) AS rejects FROM astpg.rejects;
SELECT count(*) AS stored FROM astpg.files WHERE repository = 'slow';

-- empty and NULL batches, and a bad on_error
SELECT count(*) FROM astpg.ingest_batch('{}'::jsonb[]);
SELECT count(*) FROM astpg.ingest_batch(NULL);
SELECT * FROM astpg.ingest_batch(ARRAY['{}']::jsonb[], 'ignore');

-- every refused document of the batch is counted in the transaction's tally
BEGIN;
SELECT count(*) FROM astpg.ingest_batch((SELECT docs FROM mixed), 'skip');
SELECT * FROM astpg.ingest_counts();
ROLLBACK;

-- work rolled back to a savepoint is not counted
BEGIN;
SELECT status FROM astpg.ingest('{"repository": "counted", "path": "kept.py", "language": "python"}');
SAVEPOINT before_undone;
SELECT status FROM astpg.ingest_batch(ARRAY['{"repository": "counted", "path": "undone.py", "language": "python"}',
                                            '{"path": 1}']::jsonb[], 'skip');
SELECT documents, inserted, rejected FROM astpg.ingest_counts();
ROLLBACK TO SAVEPOINT before_undone;
SELECT documents, inserted, rejected FROM astpg.ingest_counts();
SAVEPOINT kept;
SELECT status FROM astpg.ingest('{"repository": "counted", "path": "also_kept.py", "language": "python"}');
RELEASE SAVEPOINT kept;
SELECT documents, inserted, rejected FROM astpg.ingest_counts();
-- counted in a savepoint released into one that is then rolled back
SAVEPOINT outer_undone;
SAVEPOINT inner_released;
SELECT status FROM astpg.ingest('{"repository": "counted", "path": "inner.py", "language": "python"}');
RELEASE SAVEPOINT inner_released;
SELECT documents, inserted, rejected FROM astpg.ingest_counts();
ROLLBACK TO SAVEPOINT outer_undone;
SELECT documents, inserted, rejected FROM astpg.ingest_counts();
ROLLBACK;
-- a transaction whose first count is made in a savepoint, which is undone
BEGIN;
SAVEPOINT first_count;
SELECT status FROM astpg.ingest('{"repository": "counted", "path": "first.py", "language": "python"}');
ROLLBACK TO SAVEPOINT first_count;
SELECT documents, inserted, rejected FROM astpg.ingest_counts();
ROLLBACK;

-- A document refused when it is stored, not when it is read (here by a
-- constraint added for the test): the batch is written again a document at
-- a time, so that with skip only that document is rejected, and with abort
-- the error names it.
ALTER TABLE astpg.metrics ADD CONSTRAINT test_refused_when_stored CHECK (name <> 'refused-when-stored');
SELECT r.status FROM astpg.ingest_batch(ARRAY[
  '{"repository": "late", "path": "ok1.py", "language": "python", "metrics": {"loc": 1}}',
  '{"repository": "late", "path": "bad.py", "language": "python", "metrics": {"refused-when-stored": 1}}',
  '{"repository": "late", "path": "ok2.py", "language": "python", "metrics": {"loc": 2}}']::jsonb[],
  'skip') r;
SELECT position, repository, path, sqlstate, message FROM astpg.rejects WHERE repository = 'late';
SELECT path FROM astpg.files WHERE repository = 'late' ORDER BY path;
SELECT path, status FROM astpg.ingests WHERE repository = 'late' ORDER BY ingest_id;
-- the SQLSTATE, the message and the context line that names the document
CREATE FUNCTION pg_temp.storing_error(statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    state text;
    message text;
    context text;
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            context = PG_EXCEPTION_CONTEXT;
    RETURN state || ': ' || message || E'\n' || (regexp_match(context, 'while storing[^\n]*'))[1];
END
$$;
SELECT pg_temp.storing_error($$SELECT astpg.ingest_batch(ARRAY[
  '{"repository": "late", "path": "ok3.py", "language": "python"}',
  '{"repository": "late", "path": "bad.py", "language": "python", "metrics": {"refused-when-stored": 1}}']::jsonb[])$$);
SELECT pg_temp.storing_error($$SELECT astpg.ingest('{"repository": "late", "path": "bad.py", "language": "python", "metrics": {"refused-when-stored": 1}}')$$);
SELECT pg_temp.storing_error($$INSERT INTO astpg.inbox (doc) VALUES
  ('{"repository": "late", "path": "ok3.py", "language": "python"}'),
  ('{"repository": "late", "path": "bad.py", "language": "python", "metrics": {"refused-when-stored": 1}}')$$);
SET astpg.on_error = skip;
COPY astpg.inbox (doc) FROM STDIN;
{"repository": "late", "path": "ok4.py", "language": "python"}
{"repository": "late", "path": "bad.py", "language": "python", "metrics": {"refused-when-stored": 1}}
\.
RESET astpg.on_error;
SELECT position, source, path, sqlstate FROM astpg.rejects WHERE repository = 'late' ORDER BY reject_id;
SELECT path FROM astpg.files WHERE repository = 'late' ORDER BY path;
ALTER TABLE astpg.metrics DROP CONSTRAINT test_refused_when_stored;
DELETE FROM astpg.rejects WHERE repository = 'late';
DELETE FROM astpg.files WHERE repository = 'late';
DELETE FROM astpg.ingests WHERE repository = 'late';
DELETE FROM astpg.metric_history WHERE repository = 'late';
