//! Training: from a unify run to a versioned model bundle, with a temporal backtest.
//!
//! With reference date T and horizon H (92 days by default):
//! - **Backtest.** Churn is fitted on features as of T−2H labelled on [T−2H, T−H) and scored on features
//!   as of T−H against what happened in [T−H, T); timing and affinity are fitted on data before T−H and
//!   scored on the same window. Every metric is printed beside its simple baseline (recency-only churn
//!   score, constant timing, popularity).
//! - **Final models.** Churn is refitted on features as of T−H labelled on [T−H, T) and scores every
//!   customer as of T; timing and affinity are refitted on everything before T (affinity keeps the component
//!   and blend weights the backtest validated). Their outputs fill the bundle the server loads.
//!
//! Features are always computed as of the start of their label window, so nothing from the window leaks
//! into them.

pub mod assemble;
pub mod export;
pub mod history;
pub mod report;

use std::time::Instant;

use chrono::NaiveDate;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::eval::classification::{ClassificationMetrics, classification_metrics};
use crate::eval::ranking::{RankingMetrics, popularity_recommendations, ranking_metrics};
use crate::eval::timing::{TimingMetrics, timing_metrics};
use crate::features::{FeatureMatrix, FeatureParams, FeatureSchema};
use crate::models::affinity::{AffinityModel, AffinityParams, Interactions, fit_affinity, fit_with_choice};
use crate::models::churn::{ChurnModel, ChurnParams, LogisticScorer, fit_churn};
use crate::models::timing::{History, TimingModel, TimingParams, TimingPrediction, fit_timing, fit_timing_unvalidated};
use crate::unify::Unified;
use crate::unify::behaviour::day_number;
use crate::unify::profile::{ProfileTable, Values};
use history::PurchaseHistory;

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Not enough history for the backtest windows.
    #[error("not enough history: training needs purchases before {0} (reference date minus twice the horizon)")]
    TooLittleHistory(NaiveDate),
    /// The churn model failed.
    #[error(transparent)]
    Churn(#[from] crate::models::churn::ChurnError),
    /// The timing model failed.
    #[error(transparent)]
    Timing(#[from] crate::models::timing::TimingError),
    /// The affinity model failed.
    #[error(transparent)]
    Affinity(#[from] crate::models::affinity::AffinityError),
    /// An evaluation failed.
    #[error("evaluation: {0}")]
    Eval(String),
}

/// Training options.
#[derive(Debug, Clone)]
pub struct TrainParams {
    /// Churn and scoring horizon in days.
    pub horizon_days: u32,
    /// Recommendations stored per customer in the bundle.
    pub recommendations_per_customer: usize,
    /// Churn candidates.
    pub churn: ChurnParams,
    /// Timing model.
    pub timing: TimingParams,
    /// Affinity model.
    pub affinity: AffinityParams,
    /// Feature encoding.
    pub features: FeatureParams,
    /// Free the unified store's transaction lines, tag facts and tickets once the last point-in-time view
    /// is built (nothing after it reads them; the caller can no longer compute profiles). Lowers the peak
    /// memory of a training run by the size of the lines.
    pub release_transactions: bool,
    /// At most this many buyers (a seeded sample) fit each churn model: the fit itself uses at most
    /// `churn.max_validation_rows + max(max_logistic_rows, max_forest_rows)` of them, so building the
    /// feature matrix for every buyer would only cost memory.
    pub max_churn_fit_rows: usize,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            horizon_days: 92,
            recommendations_per_customer: 20,
            churn: ChurnParams::default(),
            timing: TimingParams::default(),
            // One EASE λ and one kNN size: each EASE candidate inverts an items × items matrix twice per fit
            // (validation and refit), which dominates training time on a retail catalogue.
            affinity: AffinityParams {
                ease_lambda_grid: vec![500.0],
                knn_k_grid: vec![100],
                ..AffinityParams::default()
            },
            features: FeatureParams::default(),
            max_churn_fit_rows: 400_000,
            release_transactions: false,
        }
    }
}

/// A metric beside its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Compared<T> {
    /// Ours.
    pub model: T,
    /// The simple baseline's.
    pub baseline: T,
}

