"""The "competent Python pipeline" on tagcenter's demo data, with tagcenter's backtest protocol.

    python run.py DATA_DIR UNIFIED_DIR [--tagcenter-metrics METRICS_JSON] [--out RESULTS_JSON]

DATA_DIR holds the raw exports and tagcenter.toml; UNIFIED_DIR is the `unified/` folder of a
`tagcenter-train train` run on them (its identity_map.csv gives the unified customer of every record).
With reference date T (2024-07-01) and horizon H = 92 days:
- churn: fitted on features as of T − 2H labelled on [T − 2H, T − H) (no purchase = churned), scored on
  features as of T − H against [T − H, T), on every customer with a purchase before the cutoff, and on
  those with recency ≤ 180 days;
- timing: BG/NBD and gap rules on purchases before T − H; scored on the first purchase in [T − H, T);
  a date only when the BG/NBD P(at least one purchase in H) ≥ 0.5;
- recommendations: fitted on purchases before T − H; top-10 for every customer who bought in
  [T − H, T); truth = the distinct items they bought in it.
Every hyper-parameter is chosen on a validation window carved from the training period.
"""
from __future__ import annotations

import os

for _v in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]:
    os.environ.setdefault(_v, "1")

import argparse
import json
import platform
import resource
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import churn  # noqa: E402
import metrics  # noqa: E402
import recs  # noqa: E402
import timing  # noqa: E402
from load import compare_with_profiles, day_number, load_lines  # noqa: E402

HORIZON = 92
MIN_RETURN = 0.5
VAL_USERS = 20000


class Clock:
    """Wall seconds and peak RSS per stage."""

    def __init__(self):
        self.t0 = self.last = time.perf_counter()
        self.stages = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stages.append({"stage": name, "seconds": round(now - self.last, 2), "peak_rss_mib": round(peak)})
        print(f"  {name:<28} {now - self.last:7.1f} s  peak {peak:6.0f} MiB", file=sys.stderr, flush=True)
        self.last = now


def bgnbd_extras(s: pd.DataFrame, model: timing.BgNbd) -> pd.DataFrame:
    return pd.DataFrame({
        "bgnbd_p_alive": model.p_alive(s),
        "bgnbd_p_no_purchase": model.p_no_purchase(s, HORIZON),
        "bgnbd_expected_90d": model.expected(s, 90.0),
    }, index=s.index)


def churn_backtest(lines, days, static_flags, categories, t, clock, dated=True):
    h = HORIZON
    old, mid = t - 2 * h, t - h
    shares = [f"share_{c}" for c in categories]
    sets = {
        "rfm": churn.RFM,
        "purchase": churn.PURCHASE + shares,
        "purchase+identity": churn.PURCHASE + shares + churn.IDENTITY,
        "purchase+identity+bgnbd": churn.PURCHASE + shares + churn.IDENTITY + churn.BGNBD,
    }
    views = {}
    for name, cut in [("old", old), ("mid", mid)]:
        s = timing.summary(days, cut)
        model = timing.BgNbd(s)
        flags = churn.dated_flags(lines, static_flags, cut) if dated else static_flags
        f = churn.features(lines, days, flags, cut, categories).join(bgnbd_extras(s, model))
        bought = set(days.loc[(days["day"] >= cut) & (days["day"] < cut + h), "c"])
        y = (~f.index.isin(bought)).astype(int)
        views[name] = (f, y, s, model)
        clock.lap(f"churn_features_and_bgnbd_{name}")
    f_old, y_old, _, _ = views["old"]
    model, cols, choice, val = churn.fit(f_old, y_old, sets)
    base = churn.recency_baseline(f_old, y_old)
    clock.lap("churn_fit")
    f_mid, y_mid, s_mid, bg_mid = views["mid"]
    p = model.predict_proba(churn.matrix(f_mid, cols))[:, 1]
    pb = base.predict_proba(f_mid[["recency_days"]].to_numpy(dtype=float))[:, 1]
    active = (f_mid["recency_days"] <= 180).to_numpy()
    out = {
        "churn": {"model": metrics.classification(y_mid, p), "baseline": metrics.classification(y_mid, pb)},
        "churn_active_180d": {"model": metrics.classification(y_mid[active], p[active]),
                              "baseline": metrics.classification(y_mid[active], pb[active])},
        "churn_choice": choice,
        "churn_validation_auc": val,
        "churn_train_rows": int(len(f_old)),
        "bgnbd_params_t_minus_h": {"r": bg_mid.r, "alpha": bg_mid.alpha, "a": bg_mid.a, "b": bg_mid.b},
    }
    clock.lap("churn_scores")
    return out, s_mid, bg_mid


