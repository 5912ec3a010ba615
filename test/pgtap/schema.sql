-- test/pgtap/schema.sql: astpg's schema, keys, indexes and privileges.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION astpg CASCADE;
SELECT plan(312);

SELECT has_schema('astpg');
SELECT tables_are('astpg',
    ARRAY['files', 'classes', 'functions', 'calls', 'dependencies', 'metrics', 'ingests',
          'rejects', 'inbox', 'analytics_refreshes', 'metric_history',
          'metric_history_default', 'symbol_names', 'class_hierarchy', 'call_graph',
          'function_hotspots', 'repository_summary', 'maintenance_runs']);
SELECT materialized_views_are('astpg', ARRAY[]::name[]);
SELECT views_are('astpg', ARRAY['module_edges', 'file_summary', 'analytics_staleness', 'health']);

-- columns
SELECT columns_are('astpg', 'files', ARRAY['file_id', 'repository', 'path', 'module',
    'language', 'revision', 'size_bytes', 'content_hash', 'ast', 'attrs', 'created_at', 'updated_at', 'repo_id']);
SELECT columns_are('astpg', 'classes', ARRAY['class_id', 'file_id', 'parent_id', 'name',
    'qualified_name', 'namespace', 'bases', 'line_start', 'line_end', 'is_abstract', 'attrs', 'repo_id']);
SELECT columns_are('astpg', 'functions', ARRAY['function_id', 'file_id', 'class_id', 'name',
    'qualified_name', 'signature', 'parameters', 'parameter_count', 'return_type', 'line_start',
    'line_end', 'complexity', 'is_async', 'decorators', 'attrs', 'repo_id']);
SELECT columns_are('astpg', 'calls', ARRAY['function_id', 'call_no', 'file_id', 'callee', 'line', 'attrs', 'repo_id']);
SELECT columns_are('astpg', 'dependencies', ARRAY['file_id', 'dependency_no', 'target',
    'target_file_id', 'kind', 'line', 'strength', 'names', 'attrs', 'repo_id']);
SELECT columns_are('astpg', 'metrics', ARRAY['file_id', 'name', 'value', 'repo_id']);
SELECT columns_are('astpg', 'ingests', ARRAY['ingest_id', 'ingested_at', 'ingested_by',
    'repository', 'path', 'revision', 'content_hash', 'status', 'file_id', 'classes',
    'functions', 'calls', 'dependencies', 'metrics', 'duration', 'repo_id']);
SELECT columns_are('astpg', 'rejects', ARRAY['reject_id', 'rejected_at', 'rejected_by', 'source',
    'position', 'repository', 'path', 'document', 'document_text', 'sqlstate', 'message', 'detail', 'repo_id']);
SELECT columns_are('astpg', 'inbox', ARRAY['doc']);
SELECT columns_are('astpg', 'analytics_refreshes', ARRAY['repo_id', 'repository', 'refreshed_at',
    'duration', 'last_ingest', 'classes', 'calls', 'hotspots']);
SELECT columns_are('astpg', 'symbol_names', ARRAY['name', 'kind', 'member', 'repo_id']);
SELECT columns_are('astpg', 'analytics_staleness', ARRAY['repository', 'refreshed_at',
    'files_changed_since', 'repository_gone']);
SELECT columns_are('astpg', 'metric_history', ARRAY['repo_id', 'repository', 'path', 'file_id',
    'revision', 'content_hash', 'status', 'ingested_at', 'functions', 'classes',
    'complexity_total', 'complexity_max', 'metrics']);

-- the analytics: views of the tables (current) and tables that
-- refresh_analytics() fills, with the columns the views of 1.5 had
SELECT has_view('astpg', v, 'view astpg.' || v)
  FROM unnest(ARRAY['module_edges', 'file_summary']) AS v;
SELECT has_table('astpg', t, 'table astpg.' || t)
  FROM unnest(ARRAY['class_hierarchy', 'call_graph', 'function_hotspots',
                    'repository_summary']) AS t;
SELECT columns_are('astpg', 'module_edges', ARRAY['repo_id', 'source_file_id', 'target_file_id',
    'dependencies']);