/// The backtest's results.
#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    /// Cutoff: features as of this day, outcomes in [cutoff, reference date).
    pub cutoff: NaiveDate,
    /// End of the scored window.
    pub end: NaiveDate,
    /// Churn on all customers with a purchase before the cutoff (baseline: recency alone).
    pub churn: Compared<ClassificationMetrics>,
    /// Churn on customers active in the 180 days before the cutoff (the harder, more useful half).
    pub churn_active_180d: Compared<ClassificationMetrics>,
    /// The churn candidate kept, and validation AUCs.
    pub churn_choice: String,
    /// Validation ROC AUC of every churn candidate.
    pub churn_validation: Vec<(String, f64)>,
    /// Next purchase date (baseline: a constant wait).
    pub timing: Compared<TimingMetrics>,
    /// The next-date predictor the timing model chose.
    pub timing_predictor: String,
    /// Top-10 recommendations (baseline: popularity).
    pub recommendations: Compared<RankingMetrics>,
    /// The affinity blend chosen.
    pub affinity_choice: String,
    /// Labels and scores of the churn backtest, for the report's curves.
    #[serde(skip)]
    pub churn_scores: (Vec<bool>, Vec<f64>, Vec<f64>),
    /// Timing errors in days (predicted − actual) of the scored buyers, for the histogram.
    #[serde(skip)]
    pub timing_errors: Vec<i32>,
}

/// Everything the final fit produced, per customer (indexed like the unified customers).
pub struct FinalModels {
    /// The as-of date (reference date).
    pub as_of: NaiveDate,
    /// The profiles as of the reference date.
    pub profiles: ProfileTable,
    /// Churn model.
    pub churn: ChurnModel,
    /// Feature schema of the churn model.
    pub schema: FeatureSchema,
    /// Churn probability per customer (NaN for customers without purchases).
    pub churn_probability: Vec<f64>,
    /// Top-3 reasons per customer: (feature index, contribution).
    pub churn_reasons: Vec<Vec<(usize, f64)>>,
    /// Timing model and per-customer predictions.
    pub timing: TimingModel,
    /// Timing predictions per customer.
    pub timing_predictions: Vec<TimingPrediction>,
    /// Affinity model.
    pub affinity: AffinityModel,
    /// Recommendations per customer.
    pub recommendations: Vec<Vec<(u32, f32, tagcenter::bundle::RecReason)>>,
    /// Segment per customer (dominant category), `u16::MAX` for none.
    pub segments: Vec<u16>,
}

/// Value at risk per customer: churn probability × the spend expected over the horizon if the customer
/// stays (net spend per day of tenure, tenure at least one horizon, times the horizon). Customers known
/// only through anonymous records (a till receipt without a card) cannot be contacted and get 0.
pub fn value_at_risk(unified: &Unified, models: &FinalModels, horizon_days: u32) -> Vec<f64> {
    let h = f64::from(horizon_days);
    let number = |name: &str| match models.profiles.column(name).map(|c| &c.values) {
        Some(Values::Number(v)) => v.clone(),
        _ => vec![f64::NAN; models.churn_probability.len()],
    };
    let (monetary, tenure) = (number("monetary"), number("tenure_days"));
    (0..models.churn_probability.len())
        .map(|c| {
            let p = models.churn_probability[c];
            let contactable =
                unified.identity.records_of(c as u32).iter().any(|&r| !unified.store.anonymous[r as usize]);
            if p.is_nan() || !contactable || monetary[c].is_nan() {
                return 0.0;
            }
            p * monetary[c].max(0.0) / tenure[c].max(h) * h
        })
        .collect()
}

/// How long a training stage took, and the process's peak memory when it ended.
#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    /// Stage name.
    pub stage: String,
    /// Wall seconds.
    pub seconds: f64,
    /// Peak resident memory of the process so far, MiB (NaN where unknown).
    pub peak_rss_mib: f64,
}

/// Times consecutive stages: each lap records the time since the previous one and the peak memory so far.
pub struct StageClock(Instant);

impl StageClock {
    /// Starts timing the first stage.
    pub fn start() -> Self {
        Self(Instant::now())
    }

    /// Ends the current stage as `stage` (appended to `timings`) and starts the next.
    pub fn lap(&mut self, stage: &str, timings: &mut Vec<StageTiming>) {
        let peak_rss_mib = crate::memory::peak_rss_mib().unwrap_or(f64::NAN);
        timings.push(StageTiming { stage: stage.to_owned(), seconds: self.0.elapsed().as_secs_f64(), peak_rss_mib });
        self.0 = Instant::now();
    }
}

