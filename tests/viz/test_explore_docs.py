"""docs/explore.md runs as written, shows chainrule's real output, and its notebook holds the same code."""

import json
import math
import pathlib
import re

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def _blocks():
    return re.findall(r"```python\n(.*?)```", (DOCS / "explore.md").read_text(encoding="utf-8"), re.DOTALL)


def test_tutorial_runs_and_shows_real_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = {}
    for block in _blocks():
        exec(compile(block, "docs/explore.md", "exec"), ns)  # noqa: S102 - the page's own code, as test_readme
    assert (tmp_path / "u1-u5.html").exists() and (tmp_path / "mlp.html").exists()
    assert abs(ns["dz_dt"] - (4 * math.sin(2.0) + 4 * math.cos(2.0))) < 1e-9  # 2t sin t + t² cos t
    text = (DOCS / "explore.md").read_text(encoding="utf-8")
    shown = re.search(r"\n((?:    .*\n|\n)+)so `y = 11.652`", text).group(1)
    assert "\n".join(line[4:] for line in shown.strip("\n").splitlines()) == str(ns["table"])
    assert [round(g, 3) for g in ns["table"].grads] == [5.5, 1.716]


def test_notebook_holds_the_pages_code():
    nb = json.loads((DOCS / "explore.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    displays = {"page", "table", "cr.viz.explore(loss, model=model)"}
    assert [c for c in code if c not in displays] == [b.strip("\n") for b in _blocks()]
    assert all(c["outputs"] == [] for c in nb["cells"] if c["cell_type"] == "code")
