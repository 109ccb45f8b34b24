"""Ingest: each agency's extract admitted by its gateway, read, checked against its contract, landed.

`source.ingest_source` is one source's whole ingest, returning a typed result; it is built of
`gateways` (may this file be used at all), `read` (bytes to text columns, every record keeping its
file line), `checks` and `validate` (the contract's rules, row by row, into accepted and
quarantined rows), `gx` (the same checks as Great Expectations suites, results and Data Docs) and
`cache` (an unchanged file taken from the earlier run that read it).
"""
