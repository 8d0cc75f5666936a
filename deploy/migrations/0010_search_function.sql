-- 0010: free-text search through its indexes under row level security.
-- `LIKE`, `<%` and `@>` are not LEAKPROOF, so PostgreSQL does not evaluate them in an index scan
-- beneath a policy: as contacts_api, `q` walked the whole venue (a term that matched nobody read
-- 1M rows, ~20 s). This function runs as the owner, applies the tenant of the transaction
-- itself (the same setting the policies read) and returns the matching ids, found through
-- customers_search (trigram GIN) and customers_by_phone; the list and export queries keep every
-- other condition under RLS and join on these ids.
CREATE FUNCTION contacts_matching(p_like text, p_word text, p_phone text)
RETURNS TABLE (id uuid)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT c.id FROM public.customers c
    WHERE c.tenant_id = current_setting('contacts.tenant_id', true)
      AND c.anonymized_at IS NULL
      AND (c.search LIKE p_like OR p_word <% c.search OR c.phone = p_phone)
$$;
REVOKE ALL ON FUNCTION contacts_matching(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contacts_matching(text, text, text) TO contacts_api;
