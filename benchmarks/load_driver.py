"""Load-driver throughput (pytest-diego's own speed): pytest-diego's harness beside Locust and plain loops.

    .venv/bin/python -m benchmarks.load_driver [--rounds 5] [--duration 4] [--users 4]
        [--baseline-pythonpath DIR] [--only tls]

Each round runs every driver once, in a rotated order, each in its own process for
``--duration`` seconds with ``--users`` concurrent users, against the same endpoints started once:

- a trivial HTTP endpoint (``benchmarks.trivial_server``): harness (``ClosedModel`` +
  ``BBSClient.ping`` + ``RequestRecorder``), ``BBSClient`` alone, a ``requests`` loop, an
  ``http.client`` loop, Locust ``HttpUser`` and ``FastHttpUser`` (headless subprocesses; counts
  from their stats CSV);
- the embedded BBS (``python -m pytest_diego.cluster.bbs``, no auctioneer): harness Ping and
  DesireTask, Locust FastHttpUser Ping;
- the embedded BBS over mutual TLS (``--tls-ca/--tls-cert/--tls-key``, certificates from
  ``pytest_diego.tlsutil``, client certificates required, as a real BBS): harness Ping and
  DesireTask, and FastHttpUser Ping presenting the same client certificate;
- two harness processes at once on the trivial endpoint (scaling from 1 to 2 processes);
- with ``--baseline-pythonpath DIR`` (a checkout of an earlier commit), the harness importing
  that tree instead, on the three endpoints: before and after in the same rounds.

``--only tls`` runs the mutual-TLS jobs alone (shorter rounds when only that path changed).

The per-core figure is operations per CPU-second of the driver process (its own CPU time over
the measured window), which the other workloads of a shared machine disturb far less than wall
rates. Reports median and spread over rounds and ratios within each round. Writes
``results/load_driver.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks._common import loadavg, summary, tree_env, write_result

MODULE = "benchmarks.load_driver"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
LOCUST = str(Path(PY).with_name("locust"))


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM ``proc`` (by its pid), SIGKILL it if it is still there 10 s later, and reap it."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def process(argv: list[str], ready: str, cwd: Path = ROOT) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``argv``, wait for a stdout line containing ``ready``; terminate it (by pid) on exit."""
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if ready not in line:
            raise RuntimeError(f"{argv[:4]} did not start: {line!r}")
        yield proc, line
    finally:
        stop(proc)


@contextmanager
def trivial_server() -> Iterator[str]:
    """The trivial endpoint's URL while it runs."""
    with process([PY, "-m", "benchmarks.trivial_server"], '"port"') as (_, line):
        yield f"http://127.0.0.1:{json.loads(line)['port']}"


@contextmanager
def embedded_bbs(tls: dict[str, str] | None = None) -> Iterator[str]:
    """An embedded BBS (no auctioneer) in a temporary state dir; its URL while it runs. With
    ``tls`` (``mutual_tls_files``) it serves HTTPS and requires client certificates."""
    with tempfile.TemporaryDirectory(prefix="pytest-diego-bench-bbs-") as state_dir:
        argv = [PY, "-m", "pytest_diego.cluster.bbs", "--state-dir", state_dir]
        if tls:
            argv += ["--tls-ca", tls["ca_file"], "--tls-cert", tls["server_cert_file"],
                     "--tls-key", tls["server_key_file"]]
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run_file = Path(state_dir) / "run" / "bbs.json"
            deadline = time.monotonic() + 30
            while not run_file.exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the embedded BBS did not start")
                time.sleep(0.1)
            yield json.loads(run_file.read_text())["url"]
        finally:
            stop(proc)


@contextmanager
def mutual_tls_files() -> Iterator[dict[str, str]]:
    """A CA, the BBS's server certificate (127.0.0.1) and a client certificate, in a temp dir."""
    from pytest_diego.tlsutil import generate_ca, issue_cert

    with tempfile.TemporaryDirectory(prefix="pytest-diego-bench-tls-") as tmp:
        ca = generate_ca(tmp, "bbs-ca")
        server = issue_cert(ca, tmp, "bbs", ip_sans=("127.0.0.1",))
        client = issue_cert(ca, tmp, "client", client=True)
        yield {"ca_file": str(ca.cert_file), "cert_file": str(client.cert_file),
               "key_file": str(client.key_file), "server_cert_file": str(server.cert_file),
               "server_key_file": str(server.key_file)}


def client_tls_args(tls: dict[str, str] | None) -> list[str]:
    """``benchmarks.drive``'s options for the client's mutual-TLS files."""
    if not tls:
        return []
    return ["--ca-file", tls["ca_file"], "--cert-file", tls["cert_file"], "--key-file", tls["key_file"]]


