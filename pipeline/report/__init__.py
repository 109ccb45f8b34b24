"""A finished run told to people, from one typed `RunResult`: `terminal` (the closing summary) and
`markdown` (the Prefect UI's artifacts). Counts, gateways and reasons only: no personal data."""
