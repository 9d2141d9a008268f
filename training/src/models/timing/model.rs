//! The fitted timing model and its per-customer decision: next purchase date, send window, urgency.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tagcenter::bundle::{TimingOutputs, Urgency};

use super::bgnbd::{BgNbdFit, BgNbdFitParams, BgNbdParams, Rfm, fit_bgnbd};
use super::cycle::{median, median_gap, segment_cycles, shrink};
use super::renewal::{GapSummary, RenewalModel};
use super::{TimingError, TimingParams};

/// One customer's purchase days: sorted, distinct local day numbers (days since 1970-01-01) before the
/// as-of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History<'a> {
    /// Purchase days, ascending, without duplicates.
    pub purchase_days: &'a [i32],
}

impl History<'_> {
    /// The purchase days strictly before `as_of_day` (later ones are ignored by prediction).
    fn before(&self, as_of_day: i32) -> &[i32] {
        &self.purchase_days[..self.purchase_days.partition_point(|d| *d < as_of_day)]
    }
}

/// How the next purchase date is predicted. Every rule's date is clamped to the horizon
/// `[as_of, as_of + horizon_days)`, the window in which it is scored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum NextDatePredictor {
    /// Last purchase + k · cycle with the smallest k ≥ 1 that is on or after the as-of day (a periodic
    /// buyer who skipped a beat buys again a whole cycle later).
    CycleRollForward,
    /// Last purchase + one cycle, clamped to the as-of day.
    CycleFromLast,
    /// The BG/NBD median wait to the next purchase of an alive customer, given that it falls within the
    /// horizon (the truncated Lomax median; the median minimises absolute error).
    BgNbdMedian,
    /// As-of day + the median days to the next purchase among the validation window's buyers (the
    /// baseline).
    Constant,
    /// `bgnbd_weight` · [`BgNbdMedian`](Self::BgNbdMedian) + (1 − `bgnbd_weight`) ·
    /// [`CycleRollForward`](Self::CycleRollForward), rounded.
    Blend {
        /// Weight of the BG/NBD date, in [0, 1].
        bgnbd_weight: f64,
    },
    /// The day chosen by the [renewal mixture](super::renewal) fitted on the validation window's buyers
    /// (their own log-normal gaps mixed with what buyers like them did); without a fitted mixture, the
    /// BG/NBD median.
    Renewal,
}

/// The predictors tried on the validation window, in order of preference on ties.
const CANDIDATES: [NextDatePredictor; 7] = [
    NextDatePredictor::BgNbdMedian,
    NextDatePredictor::Blend { bgnbd_weight: 0.75 },
    NextDatePredictor::Blend { bgnbd_weight: 0.5 },
    NextDatePredictor::Blend { bgnbd_weight: 0.25 },
    NextDatePredictor::CycleRollForward,
    NextDatePredictor::CycleFromLast,
    NextDatePredictor::Constant,
];

/// A predictor's validation score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictorScore {
    /// The predictor.
    pub predictor: NextDatePredictor,
    /// Mean absolute error in days on the validation buyers.
    pub mae_days: f64,
    /// Buyers scored.
    pub buyers: usize,
}

/// The fitted timing model: plain data, ready for the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimingModel {
    /// BG/NBD parameters in the time unit `params.unit_days`.
    pub bgnbd: BgNbdParams,
    /// The BG/NBD fit's total log-likelihood.
    pub bgnbd_log_likelihood: f64,
    /// Whether the BG/NBD fit met its gradient tolerance.
    pub bgnbd_converged: bool,
    /// Purchase cycle per segment id, days (shrunk toward `global_cycle`).
    pub segment_cycles: Vec<f64>,
    /// Median over repeat customers of their median gap, days.
    pub global_cycle: f64,
    /// Days from the as-of day to the next purchase used by [`NextDatePredictor::Constant`]: the median
    /// among the validation window's buyers (`horizon_days / 2` when there was no validation).
    pub constant_wait_days: f64,
    /// The next-date rule in use (lowest validation MAE).
    pub predictor: NextDatePredictor,
    /// Every candidate's validation score (empty when there were too few validation buyers).
    pub validation: Vec<PredictorScore>,
    /// The renewal mixture fitted on the validation window's buyers (`None` without validation).
    pub renewal: Option<RenewalModel>,
    /// The settings the model was fitted with.
    pub params: TimingParams,
}

