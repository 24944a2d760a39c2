"""chainrule.utils: PyTorch's `torch.utils` path; `chainrule.utils.data` is chainrule.data itself."""


def __getattr__(name):
    if name == "data":
        import importlib

        return importlib.import_module(".data", __name__)
    raise AttributeError(f"module 'chainrule.utils' has no attribute {name!r}")
