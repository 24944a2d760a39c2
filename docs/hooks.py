"""MkDocs hook: the parts of the site that are computed rather than written.

- The API reference: one page per public module, generated from the module's `__all__` (or, for a module
  without one, the public names it defines), so a new public name is documented without editing a page.
  Each object is rendered once, by mkdocstrings, on the page of the most specific module that exports it;
  every other page that exports it lists it with a link there. The few functions the op registry generates
  at import time (`chainrule.exp`, ...) have no source for mkdocstrings to read: their docstrings are
  rendered here from the live objects.
- The tutorials: the nav lists the notebooks that exist in docs/tutorials/, so a notebook appears by being
  added, and a missing one cannot break the build.
- Notebook execution: the notebooks run side by side (a kernel per core), each in a scratch directory,
  on this interpreter (so `make docs` on a fresh clone runs them in .venv whatever kernels the user has
  registered), with a per-cell timeout; a cell that raises fails the build. mkdocs-jupyter then renders
  the executed copies.
- Pages included from outside docs/ (README.md, CONTRIBUTING.md, ...) keep their links working: a link
  written relative to the repository root is rewritten to the page that includes the target.

tests/test_docs.py imports `reference_pages()` to check that every public name is documented.
"""

from __future__ import annotations
import __future__

import atexit
import importlib
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

try:
    from mkdocs.plugins import event_priority
except ImportError:  # tests/test_docs.py reads the reference without the docs extra's MkDocs

    def event_priority(_priority):
        return lambda f: f


DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SRC = ROOT / "src"

# The public modules, in the order the reference lists them: (module, page title).
PUBLIC_MODULES = [
    ("chainrule", "chainrule"),
    ("chainrule.Tensor", "Tensor"),
    ("chainrule.autograd", "autograd"),
    ("chainrule.autograd.functional", "transforms (grad, vjp, jvp, jacobian, hessian)"),
    ("chainrule.autograd.jit", "jit"),
    ("chainrule.nn", "nn"),
    ("chainrule.nn.functional", "nn.functional"),
    ("chainrule.nn.init", "nn.init"),
    ("chainrule.nn.utils", "nn.utils"),
    ("chainrule.optim", "optim"),
    ("chainrule.optim.lr_scheduler", "optim.lr_scheduler"),
    ("chainrule.data", "data"),
    ("chainrule.utils.data", "utils.data"),
    ("chainrule.train", "train"),
    ("chainrule.models", "models"),
    ("chainrule.io", "io"),
    ("chainrule.viz", "viz"),
    ("chainrule.explain", "explain"),
    ("chainrule.symbolic", "symbolic"),
    ("chainrule.diagnostics", "diagnostics"),
    ("chainrule.value", "value"),
    ("chainrule.expression", "expression"),
    ("chainrule.cuda", "cuda"),
    ("chainrule.accelerator", "accelerator"),
    ("chainrule.backends", "backends"),
]

# Seconds one notebook cell may run during the build (the slowest tutorial cell trains a few small
# models; the whole build must stay under two minutes on two cores).
CELL_TIMEOUT = 120


# ---------------------------------------------------------------------------------------------------------
# The API reference


def _import(name):
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    return importlib.import_module(name)


def public_names(module_name):
    """The names a public module documents: its `__all__`, or the public names it defines itself."""
    if module_name == "chainrule.Tensor":
        tensor = _import("chainrule").Tensor
        return sorted(n for n in dir(tensor) if not n.startswith("_"))
    module = _import(module_name)
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)

    def defined_here(value):
        if inspect.ismodule(value):
            return value.__name__.startswith(module_name + ".")
        if inspect.isclass(value) or inspect.isroutine(value):
            return getattr(value, "__module__", None) == module_name
        return not isinstance(value, (__future__._Feature, bool))  # a constant or namespace (not TYPE_CHECKING)

    return sorted(n for n, v in vars(module).items() if not n.startswith("_") and defined_here(v))


