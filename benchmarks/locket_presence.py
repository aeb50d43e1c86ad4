"""What a cell's presence costs in the embedded Locket, plain and with mutual TLS, and what the
BBS's Cells route costs on top of Locket.

    .venv/bin/python -m benchmarks.locket_presence [--presences 1000] [--calls 2000] [--rounds 3]
        [--threads 8] [--burst 6000]

Starts a Locket process (plain gRPC), a Locket process with mutual TLS and a BBS process reading
its cells from the plain one, each the way the embedded cluster runs them, and measures side by
side in one run:

- **memory**: USS/RSS of each Locket empty and with ``--presences`` presences, each holding a
  rep's CellPresence JSON;
- **refresh round trip**: ``--calls`` sequential refreshes of those presences from one client
  (what one rep does every 5 s), per call p50/p99, and the server's CPU-seconds per call;
  alternating Locket / Locket+mTLS for ``--rounds`` rounds;
- **listing**: what the BBS pays to list the cells: Locket FetchAll(PRESENCE) of all presences
  plus decoding every JSON value (``cells_from_resources``), beside the BBS's Cells route (a
  FetchAll, the values decoded once and then found by value);
- **capacity**: ``--burst`` refreshes from ``--threads`` clients at once (each its own
  connection, like reps), refreshes per second and per server CPU-second: how many cells one
  embedded Locket keeps at Diego's 5 s refresh and at time-scale 0.1.

Writes ``results/locket_presence.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from benchmarks._common import ROOT, loadavg, memory_of, percentile, summary, tree_env, write_result
from pytest_diego import tlsutil
from pytest_diego.bbs import BBSClient
from pytest_diego.locket import (
    LocketClient,
    cells_from_resources,
    marshal_cell_presence,
    models,
    new_cell_presence,
)

MODULE = "benchmarks.locket_presence"
REFRESH = 5.0  # Diego's presence retry interval


def start(module: str, state_dir: Path, name: str,
          *args: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """``python -m <module>`` waited for through its run file."""
    run_file = state_dir / "run" / f"{name}.json"
    proc = subprocess.Popen([sys.executable, "-m", module, "--state-dir", str(state_dir), *args], cwd=ROOT,
                            env=tree_env(None), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if run_file.exists():
            return proc, json.loads(run_file.read_text())
        if proc.poll() is not None:
            raise SystemExit(f"{module} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{module} wrote no run file within 60 s")


def presence(i: int) -> Any:
    """A rep's presence as a 2026 rep builds it: Diego's rootfses, docker, a zone, capacity."""
    return new_cell_presence(f"cell-{i}", f"http://127.1.{i // 250}.{i % 250 + 1}:1800",
                             f"https://cell-{i}.cell.service.cf.internal:1801", f"z{i % 3 + 1}",
                             memory_mb=32768, disk_mb=131072, containers=250, rootfs_providers=["docker"],
                             preloaded_rootfses=["cflinuxfs4:/var/vcap/packages/cflinuxfs4/rootfs.tar"])


def timed_calls(call: Callable[[int], None], count: int, presences: int, pid: int) -> dict[str, Any]:
    """``count`` sequential calls over the presences; latency percentiles and server CPU per call."""
    server = psutil.Process(pid)
    cpu0 = sum(server.cpu_times()[:2])
    latencies = []
    began = time.perf_counter()
    for n in range(count):
        t0 = time.perf_counter()
        call(n % presences)
        latencies.append(time.perf_counter() - t0)
    wall = time.perf_counter() - began
    cpu = sum(server.cpu_times()[:2]) - cpu0
    latencies.sort()
    return {"calls": count, "p50_ms": percentile(latencies, 50) * 1e3,
            "p99_ms": percentile(latencies, 99) * 1e3, "mean_ms": wall / count * 1e3,
            "server_cpu_ms_per_call": cpu / count * 1e3}


def listing(locket: LocketClient, bbs: BBSClient, rounds: int) -> dict[str, Any]:
    """Milliseconds to list every cell: Locket FetchAll, decoding the values, the BBS's Cells route."""
    fetch, decode, cells = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        resources = locket.fetch_all(models.PRESENCE)
        t1 = time.perf_counter()
        decoded, unreadable = cells_from_resources(resources)
        t2 = time.perf_counter()
        listed = bbs.cells()
        t3 = time.perf_counter()
        assert len(decoded) == len(listed) and not unreadable
        fetch.append((t1 - t0) * 1e3)
        decode.append((t2 - t1) * 1e3)
        cells.append((t3 - t2) * 1e3)
    return {"cells": len(listed), "locket_fetch_all_ms": summary(fetch), "decode_json_ms": summary(decode),
            "bbs_cells_route_ms": summary(cells)}


