"""`from chainrule.utils.data import DataLoader, TensorDataset` (PyTorch's spelling) gives chainrule.data's names.

This module replaces itself with chainrule.data, so both paths are the same module object.
"""

import sys

from .. import data as _data

sys.modules[__name__] = _data
