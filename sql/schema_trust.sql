--
-- schema_trust: astpg's functions run with a superuser's rights on the
-- objects of its schema, so that schema must be astpg's own: never one that
-- another role created first, owns, or filled, and never a look-alike put
-- in place of a renamed one.
--
\set VERBOSITY default
DROP EXTENSION astpg;
DROP SCHEMA astpg;
CREATE ROLE regress_astpg_squatter;

-- a schema that a role other than a superuser created before astpg
CREATE SCHEMA astpg AUTHORIZATION regress_astpg_squatter;
CREATE EXTENSION astpg;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'astpg';

-- a superuser's schema that holds something astpg did not create
ALTER SCHEMA astpg OWNER TO CURRENT_USER;
CREATE FUNCTION astpg.planted(text) RETURNS text
LANGUAGE sql AS $$ SELECT $1 $$;
CREATE EXTENSION astpg;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'astpg';
DROP FUNCTION astpg.planted(text);

-- an empty schema of a superuser's is fine
CREATE EXTENSION astpg;
SELECT extversion FROM pg_extension WHERE extname = 'astpg';

-- A database installed at 1.1 into a squatter's schema (before 1.2 refused
-- it): this library will not run there, and the update refuses it.
DROP EXTENSION astpg;
ALTER SCHEMA astpg OWNER TO regress_astpg_squatter;
CREATE EXTENSION astpg VERSION '1.1';
SELECT * FROM astpg.ingest('{"repository": "trust", "path": "a.py", "language": "python"}');
ALTER EXTENSION astpg UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'astpg';
-- once a superuser owns it, both go ahead
ALTER SCHEMA astpg OWNER TO CURRENT_USER;
ALTER EXTENSION astpg UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions
                      WHERE name = 'astpg') AS newest
  FROM pg_extension WHERE extname = 'astpg';
SELECT status FROM astpg.ingest('{"repository": "trust", "path": "a.py", "language": "python"}');

-- A renamed schema, and a look-alike under the old name: a new session's
-- ingest writes into astpg's own tables, found by OID, and never touches
-- the look-alikes.
ALTER SCHEMA astpg RENAME TO astpg_moved;
CREATE SCHEMA astpg;
CREATE TABLE astpg.files (LIKE astpg_moved.files);
CREATE FUNCTION astpg.file_key(text, text) RETURNS bytea
LANGUAGE sql AS $$ SELECT '\x00'::bytea $$;
\c
SELECT status FROM astpg_moved.ingest('{"repository": "trust", "path": "b.py", "language": "python"}');
SELECT count(*) AS stored_in_astpg FROM astpg_moved.files WHERE repository = 'trust';
SELECT count(*) AS stored_in_look_alike FROM astpg.files;
DROP SCHEMA astpg CASCADE;
ALTER SCHEMA astpg_moved RENAME TO astpg;
SELECT astpg.delete_file('trust', 'a.py'), astpg.delete_file('trust', 'b.py');

DROP ROLE regress_astpg_squatter;
