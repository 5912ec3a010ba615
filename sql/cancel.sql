--
-- cancel: a cancel or a statement_timeout stops the inbox while it parses a
-- huge document (PostgreSQL's jsonb_in never checks for interrupts: astpg
-- parses the text itself, src/json_text.c), and nothing is written; that
-- parse accepts and refuses what jsonb_in does.  test/cancel.py measures
-- the latencies.
--
SET astpg.on_error = abort;

-- a JSON array of 5,000,000 objects (40 MB): parsing it takes seconds.
-- Were the parse not cancellable, it would end, and the document be refused
-- as not an object (22023), before anything saw the timeout.
CREATE TEMP TABLE huge (doc text);
ALTER TABLE huge ALTER doc SET STORAGE EXTERNAL;
INSERT INTO huge SELECT '[' || repeat('{"a":1},', 5000000) || '{}]';
SET statement_timeout = '300ms';
INSERT INTO astpg.inbox (doc) SELECT doc FROM huge;
RESET statement_timeout;

-- a valid document of the same size, with on_error = skip: a cancel is not
-- the document's fault, so it is raised, not rejected, and nothing stays
SET astpg.on_error = skip;
UPDATE huge SET doc = '{"astpg": 1, "repository": "cancel", "path": "huge.py",'
	' "language": "python", "ast": [' || repeat('{"a":1},', 5000000) || '{}]}';
SET statement_timeout = '300ms';
INSERT INTO astpg.inbox (doc) SELECT doc FROM huge;
RESET statement_timeout;
SELECT (SELECT count(*) FROM astpg.files WHERE repository = 'cancel') AS files,
	(SELECT count(*) FROM astpg.ingests WHERE repository = 'cancel') AS audit,
	(SELECT count(*) FROM astpg.rejects WHERE source = 'inbox'
		AND document_text LIKE '%"cancel"%') AS rejects,
	(SELECT count(*) FROM astpg.inbox) AS inbox;
DROP TABLE huge;

-- the inbox's parse and jsonb_in agree: the same value, or the same error
CREATE FUNCTION pg_temp.jsonb_in_outcome(t text, OUT doc jsonb,
	OUT error_state text, OUT error_message text, OUT error_detail text)
LANGUAGE plpgsql AS $$
BEGIN
	doc := t::jsonb;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS error_state = RETURNED_SQLSTATE,
		error_message = MESSAGE_TEXT, error_detail = PG_EXCEPTION_DETAIL;
END
$$;
CREATE TEMP TABLE cases (n int, doc text);
INSERT INTO cases VALUES
	(1, ''), (2, 'not JSON'), (3, '{"a":'), (4, '[1, 2'), (5, '{"a" 1}'),
	(6, '{"a": 1,}'), (7, '"\ud800"'), (8, '"\u0000"'), (9, '{"a": nul}'),
	(10, '1e1000000'), (11, '{"a": 01}'), (12, '{"a": "x" "b"}'),
	(13, '1'), (14, '"x"'), (15, 'null'), (16, '[{"a": [1, {"b": null}]}]'),
	(17, '{"a": 1, "a": 2}'), (18, ' {"b": -0.0e+2, "a": "\u00e9\n"} '),
	(19, '{"a": [true, false, 1.50]}'), (20, '{}'), (21, '[]'),
	(22, '{"' || repeat('k', 100) || '": 1'), (23, '"\uD83D\uDE00"'),
	(24, '"\x"'), (25, E'{"a":\t1}\n');
SELECT coalesce(max(reject_id), 0) AS rejects_before FROM astpg.rejects \gset
BEGIN;
INSERT INTO astpg.inbox (doc) SELECT doc FROM cases ORDER BY n;
SELECT c.n,
	r.document IS NOT DISTINCT FROM o.doc AS same_value,
	coalesce(o.error_state, 'parsed') AS jsonb_in, r.sqlstate AS inbox,
	o.error_state IS NULL OR (r.message, r.detail) IS NOT DISTINCT FROM
		(o.error_message, nullif(o.error_detail, '')) AS same_error
  FROM cases c
  JOIN astpg.rejects r ON r.source = 'inbox' AND r.position = c.n - 1
	AND r.reject_id > :rejects_before,
  LATERAL pg_temp.jsonb_in_outcome(c.doc) o
 ORDER BY c.n;
ROLLBACK;
RESET astpg.on_error;
