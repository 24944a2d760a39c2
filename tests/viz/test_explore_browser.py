"""The explorer and the trace tables in a real browser: Debian's chromium driven by Playwright (no browser download).

`make test` installs chromium when it runs as root (like graphviz); under CI a missing browser is a
failure, locally a skip. Every page is opened from a saved file and must log no console error and make
no request other than for the file itself.
"""

import io
import os
import shutil

import numpy as np
import pytest

import chainrule as cr
from _coursework import u_problem
from chainrule import nn, viz

CHROMIUM = os.environ.get("CHAINRULE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _need_browser():
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "playwright is not installed (pip install playwright; no browser download is needed)"
    if missing is None and not os.path.exists(CHROMIUM):
        missing = "chromium is not installed (apt-get install chromium)"
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"under CI the browser tests must run: {missing}; `make test` installs both")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture
def open_page(browser):
    """open_page(path) -> page; after the test, no console error and no request but the file itself."""
    pages = []

    def open_(path, width=1200, height=800):
        page = browser.new_page(viewport={"width": width, "height": height})
        page.errors, page.requests = [], []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("request", lambda r: page.requests.append(r.url))
        page.goto(f"file://{path}")
        pages.append((page, f"file://{path}"))
        return page

    yield open_
    for page, url in pages:
        assert page.errors == []
        assert page.requests == [url]
        page.close()


def _not_blank(page, path):
    from PIL import Image

    png = page.screenshot(path=str(path))
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    ink = (img.sum(axis=2) < 600).mean()  # pixels clearly darker than white
    colours = len(np.unique(img.reshape(-1, 3)[::7], axis=0))
    assert ink > 0.01 and colours > 20, f"screenshot {path} looks blank: {ink:.3%} ink, {colours} colours"


def _grad(page, name):
    return page.text_content(f'.node[data-name="{name}"] .grad')


def test_u_problem_steps_backward_to_the_coursework_gradients(tmp_path, open_page):
    L, _ = u_problem()
    path = L.explore().save(tmp_path / "u.html")
    page = open_page(path)
    api = "window.chainruleExplorer"
    total = page.evaluate(f"{api}.steps")
    assert total == 11 + 1 + 16
    page.click("#end")
    assert _grad(page, "u1") == "grad 21016" and _grad(page, "u2") == "grad 17324"
    assert _grad(page, "L") == "grad 1" and page.text_content('.node[data-name="u3"] .value') == "= 12"
    # The second-to-last step is the edge u1 -> u3: upstream x local = contribution, as explain() says.
    page.click("#prev")
    status = page.text_content("#status")
    assert "edge u1 → u3" in status and "∂L/∂u3 · ∂u3/∂u1 = 3692 · 4 = 14768" in status
    assert "(∂u3/∂u1 = u2)" in status and "∂L/∂u1 so far = -284 + 6532 + 14768 = 21016" in status
    current = page.locator(".edge.current")
    assert current.count() == 1 and current.text_content() == "14768"
    assert _grad(page, "u1") == "grad 21016" and _grad(page, "u2") == "grad 6248"  # u2's last term still to come
    page.click('.node[data-name="u3"]')
    details = page.text_content("#details")
    assert "u3 = u1 × u2" in details and "∂u3/∂u1u2" in details and "u3 = u1 * u2" in details
    page.click('.node[data-name="u2"]')  # u2 so far: two of its three uses
    assert "sum of uses-284 + 6532" in page.text_content("#details")
    _not_blank(page, tmp_path / "u.png")


def test_keyboard_only_full_pass(tmp_path, open_page):
    L, _ = u_problem()
    page = open_page(L.explore().save(tmp_path / "u.html"))
    total = page.evaluate("window.chainruleExplorer.steps")
    page.keyboard.press("ArrowRight")
    assert "forward 1/11:  u1 (input) = 3" in page.text_content("#status")
    for _ in range(total - 1):
        page.keyboard.press("ArrowRight")
    assert page.evaluate("window.chainruleExplorer.step") == total
    assert _grad(page, "u1") == "grad 21016" and _grad(page, "u2") == "grad 17324"
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("window.chainruleExplorer.step") == total - 1
    page.keyboard.press("Home")
    assert page.evaluate("window.chainruleExplorer.step") == 0 and _grad(page, "u1") == ""
    page.keyboard.press("End")
    assert page.evaluate("window.chainruleExplorer.step") == total
    page.keyboard.press("Home")
    page.keyboard.press(" ")  # play ...
    page.wait_for_function("window.chainruleExplorer.step >= 2")
    page.keyboard.press(" ")  # ... and pause
    stopped = page.evaluate("window.chainruleExplorer.step")
    page.wait_for_timeout(400)
    assert page.evaluate("window.chainruleExplorer.step") == stopped
    page.keyboard.press("Home")
    for _ in range(3):  # Tab to the step button, Enter presses it
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "play"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("window.chainruleExplorer.step") == 1


