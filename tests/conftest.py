"""Shared fixtures: one persistent compilation cache for the suite, a small Flax MLP and a
jitted masked training step for any method."""

import os

# One XLA compute thread per test process, set before JAX starts its backend: on the CI's two
# cores the suite's small matmuls run faster on one thread than on two, and the Ray backend's
# workers (which get this flag) then find the programs the test process compiled in the cache.
_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false"
if _SINGLE_THREAD not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_SINGLE_THREAD}".strip()

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

import sparserl.sparsity as sp  # noqa: E402


class MLP(nn.Module):
    hidden: tuple = (64, 64)
    out: int = 2

    @nn.compact
    def __call__(self, x):
        for h in self.hidden:
            x = nn.relu(nn.Dense(h)(x))
        return nn.Dense(self.out)(x)


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(request, tmp_path_factory):
    """One persistent JAX compilation cache for the whole suite (in pytest's cache directory,
    kept between sessions; a temporary one under `-p no:cacheprovider`): the many tests that
    build a program another test built (train then resume, train then sweep, the same tiny
    grid) load it instead of compiling it."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        directory = tmp_path_factory.mktemp("jax-compilation")
    else:
        directory = cache.mkdir("jax-compilation")
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    return directory


@pytest.fixture(scope="session")
def mlp():
    return MLP()


@pytest.fixture(scope="session")
def data():
    x = jax.random.normal(jax.random.key(1), (32, 4))
    y = jnp.stack([x[:, 0] * x[:, 1], jnp.sin(x[:, 2])], axis=1)
    return x, y


@pytest.fixture(scope="session")
def params(mlp, data):
    return mlp.init(jax.random.key(0), data[0])


def make_step(mlp, data, method, optimizer):
    """A jitted step: masked optimizer update, then the method's topology update."""
    x, y = data

    def loss(p):
        return jnp.mean((mlp.apply(p, x) - y) ** 2)

    @jax.jit
    def step(p, o, st, t):
        g = jax.grad(loss)(p)
        u, o = optimizer.update(g, o, p, masks=st.masks)
        p = optax.apply_updates(p, u)
        return method.update(st, p, o, g, t)

    return step


@pytest.fixture
def masked_adam():
    return sp.masked(optax.adam(1e-2))
