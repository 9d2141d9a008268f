//! Tests of the demo generator: determinism, completeness of the identity truth, and agreement of
//! `truth/defects.json` with what a plain scan of the files finds.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use super::{DemoParams, generate};

fn run(dir: &Path, customers: usize, seed: u64, defects: bool) -> super::DemoSummary {
    generate(&DemoParams { customers, seed, defects }, dir).expect("generate")
}

fn lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = fs::read(path).expect("read");
    let mut out: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    if out.last().is_some_and(Vec::is_empty) {
        out.pop();
    }
    out
}

fn field(line: &[u8], i: usize) -> String {
    line.split(|b| *b == b',').nth(i).map(|f| String::from_utf8_lossy(f).trim().to_string()).unwrap_or_default()
}

#[test]
fn same_seed_gives_identical_bytes() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let sa = run(a.path(), 300, 7, true);
    let sb = run(b.path(), 300, 7, true);
    assert_eq!(sa.defects, sb.defects);
    assert_eq!(sa.files.len(), sb.files.len());
    for ((pa, ra), (pb, rb)) in sa.files.iter().zip(&sb.files) {
        assert_eq!(ra, rb);
        assert_eq!(pa.strip_prefix(a.path()).ok(), pb.strip_prefix(b.path()).ok());
        assert!(fs::read(pa).expect("a") == fs::read(pb).expect("b"), "{} differs", pa.display());
    }
    let c = tempfile::tempdir().expect("tmp");
    run(c.path(), 300, 8, true);
    assert_ne!(
        fs::read(a.path().join("online_orders.csv")).expect("a"),
        fs::read(c.path().join("online_orders.csv")).expect("c")
    );
}

