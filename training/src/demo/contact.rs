//! Personal identifiers and how each system types them: e-mail addresses (with case / space variants and
//! sign-up typos), mobile phones in the formats cashiers and agents use, and member-card numbers.

use std::collections::HashSet;

use rand::Rng;

use super::sampling::{chance, permute, pick, weighted_index};

const SURNAMES: &[&str] = &[
    "zhang", "wang", "li", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma", "zhu", "hu", "guo",
    "he", "lin", "gao", "luo", "zheng", "liang", "xie", "song", "tang", "han", "feng", "deng", "cao", "peng", "zeng",
    "xiao", "tian", "dong", "pan", "yuan", "cai", "jiang", "du", "ye", "cheng", "wei", "su", "ding", "ren", "shen",
    "yao", "jin", "qian", "fang",
];
const GIVEN: &[&str] = &[
    "wei", "fang", "na", "min", "jing", "qiang", "lei", "jun", "yang", "yong", "yan", "jie", "tao", "ming", "chao",
    "xiu", "xia", "hui", "ping", "gang", "hong", "ying", "hua", "ting", "hao", "xin", "lan", "kai", "jia", "ning",
    "rui", "bo", "yue", "qing", "lin", "fei", "meng", "xuan", "zihan", "yuxi",
];
const DOMAINS: &[(&str, f64)] = &[
    ("qq.com", 34.0),
    ("163.com", 20.0),
    ("126.com", 8.0),
    ("gmail.com", 8.0),
    ("outlook.com", 6.0),
    ("hotmail.com", 5.0),
    ("sina.com", 5.0),
    ("foxmail.com", 5.0),
    ("139.com", 4.0),
    ("yahoo.com", 3.0),
];
const DOMAIN_TYPOS: &[(&str, &[&str])] = &[
    ("qq.com", &["qq.con", "qq.cm", "qq.co"]),
    ("163.com", &["163.cm", "163.con"]),
    ("126.com", &["126.cm", "126.con"]),
    ("gmail.com", &["gmial.com", "gmai.com", "gmail.con"]),
    ("outlook.com", &["outlok.com", "outlook.con"]),
    ("hotmail.com", &["hotmial.com", "hotmail.co"]),
    ("sina.com", &["sian.com", "sina.con"]),
    ("foxmail.com", &["foxmial.com", "foxmail.con"]),
    ("139.com", &["139.cm", "139.con"]),
    ("yahoo.com", &["yaho.com", "yahoo.con"]),
];
const PHONE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "158", "159", "166",
    "176", "177", "180", "181", "186", "187", "188", "189", "199",
];

/// The cashiers' dummy phone numbers.
pub const DUMMY_PHONES: [&str; 3] = ["13800138000", "12345678901", "00000000000"];

/// Generates a new, unique, lower-case e-mail address and registers it.
pub fn new_email<R: Rng>(rng: &mut R, taken: &mut HashSet<String>) -> String {
    let weights: Vec<f64> = DOMAINS.iter().map(|d| d.1).collect();
    let domain = DOMAINS[weighted_index(rng, &weights)].0;
    let s = pick(rng, SURNAMES);
    let g = pick(rng, GIVEN);
    let mut local = match rng.gen_range(0..7) {
        0 => format!("{g}.{s}{}", rng.gen_range(10..100)),
        1 => format!("{s}{g}{}", rng.gen_range(1960..2006)),
        2 => format!("{g}_{s}"),
        3 => format!("{s}.{g}"),
        4 => format!("{s}{g}{}", pick(rng, GIVEN)),
        5 if domain == "qq.com" => format!("{}", rng.gen_range(100_000_u64..9_999_999_999)),
        _ => format!("{s}{g}{}", rng.gen_range(1..1000)),
    };
    while local.len() < 6 || local.starts_with("test") {
        local.push_str(pick::<&str, _>(rng, &["x", "y", "z", "88", "666"]));
    }
    loop {
        let email = format!("{local}@{domain}");
        if taken.insert(email.clone()) {
            return email;
        }
        local.push_str(&rng.gen_range(0..10).to_string());
    }
}

/// Which part of an e-mail a sign-up typo hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typo {
    /// The domain (`gmial.com`).
    Domain,
    /// One letter of the local part.
    Local,
}

