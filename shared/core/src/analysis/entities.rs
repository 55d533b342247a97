//! A segments run: one row of numeric features per entity, read by the warehouse
//! (averages of named columns, or recency, frequency and monetary value), clustered by
//! [`segment`], and every entity written with its segment and the segment's centre in
//! words. The query asks for one entity more than `max_entities`, so a table too large
//! is refused before its rows are held.

use chrono::{DateTime, Utc};

use crate::batch::sql::ident;
use crate::batch::value::midnight;
use crate::batch::Value;
use crate::ports::warehouse::{Query, Warehouse};

use super::anomaly::grouped;
use super::def::SegmentsDef;
use super::job::{AnalysisError, AnalysisSummary, Found, RunStamp};
use super::segments::{segment, Segmentation};
use super::tables::{Scope, SEGMENTS};

/// Entity id and features, ordered by id so that the same table gives the same rows.
pub fn query(def: &SegmentsDef) -> Query {
    let entity = ident(&def.entity);
    let number = |col: &str| format!("CAST({} AS DOUBLE PRECISION)", ident(col));
    let features = match &def.rfm {
        Some(rfm) => format!("MAX({}), COUNT(*), SUM({})", ident(&rfm.time), number(&rfm.value)),
        None => def.features.iter().map(|f| format!("AVG({})", number(f))).collect::<Vec<_>>().join(", "),
    };
    Query::new(format!(
        "SELECT CAST({entity} AS VARCHAR(65535)), {features} FROM {} WHERE {entity} IS NOT NULL \
         GROUP BY {entity} ORDER BY 1 LIMIT {}",
        ident(&def.table),
        def.max_entities + 1
    ))
}

/// One entity's features from a row of [`query`]'s answer; `None` when one is missing.
/// Recency is in days before `now`.
pub fn features(def: &SegmentsDef, row: &[Value], now: DateTime<Utc>) -> Option<(String, Vec<f64>)> {
    let entity = row.first()?.to_string();
    let values: Option<Vec<f64>> = match def.rfm {
        Some(_) => {
            let last = match row.get(1)? {
                Value::Timestamp(t) => *t,
                Value::Date(d) => midnight(*d),
                _ => return None,
            };
            let recency = (now - last).num_seconds() as f64 / 86_400.0;
            Some(vec![recency, row.get(2)?.as_f64()?, row.get(3)?.as_f64()?])
        }
        None => row.get(1..)?.iter().map(Value::as_f64).collect(),
    };
    Some((entity, values?))
}

pub(super) async fn run(
    def: &SegmentsDef,
    warehouse: &dyn Warehouse,
    stamp: &RunStamp,
) -> Result<Found, AnalysisError> {
    let result = warehouse.query(&query(def)).await?;
    if result.rows.len() > def.max_entities {
        return Err(AnalysisError::TooManyEntities { table: def.table.clone(), max: def.max_entities });
    }
    let mut summary = AnalysisSummary::default();
    let (mut entities, mut rows) = (Vec::new(), Vec::new());
    for row in &result.rows {
        match features(def, row, stamp.at) {
            Some((entity, values)) => {
                entities.push(entity);
                rows.push(values);
            }
            None => {
                let entity = row.first().map(Value::to_string).unwrap_or_default();
                summary.skipped.push(format!("{} {entity}: a feature is missing", def.entity));
            }
        }
    }
    summary.skipped.truncate(100);
    let segmentation = segment(&rows, def.k)?;
    let names = def.feature_names();
    let described: Vec<String> = (0..def.k).map(|s| describe(def, &names, &segmentation, s)).collect();
    let out = entities
        .iter()
        .zip(&rows)
        .zip(&segmentation.labels)
        .map(|((entity, values), label)| {
            let features: serde_json::Map<String, serde_json::Value> =
                names.iter().cloned().zip(values.iter().map(|v| serde_json::json!(v))).collect();
            vec![
                Value::str(def.name.as_str()),
                Value::str(entity.as_str()),
                Value::Int(*label as i64),
                Value::str(serde_json::Value::Object(features).to_string()),
                Value::str(described[*label].as_str()),
                Value::str(stamp.id.as_str()),
                Value::Timestamp(stamp.at),
            ]
        })
        .collect();
    warehouse.execute(SEGMENTS.replace(&Scope { analysis: &def.name, load_id: None, window: None }, out)).await?;
    summary.rows = entities.len() as u64;
    summary.now = described;
    Ok(Found { summary, new_recent: Vec::new() })
}

/// "segment 2 of 4: 1,203 of 10,000 customer_id (12 %); recency_days 4.10, frequency 9.30, monetary 412"
pub fn describe(def: &SegmentsDef, names: &[String], s: &Segmentation, segment: usize) -> String {
    let total: usize = s.sizes.iter().sum();
    let size = s.sizes.get(segment).copied().unwrap_or(0);
    let centre = s.centres.get(segment).map(Vec::as_slice).unwrap_or_default();
    let features: Vec<String> = names.iter().zip(centre).map(|(name, v)| format!("{name} {}", grouped(*v))).collect();
    format!(
        "segment {} of {}: {} of {} {} ({:.0} %); {}",
        segment + 1,
        def.k,
        grouped(size as f64).trim_end_matches(".00"),
        grouped(total as f64).trim_end_matches(".00"),
        def.entity,
        size as f64 * 100.0 / total.max(1) as f64,
        features.join(", ")
    )
}
