"""The repository cites only itself: no file names a document that is not in it.

Code, tests and docs say where a figure or a rule comes from ("CONTRIBUTING.md, "Numerics""). A
citation of a planning document kept outside the repository, or a relative link that climbs out of
it, leaves a reader with nothing to open.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".rst", ".ipynb"}
SKIPPED_DIRS = {"build", "dist", "runs", "node_modules", "__pycache__"}

# Documents the project was planned from, kept outside the repository. Spelled in pieces so that
# this file does not cite them itself.
OUTSIDE_DOCS = ["TESTING", "DESIGN", "STYLE", "MISSION"]
OUTSIDE = re.compile(r"\b(?:" + "|".join(OUTSIDE_DOCS) + r")\.md\b|\.\./shared\b|/work/" + "shared\\b")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)")


def _repository_files():
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if any(p.startswith(".") or p in SKIPPED_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        if path.is_file() and (path.suffix in SCANNED_SUFFIXES or path.name == "Makefile"):
            yield path


FILES = sorted(_repository_files())


def test_the_scan_sees_the_repository():
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"README.md", "CONTRIBUTING.md", "ARCHITECTURE.md", "src/chainrule/tensor.py", "Makefile"} <= names


def test_no_file_cites_a_document_outside_the_repository():
    found = []
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in OUTSIDE.finditer(text):
            found.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}")
    assert not found, (
        "files cite documents outside the repository; cite the section of CONTRIBUTING.md (tests, tolerances, "
        "figures) or ARCHITECTURE.md (layers, design) that holds the point instead:\n" + "\n".join(found)
    )


def test_markdown_links_stay_inside_the_repository():
    outside = []
    for path in (p for p in FILES if p.suffix == ".md"):
        for target in MARKDOWN_LINK.findall(path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            resolved = (ROOT / target.lstrip("/")) if target.startswith("/") else (path.parent / target)
            if not resolved.resolve().is_relative_to(ROOT):
                outside.append(f"{path.relative_to(ROOT)}: {target}")
    assert not outside, "links that leave the repository:\n" + "\n".join(outside)


def test_the_check_catches_a_citation():
    assert OUTSIDE.search("as " + OUTSIDE_DOCS[0] + ".md section 5.2 says")
    assert OUTSIDE.search("see ../" + "shared/notes")
    assert not OUTSIDE.search("see CONTRIBUTING.md and ARCHITECTURE.md")
