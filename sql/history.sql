--
-- history: every stored version appends its metrics to metric_history;
-- maintain() keeps the monthly partitions; who may do what with 1.3's
-- objects.
--
CREATE TEMP VIEW h AS
SELECT revision, status, functions, classes, complexity_total, complexity_max, metrics
  FROM astpg.metric_history WHERE repository = 'hist' AND path = 'm.py'
 ORDER BY ingested_at;

SELECT r.status FROM astpg.ingest('{"repository": "hist", "path": "m.py", "language": "python",
    "revision": "r1", "content_hash": "sha256:1", "metrics": {"loc": 10, "sloc": 8},
    "classes": [{"name": "C", "line_start": 1, "line_end": 5}],
    "functions": [{"name": "f", "line_start": 1, "line_end": 2, "complexity": 3},
                  {"name": "g", "class": "C", "line_start": 3, "line_end": 4, "complexity": 5}]}') r;
-- the same content again: unchanged, no new version
SELECT r.status FROM astpg.ingest('{"repository": "hist", "path": "m.py", "language": "python",
    "revision": "r1b", "content_hash": "sha256:1"}') r;
-- a new version: one more row, with its own aggregates
SELECT r.status FROM astpg.ingest('{"repository": "hist", "path": "m.py", "language": "python",
    "revision": "r2", "content_hash": "sha256:2", "metrics": {"loc": 12},
    "functions": [{"name": "f", "line_start": 1, "line_end": 2, "complexity": 4},
                  {"name": "h", "line_start": 3, "line_end": 4}]}') r;
-- no complexity anywhere: no maximum
SELECT r.status FROM astpg.ingest_batch(ARRAY['{"repository": "hist", "path": "m.py",
    "language": "python", "revision": "r3", "content_hash": "sha256:3",
    "functions": [{"name": "f", "line_start": 1, "line_end": 2}]}']::jsonb[]) r;
-- through the inbox too
INSERT INTO astpg.inbox VALUES ('{"repository": "hist", "path": "m.py", "language": "python",
    "revision": "r4", "content_hash": "sha256:4"}');
SELECT * FROM h;
-- a refused document and a rolled-back one leave no history
SELECT r.status FROM astpg.ingest_batch(ARRAY['{"repository": "hist", "path": "m.py",
    "language": "NOT VALID", "content_hash": "sha256:5"}']::jsonb[], 'skip') r;
BEGIN;
SELECT r.status FROM astpg.ingest('{"repository": "hist", "path": "m.py", "language": "python",
    "revision": "r6", "content_hash": "sha256:6"}') r;
ROLLBACK;
-- deleting the file keeps its history
SELECT astpg.delete_file('hist', 'm.py');
SELECT count(*) AS versions FROM astpg.metric_history WHERE repository = 'hist';
SELECT count(DISTINCT file_id) = 1 AS one_file_id_for_all_versions,
       bool_and(repo_id = astpg.repo_id(repository)) AS keyed
  FROM astpg.metric_history WHERE repository = 'hist';

-- complexity of a file across revisions (README)
SELECT revision, complexity_total, complexity_max, (metrics ->> 'loc')::numeric AS loc,
       complexity_total - lag(complexity_total) OVER w AS change
  FROM astpg.metric_history
 WHERE repository = 'hist' AND path = 'm.py'
WINDOW w AS (ORDER BY ingested_at)
 ORDER BY ingested_at;

-- everything so far sits in the DEFAULT partition
SELECT tableoid::regclass AS partition, count(*) FROM astpg.metric_history
 WHERE repository = 'hist' GROUP BY 1;

-- maintain(): this month and the next three, once; the rows of this month
-- move out of the DEFAULT partition into theirs
CREATE TEMP TABLE months AS
SELECT 'metric_history_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC')
                                    + make_interval(months => i), 'YYYYMM') AS name
  FROM generate_series(0, 3) i;
SELECT (SELECT array_agg(partition_name ORDER BY partition_name) FROM astpg.maintain()
         WHERE action = 'created')
       = (SELECT array_agg(name ORDER BY name) FROM months) AS created_four_months;
SELECT count(*) AS created_again FROM astpg.maintain();
SELECT tableoid::regclass::text = 'astpg.' || (SELECT min(name) FROM months) AS in_this_month,
       count(*)
  FROM astpg.metric_history WHERE repository = 'hist' GROUP BY 1;
