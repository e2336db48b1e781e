"""Shared machinery that knows no domain: database, lake, jobs, events, webhooks, logging."""
