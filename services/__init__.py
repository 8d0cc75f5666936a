"""The contacts services: ingest, profile API and export worker, with shared plumbing."""
