"""Type aliases shared across the package (a leaf module: the standard library only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PyTree = Any  # a JAX pytree: nested dicts, lists, tuples and dataclasses of arrays
Mask = PyTree  # bool arrays for sparse kernels, None for leaves kept dense
Shapes = Mapping[str, tuple[int, ...]]  # layer name -> kernel shape (Flax layout)

__all__ = ["Mask", "PyTree", "Shapes"]
