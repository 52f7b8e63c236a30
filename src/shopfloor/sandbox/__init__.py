"""Execution environments: local and bubblewrap-isolated; copy-on-write workspaces.

`environment.ExecutionEnvironment` is the interface agent tools use;
`environment.LocalExecutionEnvironment` runs on the host without isolation.
"""


def kill_all() -> int:
    """Kill every live sandboxed process tree (the emergency stop); returns how many were alive.

    Environments whose sandbox was killed start a fresh one on their next command.
    """
    from shopfloor.sandbox import registry

    return registry.kill_all()