def burst(make_client: Callable[[], Any], refresh: Callable[[Any, int], None], total: int, threads: int,
          presences: int, pid: int) -> dict[str, Any]:
    """``total`` refreshes from ``threads`` clients at once: rate per wall and per server CPU second."""
    clients = [make_client() for _ in range(threads)]
    server = psutil.Process(pid)
    per = total // threads
    errors: list[str] = []

    def work(k: int) -> None:
        try:
            for n in range(per):
                refresh(clients[k], (k * per + n) % presences)
        except Exception as e:  # reported, not fatal to the other threads
            errors.append(repr(e))

    cpu0 = sum(server.cpu_times()[:2])
    began = time.perf_counter()
    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(600)
    wall = time.perf_counter() - began
    cpu = sum(server.cpu_times()[:2]) - cpu0
    for c in clients:
        c.close()
    done = per * threads
    return {"refreshes": done, "threads": threads, "errors": errors[:3], "per_s": done / wall,
            "per_server_cpu_s": done / cpu if cpu else float("inf"),
            "cells_at_diego_refresh": done / cpu * REFRESH if cpu else float("inf"),
            "cells_at_time_scale_0_1": done / cpu * REFRESH * 0.1 if cpu else float("inf")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presences", type=int, default=1000)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--burst", type=int, default=6000)
    args = p.parse_args()
    load_before = loadavg()
    values = [marshal_cell_presence(presence(i)) for i in range(args.presences)]
    owners = [f"rep-guid-{i}" for i in range(args.presences)]
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="pytest-diego-locket-bench-") as tmp:
        base = Path(tmp)
        ca = tlsutil.generate_ca(base / "pki")
        server_cert = tlsutil.issue_cert(ca, base / "pki", "locket.service.cf.internal")
        client_cert = tlsutil.issue_cert(ca, base / "pki", "rep", client=True)
        tls_files = {"ca_file": ca.cert_file, "cert_file": client_cert.cert_file,
                     "key_file": client_cert.key_file}
        try:
            servers: dict[str, dict[str, Any]] = {}
            for name, extra in (
                ("locket", ()),
                ("locket_mtls", ("--tls-ca", str(ca.cert_file), "--tls-cert", str(server_cert.cert_file),
                                 "--tls-key", str(server_cert.key_file))),
            ):
                proc, info = start("pytest_diego.cluster.locket", base / name, "locket", *extra)
                procs.append(proc)
                servers[name] = {"pid": proc.pid, "info": info}
            proc, bbs_info = start("pytest_diego.cluster.bbs", base / "bbs", "bbs", "--locket-address",
                                   servers["locket"]["info"]["address"])
            procs.append(proc)
            time.sleep(1.0)
            clients: dict[str, Any] = {
                "locket": LocketClient(servers["locket"]["info"]["address"]),
                "locket_mtls": LocketClient(servers["locket_mtls"]["info"]["address"], **tls_files),
            }

            def locket_refresh(client: Any, i: int) -> None:
                client.lock(f"cell-{i}", owners[i], value=values[i], type_code=models.PRESENCE)

            refresh = {"locket": locket_refresh, "locket_mtls": locket_refresh}
            memory: dict[str, Any] = {}
            for name, server in servers.items():
                empty = memory_of([server["pid"]])
                for i in range(args.presences):
                    refresh[name](clients[name], i)
                full = memory_of([server["pid"]])
                memory[name] = {"empty_uss_mib": empty["uss"] / 2**20, "full_uss_mib": full["uss"] / 2**20,
                                "full_rss_mib": full["rss"] / 2**20,
                                "kib_per_presence": (full["uss"] - empty["uss"]) / args.presences / 1024}
            value_bytes = sum(len(v.encode()) for v in values) / len(values)
            rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
            for _ in range(args.rounds):
                for name in servers:
                    rounds[name].append(timed_calls(lambda i, n=name: refresh[n](clients[n], i), args.calls,
                                                    args.presences, servers[name]["pid"]))
            with BBSClient(bbs_info["url"]) as bbs:
                listed = listing(clients["locket"], bbs, 10)
            for client in clients.values():
                client.close()
            capacity = {}
            for name, make in (("locket", lambda: LocketClient(servers["locket"]["info"]["address"])),
                               ("locket_mtls", lambda: LocketClient(servers["locket_mtls"]["info"]["address"],
                                                                    **tls_files))):
                capacity[name] = burst(make, refresh[name], args.burst, args.threads, args.presences,
                                       servers[name]["pid"])
            with LocketClient(servers["locket"]["info"]["address"]) as check:
                held = len(check.fetch_all(models.PRESENCE))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    latency = {name: {key: summary([r[key] for r in rs])
                      for key in ("p50_ms", "p99_ms", "mean_ms", "server_cpu_ms_per_call")}
               for name, rs in rounds.items()}
    ratios = {f"locket_mtls_vs_locket_{key}":
              latency["locket_mtls"][key]["median"] / latency["locket"][key]["median"]
              for key in ("p50_ms", "server_cpu_ms_per_call")}
    payload = {"loadavg_before": load_before, "loadavg_after": loadavg(), "presences": args.presences,
               "presence_value_bytes": value_bytes, "presences_held_at_end": held, "memory": memory,
               "latency": latency, "ratios": ratios, "rounds": rounds, "listing": listed,
               "capacity": capacity}
    path = write_result("locket_presence", MODULE, payload)
    print(json.dumps({"memory": memory, "latency": latency, "ratios": ratios, "listing": listed,
                      "capacity": capacity,
                      "loadavg": [load_before, loadavg()]}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
