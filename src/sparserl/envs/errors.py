"""The error raised for a bad environment id or an agent/environment pair that does not fit."""


class EnvConfigError(ValueError):
    """A bad environment choice, named with the allowed ones, raised before anything compiles."""
