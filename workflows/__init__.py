"""Prefect flows: thin shells that run the services."""
