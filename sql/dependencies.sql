--
-- dependencies: a target resolves to the stored file of the same repository
-- whose module (or else path) it names, whichever is ingested first.
--
CREATE TEMP VIEW resolution AS
SELECT f.repository, f.path AS dependent, d.target, t.path AS resolved_to
  FROM astpg.dependencies d
  JOIN astpg.files f USING (file_id)
  LEFT JOIN astpg.files t ON t.file_id = d.target_file_id
 WHERE f.repository LIKE 'dep%';

-- dependent first: unresolved until the target arrives
SELECT r.status FROM astpg.ingest('{"repository": "dep", "path": "app.py", "module": "app", "language": "python",
  "dependencies": [{"target": "lib.util"}, {"target": "os"}, {"target": "include/x.h", "kind": "include"}]}') r;
SELECT * FROM resolution ORDER BY dependent, target;
SELECT r.status FROM astpg.ingest('{"repository": "dep", "path": "lib/util.py", "module": "lib.util", "language": "python"}') r;
SELECT * FROM resolution ORDER BY dependent, target;

-- by path, when no module matches
SELECT r.status FROM astpg.ingest('{"repository": "dep", "path": "include/x.h", "language": "c"}') r;
SELECT * FROM resolution ORDER BY dependent, target;

-- target first: resolved at once
SELECT r.status FROM astpg.ingest('{"repository": "dep", "path": "cli.py", "module": "cli", "language": "python",
  "dependencies": [{"target": "app"}, {"target": "lib.util"}]}') r;
SELECT * FROM resolution WHERE dependent = 'cli.py' ORDER BY target;

-- a cycle resolves both ways
SELECT r.status FROM astpg.ingest('{"repository": "dep", "path": "a.py", "module": "a", "language": "python",
  "dependencies": [{"target": "b"}]}') r;
SELECT r.status FROM astpg.ingest('{"repository": "dep", "path": "b.py", "module": "b", "language": "python",
  "dependencies": [{"target": "a"}]}') r;
SELECT * FROM resolution WHERE dependent IN ('a.py', 'b.py') ORDER BY dependent;

-- only within the same repository
SELECT r.status FROM astpg.ingest('{"repository": "dep2", "path": "x.py", "module": "x", "language": "python",
  "dependencies": [{"target": "lib.util"}]}') r;
SELECT * FROM resolution WHERE repository = 'dep2';

-- replacing the target keeps its file_id, so dependents stay resolved
SELECT r.status FROM astpg.ingest('{"repository": "dep", "path": "lib/util.py", "module": "lib.util", "language": "python", "revision": "2"}') r;
SELECT * FROM resolution WHERE target = 'lib.util' ORDER BY repository, dependent;

-- a target that changes its module no longer answers to the old name
SELECT r.status FROM astpg.ingest('{"repository": "dep", "path": "lib/util.py", "module": "lib.utils", "language": "python"}') r;
SELECT * FROM resolution WHERE target IN ('lib.util', 'lib.utils') ORDER BY repository, dependent;
SELECT r.status FROM astpg.ingest('{"repository": "dep", "path": "lib/util.py", "module": "lib.util", "language": "python"}') r;
SELECT * FROM resolution WHERE target = 'lib.util' ORDER BY repository, dependent;

-- deleting the target unresolves its dependents; they are kept
SELECT astpg.delete_file('dep', 'lib/util.py');
SELECT * FROM resolution WHERE target = 'lib.util' ORDER BY repository, dependent;

-- resolve_dependencies() catches up with files stored since, e.g. when two
-- sessions stored a dependent and its target concurrently
SELECT count(*) AS still_unresolved FROM resolution WHERE resolved_to IS NULL AND target = 'lib.util';
INSERT INTO astpg.files (repo_id, repository, path, module, language)
VALUES (astpg.repo_id('dep'), 'dep', 'lib/util.py', 'lib.util', 'python');
SELECT astpg.resolve_dependencies('dep');
SELECT * FROM resolution WHERE target = 'lib.util' ORDER BY repository, dependent;
SELECT astpg.resolve_dependencies();

-- a file that gives up a module its dependents name hands them to another
-- file that provides it, so that no dependency stays pointed at a file
-- that no longer has the module it names
SELECT r.status FROM astpg.ingest('{"repository": "dep3", "path": "one.py", "module": "shared", "language": "python"}') r;
SELECT r.status FROM astpg.ingest('{"repository": "dep3", "path": "two.py", "module": "shared", "language": "python"}') r;
SELECT r.status FROM astpg.ingest('{"repository": "dep3", "path": "user.py", "module": "user", "language": "python",
  "dependencies": [{"target": "shared"}]}') r;
SELECT * FROM resolution WHERE repository = 'dep3';
SELECT r.status FROM astpg.ingest('{"repository": "dep3", "path": "one.py", "module": "alone", "language": "python"}') r;
SELECT * FROM resolution WHERE repository = 'dep3';

-- resolve_dependencies() sets right what is wrong, not only what is NULL:
-- a dependency left pointing at a file that no longer fits its target
UPDATE astpg.dependencies d SET target_file_id = f.file_id
  FROM astpg.files f
 WHERE f.repository = 'dep3' AND f.path = 'one.py'
   AND d.file_id = (SELECT file_id FROM astpg.files WHERE repository = 'dep3' AND path = 'user.py');
SELECT * FROM resolution WHERE repository = 'dep3';
SELECT astpg.resolve_dependencies('dep3') AS changed;
SELECT * FROM resolution WHERE repository = 'dep3';
