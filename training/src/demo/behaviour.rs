//! The purchase process of one person: BG/NBD-like timing (Erlang inter-purchase times around a personal
//! rate, dropout after each purchase with a personal probability), channel choice, and baskets made of
//! due staples plus exploration by category affinity and popularity. History purchases become web / POS
//! lines, purchases in the 92-day future window become ground truth.

use rand::Rng;

use super::catalog::Category;
use super::people::{Person, Segment};
use super::sampling::{chance, gamma, weighted_index};
use super::transactions::{Basket, write_future, write_store_purchase, write_web_order};
use super::world::World;
use super::writers::Outputs;
use super::{DemoError, FUTURE_END, HISTORY_START, REFERENCE_DAY};

/// What the simulation of one person produced (used for CRM, tickets and truth files).
#[derive(Debug, Clone, Default)]
pub struct PersonLog {
    /// Purchases in the history period.
    pub history_purchases: u32,
    /// Days of those purchases.
    pub purchase_days: Vec<i32>,
    /// Purchases in the future window.
    pub future_purchases: u32,
    /// Day of the purchase after which the person dropped out.
    pub dropped_on: Option<i32>,
    /// Which web accounts have order lines.
    pub accounts_used: [bool; 2],
    /// The current card appears on a receipt.
    pub current_card_used: bool,
    /// The replaced card appears on a receipt.
    pub old_card_used: bool,
    /// The person's e-mail appears in some file.
    pub email_written: bool,
    /// CRM contacts written.
    pub crm_contacts: u32,
    /// Tickets written.
    pub tickets: u32,
}

fn basket<R: Rng>(p: &mut Person, rng: &mut R, world: &World, day: i32, store: bool, owned: &mut Vec<usize>) -> Basket {
    let size = if store {
        1 + weighted_index(rng, &[0.25, 0.3, 0.2, 0.13, 0.12])
    } else {
        1 + weighted_index(rng, &[0.3, 0.3, 0.2, 0.12, 0.08])
    };
    let mut items: Vec<usize> = Vec::with_capacity(size);
    for s in &mut p.staples {
        if items.len() >= size {
            break;
        }
        if store && world.catalog.products[s.product].ean.is_none() {
            continue;
        }
        let due = match s.last {
            None => chance(rng, 0.5),
            Some(last) => (f64::from(day - last) >= 0.85 * s.cycle && chance(rng, 0.9)) || chance(rng, 0.04),
        };
        if due {
            items.push(s.product);
            s.last = Some(day);
        }
    }
    let mut tries = 0;
    while items.len() < size && tries < 20 {
        tries += 1;
        let cat = Category::ALL[p.affinity.sample(rng)];
        let product = world.catalog.sample(rng, cat, store);
        if items.contains(&product) {
            continue;
        }
        if !cat.is_consumable() {
            if owned.contains(&product) && !chance(rng, 0.1) {
                continue;
            }
            owned.push(product);
        }
        items.push(product);
    }
    let bulk = if p.segment == Segment::BargainHunter { 0.3 } else { 0.0 };
    items
        .into_iter()
        .map(|product| {
            let consumable = world.catalog.products[product].category.is_consumable();
            let qty = if consumable {
                [1, 2, 3, 4, 6][weighted_index(rng, &[0.68, 0.2, 0.07, 0.03, 0.02])] + i32::from(chance(rng, bulk))
            } else if chance(rng, 0.05) {
                2
            } else {
                1
            };
            (product, qty)
        })
        .collect()
}

/// Simulates person `p` from acquisition to the end of the future window, writing their transactions.
pub fn simulate<R: Rng>(
    p: &mut Person,
    rng: &mut R,
    world: &mut World,
    out: &mut Outputs,
) -> Result<PersonLog, DemoError> {
    let mut log = PersonLog::default();
    let mut owned = Vec::new();
    let mut t = f64::from(p.acquired) + rng.r#gen::<f64>();
    let k = f64::from(p.regularity);
    loop {
        let day = t.floor() as i32;
        if day >= FUTURE_END {
            break;
        }
        let web = chance(rng, p.web_share);
        let items = basket(p, rng, world, day, !web, &mut owned);
        if day >= REFERENCE_DAY {
            write_future(p, rng, world, out, day, web, &items)?;
            log.future_purchases += 1;
        } else if day >= HISTORY_START {
            if web {
                write_web_order(p, rng, world, out, &mut log, day, &items)?;
            } else {
                write_store_purchase(p, rng, world, out, &mut log, day, &items)?;
            }
            log.history_purchases += 1;
            log.purchase_days.push(day);
        }
        if chance(rng, p.dropout) {
            log.dropped_on = Some(day);
            break;
        }
        t += gamma(rng, k, 1.0 / (k * p.rate)).max(0.02);
    }
    Ok(log)
}
