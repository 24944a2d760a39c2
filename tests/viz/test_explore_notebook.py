"""The explorer inline in a notebook: a real kernel runs `L.explore()`, nbconvert renders the output as
Jupyter shows it (the iframe from `_repr_html_`), and Chromium steps through it inside that iframe.

Needs nbclient, nbconvert and ipykernel (the test extra) and the browser of test_explore_browser.py.
"""

import os

import pytest

from .test_explore_browser import browser  # noqa: F401  (the module-scoped fixture)

CELLS = [
    "import chainrule as cr",
    "u1 = cr.tensor(3.0, requires_grad=True, name='u1'); u2 = cr.tensor(4.0, requires_grad=True, name='u2')\n"
    "u3 = u1 * u2; u3.name = 'u3'\nu4 = u1 + u2; u4.name = 'u4'\nu5 = 2 * u3 * u4; u5.name = 'u5'\n"
    "L = (u5 - u1 - u2 - u3 - u4) ** 2; L.name = 'L'",
    "L.explore()",
]


def _executed_notebook_html(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nbclient.NotebookClient(
        # Generous limits: the suite starts other kernels (tutorials, docs) on the same two cores.
        nb,
        timeout=300,
        startup_timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = nb.cells[-1].outputs
    assert outputs and "text/html" in outputs[0]["data"], outputs
    assert outputs[0]["data"]["text/html"].startswith("<iframe srcdoc=")
    # The "basic" template is the notebook's cells and outputs without Jupyter's own page scripts,
    # which a browser without network could not load.
    body, _ = nbconvert.HTMLExporter(template_name="basic").from_notebook_node(nb)
    path = tmp_path / "notebook.html"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>")
    return path


def test_explorer_steps_inside_the_notebook_output(tmp_path, browser):  # noqa: F811
    path = _executed_notebook_html(tmp_path)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"file://{os.fspath(path)}")
    frame = page.frame_locator("iframe")
    frame.locator("#end").wait_for(timeout=60_000)
    frame.locator("#end").click()
    assert frame.locator('.node[data-name="u1"] .grad').text_content() == "grad 21016"
    assert frame.locator('.node[data-name="u2"] .grad').text_content() == "grad 17324"
    frame.locator("#prev").click()
    assert "∂L/∂u3 · ∂u3/∂u1 = 3692 · 4 = 14768" in frame.locator("#status").text_content()
    box = page.locator("iframe").bounding_box()
    assert box["width"] > 600 and box["height"] >= 600  # readable at notebook width
    assert errors == []
    page.close()
