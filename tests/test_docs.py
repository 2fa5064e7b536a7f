"""The documentation's links (issue 24): every relative markdown link in README.md, docs/*.md and bench/README.md
resolves to a file or folder of the repository, none points outside it, the run records a page names in code spans
(`bench/results/...`, `docs/...`) exist, and README.md stays a front page (under 10 KB)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LIMIT = 10_000   # bytes
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN_PATH = re.compile(r"`((?:bench/results|docs)/[A-Za-z0-9_.\-/]+\.(?:md|jsonl|log))`")
FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.DOTALL | re.MULTILINE)


def links(text: str) -> list[str]:
    """The targets of the inline links and images of a markdown text, outside fenced code blocks."""
    return LINK.findall(FENCE.sub("", text))


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", target) and not target.startswith(("#", "//"))


def test_the_link_parser():
    text = ("see [a](docs/a.md), [b](../b.md#part \"title\"), ![img](x.png), [web](https://x.org/y.md), "
            "[anchor](#top), [mail](mailto:a@b.c)\n```\n[not](in/code.md)\n```\n")
    assert links(text) == ["docs/a.md", "../b.md#part", "x.png", "https://x.org/y.md", "#top", "mailto:a@b.c"]
    assert [t for t in links(text) if is_relative(t)] == ["docs/a.md", "../b.md#part", "x.png"]


def test_the_pages_exist():
    for page in PAGES:
        assert page.is_file(), page
    assert (ROOT / "docs" / "trust.md") in PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page):
    broken, outside = [], []
    for target in links(page.read_text(encoding="utf-8")):
        if not is_relative(target):
            continue
        path = target.split("#", 1)[0]
        if not path:
            continue
        resolved = (page.parent / path).resolve()
        if not resolved.is_relative_to(ROOT):
            outside.append(target)
        elif not resolved.exists():
            broken.append(target)
    assert not outside, f"{page.relative_to(ROOT)} links outside the repository: {outside}"
    assert not broken, f"{page.relative_to(ROOT)} has links to files that do not exist: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_run_record_exists(page):
    named = CODE_SPAN_PATH.findall(page.read_text(encoding="utf-8"))
    missing = [p for p in named if "*" not in p and not (ROOT / p).exists()]
    assert not missing, f"{page.relative_to(ROOT)} names files that are not in the repository: {missing}"


def test_the_readme_is_a_front_page():
    size = (ROOT / "README.md").stat().st_size
    assert size < README_LIMIT, f"README.md is {size} bytes; move details to docs/ (limit {README_LIMIT})"
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("make demo", "make test"):
        assert command in text
    for task in ("captioning", "vqa", "tqa", "rec"):
        assert f"pipeline/tasks/{task}/" in text or f"docs/{task}.md" in text or f"docs/{task}" in text