/// What to do about one customer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimingPrediction {
    /// Predicted next purchase day within the horizon; `None` when the customer probably will not buy in
    /// it (P(return) < `min_return_probability`) or never bought.
    pub next_purchase_day: Option<i32>,
    /// First day to send the offer (≥ the as-of day).
    pub window_start: i32,
    /// Last day to send the offer (≥ `window_start`).
    pub window_end: i32,
    /// What the marketer should do now.
    pub urgency: Urgency,
    /// BG/NBD probability the customer is still active (0 for customers who never bought).
    pub p_alive: f64,
    /// BG/NBD expected purchase days in the next 30 days.
    pub expected_30d: f64,
    /// BG/NBD expected purchase days in the next 90 days.
    pub expected_90d: f64,
    /// BG/NBD probability of at least one purchase within the horizon.
    pub p_return: f64,
    /// The customer's purchase cycle in days (shrunk median gap); `None` for customers who never bought.
    pub cycle_days: Option<f64>,
}

/// BG/NBD summary of purchase days before `as_of` (observation ends with day `as_of − 1`, as in FHL 2005
/// where T runs to the last calibration day).
fn rfm(days: &[i32], as_of: i32, unit_days: f64) -> Option<Rfm> {
    let (first, last) = (*days.first()?, *days.last()?);
    Some(Rfm {
        x: (days.len() - 1) as f64,
        t_x: f64::from(last - first) / unit_days,
        t: f64::from(as_of - 1 - first) / unit_days,
    })
}

/// What the date rules need about one customer with purchases.
pub(super) struct Snapshot {
    last: i32,
    rfm: Rfm,
    cycle: f64,
    /// The gaps as the renewal mixture reads them (cutoff: the day before the as-of day), when asked for.
    gaps: Option<GapSummary>,
}

impl TimingModel {
    fn segment_cycle(&self, segment: u16) -> f64 {
        self.segment_cycles.get(usize::from(segment)).copied().unwrap_or(self.global_cycle)
    }

    /// The customer's purchase cycle in days: their median gap shrunk toward their segment's cycle with
    /// `cycle_shrinkage` pseudo-gaps (the segment's cycle itself with fewer than two purchase days); `None`
    /// without purchases before `as_of_day`.
    pub fn customer_cycle(&self, history: &History, segment: u16, as_of_day: i32) -> Option<f64> {
        let days = history.before(as_of_day);
        if days.is_empty() {
            return None;
        }
        let prior = self.segment_cycle(segment);
        Some(match median_gap(days) {
            Some((own, n)) => shrink(own.max(1.0), n as f64, prior, self.params.cycle_shrinkage),
            None => prior,
        })
    }

    /// What the date rules need about a customer with purchases before `as_of`; the renewal mixture's gap
    /// summary only `with_gaps` (it costs a logarithm per gap).
    pub(super) fn snapshot(&self, history: &History, segment: u16, as_of: i32, with_gaps: bool) -> Option<Snapshot> {
        let days = history.before(as_of);
        Some(Snapshot {
            last: *days.last()?,
            rfm: rfm(days, as_of, self.params.unit_days)?,
            cycle: self.customer_cycle(history, segment, as_of)?,
            gaps: with_gaps.then(|| GapSummary::new(days, as_of - 1)),
        })
    }

    /// The date `predictor` gives, clamped to `[as_of, as_of + horizon_days)`.
    pub(super) fn date(&self, predictor: NextDatePredictor, s: &Snapshot, as_of: i32) -> i32 {
        let horizon = self.params.horizon_days as i32;
        let clamp = |day: f64| -> i32 {
            let hi = f64::from(as_of) + f64::from(horizon - 1);
            // NaN (impossible with valid parameters) lands on the as-of day.
            if day.is_nan() { as_of } else { day.round().clamp(f64::from(as_of), hi) as i32 }
        };
        let roll_forward = || {
            let behind = f64::from(as_of - s.last);
            let k = (behind / s.cycle).ceil().max(1.0);
            f64::from(s.last) + k * s.cycle
        };
        let bgnbd = || {
            let unit = self.params.unit_days;
            let wait = self.bgnbd.median_wait_within(&s.rfm, f64::from(horizon) / unit) * unit;
            f64::from(as_of - 1) + wait.ceil().max(1.0)
        };
        match predictor {
            NextDatePredictor::CycleRollForward => clamp(roll_forward()),
            NextDatePredictor::CycleFromLast => clamp(f64::from(s.last) + s.cycle),
            NextDatePredictor::BgNbdMedian => clamp(bgnbd()),
            NextDatePredictor::Constant => clamp(f64::from(as_of) + self.constant_wait_days),
            NextDatePredictor::Blend { bgnbd_weight: w } => clamp(w * bgnbd() + (1.0 - w) * roll_forward()),
            NextDatePredictor::Renewal => match (&self.renewal, &s.gaps) {
                // Day 1 of the mixture's window is the as-of day.
                (Some(r), Some(g)) => clamp(f64::from(as_of - 1) + r.predict(g)),
                _ => clamp(bgnbd()),
            },
        }
    }