/// A mistyped variant of `email` that is not a registered address (registering it), or `None`.
pub fn mistype<R: Rng>(rng: &mut R, email: &str, taken: &mut HashSet<String>) -> Option<(String, Typo)> {
    let (local, domain) = email.split_once('@')?;
    let letters: Vec<usize> = local.char_indices().filter(|(_, c)| c.is_ascii_lowercase()).map(|(i, _)| i).collect();
    let local_ok = local.len() >= 6 && !letters.is_empty();
    let candidate = if local_ok && rng.gen_bool(0.5) {
        let pos = *pick(rng, &letters);
        let mut bytes = local.as_bytes().to_vec();
        let old = bytes[pos];
        let mut new = b'a' + rng.gen_range(0..26_u8);
        if new == old {
            new = if old == b'z' { b'a' } else { old + 1 };
        }
        if rng.gen_bool(0.7) {
            bytes[pos] = new;
        } else {
            bytes.insert(pos, new);
        }
        (format!("{}@{domain}", String::from_utf8_lossy(&bytes)), Typo::Local)
    } else {
        let typos = DOMAIN_TYPOS.iter().find(|(d, _)| *d == domain)?.1;
        (format!("{local}@{}", pick(rng, typos)), Typo::Domain)
    };
    if taken.insert(candidate.0.clone()) { Some(candidate) } else { None }
}

/// How a system typed an e-mail: usually as is, sometimes with other case or stray spaces.
pub fn typed_email<R: Rng>(rng: &mut R, email: &str, variant_rate: f64) -> String {
    if !chance(rng, variant_rate) {
        return email.to_string();
    }
    match rng.gen_range(0..5) {
        0 => email.to_uppercase(),
        1 => {
            let mut c = email.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
        2 => match email.split_once('@') {
            Some((l, d)) => format!("{l}@{}", d.to_uppercase()),
            None => email.to_string(),
        },
        3 => format!(" {email}"),
        _ => format!("{email} "),
    }
}

/// The unique 11-digit mobile number of person `index`.
pub fn phone_of<R: Rng>(rng: &mut R, index: u64) -> String {
    let digits = permute(index, 100_000_000, 73_939_133, 12_345_678);
    let phone = format!("{}{digits:08}", pick(rng, PHONE_PREFIXES));
    if DUMMY_PHONES.contains(&phone.as_str()) { format!("139{digits:08}") } else { phone }
}

/// How a person typed a phone: plain 11 digits or one of the formats seen in the exports.
pub fn typed_phone<R: Rng>(rng: &mut R, phone: &str, variant_rate: f64) -> String {
    if !chance(rng, variant_rate) || phone.len() != 11 {
        return phone.to_string();
    }
    let (a, b, c) = (&phone[..3], &phone[3..7], &phone[7..]);
    match rng.gen_range(0..6) {
        0 => format!("+86 {a}-{b}-{c}"),
        1 => format!("{a} {b} {c}"),
        2 => format!("86 {phone}"),
        3 => format!("(+86) {phone}"),
        4 => format!("+86{phone}"),
        _ => format!("+86 {phone}"),
    }
}

/// A member-card number, `8800` + 9 digits, unique per serial.
pub fn card_number(serial: u64) -> String {
    format!("8800{:09}", permute(serial, 1_000_000_000, 387_420_489, 123_456_789))
}

/// A card number written with dashes (`8800-123-456-789`).
pub fn dashed_card(card: &str) -> String {
    if card.len() != 13 {
        return card.to_string();
    }
    format!("{}-{}-{}-{}", &card[..4], &card[4..7], &card[7..10], &card[10..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn typos_keep_digits_and_differ() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut taken = HashSet::new();
        for _ in 0..500 {
            let e = new_email(&mut rng, &mut taken);
            if let Some((t, kind)) = mistype(&mut rng, &e, &mut taken) {
                assert_ne!(t, e);
                let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
                if kind == Typo::Local {
                    assert_eq!(digits(&t), digits(&e));
                }
            }
        }
    }

    #[test]
    fn phones_are_unique_and_not_dummy() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut seen = HashSet::new();
        for i in 0..10_000 {
            let p = phone_of(&mut rng, i);
            assert_eq!(p.len(), 11);
            assert!(seen.insert(p[3..].to_string()));
        }
        assert_eq!(dashed_card(&card_number(5)).len(), 16);
    }
}
