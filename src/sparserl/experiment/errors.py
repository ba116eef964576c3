"""The error raised for run settings that cannot work (steps, intervals, grids)."""


class TrainConfigError(ValueError):
    """Bad run settings, named with the allowed values, raised before anything compiles."""
