-- 0003: export jobs and the CSV-injection guard used by every exported text cell.

CREATE TABLE exports (
    id           uuid PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants,
    filters      jsonb NOT NULL DEFAULT '{}',
    delimiter    text NOT NULL DEFAULT ',' CHECK (delimiter IN (',', ';')),
    bom          boolean NOT NULL DEFAULT false,
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    rows         bigint,
    bytes        bigint,
    sha256       text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz,
    finished_at  timestamptz
);
CREATE INDEX exports_by_tenant ON exports (tenant_id, created_at DESC);
CREATE INDEX exports_unfinished ON exports (heartbeat_at) WHERE state IN ('queued', 'running');

ALTER TABLE exports ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON exports TO contacts_api
    USING (tenant_id = current_setting('contacts.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('contacts.tenant_id', true));
GRANT SELECT, INSERT ON exports TO contacts_api;

-- A cell a spreadsheet would read as a formula (= + - @, tab, CR) gets a leading quote.
CREATE FUNCTION csv_safe(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN value ~ '^[=+\-@\t\r]' THEN '''' || value ELSE value END;
GRANT EXECUTE ON FUNCTION csv_safe(text) TO contacts_api;

-- Ops exports for every tenant: the API role may list tenant ids, and nothing else of them.
CREATE FUNCTION contacts_tenant_ids() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT tenant_id FROM public.tenants ORDER BY tenant_id $$;
REVOKE ALL ON FUNCTION contacts_tenant_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contacts_tenant_ids() TO contacts_api;
