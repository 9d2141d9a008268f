//! Behaviour tests of the blended model, and (ignored) reference checks on the P4/P5 splits.

use super::*;
use crate::eval::ranking::ndcg_at_k;

const fn _assert_send_sync<T: Send + Sync>() {}
const _: () = _assert_send_sync::<AffinityModel>();

/// A small shop: items 0 (milk) and 1 (bread) are bought weekly by many; item 2 (TV) once by many; items 3-5
/// are bought together once by a few.
fn shop() -> Vec<Event> {
    let mut events = Vec::new();
    for u in 0..20u32 {
        let offset = (u % 7) as i32;
        for week in 0..8 {
            events.push((u, 0, offset + 7 * week, 1.0));
            if u % 2 == 0 {
                events.push((u, 1, offset + 7 * week, 1.0));
            }
        }
        events.push((u, 2, 5 + offset, 1.0));
        if u % 4 == 0 {
            events.extend([(u, 3, 20, 1.0), (u, 4, 20, 1.0), (u, 5, 21, 1.0)]);
        }
    }
    events
}

#[test]
fn an_item_bought_weekly_and_last_bought_a_week_ago_ranks_first() {
    let train = Interactions::from_events(20, 6, &shop()).unwrap();
    let choice = BlendChoice {
        model: CfModel::Knn { k: 10 },
        w_cf: 0.4,
        w_buy_again: 0.4,
        w_popularity: 0.2,
        buy_again: BuyAgainScore::Cycle,
    };
    let model = fit_with_choice(&train, &[], &AffinityParams::default(), choice).unwrap();
    assert!(model.repurchasable[0] && model.repurchasable[1] && !model.repurchasable[2]);
    // Milk every 7 days, last on day 49; bread every 7 days, last on day 53; as of day 56 milk is due.
    let history: Vec<(u32, i32, f32)> =
        (0..8).map(|w| (0, 7 * w, 1.0)).chain((0..8).map(|w| (1, 4 + 7 * (w - 1), 1.0))).collect();
    let recs = model.recommend(&history, None, 56, 3);
    assert_eq!(recs[0].0, 0, "{recs:?}");
    assert_eq!(recs[0].2, RecReason::BoughtBeforeAndDue);
}

#[test]
fn a_durable_already_bought_is_excluded() {
    let train = Interactions::from_events(20, 6, &shop()).unwrap();
    let model = fit_with_choice(&train, &[], &AffinityParams::default(), BlendChoice::fallback()).unwrap();
    assert!(!model.repurchasable[2]);
    let recs = model.recommend(&[(2, 10, 1.0), (3, 20, 1.0)], None, 30, 6);
    assert!(recs.iter().all(|r| r.0 != 2), "{recs:?}");
    // The TV is the most popular item after milk, so a customer who has not bought it gets it.
    let fresh = model.recommend(&[(3, 20, 1.0)], None, 30, 6);
    assert!(fresh.iter().any(|r| r.0 == 2));
}

#[test]
fn a_customer_without_history_gets_segment_popularity() {
    // Segment 1 users (odd) only buy item 4; segment 0 users buy item 0.
    let mut events = Vec::new();
    for u in 0..40u32 {
        events.push((u, if u % 2 == 1 { 4 } else { 0 }, 1, 1.0));
    }
    events.extend((0..10u32).map(|u| (2 * u, 1, 2, 1.0)));
    let segments: Vec<u16> = (0..40).map(|u| (u % 2) as u16).collect();
    let train = Interactions::from_events(40, 5, &events).unwrap();
    let model = fit_with_choice(&train, &segments, &AffinityParams::default(), BlendChoice::fallback()).unwrap();
    let seg1 = model.recommend(&[], Some(1), 3, 2);
    assert_eq!(seg1[0].0, 4);
    assert_eq!(seg1[0].2, RecReason::PopularInSegment);
    let anyone = model.recommend(&[], None, 3, 2);
    assert_eq!(anyone[0].2, RecReason::Popular);
    assert_eq!(anyone[0].0, 0);
}

#[test]
fn similar_items_are_the_co_bought_ones() {
    let train = Interactions::from_events(20, 6, &shop()).unwrap();
    let model = fit_with_choice(&train, &[], &AffinityParams::default(), BlendChoice::fallback()).unwrap();
    let s: Vec<u32> = model.similar(3, 2).iter().map(|n| n.item).collect();
    assert_eq!(s, vec![4, 5]);
    assert!(model.similar(99, 3).is_empty());
}