/// A finished training run.
pub struct TrainOutcome {
    /// The backtest.
    pub backtest: Backtest,
    /// The final models and their outputs.
    pub models: FinalModels,
    /// Time and memory per stage.
    pub timings: Vec<StageTiming>,
    /// Fingerprint of the training data (taken before training, so the caller may release the unified
    /// store's transaction lines once the outputs that need them are written).
    pub data_fingerprint: String,
}

/// Dominant spend category per customer (`u16::MAX` when none), from the profile's `share_*` columns.
pub fn segments(profiles: &ProfileTable, categories: &[String]) -> Vec<u16> {
    let n = profiles.customer_ids.len();
    let mut best = vec![(u16::MAX, 0.0f64); n];
    for (idx, category) in categories.iter().enumerate() {
        let Some(column) = profiles.column(&format!("share_{category}")) else { continue };
        let Values::Number(v) = &column.values else { continue };
        for (c, share) in v.iter().enumerate() {
            if !share.is_nan() && *share > best[c].1 {
                best[c] = (idx as u16, *share);
            }
        }
    }
    best.into_iter().map(|b| b.0).collect()
}

/// State shared by the fits of one run.
struct Context<'a> {
    unified: &'a Unified,
    history: PurchaseHistory,
    params: &'a TrainParams,
    categories: Vec<String>,
}

/// One point-in-time view: profiles, the customers with a purchase before it, their timing predictions.
struct View {
    day: i32,
    profiles: ProfileTable,
    buyers: Vec<usize>,
    timing: TimingModel,
    predictions: Vec<TimingPrediction>,
    segments: Vec<u16>,
}

impl Context<'_> {
    fn date(&self, day: i32) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap_or(NaiveDate::MIN)
    }

    /// The view as of `day`. A [`ViewUse::ChurnFeatures`] view only feeds a churn fit: its timing model
    /// skips the next-date validation and predicts only the sampled buyers' BG/NBD figures (the others get
    /// the placeholder of a customer who never bought), which is all [`Context::fit_churn`] reads.
    fn view(&self, day: i32, purpose: ViewUse) -> Result<View, TrainError> {
        let started = Instant::now();
        let profiles = self.unified.profiles(self.date(day));
        let profiles_seconds = started.elapsed().as_secs_f64();
        let n = self.history.customers();
        let buyers: Vec<usize> = (0..n).filter(|&c| !self.history.days_before(c, day).is_empty()).collect();
        let segments = segments(&profiles, &self.categories);
        let histories: Vec<History<'_>> =
            (0..n).map(|c| History { purchase_days: self.history.days_before(c, day) }).collect();
        let (timing, predictions) = match purpose {
            ViewUse::Scoring => {
                let timing = fit_timing(&histories, &segments, day, &self.params.timing)?;
                let predictions = timing.predict_all(&histories, &segments, day)?;
                (timing, predictions)
            }
            ViewUse::ChurnFeatures => {
                let timing = fit_timing_unvalidated(&histories, &segments, day, &self.params.timing)?;
                let never_bought = timing.predict(&History { purchase_days: &[] }, u16::MAX, day);
                let mut predictions = vec![never_bought; n];
                let rows: Vec<usize> = self.sample_positions(day, buyers.len()).iter().map(|&k| buyers[k]).collect();
                let sampled: Vec<TimingPrediction> =
                    rows.par_iter().map(|&c| timing.predict(&histories[c], segments[c], day)).collect();
                for (&c, p) in rows.iter().zip(sampled) {
                    predictions[c] = p;
                }
                (timing, predictions)
            }
        };
        tracing::debug!(
            day,
            profiles_seconds,
            timing_seconds = started.elapsed().as_secs_f64() - profiles_seconds,
            "view"
        );
        Ok(View { day, profiles, buyers, timing, predictions, segments })
    }

    /// Churn labels of a view's buyers: no purchase in [day, day + horizon).
    fn labels(&self, view: &View) -> Vec<bool> {
        let end = view.day + self.params.horizon_days as i32;
        view.buyers.iter().map(|&c| !self.history.bought_between(c, view.day, end)).collect()
    }

    fn extras(view: &View, rows: &[usize]) -> Vec<Vec<f64>> {
        let p = &view.predictions;
        vec![
            rows.iter().map(|&c| p[c].p_alive).collect(),
            rows.iter().map(|&c| 1.0 - p[c].p_return).collect(),
            rows.iter().map(|&c| p[c].expected_90d.ln_1p()).collect(),
        ]
    }

    /// The feature matrix of the view's buyers at `positions` (indices into `view.buyers`).
    fn matrix(schema: &FeatureSchema, view: &View, positions: &[usize]) -> FeatureMatrix {
        let rows: Vec<usize> = positions.iter().map(|&k| view.buyers[k]).collect();
        schema.transform(&view.profiles, &rows, &Self::extras(view, &rows))
    }

    /// The positions (into `view.buyers`) that fit a churn model: all, or a seeded sample of
    /// `max_churn_fit_rows`, in order.
    fn fit_positions(&self, view: &View) -> Vec<usize> {
        self.sample_positions(view.day, view.buyers.len())
    }

    /// All of `0..buyers`, or a sample of `max_churn_fit_rows` seeded by the seed and `day`, in order.
    fn sample_positions(&self, day: i32, buyers: usize) -> Vec<usize> {
        let mut positions: Vec<usize> = (0..buyers).collect();
        if positions.len() > self.params.max_churn_fit_rows {
            let mut rng = ChaCha8Rng::seed_from_u64(self.params.churn.seed ^ u64::from(day.unsigned_abs()));
            positions.shuffle(&mut rng);
            positions.truncate(self.params.max_churn_fit_rows);
            positions.sort_unstable();
        }
        positions
    }

    /// Fits the feature encoding and a churn model on a view's (sampled) buyers and their labels.
    fn fit_churn(&self, view: &View, labels: &[bool]) -> Result<(FeatureSchema, ChurnModel), TrainError> {
        let positions = self.fit_positions(view);
        let rows: Vec<usize> = positions.iter().map(|&k| view.buyers[k]).collect();
        let schema = FeatureSchema::fit(&view.profiles, &rows, &EXTRAS, &self.params.features);
        let y: Vec<bool> = positions.iter().map(|&k| labels[k]).collect();
        let model = fit_churn(&Self::matrix(&schema, view, &positions), &y, &self.params.churn)?;
        Ok((schema, model))
    }

    /// Runs `score` over the view's buyers a block of rows at a time (the whole matrix of a million
    /// buyers would take most of a gigabyte) and concatenates the results, in buyer order.
    fn score_blocks<T>(
        schema: &FeatureSchema,
        view: &View,
        score: impl Fn(&FeatureMatrix) -> Result<Vec<T>, TrainError>,
    ) -> Result<Vec<T>, TrainError> {
        let mut out = Vec::with_capacity(view.buyers.len());
        let all: Vec<usize> = (0..view.buyers.len()).collect();
        for block in all.chunks(SCORE_BLOCK_ROWS) {
            out.extend(score(&Self::matrix(schema, view, block))?);
        }
        Ok(out)
    }
}

