-- 0009: an import may be a venue's first data (its old customer file, before any booking):
-- the API records the venue then, as ingest does on a venue's first event. Row level security
-- (0002's tenant_isolation, WITH CHECK) limits the insert to the transaction's own tenant.
GRANT INSERT ON tenants TO contacts_api;
