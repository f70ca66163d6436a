"""The distillers' iterations: their random streams, divergence checks and progress bar."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

#: Keys of the random streams derived from ``random_seed_`` (see ``_derived_seed``).
_ITERATION, _EXPERT_PASS, _EXPERTS = 0, 1, 2


class IterationsMixin:
    """Per-iteration random streams keyed on ``random_seed_`` (so warm-started chunks
    draw what one long fit would), a divergence check every few iterations (one host
    synchronisation each), and the progress bar ``verbose`` asks for."""

    def _check_due(self, it):
        """Check for divergence at each of the first 10 iterations, then every 50."""
        return it < 10 or it % 50 == 49 or it == self.n_iterations - 1

    def _check_finite(self, losses, it, *state):
        """Raise if a loss up to iteration ``it``, or a ``state`` tensor, is not finite.

        Called every few iterations and at the end, so a diverged run stops
        early with one host synchronisation per check.
        """
        done = losses[: it + 1]
        finite = torch.isfinite(done)
        ok = finite.all()
        for tensor in state:
            ok = ok & torch.isfinite(tensor).all()
        if not bool(ok):
            first = int((~finite).nonzero()[0, 0]) if not bool(finite.all()) else it
            first += getattr(self, "_iterations_done", 0)  # counted over warm starts
            raise FloatingPointError(
                f"{type(self).__name__}: the matching loss became NaN or "
                f"infinite at iteration {first}; the images diverged. "
                f"{self._divergence_hint()}"
            )

    def _divergence_hint(self):
        return f"Lower lr_img (currently {self.lr_img!r})."

    def _derived_seed(self, *keys) -> int:
        """A 63-bit seed from ``random_seed_`` and integer ``keys``.

        ``(0, i)`` seeds iteration ``i``; the keys make the streams of
        different iterations (and uses) independent of each other and of
        how the iterations were split into warm-started fits.
        """
        entropy = [int(self.random_seed_), *(int(k) for k in keys)]
        state = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
        return int(state >> np.uint64(1))

    def _iteration_seeds(self, n):
        """``(index, network seed, stream seed)`` of this fit's ``n`` iterations.

        ``index`` counts over all warm starts; the network seed initialises
        that iteration's network, the stream seed its generator (batches,
        augmentation), so the two never share random numbers.
        """
        first = self._iterations_done
        return [
            (
                first + i,
                self._derived_seed(_ITERATION, first + i, 0),
                self._derived_seed(_ITERATION, first + i, 1),
            )
            for i in range(n)
        ]

    def _progress(self, n, desc):
        return tqdm(range(n), desc=desc, disable=not self.verbose, leave=False)
