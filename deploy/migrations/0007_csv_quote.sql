-- 0007: a value that already starts with a quote before = + - @ (e.g. '=x) gets one more quote
-- on export, so the importer, which strips one quote, gives it back unchanged.

CREATE OR REPLACE FUNCTION csv_safe(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN value ~ '^(''*)[=+\-@\t\r]' THEN '''' || value ELSE value END;