def _member(module_name, name):
    if module_name == "chainrule.Tensor":
        tensor = _import("chainrule").Tensor
        return inspect.getattr_static(tensor, name)
    module = _import(module_name)
    try:
        return getattr(module, name)
    except AttributeError:  # a lazily loaded submodule
        return _import(module_name + "." + name)


def _path(obj):
    """Where the object is defined (module.qualname), or None for a value (a dtype, a dict, ...)."""
    obj = getattr(obj, "__func__", obj)  # staticmethod, classmethod
    if isinstance(obj, property):
        obj = obj.fget
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    return module + "." + qualname


def _griffe_paths():
    """The object paths mkdocstrings can read from source (griffe's static view of the package)."""
    import griffe

    package = griffe.load("chainrule", search_paths=[str(SRC)], resolve_aliases=False)
    collection = package.modules_collection

    def known(path):
        try:
            obj = collection[path]
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return False
        return not obj.is_alias

    return known


def _slug(module_name):
    return module_name.replace("chainrule.", "", 1) if module_name != "chainrule" else "chainrule"


def _page_uri(module_name):
    return f"reference/{_slug(module_name)}.md"


def _summary(obj):
    doc = inspect.getdoc(getattr(obj, "__func__", obj))
    if not doc:
        return ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    return first.replace("|", "\\|")


def _render_live(anchor, name, obj):
    """A function the registry generated at import time: its signature and docstring, from the object."""
    try:
        signature = str(inspect.signature(obj))
    except (TypeError, ValueError):
        signature = "(...)"
    out = fence_doctests((inspect.getdoc(obj) or "").splitlines())
    return f"## `{name}` {{ #{anchor} }}\n\n```python\n{name}{signature}\n```\n\n" + "\n".join(out) + "\n"


def reference_pages():
    """{page uri: markdown} for the API reference, plus "reference/index.md"."""
    known = _griffe_paths()
    entries = {m: [(n, _member(m, n)) for n in public_names(m)] for m, _ in PUBLIC_MODULES}
    module_pages = {m: _page_uri(m) for m, _ in PUBLIC_MODULES}
    # Each object's home: the most specific public module exporting it whose name prefixes its definition's.
    home = {}
    for module_name, members in entries.items():
        for _name, obj in members:
            path = _path(obj)
            if path is None or inspect.ismodule(obj):
                continue
            owner = "chainrule.tensor" if module_name == "chainrule.Tensor" else module_name
            score = len(owner) if path.startswith(owner + ".") else 0
            if path not in home or score > home[path][0]:
                home[path] = (score, module_name)
    # The Tensor class is rendered by its own page's introduction (its members one by one below it).
    home["chainrule.tensor.Tensor"] = (0, None)
    pages = {}
    for module_name, title in PUBLIC_MODULES:
        page = module_pages[module_name]
        rows, bodies = [], []
        if module_name == "chainrule.Tensor":
            intro = (
                "The methods and attributes of `chainrule.Tensor`. Methods that are also functions of the "
                "`chainrule` namespace (`x.exp()` is `chainrule.exp(x)`) link to the function.\n\n"
                "::: chainrule.tensor.Tensor\n    options:\n      members: false\n      show_root_heading: false\n"
            )
        else:
            intro = f"::: {module_name}\n    options:\n      members: false\n      show_root_heading: false\n"
        for name, obj in entries[module_name]:
            path = _path(obj)
            if inspect.ismodule(obj):
                target = module_pages.get(obj.__name__)
                link = f"[`{name}`]({target[len('reference/') :]})" if target else f"`{name}`"
                rows.append(f"| {link} | module `{obj.__name__}` |")
                continue
            if path is None:
                value = repr(obj).replace("|", "\\|").replace("\n", " ")
                if len(value) > 80:
                    value = value[:77] + "..."
                rows.append(f"| `{name}` | `{value}` |")
                continue
            is_home = home[path][1] == module_name
            anchor = path
            if path == "chainrule.tensor.Tensor":
                rows.append(f"| [`{name}`](Tensor.md) | {_summary(obj)} |")
                continue
            rows.append(f"| [`{name}`][{anchor}] | {_summary(obj)} |")
            if not is_home:
                continue
            home[path] = (home[path][0], None)  # rendered: a second name for it on this page only links
            if known(path) and path.rsplit(".", 1)[-1] == name:
                bodies.append(f"::: {path}\n")
            elif known(path):  # published under another name (Tensor.explain is explain.py's _tensor_explain)
                bodies.append(f'::: {path}\n    options:\n      heading: "{name}"\n      toc_label: "{name}"\n')
            else:
                bodies.append(_render_live(anchor, name, getattr(obj, "__func__", obj)))
        table = "| name | summary |\n|---|---|\n" + "\n".join(rows) + "\n"
        pages[page] = f"# {title}\n\n{intro}\n## Public names\n\n{table}\n" + "\n".join(bodies)
    index = ["# API reference\n", "Generated from the docstrings: one page per public module.\n"]
    for module_name, title in PUBLIC_MODULES:
        index.append(f"- [{title}]({_slug(module_name)}.md): `{module_name}`")
    pages["reference/index.md"] = "\n".join(index) + "\n"
    return pages


