"""Execution environments: local and bubblewrap-isolated; copy-on-write workspaces."""
