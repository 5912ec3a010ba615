--
-- health: astpg.health, one row a check, 'ok' or 'warning' with what to
-- do.  Each check is brought to a warning and back, inside a transaction
-- that starts from an empty log (the other suites' rows are set aside).
--
BEGIN;
SELECT count(*) >= 0 AS emptied FROM astpg.files, astpg.delete_file(repository, path);
DELETE FROM astpg.ingests;
DELETE FROM astpg.rejects;
DELETE FROM astpg.analytics_refreshes;
DELETE FROM astpg.maintenance_runs;
DELETE FROM astpg.metric_history_default;
DO $$
DECLARE
    month text;
BEGIN
    FOR month IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = 'astpg.metric_history'::regclass
                    AND c.relname ~ '^metric_history_[0-9]{6}$'
    LOOP
        EXECUTE format('DROP TABLE astpg.%I', month);
    END LOOP;
END
$$;
SELECT item, status FROM astpg.health;
SELECT count(*) AS warnings_with_advice FROM astpg.health WHERE status = 'warning' AND advice <> '';

-- a stored document: counted; its repository's analytics never refreshed
SELECT r.status FROM astpg.ingest('{"repository": "hc", "path": "a.py", "language": "python",
    "functions": [{"name": "f", "line_start": 1, "line_end": 2}]}') r;
SELECT item, value, status FROM astpg.health WHERE item ~ 'ingested|analytics were';
SELECT count(*) AS refreshed FROM astpg.refresh_analytics('hc');
SELECT item, value, status FROM astpg.health WHERE item ~ 'analytics were';
SELECT item, value <> 'none' AS refreshed, status FROM astpg.health WHERE item ~ 'oldest refresh';

-- a refused document: a warning until a valid version of its path is stored
SELECT r.status FROM astpg.ingest_batch(ARRAY['{"repository": "hc", "path": "b.py",
    "language": "python", "functions": [{"name": "g", "line_start": 0, "line_end": 1}]}']::jsonb[],
    'skip') r;
SELECT item, status, advice <> '' AS advised FROM astpg.health WHERE item ~ 'refused';
-- (the reject as if a minute ago: in this one transaction, now() is the
-- time the valid version is stored at)
UPDATE astpg.rejects SET rejected_at = rejected_at - interval '1 minute';
SELECT r.status FROM astpg.ingest('{"repository": "hc", "path": "b.py", "language": "python"}') r;
SELECT item, value ~ '^none' AS mended, status FROM astpg.health WHERE item ~ 'not stored since';
SELECT item, value, status FROM astpg.health WHERE item ~ 'changed since';

-- maintain(): its run is logged, and the coming months are made
SELECT item, status FROM astpg.health WHERE item ~ 'maintain|months|DEFAULT';
SELECT count(*) > 0 AS maintained FROM astpg.maintain();
SELECT item, status FROM astpg.health WHERE item ~ 'maintain|months|DEFAULT';
SELECT created, dropped FROM astpg.maintenance_runs;
SELECT item, value ~ ' and ' AS sizes FROM astpg.health WHERE item ~ 'size';
ROLLBACK;
