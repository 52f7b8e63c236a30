"""Release: content-addressed artifacts, idempotent deploys, canary analysis, rollback and drift."""
