//! Defect rates and the exact defect tally written to `truth/defects.json`.
//!
//! Every defect the generator injects is decided with the rates in [`Rates`] and counted in
//! [`DefectCounts`] at the moment the affected line is written, so the tally matches the files exactly.
//! Line-level defects are mutually exclusive on a line, and a defective line is never duplicated.

use serde::Serialize;

/// Per-file counters for a line-level defect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PerFile {
    /// `online_orders.csv`.
    pub web: u64,
    /// `pos_transactions.csv`.
    pub pos: u64,
    /// `crm_contacts.csv`.
    pub crm: u64,
    /// `service_tickets.jsonl`.
    pub service: u64,
    /// `products.csv`.
    pub products: u64,
}

impl PerFile {
    /// Sum over all files.
    pub fn total(&self) -> u64 {
        self.web + self.pos + self.crm + self.service + self.products
    }
}

/// POS amounts typed in the wrong unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UnitErrors {
    /// Amount typed in yuan instead of fen (100x too small, written with two decimals).
    pub yuan: u64,
    /// Amount 100x too large (a yuan price typed into fen twice).
    pub fen: u64,
}

/// Exact counts of every defect injected into the demo files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DefectCounts {
    /// Extra copies of clean lines (a line written twice counts once).
    pub duplicate_rows: PerFile,
    /// Header lines repeated inside a file (the web export is a concatenation of monthly files).
    pub repeated_headers: PerFile,
    /// Lines with one column too few or too many.
    pub wrong_column_count: PerFile,
    /// Lines that are not valid UTF-8 (CRM lines saved as GBK).
    pub invalid_utf8_lines: PerFile,
    /// JSON lines cut off before their end.
    pub truncated_json_lines: PerFile,
    /// Calendar-impossible dates such as 30 February.
    pub impossible_dates: PerFile,
    /// Valid dates far outside the export period (1970, 2099).
    pub out_of_range_dates: PerFile,
    /// Web timestamps in a non-ISO format (`2023/05/02 14:03`, `02.05.2023 14:03`); parseable, not errors.
    pub alternate_timestamp_format: PerFile,
    /// POS lines whose amount is in the wrong unit.
    pub unit_errors: UnitErrors,
    /// Lines with quantity 9999.
    pub absurd_quantities: PerFile,
    /// Lines with an empty SKU / barcode.
    pub missing_item_code: PerFile,
    /// Lines with an empty price / amount.
    pub missing_price: PerFile,
    /// POS lines with an empty store id.
    pub missing_store: PerFile,
    /// POS lines whose imported barcode lost its leading zero (12 digits); repairable, not an error.
    pub barcode_leading_zero_dropped: u64,
    /// Card-less receipts carrying a cashier's dummy phone (one per receipt).
    pub dummy_phones: u64,
    /// POS lines carrying a dummy phone.
    pub dummy_phone_lines: u64,
    /// Persons whose old (replaced) card number appears on earlier receipts.
    pub replacement_cards: u64,
    /// CRM lines whose card number is written with dashes.
    pub crm_cards_with_dashes: u64,
    /// Web accounts (with at least one order line) whose e-mail was mistyped at sign-up.
    pub mistyped_emails: u64,
    /// Of `mistyped_emails`: typos in the domain (gmial.com, qq.con, ...).
    pub mistyped_email_domains: u64,
    /// Of `mistyped_emails`: one-letter typos in the local part.
    pub mistyped_email_locals: u64,
    /// Persons who use a family member's e-mail (another person's) in at least one file.
    pub shared_family_emails: u64,
    /// Persons with two web accounts that both have order lines.
    pub second_web_accounts: u64,
    /// CRM tag lists using a full-width `；` or `，` separator.
    pub fullwidth_tag_separators: u64,
    /// CRM tags written in full-width letters (`ＶＩＰ`).
    pub fullwidth_tag_letters: u64,
    /// CRM tag occurrences whose spelling is in neither the glossary CSV nor the TOML aliases.
    pub unglossaried_tags: u64,
    /// SKUs listed twice in `products.csv` (price change).
    pub products_listed_twice: u64,
    /// Web-only SKUs without a barcode.
    pub products_without_barcode: u64,
    /// SKUs without a web category.
    pub products_without_category: u64,
}

