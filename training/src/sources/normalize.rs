//! Normalizers: turn the many ways a value is typed into one comparable form. Identity keys (e-mail, phone,
//! member card) and item codes go through these before anything is matched.

use std::borrow::Cow;

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

/// The kind of an identity key; fixes its normalizer and its namespace in the identity graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// An e-mail address: trimmed, lower case, no inner spaces.
    Email,
    /// A phone number: digits only, with the default country code.
    Phone,
    /// A member or loyalty card number: no spaces or dashes, upper case.
    Card,
    /// A column holding an e-mail or a phone (a ticket's contact): `@` decides.
    EmailOrPhone,
    /// Any other identifier (a customer number shared by systems): trimmed.
    Id,
}

impl KeyKind {
    /// The namespace of this key kind in the identity graph and the API (`email:…`, `phone:…`).
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Card => "card",
            Self::EmailOrPhone => "contact",
            Self::Id => "id",
        }
    }
}

/// Rules for phone numbers.
#[derive(Debug, Clone)]
pub struct PhoneRules {
    /// Country calling code added to national numbers (`86`).
    pub country_code: String,
    /// Digits in a national number (11 for Chinese mobiles).
    pub national_length: usize,
}

impl Default for PhoneRules {
    fn default() -> Self {
        Self { country_code: "86".to_owned(), national_length: 11 }
    }
}

/// Normalizes an identity key of `kind`. Returns the resolved kind (an `EmailOrPhone` becomes `Email` or
/// `Phone`) and the normalized value, or `None` when the text is not a usable key of that kind.
pub fn normalize_key(kind: KeyKind, raw: &str, phone: &PhoneRules) -> Option<(KeyKind, String)> {
    match kind {
        KeyKind::Email => normalize_email(raw).map(|v| (KeyKind::Email, v)),
        KeyKind::Phone => normalize_phone(raw, phone).map(|v| (KeyKind::Phone, v)),
        KeyKind::Card => normalize_card(raw).map(|v| (KeyKind::Card, v)),
        KeyKind::EmailOrPhone => {
            if raw.contains('@') || raw.contains('＠') {
                normalize_email(raw).map(|v| (KeyKind::Email, v))
            } else {
                normalize_phone(raw, phone).map(|v| (KeyKind::Phone, v))
            }
        }
        KeyKind::Id => {
            let v = fold_width(raw.trim());
            (!v.is_empty()).then_some((KeyKind::Id, v))
        }
    }
}

/// E-mail: full-width forms folded, white space removed, lower case; needs one `@`, a local part and a
/// dotted domain.
pub fn normalize_email(raw: &str) -> Option<String> {
    let folded: String = fold_width(raw).chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
    let (local, domain) = folded.split_once('@')?;
    let valid = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && folded.len() <= 254;
    valid.then_some(folded)
}

/// Phone: digits only, international prefix `00` dropped, the country code added to national numbers.
/// Numbers with fewer than 7 or more than 15 digits are not phones.
pub fn normalize_phone(raw: &str, rules: &PhoneRules) -> Option<String> {
    let mut digits: String = fold_width(raw).chars().filter(char::is_ascii_digit).collect();
    if let Some(rest) = digits.strip_prefix("00") {
        digits = rest.to_owned();
    }
    let cc = &rules.country_code;
    if digits.len() == rules.national_length {
        digits.insert_str(0, cc);
    } else if digits.len() == rules.national_length + 1 && digits.starts_with('0') {
        // Trunk prefix: 0 + national number.
        digits.replace_range(0..1, cc);
    }
    (7..=15).contains(&digits.len()).then_some(digits)
}

/// Member card: full-width folded, spaces, dashes and dots removed, upper case; at least 4 characters.
pub fn normalize_card(raw: &str) -> Option<String> {
    let card: String = fold_width(raw)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '_' | '/'))
        .flat_map(char::to_uppercase)
        .collect();
    (card.len() >= 4 && card.chars().all(|c| c.is_ascii_alphanumeric())).then_some(card)
}

/// Value normalizers that a column spec may name (`normalize = "ean13"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalizer {
    /// Trim white space (always done).
    Trim,
    /// Upper case.
    Upper,
    /// Lower case.
    Lower,
    /// Keep digits only.
    Digits,
    /// A barcode: digits only, left-padded with zeros to 13 (restores dropped leading zeros).
    Ean13,
    /// As a member card.
    Card,
    /// As an e-mail.
    Email,
}

impl Normalizer {
    /// Applies the normalizer; `None` when nothing usable is left. Values already in normal form are
    /// returned borrowed (the common case, so reading millions of rows allocates little).
    pub fn apply(self, raw: &str) -> Option<Cow<'_, str>> {
        let t = raw.trim();
        let out: Cow<'_, str> = match self {
            Self::Trim => Cow::Borrowed(t),
            Self::Upper if t.bytes().all(|b| b.is_ascii() && !b.is_ascii_lowercase()) => Cow::Borrowed(t),
            Self::Upper => Cow::Owned(fold_width(t).to_uppercase()),
            Self::Lower if t.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) => Cow::Borrowed(t),
            Self::Lower => Cow::Owned(fold_width(t).to_lowercase()),
            Self::Digits if t.bytes().all(|b| b.is_ascii_digit()) => Cow::Borrowed(t),
            Self::Digits => Cow::Owned(fold_width(t).chars().filter(char::is_ascii_digit).collect()),
            Self::Ean13 if t.len() == 13 && t.bytes().all(|b| b.is_ascii_digit()) => Cow::Borrowed(t),
            Self::Ean13 => {
                let digits: String = fold_width(t).chars().filter(char::is_ascii_digit).collect();
                if digits.is_empty() || digits.len() > 14 {
                    return None;
                }
                Cow::Owned(format!("{digits:0>13}"))
            }
            Self::Card => return normalize_card(t).map(Cow::Owned),
            Self::Email => return normalize_email(t).map(Cow::Owned),
        };
        (!out.is_empty()).then_some(out)
    }
}

