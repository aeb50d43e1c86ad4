"""The README stays a five-minute read, and nothing moved out of it is lost: every page in docs/
is reachable from it, and every relative link in the README and docs/ leads to a file."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def relative_links(page: Path) -> list[Path]:
    """Files the page links to (web addresses left out)."""
    return [(page.parent / target).resolve() for target in LINK.findall(page.read_text())
            if not re.match(r"[a-z]+:", target)]


def test_the_readme_is_under_10_kb() -> None:
    assert len(README.read_bytes()) < 10_000


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    seen: set[Path] = set()
    todo = [README.resolve()]
    while todo:
        page = todo.pop()
        if page in seen or page.suffix != ".md":
            continue
        seen.add(page)
        todo += [target for target in relative_links(page) if target.exists()]
    pages = {page.resolve() for page in (ROOT / "docs").glob("*.md")}
    assert sorted(str(p.relative_to(ROOT)) for p in pages - seen) == []


def test_every_relative_link_leads_to_a_file() -> None:
    broken = [f"{page.relative_to(ROOT)} -> {target}"
              for page in [README, *sorted((ROOT / "docs").glob("*.md"))]
              for target in relative_links(page) if not target.exists()]
    assert broken == []


def test_the_two_commands_exist() -> None:
    text = README.read_text()
    for command in (".ci/main-job", ".ci/tests"):
        assert command in text
        assert (ROOT / command).stat().st_mode & 0o111, f"{command} is not executable"


def test_the_ready_app_in_the_readme_is_the_default_lrp_command() -> None:
    """Operators copy the one-liner from the README; it must be the command the suites run."""
    from pytest_diego.workload.commands import READY_APP_COMMAND

    assert f"\n{READY_APP_COMMAND}\n" in README.read_text()