#[test]
fn small_run_is_complete_and_counts_match() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let summary = run(d, 500, 42, true);
    for name in [
        "online_orders.csv",
        "pos_transactions.csv",
        "crm_contacts.csv",
        "service_tickets.jsonl",
        "products.csv",
        "stores.csv",
        "tag_dictionary.csv",
        "tag_value_map.csv",
        "tagcenter.toml",
        "tag_dictionary.toml",
        "truth/identity.csv",
        "truth/persons.csv",
        "truth/future_purchases.csv",
        "truth/defects.json",
    ] {
        let meta = fs::metadata(d.join(name)).unwrap_or_else(|_| panic!("{name} missing"));
        assert!(meta.len() > 0, "{name} empty");
    }
    for (path, rows) in &summary.files {
        if path.extension().is_some_and(|e| e == "csv" || e == "jsonl") {
            assert_eq!(*rows as usize, lines(path).len() - usize::from(path.extension().is_some_and(|e| e == "csv")));
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("truth/defects.json")).expect("json")).expect("parse");
    assert_eq!(json["repeated_headers"]["web"], 17);

    // Identity truth keys.
    let identity: HashSet<(String, String)> =
        lines(&d.join("truth/identity.csv"))[1..].iter().map(|l| (field(l, 0), field(l, 1))).collect();
    let id_rows = lines(&d.join("truth/identity.csv")).len() - 1;
    assert_eq!(identity.len(), id_rows, "identity rows are distinct");
    let mut present = HashSet::new();

    // Web: repeated headers, duplicates.
    let web = lines(&d.join("online_orders.csv"));
    let header = web[0].clone();
    let repeated = web[1..].iter().filter(|l| **l == header).count() as u64;
    assert_eq!(repeated, summary.defects.repeated_headers.web);
    let dup_web = web.windows(2).filter(|w| w[0] == w[1] && w[0] != header).count() as u64;
    assert_eq!(dup_web, summary.defects.duplicate_rows.web);
    for l in web[1..].iter().filter(|l| **l != header) {
        present.insert(("web".to_string(), field(l, 1)));
    }
    assert!(summary.defects.duplicate_rows.web > 0);

    // POS: wrong column counts, duplicates, absurd quantities, missing stores, keys.
    let pos = lines(&d.join("pos_transactions.csv"));
    let wrong = pos[1..].iter().filter(|l| l.split(|b| *b == b',').count() != 8).count() as u64;
    assert_eq!(wrong, summary.defects.wrong_column_count.pos);
    let dup_pos = pos.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    assert_eq!(dup_pos, summary.defects.duplicate_rows.pos);
    let eight: Vec<&Vec<u8>> = pos[1..].iter().filter(|l| l.split(|b| *b == b',').count() == 8).collect();
    let absurd = eight.iter().filter(|l| field(l, 6) == "9999").count() as u64;
    assert_eq!(absurd, summary.defects.absurd_quantities.pos);
    let no_store = eight.iter().filter(|l| field(l, 3).is_empty()).count() as u64;
    assert_eq!(no_store, summary.defects.missing_store.pos);
    for l in &pos[1..] {
        let card = field(l, 1);
        let key = if card.is_empty() { format!("R:{}", field(l, 0)) } else { card };
        present.insert(("pos".to_string(), key));
    }
    let returns = eight.iter().filter(|l| field(l, 6).starts_with('-')).count();
    assert!(returns > 0 && returns * 20 < pos.len(), "returns: {returns} of {}", pos.len());

    // CRM: invalid UTF-8 lines.
    let crm = lines(&d.join("crm_contacts.csv"));
    let invalid = crm.iter().filter(|l| std::str::from_utf8(l).is_err()).count() as u64;
    assert_eq!(invalid, summary.defects.invalid_utf8_lines.crm);
    for l in &crm[1..] {
        present.insert(("crm".to_string(), field(l, 0)));
    }

    // Tickets: truncated JSON lines.
    let tickets = lines(&d.join("service_tickets.jsonl"));
    let truncated = tickets.iter().filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_err()).count() as u64;
    assert_eq!(truncated, summary.defects.truncated_json_lines.service);
    for l in &tickets {
        let text = String::from_utf8_lossy(l);
        let id = text.trim_start_matches("{\"ticket_id\":\"").split('"').next().unwrap_or("").to_string();
        present.insert(("service".to_string(), id));
    }

    let missing: Vec<_> = present.difference(&identity).take(5).collect();
    assert!(missing.is_empty(), "record keys without identity rows: {missing:?}");
    let extra: Vec<_> = identity.difference(&present).take(5).collect();
    assert!(extra.is_empty(), "identity rows without records: {extra:?}");

    // Persons truth: one row per person.
    assert_eq!(lines(&d.join("truth/persons.csv")).len(), 501);
}

#[test]
fn clean_run_has_no_defects() {
    let dir = tempfile::tempdir().expect("tmp");
    let summary = run(dir.path(), 200, 3, false);
    assert_eq!(summary.defects, super::DefectCounts::default());
    let web = lines(&dir.path().join("online_orders.csv"));
    assert!(web[1..].iter().all(|l| l != &web[0]));
    assert!(fs::read_to_string(dir.path().join("crm_contacts.csv")).is_ok());
}

#[test]
#[ignore = "timing run: cargo test -p tagcenter-training demo::tests::timing_100k -- --ignored --nocapture"]
fn timing_100k() {
    let dir = tempfile::tempdir().expect("tmp");
    let start = std::time::Instant::now();
    let summary = run(dir.path(), 100_000, 42, true);
    eprintln!("100k customers: {:.1?}", start.elapsed());
    for (path, rows) in &summary.files {
        eprintln!("{:>10} {}", rows, path.display());
    }
    eprintln!("{}", serde_json::to_string_pretty(&summary.defects).expect("json"));
}

#[test]
fn glossary_leaves_out_the_unglossaried_spellings() {
    for s in super::crm::UNGLOSSARIED {
        assert!(!super::TAG_DICTIONARY_CSV.contains(s), "{s} in glossary CSV");
        assert!(!super::TAG_DICTIONARY_TOML.contains(s), "{s} in TOML");
    }
    for s in ["VIP客户", "母婴人群", "pet owner", "促销敏感"] {
        assert!(super::TAG_DICTIONARY_CSV.contains(s), "{s} missing from glossary CSV");
    }
}
