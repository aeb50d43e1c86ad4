"""``python -m pytest_diego <command>`` (also installed as ``pytest-diego``).

Each command group registers its own subcommands: ``cluster`` (up, down, status) lives in
``pytest_diego.cluster.cli``, ``cells`` (hollow cells joining a Diego) in
``pytest_diego.cluster.cell.cli``, ``report`` in ``pytest_diego.report.cli``; a new group adds one
``add_commands`` call here.
"""

from __future__ import annotations

import argparse

from pytest_diego import __version__
from pytest_diego.cluster import cli as cluster_cli
from pytest_diego.cluster.cell import cli as cells_cli
from pytest_diego.report import cli as report_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_diego",
        description="pytest-diego: Diego's performance requirements as pytest tests.",
    )
    parser.add_argument("--version", action="version", version=f"pytest-diego {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    cluster_cli.add_commands(commands)
    cells_cli.add_commands(commands)
    report_cli.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
