"""Validation gauntlet: sealed scenarios, satisfaction scores and contract checks."""
