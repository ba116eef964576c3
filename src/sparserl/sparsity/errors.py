"""The one error type the engine raises for bad configuration, so callers can catch it."""


class SparsityConfigError(ValueError):
    """A sparsity setting is invalid; the message names the bad value and the allowed ones."""
