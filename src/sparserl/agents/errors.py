"""The error raised for a bad agent name or hyper-parameter."""


class AgentConfigError(ValueError):
    """A bad agent choice or option, named with the allowed ones, raised before compiling."""
