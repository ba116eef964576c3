"""Statistics over experiment results: score normalisation, score matrices and rliable's
aggregate metrics with stratified-bootstrap confidence intervals."""

from sparserl.stats.aggregate import (
    DEFAULT_REPS,
    METRICS,
    interval_estimates,
    performance_profiles,
    probability_of_improvement,
)
from sparserl.stats.matrices import score_matrices
from sparserl.stats.normalize import (
    SCHEMES,
    human_normalized,
    min_max,
    normalize,
    relative_to_dense,
)
from sparserl.stats.references import ATARI_RANDOM_HUMAN, CLASSIC_CONTROL_RANGES, atari_game

__all__ = [
    "ATARI_RANDOM_HUMAN",
    "CLASSIC_CONTROL_RANGES",
    "DEFAULT_REPS",
    "METRICS",
    "SCHEMES",
    "atari_game",
    "human_normalized",
    "interval_estimates",
    "min_max",
    "normalize",
    "performance_profiles",
    "probability_of_improvement",
    "relative_to_dense",
    "score_matrices",
]