SELECT count(*) AS left_in_default FROM astpg.metric_history_default;
SELECT pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM%' AS ranged,
       count(*)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'astpg.metric_history'::regclass GROUP BY 1 ORDER BY 1;
-- an ingest after maintain() lands in this month's partition
SELECT r.status FROM astpg.ingest('{"repository": "hist", "path": "n.py", "language": "python"}') r;
SELECT tableoid::regclass::text = 'astpg.' || (SELECT min(name) FROM months) AS in_this_month
  FROM astpg.metric_history WHERE repository = 'hist' AND path = 'n.py';

-- retention: whole months past it are dropped, and old rows of the DEFAULT
-- partition deleted; recent ones stay
CREATE TABLE astpg.metric_history_202001 PARTITION OF astpg.metric_history
    FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00');
INSERT INTO astpg.metric_history (repo_id, repository, path, file_id, status, ingested_at,
                                  functions, classes, complexity_total)
VALUES (astpg.repo_id('old'), 'old', 'x.py', 1, 'inserted', '2020-01-15 12:00+00', 1, 0, 1),
       (astpg.repo_id('old'), 'old', 'y.py', 2, 'inserted', '2019-06-15 12:00+00', 1, 0, 1);
SELECT action, partition_name FROM astpg.maintain('1 year');
SELECT repository, count(*) FROM astpg.metric_history
 WHERE repository IN ('hist', 'old') GROUP BY 1 ORDER BY 1;
SELECT count(*) AS nothing_to_drop FROM astpg.maintain('1 year') WHERE action = 'dropped';

-- repository totals per month (README): the last version of each file as
-- of the end of each month
SELECT to_char(m.month, 'YYYY-MM') = to_char(now(), 'YYYY-MM') AS this_month,
       count(*) AS files, sum(v.functions) AS functions,
       sum(v.complexity_total) AS complexity
  FROM (SELECT DISTINCT date_trunc('month', ingested_at) AS month
          FROM astpg.metric_history WHERE repository = 'hist') m
 CROSS JOIN LATERAL (
       SELECT DISTINCT ON (h.path) h.functions, h.complexity_total
         FROM astpg.metric_history h
        WHERE h.repository = 'hist' AND h.ingested_at < m.month + interval '1 month'
        ORDER BY h.path, h.ingested_at DESC) v
 GROUP BY m.month ORDER BY m.month;

--
-- Privileges: readers read the views and run the read functions; writers
-- also refresh and maintain; nobody else does anything.
--
-- refusals as 'SQLSTATE: message'
\i test/fixtures/attempt.sql
CREATE ROLE analytics_reader IN ROLE astpg_reader;
CREATE ROLE analytics_writer IN ROLE astpg_writer;
CREATE ROLE analytics_nobody;
SET ROLE analytics_reader;
SELECT count(*) >= 0 AS reads FROM astpg.repository_summary;
SELECT count(*) >= 0 AS reads FROM astpg.metric_history;
SELECT count(*) >= 0 AS searches FROM astpg.find_symbol('f');
SELECT count(*) >= 0 AS cycles FROM astpg.import_cycles('hist');
SELECT pg_temp.attempt('SELECT astpg.refresh_analytics()');
SELECT pg_temp.attempt('SELECT astpg.maintain()');
SELECT pg_temp.attempt('DELETE FROM astpg.metric_history');
SELECT pg_temp.attempt('DELETE FROM astpg.analytics_refreshes');
RESET ROLE;
SET ROLE analytics_writer;
SELECT count(*) > 0 AS refreshed FROM astpg.refresh_analytics();
SELECT count(*) AS created FROM astpg.maintain();
SELECT pg_temp.attempt('DELETE FROM astpg.call_graph');
SELECT pg_temp.attempt('INSERT INTO astpg.metric_history (repo_id, repository, path, file_id,
    status, ingested_at, functions, classes, complexity_total)
    VALUES (1, ''x'', ''x'', 1, ''inserted'', now(), 0, 0, 0)');
RESET ROLE;
SET ROLE analytics_nobody;
SELECT pg_temp.attempt('SELECT count(*) FROM astpg.file_summary');
SELECT pg_temp.attempt('SELECT count(*) FROM astpg.find_symbol(''f'')');
RESET ROLE;
DROP ROLE analytics_reader, analytics_writer, analytics_nobody;