SELECT columns_are('astpg', 'class_hierarchy', ARRAY['class_id', 'repo_id', 'file_id',
    'qualified_name', 'bases', 'base_class_ids', 'depth', 'descendants', 'ancestor_ids',
    'ancestor_distances', 'name', 'line_start']);
SELECT columns_are('astpg', 'call_graph', ARRAY['repo_id', 'caller_id', 'callee_id',
    'caller_file_id', 'callee_file_id', 'calls']);
SELECT columns_are('astpg', 'file_summary', ARRAY['file_id', 'repo_id', 'repository', 'path',
    'module', 'language', 'classes', 'functions', 'max_complexity', 'avg_complexity', 'fan_in',
    'fan_out', 'loc']);
SELECT columns_are('astpg', 'function_hotspots', ARRAY['function_id', 'repo_id', 'file_id',
    'repository', 'path', 'qualified_name', 'name', 'complexity', 'length', 'resolved_callers',
    'rank', 'line_start']);
SELECT columns_are('astpg', 'repository_summary', ARRAY['repository', 'repo_id', 'language',
    'files', 'classes', 'functions', 'calls', 'resolved_calls', 'unresolved_calls',
    'dependencies', 'resolved_dependencies', 'lines', 'avg_complexity', 'p90_complexity']);
SELECT col_is_pk('astpg'::name, 'call_graph'::name, ARRAY['caller_id', 'callee_id', 'repo_id']::name[], 'call_graph primary key');
SELECT col_is_pk('astpg'::name, 'class_hierarchy'::name, ARRAY['class_id', 'repo_id']::name[], 'class_hierarchy primary key');
SELECT col_is_pk('astpg'::name, 'function_hotspots'::name, ARRAY['function_id', 'repo_id']::name[], 'function_hotspots primary key');
SELECT col_is_pk('astpg'::name, 'repository_summary'::name, ARRAY['language', 'repo_id']::name[], 'repository_summary primary key');

-- metric_history: by month of ingested_at, a DEFAULT partition for what no
-- month holds; it outlives the files it names (delete_file keeps history)
SELECT is_partitioned('astpg'::name, 'metric_history'::name, 'metric_history is partitioned');
SELECT partitions_are('astpg', 'metric_history', ARRAY['astpg.metric_history_default'],
    'a fresh install has only the DEFAULT partition: maintain() adds the months');
SELECT is(pg_get_partkeydef('astpg.metric_history'::regclass), 'RANGE (ingested_at)',
    'metric_history is partitioned by range of ingested_at');
SELECT hasnt_fk('astpg', 'metric_history', 'the history outlives the files it names');

-- types of the keys and of the columns that hold structure
SELECT col_type_is('astpg'::name, t::name, c::name, 'bigint')
  FROM (VALUES ('files', 'file_id'), ('classes', 'class_id'), ('classes', 'file_id'),
               ('classes', 'parent_id'), ('functions', 'function_id'), ('functions', 'file_id'),
               ('functions', 'class_id'), ('calls', 'function_id'), ('calls', 'file_id'),
               ('dependencies', 'file_id'), ('dependencies', 'target_file_id'),
               ('metrics', 'file_id'), ('ingests', 'ingest_id'),
               ('files', 'repo_id'), ('classes', 'repo_id'), ('functions', 'repo_id'),
               ('calls', 'repo_id'), ('dependencies', 'repo_id'), ('metrics', 'repo_id'),
               ('ingests', 'repo_id'), ('rejects', 'repo_id')) AS k(t, c);
SELECT col_type_is('astpg'::name, 'files'::name, 'ast'::name, 'jsonb');
SELECT col_type_is('astpg'::name, 'functions'::name, 'parameters'::name, 'jsonb');
SELECT col_type_is('astpg'::name, 'classes'::name, 'bases'::name, 'text[]');
SELECT col_type_is('astpg'::name, 'functions'::name, 'decorators'::name, 'text[]');
SELECT col_type_is('astpg'::name, 'dependencies'::name, 'names'::name, 'text[]');
SELECT col_type_is('astpg'::name, 'metrics'::name, 'value'::name, 'double precision');
SELECT col_type_is('astpg'::name, 'ingests'::name, 'duration'::name, 'interval');
SELECT col_not_null('astpg'::name, t::name, 'file_id'::name)
  FROM unnest(ARRAY['classes', 'functions', 'calls', 'dependencies', 'metrics']) AS t;
