--
-- plans: kept plans made while the tables are empty and analyzed (as after
-- CREATE EXTENSION and an autovacuum, or a TRUNCATE) must still look rows
-- up by index once the tables have grown; one that scans would make a load
-- quadratic.  Checked through the table statistics, not the clock.
--
TRUNCATE astpg.files, astpg.classes, astpg.functions, astpg.calls,
         astpg.dependencies, astpg.metrics, astpg.ingests;
ANALYZE astpg.files, astpg.classes, astpg.functions, astpg.calls,
        astpg.dependencies, astpg.metrics;
SELECT relname, n_live_tup FROM pg_stat_user_tables
 WHERE schemaname = 'astpg' AND relname IN ('files', 'dependencies') ORDER BY 1;
SELECT pg_stat_reset();
-- a new session: its plans are made now, on empty tables
\c
SELECT count(*) AS stored
  FROM generate_series(1, 400) i,
       astpg.ingest(jsonb_build_object(
         'repository', 'plans', 'path', 'p/m' || i || '.py', 'module', 'p.m' || i,
         'language', 'python',
         'classes', jsonb_build_array(jsonb_build_object('name', 'C', 'line_start', 1, 'line_end', 9)),
         'functions', jsonb_build_array(jsonb_build_object('name', 'f', 'class', 'C',
                                          'line_start', 2, 'line_end', 3,
                                          'calls', jsonb_build_array(jsonb_build_object('name', 'g'))),
                                        jsonb_build_object('name', 'g', 'line_start', 5, 'line_end', 6)),
         -- one dependency resolved at once, one resolved when its target comes
         'dependencies', jsonb_build_array(jsonb_build_object('target', 'p.m' || (i - 1)),
                                           jsonb_build_object('target', 'p.m' || (i + 1))))) r;
-- then a quarter of them replaced and an eighth deleted, with the same
-- kept plans (and the foreign keys' cascades)
SELECT r.status, count(*)
  FROM generate_series(1, 100) i,
       astpg.ingest(jsonb_build_object(
         'repository', 'plans', 'path', 'p/m' || i || '.py', 'module', 'p.m' || i,
         'language', 'python', 'content_hash', 'v2',
         'functions', jsonb_build_array(jsonb_build_object('name', 'h', 'line_start', 1, 'line_end', 2)))) r
 GROUP BY 1;
SELECT count(*) FILTER (WHERE astpg.delete_file('plans', 'p/m' || i || '.py')) AS deleted
  FROM generate_series(301, 350) i;
SELECT pg_stat_force_next_flush();
\c
SELECT count(*) FILTER (WHERE target_file_id IS NOT NULL) AS resolved, count(*) AS dependencies
  FROM astpg.dependencies;
-- no table of astpg read whole: every lookup went through an index
SELECT relname, seq_tup_read FROM pg_stat_user_tables
 WHERE schemaname = 'astpg' AND seq_tup_read > 0 ORDER BY 1;
-- and dependencies were not walked index-wide per file (400 files, 800 rows)
-- (walked, it reads some 400 * 800 / 2 = 160,000 entries; looked up, one or
-- two per file)
SELECT sum(idx_tup_read) < 8000 AS dependencies_looked_up_not_walked
  FROM pg_stat_user_indexes WHERE schemaname = 'astpg' AND relname = 'dependencies';
-- nor was any other index: a kept plan may pick any index that matches a
-- lookup's first column, so none may lead with a column shared by a whole
-- repository (walked, the checks of 400 calls read some 80,000 entries)
SELECT indexrelname, idx_tup_read FROM pg_stat_user_indexes
 WHERE schemaname = 'astpg' AND idx_tup_read > 8000 ORDER BY 1;
