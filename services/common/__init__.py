"""Plumbing shared by the services: settings, logging, database, Kafka, local infrastructure."""
