"""The tutorials (docs/tutorials/*.ipynb) execute without an error, as the docs build executes them.

Each notebook checks its own answers with assert cells, so a wrong number fails its execution here.
The notebooks are committed without outputs: the docs build (and this test) runs them.
"""

import os
import pathlib
import shutil

import pytest

nbformat = pytest.importorskip("nbformat", reason="the tutorials need nbformat, nbclient and ipykernel (test extra)")
nbclient = pytest.importorskip("nbclient", reason="executing the tutorials needs nbclient (pip install nbclient)")
pytest.importorskip("ipykernel", reason="executing the tutorials needs a Jupyter kernel (pip install ipykernel)")

ROOT = pathlib.Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "docs" / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
# One notebook per coursework topic (issue 14); the docs site lists them in this order.
TOPICS = [
    "01-derivatives-and-chain-rule",
    "02-activation-identities",
    "03-softmax-and-jacobian",
    "04-cross-entropy",
    "05-linear-layer-backprop",
    "06-xor-networks",
    "07-relu-and-residual-gradients",
    "08-the-u1-u5-graph",
    "09-second-derivatives",
    "10-initialization-and-symmetry",
    "11-vanishing-gradients",
    "12-training-an-mlp",
    "13-mnist1d-table",
]


def test_every_topic_has_its_notebook():
    assert [p.stem for p in NOTEBOOKS] == TOPICS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "a title first"
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them (the docs build executes the notebook)"


def _kernel_env():
    env = dict(os.environ)
    # The kernel imports this checkout's chainrule, as the test process does.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    # Small matrices: BLAS threads only contend on a busy machine (the notebooks that train also cap them).
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("MPLBACKEND", None)  # as in a fresh Jupyter: the kernel picks its inline backend
    return env


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    if "draw_graph" in "".join(c.source for c in nb.cells) and shutil.which("dot") is None:
        pytest.skip(f"{path.name} draws graphs inline: install graphviz's dot (apt-get install graphviz)")
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute(env=_kernel_env())
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name}: a cell failed:\n{error}", pytrace=False)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    source = "".join(c.source for c in nb.cells)
    if "plt." in source or "viz.plot_" in source:
        # the figures appear inline (a forced non-interactive backend would leave no image behind)
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name}: no figure was shown"
    assert not list(tmp_path.iterdir()), f"{path.name} wrote files into its working directory"