SELECT col_not_null('astpg'::name, t::name, 'repo_id'::name)
  FROM unnest(ARRAY['files', 'classes', 'functions', 'calls', 'dependencies', 'metrics',
                    'ingests', 'rejects']) AS t;
-- a file's repo_id is its repository's key
SELECT col_has_check('astpg', 'files', ARRAY['repo_id', 'repository'], 'files.repo_id is checked against repository');

-- primary keys: every key holds the repository's, after the ids (Citus
-- distributes by it; first, it would offer kept plans a scan of a whole
-- repository)
SELECT col_is_pk('astpg'::name, 'files'::name, ARRAY['file_id', 'repo_id']::name[], 'files primary key');
SELECT col_is_pk('astpg'::name, 'classes'::name, ARRAY['class_id', 'repo_id']::name[], 'classes primary key');
SELECT col_is_pk('astpg'::name, 'functions'::name, ARRAY['function_id', 'repo_id']::name[], 'functions primary key');
SELECT col_is_pk('astpg'::name, 'calls'::name, ARRAY['function_id', 'repo_id', 'call_no']::name[], 'calls primary key');
SELECT col_is_pk('astpg'::name, 'dependencies'::name, ARRAY['file_id', 'repo_id', 'dependency_no']::name[], 'dependencies primary key');
SELECT col_is_pk('astpg'::name, 'ingests'::name, ARRAY['ingest_id', 'repo_id']::name[], 'ingests primary key');
SELECT col_is_pk('astpg'::name, 'rejects'::name, ARRAY['reject_id', 'repo_id']::name[], 'rejects primary key');
SELECT col_is_pk('astpg'::name, 'analytics_refreshes'::name, ARRAY['repository', 'repo_id']::name[], 'analytics_refreshes primary key');

-- foreign keys
SELECT fk_ok('astpg', 'classes', ARRAY['file_id', 'repo_id'], 'astpg', 'files', ARRAY['file_id', 'repo_id']);
SELECT fk_ok('astpg', 'classes', ARRAY['parent_id', 'repo_id'], 'astpg', 'classes', ARRAY['class_id', 'repo_id']);
SELECT fk_ok('astpg', 'functions', ARRAY['file_id', 'repo_id'], 'astpg', 'files', ARRAY['file_id', 'repo_id']);
SELECT fk_ok('astpg', 'functions', ARRAY['class_id', 'repo_id'], 'astpg', 'classes', ARRAY['class_id', 'repo_id']);
SELECT fk_ok('astpg', 'calls', ARRAY['function_id', 'repo_id'], 'astpg', 'functions', ARRAY['function_id', 'repo_id']);
SELECT fk_ok('astpg', 'calls', ARRAY['file_id', 'repo_id'], 'astpg', 'files', ARRAY['file_id', 'repo_id']);
SELECT fk_ok('astpg', 'dependencies', ARRAY['file_id', 'repo_id'], 'astpg', 'files', ARRAY['file_id', 'repo_id']);
SELECT fk_ok('astpg', 'dependencies', ARRAY['target_file_id', 'repo_id'], 'astpg', 'files', ARRAY['file_id', 'repo_id']);
SELECT fk_ok('astpg', 'metrics', ARRAY['file_id', 'repo_id'], 'astpg', 'files', ARRAY['file_id', 'repo_id']);
SELECT hasnt_fk('astpg', 'ingests', 'the audit log outlives the files it names');
SELECT is_empty($$
    SELECT c.conrelid::regclass, c.conname
      FROM pg_constraint c
      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attname = 'repo_id'
     WHERE c.contype IN ('p', 'u', 'f')
       AND c.connamespace = 'astpg'::regnamespace
       AND (c.conkey[1] = a.attnum OR a.attnum <> ALL (c.conkey))
$$, 'every primary, unique and foreign key holds repo_id, not first');
-- repo_id leads no index of the tables astpg keeps plans for, nor is it in
-- any of their indexes but the unique keys (see astpg--1.1--1.2.sql).  The
-- exception is metric_history's, which is read a repository at a time and
-- never looked up by id through a kept plan; and symbol_names holds it in
-- its one index after the name, which the writer's lookup leads with.  An
-- index's partitions follow their parent's definition and are left out.
SELECT set_eq($$
    SELECT i.indexrelid::regclass::text
      FROM pg_index i
      JOIN pg_class x ON x.oid = i.indexrelid
     WHERE i.indrelid IN (SELECT c.oid FROM pg_class c
                           WHERE c.relnamespace = 'astpg'::regnamespace)
       AND NOT x.relispartition
       AND i.indkey[0] = (SELECT a.attnum FROM pg_attribute a
                           WHERE a.attrelid = i.indrelid AND a.attname = 'repo_id')
$$, ARRAY['astpg.metric_history_default_repo_id_idx'],
    'no index leads with repo_id but the history''s, which is read a repository at a time');
