"""Versions of the libraries a result depends on, recorded with every run."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("sparserl", "jax", "jaxlib", "flax", "optax", "gymnax", "numpy")


def versions() -> dict[str, str]:
    """Package -> installed version (or 'missing')."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found
