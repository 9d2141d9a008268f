"""lifetimes BG/NBD per cutoff: P(alive), P(no purchase in the horizon), and next-purchase-date rules.

Time unit: weeks (days / 7). A customer's summary as of cutoff day d uses their distinct purchase days
before d: x = days − 1, t_x = (last − first) / 7, T = (d − 1 − first) / 7 (observation ends the day
before the cutoff, as in Fader, Hardie & Lee 2005 and as tagcenter does).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

UNIT = 7.0


def summary(days: pd.DataFrame, cutoff: int) -> pd.DataFrame:
    """days: distinct (c, day) purchase days. Returns per customer with a purchase before `cutoff`:
    x, t_x, T (weeks), first, last, n_days, own median gap in days (NaN with one purchase day)."""
    d = days[days["day"] < cutoff]
    g = d.groupby("c")["day"]
    out = pd.DataFrame({"first": g.min(), "last": g.max(), "n_days": g.size()})
    out["x"] = (out["n_days"] - 1).astype(float)
    out["t_x"] = (out["last"] - out["first"]) / UNIT
    out["T"] = (cutoff - 1 - out["first"]) / UNIT
    gaps = d["day"].diff()
    gaps[d["c"] != d["c"].shift()] = np.nan
    out["median_gap"] = gaps.groupby(d["c"]).median()
    out.attrs["pooled_median_gap"] = float(np.nanmedian(gaps.to_numpy()))
    return out


class BgNbd:
    """A lifetimes.BetaGeoFitter fitted on one cutoff's summaries (identical summaries weighted)."""

    def __init__(self, s: pd.DataFrame, penalizer: float = 0.0):
        from lifetimes import BetaGeoFitter

        triples = s.groupby(["x", "t_x", "T"]).size().reset_index(name="w")
        self.fitter = BetaGeoFitter(penalizer_coef=penalizer)
        self.fitter.fit(triples["x"], triples["t_x"], triples["T"], weights=triples["w"])
        p = self.fitter.params_
        self.r, self.alpha, self.a, self.b = float(p["r"]), float(p["alpha"]), float(p["a"]), float(p["b"])

    def p_alive(self, s):
        return np.asarray(self.fitter.conditional_probability_alive(s["x"], s["t_x"], s["T"]), dtype=float)

    def p_no_purchase(self, s, horizon_days: float):
        """P(no purchase in the next horizon | x, t_x, T) = 1 − P(alive)(1 − ((α+T)/(α+T+h))^(r+x)):
        alive, the BG/NBD cannot drop out before its next purchase, and λ | data ~ Gamma(r+x, α+T)."""
        h = horizon_days / UNIT
        at = self.alpha + s["T"].to_numpy()
        rx = self.r + s["x"].to_numpy()
        return 1.0 - self.p_alive(s) * (1.0 - (at / (at + h)) ** rx)

    def expected(self, s, days: float):
        return np.asarray(self.fitter.conditional_expected_number_of_purchases_up_to_time(
            days / UNIT, s["x"], s["t_x"], s["T"]), dtype=float)

    def median_wait_alive(self, s):
        """Median wait (days) to the next purchase of an alive customer: Lomax(r+x, α+T) median."""
        at = self.alpha + s["T"].to_numpy()
        rx = self.r + s["x"].to_numpy()
        return at * (2.0 ** (1.0 / rx) - 1.0) * UNIT

    def median_wait_within(self, s, horizon_days: float):
        """Median of that wait truncated to the horizon (the next purchase is known to fall in it)."""
        h = horizon_days / UNIT
        at = self.alpha + s["T"].to_numpy()
        rx = self.r + s["x"].to_numpy()
        f = 1.0 - (at / (at + h)) ** rx
        return at * ((1.0 - 0.5 * f) ** (-1.0 / rx) - 1.0) * UNIT


PREDICTORS = ["gap_roll_forward", "gap_from_last", "bgnbd_median_alive", "bgnbd_median_within", "constant"]


def dates(rule: str, s: pd.DataFrame, model: BgNbd, cutoff: int, horizon: int, constant_wait: float):
    """Predicted next purchase day per row of `s`, clamped to [cutoff, cutoff + horizon − 1]."""
    gap = s["median_gap"].fillna(s.attrs["pooled_median_gap"]).clip(lower=1.0).to_numpy()
    last = s["last"].to_numpy().astype(float)
    if rule == "gap_roll_forward":  # last + k·gap, smallest k ≥ 1 on or after the cutoff
        k = np.maximum(np.ceil((cutoff - last) / gap), 1.0)
        day = last + k * gap
    elif rule == "gap_from_last":
        day = last + gap
    elif rule == "bgnbd_median_alive":
        day = cutoff - 1 + np.maximum(np.ceil(model.median_wait_alive(s)), 1.0)
    elif rule == "bgnbd_median_within":
        day = cutoff - 1 + np.maximum(np.ceil(model.median_wait_within(s, horizon)), 1.0)
    elif rule == "constant":
        day = np.full(len(s), cutoff + constant_wait)
    else:
        raise ValueError(rule)
    return np.clip(np.round(day), cutoff, cutoff + horizon - 1)


def first_in_window(days: pd.DataFrame, start: int, end: int) -> pd.Series:
    """First purchase day in [start, end) per customer who has one."""
    w = days[(days["day"] >= start) & (days["day"] < end)]
    return w.groupby("c")["day"].min()


def choose_rule(days: pd.DataFrame, cutoff: int, horizon: int, min_return: float, penalizer: float):
    """Validation carved from the training period: refit at cutoff − H on purchases before it and score
    every rule on the first purchase in [cutoff − H, cutoff) of the earlier buyers who get a date
    (P(return) ≥ min_return). Returns (best rule, constant wait, {rule: MAE}, scored buyers)."""
    start = cutoff - horizon
    s = summary(days, start)
    model = BgNbd(s, penalizer)
    actual = first_in_window(days, start, cutoff).reindex(s.index)
    buyers = actual.notna().to_numpy()
    shown = (1.0 - model.p_no_purchase(s, horizon)) >= min_return
    use = buyers & shown
    constant = float(np.median(actual.to_numpy()[use] - start))
    scores = {}
    for rule in PREDICTORS:
        pred = dates(rule, s[use], model, start, horizon, constant)
        scores[rule] = float(np.mean(np.abs(pred - actual.to_numpy()[use])))
    best = min(scores, key=scores.get)
    return best, constant, scores, int(use.sum())
