"""Observability: the hash-chained event log, traces, metrics and reports."""
