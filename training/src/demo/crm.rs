//! Marketing's CRM contacts: a subset of each person's identifiers, marketing tags in Chinese and English
//! (incomplete, sometimes wrong, with value tags such as `tier:gold`), free-text gender / city / consent
//! columns, and the defects of the hand-over (GBK-encoded lines, full-width separators and letters,
//! unglossaried spellings, card numbers with dashes).

use rand::Rng;
use rand::seq::SliceRandom;

use super::DemoError;
use super::behaviour::PersonLog;
use super::contact::{dashed_card, typed_email, typed_phone};
use super::people::{Person, Segment, Tier};
use super::sampling::{chance, permute, pick};
use super::stores::CITIES;
use super::world::World;
use super::writers::{Outputs, csv_field};

/// Header of `crm_contacts.csv`.
pub const HEADER: &str = "crm_id,email,phone,member_card_no,tags,gender,birth_year,city,email_opt_in";

const VIP: &[&str] = &["VIP", "vip", "高价值", "high value", "gold_member", "VIP客户", "高价值客户"];
const MOTHER_BABY: &[&str] = &["母婴", "baby", "young_parent", "宝妈", "young parent", "母婴人群", "mom"];
const PET: &[&str] = &["宠物", "pet", "铲屎官", "pet owner", "养宠", "pet_lover"];
const PRICE: &[&str] = &["coupon_hunter", "价格敏感", "deal seeker", "促销敏感", "bargain"];
const FEMALE: &[&str] = &["F", "女", "female", "W", "woman", "女性"];
const MALE: &[&str] = &["M", "男", "male", "man", "男性"];
const OPT_IN: &[&str] = &["Y", "yes", "1", "true", "是", "T"];
const OPT_OUT: &[&str] = &["N", "no", "0", "false", "否"];

/// GBK bytes of every non-ASCII character the CRM writer uses.
const GBK: &[(char, [u8; 2])] = &[
    ('上', [0xC9, 0xCF]),
    ('海', [0xBA, 0xA3]),
    ('北', [0xB1, 0xB1]),
    ('京', [0xBE, 0xA9]),
    ('广', [0xB9, 0xE3]),
    ('州', [0xD6, 0xDD]),
    ('深', [0xC9, 0xEE]),
    ('圳', [0xDB, 0xDA]),
    ('杭', [0xBA, 0xBC]),
    ('成', [0xB3, 0xC9]),
    ('都', [0xB6, 0xBC]),
    ('武', [0xCE, 0xE4]),
    ('汉', [0xBA, 0xBA]),
    ('南', [0xC4, 0xCF]),
    ('西', [0xCE, 0xF7]),
    ('安', [0xB0, 0xB2]),
    ('苏', [0xCB, 0xD5]),
    ('天', [0xCC, 0xEC]),
    ('津', [0xBD, 0xF2]),
    ('重', [0xD6, 0xD8]),
    ('庆', [0xC7, 0xEC]),
    ('市', [0xCA, 0xD0]),
    ('女', [0xC5, 0xAE]),
    ('男', [0xC4, 0xD0]),
    ('性', [0xD0, 0xD4]),
    ('是', [0xCA, 0xC7]),
    ('否', [0xB7, 0xF1]),
    ('高', [0xB8, 0xDF]),
    ('价', [0xBC, 0xDB]),
    ('值', [0xD6, 0xB5]),
    ('会', [0xBB, 0xE1]),
    ('员', [0xD4, 0xB1]),
    ('等', [0xB5, 0xC8]),
    ('级', [0xBC, 0xB6]),
    ('金', [0xBD, 0xF0]),
    ('卡', [0xBF, 0xA8]),
    ('银', [0xD2, 0xF8]),
    ('铜', [0xCD, 0xAD]),
    ('母', [0xC4, 0xB8]),
    ('婴', [0xD3, 0xA4]),
    ('宝', [0xB1, 0xA6]),
    ('妈', [0xC2, 0xE8]),
    ('宠', [0xB3, 0xE8]),
    ('物', [0xCE, 0xEF]),
    ('铲', [0xB2, 0xF9]),
    ('屎', [0xCA, 0xBA]),
    ('官', [0xB9, 0xD9]),
    ('格', [0xB8, 0xF1]),
    ('敏', [0xC3, 0xF4]),
    ('感', [0xB8, 0xD0]),
    ('爸', [0xB0, 0xD6]),
    ('喵', [0xDF, 0xF7]),
    ('星', [0xD0, 0xC7]),
    ('人', [0xC8, 0xCB]),
    ('黄', [0xBB, 0xC6]),
    ('客', [0xBF, 0xCD]),
    ('户', [0xBB, 0xA7]),
    ('群', [0xC8, 0xBA]),
    ('养', [0xD1, 0xF8]),
    ('促', [0xB4, 0xD9]),
    ('销', [0xCF, 0xFA]),
    ('；', [0xA3, 0xBB]),
    ('：', [0xA3, 0xBA]),
    ('Ｖ', [0xA3, 0xD6]),
    ('Ｉ', [0xA3, 0xC9]),
    ('Ｐ', [0xA3, 0xD0]),
    ('，', [0xA3, 0xAC]),
];

