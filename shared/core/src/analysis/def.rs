//! An analysis as the pipeline file declares it (`[[analysis]]`): a forecast of a report
//! with the anomalies against it, a profile of a warehouse table, or segments of an
//! entity. Checked against the reports and tables of the same file, so every name the
//! analysis puts into SQL is one the parser validated.

use serde::Deserialize;

use crate::batch::pipeline::{Pipeline, TableDef};
use crate::batch::value::ColumnType;
use crate::bucket::Interval;

/// One `[[analysis]]` entry, by its `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AnalysisDef {
    /// A forecast band for the report's series, and the anomalies outside it.
    Forecast(ForecastDef),
    /// The same model, writing only the anomalies (no forecast rows).
    Anomaly(ForecastDef),
    /// Column statistics of a table, kept per load.
    Profile(ProfileDef),
    /// Groups of an entity by its numeric features (k-means).
    Segments(SegmentsDef),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastDef {
    pub name: String,
    /// The `[[report]]` whose merged series (batch below the tidemark, real time above)
    /// is the history.
    pub report: String,
    /// A dimension of the report: one model per group (the largest `max_groups`) as well
    /// as the total.
    pub by: Option<String>,
    /// `hour` (daily and weekly seasonality) or `day` (weekly).
    #[serde(default = "hour")]
    pub grain: Interval,
    /// How much history the model is fitted on; defaults by grain (28 days of hours,
    /// 120 days of days).
    pub history_days: Option<u32>,
    /// Buckets forecast beyond now; defaults by grain (48 hours, 14 days).
    pub horizon: Option<usize>,
    /// The prediction interval's coverage.
    #[serde(default = "default_level")]
    pub level: f64,
    /// The latest complete buckets compared with a forecast fitted without them: what
    /// "happening now" means for anomalies; defaults by grain (3 hours, 1 day).
    pub recent: Option<usize>,
    /// How far outside the band a bucket must be to be an anomaly, in half-widths of
    /// the band (at a 95 % band, 1.0 is about four standard deviations out).
    #[serde(default = "default_min_score")]
    pub min_score: f64,
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDef {
    pub name: String,
    pub table: String,
    /// Columns to profile; all of the table's when left out.
    #[serde(default)]
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentsDef {
    pub name: String,
    pub table: String,
    /// The column naming the entity segmented (`customer_id`): one row of features each.
    pub entity: String,
    /// Numeric columns averaged per entity.
    #[serde(default)]
    pub features: Vec<String>,
    /// Recency, frequency and monetary value per entity from an event table.
    pub rfm: Option<Rfm>,
    #[serde(default = "default_k")]
    pub k: usize,
    /// The run refuses a table with more entities than this rather than hold them all.
    #[serde(default = "default_max_entities")]
    pub max_entities: usize,
}

/// Recency (days since the entity's last row), frequency (rows) and monetary value (sum).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rfm {
    /// A timestamp or date column.
    pub time: String,
    /// A numeric column summed.
    pub value: String,
}

fn hour() -> Interval {
    Interval::Hour
}
fn default_level() -> f64 {
    0.95
}
fn default_min_score() -> f64 {
    1.0
}
fn default_max_groups() -> usize {
    20
}
fn default_k() -> usize {
    4
}
fn default_max_entities() -> usize {
    1_000_000
}

/// At most this many groups per forecast: each is a model fitted.
pub const MAX_GROUPS: usize = 200;
/// At most this many buckets of history per series.
pub const MAX_HISTORY_BUCKETS: usize = 24 * 400;

impl AnalysisDef {
    pub fn name(&self) -> &str {
        match self {
            AnalysisDef::Forecast(f) | AnalysisDef::Anomaly(f) => &f.name,
            AnalysisDef::Profile(p) => &p.name,
            AnalysisDef::Segments(s) => &s.name,
        }
    }

    pub const fn kind(&self) -> &'static str {
        match self {
            AnalysisDef::Forecast(_) => "forecast",
            AnalysisDef::Anomaly(_) => "anomaly",
            AnalysisDef::Profile(_) => "profile",
            AnalysisDef::Segments(_) => "segments",
        }
    }

    /// Checks the analysis against the file's reports and tables.
    pub fn validate(&self, pipeline: &Pipeline) -> Result<(), String> {
        match self {
            AnalysisDef::Forecast(f) | AnalysisDef::Anomaly(f) => f.validate(pipeline),
            AnalysisDef::Profile(p) => {
                let table = table(pipeline, &p.table)?;
                p.columns.iter().try_for_each(|c| column(table, c).map(|_| ()))
            }
            AnalysisDef::Segments(s) => s.validate(pipeline),
        }
    }
}

