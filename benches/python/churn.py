"""Churn: pandas RFM features as of a cutoff → standardised scikit-learn LogisticRegression.

The feature set and C are chosen on a stratified 80/20 customer split of the training rows (the
customers of the T − 2H view, labelled on [T − 2H, T − H)); the winner is refitted on all training rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

RFM = ["recency_days", "purchase_days", "monetary"]
PURCHASE = RFM + [
    "tenure_days", "orders", "avg_order_value", "mean_gap_days", "median_gap_days", "last_gap_days",
    "overdue_ratio", "days_30d", "days_90d", "days_180d", "spend_90d", "distinct_items", "lines_per_order",
    "web_share", "returns", "return_share",
]
IDENTITY = ["anonymous_only", "has_web", "has_card", "has_crm", "records"]
BGNBD = ["bgnbd_p_alive", "bgnbd_p_no_purchase", "bgnbd_expected_90d"]
# Heavy-tailed counts, money and day spans enter as log1p.
LOG = {"recency_days", "purchase_days", "monetary", "tenure_days", "orders", "avg_order_value", "mean_gap_days",
       "median_gap_days", "last_gap_days", "overdue_ratio", "days_30d", "days_90d", "days_180d", "spend_90d",
       "distinct_items", "lines_per_order", "returns", "records", "bgnbd_expected_90d"}
C_GRID = [0.001, 0.01, 0.1, 1.0, 10.0]


def identity_flags(ids: pd.DataFrame, customers: pd.Index) -> pd.DataFrame:
    """Which sources a unified customer's records come from, from the final identity map
    (identity_map.csv, built on all data up to T). Only `has_crm` is used as is (CRM contacts carry no
    date); the others leak the label window when used as of an earlier cutoff (a web account first seen
    in [T − H, T) says the customer bought then) and are recomputed per cutoff by `dated_flags`. They are
    kept to measure that leak (`--static-identity-flags`)."""
    ids = ids.assign(c=customers.get_indexer(ids["customer_id"]))
    ids = ids[ids["c"] >= 0]
    anon = ids["anonymous"] == "true"
    by = ids["c"]
    out = pd.DataFrame({
        "records": by.value_counts(),
        "anonymous_only": (~anon).groupby(by).sum() == 0,
        "has_web": (ids["source"] == "web").groupby(by).any(),
        "has_card": ((ids["source"] == "pos") & ~anon).groupby(by).any(),
        "has_crm": (ids["source"] == "crm").groupby(by).any(),
    })
    return out.astype(float)


def dated_flags(lines: pd.DataFrame, static: pd.DataFrame, cutoff: int) -> pd.DataFrame:
    """The identity flags as of `cutoff`: from the transaction records seen before it (web account,
    member card, anonymous receipt), plus the undated CRM flag."""
    before = lines[lines["day"] < cutoff]
    by = before["c"]
    out = pd.DataFrame({
        "records": before.groupby("c")["record"].nunique(),
        "anonymous_only": (~before["anonymous"]).groupby(by).sum() == 0,
        "has_web": (before["source"] == "web").groupby(by).any(),
        "has_card": ((before["source"] == "pos") & ~before["anonymous"]).groupby(by).any(),
    }).astype(float)
    return out.join(static[["has_crm"]], how="left")


def features(lines: pd.DataFrame, days: pd.DataFrame, flags: pd.DataFrame, cutoff: int,
             categories: list) -> pd.DataFrame:
    """Per customer with a purchase before `cutoff`: purchase features from lines dated before it, the
    identity flags, and spend shares per top-level category. `lines` has integer customer column `c`."""
    before = lines[lines["day"] < cutoff]
    buys = before[before["purchase"]]
    d = days[days["day"] < cutoff]
    g = d.groupby("c")["day"]
    f = pd.DataFrame({"first": g.min(), "last": g.max(), "purchase_days": g.size()})
    f["recency_days"] = cutoff - f["last"]
    f["tenure_days"] = cutoff - f["first"]
    gaps = d["day"].diff()
    gaps[d["c"] != d["c"].shift()] = np.nan
    f["median_gap_days"] = gaps.groupby(d["c"]).median()
    f["last_gap_days"] = gaps.groupby(d["c"]).last()
    span = f["last"] - f["first"]
    f["mean_gap_days"] = np.where(f["purchase_days"] > 1, span / (f["purchase_days"] - 1).clip(lower=1),
                                  f["tenure_days"])
    f["median_gap_days"] = f["median_gap_days"].fillna(f["tenure_days"])
    f["last_gap_days"] = f["last_gap_days"].fillna(f["tenure_days"])
    f["overdue_ratio"] = f["recency_days"] / f["mean_gap_days"].clip(lower=1)
    for w in (30, 90, 180):
        f[f"days_{w}d"] = d[d["day"] >= cutoff - w].groupby("c").size()
    bg = buys.groupby("c")
    f["monetary"] = bg["amount"].sum()
    f["orders"] = bg["order"].nunique()
    f["avg_order_value"] = f["monetary"] / f["orders"]
    f["spend_90d"] = buys[buys["day"] >= cutoff - 90].groupby("c")["amount"].sum()
    f["distinct_items"] = bg["item"].nunique()
    f["lines_per_order"] = bg.size() / f["orders"]
    f["web_share"] = (buys["channel"] == "web").groupby(buys["c"]).mean()
    ret = before[~before["purchase"]]
    f["returns"] = ret.groupby("c").size()
    f["return_share"] = f["returns"] / bg.size()
    spend = buys.pivot_table(index="c", columns="category", values="amount", aggfunc="sum", fill_value=0.0)
    spend = spend.reindex(columns=categories, fill_value=0.0)
    shares = spend.div(spend.sum(axis=1).where(lambda s: s > 0), axis=0)
    shares.columns = [f"share_{c}" for c in categories]
    f = f.join(shares).join(flags, how="left")
    return f.fillna(0.0)


def matrix(f: pd.DataFrame, columns: list) -> np.ndarray:
    x = f[columns].to_numpy(dtype=float).copy()
    for j, c in enumerate(columns):
        if c in LOG:
            x[:, j] = np.log1p(np.clip(x[:, j], 0.0, None))
    return x


def _model(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, solver="lbfgs", max_iter=10000))


def fit(f: pd.DataFrame, y: np.ndarray, feature_sets: dict, seed: int = 42):
    """Chooses (feature set, C) by validation ROC AUC on a stratified 20 % of the training customers,
    refits on all. Returns (pipeline, columns, choice name, {name: validation AUC})."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(f))
    tr, va = train_test_split(idx, test_size=0.2, stratify=y, random_state=seed)
    scores = {}
    for name, cols in feature_sets.items():
        x = matrix(f, cols)
        for c in C_GRID:
            m = _model(c).fit(x[tr], y[tr])
            scores[(name, c)] = float(roc_auc_score(y[va], m.predict_proba(x[va])[:, 1]))
    (name, c) = max(scores, key=scores.get)
    cols = feature_sets[name]
    model = _model(c).fit(matrix(f, cols), y)
    return model, cols, f"{name}, C={c}", {f"{n}, C={cc}": v for (n, cc), v in scores.items()}


def recency_baseline(f_train: pd.DataFrame, y: np.ndarray):
    """The baseline: a one-feature logistic regression on recency days (as tagcenter's)."""
    return _model(1.0).fit(f_train[["recency_days"]].to_numpy(dtype=float), y)
