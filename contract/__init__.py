"""The API contract check: a client generated from openapi.yaml drives a user journey
against a live gunicorn on PostgreSQL, and schemathesis fuzzes every operation.
Run it with `make contract` (see run.py)."""
