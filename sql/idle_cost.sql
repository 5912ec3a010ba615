--
-- idle_cost: a session that loaded astpg's library but does not write with
-- it pays nothing for it in its subtransactions.  The library keeps the
-- counts of ingest_counts() across savepoints only once it counts
-- something (src/counts.c); here the bytes of TopTransactionContext at 100
-- nested subtransactions are the same before and after the library is
-- loaded.
--
\c
CREATE FUNCTION pg_temp.nested(depth int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  IF depth = 0 THEN
    RETURN (SELECT used_bytes FROM pg_backend_memory_contexts
             WHERE name = 'TopTransactionContext');
  END IF;
  BEGIN
    RETURN pg_temp.nested(depth - 1);
  EXCEPTION WHEN division_by_zero THEN
    RETURN -1;
  END;
END $$;

SELECT pg_temp.nested(100) - pg_temp.nested(0) AS before_load \gset
SELECT astpg.repo_id('loads the library') IS NOT NULL AS loaded;
SELECT pg_temp.nested(100) - pg_temp.nested(0) AS after_load \gset
SELECT :after_load - :before_load AS bytes_astpg_adds;
