//! Fuzzy identity rules: links an exact match misses, each reported with what it linked.
//!
//! - `email_domain_typo`: `ann@gmial.com` is `ann@gmail.com` when the corrected address exists. A domain is
//!   corrected when it is a known misspelling, or when it is rare and one edit from a domain at least 100
//!   times as frequent (and seen 20 times or more).
//! - `email_local_typo`: `zhang.wei@qq.com` and `zhangwei@qq.com` — same domain, local parts one edit apart
//!   (insertion, deletion, substitution or swap of adjacent characters), the edit involving no digit
//!   (`wei88` and `wei89` are different people), local parts of 6 characters or more, each address the
//!   other's only such neighbour, and a guard from the caller (see `identity::LocalTypoGuard`).

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Serialize;

use super::identity::{IdentityParams, KeyStatus};
use crate::interner::Interner;

/// Which fuzzy rule made a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FuzzyRule {
    /// A misspelt e-mail domain.
    EmailDomainTypo,
    /// E-mail local parts one edit apart.
    EmailLocalTypo,
}

impl FuzzyRule {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailDomainTypo => "email_domain_typo",
            Self::EmailLocalTypo => "email_local_typo",
        }
    }
}

/// A link between two keys made by a fuzzy rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FuzzyLink {
    /// The rule.
    pub rule: FuzzyRule,
    /// The key judged a misspelling (or the first of the pair).
    pub from_key: u32,
    /// The key it was linked to.
    pub to_key: u32,
}

const KNOWN_DOMAIN_TYPOS: &[(&str, &str)] = &[
    ("gmial.com", "gmail.com"),
    ("gmai.com", "gmail.com"),
    ("gmal.com", "gmail.com"),
    ("gmail.con", "gmail.com"),
    ("gmail.cm", "gmail.com"),
    ("gamil.com", "gmail.com"),
    ("qq.con", "qq.com"),
    ("qq.cm", "qq.com"),
    ("qq.co", "qq.com"),
    ("163.con", "163.com"),
    ("163.cm", "163.com"),
    ("126.con", "126.com"),
    ("126.cm", "126.com"),
    ("hotmial.com", "hotmail.com"),
    ("hotmail.con", "hotmail.com"),
    ("outlok.com", "outlook.com"),
    ("outlook.con", "outlook.com"),
    ("yahoo.con", "yahoo.com"),
    ("yaho.com", "yahoo.com"),
    ("sina.con", "sina.com"),
    ("sian.com", "sina.com"),
    ("foxmial.com", "foxmail.com"),
    ("foxmail.con", "foxmail.com"),
];

/// How two strings differ by one edit, if they do.
fn one_edit(a: &[char], b: &[char]) -> Option<Vec<char>> {
    use std::cmp::Ordering;
    match a.len().cmp(&b.len()) {
        Ordering::Equal => {
            let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
            match diffs.as_slice() {
                [i] => Some(vec![a[*i], b[*i]]),
                [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i] => Some(vec![a[*i], a[*j]]),
                _ => None,
            }
        }
        Ordering::Less => one_insert(b, a),
        Ordering::Greater => one_insert(a, b),
    }
}

fn one_insert(longer: &[char], shorter: &[char]) -> Option<Vec<char>> {
    if longer.len() != shorter.len() + 1 {
        return None;
    }
    let i = (0..shorter.len()).find(|&i| longer[i] != shorter[i]).unwrap_or(shorter.len());
    (longer[i + 1..] == shorter[i..]).then(|| vec![longer[i]])
}

fn split_email(key: &str) -> Option<(&str, &str)> {
    key.strip_prefix("email:")?.rsplit_once('@')
}

