"""Citations of Diego's facts point inside the repository, at sections that exist.

Code and docs cite ``docs/diego-facts.md §N.M`` for the Diego defaults, formats and results they
rely on. A citation of a file the repository does not have (the notes the project was started
from), or of a section the facts file does not have (on a line that names the facts file, or in
the facts file's own cross-references), fails here (see the planted-fault test).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FACTS = ROOT / "docs" / "diego-facts.md"
OUTSIDE = re.compile(r"\b(?:perf-history|diego-behaviour|bbs-protocol|peer-tools|real-diego-metrics)\.md\b"
                     r"|\breference/[\w-]+\.md\b")
SECTION = re.compile(r"§(\d+(?:\.\d+)?)")
SUFFIXES = {".py", ".md", ".ini", ".toml", ".cfg", ".sh", ".txt"}


def sections(text: str) -> set[str]:
    """The numbers of the facts file's headings: ``## 4. ...`` and ``### 11.3 ...``."""
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, flags=re.MULTILINE))


def repository_files() -> list[Path]:
    """The repository's source and text files (virtualenvs, caches and build output left out)."""
    skip = {".git", ".venv", "node_modules", "__pycache__", ".hypothesis", ".ruff_cache"}
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [d for d in subdirectories if d not in skip and not d.endswith(".egg-info")]
        found += [Path(directory) / f for f in files if Path(f).suffix in SUFFIXES]
    return sorted(found)


def problems(files: list[Path], known: set[str]) -> list[str]:
    found = []
    for path in files:
        if path == Path(__file__).resolve():
            continue  # this file names the outside files on purpose
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            for match in OUTSIDE.finditer(line):
                found.append(f"{where} cites {match.group(0)}, a file outside the repository: "
                             "cite docs/diego-facts.md and its section instead")
            if "diego-facts" in line or path == FACTS:  # a line that cites it, or its own cross-references
                for section in SECTION.findall(line):
                    if section not in known:
                        found.append(f"{where} cites docs/diego-facts.md §{section}, which it does not have")
    return found


def test_every_citation_is_inside_the_repository_and_names_a_section_that_exists():
    known = sections(FACTS.read_text())
    assert {"1", "4", "11.3", "13.2", "14.4", "15.2"} <= known  # the reader of headings works
    assert problems(repository_files(), known) == []


def test_planted_bad_citations_are_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    planted = tmp_path / "planted.py"
    planted.write_text('"""From reference/diego-behaviour.md §1 and docs/diego-facts.md §4, §99.1."""\n')
    found = problems([planted], sections(FACTS.read_text()))
    assert found == [
        "planted.py:1 cites reference/diego-behaviour.md, a file outside the repository: cite "
        "docs/diego-facts.md and its section instead",
        "planted.py:1 cites docs/diego-facts.md §99.1, which it does not have",
    ]
