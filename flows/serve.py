"""Serve the `identify_families` deployment on a Prefect server, with a monthly schedule.

    make serve                      # a Prefect server on 127.0.0.1:4200 (state under var/prefect), then this
    python -m flows.serve [--inbox DIR] [--out-root DIR] [--rules supporting_families] [--cron "0 6 1 * *"]
                          [--timezone Europe/London] [--start-server]

Prefect fires schedules only when a real server is running (the temporary server it starts for
a one-off run does not schedule), so this needs one: `--start-server` starts `prefect server start`
on loopback with its database under PREFECT_HOME (var/prefect) and stops it on exit; otherwise
PREFECT_API_URL must name a running server. The deployment's parameters are the extracts inbox,
an output root (each run writes a new folder named for its day) and the rule set. Runs go one at
a time: a month's run never overlaps the next. The cron is read in the schedule's time zone
(Europe/London by default, so 06:00 stays 06:00 across the clock change), not UTC.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
import zoneinfo
from pathlib import Path

import flows
from flows.identify_families import identify_families
from pipeline.criteria.rules import DEFAULT_RULE_SET

DEPLOYMENT = "monthly"
DEFAULT_CRON = "0 6 1 * *"  # 06:00 on the first of each month
DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_PORT = 4200


def deployment(inbox: Path, out_root: Path, rules: str = DEFAULT_RULE_SET, cron: str = DEFAULT_CRON,
               timezone: str = DEFAULT_TIMEZONE):
    """The scheduled deployment of the flow, with the run's folders and rule set as its parameters.

    The cron is read in `timezone` (an IANA name): without one Prefect reads it in UTC, and a council's
    06:00 would be 07:00 all summer.
    """
    from prefect.schedules import Cron

    return identify_families.to_deployment(
        name=DEPLOYMENT, schedule=Cron(cron, timezone=timezone), concurrency_limit=1,
        parameters={"extracts": str(Path(inbox).resolve()), "out_root": str(Path(out_root).resolve()),
                    "rules": rules},
        description="Identify families from the extracts inbox; each run writes a new dated folder under out_root.",
        tags=["supporting-families"])


def time_zone(name: str) -> str:
    """An IANA time zone name the schedule can be read in; a usage error naming it otherwise."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"not a time zone (an IANA name such as Europe/London): {name!r}") from None
    return name


def inbox_hint(inbox: Path) -> str | None:
    """What to put in an inbox that holds no extract yet (None when it holds some): the scheduled run would
    fail on its first required source, so say so before the officer waits a month to find out."""
    if any(Path(inbox).glob("*.csv")):
        return None
    from pipeline.config import load_schemas

    names = ", ".join(f"{source}.csv" for source in sorted(load_schemas().contracts))
    return (f"The inbox {inbox} holds no extracts yet: copy the agencies' files into it, one per source named "
            f"{names} (docs/extract-specification.md). To try it on the bundled synthetic sample: "
            f"cp sample_data/extracts/*.csv {inbox}/")


def server_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api"


def start_server(port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`prefect server start` on loopback only; its database lives under PREFECT_HOME.

    The UI is told where the API is: left to itself it looks on port 4200 whatever --port says, and on
    any other port shows only "Can't connect to Server API".
    """
    env = dict(os.environ if env is None else env)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_UI_API_URL", server_url(port))
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=fh, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def stop(process: subprocess.Popen, grace: float = 20.0) -> None:
    """Ask a server or runner process to stop; kill it if it has not within `grace` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_healthy(url: str, timeout: float = 90.0, process: subprocess.Popen | None = None) -> None:
    """Wait until the server answers its health check; a clear error if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the Prefect server exited (status {process.returncode}); see its log")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the Prefect server at {url} did not answer within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--inbox", type=Path, default=flows.PROJECT / "var" / "inbox",
                        help="folder the agencies' extracts are put in (default var/inbox)")
    parser.add_argument("--out-root", type=Path, default=flows.PROJECT / "var" / "runs",
                        help="each run writes a new dated folder here (default var/runs)")
    parser.add_argument("--rules", default=DEFAULT_RULE_SET,
                        help=f"criteria rule set, a name or a rule file's path (default {DEFAULT_RULE_SET})")
    parser.add_argument("--cron", default=DEFAULT_CRON, help=f"schedule (default '{DEFAULT_CRON}': monthly)")
    parser.add_argument("--timezone", default=DEFAULT_TIMEZONE, type=time_zone,
                        help=f"the time zone the cron is read in, an IANA name (default {DEFAULT_TIMEZONE})")
    parser.add_argument("--start-server", action="store_true", help="start a Prefect server on loopback first")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    args.inbox.mkdir(parents=True, exist_ok=True)
    args.out_root.mkdir(parents=True, exist_ok=True)
    hint = inbox_hint(args.inbox)
    if hint:
        print(hint, flush=True)

    server = None
    if args.start_server:
        home = Path(os.environ["PREFECT_HOME"])
        server = start_server(args.port, home / "server.log")
        os.environ["PREFECT_API_URL"] = server_url(args.port)
        print(f"Prefect server starting on {server_url(args.port)} (log: {home / 'server.log'}) ...", flush=True)
        wait_healthy(server_url(args.port), process=server)
        print(f"Prefect UI: http://127.0.0.1:{args.port}", flush=True)
    if not os.environ.get("PREFECT_API_URL"):
        print("error: no Prefect server: set PREFECT_API_URL to a running server's API, or use --start-server "
              "(schedules fire only on a real server)", file=sys.stderr)
        return 1
    try:
        from prefect import serve
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: os.environ["PREFECT_API_URL"]}):
            serve(deployment(args.inbox, args.out_root, args.rules, args.cron, args.timezone), limit=1)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
