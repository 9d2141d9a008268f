"""Top-10 recommendations: implicit ALS on purchase-line counts, popularity for cold users.

X is the customers × items matrix of purchase lines dated before the cutoff (value = number of lines).
ALS (implicit.cpu.als, conjugate gradient, float32, 15 iterations, random_state 42, one thread):
confidence of an observed pair = alpha · count, score = user factor · item factor. Previously bought items
are not excluded (the truth counts repurchases, as in tagcenter's backtest and P5). A customer without
training purchases gets the popularity list (distinct training customers per item). The extra
`als_buy_again` blend adds w · (own count / own max count) to (1 − w) · (ALS score / own max ALS score).
Grid (chosen by validation NDCG@10 in run.py): factors × alpha at regularization 0.1, one step beyond the
grid's edge where the best sits on it (2 × factors, 2.5 × alpha), then the regularizations at the best.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

FACTORS = [32, 64, 128]
REGULARIZATION = [0.01, 0.1, 1.0]
ALPHA = [1.0, 10.0, 40.0]
BLEND_W = [0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0]


def matrix(c, item, n_users: int, n_items: int) -> sp.csr_matrix:
    x = sp.csr_matrix((np.ones(len(c), dtype=np.float32), (c, item)), shape=(n_users, n_items))
    x.sum_duplicates()
    return x


def popularity(x: sp.csr_matrix) -> np.ndarray:
    return np.asarray((x > 0).sum(axis=0)).ravel().astype(float)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Best k per row, best first; within the k, ties go to the lower item index (a tie across the k-th
    place is broken arbitrarily by argpartition: scores are continuous, so this is rare)."""
    part = np.sort(np.argpartition(-scores, k - 1, axis=1)[:, :k], axis=1)
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def fit_als(x: sp.csr_matrix, factors: int, regularization: float, alpha: float, seed: int = 42):
    from implicit.cpu.als import AlternatingLeastSquares

    m = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha, iterations=15,
                                random_state=seed, num_threads=1, calculate_training_loss=False)
    m.fit(x, show_progress=False)
    return np.asarray(m.user_factors), np.asarray(m.item_factors)


def recommend(users: np.ndarray, x: sp.csr_matrix, uf, itf, w_buy_again: float, pop: np.ndarray, k: int = 10,
              batch: int = 4096) -> list:
    """Top-k per user in `users` (customer indices); users without training rows get popularity."""
    rows_nnz = np.diff(x.indptr)
    pop_list = np.argsort(-pop, kind="stable")[:k]
    out = [None] * len(users)
    warm = np.flatnonzero(rows_nnz[users] > 0)
    for i in np.flatnonzero(rows_nnz[users] == 0):
        out[i] = pop_list
    for b in range(0, len(warm), batch):
        pos = warm[b : b + batch]
        u = users[pos]
        s = np.zeros((len(u), x.shape[1]))
        if w_buy_again < 1.0:
            a = uf[u] @ itf.T
            a = np.clip(a, 0.0, None) / np.maximum(a.max(axis=1, keepdims=True), 1e-12)
            s += (1.0 - w_buy_again) * a
        if w_buy_again > 0.0:
            own = x[u].toarray()
            s += w_buy_again * own / np.maximum(own.max(axis=1, keepdims=True), 1e-12)
        # Popularity as a vanishing tie-breaker (pure buy-again lists fill up with popular items).
        s += 1e-9 * pop / pop.max()
        top = top_k(s, k)
        for j, p in enumerate(pos):
            out[p] = top[j]
    return out
