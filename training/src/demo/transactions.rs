//! Web order lines and till lines of one purchase, with the line-level defects of the hand-over
//! (duplicates, impossible or out-of-range dates, unit errors, absurd quantities, missing values, wrong
//! column counts, dropped barcode zeros, dummy phones), plus the clean future-window truth rows.

use std::io::Write;

use rand::Rng;

use super::behaviour::PersonLog;
use super::calendar::{Stamp, month_index};
use super::contact::{DUMMY_PHONES, typed_phone};
use super::people::Person;
use super::sampling::{chance, permute, pick};
use super::world::World;
use super::writers::{Outputs, money};
use super::{DemoError, HISTORY_START, REFERENCE_DAY, UTC_SWITCH_DAY};

/// A basket: (product index, quantity) lines.
pub type Basket = Vec<(usize, i32)>;

const COUPONS: &[&str] = &["WELCOME20", "SPRING10", "618SALE", "VIP50", "DOUBLE11", "NEWUSER", "MOMDAY15", "PETWEEK"];
const IMPOSSIBLE: &[(i32, u32, u32)] = &[
    (2023, 2, 29),
    (2023, 2, 30),
    (2024, 2, 30),
    (2023, 4, 31),
    (2023, 6, 31),
    (2023, 9, 31),
    (2023, 11, 31),
    (2024, 2, 31),
];

/// The line-level defect drawn for one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineDefect {
    None,
    ImpossibleDate,
    OutOfRange,
    AbsurdQuantity,
    MissingItem,
    MissingPrice,
    MissingStore,
    WrongColumns,
    UnitYuan,
    UnitFen,
}

fn draw_defect<R: Rng>(rng: &mut R, world: &World, store: bool) -> LineDefect {
    let r = &world.rates;
    let mut table = vec![
        (r.impossible_date, LineDefect::ImpossibleDate),
        (r.out_of_range_date, LineDefect::OutOfRange),
        (r.absurd_quantity, LineDefect::AbsurdQuantity),
        (r.missing_item_code, LineDefect::MissingItem),
        (r.missing_price, LineDefect::MissingPrice),
    ];
    if store {
        table.push((r.missing_store, LineDefect::MissingStore));
        table.push((r.wrong_column_count, LineDefect::WrongColumns));
        table.push((r.unit_error_yuan, LineDefect::UnitYuan));
        table.push((r.unit_error_fen, LineDefect::UnitFen));
    }
    let total: f64 = table.iter().map(|t| t.0).sum();
    if total <= 0.0 {
        return LineDefect::None;
    }
    let mut u: f64 = rng.r#gen();
    for (p, d) in table {
        if u < p {
            return d;
        }
        u -= p;
    }
    LineDefect::None
}

/// Writes a broken date in the web (`iso`) or till format.
fn write_bad_date<R: Rng>(rng: &mut R, impossible: bool, iso: bool, out: &mut Vec<u8>) {
    let (y, m, d) = if impossible {
        *pick(rng, IMPOSSIBLE)
    } else if rng.gen_bool(0.5) {
        (1970, 1, 1)
    } else {
        (2099, 12, 31)
    };
    let (h, mi) = (rng.gen_range(8..22), rng.gen_range(0..60));
    if iso {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:00+08:00");
    } else {
        let _ = write!(out, "{y:04}/{m:02}/{d:02} {h:02}:{mi:02}");
    }
}

fn month(day: i32) -> usize {
    month_index(day, 2023)
}