# ---------------------------------------------------------------------------------------------------------
# Tutorials


def tutorial_notebooks():
    """The notebooks in docs/tutorials/, in file-name order: [(uri, title)]."""
    out = []
    for path in sorted((DOCS / "tutorials").glob("*.ipynb")):
        title = path.stem
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            for cell in cells:
                if cell["cell_type"] == "markdown":
                    source = "".join(cell["source"])
                    match = re.search(r"^#\s+(.+)$", source, re.M)
                    if match:
                        title = match.group(1).strip()
                    break
        except (ValueError, KeyError):
            pass
        out.append((f"tutorials/{path.name}", _plain(title)))
    return out


def _plain(title):
    """A title's TeX ($u_1 \\ldots u_5$) as plain text for the nav (u1 … u5)."""
    symbols = {r"\ldots": "…", r"\cdots": "…", r"\cdot": "·", r"\times": "×", r"\partial": "∂", r"\sigma": "σ"}

    def plain(match):
        text = match.group(1)
        for tex, char in symbols.items():
            text = text.replace(tex, char)
        return re.sub(r"\\[A-Za-z]+|[_{}]", "", text)

    return re.sub(r"\$([^$]+)\$", plain, title)


# ---------------------------------------------------------------------------------------------------------
# Markdown: links written relative to the repository root, and doctest examples


def _included_pages():
    """{repository path: docs page} for each page that is a snippet of one file outside docs/."""
    out = {}
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r'^--8<--\s+"([^":]+)"\s*$', text, re.M):
            out.setdefault(match.group(1), page.relative_to(DOCS).as_posix())
    return out


def fence_doctests(lines):
    """Put each run of `>>>` lines (and the output printed under them, up to a blank line) in a pycon code
    block. The docstrings write their examples as doctests under "Example:", which griffe leaves as text:
    Markdown would read `>>>` as three nested quotes."""
    out, fence, doctest, indent = [], None, False, ""
    for line in lines:
        stripped = line.lstrip()
        if fence is not None:
            fence = None if stripped.startswith(fence) else fence
        elif doctest and not stripped:
            out.append(indent + "```")
            doctest = False
        elif not doctest and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(indent + "```pycon")
            doctest = True
        elif not doctest and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        out.append(line)
    if doctest:
        out.append(indent + "```")
    return out