fn corrected_domain(domain: &str, counts: &HashMap<&str, u32>, frequent: &[(&str, u32)]) -> Option<String> {
    if let Some((_, to)) = KNOWN_DOMAIN_TYPOS.iter().find(|(from, _)| *from == domain) {
        return Some((*to).to_owned());
    }
    let own = counts.get(domain).copied().unwrap_or(0);
    let chars: Vec<char> = domain.chars().collect();
    frequent
        .iter()
        .filter(|(d, n)| *d != domain && *n >= 20 && *n >= own.saturating_mul(100))
        .find(|(d, _)| one_edit(&chars, &d.chars().collect::<Vec<_>>()).is_some())
        .map(|(d, _)| (*d).to_owned())
}

fn variant_hash(domain: &str, variant: impl Iterator<Item = char>) -> u64 {
    let mut h = DefaultHasher::new();
    domain.hash(&mut h);
    for c in variant {
        c.hash(&mut h);
    }
    h.finish()
}

/// Candidate fuzzy links between linking e-mail keys, sorted.
pub fn email_links(
    keys: &Interner,
    status: &[KeyStatus],
    holder: &[Option<u32>],
    params: &IdentityParams,
    accept_local: &dyn Fn(u32, u32) -> bool,
) -> Vec<FuzzyLink> {
    let emails: Vec<(u32, &str, &str)> = (0..keys.len() as u32)
        .filter(|&k| status[k as usize].links() && holder[k as usize].is_some())
        .filter_map(|k| split_email(keys.resolve(k)).map(|(local, domain)| (k, local, domain)))
        .collect();
    let mut links = Vec::new();

    let mut counts: HashMap<&str, u32> = HashMap::default();
    for &(_, _, domain) in &emails {
        *counts.entry(domain).or_default() += 1;
    }
    let mut frequent: Vec<(&str, u32)> = counts.iter().map(|(d, n)| (*d, *n)).filter(|(_, n)| *n >= 20).collect();
    frequent.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));

    // Effective domain of each address, after correction.
    let mut domain_of: HashMap<u32, String> = HashMap::default();
    if params.email_domain_typos {
        let mut fixes: HashMap<&str, Option<String>> = HashMap::default();
        for &(k, local, domain) in &emails {
            let fix = fixes.entry(domain).or_insert_with(|| corrected_domain(domain, &counts, &frequent));
            if let Some(fixed) = fix {
                if let Some(target) = keys.get(&format!("email:{local}@{fixed}")) {
                    if status[target as usize].links() && holder[target as usize].is_some() {
                        links.push(FuzzyLink { rule: FuzzyRule::EmailDomainTypo, from_key: k, to_key: target });
                    }
                }
                domain_of.insert(k, fixed.clone());
            }
        }
    }

    if params.email_local_typos {
        let mut variants: Vec<(u64, u32)> = Vec::new();
        let mut chars_of: HashMap<u32, (Vec<char>, String)> = HashMap::default();
        for &(k, local, domain) in &emails {
            let chars: Vec<char> = local.chars().collect();
            if chars.len() < 6 {
                continue;
            }
            let domain = domain_of.get(&k).cloned().unwrap_or_else(|| domain.to_owned());
            variants.push((variant_hash(&domain, chars.iter().copied()), k));
            for skip in 0..chars.len() {
                let v = chars.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, c)| *c);
                variants.push((variant_hash(&domain, v), k));
            }
            chars_of.insert(k, (chars, domain));
        }
        variants.sort_unstable();
        variants.dedup();
        let mut pairs: HashSet<(u32, u32)> = HashSet::default();
        let mut start = 0;
        while start < variants.len() {
            let mut end = start + 1;
            while end < variants.len() && variants[end].0 == variants[start].0 {
                end += 1;
            }
            if end - start > 1 && end - start <= 50 {
                for i in start..end {
                    for j in i + 1..end {
                        let (a, b) = (variants[i].1, variants[j].1);
                        if a != b {
                            pairs.insert((a.min(b), a.max(b)));
                        }
                    }
                }
            }
            start = end;
        }
        let mut verified: Vec<(u32, u32)> = pairs
            .into_iter()
            .filter(|(a, b)| {
                let (ca, da) = &chars_of[a];
                let (cb, db) = &chars_of[b];
                da == db && one_edit(ca, cb).is_some_and(|edit| !edit.iter().any(char::is_ascii_digit))
            })
            .collect();
        let mut degree: HashMap<u32, u32> = HashMap::default();
        for &(a, b) in &verified {
            *degree.entry(a).or_default() += 1;
            *degree.entry(b).or_default() += 1;
        }
        verified.retain(|(a, b)| degree[a] == 1 && degree[b] == 1 && accept_local(*a, *b));
        links.extend(verified.into_iter().map(|(a, b)| FuzzyLink {
            rule: FuzzyRule::EmailLocalTypo,
            from_key: a,
            to_key: b,
        }));
    }
    links.sort_unstable_by(|x, y| {
        (x.rule, keys.resolve(x.from_key), keys.resolve(x.to_key)).cmp(&(
            y.rule,
            keys.resolve(y.from_key),
            keys.resolve(y.to_key),
        ))
    });
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn one_edit_recognises_each_kind_of_edit() {
        assert_eq!(one_edit(&chars("zhangwei"), &chars("zhang.wei")), Some(vec!['.']));
        assert_eq!(one_edit(&chars("zhangwei"), &chars("zhangwie")), Some(vec!['e', 'i']));
        assert_eq!(one_edit(&chars("zhangwei"), &chars("zhangxei")), Some(vec!['w', 'x']));
        assert_eq!(one_edit(&chars("zhangwei"), &chars("zhangwei")), None);
        assert_eq!(one_edit(&chars("zhangwei"), &chars("zhnagwie")), None);
        assert_eq!(one_edit(&chars("abc"), &chars("abcde")), None);
    }

    fn setup(emails: &[&str]) -> (Interner, Vec<KeyStatus>, Vec<Option<u32>>) {
        let mut keys = Interner::default();
        for e in emails {
            keys.intern(&format!("email:{e}"));
        }
        let n = keys.len();
        (keys, vec![KeyStatus::Linked; n], (0..n as u32).map(Some).collect())
    }

    fn params() -> IdentityParams {
        IdentityParams { email_domain_typos: true, email_local_typos: true, ..IdentityParams::default() }
    }

    fn named(keys: &Interner, links: &[FuzzyLink]) -> Vec<(String, String, String)> {
        links
            .iter()
            .map(|l| {
                (l.rule.as_str().to_owned(), keys.resolve(l.from_key).to_owned(), keys.resolve(l.to_key).to_owned())
            })
            .collect()
    }

    #[test]
    fn known_domain_misspellings_link_to_the_existing_address() {
        let (keys, status, holder) = setup(&["ann.lee@gmial.com", "ann.lee@gmail.com", "bob.wu@qq.con"]);
        let links = email_links(&keys, &status, &holder, &params(), &|_, _| true);
        assert_eq!(
            named(&keys, &links),
            vec![("email_domain_typo".into(), "email:ann.lee@gmial.com".into(), "email:ann.lee@gmail.com".into())]
        );
    }

    #[test]
    fn local_typos_link_only_unique_letter_edits() {
        let (keys, status, holder) = setup(&[
            "zhang.wei@qq.com",
            "zhangwei@qq.com",
            "wangli88@qq.com",
            "wangli89@qq.com",
            "liuyang@163.com",
            "liuyang@qq.com",
            "chenjing@qq.com",
            "chenjin@qq.com",
            "chenjingg@qq.com",
        ]);
        let links = email_links(&keys, &status, &holder, &params(), &|_, _| true);
        assert_eq!(
            named(&keys, &links),
            vec![("email_local_typo".into(), "email:zhang.wei@qq.com".into(), "email:zhangwei@qq.com".into())]
        );
    }

    #[test]
    fn blocked_addresses_are_not_candidates() {
        let (keys, mut status, holder) = setup(&["zhang.wei@qq.com", "zhangwei@qq.com"]);
        status[1] = KeyStatus::BlockedSharedIdentified;
        assert!(email_links(&keys, &status, &holder, &params(), &|_, _| true).is_empty());
    }
}
