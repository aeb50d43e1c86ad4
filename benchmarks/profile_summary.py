"""Summarise a py-spy ``-f raw`` (collapsed stacks) profile: self and inclusive time by function,
and inclusive time by module group.

    .venv/bin/python -m benchmarks.profile_summary PROFILE.txt [--top 20] [--group requests,urllib3]
"""

from __future__ import annotations

import argparse
from collections import Counter


def load(path: str) -> tuple[Counter[str], Counter[str], int]:
    """(self samples, inclusive samples, total samples) by frame, process/thread frames dropped."""
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            if not n.isdigit():
                continue
            count = int(n)
            frames = [x for x in stack.split(";") if not x.startswith(("process ", "thread "))]
            if not frames:
                continue
            total += count
            self_c[frames[-1]] += count
            for frame in set(frames):
                incl[frame] += count
    return self_c, incl, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--group", default="requests/,urllib3/,http/client.py,socket.py,pytest_diego/measure,"
                        "pytest_diego/workload,pytest_diego/bbs,google/protobuf,uuid.py")
    args = parser.parse_args()
    self_c, incl, total = load(args.profile)
    print(f"samples: {total}")
    print("self time, top functions:")
    for frame, n in self_c.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {frame}")
    print("inclusive time, top functions:")
    for frame, n in incl.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {frame}")
    print("inclusive time by group (a sample counts once per group):")
    with open(args.profile) as f:
        lines = [ln.rstrip().rpartition(" ") for ln in f]
    for group in args.group.split(","):
        hit = sum(int(n) for stack, _, n in lines if n.isdigit() and group in stack)
        print(f"  {100 * hit / max(total, 1):5.1f}%  {group}")


if __name__ == "__main__":
    main()
