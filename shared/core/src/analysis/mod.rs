//! The analysis stage's statistics, as pure functions over series and rows: forecasts
//! with prediction intervals, anomalies against them, and segments of an entity. The
//! `analyze` job (its own issue) feeds them from the warehouse and the index.

pub mod anomaly;
pub mod forecast;
pub mod segments;

pub use anomaly::{flag, Anomaly, Direction, Observation, Subject};
pub use forecast::{forecast, mape, mase, seasonal_naive, Band, ForecastError};
pub use segments::{segment, SegmentError, Segmentation};
