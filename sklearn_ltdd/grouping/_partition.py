"""Partitioning classes into groups that are far apart (the paper's eq. 3)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sklearn.utils import check_random_state


@lru_cache(maxsize=None)
def n_partitions(n_items: int, n_groups: int) -> int:
    """Stirling number of the second kind: partitions into ``n_groups`` non-empty groups.

    Examples
    --------
    >>> n_partitions(10, 2), n_partitions(10, 3)
    (511, 9330)
    """
    if n_groups == 0:
        return int(n_items == 0)
    if n_groups > n_items:
        return 0
    return n_groups * n_partitions(n_items - 1, n_groups) + n_partitions(n_items - 1, n_groups - 1)


def cross_group_distance(distances, assignment) -> float:
    """Summed distance of every pair of classes in different groups (eq. 3).

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0, 1, 5], [1, 0, 4], [5, 4, 0]])
    >>> cross_group_distance(D, [0, 0, 1])
    9.0
    """
    assignment = np.asarray(assignment)
    different = assignment[:, None] != assignment[None, :]
    return float(np.triu(np.asarray(distances) * different, k=1).sum())


def _all_assignments(n_items: int, n_groups: int) -> np.ndarray:
    """Every partition as a restricted growth string: (n_partitions, n_items)."""
    rows = []

    def extend(prefix, n_used):
        remaining = n_items - len(prefix)
        if remaining == 0:
            if n_used == n_groups:
                rows.append(prefix)
            return
        if n_groups - n_used > remaining:
            return
        for g in range(min(n_used + 1, n_groups)):
            extend(prefix + [g], max(n_used, g + 1))

    extend([0], 1)
    return np.array(rows, dtype=np.int64)


def exact_partition(distances, n_groups: int):
    """Best partition by enumerating all of them; returns (assignment, objective)."""
    D = np.asarray(distances, dtype=np.float64)
    candidates = _all_assignments(len(D), n_groups)
    objective = np.zeros(len(candidates))
    for start in range(0, len(candidates), 4096):
        block = candidates[start : start + 4096]
        different = block[:, :, None] != block[:, None, :]
        objective[start : start + 4096] = (different * D).sum(axis=(1, 2)) / 2
    best = int(np.argmax(objective))
    return candidates[best], float(objective[best])


def heuristic_partition(distances, n_groups: int, *, n_restarts: int = 50, random_state=None):
    """Local search with random restarts; returns (assignment, objective).

    From a random balanced assignment, repeatedly apply the single-class move
    (to another group, never emptying a group) or two-class swap that most
    increases the cross-group distance, until none does; keep the best of
    ``n_restarts`` runs. Each pass costs O(C^2 G) with incremental gains.
    """
    D = np.asarray(distances, dtype=np.float64)
    n = len(D)
    rng = check_random_state(random_state)
    best_assign, best_obj = None, -np.inf
    for _ in range(n_restarts):
        assign = rng.permutation(np.arange(n) % n_groups)
        while True:
            # link[i, g] = summed distance of class i to the classes of group g
            link = np.stack([D[:, assign == g].sum(axis=1) for g in range(n_groups)], axis=1)
            own = link[np.arange(n), assign]
            sizes = np.bincount(assign, minlength=n_groups)
            # moving i from its group a to g changes the objective by own - link[i, g]
            move_gain = own[:, None] - link
            move_gain[np.arange(n), assign] = -np.inf
            move_gain[sizes[assign] == 1] = -np.inf
            i, g = np.unravel_index(np.argmax(move_gain), move_gain.shape)
            # swapping i (group a_i) and j (group a_j) changes it by
            # own_i - link[i, a_j] + own_j - link[j, a_i] + 2 D_ij
            a = assign
            rows = np.arange(n)
            cross = (
                own[:, None]
                + own[None, :]
                - link[rows[:, None], a[None, :]]
                - link[rows[None, :], a[:, None]]
                + 2 * D
            )
            cross[a[:, None] == a[None, :]] = -np.inf
            si, sj = np.unravel_index(np.argmax(cross), cross.shape)
            if max(move_gain[i, g], cross[si, sj]) <= 1e-12:
                break
            if move_gain[i, g] >= cross[si, sj]:
                assign = assign.copy()
                assign[i] = g
            else:
                assign = assign.copy()
                assign[si], assign[sj] = assign[sj], assign[si]
        objective = cross_group_distance(D, assign)
        if objective > best_obj:
            best_assign, best_obj = assign, objective
    return _canonical(best_assign), best_obj


def _canonical(assignment) -> np.ndarray:
    """Relabel groups in order of first appearance (a restricted growth string)."""
    mapping, out = {}, []
    for g in np.asarray(assignment).tolist():
        mapping.setdefault(g, len(mapping))
        out.append(mapping[g])
    return np.array(out, dtype=np.int64)
