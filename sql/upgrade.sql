--
-- upgrade: create astpg at its oldest version, use it with the new library,
-- update step by step, check the data, and check that the updated extension
-- has the same members and privileges as a fresh install.
--
\i test/fixtures/load_sample.sql
DROP EXTENSION astpg;
CREATE EXTENSION astpg VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';

-- 1.0's SQL definitions against the new library
SELECT count(*) FILTER (WHERE r.status = 'inserted') AS inserted FROM sample s, astpg.ingest(s.doc) r;
SELECT to_regproc('astpg.ingest_batch') IS NULL AS no_batch_in_1_0;
CREATE TEMP TABLE before AS SELECT file_id, astpg.document(file_id) AS doc FROM astpg.files;

ALTER EXTENSION astpg UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';

-- the data survived, and 1.1's functions work on it
SELECT count(*) AS same_documents FROM before b WHERE astpg.document(b.file_id) = b.doc;
SELECT r.status, count(*) FROM astpg.ingest_batch((SELECT array_agg(doc) FROM sample)) r GROUP BY 1;

-- members and privileges equal those of a fresh install
CREATE TEMP VIEW members AS
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS member,
       COALESCE(c.relacl::text, p.proacl::text, '') AS acl
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'astpg'
  LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
  LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
 WHERE d.deptype = 'e';
CREATE TEMP TABLE updated AS SELECT * FROM members;
DROP EXTENSION astpg;
CREATE EXTENSION astpg;
CREATE TEMP TABLE fresh AS SELECT * FROM members;
SELECT count(*) AS members FROM fresh;
(SELECT 'only after update' AS side, * FROM updated EXCEPT SELECT 'only after update', * FROM fresh)
UNION ALL
(SELECT 'only in fresh install', * FROM fresh EXCEPT SELECT 'only in fresh install', * FROM updated)
ORDER BY 1, 2;
SELECT x::regclass AS kept_by_pg_dump
  FROM pg_extension, unnest(extconfig) x
 WHERE extname = 'astpg'
 ORDER BY x::regclass::text;
