"""Deployment files: image, compose, Kubernetes manifests, database roles."""