SELECT set_eq($$
    SELECT i.indexrelid::regclass::text
      FROM pg_index i
      JOIN pg_class x ON x.oid = i.indexrelid
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = 'repo_id'
     WHERE i.indrelid IN (SELECT c.oid FROM pg_class c
                           WHERE c.relnamespace = 'astpg'::regnamespace)
       AND NOT x.relispartition
       AND NOT i.indisunique
       AND a.attnum = ANY (i.indkey::int2[])
$$, ARRAY['astpg.metric_history_default_repo_id_idx', 'astpg.symbol_names_name_idx'],
    'repo_id is in the unique keys only, and in the history''s index and symbol_names''');

-- children go with their file; a dependency's target is cleared by
-- delete_file() (no ON DELETE action: SET NULL would null repo_id too)
SELECT is(
    (SELECT string_agg(c.conrelid::regclass || '.' || a.attname || ':' || c.confdeltype::text, ', '
                       ORDER BY c.conrelid::regclass::text, a.attname)
       FROM pg_constraint c
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
      WHERE c.contype = 'f' AND c.confrelid = 'astpg.files'::regclass),
    'astpg.calls.file_id:c, astpg.classes.file_id:c, astpg.dependencies.file_id:c, '
    'astpg.dependencies.target_file_id:a, astpg.functions.file_id:c, astpg.metrics.file_id:c',
    'foreign keys to files cascade, except target_file_id');

-- every foreign key is indexed: its id, the column before repo_id, leads
-- some index (repo_id adds nothing to a lookup by id, see
-- astpg--1.1--1.2.sql)
SELECT is_empty($$
    SELECT c.conrelid::regclass, c.conname
      FROM pg_constraint c
     WHERE c.contype = 'f'
       AND c.connamespace = 'astpg'::regnamespace
       AND NOT EXISTS (
             SELECT FROM pg_index i
              WHERE i.indrelid = c.conrelid
                AND i.indkey[0] = c.conkey[1])
$$, 'every foreign key is indexed');

-- indexes
SELECT has_index('astpg', 'files', 'files_repository_path_key', ARRAY['astpg.file_key(repository, path)', 'repo_id']);
SELECT index_is_unique('astpg', 'files', 'files_repository_path_key');
SELECT has_index('astpg', 'files', 'files_ast_idx', 'ast');
SELECT index_is_type('astpg', 'files', 'files_ast_idx', 'gin');
SELECT index_is_type('astpg', 'files', 'files_module_idx', 'hash');
SELECT index_is_type('astpg', 'files', 'files_path_idx', 'hash');
-- unresolved targets: a btree on their hash, not a hash index, whose
-- buckets grew with every unresolved "os" (10,000 more took 5x as long)
SELECT index_is_type('astpg', 'dependencies', 'dependencies_unresolved_target_idx', 'btree');
SELECT has_index('astpg', 'classes', 'classes_file_id_idx', 'file_id');
SELECT has_index('astpg', 'functions', 'functions_file_id_idx', 'file_id');
SELECT has_index('astpg', 'calls', 'calls_file_name_idx',
                 ARRAY['file_id', '"left"(split_part(callee, ''.''::text, ''-1''::integer), 256)']);