impl ForecastDef {
    fn validate(&self, pipeline: &Pipeline) -> Result<(), String> {
        let report = pipeline.report(&self.report).ok_or(format!("report {:?} is not declared", self.report))?;
        if let Some(by) = &self.by {
            if !report.batch.by.contains_key(by) {
                return Err(format!("by: report {} has no dimension {by:?}", report.name));
            }
        }
        if self.grain == Interval::Minute {
            return Err("grain: must be hour or day".into());
        }
        if !(0.5..1.0).contains(&self.level) {
            return Err(format!("level: {} must be at least 0.5 and below 1", self.level));
        }
        if !(self.min_score >= 0.0 && self.min_score.is_finite()) {
            return Err(format!("min_score: {} must be zero or more", self.min_score));
        }
        if self.max_groups == 0 || self.max_groups > MAX_GROUPS {
            return Err(format!("max_groups: {} must be from 1 to {MAX_GROUPS}", self.max_groups));
        }
        let buckets = self.history_buckets();
        if buckets > MAX_HISTORY_BUCKETS {
            return Err(format!("history_days: {buckets} buckets of history; at most {MAX_HISTORY_BUCKETS}"));
        }
        let season = self.season();
        if buckets < 2 * season + self.recent() {
            return Err(format!("history_days: too short to see two weeks at a {} grain", self.grain_name()));
        }
        if self.horizon() == 0 || self.horizon() > buckets {
            return Err(format!("horizon: {} must be from 1 to the history's {buckets} buckets", self.horizon()));
        }
        if self.recent() == 0 || self.recent() > season {
            return Err(format!("recent: {} must be from 1 to {season}", self.recent()));
        }
        Ok(())
    }

    fn grain_name(&self) -> &'static str {
        if self.grain == Interval::Day {
            "day"
        } else {
            "hour"
        }
    }

    fn per_day(&self) -> usize {
        if self.grain == Interval::Day {
            1
        } else {
            24
        }
    }

    /// The seasonal periods in buckets: a day and a week of hours, or a week of days.
    pub fn periods(&self) -> Vec<usize> {
        if self.grain == Interval::Day {
            vec![7]
        } else {
            vec![24, 168]
        }
    }

    /// The longest period: the seasonal-naive baseline's lag.
    pub fn season(&self) -> usize {
        self.periods().into_iter().max().unwrap_or(1)
    }

    pub fn history_buckets(&self) -> usize {
        let days = self.history_days.unwrap_or(if self.grain == Interval::Day { 120 } else { 28 });
        days as usize * self.per_day()
    }

    pub fn horizon(&self) -> usize {
        self.horizon.unwrap_or(if self.grain == Interval::Day { 14 } else { 48 })
    }

    pub fn recent(&self) -> usize {
        self.recent.unwrap_or(if self.grain == Interval::Day { 1 } else { 3 })
    }
}

impl SegmentsDef {
    fn validate(&self, pipeline: &Pipeline) -> Result<(), String> {
        let table = table(pipeline, &self.table)?;
        column(table, &self.entity)?;
        if self.features.is_empty() == self.rfm.is_none() {
            return Err("name numeric `features` or an `rfm` table, one of the two".into());
        }
        for feature in &self.features {
            numeric(table, "features", feature)?;
        }
        if let Some(rfm) = &self.rfm {
            let time = column(table, &rfm.time)?;
            if !matches!(time, ColumnType::Timestamp | ColumnType::Date) {
                return Err(format!("rfm.time: column {:?} must be a timestamp or a date", rfm.time));
            }
            numeric(table, "rfm.value", &rfm.value)?;
        }
        if !(2..=20).contains(&self.k) {
            return Err(format!("k: {} must be from 2 to 20", self.k));
        }
        if self.max_entities < self.k || self.max_entities > 10_000_000 {
            return Err(format!("max_entities: {} must be from k to 10,000,000", self.max_entities));
        }
        Ok(())
    }

    /// The feature names in the order the rows hold them.
    pub fn feature_names(&self) -> Vec<String> {
        match &self.rfm {
            Some(_) => ["recency_days", "frequency", "monetary"].map(str::to_owned).to_vec(),
            None => self.features.clone(),
        }
    }
}

fn table<'p>(pipeline: &'p Pipeline, name: &str) -> Result<&'p TableDef, String> {
    pipeline.table(name).ok_or(format!("table {name:?} is not declared"))
}

