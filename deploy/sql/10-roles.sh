#!/usr/bin/env bash
# Run once by the official postgres image on an empty data directory
# (/docker-entrypoint-initdb.d/, as the superuser POSTGRES_USER). Creates the three roles of
# contacts with their passwords and hands the database to the owner, so that no service ever
# logs in as a superuser:
#   contacts         owner of the schema: runs the migrations (and the export job bookkeeping)
#   contacts_ingest  writer: the ingest workers; BYPASSRLS, owns nothing (grants: 0006_roles.sql)
#   contacts_api     reader: profile API and export reads; row level security (grants: 0002)
# Migrations 0002 and 0006 create the two service roles only when missing, so the attributes
# below must match theirs. The three passwords come from the postgres container's environment
# (OWNER_DB_PASSWORD, INGEST_DB_PASSWORD, API_DB_PASSWORD: deploy/compose.yaml); the superuser's
# is POSTGRES_PASSWORD, used by nothing but this script and an operator's psql.
set -euo pipefail

: "${OWNER_DB_PASSWORD:?}" "${INGEST_DB_PASSWORD:?}" "${API_DB_PASSWORD:?}"
database="${POSTGRES_DB:-contacts}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$database" \
     -v owner_pw="$OWNER_DB_PASSWORD" -v ingest_pw="$INGEST_DB_PASSWORD" \
     -v api_pw="$API_DB_PASSWORD" -v db="$database" <<'SQL'
SELECT 'CREATE ROLE contacts LOGIN NOINHERIT'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'contacts') \gexec
SELECT 'CREATE ROLE contacts_ingest LOGIN NOINHERIT BYPASSRLS'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'contacts_ingest') \gexec
SELECT 'CREATE ROLE contacts_api LOGIN NOINHERIT NOBYPASSRLS'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'contacts_api') \gexec

ALTER ROLE contacts PASSWORD :'owner_pw';
ALTER ROLE contacts_ingest PASSWORD :'ingest_pw';
ALTER ROLE contacts_api PASSWORD :'api_pw';

-- The owner owns the database, hence its public schema (pg_database_owner): it can create the
-- tables and the trusted extensions of the migrations (pg_trgm, btree_gin) without superuser.
ALTER DATABASE :"db" OWNER TO contacts;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO contacts_ingest, contacts_api;
SQL
