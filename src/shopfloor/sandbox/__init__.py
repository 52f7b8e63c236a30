"""Execution environments: local and bubblewrap-isolated; copy-on-write workspaces.

`environment.ExecutionEnvironment` is the interface agent tools use;
`environment.LocalExecutionEnvironment` runs on the host without isolation.
"""


def kill_all() -> int:
    """Kill every live sandboxed process tree (the emergency stop); returns how many were alive."""
    from shopfloor.sandbox.bwrap import kill_all as kill_all_sandboxes

    return kill_all_sandboxes()
