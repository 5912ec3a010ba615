--
-- serializable: at SERIALIZABLE, a writer's lookups by path, by module and
-- among unresolved dependencies take their predicate locks on pages that
-- hold its own repository's keys, so that SERIALIZABLE writers of
-- different repositories do not fail each other, and none on a whole
-- relation.  Keyed by a hash of the value alone, as before 1.5, a
-- document of 40 dependencies locked a page of each index per target,
-- wherever other repositories' writers insert.
--
-- 16 repositories of 160 files, each file with a module, a class, a
-- method that calls, a metric and three dependencies (one on a module of
-- its own repository, two unresolved): a few pages of each index per
-- repository, and no empty index (a scan of an empty btree locks it whole).
SELECT count(*) AS stored
  FROM generate_series(0, 15) r,
       astpg.ingest_batch(ARRAY(
         SELECT jsonb_build_object(
                  'repository', 'ser' || r, 'path', 'pkg/m' || i || '.py',
                  'module', 'pkg.m' || i, 'language', 'python',
                  'classes', jsonb_build_array(jsonb_build_object(
                    'name', 'C', 'line_start', 1, 'line_end', 9)),
                  'functions', jsonb_build_array(jsonb_build_object(
                    'name', 'f', 'class', 'C', 'line_start', 2, 'line_end', 3,
                    'calls', jsonb_build_array(jsonb_build_object('name', 'g')))),
                  'metrics', jsonb_build_object('loc', i),
                  'dependencies', jsonb_build_array(
                    jsonb_build_object('target', 'pkg.m' || (i / 2)),
                    jsonb_build_object('target', 'ext.a' || i),
                    jsonb_build_object('target', 'ext.b' || i)))
           FROM generate_series(1, 160) i)) b;
ANALYZE astpg.files, astpg.classes, astpg.functions, astpg.calls,
        astpg.dependencies, astpg.metrics;
SELECT c.relname, pg_relation_size(c.oid) / current_setting('block_size')::int >= 6 AS several_pages
  FROM pg_class c
 WHERE c.relnamespace = 'astpg'::regnamespace
   AND c.relname IN ('files_repository_path_idx', 'files_repository_module_idx',
                     'dependencies_unresolved_target_idx')
 ORDER BY 1;

-- a document of repository ser7 that names 40 targets (20 of its modules,
-- 20 it does not hold), replacing a stored file, and one inserting a file
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT status FROM astpg.ingest(jsonb_build_object(
         'repository', 'ser7', 'path', 'pkg/m5.py', 'module', 'pkg.m5',
         'language', 'python',
         'dependencies', (SELECT jsonb_agg(jsonb_build_object('target', t))
                            FROM (SELECT 'pkg.m' || i FROM generate_series(100, 119) i
                                  UNION ALL
                                  SELECT 'ext.c' || i FROM generate_series(1, 20) i) AS x(t))));
SELECT status FROM astpg.ingest_batch(ARRAY[
         jsonb_build_object('repository', 'ser7', 'path', 'pkg/new.py', 'module', 'pkg.new',
                            'language', 'python',
                            'dependencies', jsonb_build_array(
                              jsonb_build_object('target', 'pkg.m7'),
                              jsonb_build_object('target', 'ext.d'))),
         jsonb_build_object('repository', 'ser7', 'path', 'pkg/m6.py', 'module', 'pkg.m6x',
                            'language', 'python')]);
-- the pages of each lookup index it holds predicate locks on: ser7's few
SELECT i.relname, count(DISTINCT l.page) BETWEEN 1 AND 3 AS its_own
  FROM pg_class i
  LEFT JOIN pg_locks l
         ON l.relation = i.oid AND l.mode = 'SIReadLock' AND l.pid = pg_backend_pid()
 WHERE i.relnamespace = 'astpg'::regnamespace
   AND i.relname IN ('files_repository_path_idx', 'files_repository_module_idx',
                     'dependencies_unresolved_target_idx')
 GROUP BY 1 ORDER BY 1;
-- no lookup went through an index keyed by the value alone
SELECT l.relation::regclass AS locked, count(*)
  FROM pg_locks l
 WHERE l.mode = 'SIReadLock' AND l.pid = pg_backend_pid()
   AND l.relation::regclass::text IN ('astpg.files_repository_path_key', 'astpg.files_module_idx',
                                      'astpg.files_path_idx')
 GROUP BY 1;
-- and no relation was locked whole
SELECT l.relation::regclass AS locked_whole
  FROM pg_locks l
 WHERE l.mode = 'SIReadLock' AND l.pid = pg_backend_pid() AND l.locktype = 'relation';
-- what was written resolves as the rule says
SELECT d.target, t.path AS resolved_to
  FROM astpg.dependencies d
  JOIN astpg.files f ON f.file_id = d.file_id
  LEFT JOIN astpg.files t ON t.file_id = d.target_file_id
 WHERE f.repository = 'ser7' AND f.path IN ('pkg/new.py', 'pkg/m5.py')
   AND (d.target LIKE 'pkg.m10_' OR d.target IN ('pkg.m7', 'ext.d', 'ext.c1'))
 ORDER BY 1;
COMMIT;

-- leave the database as the suites before found it
UPDATE astpg.dependencies d SET target_file_id = NULL
  FROM astpg.files f
 WHERE f.file_id = d.file_id AND f.repository LIKE 'ser%' AND d.target_file_id IS NOT NULL;
DELETE FROM astpg.files WHERE repository LIKE 'ser%';
DELETE FROM astpg.ingests WHERE repository LIKE 'ser%';
DELETE FROM astpg.metric_history WHERE repository LIKE 'ser%';
