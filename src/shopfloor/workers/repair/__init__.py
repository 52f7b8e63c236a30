"""Search-based program repair of Python code: the offline codergen worker.

Fault localization from per-test coverage (Ochiai) ranks suspicious lines;
AST mutation operators generate candidate edits at those lines; candidates are
evaluated in parallel workspaces with the visible tests as fitness, and the
search climbs from one improvement to the next until every visible test
passes or the candidate budget is spent. Same seed, same result.
"""

from shopfloor.workers.repair.search import RepairConfig, RepairResult, repair_project

__all__ = ["RepairConfig", "RepairResult", "repair_project"]
