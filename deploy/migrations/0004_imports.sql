-- 0004: customer file imports: the report of each upload and what ingest has applied of it.

CREATE TABLE imports (
    id            uuid PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants,
    sha256        text NOT NULL,
    encoding      text NOT NULL,
    delimiter     text NOT NULL,
    rows          integer NOT NULL,
    valid         integer NOT NULL,
    invalid       integer NOT NULL,
    would_create  integer NOT NULL,
    would_update  integer NOT NULL,
    unchanged     integer NOT NULL,
    published     integer NOT NULL,
    -- [{row, column, code, message}]: never a cell's value
    errors        jsonb NOT NULL DEFAULT '[]',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_by_tenant ON imports (tenant_id, created_at DESC);

-- How far ingest got with an import: its history entries, by import id.
CREATE INDEX history_by_import ON history (tenant_id, (data ->> 'import_id'))
    WHERE type = 'contact.imported';

ALTER TABLE imports ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON imports TO contacts_api
    USING (tenant_id = current_setting('contacts.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('contacts.tenant_id', true));
GRANT SELECT, INSERT ON imports TO contacts_api;