def test_nn_model_clusters_and_gradients(tmp_path, open_page):
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = cr.randn(8, 4), cr.tensor([0, 1, 2, 1, 0, 2, 1, 0])
    loss = nn.functional.cross_entropy(m(x), y)
    loss.name = "loss"
    page = open_page(viz.explore(loss, model=m).save(tmp_path / "mlp.html"))
    loss.backward()
    page.keyboard.press("End")
    assert page.text_content('.node[data-name="2.bias"] .grad').startswith("grad [")
    page.click('.node[data-name="2.bias"]')
    page.click("#details button.full >> nth=1")  # the gradient's values in full
    shown = page.text_content("#full").splitlines()
    assert shown[0] == "shape (3)"
    np.testing.assert_allclose([float(v) for v in shown[1].split()], m[2].bias.grad._data, rtol=1e-4)
    page.click('.node[data-name="0.weight"]')
    assert page.locator("#details canvas.heat").count() == 2  # value and gradient heat maps
    page.click("#details button.full >> nth=1")
    full = page.text_content("#full")
    assert full.startswith("shape (6, 4)") and len(full.splitlines()) == 7
    _not_blank(page, tmp_path / "mlp.png")
    before = page.locator(".node").count()
    page.click('.cluster[data-module="Sequential.0"] text')
    assert page.locator(".cluster.collapsed").count() == 1
    assert page.locator(".node").count() == before - 3
    assert page.locator('.node[data-name="0.weight"]').count() == 0
    page.click('.cluster[data-module="Sequential.0"] text')
    assert page.locator(".node").count() == before


def test_trace_tables_in_the_browser(tmp_path, open_page):
    t = viz.trace_table(lambda x1, x2: cr.log(x1) + x1 * x2 - cr.sin(x2), 2, 5, direction=(1, 0))
    path = tmp_path / "trace.html"
    path.write_text("<!DOCTYPE html><meta charset='utf-8'><title>trace</title>" + t.to_html(), encoding="utf-8")
    page = open_page(path, 800, 900)
    assert page.locator("table.cr-trace").count() == 3
    adjoint = page.locator('table[data-trace="adjoint"] tr')
    assert adjoint.nth(adjoint.count() - 1).text_content().endswith("1.716")
    assert "v1=ln v-1 = ln 2" in page.locator('table[data-trace="primal"] tr').nth(2).text_content()
    _not_blank(page, tmp_path / "trace.png")
    # ... and as the explorer's panel, toggled with the keyboard.
    x1 = cr.tensor(2.0, requires_grad=True, name="x1")
    x2 = cr.tensor(5.0, requires_grad=True, name="x2")
    y = cr.log(x1) + x1 * x2 - cr.sin(x2)
    page = open_page(y.explore().save(tmp_path / "baydin.html"))
    assert page.is_hidden("#trace-panel")
    page.keyboard.press("t")
    assert page.is_visible("#trace-panel") and "11.652" in page.text_content("#trace-panel")


def test_a_few_thousand_nodes_stay_responsive(tmp_path, open_page):
    """A step redraws only what it changes: 30 steps on a graph of 2,000 nodes touch the same few
    dozen elements (the current node and edge, the details panel) whatever the graph's size, not
    the graph (counted by a MutationObserver; the End key, which completes every node, does)."""
    w, h = cr.randn(4, requires_grad=True), cr.randn(4, requires_grad=True)
    for _ in range(700):
        h = cr.tanh(h * w + 0.1)
    page = open_page(h.sum().explore().save(tmp_path / "deep.html"))
    nodes = page.evaluate("window.chainruleExplorer.nodes")
    assert nodes > 2000
    page.evaluate(
        """() => { window.touched = new Set(); window.watcher = new MutationObserver(function (records) {
             records.forEach(function (r) { window.touched.add(r.target); }); });
           window.watcher.observe(document.body, {subtree: true, childList: true, attributes: true,
             characterData: true}); }"""
    )
    count = """() => { window.watcher.takeRecords().forEach(function (r) { window.touched.add(r.target); });
                 return window.touched.size; }"""
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    stepped = page.evaluate(count)
    assert 0 < stepped < 200, f"30 steps touched {stepped} elements of a page drawing {nodes} nodes"
    page.keyboard.press("End")
    assert page.evaluate(count) > nodes  # completing the pass does touch every node
    assert page.text_content(".node.current .name").startswith("x")  # the last backward edge feeds a leaf


def test_notebook_display_and_a_narrow_window(tmp_path, open_page):
    L, _ = u_problem()
    e = L.explore()
    path = tmp_path / "cell.html"  # what Jupyter and VS Code put in an output cell: the iframe
    path.write_text("<!DOCTYPE html><meta charset='utf-8'><title>cell</title>" + e._repr_html_(), encoding="utf-8")
    page = open_page(path)
    frame = page.frames[1]
    frame.wait_for_function("window.chainruleExplorer !== undefined")
    frame.click("#end")
    assert frame.text_content('.node[data-name="u1"] .grad') == "grad 21016"
    narrow = open_page(e.save(tmp_path / "u.html"), width=420, height=800)
    narrow.keyboard.press("End")
    box = narrow.locator("#details").bounding_box()
    assert box["width"] > 380 and box["y"] > 300  # the details panel moves below the graph
    _not_blank(narrow, tmp_path / "narrow.png")
