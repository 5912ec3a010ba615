--
-- files_ast_idx (1.5): astpg.ast_path_ops makes jsonb_path_ops' own keys,
-- checking for interrupts (src/ast_index.c), so an index of it finds what
-- a scan finds, for containment and for jsonpath queries.  A key made
-- otherwise would make the index miss rows.
--
\i test/fixtures/load_sample.sql
CREATE TEMP TABLE asts (id integer, ast jsonb);
INSERT INTO asts SELECT n, doc FROM sample;
INSERT INTO asts SELECT 100 + n, doc -> 'ast' FROM sample WHERE doc ? 'ast';
INSERT INTO asts VALUES
    (200, '{}'), (201, '[]'), (202, '5'), (203, '"s"'), (204, 'null'),
    (205, 'true'), (206, '[1, [2, [3]]]'), (207, '[{}, [], {"a": []}]'),
    (208, '{"a": {"b": {"c": [1, 2, {"d": null}]}}}'),
    (209, '{"a": 1.50, "b": 1.5e0, "c": -0, "d": 1e100}'),
    (210, '{"é": "ü", "": "", "a\"b": "\\"}'),
    (211, '{"a": [[1], [[2]]], "b": {"a": 1}}'),
    (212, '[[["deep"]]]'),
    (213, (repeat('{"k": [', 300) || '"leaf"' || repeat(']}', 300))::jsonb);
-- probes: every document, and each of its top-level members alone
CREATE TEMP TABLE probes AS
SELECT ast AS probe FROM asts
UNION ALL
SELECT jsonb_build_object(e.key, e.value)
  FROM asts, jsonb_each(CASE WHEN jsonb_typeof(ast) = 'object' THEN ast ELSE '{}' END) AS e;
CREATE INDEX asts_ast_idx ON asts USING gin (ast astpg.ast_path_ops);
ANALYZE asts;
CREATE FUNCTION pg_temp.found(probe jsonb, by_index boolean) RETURNS integer[]
LANGUAGE plpgsql AS $$
DECLARE
    ids integer[];
BEGIN
    PERFORM set_config('enable_seqscan', (NOT by_index)::text, true);
    PERFORM set_config('enable_bitmapscan', by_index::text, true);
    -- planned anew each time, with the settings above
    EXECUTE 'SELECT array_agg(id ORDER BY id) FROM asts WHERE ast @> $1' INTO ids USING probe;
    RETURN ids;
END
$$;
BEGIN;
SET LOCAL enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM asts WHERE ast @> '{"a": 1}';
COMMIT;
SELECT count(*) AS probes,
       count(*) FILTER (WHERE pg_temp.found(probe, true) IS NOT DISTINCT FROM
                              pg_temp.found(probe, false)) AS same_by_index,
       count(*) FILTER (WHERE pg_temp.found(probe, true) IS NOT NULL) AS found_some
  FROM probes;
-- jsonpath queries through the index
BEGIN;
SET LOCAL enable_seqscan = off;
SELECT array_agg(id ORDER BY id) AS leaf FROM asts WHERE ast @? '$.** ? (@ == "leaf")';
SELECT array_agg(id ORDER BY id) AS a_is_1 FROM asts WHERE ast @@ '$.b.a == 1';
SELECT array_agg(id ORDER BY id) AS deep FROM asts WHERE ast @> '[[["deep"]]]';
COMMIT;
-- astpg's own index uses the operator class
SELECT indexdef FROM pg_indexes WHERE schemaname = 'astpg' AND indexname = 'files_ast_idx';
