//! The analysis stage: statistics over the merged data, written back to the warehouse.
//! `[[analysis]]` entries ([`def`]) are run by the `analyze` job ([`job`]): forecasts
//! with prediction intervals and the anomalies outside them ([`series`]), column
//! profiles per load ([`profile`]) and segments of an entity ([`entities`]). The
//! statistics themselves are pure functions over series and rows ([`forecast`],
//! [`anomaly`], [`segments`]); the results go to the four tables of [`tables`].

pub mod anomaly;
pub mod def;
pub mod entities;
pub mod forecast;
pub mod job;
pub mod profile;
pub mod segments;
mod series;
pub mod tables;

pub use anomaly::{flag, Anomaly, Direction, Observation, Subject};
pub use def::AnalysisDef;
pub use forecast::{forecast, mape, mase, seasonal_naive, Band, ForecastError};
pub use job::{AnalysisError, AnalysisSummary, Analyzer};
pub use segments::{segment, SegmentError, Segmentation};