/// What a point-in-time view is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ViewUse {
    /// Only the features of a churn fit (the backtest's T−2H view).
    ChurnFeatures,
    /// Scores, metrics and timing predictions for every customer.
    Scoring,
}

/// Buyers whose feature rows are built and scored at once.
const SCORE_BLOCK_ROWS: usize = 131_072;

const EXTRAS: [&str; 3] = ["bgnbd_p_alive", "bgnbd_p_no_purchase", "bgnbd_expected_90d_log"];

fn recency_scores(view: &View) -> Vec<f64> {
    match view.profiles.column("recency_days").map(|c| &c.values) {
        Some(Values::Number(v)) => view.buyers.iter().map(|&c| v[c]).collect(),
        _ => vec![0.0; view.buyers.len()],
    }
}

/// The recency column of a view's buyers as a one-feature matrix.
fn recency_matrix(view: &View) -> FeatureMatrix {
    FeatureMatrix { names: vec!["recency_days".into()], n_rows: view.buyers.len(), data: recency_scores(view) }
}

/// The baseline: a one-feature logistic regression on recency, for calibrated probabilities.
fn fit_recency_baseline(train: &View, train_labels: &[bool]) -> Result<LogisticScorer, TrainError> {
    Ok(LogisticScorer::fit_newton(&recency_matrix(train), train_labels, 1.0)?)
}

