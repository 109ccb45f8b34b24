"""A finished run told to people, from one typed `RunResult`: `terminal` (the closing summary),
`markdown` (the Prefect UI's artifacts), `headlines` (the figures both give) and `html` (report.html
in the run folder). Counts, gateways and reasons only: no personal data."""

REPORT_FILE = "report.html"  # the run report, in every run folder
