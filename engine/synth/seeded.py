"""The one source of randomness in the synthetic media: a generator seeded by integer keys (the caller's ``seed``
and a constant per use), so the same arguments give the same output bit for bit."""
from __future__ import annotations

import numpy as np


def rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])
