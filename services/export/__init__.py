"""Export: segment CSVs built on demand, streamed out of PostgreSQL with COPY."""
