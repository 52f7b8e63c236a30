"""Execution environments: local and bubblewrap-isolated; copy-on-write workspaces.

`environment.ExecutionEnvironment` is the interface agent tools use;
`environment.LocalExecutionEnvironment` runs on the host without isolation.
"""