SELECT has_index('astpg', 'metrics', 'metrics_file_id_idx', 'file_id');
SELECT has_index('astpg', 'dependencies', 'dependencies_target_file_id_idx', 'target_file_id');
-- lookups by name: on the tables btrees on the first 256 characters of
-- names, hashes on class names (no btree holds a whole value); prefix
-- and fuzzy matches on symbol_names, by btrees on its names ("C" order)
-- and on them reversed, and no trigram index anywhere
SELECT has_index('astpg', 'functions', 'functions_name_idx',
                 ARRAY['"left"(name, 256)', '"left"(qualified_name, 256)']);
SELECT has_index('astpg', 'symbol_names', 'symbol_names_name_idx',
                 ARRAY['name', 'kind', 'member', 'repo_id']);
SELECT has_index('astpg', 'symbol_names', 'symbol_names_reversed_idx', ARRAY['reverse(name)']);
SELECT is((SELECT c.collname::text FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
            WHERE a.attrelid = 'astpg.symbol_names'::regclass AND a.attname = 'name'),
          'C', 'symbol_names.name is in collation "C"');
SELECT index_is_type('astpg'::name, t::name, i::name, 'hash')
  FROM (VALUES ('classes', 'classes_name_idx'),
               ('classes', 'classes_qualified_name_idx')) AS x(t, i);
SELECT is_empty($$
    SELECT x.indexrelid::regclass FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_am a ON a.oid = i.relam
     WHERE a.amname IN ('gin', 'gist')
       AND x.indrelid IN (SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'astpg'::regnamespace)
       AND pg_get_indexdef(x.indexrelid) LIKE '%trgm_ops%'
$$, 'no trigram index: on a million names its scans read most of it');
SELECT has_index('astpg', 'metric_history_default', 'metric_history_default_path_idx',
    ARRAY['path']);

-- functions, their security and pinned search_path
SELECT functions_are('astpg', ARRAY['ingest', 'ingest_batch', 'inbox_ingest', 'ingest_counts',
    'document', 'delete_file', 'resolve_dependencies', 'file_key', 'repo_id', 'distribute',
    'text_arrays', 'assign_id_ranges', 'refresh_analytics', 'maintain', 'graph_walk',
    'class_ancestors', 'dependencies_of', 'dependents_of', 'callers', 'callees',
    'import_cycles', 'dependency_graph_dot', 'find_symbol',
    'stored_hashes', 'record_unchanged', 'delete_files', 'record_reject',
    'dependency_targets', 'inbox_flush',
    'lock_repository', 'delete_file_once', 'delete_paths', 'gin_extract_ast',
    'resolve_calls', 'calling', 'symbol_rows', 'refresh_repositories',
    'dead_code', 'package_coupling', 'churn', 'trend']);
SELECT function_returns('astpg', 'ingest_batch', ARRAY['jsonb[]', 'text'], 'setof astpg.ingest_result');
SELECT is_definer('astpg', 'ingest_batch', ARRAY['jsonb[]', 'text']);
SELECT is_definer('astpg', 'inbox_ingest', ARRAY[]::text[]);
SELECT trigger_is('astpg', 'inbox', 'inbox_ingest', 'astpg', 'inbox_ingest');
-- 1.4: the inbox writes a statement's documents together, when it ends
SELECT is_definer('astpg', 'inbox_flush', ARRAY[]::text[]);
SELECT trigger_is('astpg', 'inbox', 'inbox_flush', 'astpg', 'inbox_flush');
SELECT is_definer('astpg', 'record_reject', ARRAY['text', 'text', 'text', 'text']);
SELECT function_privs_are('astpg', 'record_reject', ARRAY['text', 'text', 'text', 'text'],
    'astpg_writer', ARRAY['EXECUTE']);
SELECT function_privs_are('astpg', 'record_reject', ARRAY['text', 'text', 'text', 'text'],
    'astpg_reader', ARRAY[]::text[]);