#[test]
fn fit_affinity_validates_and_records_every_model_tried() {
    let train = Interactions::from_events(20, 6, &shop()).unwrap();
    let params = AffinityParams {
        validation_days: 14,
        als_factors: 4,
        validation_skip_dominated: false,
        ..AffinityParams::default()
    };
    let model = fit_affinity(&train, &[], 56, &params).unwrap();
    assert_eq!(model.validation.len(), model_grid(&params, 6).len());
    let best = model.validation.iter().map(|r| r.ndcg).fold(f64::NEG_INFINITY, f64::max);
    let chosen = model.validation.iter().find(|r| r.choice == model.choice).unwrap();
    assert_eq!(chosen.ndcg, best);
    let w = model.choice;
    assert!((w.w_cf + w.w_buy_again + w.w_popularity - 1.0).abs() < 1e-9);
}

#[test]
fn als_recommendations_fold_the_customer_in() {
    // Two blocks of items; a customer with items of block A is recommended the rest of block A.
    let mut events = Vec::new();
    for u in 0..30u32 {
        let base = if u < 15 { 0 } else { 3 };
        for i in 0..3 {
            if (u + i) % 5 != 0 {
                events.push((u, base + i, 1, 1.0));
            }
        }
    }
    let train = Interactions::from_events(30, 6, &events).unwrap();
    let params = AffinityParams { als_factors: 2, als_regularization: 0.1, ..AffinityParams::default() };
    let choice = BlendChoice {
        model: CfModel::Als,
        w_cf: 1.0,
        w_buy_again: 0.0,
        w_popularity: 0.0,
        buy_again: BuyAgainScore::Cycle,
    };
    let model = fit_with_choice(&train, &[], &params, choice).unwrap();
    let recs = model.recommend(&[(0, 1, 1.0), (1, 1, 1.0)], None, 2, 1);
    assert_eq!(recs[0].0, 2);
    assert_eq!(recs[0].2, RecReason::SimilarTo);
}

#[test]
fn invalid_params_name_the_field() {
    let params = AffinityParams { blend_step: 0.3, ..AffinityParams::default() };
    assert!(matches!(params.validate(), Err(AffinityError::InvalidParam { name: "blend_step", .. })));
    assert!(AffinityParams::default().validate().is_ok());
    let train = Interactions::from_events(2, 2, &[]).unwrap();
    assert!(matches!(
        fit_affinity(&train, &[1], 0, &AffinityParams::default()),
        Err(AffinityError::SegmentsLength { segments: 1, n_users: 2 })
    ));
}

#[test]
fn the_model_survives_a_serde_round_trip() {
    let train = Interactions::from_events(20, 6, &shop()).unwrap();
    let model = fit_with_choice(&train, &[], &AffinityParams::default(), BlendChoice::fallback()).unwrap();
    let json = serde_json::to_string(&model).unwrap();
    let back: AffinityModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
}

#[test]
fn weight_grid_covers_the_simplex() {
    assert_eq!(weight_grid(CfModel::Als, 0.1, BuyAgainScore::Cycle).len(), 66);
    assert_eq!(weight_grid(CfModel::None, 0.5, BuyAgainScore::Cycle).len(), 3);
}

/// Reference checks on the shared P4/P5 splits (run with `--run-ignored only --release` and `--nocapture`).
mod reference {
    use std::collections::{BTreeSet, HashMap};
    use std::path::Path;
    use std::time::Instant;

    use super::*;
    use crate::eval::ranking::{RankingMetrics, popularity_recommendations, ranking_metrics};

    const ROOT: &str = "/work/shared/reference/splits";

    fn read_pairs(path: &Path, cols: (usize, usize)) -> Vec<(String, String, String)> {
        let mut r = csv::Reader::from_path(path).unwrap();
        r.records()
            .map(|row| {
                let row = row.unwrap();
                let third = row.get(3).or(row.get(1)).unwrap_or("").to_owned();
                (row[cols.0].to_owned(), row[cols.1].to_owned(), third)
            })
            .collect()
    }

