"""The samplers behind chainrule's random ops (rand, randn, normal_, nn.init, ...).

Each takes its parameters, then a numpy Generator last, and returns a new ndarray. Random ops
call them through `jit.draw(functools.partial(sampler, *params), generator)`, which picks the
generator (the one given, else the global one that manual_seed resets) and, while jit traces,
records the call so that every replay draws anew, from the same stream eager code would.
"""

from __future__ import annotations


def uniform(low, high, shape, rng):
    """U(low, high) samples in float64 (Tensor.uniform_ and nn.init cast on writing)."""
    return rng.uniform(low, high, shape)


def normal(mean, std, shape, rng):
    """N(mean, std^2) samples in float64."""
    return rng.normal(mean, std, shape)


def random(shape, dtype, rng):
    """U[0, 1) samples in `dtype` (chainrule.rand)."""
    return rng.random(shape).astype(dtype)


def standard_normal(shape, dtype, rng):
    """N(0, 1) samples in `dtype` (chainrule.randn)."""
    return rng.standard_normal(shape).astype(dtype)


def integers(low, high, shape, dtype, rng):
    """Integers in [low, high) in `dtype` (chainrule.randint)."""
    return rng.integers(low, high, size=shape).astype(dtype)


def permutation(n, dtype, rng):
    """A random permutation of range(n) (chainrule.randperm)."""
    return rng.permutation(n).astype(dtype)
