-- 0006: `contacts_ingest`, the writer role of the ingest workers, so that they need not log in
-- as the owner of the schema. It writes every tenant (BYPASSRLS: the policies of 0002 name
-- only contacts_api), owns nothing, and holds exactly what services/ingest/store.py and
-- services/ingest/outbox.py run: it cannot ALTER, DROP or TRUNCATE a table, nor touch tokens,
-- tags, exports or imports. Its password is set outside the migrations (deploy/sql/ for
-- compose, the DBA elsewhere): a role created here has none.

-- Roles are cluster-wide; many databases of one cluster run this migration (as 0002 does).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'contacts_ingest') THEN
        BEGIN
            CREATE ROLE contacts_ingest LOGIN NOINHERIT BYPASSRLS;
        EXCEPTION WHEN insufficient_privilege THEN
            -- Granting BYPASSRLS takes a superuser (managed servers: the admin role). Without it
            -- the role still gets its grants; ingest keeps the owner's URL until an admin runs
            -- ALTER ROLE contacts_ingest BYPASSRLS (docs/operations.md, "Database roles").
            CREATE ROLE contacts_ingest LOGIN NOINHERIT;
            RAISE WARNING 'contacts_ingest created without BYPASSRLS: run, as a superuser, '
                          'ALTER ROLE contacts_ingest BYPASSRLS';
        END;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created concurrently by another database's migration
END
$$;

GRANT USAGE ON SCHEMA public TO contacts_ingest;
GRANT SELECT, INSERT ON tenants TO contacts_ingest;                  -- tenants(): read, create
GRANT SELECT ON suppressions TO contacts_ingest;                     -- erased identities
GRANT SELECT, INSERT ON processed_events TO contacts_ingest;         -- claim ... RETURNING
GRANT SELECT, INSERT, UPDATE ON customers TO contacts_ingest;        -- load FOR UPDATE, upsert
GRANT INSERT ON history, consent_ledger TO contacts_ingest;
-- The outbox: insert with the batch; publish takes rows FOR UPDATE SKIP LOCKED (which needs an
-- UPDATE privilege on some column: id, an identity column that cannot be set) and deletes them.
GRANT SELECT, INSERT, DELETE, UPDATE (id) ON outbox TO contacts_ingest;

-- Every service runs `migrate` at start-up (services/common/db.py): on an up-to-date schema that
-- is `CREATE TABLE IF NOT EXISTS schema_migrations` (which PostgreSQL checks against CREATE on
-- the schema even when the table exists) and a SELECT. Without INSERT on schema_migrations the
-- role can never apply, and so never half-apply, a migration: a worker started before the
-- migrate job fails and restarts until the job has run. CREATE on public lets the role create
-- new objects of its own, never change the owner's; revoke it once the start-up check skips
-- the CREATE for an existing table.
GRANT SELECT ON schema_migrations TO contacts_ingest;
GRANT CREATE ON SCHEMA public TO contacts_ingest;
