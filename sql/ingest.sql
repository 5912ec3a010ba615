--
-- ingest: storing documents, what ingest() returns, the rows it writes,
-- and the audit log.
--
\i test/fixtures/load_sample.sql

-- twelve real documents, one call each
SELECT s.n, r.status, r.classes, r.functions, r.calls, r.dependencies, r.metrics
  FROM sample s, astpg.ingest(s.doc) r
 ORDER BY s.n;

-- the rows match the documents, table by table
SELECT s.doc->>'path' AS path,
       jsonb_array_length(s.doc->'classes') = (SELECT count(*) FROM astpg.classes c WHERE c.file_id = f.file_id) AS classes_ok,
       jsonb_array_length(s.doc->'functions') = (SELECT count(*) FROM astpg.functions x WHERE x.file_id = f.file_id) AS functions_ok,
       (SELECT count(*) FROM jsonb_array_elements(s.doc->'functions') fn, jsonb_array_elements(COALESCE(fn->'calls', '[]')))
         = (SELECT count(*) FROM astpg.calls k WHERE k.file_id = f.file_id) AS calls_ok,
       jsonb_array_length(s.doc->'dependencies') = (SELECT count(*) FROM astpg.dependencies d WHERE d.file_id = f.file_id) AS dependencies_ok,
       (SELECT count(*) FROM jsonb_object_keys(s.doc->'metrics')) = (SELECT count(*) FROM astpg.metrics m WHERE m.file_id = f.file_id) AS metrics_ok
  FROM sample s
  JOIN astpg.files f ON f.repository = s.doc->>'repository' AND f.path = s.doc->>'path'
 ORDER BY s.n;

-- a file's columns
SELECT repository, path, module, language, revision, size_bytes,
       content_hash LIKE 'sha256:%' AS hashed, ast IS NULL AS no_ast, attrs
  FROM astpg.files WHERE path = 'json/decoder.py';

-- methods know their class, nested classes their parent
SELECT c.qualified_name, p.qualified_name AS parent, c.bases, c.line_start, c.line_end
  FROM astpg.classes c
  JOIN astpg.files f USING (file_id)
  LEFT JOIN astpg.classes p ON p.class_id = c.parent_id
 WHERE f.path = 'profile.py'
 ORDER BY c.line_start;
SELECT fn.qualified_name, c.qualified_name AS class, fn.signature, fn.parameters,
       fn.parameter_count, fn.complexity, fn.is_async
  FROM astpg.functions fn
  JOIN astpg.files f USING (file_id)
  LEFT JOIN astpg.classes c ON c.class_id = fn.class_id
 WHERE f.path = 'json/decoder.py'
 ORDER BY fn.line_start;
SELECT fn.qualified_name, k.call_no, k.callee, k.line
  FROM astpg.calls k
  JOIN astpg.functions fn USING (function_id)
 WHERE fn.qualified_name = 'JSONDecoder.decode'
 ORDER BY k.call_no;
SELECT d.dependency_no, d.target, d.kind, d.line, d.strength, d.names, t.path AS resolved_to
  FROM astpg.dependencies d
  JOIN astpg.files f USING (file_id)
  LEFT JOIN astpg.files t ON t.file_id = d.target_file_id
 WHERE f.path = 'json/decoder.py'
 ORDER BY d.dependency_no;
SELECT m.name, m.value
  FROM astpg.metrics m JOIN astpg.files f USING (file_id)
 WHERE f.path = 'json/decoder.py'
 ORDER BY m.name;

-- same content_hash again: unchanged, nothing rewritten, zero rows written
CREATE TEMP TABLE before AS
SELECT function_id FROM astpg.functions f JOIN astpg.files USING (file_id)
 WHERE path = 'weakref.py';
SELECT r.file_id = f.file_id AS same_file, r.status, r.classes, r.functions, r.calls
  FROM sample s, astpg.ingest(s.doc) r, astpg.files f
 WHERE s.doc->>'path' = 'weakref.py' AND f.path = 'weakref.py';
SELECT count(*) AS same_function_rows
  FROM before b JOIN astpg.functions f USING (function_id);

-- the audit log: one row per call, by whom, what it wrote
SELECT path, status, ingested_by = session_user AS by_session_user,
       classes, functions, calls, dependencies, metrics,
       duration >= interval '0' AS timed
  FROM astpg.ingests
 WHERE path IN ('weakref.py', 'json/decoder.py')
 ORDER BY ingest_id;

-- a minimal document: only the required keys; defaults fill the rest
SELECT r.status, r.classes, r.functions
  FROM astpg.ingest('{"path": "empty.c", "language": "c"}') r;
SELECT repository = '' AS default_repository, module, revision, size_bytes,
       content_hash, ast, attrs
  FROM astpg.files WHERE path = 'empty.c';

-- unknown keys are kept in attrs, at every level; null counts as absent
SELECT r.status FROM astpg.ingest('{
  "path": "attrs.py", "language": "python", "repository": "t",
  "producer": {"name": "x", "version": [1, 2]}, "module": null, "gone": null,
  "classes": [{"name": "A", "line_start": 1, "line_end": 9, "doc": "A class", "namespace": null}],
  "functions": [{"name": "f", "class": "A", "line_start": 2, "line_end": 3,
                 "visibility": "public", "is_async": null,
                 "calls": [{"name": "g", "line": 3, "resolved": false}]}],
  "dependencies": [{"target": "os", "optional": true, "names": null}]
}') r;
SELECT attrs, module FROM astpg.files WHERE path = 'attrs.py';
SELECT c.attrs, c.namespace FROM astpg.classes c JOIN astpg.files f USING (file_id) WHERE f.path = 'attrs.py';
SELECT fn.attrs, fn.is_async FROM astpg.functions fn JOIN astpg.files f USING (file_id) WHERE f.path = 'attrs.py';
SELECT k.attrs FROM astpg.calls k JOIN astpg.files f USING (file_id) WHERE f.path = 'attrs.py';
SELECT d.attrs, d.names FROM astpg.dependencies d JOIN astpg.files f USING (file_id) WHERE f.path = 'attrs.py';

-- the raw AST is stored as given, and its GIN index answers containment
SELECT r.status FROM astpg.ingest('{"path": "ast.py", "language": "python", "repository": "t",
  "ast": {"_type": "Module", "body": [{"_type": "Import", "names": [{"name": "sys", "asname": null}]}]}}') r;
SELECT path FROM astpg.files
 WHERE ast @> '{"body": [{"_type": "Import", "names": [{"name": "sys"}]}]}'
 ORDER BY path;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT path FROM astpg.files WHERE ast @> '{"_type": "Module"}';
RESET enable_seqscan;

-- many documents in one statement: a statement is all or nothing
SELECT count(*) AS stored, count(*) FILTER (WHERE r.status = 'inserted') AS inserted
  FROM generate_series(1, 200) i,
       astpg.ingest(jsonb_build_object('repository', 'many', 'path', 'f' || i || '.c',
                                       'language', 'c', 'module', 'f' || i)) r;
SELECT count(*) FROM astpg.files WHERE repository = 'many';