    /// MovieLens: user/item ids minus 1; day = timestamp / 86400.
    fn movielens(dir: &Path, file: &str) -> Vec<Event> {
        read_pairs(&dir.join(file), (0, 1))
            .into_iter()
            .map(|(u, i, ts)| {
                let ts: i64 = ts.parse().unwrap_or(0);
                (u.parse::<u32>().unwrap() - 1, i.parse::<u32>().unwrap() - 1, (ts / 86_400) as i32, 1.0)
            })
            .collect()
    }

    fn truth_lists(pairs: &[(u32, u32)]) -> Vec<(u32, Vec<u32>)> {
        let mut by_user: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for &(u, i) in pairs {
            by_user.entry(u).or_default().push(i);
        }
        by_user.into_iter().collect()
    }

    fn score(model: &AffinityModel, train: &Interactions, truth: &[(u32, Vec<u32>)], as_of: i32) -> RankingMetrics {
        let all = model.recommend_all(train, &[], as_of, 10);
        let recs: Vec<Vec<u32>> = truth.iter().map(|(u, _)| all[*u as usize].iter().map(|r| r.0).collect()).collect();
        let t: Vec<Vec<u32>> = truth.iter().map(|(_, t)| t.clone()).collect();
        ranking_metrics(&recs, &t, 10, train.active_items()).unwrap()
    }

    fn show(name: &str, m: &RankingMetrics, seconds: f64, reference: &str) {
        println!(
            "{name:<34} P@10 {:.4} R@10 {:.4} NDCG@10 {:.4} (se {:.4}) HR {:.4} Cov {:.4}  fit {:.2}s  ref {reference}",
            m.precision, m.recall, m.ndcg, m.ndcg_se, m.hit_rate, m.coverage, seconds
        );
    }

    fn alone(model: CfModel) -> BlendChoice {
        BlendChoice { model, w_cf: 1.0, w_buy_again: 0.0, w_popularity: 0.0, buy_again: BuyAgainScore::Cycle }
    }

