-- 0008: the ingest writer role no longer needs CREATE on the schema. migrate() checks
-- to_regclass('schema_migrations') before any CREATE ... IF NOT EXISTS (services/common/db.py),
-- so a service role runs the start-up check with SELECT alone. Without CREATE the role cannot
-- add objects of its own to the schema (a table, a function that shadows one of ours).
REVOKE CREATE ON SCHEMA public FROM contacts_ingest;