def timing_backtest(days, s_mid, bg_mid, t, clock):
    h = HORIZON
    mid = t - h
    rule, constant, val, n_val = timing.choose_rule(days, mid, h, MIN_RETURN, 0.0)
    actual = timing.first_in_window(days, mid, t).reindex(s_mid.index).to_numpy(dtype=float)
    shown = (1.0 - bg_mid.p_no_purchase(s_mid, h)) >= MIN_RETURN
    every = {}
    for r in timing.PREDICTORS:
        d = timing.dates(r, s_mid, bg_mid, mid, h, constant).astype(float)
        gated = np.where(shown, d, np.nan)
        every[r] = {"gated": metrics.timing(gated, actual), "every_customer": metrics.timing(d, actual)}
    base = np.full(len(s_mid), float(mid + round(constant)))
    out = {
        "timing": {"model": every[rule]["gated"], "baseline": metrics.timing(base, actual)},
        "timing_model_every_customer": every[rule]["every_customer"],
        "timing_predictor": rule,
        "timing_validation_mae": val,
        "timing_validation_buyers": n_val,
        "timing_constant_wait_days": constant,
        "timing_every_rule_on_test": every,
    }
    clock.lap("timing")
    return out


def recs_backtest(c, it, day, n_users, n_items, t, clock):
    h = HORIZON
    mid = t - h

    def split(cut, end):
        tr = day < cut
        x = recs.matrix(c[tr], it[tr], n_users, n_items)
        win = (day >= cut) & (day < end)
        tdf = pd.DataFrame({"c": c[win], "i": it[win]}).drop_duplicates()
        truth = tdf.groupby("c")["i"].apply(set)
        return x, truth.index.to_numpy(), truth.tolist()

    # Validation: the same rule one horizon earlier, on a sample of the window's customers who have
    # training rows (cold customers get the popularity list whatever the configuration).
    xv, users_v, truth_v = split(mid - h, mid)
    warm = np.diff(xv.indptr)[users_v] > 0
    users_v, truth_v = users_v[warm], [tt for tt, w in zip(truth_v, warm) if w]
    pick = np.sort(np.random.default_rng(42).permutation(len(users_v))[:VAL_USERS])
    users_v, truth_v = users_v[pick], [truth_v[i] for i in pick]
    pop_v = recs.popularity(xv)
    ncat_v = int((pop_v > 0).sum())
    grid = {}

    def score(uf, itf, w):
        r = recs.recommend(users_v, xv, uf, itf, w, pop_v)
        return metrics.ranking(r, truth_v, 10, ncat_v)["ndcg"]

    def name(k):
        return f"als f={k[0]} reg={k[1]} alpha={k[2]}"

    best, best_factors = None, None

    def try_als(key):
        nonlocal best, best_factors
        factors = recs.fit_als(xv, *key)
        grid[name(key)] = score(*factors, 0.0)
        print(f"    {name(key)}: validation NDCG@10 {grid[name(key)]:.4f}", file=sys.stderr, flush=True)
        if best is None or grid[name(key)] > grid[name(best)]:
            best, best_factors = key, factors

    # Stage 1: factors × alpha at regularization 0.1.
    for f in recs.FACTORS:
        for a in recs.ALPHA:
            try_als((f, 0.1, a))
    # Stage 2: when the best sits on the grid's edge in factors or alpha, one step further out.
    f1, r1, a1 = best
    if f1 == max(recs.FACTORS):
        try_als((2 * f1, r1, a1))
    if a1 == max(recs.ALPHA):
        try_als((f1, r1, 2.5 * a1))
    # Stage 3: the other regularizations at the best so far.
    f1, _, a1 = best
    for reg in recs.REGULARIZATION:
        if name((f1, reg, a1)) not in grid:
            try_als((f1, reg, a1))
    blend = {w: score(*best_factors, w) for w in recs.BLEND_W}
    for w, v in blend.items():
        grid[f"{name(best)} + buy_again w={w}"] = v
    w_best = max(blend, key=blend.get)
    del best_factors
    clock.lap("recs_validation")

    x, users, truth = split(mid, t)
    pop = recs.popularity(x)
    ncat = int((pop > 0).sum())
    uf, itf = recs.fit_als(x, *best)
    clock.lap("recs_als_fit")
    res = {}
    for method, w in [("als", 0.0), ("als_buy_again", w_best), ("buy_again", 1.0)]:
        res[method] = metrics.ranking(recs.recommend(users, x, uf, itf, w, pop), truth, 10, ncat)
    pop_list = [np.argsort(-pop, kind="stable")[:10]] * len(users)
    out = {
        "recommendations": {"model": res["als"], "baseline": metrics.ranking(pop_list, truth, 10, ncat)},
        "recommendations_als_buy_again": res["als_buy_again"],
        "recommendations_buy_again": res["buy_again"],
        "recs_choice": f"ALS factors={best[0]} regularization={best[1]} alpha={best[2]}; blend w_buy_again={w_best}",
        "recs_validation_ndcg": grid,
        "recs_cold_users": int((np.diff(x.indptr)[users] == 0).sum()),
    }
    clock.lap("recs_scores")
    return out


