"""Selection of real images: a balanced, difficulty-aware coreset under hard labels."""

from ._coreset import CoresetSampler
from ._strategies import difficulty_scores, difficulty_window, herding, k_center

__all__ = ["CoresetSampler", "difficulty_scores", "difficulty_window", "herding", "k_center"]
