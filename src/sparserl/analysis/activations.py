"""The hidden activations of a Flax network, read from the values its layers sow.

sparserl's networks sow each hidden layer's post-activation output under the collection
`intermediates`, name `activations` (`sparserl.nets.torsos.sow_activation`); any Flax model
that does the same can be measured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax

from sparserl.nets.torsos import ACTIVATIONS_COLLECTION, ACTIVATIONS_NAME
from sparserl.types import PyTree


def _natural_key(name: str) -> tuple:
    """Sort key reading digit runs as numbers: `block_2` before `block_10`."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _forward_order(node: Mapping[str, Any]) -> list[jax.Array]:
    """The sown arrays of a scope: its submodules' (by name, digits as numbers), then its own.

    Names, not dict order, fix the order (a jax transform returns dicts sorted): every sparserl
    network names its layers in forward order and sows its own layers after its submodules'.
    """
    found: list[jax.Array] = []
    for name in sorted((k for k in node if k != ACTIVATIONS_NAME), key=_natural_key):
        found += _forward_order(node[name])
    return found + list(node.get(ACTIVATIONS_NAME, ()))


def hidden_activations(module: nn.Module, params: PyTree, *inputs: Any) -> list[jax.Array]:
    """Post-activation outputs of every hidden layer of `module` on `inputs`, in forward order.

    `params` is what `module.apply` takes (the `init` output). Dense layers give `[B, units]`,
    conv layers `[B, h, w, channels]`; the last entry is the network's representation, the
    feature matrix of `srank`. Jit- and vmap-compatible.
    """
    _, state = module.apply(params, *inputs, mutable=[ACTIVATIONS_COLLECTION])
    return _forward_order(state.get(ACTIVATIONS_COLLECTION, {}))