/// Encodes `s` as GBK, or `None` if it has a character outside the table.
pub fn gbk_encode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c as u8);
        } else {
            out.extend_from_slice(&GBK.iter().find(|(g, _)| *g == c)?.1);
        }
    }
    Some(out)
}

fn tier_tag<R: Rng>(rng: &mut R, tier: Tier) -> String {
    let sep = *pick(rng, &[":", ":", "=", "："]);
    let (words, cn, digit, letter) = match tier {
        Tier::Gold => ("gold", "金卡", "3", "G"),
        Tier::Silver => ("silver", "银卡", "2", "S"),
        Tier::Bronze => ("bronze", "铜卡", "1", "B"),
    };
    match rng.gen_range(0..5) {
        0 => format!("tier{sep}{words}"),
        1 => format!("会员等级{sep}{cn}"),
        2 => format!("level{sep}{digit}"),
        3 => format!("等级{sep}{}", if tier == Tier::Gold && rng.gen_bool(0.5) { "黄金" } else { cn }),
        _ => format!("tier{sep}{letter}"),
    }
}

/// Builds the tag list of one contact (updating the odd-spelling counters).
fn tags<R: Rng>(p: &Person, rng: &mut R, world: &mut World) -> Vec<String> {
    let odd = world.rates.odd_tag_spelling;
    let mut tags = Vec::new();
    if (p.vip && chance(rng, 0.7)) || chance(rng, 0.02) {
        if chance(rng, odd) {
            world.counts.fullwidth_tag_letters += 1;
            tags.push("ＶＩＰ".to_string());
        } else {
            tags.push(pick(rng, VIP).to_string());
        }
    }
    if let Some(tier) = p.tier
        && chance(rng, 0.55)
    {
        let shown = if chance(rng, 0.05) { *pick(rng, &[Tier::Gold, Tier::Silver, Tier::Bronze]) } else { tier };
        tags.push(tier_tag(rng, shown));
    }
    let concepts: [(Segment, &[&str], &str); 3] = [
        (Segment::YoungParent, MOTHER_BABY, UNGLOSSARIED[0]),
        (Segment::PetOwner, PET, UNGLOSSARIED[1]),
        (Segment::BargainHunter, PRICE, ""),
    ];
    for (segment, spellings, unglossaried) in concepts {
        let p_tag = if p.segment == segment { 0.65 } else { 0.03 };
        if chance(rng, p_tag) {
            if !unglossaried.is_empty() && chance(rng, odd) {
                world.counts.unglossaried_tags += 1;
                tags.push(unglossaried.to_string());
            } else {
                tags.push(pick(rng, spellings).to_string());
            }
        }
    }
    tags.shuffle(rng);
    tags
}