/// Folds full-width and compatibility forms (`ＶＩＰ` → `VIP`, `；` → `;`) with Unicode NFKC. Pure ASCII is
/// returned as is without allocation work beyond the copy.
pub fn fold_width(text: &str) -> String {
    if text.is_ascii() { text.to_owned() } else { text.nfkc().collect() }
}

/// Folds a label for matching tags, aliases and values: NFKC, lower case, trimmed, and runs of white space,
/// `_` and `-` made one space. `Gold_Member`, `gold member` and `ＧＯＬＤ－ＭＥＭＢＥＲ` fold alike.
pub fn fold_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in fold_width(text).chars().flat_map(char::to_lowercase) {
        if c.is_whitespace() || c == '_' || c == '-' {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_fold_case_spaces_and_width() {
        assert_eq!(normalize_email("  Ann.Lee@Example.COM ").as_deref(), Some("ann.lee@example.com"));
        assert_eq!(normalize_email("ann lee@qq.com").as_deref(), Some("annlee@qq.com"));
        assert_eq!(normalize_email("ＡＮＮ＠qq.com").as_deref(), Some("ann@qq.com"));
        for bad in ["", "ann", "@qq.com", "ann@", "ann@qq", "a@b@c.com", "ann@.com"] {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn phones_in_every_cashier_format_agree() {
        let rules = PhoneRules::default();
        for raw in [
            "+86 138-0013-8000",
            "13800138000",
            "138 0013 8000",
            "86 13800138000",
            "(+86) 13800138000",
            "0086 13800138000",
        ] {
            assert_eq!(normalize_phone(raw, &rules).as_deref(), Some("8613800138000"), "{raw:?}");
        }
        assert_eq!(normalize_phone("12345", &rules), None);
        assert_eq!(normalize_phone("", &rules), None);
        assert_eq!(normalize_phone("1234567890123456", &rules), None);
    }

    #[test]
    fn cards_lose_dashes_and_spaces() {
        assert_eq!(normalize_card(" 8800-1234-5678 ").as_deref(), Some("880012345678"));
        assert_eq!(normalize_card("ab 12"), Some("AB12".to_owned()));
        assert_eq!(normalize_card("1-2"), None);
        assert_eq!(normalize_card("88#1234"), None);
    }

    #[test]
    fn email_or_phone_resolves_by_its_shape() {
        let rules = PhoneRules::default();
        assert_eq!(normalize_key(KeyKind::EmailOrPhone, "A@B.cn", &rules), Some((KeyKind::Email, "a@b.cn".into())));
        assert_eq!(
            normalize_key(KeyKind::EmailOrPhone, "138 0013 8000", &rules),
            Some((KeyKind::Phone, "8613800138000".into()))
        );
        assert_eq!(normalize_key(KeyKind::EmailOrPhone, "n/a", &rules), None);
    }

    #[test]
    fn ean13_restores_dropped_leading_zeros() {
        assert_eq!(Normalizer::Ean13.apply("690123456789").as_deref(), Some("0690123456789"));
        assert_eq!(Normalizer::Ean13.apply("6901234567892").as_deref(), Some("6901234567892"));
        assert_eq!(Normalizer::Ean13.apply("abc"), None);
    }

    #[test]
    fn labels_fold_alike() {
        assert_eq!(fold_label("Gold_Member"), "gold member");
        assert_eq!(fold_label("  gold -  member "), "gold member");
        assert_eq!(fold_label("ＧＯＬＤ－ＭＥＭＢＥＲ"), "gold member");
        assert_eq!(fold_label("高价值"), "高价值");
        assert_eq!(fold_label("ＶＩＰ"), "vip");
    }

    proptest! {
        #[test]
        fn normalizers_are_idempotent(raw in "\\PC{0,30}") {
            let rules = PhoneRules::default();
            if let Some(e) = normalize_email(&raw) { prop_assert_eq!(normalize_email(&e), Some(e.clone())); }
            if let Some(p) = normalize_phone(&raw, &rules) { prop_assert_eq!(normalize_phone(&p, &rules), Some(p.clone())); }
            if let Some(c) = normalize_card(&raw) { prop_assert_eq!(normalize_card(&c), Some(c.clone())); }
            let l = fold_label(&raw);
            prop_assert_eq!(fold_label(&l), l.clone());
        }

        #[test]
        fn phone_formatting_does_not_change_the_key(n in 10_000_000_000u64..19_999_999_999u64) {
            let rules = PhoneRules::default();
            let plain = n.to_string();
            let spaced = format!("+86 {} {} {}", &plain[..3], &plain[3..7], &plain[7..]);
            prop_assert_eq!(normalize_phone(&plain, &rules), normalize_phone(&spaced, &rules));
        }
    }
}
