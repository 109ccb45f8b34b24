"""Thin Prefect flows over the `pipeline` library (no logic of their own).

Prefect keeps its state under the project's var/ folder unless PREFECT_HOME says otherwise, never
in the user's home; and results are not persisted by default (task results hold personal data).
"""

import os
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PREFECT_HOME", str(PROJECT / "var" / "prefect"))
os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
