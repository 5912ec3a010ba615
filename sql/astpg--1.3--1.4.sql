/* astpg/sql/astpg--1.3--1.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.4'" to load this file. \quit

--
-- 1.4: loads at the COPY limit and proofs under faults.
--
-- A fresh CREATE EXTENSION astpg runs 1.0 to 1.3 and this script in turn:
-- it must work on empty tables as well as on full ones.
--

--
-- astpg-load: lines that cannot be sent as text (issue 10, defect 6).
--
-- A line that is not valid UTF-8, or that holds a NUL byte, cannot reach
-- the inbox at all: the server refuses the whole COPY for it.  With
-- on_error = skip the loader records it through record_reject() instead,
-- in its place between the COPYs of the documents around it.  It must
-- count as a document of the transaction, as every row of the inbox does,
-- so that its position and those of the documents after it are the ones
-- they would have had, and astpg.ingest_counts() reports it rejected.
-- Only the inbox counts documents, so record_reject() sends it a
-- placeholder that is not JSON, and gives the reject that makes (found by
-- its id, the session's last) the caller's text, SQLSTATE, message and
-- detail.  A writer can thus only describe a reject of its own
-- transaction, never change another.
--
CREATE FUNCTION @extschema@.record_reject(document_text text, sqlstate text,
                                          message text, detail text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET astpg.on_error = skip
AS $$
#variable_conflict use_column
DECLARE
    placeholder constant text := 'astpg.record_reject: a line that cannot be sent as text';
    recorded bigint;
BEGIN
    IF record_reject.document_text IS NULL OR record_reject.message IS NULL
       OR record_reject.sqlstate IS NULL THEN
        RAISE EXCEPTION 'document_text, sqlstate and message must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- what the inbox itself rejects: data exceptions, constraint
    -- violations, program limits
    IF record_reject.sqlstate !~ '^(22|23|54)[0-9A-Z]{3}$' THEN
        RAISE EXCEPTION 'sqlstate must be of class 22, 23 or 54, not "%"',
                        record_reject.sqlstate
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO @extschema@.inbox (doc) VALUES (placeholder);
    UPDATE @extschema@.rejects r
       SET document_text = record_reject.document_text,
           sqlstate = record_reject.sqlstate,
           message = record_reject.message,
           detail = record_reject.detail
     WHERE r.reject_id OPERATOR(pg_catalog.=)
           pg_catalog.currval('@extschema@.rejects_reject_id_seq'::pg_catalog.regclass)
       AND r.source OPERATOR(pg_catalog.=) 'inbox'
       AND r.document_text OPERATOR(pg_catalog.=) placeholder
    RETURNING r.position INTO recorded;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the inbox did not reject the placeholder of record_reject()'
            USING ERRCODE = 'internal_error';
    END IF;
    RETURN recorded;
END
$$;

COMMENT ON FUNCTION @extschema@.record_reject(text, text, text, text) IS
'store in astpg.rejects, as the inbox would, a document that cannot be sent as text (astpg-load: a line that is not UTF-8 or holds a NUL byte); counted as a rejected document of this transaction; returns its position';

COMMENT ON COLUMN @extschema@.rejects.document_text IS
'the text as given, when it is not JSON (document is then NULL); for a line astpg-load could not send as text, the line with each byte that is not UTF-8, and each NUL, written \xHH';

REVOKE ALL ON FUNCTION @extschema@.record_reject(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.record_reject(text, text, text, text) TO astpg_writer;
