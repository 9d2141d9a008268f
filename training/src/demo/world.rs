//! Generation state shared across persons: the catalog, the stores, the defect rates and tally, the set of
//! e-mail addresses in use, and the sequence counters behind order, receipt, CRM and ticket numbers.

use std::collections::HashSet;

use super::catalog::Catalog;
use super::defects::{DefectCounts, Rates};
use super::stores::Store;
use super::{HISTORY_START, REFERENCE_DAY};

/// Everything the per-person generation reads or updates besides the person itself.
#[derive(Debug)]
pub struct World {
    /// Product catalog.
    pub catalog: Catalog,
    /// The 60 stores.
    pub stores: Vec<Store>,
    /// Defect rates in force.
    pub rates: Rates,
    /// Exact defect tally.
    pub counts: DefectCounts,
    /// Every e-mail address handed out (real and mistyped), to keep them unique.
    pub emails: HashSet<String>,
    /// The most recent person's own e-mail, which the next person may share as a family address.
    pub family_email: Option<String>,
    receipt_seq: Vec<u32>,
    /// Web orders issued so far.
    pub order_seq: u64,
    /// CRM contacts issued so far.
    pub crm_seq: u64,
    /// Tickets issued so far.
    pub ticket_seq: u64,
}

impl World {
    /// A fresh world.
    pub fn new(catalog: Catalog, stores: Vec<Store>, rates: Rates) -> Self {
        let days = (REFERENCE_DAY - HISTORY_START) as usize;
        let receipt_seq = vec![0; days * stores.len()];
        Self {
            catalog,
            stores,
            rates,
            counts: DefectCounts::default(),
            emails: HashSet::new(),
            family_email: None,
            receipt_seq,
            order_seq: 0,
            crm_seq: 0,
            ticket_seq: 0,
        }
    }

    /// The next receipt sequence number of a store on a history day.
    pub fn next_receipt(&mut self, store: usize, day: i32) -> u32 {
        let d = (day - HISTORY_START).clamp(0, REFERENCE_DAY - HISTORY_START - 1) as usize;
        let slot = &mut self.receipt_seq[d * self.stores.len() + store];
        *slot += 1;
        *slot
    }
}