    #[test]
    #[ignore = "needs /work/shared/reference; run in release"]
    fn p4_movielens_matches_the_reference() {
        for split in ["random", "temporal"] {
            let dir = Path::new(ROOT).join("P4").join(split);
            if !dir.exists() {
                println!("skipping: {dir:?} missing");
                return;
            }
            let (n_users, n_items) = (943, 1682);
            let train = Interactions::from_events(n_users, n_items, &movielens(&dir, "train.csv")).unwrap();
            let truth_pairs: Vec<(u32, u32)> = read_pairs(&dir.join("truth.csv"), (0, 1))
                .into_iter()
                .map(|(u, i, _)| (u.parse::<u32>().unwrap() - 1, i.parse::<u32>().unwrap() - 1))
                .collect();
            let truth = truth_lists(&truth_pairs);
            println!("P4 {split}: {} train rows, {} evaluated users", train.n_events(), truth.len());
            let popularity: Vec<f32> = {
                let mut p = vec![0.0f32; n_items];
                train.distinct_rows().items().iter().for_each(|&i| p[i as usize] += 1.0);
                p
            };
            let exclude: Vec<Vec<u32>> = truth.iter().map(|(u, _)| train.user_items(*u as usize).to_vec()).collect();
            let recs = popularity_recommendations(&popularity, &exclude, 10);
            let t: Vec<Vec<u32>> = truth.iter().map(|(_, t)| t.clone()).collect();
            let m = ranking_metrics(&recs, &t, 10, train.active_items()).unwrap();
            let refs = if split == "random" {
                ["0.2252 / 0.1175", "0.3958 / 0.2195 (k=200)", "0.3828 / 0.2095", "0.4455 / 0.2422", "0.4385 / 0.2345"]
            } else {
                [
                    "0.1457 / 0.0636",
                    "0.1533 / 0.0489 (k=200)",
                    "0.1506 / 0.0523",
                    "0.1759 / 0.0788",
                    "0.1799 / ? (16/10/1)",
                ]
            };
            show("popularity (baseline fn)", &m, 0.0, refs[0]);
            let exact = AffinityParams {
                shrinkage: 0.0,
                ease_keep: n_items,
                candidate_pool: n_items,
                als_factors: 16,
                als_regularization: 10.0,
                als_alpha: 0.0,
                ..AffinityParams::default()
            };
            let configs = [
                ("item-kNN k=200 shrink 0", CfModel::Knn { k: 200 }, exact.clone(), refs[1]),
                ("item-kNN k=100 shrink 0", CfModel::Knn { k: 100 }, exact.clone(), refs[2]),
                (
                    "item-kNN k=100 shrink 10",
                    CfModel::Knn { k: 100 },
                    AffinityParams { shrinkage: 10.0, ..exact.clone() },
                    "-",
                ),
                ("EASE λ=500 (all weights)", CfModel::Ease { lambda: 500.0 }, exact.clone(), refs[3]),
                (
                    "EASE λ=500 (keep 500)",
                    CfModel::Ease { lambda: 500.0 },
                    AffinityParams { ease_keep: 500, ..exact.clone() },
                    "-",
                ),
                (
                    "EASE λ=500 (keep 200)",
                    CfModel::Ease { lambda: 500.0 },
                    AffinityParams { ease_keep: 200, ..exact.clone() },
                    "-",
                ),
                ("ALS f=16 λ=10 c=1", CfModel::Als, exact.clone(), refs[4]),
                (
                    "ALS f=32 λ=10 c=1+5n",
                    CfModel::Als,
                    AffinityParams { als_factors: 32, als_alpha: 5.0, ..exact.clone() },
                    "-",
                ),
            ];
            for (name, cf, params, reference) in configs {
                let started = Instant::now();
                let model = fit_with_choice(&train, &[], &params, alone(cf)).unwrap();
                let secs = started.elapsed().as_secs_f64();
                show(name, &score(&model, &train, &truth, 0), secs, reference);
            }
            // Validation-selected with the defaults, on the protocol's own inner split.
            let vdir = dir.join("validation");
            let vtrain = Interactions::from_events(n_users, n_items, &movielens(&vdir, "train.csv")).unwrap();
            let vtruth_pairs: Vec<(u32, u32)> = read_pairs(&vdir.join("truth.csv"), (0, 1))
                .into_iter()
                .map(|(u, i, _)| (u.parse::<u32>().unwrap() - 1, i.parse::<u32>().unwrap() - 1))
                .collect();
            let started = Instant::now();
            let params = AffinityParams::default();
            let (choice, rows) = select_blend(&vtrain, &[], 0, &truth_lists(&vtruth_pairs), &params).unwrap();
            let model = fit_with_choice(&train, &[], &params, choice).unwrap();
            let secs = started.elapsed().as_secs_f64();
            for r in &rows {
                println!(
                    "  validation {:?}: best {:.4} (w_cf {:.1} w_ba {:.1} w_pop {:.1}), alone {:.4}, fit {:.2}s",
                    r.choice.model,
                    r.ndcg,
                    r.choice.w_cf,
                    r.choice.w_buy_again,
                    r.choice.w_popularity,
                    r.ndcg_alone,
                    r.fit_seconds
                );
            }
            show(&format!("val-selected {:?}", choice.model), &score(&model, &train, &truth, 0), secs, "ease 0.4455");
        }
    }

    fn parse_date(s: &str) -> i32 {
        let mut p = s.split('-').map(|x| x.parse::<i32>().unwrap());
        let (d, m, y) = (p.next().unwrap(), p.next().unwrap(), p.next().unwrap());
        days_from_civil(y, m, d)
    }

