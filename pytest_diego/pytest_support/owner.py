"""The run's owner: the single process, or xdist's controller (``controller.XdistController``).

It owns what exists once per run: the embedded cluster (``embedded.ClusterOwner``), the hub the
scenario processes meet at (``coordination.Hub``), the judging of every scenario on its merged
shards, results.json, report.html and the end-of-run SLO table. It runs no scenario itself:
under xdist the workers do, in a single process ``runner.ScenarioRunner`` does beside it.

Ctrl-C (SIGINT) says at once what happens next, then unwinds the run as Ctrl-C always does. Once
the run is over, the owner saves results.json, stops the embedded cluster (when interrupted)
and only then pushes the results and renders the report, which take seconds. A Ctrl-C while it
saves is remembered, not raised, so results.json is always whole; one during the push or the
report skips them (``python -m pytest_diego report`` renders the report later).
"""

from __future__ import annotations

import contextlib
import platform
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import pytest_diego
from pytest_diego.baseline import Baseline, BaselineError
from pytest_diego.measure.measurements import Measurements
from pytest_diego.pytest_support.coordination import Hub
from pytest_diego.pytest_support.embedded import ClusterOwner
from pytest_diego.pytest_support.hollow import HollowCellsOwner
from pytest_diego.pytest_support.judgement import Judgement, judge_shards
from pytest_diego.pytest_support.options import DiegoSettings
from pytest_diego.pytest_support.status import TerminalStatus, format_status
from pytest_diego.pytest_support.target import Embedded
from pytest_diego.report.pushgateway import PushError
from pytest_diego.report.results import summarize, write_results
from pytest_diego.report.terminal import write_slo_table

INTERRUPTED = "the run was interrupted before every shard of this scenario was in"
# What the run is doing, for Ctrl-C: running its tests; unwinding after a first Ctrl-C (the
# scenario's own cleanup runs); the end of the run: saving results.json and stopping the cluster
# (never cut short), in which a push or the report is a step Ctrl-C skips; done.
RUNNING, UNWINDING, SAVING, SKIPPABLE, DONE = "running", "unwinding", "saving", "skippable", "done"


@dataclass
class ScenarioRecord:
    """What the owner knows of one scenario: its judgement and each worker's reports."""

    judgement: Judgement | None = None
    reports: dict[str, list[pytest.TestReport]] = field(default_factory=dict)