-- dependency_targets() locks rows with the owner's rights: only astpg calls it
SELECT function_privs_are('astpg', 'dependency_targets', ARRAY['text', 'text[]', 'boolean'],
    'astpg_writer', ARRAY[]::text[]);
SELECT function_privs_are('astpg', 'dependency_targets', ARRAY['text', 'text[]', 'boolean'],
    'public', ARRAY[]::text[]);
-- 1.5: the repository lock, and deleting files with the owner's rights,
-- are astpg's own: no writer calls them
SELECT function_privs_are('astpg', 'lock_repository', ARRAY['bigint', 'boolean'],
    'astpg_writer', ARRAY[]::text[]);
SELECT function_privs_are('astpg', 'delete_paths', ARRAY['text', 'text[]'],
    'astpg_writer', ARRAY[]::text[]);
SELECT function_privs_are('astpg', 'delete_file_once', ARRAY['text', 'text'],
    'astpg_writer', ARRAY[]::text[]);
SELECT has_opclass('astpg', 'ast_path_ops', 'astpg.ast_path_ops exists (files_ast_idx uses it)');
SELECT function_returns('astpg', 'ingest', ARRAY['jsonb'], 'astpg.ingest_result');
SELECT function_returns('astpg', 'document', ARRAY['bigint'], 'jsonb');
SELECT function_returns('astpg', 'delete_file', ARRAY['text', 'text'], 'boolean');
SELECT is_definer('astpg', 'ingest', ARRAY['jsonb']);
SELECT is_definer('astpg', 'delete_file', ARRAY['text', 'text']);
SELECT is_definer('astpg', 'resolve_dependencies', ARRAY['text']);
SELECT isnt_definer('astpg', 'document', ARRAY['bigint']);
SELECT volatility_is('astpg', 'file_key', ARRAY['text', 'text'], 'immutable');
SELECT volatility_is('astpg', 'repo_id', ARRAY['text'], 'immutable');
SELECT function_returns('astpg', 'document', ARRAY['bigint', 'bigint'], 'jsonb');
SELECT function_privs_are('astpg', 'document', ARRAY['bigint', 'bigint'], 'astpg_reader', ARRAY['EXECUTE']);
SELECT function_privs_are('astpg', 'repo_id', ARRAY['text'], 'astpg_reader', ARRAY['EXECUTE']);
SELECT function_privs_are('astpg', 'distribute', ARRAY['integer'], 'astpg_writer', ARRAY[]::text[]);
SELECT function_privs_are('astpg', 'distribute', ARRAY['integer'], 'public', ARRAY[]::text[]);
SELECT is_empty($$
    SELECT p.proname
      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
     WHERE p.pronamespace = 'astpg'::regnamespace
       AND (l.lanname <> 'c' OR p.prosecdef)
       AND NOT COALESCE('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
$$, 'SQL and SECURITY DEFINER functions pin search_path');
-- 1.3: the writers' functions run as the owner (they refresh views and
-- create partitions); the readers' run as the caller, with its privileges;
-- class_ancestors, which class_hierarchy calls, reads no table
SELECT function_returns('astpg', 'refresh_analytics', ARRAY['boolean'], 'setof astpg.analytics_refreshes');
SELECT is_definer('astpg', 'refresh_analytics', ARRAY['boolean']);
SELECT is_definer('astpg', 'refresh_analytics', ARRAY['text']);
SELECT is_definer('astpg', 'maintain', ARRAY['interval']);
SELECT is_definer('astpg', 'record_unchanged', ARRAY['text', 'text[]', 'text[]', 'text[]']);
SELECT is_definer('astpg', 'delete_files', ARRAY['text', 'text[]']);
SELECT isnt_definer('astpg', 'stored_hashes', ARRAY['text']);
SELECT volatility_is('astpg', 'refresh_analytics', ARRAY['boolean'], 'volatile');
SELECT volatility_is('astpg', 'maintain', ARRAY['interval'], 'volatile');
SELECT isnt_definer('astpg'::name, f::name, a::name[])
  FROM (VALUES ('graph_walk', ARRAY['bigint', 'integer', 'text']),
               ('dependencies_of', ARRAY['bigint', 'integer']),
               ('dependents_of', ARRAY['bigint', 'integer']),
               ('callers', ARRAY['bigint', 'integer']),
               ('callees', ARRAY['bigint', 'integer']),
               ('import_cycles', ARRAY['text']),
               ('dependency_graph_dot', ARRAY['text', 'text']),
               ('find_symbol', ARRAY['text', 'text[]', 'integer'])) AS x(f, a);
