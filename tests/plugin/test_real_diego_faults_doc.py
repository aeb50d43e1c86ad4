"""docs/real-diego-faults.md: its ``[pytest]`` block sets a command for every fault, and each one,
run by ``CommandNemesis`` through the local shell, hands ``bosh`` the arguments intended: the
instance named by the cell id, and a remote command that is valid shell and still carries its
quoted ``pkill`` patterns (a pattern the remote shell could expand would match the shell running
it). ``bosh`` here is a stand-in that records its arguments and syntax-checks the remote command."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from iniconfig import IniConfig

from pytest_diego.nemesis import CommandNemesis
from pytest_diego.pytest_support.options import FAULT_COMMANDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "real-diego-faults.md"
CELL = "6f1e2d3c-aaaa-4bbb-8ccc-0123456789ab"
FAKE_BOSH = f"""#!{sys.executable}
import json, os, subprocess, sys
args = sys.argv[1:]
remote = args[args.index("-c") + 1] if "-c" in args else ""
with open(os.environ["BOSH_CALLS"], "a") as f:
    f.write(json.dumps(args) + "\\n")
sys.exit(subprocess.run(["sh", "-n", "-c", remote]).returncode if remote else 0)
"""


def documented_commands() -> dict[str, str]:
    block = re.search(r"```ini\n(\[pytest\]\n.*?)```", DOC.read_text(), re.S)
    assert block, f"no [pytest] ini block in {DOC}"
    section = IniConfig(str(DOC), data=block.group(1))["pytest"]
    return {key.removeprefix("diego_").removesuffix("_command"): value for key, value in section.items()}


def test_every_fault_has_a_documented_command():
    assert set(documented_commands()) == set(FAULT_COMMANDS) - {"pause", "resume"}


def test_documented_commands_reach_bosh_as_intended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bosh = tmp_path / "bosh"
    bosh.write_text(FAKE_BOSH)
    bosh.chmod(0o755)
    calls = tmp_path / "calls"
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("BOSH_CALLS", str(calls))
    nemesis = CommandNemesis(documented_commands(), lambda: [CELL])
    nemesis.kill_cell(CELL)
    nemesis.restart_cell(CELL)
    nemesis.freeze_cell(CELL)
    nemesis.thaw_cell(CELL)
    nemesis.kill_bbs()
    nemesis.restart_bbs()
    nemesis.kill_database()
    nemesis.restart_database()
    nemesis.wipe_store()
    made = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [args[2:4] for args in made] == [
        ["ssh", f"diego-cell/{CELL}"]] * 4 + [["ssh", "diego-api"]] * 2 + [["ssh", "database"]] * 2 + [
        ["ssh", "database/0"]]
    assert all(args[:2] == ["-d", "cf"] for args in made)
    remote = {kind: args[-1] for kind, args in zip(
        ["kill_cell", "restart_cell", "freeze_cell", "thaw_cell", "kill_bbs", "restart_bbs",
         "kill_database", "restart_database", "wipe_store"], made, strict=True)}
    assert "pkill -9 -f '/var/vcap/packages/re[p]/bin/rep'" in remote["kill_cell"]
    assert "pkill -9 -f '/var/vcap/packages/bb[s]/bin/bbs'" in remote["kill_bbs"]
    assert "monit unmonitor" in remote["kill_cell"] and "monit unmonitor" in remote["kill_database"]
    assert remote["freeze_cell"].count("-j pytest-diego-freeze") == 3
    assert remote["thaw_cell"].count("-D ") == 3 and "-X pytest-diego-freeze" in remote["thaw_cell"]
    assert "DROP TABLE IF EXISTS desired_lrps, actual_lrps, tasks, domains" in remote["wipe_store"]
    assert all(event.ok for event in nemesis.log.events)
