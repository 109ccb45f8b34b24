"""Family identification pipeline: plain functions from agency extracts to eligible families.

No Prefect in here: `flows/` wires these functions; the command line is `python -m pipeline`.
"""

__version__ = "0.1.0"