def table(py: dict, tc: dict | None) -> str:
    rows = [
        ("churn roc_auc", ("churn", "roc_auc")),
        ("churn roc_auc active 180d", ("churn_active_180d", "roc_auc")),
        ("churn log_loss", ("churn", "log_loss")),
        ("churn pr_auc", ("churn", "pr_auc")),
        ("timing mae_days", ("timing", "mae_days")),
        ("timing within_14d", ("timing", "within_14d")),
        ("timing coverage", ("timing", "coverage")),
        ("recs recall@10", ("recommendations", "recall")),
        ("recs ndcg@10", ("recommendations", "ndcg")),
    ]
    head = f"{'metric':<28}{'python':>10}{'py base':>10}"
    if tc:
        head += f"{'tagcenter':>11}{'tc base':>10}"
    lines = [head]
    for label, (sec, key) in rows:
        line = f"{label:<28}{py[sec]['model'][key]:>10.4f}{py[sec]['baseline'][key]:>10.4f}"
        if tc:
            line += f"{tc[sec]['model'][key]:>11.4f}{tc[sec]['baseline'][key]:>10.4f}"
        lines.append(line)
    leaky = py.get("churn_with_static_identity_flags")
    if leaky:
        lines.append(f"{'churn roc_auc, static flags':<28}{leaky['churn']['model']['roc_auc']:>10.4f}")
        lines.append(f"{'  active 180d, static flags':<28}{leaky['churn_active_180d']['model']['roc_auc']:>10.4f}")
    extra = py["recommendations_als_buy_again"]
    lines.append(f"{'recs recall@10 ALS+buy-again':<28}{extra['recall']:>10.4f}")
    lines.append(f"{'recs ndcg@10 ALS+buy-again':<28}{extra['ndcg']:>10.4f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description="Competent Python pipeline, tagcenter backtest protocol")
    ap.add_argument("data_dir", help="folder with the raw exports and tagcenter.toml")
    ap.add_argument("unified_dir", help="unified/ folder of a tagcenter-train run on the same data")
    ap.add_argument("--reference-date", default="2024-07-01")
    ap.add_argument("--tagcenter-metrics", help="report/metrics.json of that run, printed beside ours")
    ap.add_argument("--out", default="python_backtest.json")
    ap.add_argument("--static-identity-flags", action="store_true",
                    help="also fit churn with identity flags from the final identity map (leaks the window)")
    args = ap.parse_args()
    clock = Clock()
    t = day_number(args.reference_date)

    lines, ids, report = load_lines(args.data_dir, args.unified_dir, args.reference_date)
    clock.lap("load")
    check = None
    if os.path.exists(os.path.join(args.unified_dir, "profiles.parquet")):
        try:
            check = compare_with_profiles(lines, args.unified_dir, args.reference_date)
        except ImportError:  # no parquet engine: the check is optional
            pass
    customers = pd.Index(np.sort(lines["customer_id"].unique()))
    lines["c"] = customers.get_indexer(lines["customer_id"]).astype(np.int32)
    lines["anonymous"] = lines["record_key"].str.startswith("R:")
    lines["record"] = pd.factorize(lines["source"] + ":" + lines["record_key"])[0].astype(np.int32)
    lines = lines.drop(columns=["customer_id", "record_key"])
    buys = lines[lines["purchase"]]
    items = pd.Index(np.sort(buys["item"].unique()))
    days = buys[["c", "day"]].drop_duplicates().sort_values(["c", "day"]).reset_index(drop=True)
    flags = churn.identity_flags(ids, customers)
    del ids
    categories = sorted(lines["category"].unique())
    clock.lap("encode")

    results = {"cutoff_day": t - HORIZON, "reference_day": t, "load_report": report.counts,
               "check_against_tagcenter_profiles": check}
    out, s_mid, bg_mid = churn_backtest(lines, days, flags, categories, t, clock)
    results.update(out)
    if args.static_identity_flags:
        leaky, _, _ = churn_backtest(lines, days, flags, categories, t, clock, dated=False)
        results["churn_with_static_identity_flags"] = {k: leaky[k] for k in
                                                       ["churn", "churn_active_180d", "churn_choice"]}
    results.update(timing_backtest(days, s_mid, bg_mid, t, clock))
    results.update(recs_backtest(buys["c"].to_numpy(), items.get_indexer(buys["item"]), buys["day"].to_numpy(),
                                 len(customers), len(items), t, clock))
    results["stages"] = clock.stages
    results["total_seconds"] = round(time.perf_counter() - clock.t0, 1)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    results["environment"] = {"python": platform.python_version(), "loadavg_at_end": os.getloadavg(),
                              "threads": os.environ["OMP_NUM_THREADS"]}
    tc = None
    if args.tagcenter_metrics:
        with open(args.tagcenter_metrics) as f:
            tc = json.load(f)
        results["tagcenter"] = tc
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1, default=float)
    print(table(results, tc))
    print(f"churn: {results['churn_choice']}; timing: {results['timing_predictor']}; recs: {results['recs_choice']}")
    print(f"total {results['total_seconds']} s, peak {results['peak_rss_mib']} MiB; results in {args.out}")


if __name__ == "__main__":
    main()
