//! Ground-truth rows written after each person is simulated: the person's true attributes
//! (`truth/persons.csv`), their web-account and card records (`truth/identity.csv`), and the person-level
//! defect counters that depend on what actually landed in the files.

use std::io::Write;

use super::behaviour::PersonLog;
use super::calendar::{date_string, write_date};
use super::contact::Typo;
use super::people::Person;
use super::stores::CITIES;
use super::world::World;
use super::writers::Outputs;
use super::{DemoError, REFERENCE_DAY};

/// Header of `truth/persons.csv`.
pub const PERSONS_HEADER: &str = "person_id,segment,channel,city,gender,birth_year,vip,member_tier,email_opt_in,\
acquired_on,purchase_rate_per_day,mean_interpurchase_days,dropout_probability,regularity,dropped_out_on,\
churned_before_reference,history_purchases,last_history_purchase,future_purchases,no_purchase_in_future_window,\
has_email,shares_family_email,has_phone,has_card,web_accounts,crm_contacts,tickets";

/// Header of `truth/identity.csv`.
pub const IDENTITY_HEADER: &str = "source,record_key,person_id";

/// Header of `truth/future_purchases.csv`.
pub const FUTURE_HEADER: &str = "person_id,date,sku,channel,quantity,amount";

/// Writes the person's web / card identity rows and person row, and updates person-level defect counts.
pub fn finish_person(p: &Person, log: &PersonLog, world: &mut World, out: &mut Outputs) -> Result<(), DemoError> {
    let c = &mut world.counts;
    let mut accounts = 0;
    for (i, account) in p.accounts.iter().enumerate() {
        if !log.accounts_used[i] {
            continue;
        }
        accounts += 1;
        out.identity_row("web", account.id.trim(), &p.id)?;
        match account.typo {
            Some(Typo::Domain) => {
                c.mistyped_emails += 1;
                c.mistyped_email_domains += 1;
            }
            Some(Typo::Local) => {
                c.mistyped_emails += 1;
                c.mistyped_email_locals += 1;
            }
            None => {}
        }
    }
    if accounts == 2 {
        c.second_web_accounts += 1;
    }
    if let Some(card) = &p.card {
        if let (Some((old, _)), true) = (&card.old, log.old_card_used) {
            out.identity_row("pos", old, &p.id)?;
            c.replacement_cards += 1;
        }
        if log.current_card_used {
            out.identity_row("pos", &card.current, &p.id)?;
        }
    }
    if p.email_is_family && log.email_written {
        c.shared_family_emails += 1;
    }

    let churned = log.dropped_on.is_some_and(|d| d < REFERENCE_DAY);
    let mut line = Vec::with_capacity(256);
    let _ = write!(
        line,
        "{},{},{},{},{},{},{},{},{},",
        p.id,
        p.segment.name(),
        p.channel.name(),
        CITIES[p.city].1.to_lowercase().replace('\'', ""),
        if p.female { "female" } else { "male" },
        p.birth_year,
        p.vip,
        p.tier.map_or("", |t| t.name()),
        p.opt_in
    );
    write_date(p.acquired, &mut line);
    let _ = write!(
        line,
        ",{:.5},{:.1},{:.4},{},{},{churned},{},{},{},{},{},{},{},{},{},{},{}",
        p.rate,
        1.0 / p.rate,
        p.dropout,
        p.regularity,
        log.dropped_on.map(date_string).unwrap_or_default(),
        log.history_purchases,
        log.purchase_days.last().copied().map(date_string).unwrap_or_default(),
        log.future_purchases,
        log.future_purchases == 0,
        p.email.is_some(),
        p.email_is_family,
        p.phone.is_some(),
        p.card.is_some(),
        accounts,
        log.crm_contacts,
        log.tickets
    );
    out.persons.line(&line)
}