    /// Probability of at least one purchase within the horizon.
    fn p_return(&self, s: &Snapshot) -> f64 {
        1.0 - self.bgnbd.p_no_purchase(&s.rfm, f64::from(self.params.horizon_days) / self.params.unit_days)
    }

    /// The decision for one customer as of `as_of_day` (purchase days on or after it are ignored).
    ///
    /// Rules, in order:
    /// - never bought → `Unknown`, no date, window = the next `send_now_days`;
    /// - P(return within the horizon) < `min_return_probability` → `Lapsed` (probably gone), no date,
    ///   window = the next `send_now_days` (a last-chance win-back, low priority);
    /// - days since the last purchase > `overdue_factor` × cycle → `WinBack` (overdue; for repeat buyers
    ///   P(alive) falls with every overdue day): send now, window = the next `send_now_days`;
    /// - otherwise the window is [next − `lead_days`, next + `lag_days`] clipped to start on the as-of day:
    ///   `Remind` when it is already open (due soon), `Wait` when it opens later (just bought).
    pub fn predict(&self, history: &History, segment: u16, as_of_day: i32) -> TimingPrediction {
        let as_of = as_of_day;
        let send_now_end = as_of + self.params.send_now_days as i32 - 1;
        let with_gaps = self.predictor == NextDatePredictor::Renewal && self.renewal.is_some();
        let Some(s) = self.snapshot(history, segment, as_of, with_gaps) else {
            return TimingPrediction {
                next_purchase_day: None,
                window_start: as_of,
                window_end: send_now_end,
                urgency: Urgency::Unknown,
                p_alive: 0.0,
                expected_30d: 0.0,
                expected_90d: 0.0,
                p_return: 0.0,
                cycle_days: None,
            };
        };
        let unit = self.params.unit_days;
        let p_return = self.p_return(&s);
        let mut prediction = TimingPrediction {
            next_purchase_day: None,
            window_start: as_of,
            window_end: send_now_end,
            urgency: Urgency::Lapsed,
            p_alive: self.bgnbd.p_alive(&s.rfm),
            expected_30d: self.bgnbd.expected_purchases(&s.rfm, 30.0 / unit),
            expected_90d: self.bgnbd.expected_purchases(&s.rfm, 90.0 / unit),
            p_return,
            cycle_days: Some(s.cycle),
        };
        if p_return < self.params.min_return_probability {
            return prediction;
        }
        let next = self.date(self.predictor, &s, as_of);
        prediction.next_purchase_day = Some(next);
        if f64::from(as_of - s.last) > self.params.overdue_factor * s.cycle {
            prediction.urgency = Urgency::WinBack;
            return prediction;
        }
        prediction.window_start = (next - self.params.lead_days as i32).max(as_of);
        prediction.window_end = (next + self.params.lag_days as i32).max(prediction.window_start);
        prediction.urgency = if prediction.window_start > as_of { Urgency::Wait } else { Urgency::Remind };
        prediction
    }

    /// [`predict`](Self::predict) for every customer, in parallel.
    pub fn predict_all(
        &self,
        histories: &[History],
        segments: &[u16],
        as_of_day: i32,
    ) -> Result<Vec<TimingPrediction>, TimingError> {
        if histories.len() != segments.len() {
            return Err(TimingError::LengthMismatch { histories: histories.len(), segments: segments.len() });
        }
        Ok(histories.par_iter().zip(segments.par_iter()).map(|(h, s)| self.predict(h, *s, as_of_day)).collect())
    }
}

/// The bundle's column-wise timing outputs (an empty date becomes `i32::MIN`).
pub fn timing_outputs(predictions: &[TimingPrediction]) -> TimingOutputs {
    TimingOutputs {
        next_purchase_day: predictions.iter().map(|p| p.next_purchase_day.unwrap_or(i32::MIN)).collect(),
        window_start: predictions.iter().map(|p| p.window_start).collect(),
        window_end: predictions.iter().map(|p| p.window_end).collect(),
        urgency: predictions.iter().map(|p| p.urgency).collect(),
        p_alive: predictions.iter().map(|p| p.p_alive as f32).collect(),
        expected_30d: predictions.iter().map(|p| p.expected_30d as f32).collect(),
        expected_90d: predictions.iter().map(|p| p.expected_90d as f32).collect(),
    }
}