class RunOwner:
    """Registered as a plugin in the single process and in xdist's controller."""

    workers = 0  # how many xdist workers (0: none)

    def __init__(self, config: pytest.Config, settings: DiegoSettings, capture_aware: bool) -> None:
        self.config = config
        self.settings = settings
        try:
            self.baseline = (Baseline.load(settings.baseline, settings.baseline_tolerance)
                             if settings.baseline else None)
        except BaselineError as exc:
            raise pytest.UsageError(f"--diego-baseline {exc}") from None
        target = settings.target
        self.cluster = (ClusterOwner(target, settings.results_dir / "cluster")
                        if isinstance(target, Embedded) else None)
        self.hollow = (HollowCellsOwner(target.hollow_cells, target.bbs_url, target.ca_file, target.cert_file,
                                        target.key_file, settings.results_dir / "hollow-cells")
                       if not isinstance(target, Embedded) and target.hollow_cells else None)
        self.hub = Hub(self, settings.barrier_timeout)
        self.records: dict[str, ScenarioRecord] = {}
        self.started_at = time.time()
        self.interrupted = False
        self.skip_report = False
        self.capture_aware = capture_aware
        self.terminal = TerminalStatus(config, capture_aware=capture_aware)
        self._lock = threading.Lock()
        self._previous_sigterm: Any = None
        self._previous_sigint: Any = None
        self._phase = RUNNING
        self._scenario_started = False  # read by the SIGINT handler, which must take no lock
        self._saved: dict[str, Any] | None = None  # the results.json last written

    # -- lifetime --------------------------------------------------------------------------
    def start(self) -> None:
        with contextlib.suppress(ValueError):  # not the main thread
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self._previous_sigint = signal.signal(signal.SIGINT, self._ctrl_c)
        self.hub.start()
        if self.hollow is not None:
            self.hollow.start()

    def stop(self) -> None:
        self.hub.stop()
        if self.hollow is not None:
            self.hollow.stop()
        if self.cluster is not None:
            self.cluster.stop()
        with contextlib.suppress(ValueError):
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            if self._previous_sigint is not None:
                signal.signal(signal.SIGINT, self._previous_sigint)

    def _ctrl_c(self, signum: int, frame: Any) -> None:
        """SIGINT: the first says what happens next and interrupts the run; later ones skip the
        push and the report, but never cut results.json or the cluster's stop short."""
        __tracebackhide__ = True  # pytest names where the run was, not this handler
        phase = self._phase
        if phase == RUNNING:
            self._phase = UNWINDING
            self.interrupted = True
            self._say_from_handler(self._interruption())
            raise KeyboardInterrupt
        if phase == SKIPPABLE:
            self._phase = SAVING  # whatever follows the step is not cut short
            raise KeyboardInterrupt  # the step in progress catches it and says it was skipped
        if phase == DONE:
            if self.interrupted:  # the run is ending anyway: no traceback for an impatient Ctrl-C
                return
            raise KeyboardInterrupt
        if not self.skip_report:
            self.skip_report = True
            saving = f"; {self._results_path()} is still being saved" if self._scenario_started else ""
            self._say_from_handler(f"pytest-diego: Ctrl-C: the report will be skipped{saving}")
        if phase == UNWINDING:
            raise KeyboardInterrupt  # cuts the scenario's own cleanup short, as Ctrl-C does

    def _interruption(self) -> str:
        """What the run does after Ctrl-C, said at once."""
        running = self.cluster is not None and self.cluster.running is not None
        steps = ["stopping the embedded cluster"] if running else []
        if self._scenario_started:
            steps.append(f"saving {self._results_path()} (Ctrl-C again to skip the report)")
        return f"pytest-diego: interrupted — {' and '.join(steps) or 'stopping'}"

    def _results_path(self) -> Path:
        return self.settings.results_dir / "results.json"

    # -- what the hub asks of the owner ----------------------------------------------------
    def judge(self, nodeid: str, shards: dict[str, dict[str, Any]], problems: list[str]) -> Judgement:
        judgement = judge_shards(nodeid, shards, problems, self.baseline, self.settings.strict)
        with self._lock:
            self.records.setdefault(nodeid, ScenarioRecord()).judgement = judgement
        return judgement

    def show_status(self, status: dict[str, Any]) -> None:
        self.terminal.show(format_status(status))

    def cluster_description(self) -> dict[str, Any]:
        if self.cluster is None:
            raise RuntimeError("this run targets a real Diego: there is no embedded cluster")
        return self.cluster.description()

    def fault(self, kind: str, target: str) -> str:
        if self.cluster is None:
            raise RuntimeError("this run targets a real Diego: faults are its configured commands")
        return self.cluster.deliver(kind, target)

    # -- results ---------------------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        if not self._scenario_started and nodeid in self.hub.scenario_ids():
            self._scenario_started = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self.hub.scenario_ids():
            return
        node = getattr(report, "node", None)
        worker = node.gateway.id if node is not None else "main"
        with self._lock:
            record = self.records.setdefault(report.nodeid, ScenarioRecord())
            record.reports.setdefault(worker, []).append(report)
        if report.when in ("teardown", "???"):
            self.write_results()

    @pytest.hookimpl(tryfirst=True)  # before pytest formats the traceback, which takes a while
    def pytest_keyboard_interrupt(self) -> None:
        if self._phase == RUNNING:  # SIGTERM, or a KeyboardInterrupt raised by a test
            self._say(self._interruption())
        self._phase = SAVING
        self.interrupted = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self._phase = SAVING
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.interrupted = True
        for nodeid in self.hub.unjudged():
            self.hub.judge_now(nodeid, INTERRUPTED)
        document = self.write_results() if self.records else None
        if self.interrupted:
            if document is not None:
                self._say(f"pytest-diego: saved {self._results_path()}")
            if self.cluster is not None:  # before the report: it renders faster on idle cores
                self.cluster.stop()
        if document is not None:
            self.push_results(document)
            self.write_report()
        self._phase = DONE

    @contextlib.contextmanager
    def _skippable(self) -> Iterator[None]:
        """A step of the run's end that Ctrl-C skips (raised in it: the caller catches it)."""
        self._phase = SKIPPABLE
        try:
            yield
        finally:
            self._phase = SAVING

    def tests(self) -> dict[str, dict[str, Any]]:
        """results.json's ``tests``: every scenario that ran or was judged, in collection order."""
        with self._lock:
            records = dict(self.records)
        order = [n for n in self.hub.scenario_ids() if n in records]
        order += [n for n in records if n not in order]
        return {nodeid: _test_entry(records[nodeid]) for nodeid in order}

    def write_results(self) -> dict[str, Any]:
        """results.json as the run stands; the document written (without its schema number)."""
        environment = {
            "target": self.settings.target.describe(),
            **(self.cluster.describe() if self.cluster is not None else {"cells": []}),
            "versions": {"pytest-diego": pytest_diego.__version__, "pytest": pytest.__version__,
                         "python": platform.python_version()},
            "scale": self.settings.scale,
            "workers": self.workers,
        }
        document = {"started_at": self.started_at, "finished_at": time.time(),
                    "interrupted": self.interrupted, "environment": environment, "tests": self.tests()}
        write_results(self.settings.results_dir / "results.json", document)
        self._saved = document
        return document

    def push_results(self, document: dict[str, Any]) -> None:
        """Once per run, after results.json is written: the verdicts and summaries to the
        Pushgateway. A push that fails must not cost the run its verdicts: a warning."""
        gateway = self.settings.pushgateway
        if gateway is None:
            return
        try:
            with self._skippable():
                run = gateway.push(document)
        except PushError as e:
            self._say(f"pytest-diego: WARNING: results not pushed: {e}", yellow=True)
        except KeyboardInterrupt:
            self.skip_report = True  # whoever stops a slow push wants the prompt back
            self._say(f"pytest-diego: results not pushed to Pushgateway {gateway.url} (Ctrl-C)")
        else:
            self._say(f"pytest-diego: results pushed to Pushgateway {gateway.url} "
                      f"(job {gateway.job}, run {run})")

    def write_report(self) -> None:
        """report.html beside results.json, once per run (rendering takes seconds). A plot that
        cannot be drawn must not cost the run its verdicts, so a failure is a warning; Ctrl-C
        skips it, and the command that renders it later is said."""
        results = self._results_path()
        report = self.settings.results_dir / "report.html"
        later = f"python -m pytest_diego report {results}"
        if self.skip_report:
            self._say(f"pytest-diego: report skipped; render it with: {later}")
            return
        try:
            with self._skippable():
                if self.skip_report:  # a Ctrl-C that landed just before the step became skippable
                    raise KeyboardInterrupt
                if self.interrupted:  # said once Ctrl-C does skip it
                    self._say(f"pytest-diego: writing {report} (Ctrl-C to skip it; later: {later})")
                from pytest_diego.report.html import render_report  # matplotlib loads only here

                path = render_report(results, report)
        except KeyboardInterrupt:
            message = f"pytest-diego: report skipped (Ctrl-C); render it with: {later}"
        except Exception as e:
            message = f"pytest-diego: {report} not written: {type(e).__name__}: {e}"
        else:
            message = f"pytest-diego: results in {results}, report in {path}"
        self._say(message)

    def _say(self, line: str, **markup: bool) -> None:
        """One line on the terminal, on a line of its own, at once (also when output is piped,
        and past pytest's capture while a test runs)."""
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return
        capman = self.config.pluginmanager.get_plugin("capturemanager") if self.capture_aware else None
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            terminal.ensure_newline()
            terminal.write_line(line, **markup)
            terminal.flush()

    def _say_from_handler(self, line: str) -> None:
        """``_say`` from a signal handler, which may have interrupted a write to the same
        terminal: the line is then lost, never the KeyboardInterrupt."""
        with contextlib.suppress(Exception):
            self._say(line)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        result = yield
        # once the run's end is done, the table shows the saved verdicts: nothing summarized twice
        saved = self._saved if self._phase == DONE else None
        write_slo_table(terminalreporter, saved["tests"] if saved is not None else self.tests())
        return result


def _test_entry(record: ScenarioRecord) -> dict[str, Any]:
    judgement = record.judgement
    reports = record.reports
    merged = judgement.merged if judgement is not None and judgement.merged is not None else Measurements()
    return {
        "outcome": _outcome([r for rs in reports.values() for r in rs]),
        "workers": {w: _outcome(rs) for w, rs in sorted(reports.items())},
        "reasons": [_reason(w, r) for w, rs in sorted(reports.items()) for r in rs if r.failed],
        "verdicts": [v.to_dict() for v in judgement.verdicts] if judgement is not None else [],
        **summarize(merged),
        "faults": judgement.faults if judgement is not None else [],
    }


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _outcome(reports: list[pytest.TestReport]) -> str:
    if any(r.failed and r.when in ("call", "???") for r in reports):
        return "failed"
    if any(r.failed for r in reports):
        return "error"
    if any(r.skipped for r in reports):
        return "skipped"
    return "passed" if reports else "unknown"


def _reason(worker: str, report: pytest.TestReport) -> str:
    text = (getattr(report, "longreprtext", "") or str(report.longrepr or report.outcome)).strip()
    return f"[{worker}] {text[-2000:]}"
