"""The one place random numbers come from: the same seed gives the same notebook."""
import numpy as np

COURSE_SEED = 2026


def rng(seed: int = COURSE_SEED) -> np.random.Generator:
    """A NumPy generator seeded with ``seed`` (the course seed by default)."""
    return np.random.default_rng(seed)
