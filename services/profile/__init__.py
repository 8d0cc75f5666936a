"""The profile service: the HTTP API over the customer list (contract section 5)."""