def _markdown_extension(included):
    from markdown.extensions import Extension
    from markdown.preprocessors import Preprocessor

    link = re.compile(r"\]\((?!https?:|#|/)([^)\s#]+)(#[^)\s]*)?\)")

    def fix(match):
        target, anchor = match.group(1), match.group(2) or ""
        if target in included:
            return f"]({included[target]}{anchor})"
        if target.startswith("docs/") and (DOCS / target[5:]).exists():
            return f"]({target[5:]}{anchor})"
        return match.group(0)

    class Rewrite(Preprocessor):
        def run(self, lines):
            return fence_doctests([link.sub(fix, line) for line in lines])

    class ChainruleMarkdown(Extension):
        def extendMarkdown(self, md):  # noqa: N802  (Markdown's API)
            # after pymdownx.snippets (priority 32) has inserted the included file, before the fences (30)
            md.preprocessors.register(Rewrite(md), "chainrule_markdown", 31)

    return ChainruleMarkdown()


# ---------------------------------------------------------------------------------------------------------
# Notebook execution


def _scratch(prefix):
    """A temporary directory, removed when the build's process exits."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _use_this_interpreter():
    """A "python3" kernel that runs this interpreter, found ahead of any the user has registered."""
    kernels = _scratch("chainrule-docs-kernel-")
    spec = kernels / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(kernels), os.environ.get("JUPYTER_PATH")]))
    # The kernel imports chainrule from this checkout even when it is not installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))


def execute_notebook(source, destination, scratch):
    """Run every cell of the notebook `source` (cwd `scratch`), write it with its outputs to `destination`."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(source, as_version=4)
    scratch.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(scratch)}}
    )
    client.execute()
    destination.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, destination)


def _execute_notebooks(files):
    """Execute the site's notebooks side by side (one kernel per core, at most 4); point mkdocs-jupyter at
    the executed copies, which it renders as they are."""
    from concurrent.futures import ThreadPoolExecutor

    from mkdocs.exceptions import PluginError

    notebooks = [f for f in files if f.src_uri.endswith(".ipynb")]
    if not notebooks:
        return
    out = _scratch("chainrule-docs-notebooks-")

    def run(file):
        # Each notebook runs in a scratch directory: what it saves (graph.html, runs/...) stays out of docs/.
        destination = out / "executed" / file.src_uri
        try:
            execute_notebook(file.abs_src_path, destination, out / "cwd" / file.src_uri)
        except Exception as error:  # CellExecutionError, CellTimeoutError, a dead kernel
            raise PluginError(f"{file.src_uri}: executing the notebook failed:\n{error}") from error
        return destination

    workers = max(1, min(4, os.cpu_count() or 1, len(notebooks)))
    with ThreadPoolExecutor(workers) as pool:
        executed = list(pool.map(run, notebooks))
    for file, destination in zip(notebooks, executed):
        file.abs_src_path = str(destination)


# ---------------------------------------------------------------------------------------------------------
# MkDocs events

_pages: dict[str, str] = {}


@event_priority(100)  # before mkdocstrings reads the Markdown extensions, so docstrings get ours too
def on_config(config):
    _use_this_interpreter()
    config.markdown_extensions.append(_markdown_extension(_included_pages()))
    _pages.clear()
    _pages.update(reference_pages())
    reference = [{"Overview": "reference/index.md"}] + [{title: _page_uri(m)} for m, title in PUBLIC_MODULES]
    tutorials = [{"Overview": "tutorials/index.md"}] + [{t: uri} for uri, t in tutorial_notebooks()]
    for section in config.nav:
        if isinstance(section, dict) and "API reference" in section:
            section["API reference"] = reference
        if isinstance(section, dict) and "Tutorials" in section:
            section["Tutorials"] = tutorials + [{"Watch backprop happen": "explore.ipynb"}]
    return config


def on_files(files, config):
    from mkdocs.structure.files import File

    for uri, text in _pages.items():
        files.append(File.generated(config, uri, content=text))
    _execute_notebooks(files)
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "tutorials/index.md":
        notebooks = tutorial_notebooks()
        listing = "\n".join(f"- [{t}]({uri[len('tutorials/') :]})" for uri, t in notebooks)
        markdown = markdown.replace("<!-- tutorials -->", listing or "(no notebooks yet)")
    return markdown
