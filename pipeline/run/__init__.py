"""One run of the pipeline: `config` (what it is asked to do), `session` (what its stages share),
`stages` (their order, each a step over the session), `failure` (recording a run that cannot finish),
`result` (what it tells its caller), `orchestrator` (who started it, when a scheduler did)."""

from pipeline.run.config import RULE_SETS, RunConfig
from pipeline.run.failure import RunError, Terminated, public_reason
from pipeline.run.result import RunResult
from pipeline.run.stages import execute

__all__ = ["RULE_SETS", "RunConfig", "RunError", "RunResult", "Terminated", "execute", "public_reason"]
