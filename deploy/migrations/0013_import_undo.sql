-- 0013: imports a venue can take back (issue 17).
--
-- An undo folds every card the import touched again from its other events, deletes the cards
-- only the import fed, and takes the import's rows out of the history and consent ledger. The
-- API role gets that one deletion through a function, never DELETE on the ledgers.
-- `generation` counts the undone imports of the same file before this one: a row's event id is
-- derived from (tenant, file hash, row, generation), so the same file imported again after an
-- undo is a first import, while a replay of the undone events changes nothing.

ALTER TABLE imports
    ADD COLUMN generation  integer NOT NULL DEFAULT 0,
    ADD COLUMN undone_at   timestamptz,
    ADD COLUMN undone_by   uuid;
CREATE INDEX imports_by_file ON imports (tenant_id, sha256) WHERE undone_at IS NOT NULL;
GRANT UPDATE (undone_at, undone_by) ON imports TO contacts_api;

-- The import's own rows, of the transaction's tenant only.
CREATE FUNCTION contacts_forget_import_rows(import_id uuid, event_ids uuid[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    tenant text := current_setting('contacts.tenant_id', true);
    gone integer;
BEGIN
    IF tenant IS NULL OR tenant = '' THEN
        RAISE EXCEPTION 'no tenant set for this transaction' USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM consent_ledger l USING history h
    WHERE l.tenant_id = tenant AND h.tenant_id = tenant AND l.event_id = h.event_id
      AND h.event_id = ANY(event_ids) AND h.type = 'contact.imported'
      AND h.data ->> 'import_id' = import_id::text;
    DELETE FROM history h
    WHERE h.tenant_id = tenant AND h.event_id = ANY(event_ids) AND h.type = 'contact.imported'
      AND h.data ->> 'import_id' = import_id::text;
    GET DIAGNOSTICS gone = ROW_COUNT;
    RETURN gone;
END
$$;
REVOKE ALL ON FUNCTION contacts_forget_import_rows(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contacts_forget_import_rows(uuid, uuid[]) TO contacts_api;

-- A venue's column mapping, remembered by the file's header (its columns, trimmed, lower-cased,
-- joined by a tab) and used again when the same header comes back.
CREATE TABLE import_mappings (
    tenant_id   text NOT NULL,
    header      text NOT NULL,
    mapping     jsonb NOT NULL,  -- {"columns": {column: field}, "date_format": ..., "tag_values": {...}}
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, header)
);
ALTER TABLE import_mappings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON import_mappings TO contacts_api
    USING (tenant_id = current_setting('contacts.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('contacts.tenant_id', true));
GRANT SELECT, INSERT, UPDATE ON import_mappings TO contacts_api;

-- GET /v1/tenants (ops): the venues with their customer counts, a page at a time. Across
-- tenants, so through this function only: it answers venue ids and counts, never a customer.
CREATE FUNCTION contacts_venues(after text, lim integer)
RETURNS TABLE (tenant_id text, customers bigint, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.tenant_id,
           (SELECT count(*) FROM public.customers c
            WHERE c.tenant_id = t.tenant_id AND c.anonymized_at IS NULL),
           t.created_at
    FROM public.tenants t
    WHERE after IS NULL OR t.tenant_id > after
    ORDER BY t.tenant_id
    LIMIT lim
$$;
REVOKE ALL ON FUNCTION contacts_venues(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contacts_venues(text, integer) TO contacts_api;
