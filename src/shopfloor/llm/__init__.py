"""Unified LLM client (unified-llm-spec).

Native provider adapters over httpx, one data model, costs, middleware.
"""
