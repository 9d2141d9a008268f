//! Customer-service tickets (JSON lines): contact by the e-mail or phone the customer used, kind in
//! Chinese or English spellings, an often missing satisfaction score, a short note, and (as a defect) a
//! few lines cut off mid-JSON.

use std::io::Write;

use rand::Rng;

use super::behaviour::PersonLog;
use super::calendar::Stamp;
use super::contact::{typed_email, typed_phone};
use super::people::Person;
use super::sampling::{chance, permute, pick, weighted_index};
use super::world::World;
use super::writers::Outputs;
use super::{DemoError, REFERENCE_DAY};

const COMPLAINT: &[&str] = &["complaint", "投诉", "Complaint", "complain", "客诉"];
const RETURN: &[&str] = &["return", "退货", "Return", "退换货", "refund", "退款"];
const INQUIRY: &[&str] = &["inquiry", "咨询", "enquiry", "question", "问询", "Inquiry"];
const COMPLAINT_NOTES: &[&str] =
    &["快递太慢了", "包裹破损", "店员态度不好", "Delivery was late", "Item arrived damaged", "收银多收了钱"];
const RETURN_NOTES: &[&str] =
    &["尺码不合适，申请退货", "Wrong size, want to return", "商品有质量问题", "Changed my mind", "过敏了想退"];
const INQUIRY_NOTES: &[&str] = &[
    "请问积分怎么用？",
    "How do I update my e-mail?",
    "门店几点关门",
    "Is this product in stock?",
    "会员卡丢了怎么办",
    "发票怎么开",
];

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// Writes the person's tickets (about 15% of purchasing persons have one or more).
pub fn write_tickets<R: Rng>(
    p: &Person,
    rng: &mut R,
    world: &mut World,
    out: &mut Outputs,
    log: &mut PersonLog,
) -> Result<(), DemoError> {
    if log.purchase_days.is_empty() || (p.email.is_none() && p.phone.is_none()) || !chance(rng, 0.17) {
        return Ok(());
    }
    let n = 1 + weighted_index(rng, &[0.6, 0.25, 0.1, 0.05]);
    let rates = world.rates.clone();
    for _ in 0..n {
        let base = *pick(rng, &log.purchase_days);
        let day = (base + rng.gen_range(0..10)).min(REFERENCE_DAY - 1);
        let stamp = Stamp { day, secs: rng.gen_range(8 * 3600..22 * 3600) };
        let id = format!("T{:08}", permute(world.ticket_seq, 100_000_000, 86_028_121, 2_024));
        world.ticket_seq += 1;
        let use_email = p.email.is_some() && (p.phone.is_none() || chance(rng, 0.7));
        let contact = match (&p.email, &p.phone) {
            (Some(e), _) if use_email => {
                log.email_written = true;
                typed_email(rng, e, rates.email_variant)
            }
            (_, Some(ph)) => typed_phone(rng, ph, rates.phone_variant),
            _ => String::new(),
        };
        let kind = weighted_index(rng, &[0.25, 0.30, 0.45]);
        let (kinds, notes, scores): (&[&str], &[&str], &[f64]) = match kind {
            0 => (COMPLAINT, COMPLAINT_NOTES, &[0.4, 0.3, 0.2, 0.07, 0.03]),
            1 => (RETURN, RETURN_NOTES, &[0.1, 0.15, 0.35, 0.25, 0.15]),
            _ => (INQUIRY, INQUIRY_NOTES, &[0.03, 0.07, 0.2, 0.35, 0.35]),
        };
        let mut created = Vec::with_capacity(32);
        match weighted_index(rng, &[0.6, 0.25, 0.15]) {
            0 => stamp.write_iso_local(&mut created),
            1 => stamp.write_dash_seconds(&mut created),
            _ => stamp.write_slash(&mut created),
        }
        let created = String::from_utf8_lossy(&created).into_owned();
        let mut line = Vec::with_capacity(200);
        let _ = write!(
            line,
            "{{\"ticket_id\":{},\"contact\":{},\"created_at\":{},\"kind\":{}",
            json_str(&id),
            json_str(&contact),
            json_str(&created),
            json_str(pick::<&str, _>(rng, kinds))
        );
        match rng.gen_range(0..10) {
            0..=1 => {}
            2..=3 => line.extend_from_slice(b",\"satisfaction\":null"),
            _ => {
                let _ = write!(line, ",\"satisfaction\":{}", 1 + weighted_index(rng, scores));
            }
        }
        let _ = write!(line, ",\"note\":{}}}", json_str(pick::<&str, _>(rng, notes)));
        if chance(rng, rates.truncated_json) {
            let text = String::from_utf8_lossy(&line).into_owned();
            let mut cut = rng.gen_range(text.len() / 3..text.len() - 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            out.tickets.line(&text.as_bytes()[..cut])?;
            world.counts.truncated_json_lines.service += 1;
        } else {
            out.tickets.line(&line)?;
        }
        out.identity_row("service", &id, &p.id)?;
        log.tickets += 1;
    }
    Ok(())
}