fn city_text<R: Rng>(rng: &mut R, city: usize, chinese: bool) -> String {
    let (cn, en, _) = CITIES[city];
    match (chinese, rng.gen_range(0..4)) {
        (true, 0 | 1) | (false, 0) => cn.to_string(),
        (true, _) | (false, 1) => format!("{cn}市"),
        (false, 2) if en == "Xi'an" => "Xian".to_string(),
        (false, 2) if city < 2 => ["SH", "BJ"][city].to_string(),
        _ => en.to_string(),
    }
}

/// Writes the person's CRM contacts (none, one, or two for a duplicated contact).
pub fn write_contacts<R: Rng>(
    p: &Person,
    rng: &mut R,
    world: &mut World,
    out: &mut Outputs,
    log: &mut PersonLog,
) -> Result<(), DemoError> {
    let share = if log.history_purchases > 0 { 0.62 } else { 0.3 };
    if !chance(rng, share) {
        return Ok(());
    }
    let n = if chance(rng, 0.35) { 2 } else { 1 };
    for _ in 0..n {
        write_contact(p, rng, world, out, log)?;
    }
    Ok(())
}

fn write_contact<R: Rng>(
    p: &Person,
    rng: &mut R,
    world: &mut World,
    out: &mut Outputs,
    log: &mut PersonLog,
) -> Result<(), DemoError> {
    let rates = world.rates.clone();
    let id = format!("C{:08}", permute(world.crm_seq, 100_000_000, 73_939_133, 4_711));
    world.crm_seq += 1;
    let gbk = chance(rng, rates.gbk_line);
    let email = match &p.email {
        Some(e) if chance(rng, 0.85) => {
            log.email_written = true;
            typed_email(rng, e, rates.email_variant)
        }
        _ => String::new(),
    };
    let phone = match &p.phone {
        Some(ph) if chance(rng, 0.7) => typed_phone(rng, ph, rates.phone_variant * 0.5),
        _ => String::new(),
    };
    let card = match &p.card {
        Some(c) if chance(rng, 0.65) => {
            if chance(rng, rates.card_dashes) {
                world.counts.crm_cards_with_dashes += 1;
                dashed_card(&c.current)
            } else {
                c.current.clone()
            }
        }
        _ => String::new(),
    };
    let tags = tags(p, rng, world);
    let sep = if tags.len() < 2 {
        ";"
    } else if chance(rng, rates.fullwidth_separator) {
        world.counts.fullwidth_tag_separators += 1;
        *pick(rng, &["；", "，"])
    } else if rates.fullwidth_separator > 0.0 && chance(rng, 0.08) {
        *pick(rng, &["|", ","])
    } else {
        ";"
    };
    let tags = tags.join(sep);
    let gender = if gbk || chance(rng, 0.8) {
        let forms = if p.female { FEMALE } else { MALE };
        if gbk {
            forms.iter().find(|f| !f.is_ascii()).map_or("", |f| f).to_string()
        } else {
            pick(rng, forms).to_string()
        }
    } else {
        String::new()
    };
    let birth = if chance(rng, 0.7) { p.birth_year.to_string() } else { String::new() };
    let city = if gbk || chance(rng, 0.85) { city_text(rng, p.city, gbk) } else { String::new() };
    let opt =
        if chance(rng, 0.9) { pick(rng, if p.opt_in { OPT_IN } else { OPT_OUT }).to_string() } else { String::new() };
    let mut line = String::with_capacity(128);
    let _ = std::fmt::Write::write_fmt(
        &mut line,
        format_args!("{id},{email},{phone},{card},{},{gender},{birth},{city},{opt}", csv_field(&tags)),
    );
    let encoded = if gbk { gbk_encode(&line).filter(|b| std::str::from_utf8(b).is_err()) } else { None };
    match encoded {
        Some(bytes) => {
            world.counts.invalid_utf8_lines.crm += 1;
            out.crm.line(&bytes)?;
        }
        None => out.crm.line(line.as_bytes())?,
    }
    out.identity_row("crm", &id, &p.id)?;
    log.crm_contacts += 1;
    Ok(())
}

/// The glossary spellings deliberately missing from `tag_dictionary.csv`.
pub const UNGLOSSARIED: [&str; 2] = ["宝爸", "喵星人"];
