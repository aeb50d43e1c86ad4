"""``python -m pytest_diego cluster up|down|status|fault``: the embedded cluster outside pytest.

``up`` runs the cluster in the foreground until Ctrl-C/SIGTERM, or with ``--detach`` re-runs
itself as a launcher in its own session (so the shell's Ctrl-C does not reach it) and returns
once that launcher has written cluster.json. ``down`` asks that launcher to stop everything,
then stops by pid whatever is left. ``fault`` asks it to deliver a fault (``control.py``): the
launcher, which lives as long as the cluster, is the one process that can restart a component
for good. Logs stay in ``<state_dir>/logs``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from pytest_diego.cluster import control, state
from pytest_diego.cluster.cluster_config import OWN_POSTGRES
from pytest_diego.cluster.launcher import ClusterConfig, ClusterConfigError, EmbeddedCluster
from pytest_diego.cluster.process import ComponentStartError, ProcessInfo, tail

EXIT_USAGE = 2


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``, or a usage error saying which."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _whole_number(1)
_non_negative_int = _whole_number(0)


def _positive_number(noun: str, hint: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0{hint}, got {text}")
        return value

    return parse


_time_scale = _positive_number("a number", " (1 = Diego's intervals, 0.1 = ten times faster)")
_seconds = _positive_number("a number of seconds", " seconds")


def _dsn(text: str) -> str:
    if text != OWN_POSTGRES and not text.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise argparse.ArgumentTypeError(
            f"unsupported scheme in {text.split('@')[-1]!r}: use sqlite:///path/to/bbs.sqlite3, "
            f"postgresql://user:password@host:port/dbname, or {OWN_POSTGRES} for a PostgreSQL server the "
            "cluster runs itself")
    return text


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = subparsers.add_parser(
        "cluster", help="run the embedded Diego cluster outside pytest",
        description="Run the embedded Diego cluster outside pytest. `up` runs it in the foreground until "
                    "Ctrl-C (or returns at once with --detach); `down` stops every process it started; "
                    "`status` shows addresses and which processes run; `fault` has `up` deliver a fault. "
                    "Logs stay in <state dir>/logs.")
    commands = cluster.add_subparsers(dest="cluster_command", metavar="{up,down,status,fault}", required=True)

    up = commands.add_parser("up", help="start BBS, auctioneer, router, route emitter and N cells")
    up.add_argument("--cells", type=_positive_int, default=3, help="number of cells (default 3)")
    up.add_argument("--db", type=_dsn, help="BBS store DSN (default sqlite:///<state dir>/bbs.sqlite3), or "
                    f"'{OWN_POSTGRES}' to run a PostgreSQL server of the cluster's own under the BBS")
    up.add_argument("--tls", action="store_true",
                    help="mutual TLS to the BBS with a generated per-cluster CA")
    up.add_argument("--time-scale", type=_time_scale, default=1.0,
                    help="multiply every Diego interval by this (default 1; 0.1 = ten times faster)")
    up.add_argument("--state-dir", type=Path, help="where run files, logs and cluster.json go (default: new "
                    "temp dir)")
    up.add_argument("--detach", action="store_true", help="return once the cluster is up; stop it with "
                    "`cluster down`")
    up.add_argument("--zones", type=_positive_int, default=3, help="availability zones (default 3)")
    up.add_argument("--cell-memory-mb", type=_non_negative_int)
    up.add_argument("--cell-disk-mb", type=_non_negative_int)
    up.add_argument("--cell-containers", type=_non_negative_int)
    up.add_argument("--container-model", metavar="SPEC", help="container start/run time model for cells")
    up.add_argument("--start-timeout", type=_seconds, default=120.0, help="seconds (default 120)")
    up.set_defaults(run=cmd_up)

    fault = commands.add_parser(
        "fault", help="deliver a fault to a cluster started with `up` (for diego_*_command options)",
        description="Have the cluster's `up` process deliver one fault with real signals, e.g. "
                    "`fault kill_cell cell-1`, `fault restart_bbs`. The diego_*_command options of a run "
                    "that treats the cluster as a real Diego can name these commands.")
    fault.add_argument("kind", choices=control.FAULTS, metavar="FAULT",
                       help=f"one of {', '.join(control.FAULTS)}")
    fault.add_argument("target", nargs="?", default="",
                       help="the cell id (kill_cell, restart_cell, freeze_cell, thaw_cell) or component or "
                            "cell id (pause, resume)")
    fault.add_argument("--state-dir", type=Path, required=True)
    fault.add_argument("--timeout", type=_seconds, default=240.0,
                       help="seconds to wait for the fault, e.g. a restart (default 240, within the 300 s "
                            "a run gives a fault command)")
    fault.set_defaults(run=cmd_fault)

    for name, func, text in (("down", cmd_down, "stop every process of a cluster started with `up`"),
                             ("status", cmd_status, "show the cluster's addresses and which processes run")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--state-dir", type=Path, required=True)
        sub.set_defaults(run=func)


def _config(args: argparse.Namespace, state_dir: Path) -> ClusterConfig:
    return ClusterConfig(cells=args.cells, db=args.db, tls=args.tls, time_scale=args.time_scale,
                         state_dir=state_dir, zones=args.zones, cell_memory_mb=args.cell_memory_mb,
                         cell_disk_mb=args.cell_disk_mb, cell_containers=args.cell_containers,
                         container_model=args.container_model, start_timeout=args.start_timeout)


def summary(data: dict, alive: dict[str, bool] | None = None) -> str:
    """One screen: every address, pid and file a person needs."""
    def mark(name: str) -> str:
        if alive is None:
            return ""
        return "  up" if alive.get(name) else "  DOWN"

    comps = data["components"]
    cells = data["cells"]
    zones = sorted({c["zone"] for c in cells})
    tls = data["tls"]
    lines = [
        f"pytest-diego embedded cluster: {len(cells)} cells in {len(zones)} zones, time scale "
        f"{data['time_scale']}, TLS {'on' if tls else 'off'}",
        f"  state dir      {data['state_dir']}",
        f"  BBS            {data['bbs_url']}  (pid {comps['bbs']['pid']}){mark('bbs')}",
        f"  BBS health     {data['bbs_health_url']}",
        f"  store          {data['db'].split('@')[-1]}"
        + (f"  (pid {comps['postgres']['pid']}){mark('postgres')}" if "postgres" in comps else ""),
        f"  router         {data['router_url']}  admin {data['router_admin_url']}  "
        f"(pid {comps['router']['pid']}){mark('router')}",
        f"  auctioneer     {data['auctioneer_url']}  (pid {comps['auctioneer']['pid']}){mark('auctioneer')}",
        f"  route emitter  {comps['route_emitter']['metrics_url']}  (pid {comps['route_emitter']['pid']})"
        f"{mark('route_emitter')}",
    ]
    if tls:
        lines.append(f"  TLS            ca {tls['ca_file']}  client cert {tls['cert_file']}  "
                     f"key {tls['key_file']}")
    shown = cells[:4]
    for c in shown:
        lines.append(f"  {c['cell_id']:<14} {c['rep_url']}  zone {c['zone']}  (pid {c['pid']})"
                     f"{mark(c['cell_id'])}")
    if len(cells) > len(shown):
        down = "" if alive is None else f", {sum(not alive.get(c['cell_id']) for c in cells)} down"
        more = len(cells) - len(shown)
        lines.append(f"  ... and {more} more cell{'s' if more > 1 else ''}{down} (all in cluster.json)")
    lines += [f"  cluster.json   {Path(data['state_dir']) / state.FILENAME}",
              f"  logs           {Path(data['state_dir']) / 'logs'}"]
    return "\n".join(lines)


class _Stop(Exception):
    """SIGTERM/SIGINT arrived: unwind and stop the cluster."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signum)


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="pytest-diego-"))
    if args.state_dir is None:
        print(f"state dir: {state_dir}", flush=True)
    if args.detach:
        return _detach(args, state_dir)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        cluster = EmbeddedCluster.start(_config(args, state_dir))
    except ClusterConfigError as exc:
        print(f"cluster up: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ComponentStartError as exc:
        print(f"cluster up: the cluster did not start: {exc}", file=sys.stderr)
        return 1
    except _Stop:
        print("cluster up: interrupted while starting; stopped what had started", file=sys.stderr)
        return 1
    server: control.ControlServer | None = None
    try:
        server = control.ControlServer(cluster, state_dir)
        cluster.mark_command_launcher(server.path)
        print(summary(cluster.to_json()), flush=True)
        print(f"Running. Stop with Ctrl-C or `python -m pytest_diego cluster down --state-dir {state_dir}`.",
              flush=True)
        while True:
            signal.pause()
    except _Stop:
        print("stopping the cluster...", flush=True)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second Ctrl-C must not skip the stop
            signal.signal(sig, signal.SIG_IGN)
        if server is not None:
            server.close(timeout=args.start_timeout + 30)  # the fault under way, e.g. a restart
        cluster.stop()
    print(f"stopped; logs are in {state_dir / 'logs'}", flush=True)
    return 0


def _detach(args: argparse.Namespace, state_dir: Path) -> int:
    """Re-run ``up`` without --detach as a launcher in a new session; wait for its cluster.json."""
    argv = [a for a in sys.argv[1:] if a != "--detach"]
    if args.state_dir is None:
        argv += ["--state-dir", str(state_dir)]
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    output = state_dir / "logs" / "launcher.out"
    with open(output, "ab") as out:
        launcher = subprocess.Popen([sys.executable, "-m", "pytest_diego", *argv], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + args.start_timeout + 30
    while time.monotonic() < deadline:
        code = launcher.poll()
        if code is not None:
            print(f"cluster up: the launcher exited with status {code}; its output ({output}):\n"
                  f"{tail(output)}", file=sys.stderr)
            return code or 1
        try:
            data = state.read(state_dir).to_json()
        except state.ClusterStateError:
            data = None
        owner = data["launcher"] if data is not None else {}
        if data is not None and owner.get("pid") == launcher.pid and owner.get("command"):
            print(summary(data))
            print(f"Detached (launcher pid {launcher.pid}). Stop with "
                  f"`python -m pytest_diego cluster down --state-dir {state_dir}`.")
            return 0
        time.sleep(0.1)
    launcher.terminate()
    print(f"cluster up: not ready after {args.start_timeout + 30:.0f} s; see {output}", file=sys.stderr)
    return 1


def cmd_down(args: argparse.Namespace) -> int:
    try:
        st = state.read(args.state_dir)
    except state.ClusterStateError as exc:
        print(f"cluster down: error: {exc}", file=sys.stderr)
        return 1
    launcher = ProcessInfo(int(st.launcher.get("pid", 0)), float(st.launcher.get("create_time", 0.0)))
    if st.launcher.get("command") and launcher.pid != os.getpid() and launcher.signal(signal.SIGTERM):
        deadline = time.monotonic() + 20
        while launcher.is_ours() and time.monotonic() < deadline:
            time.sleep(0.1)
    cluster = EmbeddedCluster.attach(args.state_dir)
    running = [name for name, info in cluster.processes() if info.is_ours()]
    cluster.stop()
    if st.launcher.get("control_socket") and not launcher.is_ours():
        control.remove_socket(st.launcher["control_socket"])
    left = [name for name, info in cluster.processes() if info.is_ours()]
    if left:
        print(f"cluster down: still running after SIGKILL: {', '.join(left)}", file=sys.stderr)
        return 1
    detail = f"stopped {len(running)} leftover process(es) by pid; " if running else ""
    print(f"cluster down: nothing left running ({detail}logs kept in {Path(st.state_dir) / 'logs'})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    try:
        cluster = EmbeddedCluster.attach(args.state_dir)
    except state.ClusterStateError as exc:
        print(f"cluster status: error: {exc}", file=sys.stderr)
        return 1
    alive = {name: info.is_ours() for name, info in cluster.processes()}
    print(summary(cluster.to_json(), alive))
    return 0 if all(alive.values()) else 1


def cmd_fault(args: argparse.Namespace) -> int:
    where = f"{args.kind} {args.target}".strip()
    if args.kind in control.UNTARGETED_FAULTS and args.target:
        print(f"cluster fault: error: {args.kind} takes no target (got {args.target!r})", file=sys.stderr)
        return EXIT_USAGE
    try:
        socket_path = state.read(args.state_dir).launcher.get("control_socket")
        if not socket_path:
            raise control.ControlError(
                f"the cluster in {args.state_dir} was not started by `python -m pytest_diego cluster up`, "
                "whose process delivers faults")
        detail = control.request(socket_path, args.kind, args.target, args.timeout)
    except ValueError as exc:
        print(f"cluster fault: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (state.ClusterStateError, control.ControlError) as exc:
        print(f"cluster fault: {where}: {exc}", file=sys.stderr)
        return 1
    print(f"cluster fault: {where}: {detail or 'done'}")
    return 0