    /// Days since 1970-01-01 (H. Hinnant's algorithm).
    fn days_from_civil(y: i32, m: i32, d: i32) -> i32 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    #[test]
    #[ignore = "needs /work/shared/reference; run in release"]
    fn p5_groceries_against_the_reference() {
        let dir = Path::new(ROOT).join("P5");
        if !dir.exists() {
            println!("skipping: {dir:?} missing");
            return;
        }
        let rows = read_pairs(&dir.join("train.csv"), (0, 2));
        let test_rows = read_pairs(&dir.join("test.csv"), (0, 2));
        let items: BTreeSet<String> = rows.iter().chain(&test_rows).map(|r| r.1.clone()).collect();
        let item_index: HashMap<&str, u32> = items.iter().enumerate().map(|(i, s)| (s.as_str(), i as u32)).collect();
        let members: BTreeSet<u32> = rows.iter().chain(&test_rows).map(|r| r.0.parse().unwrap()).collect();
        let member_index: HashMap<u32, u32> = members.iter().enumerate().map(|(i, &m)| (m, i as u32)).collect();
        let train_events: Vec<Event> = read_pairs(&dir.join("train.csv"), (0, 2))
            .into_iter()
            .map(|(m, item, _)| (m, item))
            .zip(csv::Reader::from_path(dir.join("train.csv")).unwrap().records())
            .map(|((m, item), row)| {
                let day = parse_date(&row.unwrap()[1]);
                (member_index[&m.parse::<u32>().unwrap()], item_index[item.as_str()], day, 1.0)
            })
            .collect();
        let (n_users, n_items) = (members.len(), items.len());
        let train = Interactions::from_events(n_users, n_items, &train_events).unwrap();
        let truth_pairs: Vec<(u32, u32)> = read_pairs(&dir.join("truth_rec.csv"), (0, 1))
            .into_iter()
            .map(|(m, i, _)| (member_index[&m.parse::<u32>().unwrap()], item_index[i.as_str()]))
            .collect();
        let mut truth = truth_lists(&truth_pairs);
        truth.iter_mut().for_each(|(_, t)| t.dedup());
        truth.retain(|(u, _)| !train.user_items(*u as usize).is_empty());
        let as_of = days_from_civil(2015, 8, 14);
        println!("P5: {} train rows, {n_items} items, {} evaluated members", train.n_events(), truth.len());
        let stats = repurchase_stats(&train, 3.0, 0.10, 30.0);
        let n_rep = stats.repurchasable.iter().filter(|&&r| r).count();
        let mut shares = stats.repeat_share.clone();
        shares.sort_by(f32::total_cmp);
        println!(
            "repurchasable items at 0.10: {n_rep}/{n_items}; repeat share min {:.3} median {:.3} max {:.3}",
            shares[0],
            shares[shares.len() / 2],
            shares[shares.len() - 1]
        );
        let exact = AffinityParams { candidate_pool: n_items, ..AffinityParams::default() };
        let configs = [
            ("popularity", alone(CfModel::None), "0.2986 / 0.3820"),
            ("item-kNN k=167 alone", alone(CfModel::Knn { k: 167 }), "0.2842 / 0.3642"),
            ("EASE λ=500 alone", alone(CfModel::Ease { lambda: 500.0 }), "0.2826 / 0.3635"),
            (
                "buy-again alone",
                BlendChoice {
                    model: CfModel::None,
                    w_cf: 0.0,
                    w_buy_again: 1.0,
                    w_popularity: 0.0,
                    buy_again: BuyAgainScore::Cycle,
                },
                "0.2062 / 0.2859 (count-based)",
            ),
        ];
        for (name, choice, reference) in configs {
            let started = Instant::now();
            let params = if name == "popularity" {
                AffinityParams { repurchase_threshold: 0.0, ..exact.clone() }
            } else {
                exact.clone()
            };
            let model = fit_with_choice(&train, &[], &params, choice).unwrap();
            let secs = started.elapsed().as_secs_f64();
            show(name, &score(&model, &train, &truth, as_of), secs, reference);
        }
        for days in [28, 107] {
            let started = Instant::now();
            let params = AffinityParams { validation_days: days, ..exact.clone() };
            let model = fit_affinity(&train, &[], as_of, &params).unwrap();
            let secs = started.elapsed().as_secs_f64();
            let w = model.choice;
            show(
                &format!(
                    "fit_affinity V={days}d {:?} {:.1}/{:.1}/{:.1}",
                    w.model, w.w_cf, w.w_buy_again, w.w_popularity
                ),
                &score(&model, &train, &truth, as_of),
                secs,
                "blend 0.2877 / 0.3673",
            );
        }
    }
}

#[test]
fn top_k_keeps_the_best_in_order_with_ties_to_the_lower_index() {
    let scores = [0.5f32, 0.9, 0.5, 0.1, 0.9, 0.7];
    let better = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    assert_eq!(super::top_k(0..scores.len(), 4, better), vec![1, 4, 5, 0]);
    assert_eq!(super::top_k(0..scores.len(), 10, better), vec![1, 4, 5, 0, 2, 3]);
    assert!(super::top_k(0..scores.len(), 0, better).is_empty());
    let mut all: Vec<usize> = (0..scores.len()).collect();
    all.sort_by(better);
    for k in 0..=6 {
        assert_eq!(super::top_k((0..scores.len()).rev(), k, better), all[..k].to_vec());
    }
}

