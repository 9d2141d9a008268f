"""Purchase lines of the demo retailer, joined to tagcenter's unified customer IDs.

Reads the raw exports named in the folder's tagcenter.toml (online_orders.csv, pos_transactions.csv,
products.csv) with pandas, cleans them with the rules a data scientist would write after reading
HANDOVER.md (and that the source config spells out), and maps every line to the unified customer that
tagcenter's identity resolution gave its record, through `identity_map.csv` (customer_id, source,
record_key, anonymous) of a `tagcenter-train unify/train` run.

Cleaning (each rule counted in `LoadReport.counts`):
- web: repeated header lines and exact duplicate rows dropped; `ordered_at` parsed as ISO-8601 with its
  offset (`+08:00` or `Z`), or `%Y/%m/%d %H:%M` / `%d.%m.%Y %H:%M` / `%Y-%m-%d %H:%M:%S` as China time;
  impossible dates (30 Feb, ...) and dates outside [2015-01-01, reference date + 1 day) dropped; empty
  SKU or quantity dropped; quantity 0 or |quantity| > 200 dropped; amount = unit_price × qty, or the
  catalog list price × qty when the price is empty.
- pos: lines with a wrong number of fields dropped; exact duplicates dropped; `sold_at` as China time;
  barcodes padded back to 13 digits and mapped to the web SKU through products.csv; amount = fen / 100
  (catalog price × qty when empty), made negative for returns, and repaired ×/÷100 when the unit price is
  70–130× off the list price; same quantity rules. A receipt without a card is its own record
  `R:<receipt_no>` (as in tagcenter.toml).
- A purchase is a line with quantity > 0 and amount ≥ 0; returns (negative quantity) are kept apart.
- Days are local (UTC+8) day numbers since 1970-01-01.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TZ_HOURS = 8
MAX_QTY = 200
MAX_AMOUNT = 50000.0


@dataclass
class LoadReport:
    """Row counts per cleaning rule and source."""

    counts: dict = field(default_factory=dict)

    def add(self, key: str, n: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + int(n)


def day_number(date: str) -> int:
    """Local day number (days since 1970-01-01) of a YYYY-MM-DD date."""
    return int((pd.Timestamp(date) - pd.Timestamp("1970-01-01")).days)


def _local_day(utc: pd.Series) -> pd.Series:
    """Local (UTC+8) day numbers of tz-aware UTC timestamps (NaN for NaT)."""
    return ((utc.dt.tz_convert(None) - pd.Timestamp("1970-01-01")) + pd.Timedelta(hours=TZ_HOURS)).dt.days


def _parse_local(raw: pd.Series, formats: list[str]) -> pd.Series:
    """Naive local timestamps in one of `formats`, as UTC."""
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = out.isna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(raw[todo], format=fmt, errors="coerce")
    return (out - pd.Timedelta(hours=TZ_HOURS)).dt.tz_localize("UTC")


def load_catalog(data_dir: str):
    """products.csv → (sku → list price, EAN-13 → sku, sku → top-level web category)."""
    p = pd.read_csv(os.path.join(data_dir, "products.csv"), dtype=str, keep_default_na=False)
    p["sku"] = p["sku"].str.strip().str.upper()
    p["price"] = pd.to_numeric(p["price"], errors="coerce")
    # A SKU listed twice after a price change: keep its last listing.
    last = p.drop_duplicates("sku", keep="last").set_index("sku")
    price = last["price"]
    category = last["ecommerce_category"].str.split(">").str[0].str.strip().replace("", "Uncategorized")
    codes = p[p["product_code"].str.strip() != ""].copy()
    codes["ean"] = codes["product_code"].str.strip().str.zfill(13)
    ean_to_sku = codes.drop_duplicates("ean", keep="last").set_index("ean")["sku"]
    return price, ean_to_sku, category


def _quantity_rules(df: pd.DataFrame, qty_col: str, report: LoadReport, src: str) -> pd.DataFrame:
    q = pd.to_numeric(df[qty_col].str.strip(), errors="coerce")
    bad = q.isna()
    report.add(f"{src}.missing_or_bad_quantity", bad.sum())
    df, q = df[~bad].copy(), q[~bad]
    zero = q == 0
    absurd = q.abs() > MAX_QTY
    report.add(f"{src}.zero_quantity", zero.sum())
    report.add(f"{src}.absurd_quantity", absurd.sum())
    keep = ~(zero | absurd)
    df = df[keep].copy()
    df["quantity"] = q[keep].astype(float)
    return df


def _date_rules(df: pd.DataFrame, ts: pd.Series, report: LoadReport, src: str, reference_date: str) -> pd.DataFrame:
    bad = ts.isna()
    report.add(f"{src}.bad_timestamp", bad.sum())
    day = _local_day(ts)
    out = ~bad & ((day < day_number("2015-01-01")) | (day >= day_number(reference_date) + 1))
    report.add(f"{src}.date_out_of_range", out.sum())
    keep = ~bad & ~out
    df = df[keep].copy()
    df["day"] = day[keep].astype(np.int32)
    return df


def load_web(data_dir: str, price: pd.Series, reference_date: str, report: LoadReport) -> pd.DataFrame:
    df = pd.read_csv(os.path.join(data_dir, "online_orders.csv"), dtype=str, keep_default_na=False)
    report.add("web.read", len(df))
    header = df["order_id"] == "order_id"
    report.add("web.repeated_header", header.sum())
    df = df[~header]
    dup = df.duplicated()
    report.add("web.duplicates", dup.sum())
    df = df[~dup]
    raw = df["ordered_at"].str.strip()
    iso = raw.str.contains(r"T\d\d:\d\d:\d\d", regex=True)
    ts = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    ts[iso] = pd.to_datetime(raw[iso], format="%Y-%m-%dT%H:%M:%S%z", utc=True, errors="coerce")
    other = ~iso & (raw != "")
    ts[other] = _parse_local(raw[other], ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M"])
    empty = raw == ""
    report.add("web.missing_timestamp", empty.sum())
    df, ts = df[~empty], ts[~empty]
    df = _date_rules(df, ts, report, "web", reference_date)
    df["item"] = df["sku"].str.strip().str.upper()
    noitem = df["item"] == ""
    report.add("web.missing_item", noitem.sum())
    df = df[~noitem]
    df = _quantity_rules(df, "qty", report, "web")
    unit = pd.to_numeric(df["unit_price"].str.strip(), errors="coerce")
    df["amount"] = unit * df["quantity"]
    missing = df["amount"].isna()
    df.loc[missing, "amount"] = df.loc[missing, "item"].map(price) * df.loc[missing, "quantity"]
    report.add("web.imputed_amount", missing.sum())
    noamount = df["amount"].isna()
    report.add("web.missing_amount", noamount.sum())
    df = df[~noamount]
    absurd = df["amount"].abs() > MAX_AMOUNT
    report.add("web.absurd_amount", absurd.sum())
    df = df[~absurd]
    df["source"] = "web"
    df["record_key"] = df["web_user_id"].str.strip()
    df["order"] = df["order_id"]
    df["channel"] = "web"
    return df[["source", "record_key", "order", "day", "item", "quantity", "amount", "channel"]]


def load_pos(data_dir: str, price: pd.Series, ean_to_sku: pd.Series, reference_date: str,
             report: LoadReport) -> pd.DataFrame:
    path = os.path.join(data_dir, "pos_transactions.csv")
    # The till export has no quoting, so a line's field count is its comma count + 1; lines with a wrong
    # count (a field dropped) would otherwise be padded silently by read_csv.
    raw_lines = pd.read_csv(path, sep="\x07", header=None, dtype=str, quoting=csv.QUOTE_NONE,
                            keep_default_na=False)[0]
    header = raw_lines.iloc[0].split(",")
    assert not raw_lines.str.contains('"', regex=False).any(), "quoted POS fields: use the csv module"
    raw_lines = raw_lines.iloc[1:]
    report.add("pos.read", len(raw_lines))
    good = raw_lines.str.count(",") == len(header) - 1
    report.add("pos.wrong_column_count", (~good).sum())
    df = raw_lines[good].str.split(",", expand=True)
    df.columns = header
    del raw_lines
    dup = df.duplicated()
    report.add("pos.duplicates", dup.sum())
    df = df[~dup]
    raw = df["sold_at"].str.strip()
    empty = raw == ""
    report.add("pos.missing_timestamp", empty.sum())
    df, raw = df[~empty], raw[~empty]
    ts = _parse_local(raw, ["%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M"])
    df = _date_rules(df, ts, report, "pos", reference_date)
    code = df["product_code"].str.strip()
    noitem = code == ""
    report.add("pos.missing_item", noitem.sum())
    df, code = df[~noitem], code[~noitem]
    ean = code.where(~code.str.fullmatch(r"\d{1,12}"), code.str.zfill(13))
    df["item"] = ean.map(ean_to_sku)
    unknown = df["item"].isna()
    report.add("pos.unknown_item_kept_as_ean", unknown.sum())
    df.loc[unknown, "item"] = "ean:" + ean[unknown]
    df = _quantity_rules(df, "quantity", report, "pos")
    amount = pd.to_numeric(df["amount_cents"].str.strip(), errors="coerce") / 100.0
    list_price = df["item"].map(price)
    missing = amount.isna()
    amount[missing] = list_price[missing] * df.loc[missing, "quantity"]
    report.add("pos.imputed_amount", (missing & amount.notna()).sum())
    noamount = amount.isna()
    report.add("pos.missing_amount", noamount.sum())
    df, amount, list_price = df[~noamount], amount[~noamount], list_price[~noamount]
    amount = amount.where(~((df["quantity"] < 0) & (amount > 0)), -amount)
    ratio = (amount / df["quantity"]).abs() / list_price.where(list_price > 0)
    too_large = ratio.between(70.0, 130.0)
    too_small = ratio.between(1 / 130, 1 / 70)
    report.add("pos.amount_100x_too_large", too_large.sum())
    report.add("pos.amount_100x_too_small", too_small.sum())
    amount = amount.where(~too_large, amount / 100.0).where(~too_small, amount * 100.0)
    df["amount"] = amount
    absurd = df["amount"].abs() > MAX_AMOUNT
    report.add("pos.absurd_amount", absurd.sum())
    df = df[~absurd]
    card = df["member_card_no"].str.strip()
    df["record_key"] = card.where(card != "", "R:" + df["receipt_no"].str.strip())
    df["source"] = "pos"
    df["order"] = df["receipt_no"]
    df["channel"] = "store"
    return df[["source", "record_key", "order", "day", "item", "quantity", "amount", "channel"]]


def load_lines(data_dir: str, unified_dir: str, reference_date: str = "2024-07-01"):
    """All clean transaction lines with their unified `customer_id`, the catalog's category per item,
    the identity map, and the cleaning report."""
    report = LoadReport()
    price, ean_to_sku, category = load_catalog(data_dir)
    lines = pd.concat([load_web(data_dir, price, reference_date, report),
                       load_pos(data_dir, price, ean_to_sku, reference_date, report)], ignore_index=True)
    ids = pd.read_csv(os.path.join(unified_dir, "identity_map.csv"), dtype=str, keep_default_na=False)
    lines = lines.merge(ids[["source", "record_key", "customer_id"]], on=["source", "record_key"], how="left")
    unmatched = lines["customer_id"].isna()
    report.add("lines.without_unified_customer", unmatched.sum())
    lines = lines[~unmatched].reset_index(drop=True)
    lines["category"] = lines["item"].map(category).fillna("Uncategorized")
    lines["purchase"] = (lines["quantity"] > 0) & (lines["amount"] >= 0)
    report.add("lines.purchases", lines["purchase"].sum())
    report.add("lines.returns_or_negative", (~lines["purchase"]).sum())
    return lines, ids, report


def compare_with_profiles(lines: pd.DataFrame, unified_dir: str, reference_date: str) -> dict:
    """Per customer, as of the reference date: distinct purchase days, orders, distinct items and net spend
    (purchases minus returns) against tagcenter's profiles.parquet (needs pyarrow)."""
    prof = pd.read_parquet(os.path.join(unified_dir, "profiles.parquet"),
                           columns=["customer_id", "purchase_days", "frequency", "distinct_items", "monetary"])
    t = day_number(reference_date)
    before = lines[lines["day"] < t]
    buys = before[before["purchase"]]
    g = buys.groupby("customer_id")
    ours = pd.DataFrame({"purchase_days": g["day"].nunique(), "frequency": g["order"].nunique(),
                         "distinct_items": g["item"].nunique(),
                         "monetary": before.groupby("customer_id")["amount"].sum()})
    m = prof.set_index("customer_id").join(ours, rsuffix="_py", how="outer")
    out = {
        "customers_with_purchases_tagcenter": int((m["purchase_days"].fillna(0) > 0).sum()),
        "customers_with_purchases_python": int((m["purchase_days_py"].fillna(0) > 0).sum()),
    }
    for col in ["purchase_days", "frequency", "distinct_items"]:
        out[f"customers_{col}_differ"] = int((m[col].fillna(0) != m[f"{col}_py"].fillna(0)).sum())
    buyers = m["purchase_days"].fillna(0) > 0
    diff = (m["monetary"] - m["monetary_py"]).abs()[buyers]
    out["buyers_net_spend_differs_by_more_than_0.01"] = int((diff > 0.01).sum())
    out["customers_with_returns_but_no_purchase"] = int((~buyers & m["monetary_py"].notna()).sum())
    out["sum_purchase_days"] = [int(m["purchase_days"].fillna(0).sum()), int(m["purchase_days_py"].fillna(0).sum())]
    return out


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("unified_dir")
    ap.add_argument("--reference-date", default="2024-07-01")
    args = ap.parse_args()
    lines, _, report = load_lines(args.data_dir, args.unified_dir, args.reference_date)
    print(json.dumps(report.counts, indent=1))
    print(json.dumps(compare_with_profiles(lines, args.unified_dir, args.reference_date), indent=1))
