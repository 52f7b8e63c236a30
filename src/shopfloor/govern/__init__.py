"""Governance: hierarchical budgets, brake detectors, policy, gates and approvals, emergency stop."""
