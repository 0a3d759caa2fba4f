"""Notifications: templates per notice kind, rendering, channels and outbox delivery."""
