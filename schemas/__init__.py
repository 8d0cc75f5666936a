"""Contracts shared by every service: event envelope, alerts, tags and normalisation."""