#[test]
fn popularity_can_count_rows_and_favour_recent_purchases() {
    // Item 0: one buyer, three rows long ago. Item 1: two buyers, one row each, recently. Item 2: one recent row.
    let events = [(0, 0, 0, 1.0), (0, 0, 1, 1.0), (0, 0, 2, 1.0), (1, 1, 99, 1.0), (2, 1, 99, 1.0), (3, 2, 99, 1.0)];
    let train = Interactions::from_events(4, 3, &events).unwrap();
    let pop = |params: AffinityParams| fit_shared(&train, &[], &params).popularity;
    assert_eq!(pop(AffinityParams::default()), vec![0.5, 1.0, 0.5]);
    let by_rows = pop(AffinityParams { popularity_counts_events: true, ..AffinityParams::default() });
    assert_eq!(by_rows, vec![1.0, 2.0 / 3.0, 1.0 / 3.0]);
    // A 10-day half-life: rows 98-100 days old weigh about 2⁻¹⁰ against 1-day-old ones.
    let recent = pop(AffinityParams {
        popularity_counts_events: true,
        popularity_half_life_days: 10.0,
        ..AffinityParams::default()
    });
    assert!(recent[0] < 0.01 && recent[1] == 1.0 && (recent[2] - 0.5).abs() < 1e-6, "{recent:?}");
}

#[test]
fn ease_item_penalty_raises_the_ridge_of_popular_items() {
    // G = [[3, 2], [2, 4]], λ = 1, κ = 0.5: Λ = diag(1 + 1.5, 1 + 2); for two items B[0][1] = G01 / (G00 + Λ00).
    let g = similarity::Dense { n: 2, data: vec![3.0, 2.0, 2.0, 4.0] };
    let shape = similarity::EaseShape { item_penalty: 0.5, ..Default::default() };
    let cols = similarity::ease_columns(&g, 1.0, shape, &[], 10).unwrap();
    assert!((cols[1][0].score - 2.0 / 5.5).abs() < 1e-6);
    assert!((cols[0][0].score - 2.0 / 7.0).abs() < 1e-6);
    let bad = AffinityParams { ease_item_penalty: -1.0, ..AffinityParams::default() };
    assert!(matches!(bad.validate(), Err(AffinityError::InvalidParam { name: "ease_item_penalty", .. })));
}

#[test]
fn validation_skips_costlier_models_when_knn_adds_nothing_and_keeps_the_choice() {
    // In the shop, buy-again decides: no kNN blend beats it, so EASE and ALS are not fitted.
    let train = Interactions::from_events(20, 6, &shop()).unwrap();
    let full = AffinityParams {
        validation_days: 14,
        als_factors: 4,
        validation_skip_dominated: false,
        ..AffinityParams::default()
    };
    let all = fit_affinity(&train, &[], 56, &full).unwrap();
    let knn_rows = 1 + full.knn_k_grid.len();
    assert!(all.validation[..knn_rows].iter().all(|r| r.ndcg <= all.validation[0].ndcg), "{:?}", all.validation);
    let skipping = AffinityParams { validation_skip_dominated: true, ..full };
    let fast = fit_affinity(&train, &[], 56, &skipping).unwrap();
    assert_eq!(fast.validation.len(), knn_rows);
    assert_eq!(fast.choice, all.choice);
    let figures = |rows: &[ValidationRow]| rows.iter().map(|r| (r.choice, r.ndcg, r.ndcg_alone)).collect::<Vec<_>>();
    assert_eq!(figures(&fast.validation), figures(&all.validation[..knn_rows]));
}

#[test]
fn recommend_all_matches_recommend_for_users_with_and_without_history() {
    let mut events = shop();
    events.retain(|e| e.0 % 5 != 0); // users 0, 5, 10, 15 have no history
    let train = Interactions::from_events(20, 6, &events).unwrap();
    let segments: Vec<u16> = (0..20).map(|u| if u % 3 == 0 { u16::MAX } else { (u % 3) as u16 }).collect();
    let model = fit_with_choice(&train, &segments, &AffinityParams::default(), BlendChoice::fallback()).unwrap();
    let all = model.recommend_all(&train, &segments, 60, 4);
    for (u, recs) in all.iter().enumerate() {
        let history: Vec<(u32, i32, f32)> = train.user_events(u).collect();
        let segment = Some(segments[u]).filter(|&s| s != u16::MAX);
        assert_eq!(recs, &model.recommend(&history, segment, 60, 4), "user {u}");
    }
}

