-- 0001: tenants, customers, history, consent ledger, suppression, idempotency ledger, outbox.
-- Every index leads with tenant_id: all reads and writes are per venue.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE tenants (
    tenant_id          text PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    region             text NOT NULL DEFAULT 'BE' CHECK (region ~ '^[A-Z]{2}$'),
    regular_threshold  integer NOT NULL DEFAULT 3 CHECK (regular_threshold BETWEEN 1 AND 1000),
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customers (
    tenant_id            text NOT NULL REFERENCES tenants,
    id                   uuid NOT NULL,
    -- 'email:<address>' or 'phone:<E.164>'; NULL once anonymised, so the identity is free.
    identity_key         text,
    email                text,
    phone                text,
    first_name           text,
    last_name            text,
    language             text,
    -- per-field last-writer-wins stamps: {"phone": ["<occurred_at>", "<event_id>"], ...}
    stamps               jsonb NOT NULL DEFAULT '{}',
    newsletter           boolean,
    newsletter_at        timestamptz,
    newsletter_source    text,
    newsletter_event_id  uuid,
    first_contact_at     timestamptz,
    last_contact_at      timestamptz,
    reservations         integer NOT NULL DEFAULT 0,
    completed            integer NOT NULL DEFAULT 0,
    no_shows             integer NOT NULL DEFAULT 0,
    cancellations        integer NOT NULL DEFAULT 0,
    forms                integer NOT NULL DEFAULT 0,
    tags                 text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 9),
    -- {"vip": {"origin": "manual", "added_at": "..."}}
    tag_meta             jsonb NOT NULL DEFAULT '{}',
    removed_tags         text[] NOT NULL DEFAULT '{}',
    completion_marks     timestamptz[] NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    anonymized_at        timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX customers_identity ON customers (tenant_id, identity_key);

CREATE TABLE history (
    tenant_id    text NOT NULL,
    event_id     uuid NOT NULL,
    customer_id  uuid NOT NULL,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    source       text NOT NULL,
    summary      text NOT NULL,
    data         jsonb NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX history_by_customer ON history (tenant_id, customer_id, occurred_at DESC, event_id DESC);

CREATE TABLE consent_ledger (
    tenant_id    text NOT NULL,
    event_id     uuid NOT NULL,
    customer_id  uuid NOT NULL,
    opt_in       boolean NOT NULL,
    occurred_at  timestamptz NOT NULL,
    source       text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX consent_by_customer ON consent_ledger (tenant_id, customer_id, occurred_at DESC);

-- Idempotency ledger: an event id is inserted in the same transaction as its effects.
-- outcome: 'applied' (in history) or 'suppressed' (about an anonymised person, dropped).
CREATE TABLE processed_events (
    tenant_id     text NOT NULL,
    event_id      uuid NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('applied', 'suppressed')),
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX processed_events_age ON processed_events (processed_at);

-- After an erasure: keyed hashes (HMAC-SHA256 with CONTACTS_SECRET) of the person's email and
-- phone, never the values, so older events about them can be recognised and dropped.
CREATE TABLE suppressions (
    tenant_id      text NOT NULL,
    key_hash       bytea NOT NULL,
    anonymized_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key_hash)
);

-- Transactional outbox: alerts written with the batch that caused them, published after commit.
CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea,
    value       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