fn column(table: &TableDef, name: &str) -> Result<ColumnType, String> {
    table.column(name).map(|c| c.ty).ok_or(format!("table {} has no column {name:?}", table.name))
}

fn numeric(table: &TableDef, field: &str, name: &str) -> Result<(), String> {
    match column(table, name)? {
        ty if ty.is_numeric() => Ok(()),
        _ => Err(format!("{field}: column {name:?} must be numeric")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[source]]
name = "shop"
kind = "csv"
path = "orders.csv"

[[table]]
name = "orders"
source = "shop"
load = "append"
event_time = "ordered_at"
columns = [
  { name = "order_id", type = "varchar" },
  { name = "customer_id", type = "varchar" },
  { name = "ordered_at", type = "timestamp" },
  { name = "amount", type = "decimal(12,2)" },
  { name = "region", type = "varchar" },
]

[[report]]
name = "sales"
unit = "EUR"
batch = { table = "orders", time = "ordered_at", value = "amount", by = { region = "region" } }
realtime = { event_type = "purchase", value = "amount", by = { region = "region" } }
"#;

    fn parse(analysis: &str) -> Result<Pipeline, String> {
        Pipeline::parse(&format!("{BASE}\n{analysis}")).map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_parses_with_its_defaults() {
        let p = parse(
            "[[analysis]]\nname = \"sales_forecast\"\nkind = \"forecast\"\nreport = \"sales\"\nby = \"region\"\n\
             [[analysis]]\nname = \"orders_profile\"\nkind = \"profile\"\ntable = \"orders\"\n\
             [[analysis]]\nname = \"customers\"\nkind = \"segments\"\ntable = \"orders\"\nentity = \"customer_id\"\n\
             rfm = { time = \"ordered_at\", value = \"amount\" }\n",
        )
        .unwrap();
        let kinds: Vec<&str> = p.analyses.iter().map(AnalysisDef::kind).collect();
        assert_eq!(kinds, ["forecast", "profile", "segments"]);
        let AnalysisDef::Forecast(f) = &p.analyses[0] else { panic!() };
        assert_eq!((f.history_buckets(), f.horizon(), f.recent(), f.periods()), (28 * 24, 48, 3, vec![24, 168]));
        let AnalysisDef::Segments(s) = &p.analyses[2] else { panic!() };
        assert_eq!((s.k, s.feature_names()[0].as_str()), (4, "recency_days"));
    }

    #[test]
    fn every_mistake_names_the_analysis_and_the_field() {
        let cases = [
            ("kind = \"forecast\"\nreport = \"nope\"", "analysis a: report \"nope\" is not declared"),
            ("kind = \"forecast\"\nreport = \"sales\"\nby = \"city\"", "analysis a: by: report sales has no dimension"),
            ("kind = \"forecast\"\nreport = \"sales\"\ngrain = \"minute\"", "analysis a: grain: must be hour or day"),
            ("kind = \"forecast\"\nreport = \"sales\"\nhistory_days = 10", "analysis a: history_days: too short"),
            ("kind = \"forecast\"\nreport = \"sales\"\nmax_groups = 1000", "analysis a: max_groups: 1000"),
            ("kind = \"profile\"\ntable = \"orders\"\ncolumns = [\"nope\"]", "table orders has no column \"nope\""),
            (
                "kind = \"segments\"\ntable = \"orders\"\nentity = \"customer_id\"\nfeatures = [\"region\"]",
                "features: column \"region\" must be numeric",
            ),
            ("kind = \"segments\"\ntable = \"orders\"\nentity = \"customer_id\"", "one of the two"),
            ("kind = \"forecast\"\nreport = \"sales\"\nsql = \"DROP TABLE orders\"", "unknown field `sql`"),
        ];
        for (body, expected) in cases {
            let err = parse(&format!("[[analysis]]\nname = \"a\"\n{body}\n")).unwrap_err();
            assert!(err.contains(expected), "{body}\n-> {err}");
        }
        let twice = "[[analysis]]\nname = \"a\"\nkind = \"profile\"\ntable = \"orders\"\n";
        assert!(parse(&format!("{twice}{twice}")).unwrap_err().contains("analysis \"a\" is declared twice"));
    }

    #[test]
    fn result_table_names_are_reserved() {
        let text = BASE.replace("name = \"orders\"", "name = \"analysis_forecast\"");
        let err = Pipeline::parse(&text).unwrap_err().to_string();
        assert!(err.contains("not tidemark_* or analysis_*"), "{err}");
    }
}
