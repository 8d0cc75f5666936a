"""Ingest: site events from Kafka into customer profiles and history in PostgreSQL."""
