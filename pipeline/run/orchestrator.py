"""Who started a run, when an orchestrator did: `Orchestrator`, recorded in both trails.

An auditor reading a run folder must be able to find the scheduler's own record of the same run
(its logs, its state, who pressed *Run*), and someone in the Prefect UI the folder of a flow run.
The caller says which orchestrator ran it; the library never asks one (Prefect stays in flows/).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Orchestrator:
    """The orchestrator's facts about one run: no personal data, only its own ids and names."""

    kind: str  # "prefect"
    flow_run_id: str
    flow_run_name: str
    deployment: str | None = None  # "identify_families/monthly"; None for a flow run started by hand

    def record(self) -> dict[str, str | None]:
        """The facts as run_start's `orchestrator` field and the OpenLineage orchestrator facet give them."""
        return asdict(self)


def lineage_fields(orchestrator: Orchestrator | None) -> dict[str, dict[str, str | None]]:
    """run_start's `orchestrator` field, or nothing for a run started from a command line."""
    return {"orchestrator": orchestrator.record()} if orchestrator is not None else {}
