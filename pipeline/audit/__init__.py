"""The audit trail: what went into each run, under which gateway, and that the record is unaltered.

`lineage` writes a run's hash-chained `lineage.jsonl`; `ledger` keeps one chained summary per run
across runs; `openlineage` says the same in the OpenLineage standard. `trail` reads them back;
`verify`, `show` and `explain` are the `python -m pipeline audit` commands. `purge` is
`python -m pipeline purge`: `retention` says when a run's data falls due, `removal` removes it
without following a link out of the run, and `purged` reads the ledger's purge records back for
`verify`.
"""