/// Writes one web order (one line per basket item).
pub fn write_web_order<R: Rng>(
    p: &Person,
    rng: &mut R,
    world: &mut World,
    out: &mut Outputs,
    log: &mut PersonLog,
    day: i32,
    items: &Basket,
) -> Result<(), DemoError> {
    let Some(first) = p.accounts.first() else { return Ok(()) };
    let (slot, account) = match p.accounts.get(1) {
        Some(second) if day >= second.opened_on && rng.gen_bool(0.6) => (1, second),
        _ => (0, first),
    };
    log.accounts_used[slot] = true;
    log.email_written = true;
    let order_id = format!("WO{:09}", permute(world.order_seq, 1_000_000_000, 982_451_653, 310_077));
    world.order_seq += 1;
    let stamp = Stamp { day, secs: rng.gen_range(7 * 3600..86_400) };
    let mut ts = Vec::with_capacity(32);
    let alternate = chance(rng, world.rates.alternate_timestamp);
    if alternate {
        if rng.gen_bool(0.5) { stamp.write_slash(&mut ts) } else { stamp.write_dotted(&mut ts) }
    } else if world.rates.utc_switch && day >= UTC_SWITCH_DAY {
        stamp.write_iso_utc(&mut ts);
    } else {
        stamp.write_iso_local(&mut ts);
    }
    let coupon = if chance(rng, p.coupon_rate) { Some((*pick(rng, COUPONS), rng.gen_range(5..21))) } else { None };
    let mut line = Vec::with_capacity(128);
    for &(product, qty) in items {
        let prod = &world.catalog.products[product];
        let mut unit = prod.price_on(day);
        if let Some((_, pct)) = coupon {
            unit = (unit * (100 - pct) + 50) / 100;
        }
        let defect = draw_defect(rng, world, false);
        line.clear();
        let _ = write!(line, "{order_id},{},{},", account.id, account.email_typed);
        match defect {
            LineDefect::ImpossibleDate | LineDefect::OutOfRange => {
                write_bad_date(rng, defect == LineDefect::ImpossibleDate, true, &mut line)
            }
            _ => line.extend_from_slice(&ts),
        }
        line.push(b',');
        if defect != LineDefect::MissingItem {
            line.extend_from_slice(prod.sku.as_bytes());
        }
        let qty_text = if defect == LineDefect::AbsurdQuantity { 9999 } else { qty };
        let _ = write!(line, ",{qty_text},");
        if defect != LineDefect::MissingPrice {
            line.extend_from_slice(money(unit).as_bytes());
        }
        line.push(b',');
        if let Some((code, _)) = coupon {
            line.extend_from_slice(code.as_bytes());
        }
        out.web.line(month(day), &line)?;
        let c = &mut world.counts;
        match defect {
            LineDefect::ImpossibleDate => c.impossible_dates.web += 1,
            LineDefect::OutOfRange => c.out_of_range_dates.web += 1,
            LineDefect::AbsurdQuantity => c.absurd_quantities.web += 1,
            LineDefect::MissingItem => c.missing_item_code.web += 1,
            LineDefect::MissingPrice => c.missing_price.web += 1,
            _ => {
                if alternate {
                    c.alternate_timestamp_format.web += 1;
                }
                if chance(rng, world.rates.duplicate_row) {
                    out.web.line(month(day), &line)?;
                    world.counts.duplicate_rows.web += 1;
                    if alternate {
                        world.counts.alternate_timestamp_format.web += 1;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Picks the store of a visit: mostly the home store, sometimes another store in the same city or elsewhere.
fn visit_store<R: Rng>(p: &Person, rng: &mut R, stores: usize) -> usize {
    let x: f64 = rng.r#gen();
    if x < 0.85 {
        p.home_store
    } else if x < 0.97 {
        p.city * super::stores::STORES_PER_CITY + rng.gen_range(0..super::stores::STORES_PER_CITY)
    } else {
        rng.gen_range(0..stores)
    }
}

/// Writes one till receipt (and possibly a later return receipt) for a store purchase.
pub fn write_store_purchase<R: Rng>(
    p: &Person,
    rng: &mut R,
    world: &mut World,
    out: &mut Outputs,
    log: &mut PersonLog,
    day: i32,
    items: &Basket,
) -> Result<(), DemoError> {
    let store = visit_store(p, rng, world.stores.len());
    write_receipt(p, rng, world, out, log, day, store, items, false)?;
    if chance(rng, 0.055) {
        let back = day + rng.gen_range(1..15);
        if back < REFERENCE_DAY {
            let (product, qty) = items[rng.gen_range(0..items.len())];
            write_receipt(p, rng, world, out, log, back, store, &vec![(product, -qty)], true)?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_receipt<R: Rng>(
    p: &Person,
    rng: &mut R,
    world: &mut World,
    out: &mut Outputs,
    log: &mut PersonLog,
    day: i32,
    store: usize,
    items: &Basket,
    is_return: bool,
) -> Result<(), DemoError> {
    debug_assert!((HISTORY_START..REFERENCE_DAY).contains(&day));
    let stamp = Stamp { day, secs: rng.gen_range(9 * 3600..22 * 3600) };
    let seq = world.next_receipt(store, day);
    let mut receipt = Vec::with_capacity(24);
    receipt.extend_from_slice(world.stores[store].id.as_bytes());
    receipt.push(b'-');
    stamp.write_compact_date(&mut receipt);
    let _ = write!(receipt, "-{seq:05}");
    let receipt = String::from_utf8_lossy(&receipt).into_owned();

    let card = match &p.card {
        Some(card) if chance(rng, 0.93) => {
            let (number, old) = card.on(day);
            if old {
                log.old_card_used = true;
            } else {
                log.current_card_used = true;
            }
            Some(number.to_string())
        }
        _ => None,
    };
    let variant = world.rates.phone_variant;
    let mut dummy = false;
    let phone = match (&card, &p.phone) {
        (Some(_), Some(phone)) if chance(rng, 0.25) => typed_phone(rng, phone, variant),
        (Some(_), _) => String::new(),
        (None, Some(phone)) if chance(rng, 0.3) => typed_phone(rng, phone, variant),
        (None, _) if chance(rng, world.rates.dummy_phone) => {
            dummy = true;
            pick(rng, &DUMMY_PHONES).to_string()
        }
        (None, _) => String::new(),
    };
    if card.is_none() {
        out.identity_row("pos", &format!("R:{receipt}"), &p.id)?;
    }
    if dummy {
        world.counts.dummy_phones += 1;
    }
    let mut date = Vec::with_capacity(16);
    stamp.write_slash(&mut date);
    let store_info = &world.stores[store];
    let mut line = Vec::with_capacity(128);
    for &(product, qty) in items {
        let prod = &world.catalog.products[product];
        let amount = i64::from(qty) * prod.price_on(day);
        let defect = if is_return { LineDefect::None } else { draw_defect(rng, world, true) };
        let defect = match defect {
            LineDefect::UnitFen if amount >= 40_000 => LineDefect::None,
            d => d,
        };
        line.clear();
        let _ = write!(line, "{receipt},{},{phone},", card.as_deref().unwrap_or(""));
        if defect != LineDefect::MissingStore {
            line.extend_from_slice(store_info.id.as_bytes());
        }
        line.push(b',');
        match defect {
            LineDefect::ImpossibleDate | LineDefect::OutOfRange => {
                write_bad_date(rng, defect == LineDefect::ImpossibleDate, false, &mut line)
            }
            _ => line.extend_from_slice(&date),
        }
        line.push(b',');
        let mut zero_dropped = false;
        if defect != LineDefect::MissingItem
            && let Some(ean) = &prod.ean
        {
            if store_info.drops_leading_zero && prod.is_imported() {
                line.extend_from_slice(&ean.as_bytes()[1..]);
                zero_dropped = true;
            } else {
                line.extend_from_slice(ean.as_bytes());
            }
        }
        let qty_text = if defect == LineDefect::AbsurdQuantity { 9999 } else { qty };
        let _ = write!(line, ",{qty_text},");
        match defect {
            LineDefect::MissingPrice => {}
            LineDefect::UnitYuan => line.extend_from_slice(money(amount).as_bytes()),
            LineDefect::UnitFen => {
                let _ = write!(line, "{}", amount * 100);
            }
            LineDefect::WrongColumns if rng.gen_bool(0.5) => {
                // One column too few: the amount never made it into the export.
                line.pop();
            }
            LineDefect::WrongColumns => {
                let _ = write!(line, "{amount},{}", pick(rng, &["VOID", "", "POS2"]));
            }
            _ => {
                let _ = write!(line, "{amount}");
            }
        }
        out.pos.line(month(day), &line)?;
        let c = &mut world.counts;
        if zero_dropped {
            c.barcode_leading_zero_dropped += 1;
        }
        if dummy {
            c.dummy_phone_lines += 1;
        }
        match defect {
            LineDefect::ImpossibleDate => c.impossible_dates.pos += 1,
            LineDefect::OutOfRange => c.out_of_range_dates.pos += 1,
            LineDefect::AbsurdQuantity => c.absurd_quantities.pos += 1,
            LineDefect::MissingItem => c.missing_item_code.pos += 1,
            LineDefect::MissingPrice => c.missing_price.pos += 1,
            LineDefect::MissingStore => c.missing_store.pos += 1,
            LineDefect::WrongColumns => c.wrong_column_count.pos += 1,
            LineDefect::UnitYuan => c.unit_errors.yuan += 1,
            LineDefect::UnitFen => c.unit_errors.fen += 1,
            LineDefect::None => {
                if chance(rng, world.rates.duplicate_row) {
                    out.pos.line(month(day), &line)?;
                    let c = &mut world.counts;
                    c.duplicate_rows.pos += 1;
                    if zero_dropped {
                        c.barcode_leading_zero_dropped += 1;
                    }
                    if dummy {
                        c.dummy_phone_lines += 1;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Writes the future-window purchase rows of one purchase (clean, canonical web SKUs).
pub fn write_future<R: Rng>(
    p: &Person,
    rng: &mut R,
    world: &World,
    out: &mut Outputs,
    day: i32,
    web: bool,
    items: &Basket,
) -> Result<(), DemoError> {
    let coupon = web && chance(rng, p.coupon_rate);
    let pct = if coupon { rng.gen_range(5..21) } else { 0 };
    let mut line = Vec::with_capacity(64);
    for &(product, qty) in items {
        let prod = &world.catalog.products[product];
        let unit = (prod.price_on(day) * (100 - pct) + 50) / 100;
        line.clear();
        line.extend_from_slice(p.id.as_bytes());
        line.push(b',');
        super::calendar::write_date(day, &mut line);
        let channel = if web { "web" } else { "store" };
        let _ = write!(line, ",{},{channel},{qty},{}", prod.sku, money(unit * i64::from(qty)));
        out.future.line(&line)?;
    }
    Ok(())
}
