--
-- search_path: decoy functions, operators and tables in a schema searched
-- before pg_catalog must not be touched by astpg; nor may an empty path
-- break it.
--
CREATE SCHEMA decoy;
CREATE FUNCTION decoy.trap(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy operator called'; END $$;
CREATE OPERATOR decoy.= (LEFTARG = text, RIGHTARG = text, FUNCTION = decoy.trap);
CREATE FUNCTION decoy.trap8(bigint, bigint) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy operator called'; END $$;
CREATE OPERATOR decoy.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = decoy.trap8);
CREATE FUNCTION decoy.unnest(anyarray) RETURNS SETOF anyelement
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy unnest called'; END $$;
CREATE FUNCTION decoy.nextval(regclass) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy nextval called'; END $$;
CREATE FUNCTION decoy.to_jsonb(anyelement) RETURNS jsonb
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy to_jsonb called'; END $$;
CREATE FUNCTION decoy.jsonb_strip_nulls(jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy jsonb_strip_nulls called'; END $$;
CREATE FUNCTION decoy.jsonb_agg(anyelement) RETURNS jsonb
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy jsonb_agg called'; END $$;
CREATE TABLE decoy.files (file_id bigint, repository text, path text);

SET search_path = decoy, pg_catalog;
-- the decoys are live: unqualified SQL falls into them
SELECT 'a'::text = 'a'::text;

SELECT r.status, r.functions, r.calls, r.dependencies
  FROM astpg.ingest('{"repository": "sp", "path": "a.py", "module": "a", "language": "python",
    "classes": [{"name": "A", "line_start": 1, "line_end": 9, "bases": ["object"]}],
    "functions": [{"name": "f", "class": "A", "line_start": 2, "line_end": 3,
                   "decorators": ["staticmethod"], "calls": [{"name": "g"}]}],
    "dependencies": [{"target": "b", "names": ["x"]}], "metrics": {"loc": 9}}') r;
SELECT r.status FROM astpg.ingest('{"repository": "sp", "path": "b.py", "module": "b", "language": "python",
    "dependencies": [{"target": "a"}]}') r;
SELECT r.status FROM astpg.ingest('{"repository": "sp", "path": "a.py", "module": "a", "language": "python"}') r;
SELECT astpg.document(f.file_id) OPERATOR(pg_catalog.->>) 'path'
  FROM astpg.files f WHERE f.repository OPERATOR(pg_catalog.=) 'sp' ORDER BY 1;
SELECT astpg.delete_file('sp', 'b.py');
SELECT astpg.resolve_dependencies('sp');
RESET search_path;

SET search_path = '';
SELECT r.status FROM astpg.ingest('{"repository": "sp", "path": "c.py", "language": "python",
    "functions": [{"name": "f", "line_start": 1, "line_end": 1}]}') r;
SELECT pg_catalog.jsonb_array_length(astpg.document(f.file_id) OPERATOR(pg_catalog.->) 'functions')
  FROM astpg.files f WHERE f.repository OPERATOR(pg_catalog.=) 'sp' AND f.path OPERATOR(pg_catalog.=) 'c.py';
RESET search_path;

-- the batch writer (1.4) under decoys in public, in pg_temp and in a
-- schema first on the path: ingest_batch with skip, and COPY into the inbox
CREATE FUNCTION public.array_position(anyarray, anyelement) RETURNS integer
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy array_position called'; END $$;
CREATE FUNCTION public.hashtextextended(text, bigint) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy hashtextextended called'; END $$;
CREATE TEMP TABLE files (file_id bigint, repository text, path text);
CREATE TEMP TABLE dependencies (file_id bigint, target text);
SET search_path = pg_temp, decoy, public, pg_catalog;
SELECT r.status FROM astpg.ingest_batch(ARRAY[
    '{"repository": "sp2", "path": "x.py", "module": "x", "language": "python",
      "classes": [{"name": "X", "line_start": 1, "line_end": 5, "bases": ["Base"]}],
      "functions": [{"name": "m", "class": "X", "line_start": 2, "line_end": 3,
                     "decorators": ["property"], "calls": [{"name": "y.f"}]}],
      "dependencies": [{"target": "y", "names": ["f"]}], "metrics": {"loc": 5}}',
    '{"repository": "sp2", "path": "bad.py"}',
    '{"repository": "sp2", "path": "y.py", "module": "y", "language": "python",
      "dependencies": [{"target": "x"}]}']::jsonb[], 'skip') r;
SET astpg.on_error = skip;
COPY astpg.inbox (doc) FROM STDIN;
{"repository": "sp2", "path": "z.py", "module": "z", "language": "python", "dependencies": [{"target": "x"}, {"target": "y"}]}
{"repository": "sp2", "path": "x.py", "module": "x2", "language": "python"}
\.
RESET astpg.on_error;
SELECT pg_catalog.count(*) AS decoy_rows FROM pg_temp.files;
SELECT f.path, d.target, t.path AS resolved_to
  FROM astpg.dependencies d
  JOIN astpg.files f ON f.file_id OPERATOR(pg_catalog.=) d.file_id
  LEFT JOIN astpg.files t ON t.file_id OPERATOR(pg_catalog.=) d.target_file_id
 WHERE f.repository OPERATOR(pg_catalog.=) 'sp2'
 ORDER BY f.path, d.target;
SELECT astpg.resolve_dependencies('sp2');
RESET search_path;
DROP TABLE pg_temp.files, pg_temp.dependencies;
DROP FUNCTION public.array_position(anyarray, anyelement), public.hashtextextended(text, bigint);

DROP SCHEMA decoy CASCADE;