fn check_histories(histories: &[History], segments: &[u16], as_of: i32) -> Result<(), TimingError> {
    if histories.len() != segments.len() {
        return Err(TimingError::LengthMismatch { histories: histories.len(), segments: segments.len() });
    }
    for (index, h) in histories.iter().enumerate() {
        if h.purchase_days.windows(2).any(|w| w[0] >= w[1]) {
            return Err(TimingError::InvalidHistory { index, reason: "purchase days must be ascending and distinct" });
        }
        if h.purchase_days.last().is_some_and(|d| *d >= as_of) {
            return Err(TimingError::InvalidHistory { index, reason: "purchase day on or after the as-of day" });
        }
    }
    Ok(())
}

/// BG/NBD and cycles on the purchases before `as_of`, with a placeholder predictor.
fn fit_core(
    histories: &[History],
    segments: &[u16],
    as_of: i32,
    params: &TimingParams,
) -> Result<(TimingModel, BgNbdFit), TimingError> {
    let summaries: Vec<Rfm> = histories.iter().filter_map(|h| rfm(h.before(as_of), as_of, params.unit_days)).collect();
    let fit = fit_bgnbd(&summaries, &params.bgnbd)?;
    let gaps: Vec<Option<(f64, usize)>> =
        histories.iter().map(|h| median_gap(h.before(as_of)).map(|(m, n)| (m.max(1.0), n))).collect();
    let (segment_cycles, global_cycle) =
        segment_cycles(&gaps, segments, params.segment_shrinkage, f64::from(params.horizon_days));
    let model = TimingModel {
        bgnbd: fit.params,
        bgnbd_log_likelihood: fit.log_likelihood,
        bgnbd_converged: fit.converged,
        segment_cycles,
        global_cycle,
        constant_wait_days: f64::from(params.horizon_days) / 2.0,
        predictor: params.default_predictor,
        validation: Vec::new(),
        renewal: None,
        params: *params,
    };
    Ok((model, fit))
}

/// What the validation window gives the final model.
struct Validation {
    /// Median days from the window's start to its buyers' first purchase.
    constant_wait_days: f64,
    /// Every candidate's score.
    scores: Vec<PredictorScore>,
    /// The renewal mixture fitted on the window's buyers.
    renewal: RenewalModel,
}

/// Most validation buyers the renewal mixture is fitted and cross-validated on (an even sample of them
/// beyond that): its cells and pooled gaps are settled long before.
const RENEWAL_MAX_BUYERS: usize = 50_000;

/// Folds of the renewal mixture's cross-fitted validation score.
const RENEWAL_FOLDS: usize = 5;

/// The renewal mixture's validation MAE, cross-fitted (each buyer predicted by a mixture fitted on the other
/// folds), and the mixture fitted on all of `cases` (`(summary, days from the window's start to the first
/// purchase, 1-based)`).
fn renewal_validation(cases: &[(GapSummary, f64)], params: &TimingParams) -> (f64, RenewalModel) {
    let window = params.horizon_days as usize;
    let fit = |keep: &dyn Fn(usize) -> bool| {
        let (summaries, targets): (Vec<GapSummary>, Vec<f64>) =
            cases.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, c)| *c).unzip();
        RenewalModel::fit(params.renewal, window, &summaries, &targets)
    };
    let errors: f64 = (0..RENEWAL_FOLDS)
        .into_par_iter()
        .map(|f| {
            let model = fit(&|i| i % RENEWAL_FOLDS != f);
            cases.iter().skip(f).step_by(RENEWAL_FOLDS).map(|(s, y)| (model.predict(s) - y).abs()).sum::<f64>()
        })
        .sum();
    (errors / cases.len().max(1) as f64, fit(&|_| true))
}

