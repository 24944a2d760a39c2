"""Gradient-flow diagnostics: per-parameter gradient norms, dead ReLUs, vanishing and exploding gradients.

    report = chainrule.diagnostics.gradient_flow(model)     # after loss.backward()
    print(report)

For each parameter: ||grad||, ||param|| and the ratio ||grad|| / ||param|| (the relative
size of an SGD step per unit learning rate). A ratio below `vanishing` (1e-7) means the
layer has all but stopped learning: the sigmoid's derivative is at most 1/4, so through
n sigmoid layers the gradient shrinks by at least 4^n. A norm above `exploding` (1e3)
or a non-finite gradient is the opposite failure. Both raise a `warnings.warn`.

Dead ReLU units output 0 for every example of a batch, so they pass no gradient and
never recover: pass the post-ReLU activations (`activations={"relu1": a1, ...}`), or let
`record_activations(model)` collect them from the model's ReLU modules during a forward pass.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from .nn.module import Module
    from .tensor import Tensor


@dataclass
class ParamStat:
    name: str
    shape: tuple
    grad_norm: float
    param_norm: float

    @property
    def ratio(self) -> float:
        """||grad|| / ||param|| (inf when the parameter is all zeros and the grad is not)."""
        if self.param_norm == 0:
            return 0.0 if self.grad_norm == 0 else math.inf
        return self.grad_norm / self.param_norm


@dataclass
class GradientFlowReport:
    """Per-parameter stats, dead-ReLU fractions, and the warnings raised."""

    params: list = field(default_factory=list)
    dead_relu: dict = field(default_factory=dict)
    vanishing: list = field(default_factory=list)
    exploding: list = field(default_factory=list)
    missing: list = field(default_factory=list)  # parameters with no gradient at all

    def norms(self) -> dict[str, float]:
        """{name: ||grad||}."""
        return {p.name: p.grad_norm for p in self.params}

    @property
    def first_to_last(self) -> float | None:
        """||grad|| of the first parameter over that of the last (how much the gradient shrank)."""
        if len(self.params) < 2 or self.params[-1].grad_norm == 0:
            return None
        return self.params[0].grad_norm / self.params[-1].grad_norm

    def __str__(self):
        w = max([len(p.name) for p in self.params] + [9])
        lines = [f"{'parameter':<{w}}  {'shape':<12} {'|grad|':>11} {'|param|':>11} {'ratio':>11}"]
        for p in self.params:
            flag = (
                "  <- vanishing" if p.name in self.vanishing else ("  <- exploding" if p.name in self.exploding else "")
            )
            lines.append(
                f"{p.name:<{w}}  {str(p.shape):<12} {p.grad_norm:>11.3e} {p.param_norm:>11.3e} {p.ratio:>11.3e}{flag}"
            )
        for name in self.missing:
            lines.append(f"{name:<{w}}  no gradient (not used in the loss, or backward not run)")
        if self.first_to_last is not None:
            lines.append(f"first/last gradient norm: {self.first_to_last:.3e}")
        for name, frac in self.dead_relu.items():
            lines.append(f"dead ReLU units in {name}: {frac:.1%}")
        return "\n".join(lines)

    __repr__ = __str__


def _named_tensors(model):
    from .tensor import Tensor

    if hasattr(model, "named_parameters"):
        return list(model.named_parameters())
    if isinstance(model, dict):
        return list(model.items())
    if isinstance(model, (list, tuple)):
        out = []
        for i, item in enumerate(model):
            if isinstance(item, tuple) and len(item) == 2:
                out.append(item)
            elif isinstance(item, Tensor):
                out.append((item.name or f"param{i}", item))
            else:
                raise TypeError(f"gradient_flow: item {i} is a {type(item).__name__}; pass Tensors or (name, Tensor)")
        return out
    raise TypeError(
        f"gradient_flow: expected a model with named_parameters(), a dict or a list of tensors, "
        f"got {type(model).__name__}"
    )


def dead_fraction(activation: Tensor | np.ndarray, axis: int = 0) -> float:
    """Fraction of units that are <= 0 for every example (the batch is `axis`)."""
    a = np.asarray(getattr(activation, "_data", activation))
    if a.ndim == 0:
        return float(a <= 0)
    dead = np.all(a <= 0, axis=axis)
    return float(np.mean(dead))


def gradient_flow(
    model: Module | Mapping[str, Tensor] | Sequence[Tensor],
    activations: Mapping[str, Tensor] | None = None,
    vanishing: float = 1e-7,
    exploding: float = 1e3,
    warn: bool = True,
) -> GradientFlowReport:
    """Report gradient norms per parameter, dead ReLU fractions, and warn on vanishing/exploding.

    Args:
        model: a Module (named_parameters()), a {name: tensor} dict, or a list of tensors.
        activations: optional {name: post-ReLU activation (batch first)} for dead-unit counts.
        vanishing: warn when ||grad|| / ||param|| is below this.
        exploding: warn when ||grad|| is above this, or not finite.
        warn: set False to collect the report without warnings.

    Returns:
        a GradientFlowReport (str() prints a table).
    """
    report = GradientFlowReport()
    for name, p in _named_tensors(model):
        if p.grad is None:
            report.missing.append(name)
            continue
        g = np.asarray(p.grad._data, dtype=np.float64)
        stat = ParamStat(
            name, tuple(p.shape), float(np.linalg.norm(g)), float(np.linalg.norm(np.asarray(p._data, dtype=np.float64)))
        )
        report.params.append(stat)
        if not np.isfinite(stat.grad_norm) or stat.grad_norm > exploding:
            report.exploding.append(name)
        elif stat.ratio < vanishing:
            report.vanishing.append(name)
    for name, a in (activations or {}).items():
        report.dead_relu[name] = dead_fraction(a)
    if warn and report.vanishing:
        warnings.warn(
            f"vanishing gradients: ||grad||/||param|| < {vanishing:g} for {', '.join(report.vanishing)}. "
            "Saturating activations (sigmoid, tanh) in deep stacks shrink gradients layer by layer; try "
            "ReLU, residual connections, normalization, or a better initialization.",
            stacklevel=2,
        )
    if warn and report.exploding:
        warnings.warn(
            f"exploding gradients: ||grad|| > {exploding:g} (or not finite) for "
            f"{', '.join(report.exploding)}. Lower the learning rate, clip gradients, or check the "
            "initialization scale.",
            stacklevel=2,
        )
    return report


@contextlib.contextmanager
def record_activations(
    model: Module | Mapping[str, Tensor] | Sequence[Tensor], kinds: tuple[str, ...] = ("ReLU",)
) -> Iterator[dict[str, Tensor]]:
    """Collect the outputs of the model's ReLU modules during forward passes inside the block.

    Yields a dict {module name: last output}; pass it as gradient_flow(..., activations=...).
    """
    seen = {}
    patched = []
    for name, module in model.named_modules():
        if type(module).__name__ in kinds:
            original = module.forward

            # The defaults bind this iteration's module and name (a closure would see the last ones).
            def wrapped(*args, _orig=original, _name=name or type(module).__name__, **kwargs):  # noqa: B008
                out = _orig(*args, **kwargs)
                seen[_name] = out
                return out

            module.forward = wrapped  # an instance attribute shadows the class's forward
            patched.append(module)
    try:
        yield seen
    finally:
        for module in patched:
            del module.forward
