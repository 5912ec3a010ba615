--
-- questions: dead_code, package_coupling, churn and trend (docs/questions.md)
-- on a small repository whose answers are worked out by hand (comments),
-- on a history of versions placed in past months, and on the real sample
-- against answers computed another way.  test/questions.py checks the four
-- against a computation of its own in Python, on the same documents and
-- on randomized histories.
--
-- The fixture "qx" (test/fixtures/questions.ndjson):
--   pkg/core/a.py      Base (__init__, go: self.step() self.hook(), step);
--                      Child(Base) (step, hook, _secret, value @property,
--                      sm @staticmethod, _cm @classmethod, __repr__
--                      @reprlib.recursive_repr()); Orphan(external.Thing)
--                      (run); exported (b.api calls it), run: _helper()
--                      dup(), _helper, _dead, _recurse (calls itself),
--                      __getattr__, main, dup twice, outer with
--                      outer.<locals>.inner, testing_util, setUp, _twice
--                      twice; imports external (not stored)
--   pkg/core/tests/test_a.py   test_x, _make; imports pkg.core.a
--   pkg/util/b.py      api: exported() (from pkg.core.a import exported)
--   setup.py           _configure; imports pkg.util.b
--   docs/conf.py       no module; imports setup
--   lib/idle_test/x.py f; imports pkg.util.b and setup
--   web/app.js         Widget (constructor, #hidden, render: this.#hidden(),
--                      #unused), helper
--   web/app.test.js    check; requires web/app.js
--   web/__tests__/w.js w
--
\set fixture `cat test/fixtures/questions.ndjson`
CREATE TEMP TABLE qx AS
SELECT n, line::jsonb AS doc
  FROM regexp_split_to_table(:'fixture', E'\n') WITH ORDINALITY AS t(line, n)
 WHERE line <> '';
\unset fixture
SELECT r.status, count(*) FROM qx, astpg.ingest(qx.doc) r GROUP BY 1;
SELECT count(*) > 0 AS refreshed FROM astpg.refresh_analytics(false);

--
-- dead_code: no caller but themselves (Base.step is called by Base.go,
-- exported by b.api, _helper by run, #hidden by render); each with the
-- first reason that applies:
--   runtime      Base.__init__, Child.__repr__ (before its decorator),
--                __getattr__, Widget.constructor
--   test         f (lib/idle_test/), testing_util and setUp (by name),
--                test_x and _make (tests/, test_*), w (__tests__/), check
--                (*.test.js)
--   entry point  main
--   decorated    Child.value (@property; not sm and _cm)
--   override     Child.step (Base defines step), Child.hook (Base calls
--                self.hook())
--   nested       outer.<locals>.inner
--   ambiguous    dup and _twice, each defined twice (run's dup() resolves
--                to neither)
--   private      Child._secret, Child._cm, _dead, _recurse (its own call
--                does not count), _configure, Widget.#unused
--   method       Base.go, Child.sm, Orphan.run (its base is not stored),
--                Widget.render
--   public       run, outer, api, helper
--
SELECT path, line, qualified_name, reason FROM astpg.dead_code('qx')
 ORDER BY path COLLATE "C", line;
SELECT reason, count(*) FROM astpg.dead_code('qx') GROUP BY 1 ORDER BY reason COLLATE "C";
-- a path prefix keeps the functions under it; their callers may be anywhere
-- (exported is called from pkg/util/)
SELECT path, qualified_name, reason FROM astpg.dead_code('qx', 'pkg/core/a.py')
 WHERE reason IN ('public', 'private') ORDER BY path COLLATE "C", line;
SELECT path, qualified_name, reason FROM astpg.dead_code('qx', 'web/')
 ORDER BY path COLLATE "C", line;
-- the function's own order: by path, then line
SELECT array_agg(function_id) = array_agg(function_id ORDER BY path, line, function_id)
       AS ordered
  FROM astpg.dead_code('qx');
-- as fresh as call_graph: a new caller of _dead counts once refreshed
SELECT r.status FROM astpg.ingest(jsonb_set((SELECT doc FROM qx WHERE n = 3),
    '{functions,0,calls}', '[{"name": "exported"}, {"name": "a._dead"}]')
    || '{"dependencies": [{"target": "pkg.core.a", "names": ["exported"]}, {"target": "pkg.core", "names": ["a"]}]}') r;
SELECT count(*) AS not_yet FROM astpg.dead_code('qx') WHERE qualified_name = '_dead';
SELECT count(*) > 0 AS refreshed FROM astpg.refresh_analytics(false);
SELECT qualified_name, reason FROM astpg.dead_code('qx', 'pkg/') WHERE reason = 'private'
 ORDER BY qualified_name COLLATE "C";

--
-- package_coupling.  Resolved imports: test_a -> a, b -> a, setup -> b,
-- conf -> setup, x -> b, x -> setup, app.test.js -> app.js (external is
-- not stored).  By directory, depth 1: '.' (setup.py) is imported by docs
-- and lib and imports pkg: ca 2, ce 1, instability 1/3; pkg is imported
-- by '.' and lib (by the files setup.py and x.py) and imports nothing
-- outside itself: 0; web only imports itself: NULL.
--
SELECT * FROM astpg.package_coupling('qx') ORDER BY package COLLATE "C";
-- depth 2: pkg splits into pkg/core (imported by pkg/util) and pkg/util
-- (imported by '.' and lib/idle_test; imports pkg/core)
SELECT * FROM astpg.package_coupling('qx', 2) ORDER BY package COLLATE "C";
-- depth 3: pkg/core/tests, which imports pkg/core; a.py, two directories
-- deep, stays in pkg/core
SELECT * FROM astpg.package_coupling('qx', 3) ORDER BY package COLLATE "C";
-- by module: files without a module (docs/conf.py, the JavaScript files)
-- are left out, with their imports
SELECT * FROM astpg.package_coupling('qx', 1, 'module') ORDER BY package COLLATE "C";
SELECT * FROM astpg.package_coupling('qx', 2, package_by => 'module') ORDER BY package COLLATE "C";
-- deeper than any path: each file's own directory
SELECT count(*) AS packages, sum(files) AS files FROM astpg.package_coupling('qx', 100);

--
-- churn and trend on a history "qh" placed in past months (UTC):
--   t1 2024-01-15 10:00  x.py r1 (2 functions, complexity 1+3, 1 class,
--                        loc 10) and y.py r1 (1 function, 2, loc 5)
--                        inserted
--   t2 2024-01-20 10:00  x.py r2 (3 functions, 2+2+2, 1 class, loc 20)
--                        replaced; y.py r2 unchanged (same content_hash)
--   t3 2024-02-01 03:00  x.py r3 (1 function, 5, loc 25) replaced: February
--                        in UTC, still January 31 in the session's
--                        time zone (PST8PDT)
--   t4 2024-02-10 10:00  y.py deleted
--   (March: nothing)
--   t5 2024-04-05 10:00  y.py r4 (no function, loc 7) inserted again, z.py
--                        r4 (1 function without complexity, no loc)
--   t6 2024-04-06 10:00  z.py r4 again (2 functions, 1+1) replaced
--   t7 2024-04-20 10:00  x.py r5 unchanged, then
--   t8 2024-04-21 10:00  z.py deleted: as astpg-index records a revision's
--                        unchanged files before it deletes
-- Each step's audit and history rows are moved to its time.
--
CREATE FUNCTION pg_temp.at(t timestamptz) RETURNS void LANGUAGE sql AS $$
    UPDATE astpg.ingests SET ingested_at = t
     WHERE repository = 'qh' AND ingested_at > '2025-01-01';
    UPDATE astpg.metric_history SET ingested_at = t
     WHERE repository = 'qh' AND ingested_at > '2025-01-01';
$$;
SELECT r.status FROM astpg.ingest_batch(ARRAY[
    '{"repository": "qh", "path": "x.py", "language": "python", "revision": "r1",
      "content_hash": "x1", "metrics": {"loc": 10},
      "classes": [{"name": "C", "line_start": 1, "line_end": 9}],
      "functions": [{"name": "f", "line_start": 1, "line_end": 2, "complexity": 1},
                    {"name": "g", "line_start": 3, "line_end": 4, "complexity": 3}]}',
    '{"repository": "qh", "path": "y.py", "language": "python", "revision": "r1",
      "content_hash": "y1", "metrics": {"loc": 5},
      "functions": [{"name": "h", "line_start": 1, "line_end": 2, "complexity": 2}]}']::jsonb[]) r;
SELECT pg_temp.at('2024-01-15 10:00+00');
SELECT r.status FROM astpg.ingest_batch(ARRAY[
    '{"repository": "qh", "path": "x.py", "language": "python", "revision": "r2",
      "content_hash": "x2", "metrics": {"loc": 20},
      "classes": [{"name": "C", "line_start": 1, "line_end": 9}],
      "functions": [{"name": "f", "line_start": 1, "line_end": 2, "complexity": 2},
                    {"name": "g", "line_start": 3, "line_end": 4, "complexity": 2},
                    {"name": "k", "line_start": 5, "line_end": 6, "complexity": 2}]}',
    '{"repository": "qh", "path": "y.py", "language": "python", "revision": "r2",
      "content_hash": "y1"}']::jsonb[]) r;
SELECT pg_temp.at('2024-01-20 10:00+00');
SELECT r.status FROM astpg.ingest('{"repository": "qh", "path": "x.py", "language": "python",
    "revision": "r3", "content_hash": "x3", "metrics": {"loc": 25},
    "functions": [{"name": "f", "line_start": 1, "line_end": 2, "complexity": 5}]}') r;
SELECT pg_temp.at('2024-02-01 03:00+00');
SELECT astpg.delete_file('qh', 'y.py');
SELECT pg_temp.at('2024-02-10 10:00+00');
SELECT r.status FROM astpg.ingest_batch(ARRAY[
    '{"repository": "qh", "path": "y.py", "language": "python", "revision": "r4",
      "content_hash": "y4", "metrics": {"loc": 7}}',
    '{"repository": "qh", "path": "z.py", "language": "python", "revision": "r4",
      "content_hash": "z4", "functions": [{"name": "m", "line_start": 1, "line_end": 2}]}']::jsonb[]) r;
SELECT pg_temp.at('2024-04-05 10:00+00');
SELECT r.status FROM astpg.ingest('{"repository": "qh", "path": "z.py", "language": "python",
    "revision": "r4", "content_hash": "z4b",
    "functions": [{"name": "m", "line_start": 1, "line_end": 2, "complexity": 1},
                  {"name": "n", "line_start": 3, "line_end": 4, "complexity": 1}]}') r;
SELECT pg_temp.at('2024-04-06 10:00+00');
SELECT r.status FROM astpg.ingest('{"repository": "qh", "path": "x.py", "language": "python",
    "revision": "r5", "content_hash": "x3"}') r;
SELECT pg_temp.at('2024-04-20 10:00+00');
SELECT astpg.delete_file('qh', 'z.py');
SELECT pg_temp.at('2024-04-21 10:00+00');
SELECT status, count(*) FROM astpg.ingests WHERE repository = 'qh' GROUP BY 1 ORDER BY 1;

-- churn: x.py twice in January and once in February (t3 is February in
-- UTC); y.py once in January, deleted in February, stored again in April;
-- z.py twice in April, and deleted; the unchanged y.py r2 and x.py r5
-- are no versions
SELECT * FROM astpg.churn('qh') ORDER BY path COLLATE "C", month;
-- since <= ingested_at < until: t3 is in, t6 is out
SELECT * FROM astpg.churn('qh', '2024-02-01 03:00+00', '2024-04-06 10:00+00')
 ORDER BY path COLLATE "C", month;
SELECT * FROM astpg.churn('qh', since => '2024-04-01') ORDER BY path COLLATE "C", month;
SELECT * FROM astpg.churn('qh', until => '2024-01-16') ORDER BY path COLLATE "C", month;

SET TimeZone = 'UTC';
-- trend per month, to the end of April:
--   2024-01 (as of Feb 1): x r2 + y r1: 2 files, 1 class, 4 functions,
--           complexity 8, loc 25; 3 versions
--   2024-02: x r3 alone (y deleted): 1 file, 1 function, 5, loc 25; 1
--           version, 1 deletion
--   2024-03: the same, nothing happened
--   2024-04: x r3 + y r4 (z deleted at t8): 2 files, 1 function, 5, loc
--           32; 3 versions, 1 deletion
SELECT * FROM astpg.trend('qh', 'month', until => '2024-05-01');
-- per revision, each as of the next one's first row in the audit log (r5
-- until the end): r3 counts y's deletion, made after its version; r4 ends
-- when r5 finds x.py unchanged, and r5 counts z's deletion that follows
SELECT * FROM astpg.trend('qh', 'revision', until => '2024-05-01');
-- a window: February from its 15th (nothing then), March, April until
-- the 5th at noon (z at its first version, without complexity)
SELECT * FROM astpg.trend('qh', since => '2024-02-15', until => '2024-04-05 12:00');
SELECT * FROM astpg.trend('qh', 'revision', since => '2024-01-20', until => '2024-04-05 12:00');
-- until now(): every month since January 2024, the last one as of now,
-- each month after April as April ended
SELECT count(*) = 12 * (extract(year FROM now() AT TIME ZONE 'UTC')::integer - 2024)
                  + extract(month FROM now() AT TIME ZONE 'UTC')::integer AS every_month,
       min(point) AS first, max(as_of) = now() AS last_as_of_now,
       count(DISTINCT (files, classes, functions, complexity, loc))
           FILTER (WHERE point >= '2024-04') AS totals_since_april
  FROM astpg.trend('qh');
RESET TimeZone;

-- the trend against the history's rows directly: at each month's end the
-- last version of each path, unless deleted since
SELECT t.point, (t.files, t.functions, t.complexity, t.loc) = (
        SELECT count(*), sum(v.functions), sum(v.complexity_total),
               sum((v.metrics ->> 'loc')::numeric)::bigint
          FROM (SELECT DISTINCT ON (h.path) h.*
                  FROM astpg.metric_history h
                 WHERE h.repository = 'qh' AND h.ingested_at < t.as_of
                 ORDER BY h.path, h.ingested_at DESC) v
         WHERE NOT EXISTS (SELECT FROM astpg.ingests i
                            WHERE i.repository = 'qh' AND i.path = v.path
                              AND i.status = 'deleted'
                              AND i.ingested_at > v.ingested_at AND i.ingested_at < t.as_of))
       AS same
  FROM astpg.trend('qh', until => '2024-05-01') t ORDER BY 1;

--
-- The real sample (twelve files of the standard library) as repository
-- "qs", against the tables read another way.
--
\i test/fixtures/load_sample.sql
SELECT r.status, count(*)
  FROM sample, astpg.ingest(jsonb_set(sample.doc, '{repository}', '"qs"')) r GROUP BY 1;
SELECT count(*) > 0 AS refreshed FROM astpg.refresh_analytics(false);
-- every function is listed once, or called by another function
SELECT (SELECT count(*) FROM astpg.dead_code('qs'))
       + (SELECT count(DISTINCT g.callee_id) FROM astpg.call_graph g
           WHERE g.repo_id = astpg.repo_id('qs') AND g.caller_id <> g.callee_id)
       = (SELECT count(*) FROM astpg.functions WHERE repo_id = astpg.repo_id('qs'))
       AS every_function_once;
SELECT reason, count(*) FROM astpg.dead_code('qs') GROUP BY 1 ORDER BY reason COLLATE "C";
SELECT qualified_name, path, line FROM astpg.dead_code('qs') WHERE reason = 'private'
 ORDER BY path COLLATE "C", line;
-- ca and ce by module against the pairs of packages counted directly
WITH p AS (
    SELECT f.file_id, split_part(f.module, '.', 1) AS package
      FROM astpg.files f WHERE f.repository = 'qs' AND f.module IS NOT NULL
), pairs AS (
    SELECT DISTINCT s.package AS source, t.package AS target
      FROM astpg.dependencies d
      JOIN p s ON s.file_id = d.file_id JOIN p t ON t.file_id = d.target_file_id
     WHERE s.package <> t.package
)
SELECT (SELECT sum(ca) FROM astpg.package_coupling('qs', 1, 'module')) AS ca,
       (SELECT sum(ce) FROM astpg.package_coupling('qs', 1, 'module')) AS ce,
       (SELECT count(*) FROM pairs) AS pairs;
SELECT * FROM astpg.package_coupling('qs', 1, 'module') ORDER BY package COLLATE "C";
-- one version of each file this month, and the totals of the tables
SELECT count(*) AS files, sum(versions) AS versions, sum(inserted) AS inserted,
       count(DISTINCT month) AS months
  FROM astpg.churn('qs');
SELECT (t.files, t.classes, t.functions, t.loc) =
       (SELECT count(*), sum((SELECT count(*) FROM astpg.classes c WHERE c.file_id = f.file_id)),
               sum((SELECT count(*) FROM astpg.functions fn WHERE fn.file_id = f.file_id)),
               sum((SELECT m.value FROM astpg.metrics m
                     WHERE m.file_id = f.file_id AND m.name = 'loc'))::bigint
          FROM astpg.files f WHERE f.repository = 'qs') AS same_as_tables,
       t.point = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM') AS this_month
  FROM astpg.trend('qs') t;

--
-- An unknown repository has no rows; a bad option is refused.
--
SELECT (SELECT count(*) FROM astpg.dead_code('no such repository')) AS dead_code,
       (SELECT count(*) FROM astpg.package_coupling('no such repository')) AS coupling,
       (SELECT count(*) FROM astpg.churn('no such repository')) AS churn,
       (SELECT count(*) FROM astpg.trend('no such repository')) AS trend,
       (SELECT count(*) FROM astpg.trend('no such repository', 'revision')) AS by_revision,
       (SELECT count(*) FROM astpg.trend('no such repository', since => '2024-01-01')) AS since;
-- refusals as 'SQLSTATE: message'
\i test/fixtures/attempt.sql
SELECT pg_temp.attempt('SELECT astpg.dead_code(NULL)');
SELECT pg_temp.attempt('SELECT astpg.dead_code(''qx'', NULL)');
SELECT pg_temp.attempt('SELECT astpg.package_coupling(NULL)');
SELECT pg_temp.attempt('SELECT astpg.package_coupling(''qx'', 0)');
SELECT pg_temp.attempt('SELECT astpg.package_coupling(''qx'', NULL)');
SELECT pg_temp.attempt('SELECT astpg.package_coupling(''qx'', 1, ''file'')');
SELECT pg_temp.attempt('SELECT astpg.package_coupling(''qx'', 1, NULL)');
SELECT pg_temp.attempt('SELECT astpg.churn(NULL)');
SELECT pg_temp.attempt('SELECT astpg.churn(''qh'', ''2024-02-01'', ''2024-01-01'')');
SELECT pg_temp.attempt('SELECT astpg.trend(NULL)');
SELECT pg_temp.attempt('SELECT astpg.trend(''qh'', ''week'')');
SELECT pg_temp.attempt('SELECT astpg.trend(''qh'', NULL)');
SELECT pg_temp.attempt('SELECT astpg.trend(''qh'', ''month'', ''2024-02-01'', ''2024-02-01'')');

--
-- Decoys ahead of pg_catalog on the path (functions, an operator, tables
-- named as astpg's) change nothing: the same answers.
--
CREATE TEMP TABLE answers AS
SELECT 'dead_code' AS question, md5(string_agg(d::text, ',' ORDER BY d.function_id)) AS digest
  FROM astpg.dead_code('qx') d
UNION ALL
SELECT 'package_coupling', md5(string_agg(c::text, ',' ORDER BY c.package COLLATE "C"))
  FROM astpg.package_coupling('qx', 2) c
UNION ALL
SELECT 'churn', md5(string_agg(c::text, ',' ORDER BY c.path COLLATE "C", c.month))
  FROM astpg.churn('qh') c
UNION ALL
SELECT 'trend', md5(string_agg(t::text, ',' ORDER BY t.as_of))
  FROM astpg.trend('qh', 'revision', until => '2024-05-01') t;
CREATE SCHEMA qdecoy;
CREATE FUNCTION qdecoy.trap(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy operator called'; END $$;
CREATE OPERATOR qdecoy.= (LEFTARG = text, RIGHTARG = text, FUNCTION = qdecoy.trap);
CREATE FUNCTION qdecoy.starts_with(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy starts_with called'; END $$;
CREATE FUNCTION qdecoy.unnest(anyarray) RETURNS SETOF anyelement
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy unnest called'; END $$;
CREATE FUNCTION qdecoy.string_to_array(text, text) RETURNS text[]
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy string_to_array called'; END $$;
CREATE FUNCTION qdecoy.date_trunc(text, timestamp) RETURNS timestamp
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy date_trunc called'; END $$;
CREATE FUNCTION qdecoy.now() RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy now called'; END $$;
CREATE TABLE qdecoy.functions (function_id bigint, repo_id bigint);
CREATE TABLE qdecoy.call_graph (callee_id bigint, repo_id bigint);
CREATE TEMP TABLE ingests (path text, repo_id bigint);
SET search_path = pg_temp, qdecoy, pg_catalog;
CREATE TEMP TABLE decoyed AS
SELECT 'dead_code' AS question, md5(string_agg(d::text, ',' ORDER BY d.function_id)) AS digest
  FROM astpg.dead_code('qx') d
UNION ALL
SELECT 'package_coupling', md5(string_agg(c::text, ',' ORDER BY c.package COLLATE "C"))
  FROM astpg.package_coupling('qx', 2) c
UNION ALL
SELECT 'churn', md5(string_agg(c::text, ',' ORDER BY c.path COLLATE "C", c.month))
  FROM astpg.churn('qh') c
UNION ALL
SELECT 'trend', md5(string_agg(t::text, ',' ORDER BY t.as_of))
  FROM astpg.trend('qh', 'revision', until => '2024-05-01') t;
RESET search_path;
SELECT a.question, a.digest = d.digest AS same
  FROM answers a JOIN decoyed d USING (question) ORDER BY 1;
DROP TABLE pg_temp.ingests;
SET client_min_messages = warning;
DROP SCHEMA qdecoy CASCADE;
RESET client_min_messages;

--
-- Readers run them; nobody else does.
--
CREATE ROLE questions_reader IN ROLE astpg_reader;
CREATE ROLE questions_nobody;
SET ROLE questions_reader;
SELECT (SELECT count(*) FROM astpg.dead_code('qx')) > 0 AS dead_code,
       (SELECT count(*) FROM astpg.package_coupling('qx')) > 0 AS coupling,
       (SELECT count(*) FROM astpg.churn('qh')) > 0 AS churn,
       (SELECT count(*) FROM astpg.trend('qh')) > 0 AS trend;
RESET ROLE;
-- with the schema, but not the functions
GRANT USAGE ON SCHEMA astpg TO questions_nobody;
SET ROLE questions_nobody;
SELECT pg_temp.attempt('SELECT astpg.dead_code(''qx'')');
SELECT pg_temp.attempt('SELECT astpg.package_coupling(''qx'')');
SELECT pg_temp.attempt('SELECT astpg.churn(''qh'')');
SELECT pg_temp.attempt('SELECT astpg.trend(''qh'')');
RESET ROLE;
REVOKE USAGE ON SCHEMA astpg FROM questions_nobody;
DROP ROLE questions_reader, questions_nobody;