/// Rates of every defect (probabilities per line, record or person).
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Exact duplicate of a clean web / POS line.
    pub duplicate_row: f64,
    /// Repeat the header at each month boundary of the web file.
    pub monthly_headers: bool,
    /// Web orders with a non-ISO timestamp.
    pub alternate_timestamp: f64,
    /// Switch web logging to UTC (`Z`) from 2024-01-15.
    pub utc_switch: bool,
    /// Per line: impossible date.
    pub impossible_date: f64,
    /// Per line: 1970 / 2099 date.
    pub out_of_range_date: f64,
    /// Per line: quantity 9999.
    pub absurd_quantity: f64,
    /// Per line: empty item code.
    pub missing_item_code: f64,
    /// Per line: empty price / amount.
    pub missing_price: f64,
    /// Per POS line: empty store id.
    pub missing_store: f64,
    /// Per POS line: wrong number of columns.
    pub wrong_column_count: f64,
    /// Per POS line: amount typed in yuan.
    pub unit_error_yuan: f64,
    /// Per POS line: amount 100x too large.
    pub unit_error_fen: f64,
    /// Stores (every n-th) that drop the leading zero of imported barcodes; 0 = none.
    pub zero_dropping_store_every: usize,
    /// Card-less receipts without a real phone that get a dummy phone.
    pub dummy_phone: f64,
    /// Card holders who got a replacement card.
    pub replacement_card: f64,
    /// CRM card numbers written with dashes.
    pub card_dashes: f64,
    /// Web accounts whose e-mail was mistyped at sign-up.
    pub mistyped_email: f64,
    /// Persons who share a family member's e-mail.
    pub shared_email: f64,
    /// Web shoppers given a second account (both appear in the file only for some of them).
    pub second_account: f64,
    /// E-mails whose case / spaces differ from the canonical form.
    pub email_variant: f64,
    /// Phones typed in a non-plain format.
    pub phone_variant: f64,
    /// CRM lines saved as GBK.
    pub gbk_line: f64,
    /// Ticket lines cut off mid-JSON.
    pub truncated_json: f64,
    /// CRM tag lists with a full-width separator.
    pub fullwidth_separator: f64,
    /// CRM tags written in full-width letters / with unglossaried spellings.
    pub odd_tag_spelling: f64,
    /// SKUs listed twice after a price change.
    pub price_change: f64,
    /// Web-only SKUs without barcode.
    pub web_only_item: f64,
    /// SKUs without web category.
    pub missing_category: f64,
}

impl Rates {
    /// The standard defect rates (roughly those the hand-over describes).
    pub fn standard() -> Self {
        Self {
            duplicate_row: 0.005,
            monthly_headers: true,
            alternate_timestamp: 0.003,
            utc_switch: true,
            impossible_date: 0.0002,
            out_of_range_date: 0.0002,
            absurd_quantity: 0.0003,
            missing_item_code: 0.0005,
            missing_price: 0.0005,
            missing_store: 0.0005,
            wrong_column_count: 0.0005,
            unit_error_yuan: 0.001,
            unit_error_fen: 0.0005,
            zero_dropping_store_every: 10,
            dummy_phone: 0.12,
            replacement_card: 0.05,
            card_dashes: 0.15,
            mistyped_email: 0.02,
            shared_email: 0.01,
            second_account: 0.07,
            email_variant: 0.08,
            phone_variant: 0.4,
            gbk_line: 0.012,
            truncated_json: 0.005,
            fullwidth_separator: 0.06,
            odd_tag_spelling: 0.08,
            price_change: 0.007,
            web_only_item: 0.04,
            missing_category: 0.005,
        }
    }

    /// No defects at all: clean, uniformly formatted files.
    pub fn none() -> Self {
        Self {
            duplicate_row: 0.0,
            monthly_headers: false,
            alternate_timestamp: 0.0,
            utc_switch: false,
            impossible_date: 0.0,
            out_of_range_date: 0.0,
            absurd_quantity: 0.0,
            missing_item_code: 0.0,
            missing_price: 0.0,
            missing_store: 0.0,
            wrong_column_count: 0.0,
            unit_error_yuan: 0.0,
            unit_error_fen: 0.0,
            zero_dropping_store_every: 0,
            dummy_phone: 0.0,
            replacement_card: 0.0,
            card_dashes: 0.0,
            mistyped_email: 0.0,
            shared_email: 0.0,
            second_account: 0.0,
            email_variant: 0.0,
            phone_variant: 0.0,
            gbk_line: 0.0,
            truncated_json: 0.0,
            fullwidth_separator: 0.0,
            odd_tag_spelling: 0.0,
            price_change: 0.0,
            web_only_item: 0.0,
            missing_category: 0.0,
        }
    }
}
