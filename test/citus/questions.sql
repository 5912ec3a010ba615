-- test/citus/questions.sql: the helpers of test/citus/run's questions,
-- created in pg_temp at the start of each session that asks them (psql -f
-- this file, then the questions test/citus/draw.sql wrote).
--
-- Each question is asked as a client asks it: the file's or function's id
-- looked up first by (repository, path[, qualified name, line]), then the
-- question with that id as a literal.  ask() returns one line: its label
-- and the answer as text without ids (ids come from sequences and differ
-- between the two databases), or the error's SQLSTATE and message, so that
-- one failure does not hide the others.
SET client_min_messages = error;	-- Citus: "will be created only locally"

-- label: answer.  lookup returns (id, repo_id), or nothing; question is a
-- format() string of %1$s (the id) and %2$s (the repo_id)
CREATE FUNCTION pg_temp.ask(label text, lookup text, question text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    id     bigint;
    rid    bigint;
    answer text;
BEGIN
    IF lookup IS NOT NULL THEN
        EXECUTE lookup INTO id, rid;
        IF id IS NULL THEN
            RETURN label || ': not found';
        END IF;
    END IF;
    EXECUTE format(question, id, rid) INTO answer;
    RETURN label || ': ' || COALESCE(answer, '(none)');
EXCEPTION WHEN OTHERS THEN
    RETURN label || ': ERROR ' || SQLSTATE || ' ' || SQLERRM;
END
$$;

-- The nodes of a graph_walk() by name: each file's path, or each
-- function's path, qualified name and line, with its depth, sorted (a
-- walk returns a level in no particular order).  A function of its own,
-- so that the walk runs on the node that was called and only this lookup
-- joins the tables.
CREATE FUNCTION pg_temp.file_names(rid bigint, ids bigint[], depths integer[])
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    answer text;
BEGIN
    SELECT string_agg(COALESCE(f.path, 'MISSING ' || w.id) || ' ' || w.depth, '; '
                      ORDER BY w.depth, f.path)
      INTO answer
      FROM unnest(ids, depths) AS w(id, depth)
      LEFT JOIN astpg.files f ON f.repo_id = rid AND f.file_id = w.id;
    RETURN answer;
END
$$;

CREATE FUNCTION pg_temp.function_names(rid bigint, ids bigint[], depths integer[])
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    answer text;
BEGIN
    SELECT string_agg(COALESCE(f.path || ' ' || fn.qualified_name || ':' || fn.line_start,
                               'MISSING ' || w.id) || ' ' || w.depth, '; '
                      ORDER BY w.depth, f.path, fn.line_start, fn.qualified_name)
      INTO answer
      FROM unnest(ids, depths) AS w(id, depth)
      LEFT JOIN astpg.functions fn ON fn.repo_id = rid AND fn.function_id = w.id
      LEFT JOIN astpg.files f ON f.repo_id = rid AND f.file_id = fn.file_id;
    RETURN answer;
END
$$;

RESET client_min_messages;