SELECT volatility_is('astpg'::name, f::name, a::name[], 'stable')
  FROM (VALUES ('graph_walk', ARRAY['bigint', 'integer', 'text']),
               ('dependencies_of', ARRAY['bigint', 'integer']),
               ('dependents_of', ARRAY['bigint', 'integer']),
               ('callers', ARRAY['bigint', 'integer']),
               ('callees', ARRAY['bigint', 'integer']),
               ('import_cycles', ARRAY['text']),
               ('dependency_graph_dot', ARRAY['text', 'text']),
               ('find_symbol', ARRAY['text', 'text[]', 'integer'])) AS x(f, a);
SELECT isnt_definer('astpg', 'class_ancestors', ARRAY['bigint[]', 'bigint[]', 'bigint[]']);
SELECT volatility_is('astpg', 'class_ancestors', ARRAY['bigint[]', 'bigint[]', 'bigint[]'], 'immutable');
SELECT has_composite('astpg', 'ingest_result', 'ingest_result is a composite type');
SELECT columns_are('astpg', 'ingest_result',
    ARRAY['file_id', 'status', 'classes', 'functions', 'calls', 'dependencies', 'metrics']);

-- roles and privileges
SELECT has_role('astpg_reader');
SELECT has_role('astpg_writer');
SELECT is_member_of('astpg_reader', 'astpg_writer');
SELECT table_privs_are('astpg'::name, t::name, 'astpg_reader'::name, ARRAY['SELECT'])
  FROM unnest(ARRAY['files', 'classes', 'functions', 'calls', 'dependencies', 'metrics', 'ingests',
                    'rejects']) AS t;
SELECT table_privs_are('astpg', 'inbox', 'astpg_writer', ARRAY['INSERT'],
    'writers COPY into the inbox, and read nothing from it');
SELECT table_privs_are('astpg', 'rejects', 'astpg_writer', ARRAY['SELECT'],
    'writers read the rejects and cannot change them');
SELECT function_privs_are('astpg', 'ingest_batch', ARRAY['jsonb[]', 'text'], 'astpg_writer', ARRAY['EXECUTE']);
SELECT function_privs_are('astpg', 'ingest_batch', ARRAY['jsonb[]', 'text'], 'astpg_reader', ARRAY[]::text[]);
SELECT table_privs_are('astpg', 'ingests', 'astpg_writer', ARRAY['SELECT'],
    'writers read the audit log and cannot change it');
SELECT function_privs_are('astpg', 'ingest', ARRAY['jsonb'], 'astpg_writer', ARRAY['EXECUTE']);
SELECT function_privs_are('astpg', 'ingest', ARRAY['jsonb'], 'astpg_reader', ARRAY[]::text[]);
SELECT function_privs_are('astpg', 'delete_file', ARRAY['text', 'text'], 'astpg_reader', ARRAY[]::text[]);
SELECT function_privs_are('astpg', 'document', ARRAY['bigint'], 'astpg_reader', ARRAY['EXECUTE']);
SELECT schema_privs_are('astpg', 'public', ARRAY[]::text[], 'PUBLIC may not use the schema');

-- 1.3: readers read the views, the history and the refresh log and run the
-- read functions; writers (members of astpg_reader) also refresh the views
-- and maintain the history's partitions; class_ancestors is the view's
-- alone; PUBLIC gets nothing
SELECT table_privs_are('astpg'::name, t::name, r::name, ARRAY['SELECT'])
  FROM unnest(ARRAY['module_edges', 'class_hierarchy', 'call_graph', 'file_summary',
                    'function_hotspots', 'repository_summary', 'analytics_refreshes',
                    'analytics_staleness', 'symbol_names', 'health', 'maintenance_runs',
                    'metric_history', 'metric_history_default']) AS t,
       unnest(ARRAY['astpg_reader', 'astpg_writer']) AS r;
