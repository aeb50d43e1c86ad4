"""``python -m pytest_diego report RESULTS.json [OTHER.json] [-o OUT.html]``: render report.html.

One file renders that run again from its saved results (default: ``report.html`` beside it);
two render them side by side, the first as "before" and the second as "after" (default:
``comparison.html`` beside the second).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_diego.report.load import ResultsError

EXIT_BAD_RESULTS = 1


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = subparsers.add_parser("report", help="render report.html from results.json (two: side by side)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json",
                        help="a results.json written by pytest-diego; give two to compare them")
    report.add_argument("-o", "--output", type=Path, metavar="OUT.html",
                        help="where to write (default: report.html beside the results, or "
                             "comparison.html beside the second when comparing)")
    report.add_argument("--label", action="append", metavar="TEXT",
                        help="a name for each results file, in order (default: the file paths)")
    report.set_defaults(run=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    files: list[Path] = args.results
    if len(files) > 2:
        print(f"report: error: give one results.json, or two to compare; got {len(files)}", file=sys.stderr)
        return 2
    if args.label is not None and len(args.label) != len(files):
        print(f"report: error: {len(args.label)} --label for {len(files)} results files", file=sys.stderr)
        return 2
    out = args.output or files[-1].parent / ("report.html" if len(files) == 1 else "comparison.html")
    from pytest_diego.report.html import render_report  # matplotlib loads only when rendering

    try:
        written = render_report(files, out, labels=args.label)
    except ResultsError as e:
        print(f"report: error: {e}", file=sys.stderr)
        return EXIT_BAD_RESULTS
    except OSError as e:
        print(f"report: error: cannot write {out}: {e}", file=sys.stderr)
        return EXIT_BAD_RESULTS
    print(f"report: wrote {written}")
    return 0
