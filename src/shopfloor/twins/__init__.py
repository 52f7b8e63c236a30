"""Digital twins of third-party services (Slack, Jira, Okta, AWS via moto), with chaos injection.

    from shopfloor import twins

    with twins.run_twins(["slack", "jira"], seed="seed.yaml", chaos="chaos.yaml") as fleet:
        fleet["slack"].base_url

See docs/twins.md; `twins.framework` is how to write a new twin.
"""

from shopfloor.twins.framework import Twin, TwinReply, TwinRequest, json_response, route
from shopfloor.twins.runner import BUILTIN_TWINS, RunningTwin, TwinFleet, run_twins
from shopfloor.twins.server import TwinServer

__all__ = [
    "BUILTIN_TWINS",
    "RunningTwin",
    "Twin",
    "TwinFleet",
    "TwinReply",
    "TwinRequest",
    "TwinServer",
    "json_response",
    "route",
    "run_twins",
]
