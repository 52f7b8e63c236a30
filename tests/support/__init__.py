"""Shared test fixtures: the scripted LLM provider server, twins, helpers."""