#[test]
fn history_half_life_lets_recent_items_vote_more() {
    // Item 0 goes with 2, item 1 with 3. A customer bought 1 long ago and 0 recently.
    let mut events = Vec::new();
    for u in 0..10u32 {
        events.extend([(u, 0, 1, 1.0), (u, 2, 1, 1.0)]);
        events.extend([(u + 10, 1, 1, 1.0), (u + 10, 3, 1, 1.0)]);
    }
    events.push((20, 2, 1, 1.0));
    let train = Interactions::from_events(21, 4, &events).unwrap();
    let choice = BlendChoice {
        model: CfModel::Knn { k: 10 },
        w_cf: 1.0,
        w_buy_again: 0.0,
        w_popularity: 0.0,
        buy_again: BuyAgainScore::Cycle,
    };
    let history = [(1, 10, 1.0), (0, 99, 1.0)];
    let plain = fit_with_choice(&train, &[], &AffinityParams::default(), choice).unwrap();
    // Without decay item 3 wins: its cosine with item 1 (10 / (10 + 10)) beats 2's with item 0 (10 / (√110 + 10)).
    assert_eq!(plain.recommend(&history, None, 100, 1)[0].0, 3);
    let params = AffinityParams { history_half_life_days: 30.0, ..AffinityParams::default() };
    let recent = fit_with_choice(&train, &[], &params, choice).unwrap();
    assert_eq!(recent.recommend(&history, None, 100, 1)[0].0, 2);
}

#[test]
fn user_weighted_ease_and_popularity_power_are_validated_and_fitted() {
    let bad = AffinityParams { ease_user_weight_power: -0.5, ..AffinityParams::default() };
    assert!(matches!(bad.validate(), Err(AffinityError::InvalidParam { name: "ease_user_weight_power", .. })));
    let bad = AffinityParams { history_half_life_days: f64::NAN, ..AffinityParams::default() };
    assert!(matches!(bad.validate(), Err(AffinityError::InvalidParam { name: "history_half_life_days", .. })));
    let train = Interactions::from_events(20, 6, &shop()).unwrap();
    let params =
        AffinityParams { ease_user_weight_power: 0.25, ease_popularity_power: -0.1, ..AffinityParams::default() };
    let choice = BlendChoice {
        model: CfModel::Ease { lambda: 5.0 },
        w_cf: 1.0,
        w_buy_again: 0.0,
        w_popularity: 0.0,
        buy_again: BuyAgainScore::Cycle,
    };
    let model = fit_with_choice(&train, &[], &params, choice).unwrap();
    // Items 3, 4, 5 are bought together: a customer with 3 and 4 is recommended 5 first.
    let recs = model.recommend(&[(3, 20, 1.0), (4, 20, 1.0)], None, 21, 1);
    assert_eq!(recs[0].0, 5);
}

#[test]
fn the_chosen_buy_again_score_orders_the_list() {
    // Customer 0 bought item 0 on four days long ago (10-day cycle, long overdue) and item 1 on two recent days
    // (3-day cycle, nearly due); customer 1 makes both items repurchasable.
    let events = [
        (0, 0, 0, 1.0),
        (0, 0, 10, 1.0),
        (0, 0, 20, 1.0),
        (0, 0, 30, 1.0),
        (0, 1, 95, 1.0),
        (0, 1, 98, 1.0),
        (1, 0, 1, 1.0),
        (1, 0, 5, 1.0),
        (1, 1, 2, 1.0),
        (1, 1, 6, 1.0),
    ];
    let train = Interactions::from_events(2, 2, &events).unwrap();
    let params = AffinityParams { repurchase_prior_buyers: 0.0, ..AffinityParams::default() };
    let history: Vec<(u32, i32, f32)> = events.iter().filter(|e| e.0 == 0).map(|e| (e.1, e.2, e.3)).collect();
    let order = |buy_again: BuyAgainScore| {
        let choice = BlendChoice { model: CfModel::None, w_cf: 0.0, w_buy_again: 1.0, w_popularity: 0.0, buy_again };
        let model = fit_with_choice(&train, &[], &params, choice).unwrap();
        model.recommend(&history, None, 100, 2).iter().map(|r| r.0).collect::<Vec<u32>>()
    };
    // The cycle score puts the nearly due item first; plain frequency the most bought one.
    assert_eq!(order(BuyAgainScore::Cycle), vec![1, 0]);
    assert_eq!(order(BuyAgainScore::Frequency { lines: false, half_life_days: 0.0, due_share: 0.0 }), vec![0, 1]);
    // Validation only ever picks a score of the grid; an empty grid means the cycle score.
    let fitted = fit_affinity(&train, &[], 100, &AffinityParams { buy_again_grid: Vec::new(), ..params.clone() });
    assert_eq!(fitted.unwrap().choice.buy_again, BuyAgainScore::Cycle);
    let grid = BuyAgainScore::default_grid();
    let fitted = fit_affinity(&train, &[], 100, &AffinityParams { buy_again_grid: grid.clone(), ..params }).unwrap();
    assert!(grid.contains(&fitted.choice.buy_again));
}

