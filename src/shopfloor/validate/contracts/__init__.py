"""Contract checks on a candidate's code: layering, forbidden APIs, API compatibility,
resource budgets and test quality (docs/validation.md)."""