SELECT table_privs_are('astpg'::name, t::name, 'public'::name, ARRAY[]::text[])
  FROM unnest(ARRAY['module_edges', 'class_hierarchy', 'call_graph', 'file_summary',
                    'function_hotspots', 'repository_summary', 'analytics_refreshes',
                    'analytics_staleness', 'symbol_names', 'health', 'maintenance_runs',
                    'metric_history', 'metric_history_default']) AS t;
SELECT function_privs_are('astpg'::name, x.f::name, x.a::name[], r::name,
                          CASE WHEN r <> 'public' AND (x.lowest = 'astpg_reader' OR x.lowest = r)
                               THEN ARRAY['EXECUTE'] ELSE ARRAY[]::text[] END)
  FROM (VALUES ('graph_walk', ARRAY['bigint', 'integer', 'text'], 'astpg_reader'),
               ('dependencies_of', ARRAY['bigint', 'integer'], 'astpg_reader'),
               ('dependents_of', ARRAY['bigint', 'integer'], 'astpg_reader'),
               ('callers', ARRAY['bigint', 'integer'], 'astpg_reader'),
               ('callees', ARRAY['bigint', 'integer'], 'astpg_reader'),
               ('import_cycles', ARRAY['text'], 'astpg_reader'),
               ('dependency_graph_dot', ARRAY['text', 'text'], 'astpg_reader'),
               ('find_symbol', ARRAY['text', 'text[]', 'integer'], 'astpg_reader'),
               ('refresh_analytics', ARRAY['boolean'], 'astpg_writer'),
               ('refresh_analytics', ARRAY['text'], 'astpg_writer'),
               ('refresh_repositories', ARRAY['bigint[]'], 'nobody'),
               ('resolve_calls', ARRAY['bigint', 'bigint[]', 'text[]'], 'astpg_reader'),
               ('calling', ARRAY['bigint', 'bigint[]'], 'astpg_reader'),
               ('symbol_rows', ARRAY['text', 'smallint', 'text', 'bigint', 'integer'], 'astpg_reader'),
               ('maintain', ARRAY['interval'], 'astpg_writer'),
               ('stored_hashes', ARRAY['text'], 'astpg_reader'),
               ('record_unchanged', ARRAY['text', 'text[]', 'text[]', 'text[]'], 'astpg_writer'),
               ('delete_files', ARRAY['text', 'text[]'], 'astpg_writer'),
               ('class_ancestors', ARRAY['bigint[]', 'bigint[]', 'bigint[]'], 'nobody'),
               ('dead_code', ARRAY['text', 'text'], 'astpg_reader'),
               ('package_coupling', ARRAY['text', 'integer', 'text'], 'astpg_reader'),
               ('churn', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone'],
                'astpg_reader'),
               ('trend', ARRAY['text', 'text', 'timestamp with time zone',
                               'timestamp with time zone'], 'astpg_reader'))
       AS x(f, a, lowest),
       unnest(ARRAY['astpg_reader', 'astpg_writer', 'public']) AS r;

-- pg_dump keeps the data of every table and the state of its sequences;
-- metric_history's rows live in its partitions: the DEFAULT one is
-- registered, the months maintain() creates are not members and are dumped
-- as any table, and symbol_names, which only the writer fills.  The
-- analytics are left out on purpose: a restored database's are empty until
-- refreshed, and its empty analytics_refreshes says so.
SELECT set_eq($$
    SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'astpg'
$$, ARRAY['astpg.files', 'astpg.classes', 'astpg.functions', 'astpg.calls',
          'astpg.dependencies', 'astpg.metrics', 'astpg.ingests', 'astpg.rejects',
          'astpg.files_file_id_seq', 'astpg.classes_class_id_seq',
          'astpg.functions_function_id_seq', 'astpg.ingests_ingest_id_seq',
          'astpg.rejects_reject_id_seq', 'astpg.metric_history_default',
          'astpg.symbol_names'],
    'every table and sequence is registered with pg_extension_config_dump');

SELECT * FROM finish();
ROLLBACK;
