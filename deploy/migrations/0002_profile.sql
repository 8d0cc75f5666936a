-- 0002: the profile API: tokens, custom tags, read indexes, and tenant isolation in PostgreSQL.
-- The API connects as `contacts_api`, a role that owns nothing and bypasses no policy: every
-- row it can see or write carries the tenant set by `contacts.tenant_id` for its transaction.
-- Ingest keeps connecting as the owner, which row level security does not restrict (not FORCEd).

CREATE EXTENSION IF NOT EXISTS btree_gin;  -- lets the trigram index lead with tenant_id

-- Roles are cluster-wide; many databases of one cluster run this migration.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'contacts_api') THEN
        CREATE ROLE contacts_api LOGIN NOINHERIT NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created concurrently by another database's migration
END
$$;

CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY,
    tenant_id   text NOT NULL CHECK (tenant_id = '*' OR tenant_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    scopes      text[] NOT NULL
                CHECK (scopes <@ ARRAY['read', 'write', 'import', 'export', 'gdpr']::text[]),
    -- sha256 of the token; the token itself is shown once and never stored.
    token_hash  bytea NOT NULL UNIQUE,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);

CREATE TABLE tenant_tags (
    tenant_id   text NOT NULL CHECK (tenant_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    code        text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,31}$'),
    labels      jsonb NOT NULL,  -- {"nl": ..., "fr": ..., "en": ...}
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, code)
);

-- Read side of the customer list: one index per sort, each leading with tenant_id.
ALTER TABLE customers
    ADD COLUMN sort_name text GENERATED ALWAYS AS
        (lower(coalesce(last_name, '') || ' ' || coalesce(first_name, ''))) STORED,
    ADD COLUMN search text GENERATED ALWAYS AS
        (lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' '
               || coalesce(email, '') || ' ' || coalesce(phone, ''))) STORED;

CREATE INDEX customers_by_last_contact ON customers (tenant_id, last_contact_at, id)
    WHERE anonymized_at IS NULL;
CREATE INDEX customers_by_first_contact ON customers (tenant_id, first_contact_at, id)
    WHERE anonymized_at IS NULL;
CREATE INDEX customers_by_name ON customers (tenant_id, sort_name, id)
    WHERE anonymized_at IS NULL;
CREATE INDEX customers_search ON customers USING gin (tenant_id, search gin_trgm_ops)
    WHERE anonymized_at IS NULL;
CREATE INDEX customers_tags ON customers USING gin (tenant_id, tags)
    WHERE anonymized_at IS NULL;
CREATE INDEX customers_by_email ON customers (tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX customers_by_phone ON customers (tenant_id, phone) WHERE phone IS NOT NULL;

-- Token lookup happens before a tenant is known: through this function only, so the API role
-- needs no privilege on api_tokens. It answers one exact hash, never a listing.
CREATE FUNCTION contacts_token_lookup(hash bytea)
RETURNS TABLE (id uuid, tenant_id text, scopes text[], token_hash bytea,
               expires_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id, t.tenant_id, t.scopes, t.token_hash, t.expires_at, t.revoked_at
    FROM public.api_tokens t WHERE t.token_hash = hash
$$;
REVOKE ALL ON FUNCTION contacts_token_lookup(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contacts_token_lookup(bytea) TO contacts_api;

-- Least privilege: what the routes need, nothing more.
GRANT USAGE ON SCHEMA public TO contacts_api;
GRANT SELECT ON tenants, customers, history, consent_ledger, tenant_tags TO contacts_api;
GRANT UPDATE (tags, tag_meta, removed_tags, identity_key, email, phone, first_name, last_name,
              language, stamps, anonymized_at, updated_at) ON customers TO contacts_api;
GRANT UPDATE (data) ON history TO contacts_api;
GRANT INSERT ON tenant_tags TO contacts_api;
GRANT SELECT, INSERT, UPDATE (anonymized_at) ON suppressions TO contacts_api;

-- Row level security on every table that carries a tenant.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'customers', 'history', 'consent_ledger', 'suppressions',
                             'processed_events', 'tenant_tags', 'api_tokens']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        IF t <> 'api_tokens' THEN  -- api_tokens: no policy, read through the function only
            EXECUTE format(
                'CREATE POLICY tenant_isolation ON %I TO contacts_api'
                ' USING (tenant_id = current_setting(''contacts.tenant_id'', true))'
                ' WITH CHECK (tenant_id = current_setting(''contacts.tenant_id'', true))', t);
        END IF;
    END LOOP;
END
$$;