/// Trains, backtests and returns the final models (`unified` is only changed when
/// `params.release_transactions` is set).
pub fn train(unified: &mut Unified, params: &TrainParams, on_stage: &dyn Fn(&str)) -> Result<TrainOutcome, TrainError> {
    let as_of = unified.config.project.reference_date;
    let mut timings = Vec::new();
    let mut clock = StageClock::start();
    let mut lap = |name: &str, timings: &mut Vec<StageTiming>| clock.lap(name, timings);
    let h = params.horizon_days as i32;
    let t = day_number(unified.config.project.reference_date);
    let data_fingerprint = assemble::data_fingerprint(unified);
    on_stage("indexing purchases");
    let history = PurchaseHistory::build(unified);
    let n_customers = history.customers();
    let n_items = unified.store.items.len();
    let mut events = Vec::with_capacity(unified.store.lines.len());
    for c in 0..n_customers {
        events.extend(history.events(c).iter().map(|&(item, day, qty)| (c as u32, item, day, qty)));
    }
    let interactions = Interactions::from_events(n_customers, n_items, &events)?;
    drop(events);
    let categories = unified.dictionary.categories.canonical.clone();
    let ctx = Context { unified: &*unified, history, params, categories };
    lap("index", &mut timings);

    // At most two point-in-time views are alive at once (each holds a full profile table): T−2H is dropped
    // once the backtest's churn model is fitted, and T is built for the final models.
    on_stage("profiles and timing as of T−2H");
    let old = ctx.view(t - 2 * h, ViewUse::ChurnFeatures)?;
    if old.buyers.len() < 50 {
        return Err(TrainError::TooLittleHistory(ctx.date(t - 2 * h)));
    }
    lap("view_t_minus_2h", &mut timings);

    on_stage("backtest: churn");
    let old_labels = ctx.labels(&old);
    let (schema, churn_bt) = ctx.fit_churn(&old, &old_labels)?;
    let recency_bt = fit_recency_baseline(&old, &old_labels)?;
    drop((old, old_labels));
    lap("backtest_churn_fit", &mut timings);

    on_stage("profiles and timing as of T−H");
    let mid = ctx.view(t - h, ViewUse::Scoring)?;
    lap("view_t_minus_h", &mut timings);

    on_stage("backtest: churn scores");
    let mid_labels = ctx.labels(&mid);
    let p_bt = Context::score_blocks(&schema, &mid, |x| Ok(churn_bt.predict(x)?))?;
    let recency_column = recency_matrix(&mid);
    let p_base: Vec<f64> = recency_bt.logits(&recency_column).into_iter().map(crate::models::churn::sigmoid).collect();
    let recency = recency_column.data;
    let active: Vec<usize> = (0..mid.buyers.len()).filter(|&i| recency[i] <= 180.0).collect();
    let pick = |v: &[f64]| active.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let active_labels: Vec<bool> = active.iter().map(|&i| mid_labels[i]).collect();
    let churn = Compared {
        model: classification_metrics(&mid_labels, &p_bt),
        baseline: classification_metrics(&mid_labels, &p_base),
    };
    let churn_active_180d = Compared {
        model: classification_metrics(&active_labels, &pick(&p_bt)),
        baseline: classification_metrics(&active_labels, &pick(&p_base)),
    };
    lap("backtest_churn_scores", &mut timings);

    on_stage("backtest: timing");
    let actual: Vec<Option<i32>> =
        mid.buyers.iter().map(|&c| ctx.history.first_on_or_after(c, mid.day).filter(|&d| d < t)).collect();
    let predicted: Vec<Option<i32>> = mid.buyers.iter().map(|&c| mid.predictions[c].next_purchase_day).collect();
    let constant = mid.timing.constant_wait_days;
    let baseline_dates: Vec<Option<i32>> = mid.buyers.iter().map(|_| Some(mid.day + constant.round() as i32)).collect();
    let timing = Compared {
        model: timing_metrics(&predicted, &actual).map_err(|e| TrainError::Eval(e.to_string()))?,
        baseline: timing_metrics(&baseline_dates, &actual).map_err(|e| TrainError::Eval(e.to_string()))?,
    };
    let timing_errors: Vec<i32> = predicted.iter().zip(&actual).filter_map(|(p, a)| Some((*p)? - (*a)?)).collect();
    lap("backtest_timing", &mut timings);

    on_stage("backtest: recommendations");
    let affinity_bt = fit_affinity(&interactions, &mid.segments, mid.day, &params.affinity)?;
    lap("backtest_affinity_fit", &mut timings);
    let evaluated: Vec<usize> = (0..n_customers).filter(|&c| ctx.history.bought_between(c, mid.day, t)).collect();
    let truth: Vec<Vec<u32>> = evaluated
        .iter()
        .map(|&c| {
            let mut items: Vec<u32> = ctx.history.events_between(c, mid.day, t).iter().map(|e| e.0).collect();
            items.sort_unstable();
            items.dedup();
            items
        })
        .collect();
    let recs: Vec<Vec<u32>> = evaluated
        .par_iter()
        .map(|&c| {
            let segment = Some(mid.segments[c]).filter(|s| *s != u16::MAX);
            affinity_bt
                .recommend(ctx.history.events_before(c, mid.day), segment, mid.day, 10)
                .into_iter()
                .map(|r| r.0)
                .collect()
        })
        .collect();
    let trained_items = {
        let mut seen = vec![false; n_items];
        for c in 0..n_customers {
            for e in ctx.history.events_before(c, mid.day) {
                seen[e.0 as usize] = true;
            }
        }
        seen.into_iter().filter(|&s| s).count()
    };
    // The baseline gives everyone the same list.
    let popular =
        vec![popularity_recommendations(&affinity_bt.popularity, &[Vec::new()], 10).remove(0); evaluated.len()];
    let recommendations = Compared {
        model: ranking_metrics(&recs, &truth, 10, trained_items).map_err(|e| TrainError::Eval(e.to_string()))?,
        baseline: ranking_metrics(&popular, &truth, 10, trained_items).map_err(|e| TrainError::Eval(e.to_string()))?,
    };
    lap("backtest_recommendations", &mut timings);

    let backtest = Backtest {
        cutoff: ctx.date(mid.day),
        end: ctx.date(t),
        churn,
        churn_active_180d,
        churn_choice: churn_bt.choice.as_str().to_owned(),
        churn_validation: churn_bt.validation_auc.clone(),
        timing,
        timing_predictor: format!("{:?}", mid.timing.predictor),
        recommendations,
        affinity_choice: format!("{:?}", affinity_bt.choice),
        churn_scores: (mid_labels.clone(), p_bt, p_base),
        timing_errors,
    };

    let (affinity_choice, affinity_validation) = (affinity_bt.choice, affinity_bt.validation.clone());
    drop((churn_bt, recency_bt, affinity_bt));

    on_stage("final models: churn");
    let (schema, churn_final) = ctx.fit_churn(&mid, &mid_labels)?;
    drop((mid, mid_labels));
    lap("final_churn_fit", &mut timings);

    on_stage("profiles and timing as of T");
    let now = ctx.view(t, ViewUse::Scoring)?;
    // Everything the final fits need from the purchase history is in `now` and `interactions`.
    drop(ctx);
    if params.release_transactions {
        unified.release_transactions();
    }
    lap("view_t", &mut timings);

    on_stage("final models: scores and recommendations");
    let scored = Context::score_blocks(&schema, &now, |x| {
        let p = churn_final.predict(x)?;
        let reasons: Vec<Vec<(usize, f64)>> =
            (0..x.n_rows).into_par_iter().map(|k| churn_final.reasons(x, k, 3)).collect();
        Ok(p.into_iter().zip(reasons).collect())
    })?;
    let mut churn_probability = vec![f64::NAN; n_customers];
    let mut churn_reasons = vec![Vec::new(); n_customers];
    for (&c, (p, r)) in now.buyers.iter().zip(scored) {
        churn_probability[c] = p;
        churn_reasons[c] = r;
    }
    lap("final_churn_scores", &mut timings);
    // The backtest validated the affinity component and blend on the 91 days before T−H; the final model
    // refits that choice on everything before T instead of validating again.
    // The interactions before T are all the final fits need: free the full table before the
    // recommendations, the stage's largest allocation.
    let history_now = interactions.before(now.day);
    drop(interactions);
    let mut affinity = fit_with_choice(&history_now, &now.segments, &params.affinity, affinity_choice)?;
    affinity.validation = affinity_validation;
    let k = params.recommendations_per_customer;
    let recommendations = affinity.recommend_all(&history_now, &now.segments, now.day, k);
    drop(history_now);
    lap("final_recommendations", &mut timings);

    let models = FinalModels {
        as_of,
        churn: churn_final,
        schema,
        churn_probability,
        churn_reasons,
        timing: now.timing,
        timing_predictions: now.predictions,
        affinity,
        recommendations,
        segments: now.segments,
        profiles: now.profiles,
    };
    Ok(TrainOutcome { backtest, models, timings, data_fingerprint })
}