#[test]
fn without_a_scorer_the_popularity_cut_gives_the_full_pool_ranking() {
    // 300 items with skewed popularity (some tied), 400 users with random histories; items 0..40 durable.
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut events = Vec::new();
    for u in 0..400u32 {
        for _ in 0..rng.gen_range(0..12) {
            let item = (rng.gen_range(0.0f64..1.0).powi(3) * 300.0) as u32;
            events.push((u, item, rng.gen_range(0..300), 1.0));
        }
    }
    let train = Interactions::from_events(400, 300, &events).unwrap();
    let segments: Vec<u16> = (0..400).map(|u| (u % 4) as u16).collect();
    let mut shorter = 0;
    for w in [(0.0, 1.0, 0.0), (0.0, 0.9, 0.1), (0.0, 0.0, 1.0), (0.0, 0.5, 0.5)] {
        let choice = BlendChoice {
            model: CfModel::None,
            w_cf: w.0,
            w_buy_again: w.1,
            w_popularity: w.2,
            ..BlendChoice::fallback()
        };
        let model = fit_with_choice(&train, &segments, &AffinityParams::default(), choice).unwrap();
        let view = model.view();
        for (u, &segment) in segments.iter().enumerate() {
            let segment = Some(segment);
            let history = train.user_history(u);
            for k in [1, 5, 10, 20] {
                let (cut, in_segment) = view.candidates(&history, segment, 300, k);
                let (full, _) = view.candidates(&history, segment, 300, usize::MAX);
                assert!(cut.len() <= full.len());
                shorter += usize::from(cut.len() < full.len());
                assert_eq!(rank(&cut, &choice, k, in_segment), rank(&full, &choice, k, in_segment), "user {u}, k {k}");
            }
        }
    }
    assert!(shorter > 1000, "the cut shortened only {shorter} candidate lists");
}

proptest::proptest! {
    /// The validation's allocation-free ranking and NDCG give exactly what `rank` and `ndcg_at_k` give, ties
    /// included (scores are drawn from a few values so equal blends are common).
    #[test]
    fn validation_ranking_matches_rank_and_ndcg(
        parts in proptest::collection::vec((0u8..4, 0u8..4, 0u8..4), 0..60),
        truth in proptest::collection::vec(0u32..60, 0..15),
        a in 0u8..=10,
        b in 0u8..=10,
        k in 0usize..12,
    ) {
        let candidates: Vec<Candidate> = parts
            .iter()
            .enumerate()
            .map(|(i, &(cf, ba, pop))| Candidate {
                item: (i as u32 * 7) % 61,
                cf: f32::from(cf) / 3.0,
                buy_again: f32::from(ba) / 3.0,
                popularity: f32::from(pop) / 3.0,
            })
            .collect();
        let (a, b) = (f64::from(a.min(10)) / 10.0, f64::from(b.min(10 - a.min(10))) / 10.0);
        let w = BlendChoice { model: CfModel::None, w_cf: a, w_buy_again: b, w_popularity: 1.0 - a - b, buy_again: BuyAgainScore::Cycle };
        let expected: Vec<u32> = rank(&candidates, &w, k, false).iter().map(|r| r.0).collect();
        let mut ranked = Vec::new();
        top_items(&candidates, &w, k, &mut ranked);
        let got: Vec<u32> = ranked.iter().map(|r| r.1).collect();
        proptest::prop_assert_eq!(&got, &expected);
        let set: std::collections::HashSet<u32> = truth.iter().copied().collect();
        let mut sorted: Vec<u32> = set.iter().copied().collect();
        sorted.sort_unstable();
        let sorted_ndcg = ndcg_at_k_sorted(got.iter().copied(), &sorted, ideal_dcg(sorted.len(), k), k);
        proptest::prop_assert_eq!(sorted_ndcg, ndcg_at_k(&expected, &set, k));
    }
}