def drive(kind: str, url: str, args: argparse.Namespace, op: str = "ping", copies: int = 1,
          pythonpath: str | None = None, tls: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``copies`` driver processes at once; their summed ops and CPU, and the longest wall.

    With ``pythonpath`` the drivers import ``pytest_diego`` (and the driver script) from that tree."""
    argv = [PY, "-m", "benchmarks.drive", kind, url, "--op", op, "--duration", str(args.duration),
            "--users", str(args.users), *client_tls_args(tls)]
    env = tree_env(pythonpath)
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(copies)]
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=args.duration + 120)
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return {"ops": sum(o["ops"] for o in outs), "cpu_s": sum(o["cpu_s"] for o in outs),
            "wall_s": max(o["wall_s"] for o in outs), "failed": sum(o.get("failed", 0) for o in outs)}


def locust(user: str, url: str, args: argparse.Namespace,
           tls: dict[str, str] | None = None) -> dict[str, Any]:
    """A headless Locust run; requests from its stats CSV, CPU from the locustfile's hooks."""
    with tempfile.TemporaryDirectory(prefix="pytest-diego-bench-locust-") as tmp:
        cpu_file = Path(tmp) / "cpu.json"
        env = {**os.environ, "BENCH_USER": user, "BENCH_CPU_FILE": str(cpu_file)}
        if tls:
            env.update(BENCH_CA_FILE=tls["ca_file"], BENCH_CERT_FILE=tls["cert_file"],
                       BENCH_KEY_FILE=tls["key_file"])
        subprocess.run([LOCUST, "-f", str(HERE / "locust_ping.py"), "--headless", "-u", str(args.users),
                        "-r", str(args.users), "-t", f"{args.duration:g}s", "-H", url, "--csv",
                        str(Path(tmp) / "run"), "--only-summary", "--loglevel", "WARNING"],
                       cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=args.duration + 120, check=False)
        with open(Path(tmp) / "run_stats.csv") as f:
            row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
        marks = json.loads(cpu_file.read_text())
    rate = float(row["Requests/s"])
    failures = int(row["Failure Count"])
    # the CSV's count may lag the end of the run; its Requests/s is count over the counted window
    return {"ops": rate * marks["wall_s"], "cpu_s": marks["cpu_s"], "wall_s": marks["wall_s"],
            "failed": failures, "csv_count": int(row["Request Count"])}


def per_cpu(r: dict[str, Any]) -> float:
    """Operations per CPU-second of the driver."""
    return r["ops"] / r["cpu_s"] if r["cpu_s"] > 0 else float("nan")


def per_wall(r: dict[str, Any]) -> float:
    """Operations per wall-clock second."""
    return r["ops"] / r["wall_s"] if r["wall_s"] > 0 else float("nan")


def one_round(i: int, trivial: str, bbs: str, tls_bbs: str, tls: dict[str, str],
              args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every driver once, the order rotated by ``i``."""
    base = args.baseline_pythonpath
    tls_jobs: list[tuple[str, Any]] = [
        ("tls/harness-ping", lambda: drive("harness", tls_bbs, args, tls=tls)),
        ("tls/harness-desire", lambda: drive("harness", tls_bbs, args, op="desire", tls=tls)),
        ("tls/locust-fast-ping", lambda: locust("fast", tls_bbs, args, tls=tls)),
    ]
    if base:
        tls_jobs += [("tls/harness-baseline-ping", lambda: drive("harness", tls_bbs, args, pythonpath=base,
                                                                 tls=tls))]
    jobs: list[tuple[str, Any]] = list(tls_jobs)
    if args.only != "tls":
        jobs += [
            ("trivial/harness", lambda: drive("harness", trivial, args)),
            ("trivial/client", lambda: drive("client", trivial, args)),
            ("trivial/requests", lambda: drive("requests", trivial, args)),
            ("trivial/httpclient", lambda: drive("httpclient", trivial, args)),
            ("trivial/locust-http", lambda: locust("http", trivial, args)),
            ("trivial/locust-fast", lambda: locust("fast", trivial, args)),
            ("trivial/harness-x2", lambda: drive("harness", trivial, args, copies=2)),
            ("bbs/harness-ping", lambda: drive("harness", bbs, args)),
            ("bbs/harness-desire", lambda: drive("harness", bbs, args, op="desire")),
            ("bbs/locust-fast-ping", lambda: locust("fast", bbs, args)),
        ]
        if base:
            jobs += [("trivial/harness-baseline", lambda: drive("harness", trivial, args, pythonpath=base)),
                     ("bbs/harness-baseline-desire", lambda: drive("harness", bbs, args, op="desire",
                                                                  pythonpath=base))]
    shift = i % len(jobs)
    out: dict[str, dict[str, Any]] = {}
    for name, job in jobs[shift:] + jobs[:shift]:
        r = job()
        r["per_cpu_s"], r["per_wall_s"], r["loadavg"] = per_cpu(r), per_wall(r), loadavg()
        out[name] = r
        print(f"round {i + 1} {name}: {r['per_cpu_s']:.0f} ops/CPU-s, {r['per_wall_s']:.0f} ops/s",
              flush=True)
    return out


TLS_RATIOS = {
    "tls_harness_vs_locust_fast_per_cpu": ("tls/harness-ping", "tls/locust-fast-ping", per_cpu),
}
RATIOS = {
    **TLS_RATIOS,
    "harness_vs_locust_fast_per_cpu": ("trivial/harness", "trivial/locust-fast", per_cpu),
    "harness_vs_locust_http_per_cpu": ("trivial/harness", "trivial/locust-http", per_cpu),
    "harness_vs_requests_loop_per_cpu": ("trivial/harness", "trivial/requests", per_cpu),
    "harness_vs_client_alone_per_cpu": ("trivial/harness", "trivial/client", per_cpu),
    "two_processes_vs_one_wall": ("trivial/harness-x2", "trivial/harness", per_wall),
    "bbs_harness_vs_locust_fast_per_cpu": ("bbs/harness-ping", "bbs/locust-fast-ping", per_cpu),
}
TLS_BASELINE_RATIOS = {
    "tls_harness_vs_baseline_per_cpu": ("tls/harness-ping", "tls/harness-baseline-ping", per_cpu),
    "tls_baseline_vs_locust_fast_per_cpu": ("tls/harness-baseline-ping", "tls/locust-fast-ping", per_cpu),
}
BASELINE_RATIOS = {
    **TLS_BASELINE_RATIOS,
    "harness_vs_baseline_per_cpu": ("trivial/harness", "trivial/harness-baseline", per_cpu),
    "baseline_vs_locust_fast_per_cpu": ("trivial/harness-baseline", "trivial/locust-fast", per_cpu),
    "bbs_desire_vs_baseline_per_cpu": ("bbs/harness-desire", "bbs/harness-baseline-desire", per_cpu),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--baseline-pythonpath", metavar="DIR",
                        help="a checkout of an earlier commit, measured beside the working tree")
    parser.add_argument("--only", choices=("tls",), help="run the mutual-TLS jobs only")
    args = parser.parse_args()
    rounds = []
    with trivial_server() as trivial, embedded_bbs() as bbs, mutual_tls_files() as tls, \
            embedded_bbs(tls) as tls_bbs:
        for i in range(args.rounds):
            rounds.append(one_round(i, trivial, bbs, tls_bbs, tls, args))
    names = list(rounds[0])
    figures = {n: {"ops_per_cpu_s": summary([r[n]["per_cpu_s"] for r in rounds]),
                   "ops_per_wall_s": summary([r[n]["per_wall_s"] for r in rounds]),
                   "cpu_us_per_op": summary([1e6 * r[n]["cpu_s"] / max(r[n]["ops"], 1) for r in rounds]),
                   "failed": sum(r[n]["failed"] for r in rounds)} for n in names}
    tls_only = args.only == "tls"
    pairs = dict(TLS_RATIOS if tls_only else RATIOS)
    if args.baseline_pythonpath:
        pairs.update(TLS_BASELINE_RATIOS if tls_only else BASELINE_RATIOS)
    ratios = {k: summary([f(r[a]) / f(r[b]) for r in rounds]) for k, (a, b, f) in pairs.items()}
    def cpu_us(r: dict[str, Any]) -> float:
        return 1e6 * r["cpu_s"] / max(r["ops"], 1)

    overhead = {} if tls_only else {
        "harness_minus_client_cpu_us": summary([cpu_us(r["trivial/harness"]) - cpu_us(r["trivial/client"])
                                                for r in rounds]),
        "client_minus_httpclient_cpu_us": summary([cpu_us(r["trivial/client"])
                                                   - cpu_us(r["trivial/httpclient"]) for r in rounds]),
        "harness_minus_locust_fast_cpu_us": summary([cpu_us(r["trivial/harness"])
                                                     - cpu_us(r["trivial/locust-fast"]) for r in rounds]),
    }
    goal = all(ratios[k]["median"] >= 1.0 for k in ("harness_vs_locust_fast_per_cpu",
                                                     "tls_harness_vs_locust_fast_per_cpu") if k in ratios)
    path = write_result("load_driver_tls" if tls_only else "load_driver", MODULE, {
        "config": vars(args), "figures": figures, "ratios": ratios, "overhead": overhead,
        "goal_no_slower_than_fasthttpuser": goal, "rounds": rounds})
    print(json.dumps({"ratios": {k: round(v["median"], 3) for k, v in ratios.items()}, "overhead": overhead,
                      "goal_met": goal}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
