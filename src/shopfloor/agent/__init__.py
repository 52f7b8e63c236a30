"""Coding agent loop (coding-agent-loop-spec).

Session, provider profiles, tools, steering, subagents, events.
"""
