-- 0012: identity across email and phone, merges that can be undone (contract 3a).
--
-- A card holds identifiers (every normalised email and E.164 phone an event tied to it); an
-- event is routed by them (services/domain/routing.py). A merge moves the absorbed card's
-- history, consent statements and identifiers to the survivor and deletes the absorbed row;
-- the merge record keeps which history rows moved and the staff tags of both sides, so an undo
-- can fold both cards again from their events. History rows keep the event's contact for that.
-- Writers of one venue take a transaction-level advisory lock on it (services/common/cards.py):
-- the unique identity key that serialised them before is gone.

ALTER TABLE tenants ADD COLUMN blocked_identifiers text[] NOT NULL DEFAULT '{}';

CREATE TABLE identifiers (
    tenant_id    text NOT NULL,
    value        text NOT NULL,               -- normalised email or E.164 phone
    customer_id  uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('email', 'phone')),
    tied_at      timestamptz NOT NULL,        -- the earliest occurred_at that tied it
    event_id     uuid,                        -- that event (NULL: carried over by 0012)
    PRIMARY KEY (tenant_id, value, customer_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX identifiers_by_customer ON identifiers (tenant_id, customer_id);

CREATE TABLE merges (
    tenant_id       text NOT NULL,
    id              uuid NOT NULL,
    survivor_id     uuid NOT NULL,
    absorbed_id     uuid NOT NULL,
    reason          text NOT NULL CHECK (reason IN ('linked_by_event', 'staff')),
    event_id        uuid,                     -- linked_by_event: the event that tied them
    token_id        uuid,                     -- staff: the API token that merged them
    merged_at       timestamptz NOT NULL DEFAULT now(),
    -- Staff tags of each side when merged: {"tags": {code: added_at}, "removed": [code]}
    survivor_staff  jsonb NOT NULL,
    absorbed_staff  jsonb NOT NULL,
    undone_at       timestamptz,
    undone_by       uuid,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX merges_by_survivor ON merges (tenant_id, survivor_id, merged_at DESC);
CREATE INDEX merges_by_absorbed ON merges (tenant_id, absorbed_id, merged_at DESC);
CREATE INDEX merges_by_time ON merges (tenant_id, merged_at DESC, id DESC);

-- The history rows a merge moved from the absorbed card: what an undo gives back.
CREATE TABLE merge_moves (
    tenant_id  text NOT NULL,
    merge_id   uuid NOT NULL,
    event_id   uuid NOT NULL,
    PRIMARY KEY (tenant_id, merge_id, event_id)
);

-- Duplicate suggestions: two cards that may be one person; dismissed pairs are never shown again.
CREATE TABLE duplicate_pairs (
    tenant_id     text NOT NULL,
    first_id      uuid NOT NULL,
    second_id     uuid NOT NULL CHECK (first_id < second_id),
    -- undone_merge: an undone merge, "not the same person" (never merged again by an event)
    reason        text NOT NULL CHECK (reason IN ('shared_phone', 'shared_email',
                                                  'same_name_and_phone', 'undone_merge')),
    since         timestamptz NOT NULL DEFAULT now(),
    dismissed_at  timestamptz,
    dismissed_by  uuid,
    PRIMARY KEY (tenant_id, first_id, second_id)
);
CREATE INDEX duplicate_pairs_second ON duplicate_pairs (tenant_id, second_id);
CREATE INDEX duplicate_pairs_open ON duplicate_pairs (tenant_id, since DESC, first_id, second_id)
    WHERE dismissed_at IS NULL;

-- The event's contact as sent (what a refold needs); erased with the person.
ALTER TABLE history ADD COLUMN contact jsonb;

-- Several cards may now share a key (a family phone past the cap): routing, not a unique index,
-- decides where an event goes.
DROP INDEX customers_identity;
CREATE INDEX customers_identity ON customers (tenant_id, identity_key);

-- Existing cards: their email and phone become identifiers, tied at their first contact; and
-- each history row gets the contact that explains today's card exactly: the card's key on every
-- row (every event of an email card carried that email), each stamped field on the row of the
-- event that set it, consent from the ledger. A refold then gives the same card.
-- A function, because the version before keeps running between this migration and the rollout
-- (docs/operations.md, "Upgrading"): what it writes meanwhile (cards without identifiers,
-- history without contact) is caught up by every start of a service (services/common/db.py).
-- A scrubbed (erased) row's contact is '{}', never NULL, so the partial index stays small.
CREATE INDEX history_without_contact ON history (tenant_id, customer_id) WHERE contact IS NULL;

CREATE FUNCTION contacts_identity_catch_up() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    tied integer;
BEGIN
    INSERT INTO identifiers (tenant_id, value, customer_id, kind, tied_at)
    SELECT c.tenant_id, v.value, c.id, v.kind, coalesce(c.first_contact_at, c.created_at)
    FROM customers c
    CROSS JOIN LATERAL (VALUES ('email', c.email), ('phone', c.phone)) AS v(kind, value)
    WHERE c.anonymized_at IS NULL AND v.value IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM identifiers i
                      WHERE i.tenant_id = c.tenant_id AND i.customer_id = c.id)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS tied = ROW_COUNT;

    UPDATE history h SET contact = x.contact
    FROM (
        SELECT h.tenant_id, h.event_id, jsonb_strip_nulls(jsonb_build_object(
            'email', CASE WHEN c.identity_key LIKE 'email:%' THEN substr(c.identity_key, 7)
                          WHEN c.stamps -> 'email' ->> 1 = h.event_id::text THEN c.email END,
            'phone', CASE WHEN c.identity_key LIKE 'phone:%' THEN substr(c.identity_key, 7)
                          WHEN c.stamps -> 'phone' ->> 1 = h.event_id::text THEN c.phone END,
            'first_name', CASE WHEN c.stamps -> 'first_name' ->> 1 = h.event_id::text
                               THEN c.first_name END,
            'last_name', CASE WHEN c.stamps -> 'last_name' ->> 1 = h.event_id::text
                              THEN c.last_name END,
            'language', CASE WHEN c.stamps -> 'language' ->> 1 = h.event_id::text
                             THEN c.language END,
            'newsletter_opt_in', l.opt_in)) AS contact
        FROM history h
        JOIN customers c ON c.tenant_id = h.tenant_id AND c.id = h.customer_id
        LEFT JOIN consent_ledger l ON l.tenant_id = h.tenant_id AND l.event_id = h.event_id
        WHERE h.contact IS NULL
    ) x
    WHERE h.tenant_id = x.tenant_id AND h.event_id = x.event_id;
    RETURN tied;
END
$$;
REVOKE ALL ON FUNCTION contacts_identity_catch_up() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contacts_identity_catch_up() TO contacts_ingest, contacts_api;

SELECT contacts_identity_catch_up();

-- Ingest routes, ties, merges and suggests; the API merges, undoes, dismisses and erases.
GRANT SELECT, INSERT, UPDATE, DELETE ON identifiers TO contacts_ingest, contacts_api;
GRANT SELECT, INSERT ON merges, merge_moves TO contacts_ingest, contacts_api;
GRANT UPDATE (undone_at, undone_by) ON merges TO contacts_api;
GRANT SELECT, INSERT ON duplicate_pairs TO contacts_ingest, contacts_api;
GRANT UPDATE (dismissed_at, dismissed_by) ON duplicate_pairs TO contacts_api;
GRANT SELECT, UPDATE (customer_id) ON history, consent_ledger TO contacts_ingest;
GRANT UPDATE (customer_id, contact) ON history TO contacts_api;
GRANT UPDATE (customer_id) ON consent_ledger TO contacts_api;
GRANT DELETE ON customers TO contacts_ingest, contacts_api;
GRANT INSERT, UPDATE ON customers TO contacts_api;
GRANT UPDATE (blocked_identifiers, regular_threshold, region) ON tenants TO contacts_api;
GRANT SELECT ON merge_moves TO contacts_api;
-- Merge alerts: queued with the merge, produced after the commit, then forgotten by id.
GRANT INSERT, DELETE, SELECT (id) ON outbox TO contacts_api;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['identifiers', 'merges', 'merge_moves', 'duplicate_pairs']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO contacts_api'
            ' USING (tenant_id = current_setting(''contacts.tenant_id'', true))'
            ' WITH CHECK (tenant_id = current_setting(''contacts.tenant_id'', true))', t);
    END LOOP;
END
$$;
