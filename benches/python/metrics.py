"""The backtest metrics, defined as tagcenter's training/src/eval/{classification,ranking,timing}.rs
(which follow ../shared/reference/PROTOCOLS.md "Common rules")."""
from __future__ import annotations

import math

import numpy as np


def classification(y, p) -> dict:
    """Positive class = churner. ROC AUC (ties half), average precision, log loss (clipped to
    [1e-15, 1 − 1e-15]), accuracy at p ≥ 0.5, top-decile lift (stable sort), Brier."""
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    n_top = int(math.ceil(0.1 * len(y)))
    order = np.argsort(-p, kind="mergesort")
    return {
        "n": int(len(y)),
        "positive_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, pc, labels=[0, 1])),
        "accuracy": float(np.mean((p >= 0.5).astype(int) == y)),
        "lift_top_decile": float(y[order[:n_top]].mean() / y.mean()),
        "brier": float(np.mean((p - y) ** 2)),
    }


def timing(predicted, actual) -> dict:
    """predicted / actual: float arrays of day numbers, NaN = no date / no purchase in the horizon.
    Errors are scored on buyers who received a date; coverage = scored / buyers; false_date_rate = share
    of non-buyers given a date."""
    predicted = np.asarray(predicted, dtype=float)
    actual = np.asarray(actual, dtype=float)
    has_p, has_a = ~np.isnan(predicted), ~np.isnan(actual)
    err = np.abs(predicted[has_p & has_a] - actual[has_p & has_a])
    buyers, non_buyers = int(has_a.sum()), int((~has_a).sum())
    scored = len(err)
    nan = float("nan")
    return {
        "customers": int(len(actual)),
        "buyers": buyers,
        "scored": scored,
        "mae_days": float(err.mean()) if scored else nan,
        "median_ae_days": float(np.median(err)) if scored else nan,
        "within_7d": float(np.mean(err <= 7)) if scored else nan,
        "within_14d": float(np.mean(err <= 14)) if scored else nan,
        "coverage": scored / buyers if buyers else nan,
        "false_empty_rate": (buyers - scored) / buyers if buyers else nan,
        "false_date_rate": float((has_p & ~has_a).sum()) / non_buyers if non_buyers else nan,
    }


def ranking(recs: list, truth: list, k: int, n_catalog: int) -> dict:
    """recs: one ranked item list per user; truth: one set per user (same order). precision@k = hits/k,
    recall@k = hits/|truth|, NDCG@k with binary gains and IDCG over min(|truth|, k), hit rate, coverage =
    distinct recommended items / items with a training interaction. Users with an empty truth skipped."""
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    prec, rec, ndcg, hit = [], [], [], []
    recommended = set()
    for r, t in zip(recs, truth):
        if not t:
            continue
        r = list(r)[:k]
        recommended.update(r)
        rel = np.array([1.0 if i in t else 0.0 for i in r] + [0.0] * (k - len(r)))
        h = rel.sum()
        prec.append(h / k)
        rec.append(h / len(t))
        ndcg.append(float((rel * disc).sum() / disc[: min(len(t), k)].sum()))
        hit.append(float(h > 0))
    n = len(prec)
    return {
        "k": k,
        "users": n,
        "precision": float(np.mean(prec)),
        "recall": float(np.mean(rec)),
        "ndcg": float(np.mean(ndcg)),
        "ndcg_se": float(np.std(ndcg, ddof=1) / math.sqrt(n)) if n > 1 else 0.0,
        "hit_rate": float(np.mean(hit)),
        "coverage": len(recommended) / n_catalog if n_catalog else 0.0,
    }
