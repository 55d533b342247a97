//! Forecasts of a report's series: MSTL decomposition (daily and weekly seasonality)
//! with an AutoETS model of what is left, from `augurs`; and the seasonal-naive
//! baseline ("the same hour last week") a forecast has to beat to be worth drawing.

use augurs::ets::{trend::AutoETSTrendModel, AutoETS};
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};

/// Fewer buckets than this are not a history to forecast from.
pub const MIN_HISTORY: usize = 14;

#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error("{have} buckets of history are too few to forecast from: at least {need} are needed")]
    TooShort { have: usize, need: usize },
    #[error("the seasonal model could not be fitted: {0}")]
    Seasonal(#[from] augurs::mstl::Error),
    #[error("the trend model could not be fitted: {0}")]
    Trend(#[from] augurs::ets::Error),
    #[error("the model gave no prediction intervals")]
    NoIntervals,
}

/// Expected values with a prediction interval, one per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub point: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    /// The interval's coverage, e.g. 0.95.
    pub level: f64,
}

impl Band {
    /// The buckets `range` of the band.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Band {
        let part = |values: &[f64]| values.get(range.clone()).map(<[f64]>::to_vec).unwrap_or_default();
        Band { point: part(&self.point), lower: part(&self.lower), upper: part(&self.upper), level: self.level }
    }
}

/// The seasonal periods in buckets that `len` buckets can show: MSTL needs at least two
/// whole cycles of a period to estimate it.
fn usable(periods: &[usize], len: usize) -> Vec<usize> {
    periods.iter().copied().filter(|period| *period >= 2 && period * 2 <= len).collect()
}

/// The next `horizon` buckets after `history`, and the in-sample fit of `history`
/// itself (for outliers in the past), at interval coverage `level`. Measures are counts
/// and sums of non-negative amounts, so no bound goes below zero.
pub fn forecast(history: &[f64], periods: &[usize], horizon: usize, level: f64) -> Result<(Band, Band), ForecastError> {
    if history.len() < MIN_HISTORY {
        return Err(ForecastError::TooShort { have: history.len(), need: MIN_HISTORY });
    }
    let periods = usable(periods, history.len());
    let (ahead, fitted) = if periods.is_empty() {
        let model = AutoETS::non_seasonal().fit(history)?;
        (model.predict(horizon, level)?, model.predict_in_sample(level)?)
    } else {
        let model = MSTLModel::new(periods, AutoETSTrendModel::from(AutoETS::non_seasonal())).fit(history)?;
        (model.predict(horizon, level)?, model.predict_in_sample(level)?)
    };
    Ok((band(ahead, level)?, band(fitted, level)?))
}

fn band(forecast: augurs::Forecast, level: f64) -> Result<Band, ForecastError> {
    let intervals = forecast.intervals.ok_or(ForecastError::NoIntervals)?;
    let floor = |values: Vec<f64>| values.into_iter().map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 }).collect();
    Ok(Band { point: floor(forecast.point), lower: floor(intervals.lower), upper: floor(intervals.upper), level })
}

/// The baseline: each bucket of the horizon repeats the bucket one `season` earlier.
pub fn seasonal_naive(history: &[f64], season: usize, horizon: usize) -> Vec<f64> {
    if history.len() < season || season == 0 {
        return vec![history.last().copied().unwrap_or(0.0); horizon];
    }
    let last_season = &history[history.len() - season..];
    (0..horizon).map(|h| last_season[h % season]).collect()
}

/// Mean absolute percentage error, over the buckets whose actual value is not zero.
pub fn mape(actual: &[f64], predicted: &[f64]) -> f64 {
    let errors: Vec<f64> =
        actual.iter().zip(predicted).filter(|(a, _)| **a != 0.0).map(|(a, p)| ((a - p) / a).abs()).collect();
    errors.iter().sum::<f64>() / errors.len().max(1) as f64
}

/// Mean absolute scaled error: the forecast's mean absolute error over that of the
/// seasonal-naive forecast within the training data (below 1: better than naive).
pub fn mase(actual: &[f64], predicted: &[f64], training: &[f64], season: usize) -> f64 {
    let mae = actual.iter().zip(predicted).map(|(a, p)| (a - p).abs()).sum::<f64>() / actual.len().max(1) as f64;
    let naive: Vec<f64> = training.windows(season + 1).map(|w| (w[season] - w[0]).abs()).collect();
    let scale = naive.iter().sum::<f64>() / naive.len().max(1) as f64;
    mae / scale.max(f64::EPSILON)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hourly traffic over `days`: a daily cycle, quieter weekends, a slow rise, and
    /// deterministic noise.
    fn hourly(days: usize) -> Vec<f64> {
        (0..days * 24)
            .map(|t| {
                let hour = (t % 24) as f64;
                let weekend = if (t / 24) % 7 >= 5 { 0.6 } else { 1.0 };
                let daily = 100.0 + 60.0 * (std::f64::consts::TAU * (hour - 8.0) / 24.0).sin();
                let noise = (((t * 7919) % 101) as f64 - 50.0) * 0.3;
                daily * weekend + t as f64 * 0.05 + noise
            })
            .collect()
    }

    #[test]
    fn the_forecast_beats_the_same_hour_last_week_on_held_out_days() {
        let series = hourly(42);
        let (training, held_out) = series.split_at(series.len() - 48);
        let (band, _) = forecast(training, &[24, 168], 48, 0.95).unwrap();
        let naive = seasonal_naive(training, 168, 48);
        let (ours, theirs) = (mape(held_out, &band.point), mape(held_out, &naive));
        assert!(ours < theirs * 0.9, "MAPE {ours:.4} against the naive {theirs:.4}");
        assert!(mase(held_out, &band.point, training, 168) < 1.0);
        let inside =
            held_out.iter().enumerate().filter(|(i, v)| band.lower[*i] <= **v && **v <= band.upper[*i]).count();
        assert!(inside >= 44, "{inside} of 48 held-out hours inside the 95% band");
    }

    #[test]
    fn the_same_history_gives_the_same_forecast() {
        let series = hourly(21);
        assert_eq!(forecast(&series, &[24, 168], 24, 0.9).unwrap(), forecast(&series, &[24, 168], 24, 0.9).unwrap());
    }

    #[test]
    fn a_short_history_is_refused_and_unusable_periods_are_dropped() {
        assert!(matches!(forecast(&[1.0; 5], &[24], 3, 0.95), Err(ForecastError::TooShort { have: 5, need: 14 })));
        assert_eq!(usable(&[24, 168], 100), vec![24]);
        // Three days of hours: no weekly cycle to fit, the daily one still.
        let (band, fitted) = forecast(&hourly(3), &[24, 168], 12, 0.95).unwrap();
        assert_eq!((band.point.len(), fitted.point.len()), (12, 72));
        assert!(band.lower.iter().all(|v| *v >= 0.0));
    }
}