/// Chooses the predictor with the lowest MAE on the last `horizon_days` of the training period: the model
/// is refitted on purchases before `as_of − horizon_days` and scored on the first purchase in the window
/// of every customer who bought before and in it — among those whose date is not left empty (as the
/// backtest scores), or all of them when those are fewer than `min_validation_buyers`. The renewal mixture,
/// which learns from those buyers, is scored by cross-fitting instead.
fn validate_predictors(
    histories: &[History],
    segments: &[u16],
    as_of: i32,
    params: &TimingParams,
) -> Result<Option<Validation>, TimingError> {
    let start = as_of - params.horizon_days as i32;
    if !histories.iter().any(|h| h.before(start).len() >= 2) {
        return Ok(None);
    }
    let (model, _) = fit_core(histories, segments, start, params)?;
    // (snapshot, actual first purchase in the window, date shown?, customer)
    let cases: Vec<(Snapshot, i32, bool, usize)> = histories
        .par_iter()
        .zip(segments.par_iter())
        .enumerate()
        .filter_map(|(customer, (h, seg))| {
            let actual = *h.purchase_days[h.purchase_days.partition_point(|d| *d < start)..].first()?;
            if actual >= as_of {
                return None;
            }
            let s = model.snapshot(h, *seg, start, false)?;
            let shown = model.p_return(&s) >= params.min_return_probability;
            Some((s, actual, shown, customer))
        })
        .collect();
    let shown = cases.iter().filter(|c| c.2).count();
    let cases: Vec<&(Snapshot, i32, bool, usize)> =
        cases.iter().filter(|c| c.2 || shown < params.min_validation_buyers).collect();
    if cases.len() < params.min_validation_buyers {
        return Ok(None);
    }
    let mut waits: Vec<f64> = cases.iter().map(|c| f64::from(c.1 - start)).collect();
    let constant = median(&mut waits);
    let model = TimingModel { constant_wait_days: constant, ..model };
    let mut scores: Vec<PredictorScore> = CANDIDATES
        .iter()
        .map(|predictor| {
            let total: f64 =
                cases.iter().map(|(s, actual, ..)| f64::from((model.date(*predictor, s, start) - actual).abs())).sum();
            PredictorScore { predictor: *predictor, mae_days: total / cases.len() as f64, buyers: cases.len() }
        })
        .collect();
    let stride = cases.len().div_ceil(RENEWAL_MAX_BUYERS);
    let renewal_cases: Vec<(GapSummary, f64)> = cases
        .iter()
        .step_by(stride)
        .map(|&&(_, actual, _, c)| {
            (GapSummary::new(histories[c].before(start), start - 1), f64::from(actual - start + 1))
        })
        .collect();
    let (mae_days, renewal) = renewal_validation(&renewal_cases, params);
    scores.push(PredictorScore { predictor: NextDatePredictor::Renewal, mae_days, buyers: renewal_cases.len() });
    Ok(Some(Validation { constant_wait_days: constant, scores, renewal }))
}

/// [`fit_timing`] without choosing the next-date predictor on a validation window (the default predictor is
/// kept): for callers that only need P(alive), P(return) and expected purchases, which do not depend on it.
pub fn fit_timing_unvalidated(
    histories: &[History],
    segments: &[u16],
    as_of_day: i32,
    params: &TimingParams,
) -> Result<TimingModel, TimingError> {
    Ok(fit_checked(histories, segments, as_of_day, params)?.0)
}

/// Checks the parameters and histories, then fits the BG/NBD and cycles ([`fit_core`]).
fn fit_checked(
    histories: &[History],
    segments: &[u16],
    as_of_day: i32,
    params: &TimingParams,
) -> Result<(TimingModel, BgNbdFit), TimingError> {
    params.validate()?;
    check_histories(histories, segments, as_of_day)?;
    fit_core(histories, segments, as_of_day, params)
}

/// Fits the timing model on each customer's purchase days before `as_of_day` (`segments[i]` is customer
/// i's segment id, `u16::MAX` for none): the BG/NBD on every customer with a purchase, the cycles, and the
/// next-date predictor chosen on a validation window (see [`NextDatePredictor`]).
pub fn fit_timing(
    histories: &[History],
    segments: &[u16],
    as_of_day: i32,
    params: &TimingParams,
) -> Result<TimingModel, TimingError> {
    let (mut model, fit) = fit_checked(histories, segments, as_of_day, params)?;
    if !fit.converged {
        tracing::warn!(iterations = fit.iterations, "BG/NBD fit stopped before its gradient tolerance");
    }
    // The validation refit starts where the main fit ended: the two data sets differ by one horizon, so
    // BFGS needs far fewer iterations to reach the same tolerance.
    let start = if fit.converged { fit.params } else { params.bgnbd.start };
    let warm = TimingParams { bgnbd: BgNbdFitParams { start, ..params.bgnbd }, ..*params };
    if let Some(v) = validate_predictors(histories, segments, as_of_day, &warm)? {
        for score in &v.scores {
            tracing::debug!(predictor = ?score.predictor, mae_days = score.mae_days, buyers = score.buyers, "timing validation");
        }
        let best = v.scores.iter().filter(|s| s.mae_days.is_finite()).min_by(|a, b| a.mae_days.total_cmp(&b.mae_days));
        if let Some(best) = best {
            model.predictor = best.predictor;
        }
        model.constant_wait_days = v.constant_wait_days;
        model.validation = v.scores;
        model.renewal = Some(v.renewal);
    }
    Ok(model)
}
