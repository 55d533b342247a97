//! The pipeline file: sources to pull, warehouse tables with their rules, schedules.
//!
//! Parsed once and validated as a whole before any job runs; every error names the
//! source, table or rule it is about.

use std::collections::HashSet;

use serde::Deserialize;

use super::rules::RuleDef;
use super::value::ColumnType;
use crate::bucket::Period;
use crate::forget::PersonColumns;
use crate::job::Job;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceDef>,
    #[serde(default, rename = "table")]
    pub tables: Vec<TableDef>,
    #[serde(default, rename = "report")]
    pub reports: Vec<crate::report::ReportDef>,
    #[serde(default, rename = "analysis")]
    pub analyses: Vec<crate::analysis::AnalysisDef>,
}

/// Cron expressions (with seconds: `sec min hour day month weekday`, UTC), one per job
/// under its [`Job::schedule_key`]; a job left out runs at its [`Job::default_cron`].
/// The file owns the schedules of both deployments: `tidemark up` runs them, and on AWS
/// each job refuses to run when the template's schedule disagrees.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    #[serde(default = "cron_of::<0>")]
    batch_extract: String,
    #[serde(default = "cron_of::<1>")]
    batch_load: String,
    #[serde(default = "cron_of::<2>")]
    realtime_compact: String,
    #[serde(default = "cron_of::<3>")]
    reconcile: String,
    #[serde(default = "cron_of::<4>")]
    report_views: String,
    #[serde(default = "cron_of::<5>")]
    analyze: String,
}

/// The default of the `N`th job of [`Job::ALL`] (serde's defaults take no arguments).
fn cron_of<const N: usize>() -> String {
    Job::ALL[N].default_cron().to_owned()
}

impl Schedule {
    /// When `job` runs.
    pub fn cron(&self, job: Job) -> &str {
        match job {
            Job::BatchExtract => &self.batch_extract,
            Job::BatchLoad => &self.batch_load,
            Job::RealtimeCompact => &self.realtime_compact,
            Job::Reconcile => &self.reconcile,
            Job::ReportViews => &self.report_views,
            Job::Analyze => &self.analyze,
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            batch_extract: cron_of::<0>(),
            batch_load: cron_of::<1>(),
            realtime_compact: cron_of::<2>(),
            reconcile: cron_of::<3>(),
            report_views: cron_of::<4>(),
            analyze: cron_of::<5>(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Postgres,
    Mysql,
    Jsonl,
    Csv,
    Weblog,
    /// A DynamoDB table, read by (parallel) scan; items are kept as DynamoDB JSON.
    Dynamodb,
    /// The real-time side's events, read from the key-value store by realtime-compact
    /// (batch-extract does not pull it).
    Realtime,
}

impl SourceKind {
    pub fn is_database(self) -> bool {
        matches!(self, SourceKind::Postgres | SourceKind::Mysql)
    }

    /// CSV, JSON lines and web logs: read from a path, incrementally by byte offset.
    pub fn is_file(self) -> bool {
        matches!(self, SourceKind::Csv | SourceKind::Jsonl | SourceKind::Weblog)
    }

    /// File extension of the raw parts: the data stays in the source's own format.
    pub fn extension(self) -> &'static str {
        match self {
            SourceKind::Postgres
            | SourceKind::Mysql
            | SourceKind::Jsonl
            | SourceKind::Dynamodb
            | SourceKind::Realtime => "jsonl",
            SourceKind::Csv => "csv",
            SourceKind::Weblog => "log",
        }
    }
}

/// How a source is pulled: only what is new since the last run (by `cursor` column for
/// databases, by byte offset for files), or a full snapshot every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExtractMode {
    #[default]
    Incremental,
    Snapshot,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    pub name: String,
    pub kind: SourceKind,
    /// Database URL; `${VAR}` is replaced from the environment when the job starts.
    pub url: Option<String>,
    pub query: Option<String>,
    /// Local path of a file source (CSV, JSON lines, web log).
    pub path: Option<String>,
    /// DynamoDB: the table to scan (in the region and account of the AWS credentials).
    pub table: Option<String>,
    /// DynamoDB: how many segments of a parallel scan read the table at once.
    #[serde(default = "default_segments")]
    pub segments: u32,
    #[serde(default)]
    pub mode: ExtractMode,
    /// Incremental database sources: the column that only grows (`updated_at`, an id).
    pub cursor: Option<String>,
    /// The source's own key, used to keep the latest version of a row in snapshots.
    #[serde(default)]
    pub key: Vec<String>,
    /// JSON lines: the (dotted, for nested documents) fields to read. Realtime: event
    /// fields to lift into columns besides the model's own (`properties.url`,
    /// `keys.customer_id`).
    #[serde(default)]
    pub fields: Vec<String>,
    /// CSV delimiter, one character.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Rows per raw part file.
    #[serde(default = "default_part_rows")]
    pub part_rows: usize,
    /// The source columns that hold a person's ids, for `tidemark forget`.
    #[serde(default)]
    pub person: PersonColumns,
}

fn default_delimiter() -> char {
    ','
}

fn default_part_rows() -> usize {
    500_000
}

fn default_segments() -> u32 {
    4
}

/// DynamoDB allows up to a million scan segments; more than this many concurrent
/// requests from one job is a typo, not a plan.
pub const MAX_SCAN_SEGMENTS: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    Append,
    #[default]
    Merge,
    Overwrite,
}

/// Which extract runs a table reads: the ones it has not loaded yet, or the latest
/// state of every row ever extracted (for tables rebuilt whole, such as rollups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InputMode {
    #[default]
    New,
    Snapshot,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    #[serde(default = "yes")]
    pub nullable: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    pub name: String,
    pub source: String,
    #[serde(default)]
    pub input: InputMode,
    pub columns: Vec<ColumnDef>,
    #[serde(default)]
    pub key: Vec<String>,
    #[serde(default)]
    pub sort_key: Vec<String>,
    /// The column whose high-water mark is the watermark of this table's sources.
    pub event_time: Option<String>,
    /// How finely `event_time` records an event, where its type does not say: a
    /// timestamp column that holds midnights (`"day"`) or hour starts (`"hour"`). A
    /// `date` column is a day without saying so. See [`TableDef::event_time_precision`].
    pub event_time_grain: Option<Period>,
    #[serde(default)]
    pub load: LoadMode,
    /// With `load = "overwrite"`: replace only the periods present in the new rows.
    pub overwrite_period: Option<Period>,
    /// The run fails, and loads nothing, when more than this share of rows is quarantined.
    #[serde(default = "default_error_ratio")]
    pub max_error_ratio: f64,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleDef>,
    /// The columns that hold a person's ids, for `tidemark forget`.
    #[serde(default)]
    pub person: PersonColumns,
}

fn default_error_ratio() -> f64 {
    0.05
}

impl TableDef {
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The period one event-time value stands for: a row stamped with it may have
    /// happened anywhere inside that period, so batch covers a period whole or not at
    /// all. `None`: the column holds instants.
    pub fn event_time_precision(&self) -> Option<Period> {
        let column = self.column(self.event_time.as_deref()?)?;
        match (self.event_time_grain, column.ty) {
            (Some(declared), _) => Some(declared),
            (None, ColumnType::Date) => Some(Period::Day),
            (None, _) => None,
        }
    }

    /// Sources this table reads: its own plus every joined one.
    pub fn sources(&self) -> Vec<&str> {
        let mut out = vec![self.source.as_str()];
        out.extend(self.rules.iter().filter_map(|r| match r {
            RuleDef::Join(j) => Some(j.source.as_str()),
            _ => None,
        }));
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("pipeline file: {0}")]
    Syntax(String),
    #[error("pipeline file: {0}")]
    Invalid(String),
}

impl Pipeline {
    pub fn parse(text: &str) -> Result<Pipeline, PipelineError> {
        let mut p: Pipeline = toml::from_str(text).map_err(|e| PipelineError::Syntax(e.to_string()))?;
        let filters = p.validate().map_err(PipelineError::Invalid)?;
        for (i, filter_sql) in filters.into_iter().enumerate() {
            p.reports[i].precision = p.table(&p.reports[i].batch.table).and_then(TableDef::event_time_precision);
            p.reports[i].batch.filter_sql = filter_sql;
        }
        Ok(p)
    }

    pub fn source(&self, name: &str) -> Option<&SourceDef> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn report(&self, name: &str) -> Option<&crate::report::ReportDef> {
        self.reports.iter().find(|r| r.name == name)
    }

    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn analysis(&self, name: &str) -> Option<&crate::analysis::AnalysisDef> {
        self.analyses.iter().find(|a| a.name() == name)
    }

    /// Checks the whole file; returns each report's filter as the SQL that runs.
    fn validate(&self) -> Result<Vec<Option<String>>, String> {
        let mut names = HashSet::new();
        for s in &self.sources {
            if !valid_name(&s.name) {
                return Err(format!("source {:?}: name must be lowercase letters, digits and _", s.name));
            }
            if !names.insert(&s.name) {
                return Err(format!("source {:?} is declared twice", s.name));
            }
            validate_source(s).map_err(|e| format!("source {}: {e}", s.name))?;
        }
        let mut tables = HashSet::new();
        for t in &self.tables {
            if !valid_name(&t.name) || t.name.starts_with("tidemark_") || t.name.starts_with("analysis_") {
                return Err(format!(
                    "table {:?}: name must be lowercase letters, digits and _, not tidemark_* or analysis_*",
                    t.name
                ));
            }
            if !tables.insert(&t.name) {
                return Err(format!("table {:?} is declared twice", t.name));
            }
            self.validate_table(t).map_err(|e| format!("table {}: {e}", t.name))?;
        }
        let mut reports = HashSet::new();
        let mut checked = Vec::new();
        for r in &self.reports {
            if !valid_name(&r.name) {
                return Err(format!("report {:?}: name must be lowercase letters, digits and _", r.name));
            }
            if !reports.insert(&r.name) {
                return Err(format!("report {:?} is declared twice", r.name));
            }
            let filter_sql = r.validate(&self.tables).map_err(|e| format!("report {}: {e}", r.name))?;
            checked.push(filter_sql);
        }
        let mut analyses = HashSet::new();
        for a in &self.analyses {
            if !valid_name(a.name()) {
                return Err(format!("analysis {:?}: name must be lowercase letters, digits and _", a.name()));
            }
            if !analyses.insert(a.name()) {
                return Err(format!("analysis {:?} is declared twice", a.name()));
            }
            a.validate(self).map_err(|e| format!("analysis {}: {e}", a.name()))?;
        }
        Ok(checked)
    }

    fn validate_table(&self, t: &TableDef) -> Result<(), String> {
        for s in t.sources() {
            if self.source(s).is_none() {
                return Err(format!("source {s:?} is not declared"));
            }
        }
        let mut cols = HashSet::new();
        for c in &t.columns {
            if !valid_name(&c.name) {
                return Err(format!("column {:?}: name must be lowercase letters, digits and _", c.name));
            }
            if !cols.insert(c.name.as_str()) {
                return Err(format!("column {:?} is declared twice", c.name));
            }
        }
        if t.columns.is_empty() {
            return Err("declares no columns".into());
        }
        for (what, list) in [("key", &t.key), ("sort_key", &t.sort_key)] {
            for k in list {
                if !cols.contains(k.as_str()) {
                    return Err(format!("{what} column {k:?} is not a declared column"));
                }
            }
        }
        if let Some(et) = &t.event_time {
            match t.column(et).map(|c| c.ty) {
                Some(ColumnType::Timestamp | ColumnType::Date) => {}
                Some(other) => return Err(format!("event_time column {et:?} is {}, not a timestamp", other.name())),
                None => return Err(format!("event_time column {et:?} is not a declared column")),
            }
        }
        match (t.event_time_grain, t.event_time.as_ref().and_then(|et| t.column(et)).map(|c| c.ty)) {
            (Some(_), None) => return Err("event_time_grain needs an event_time column".into()),
            (Some(Period::Hour), Some(ColumnType::Date)) => {
                return Err(
                    "event_time_grain \"hour\" is finer than a date column records; use \"day\" or \"month\"".into()
                )
            }
            _ => {}
        }
        for column in t.person.declared() {
            if !cols.contains(column) {
                return Err(format!("person column {column:?} is not a declared column"));
            }
        }
        if t.load == LoadMode::Merge && t.key.is_empty() {
            return Err("load = \"merge\" needs a key".into());
        }
        if t.overwrite_period.is_some() && (t.load != LoadMode::Overwrite || t.event_time.is_none()) {
            return Err("overwrite_period needs load = \"overwrite\" and an event_time column".into());
        }
        if !(0.0..=1.0).contains(&t.max_error_ratio) {
            return Err(format!("max_error_ratio {} is not between 0 and 1", t.max_error_ratio));
        }
        for (i, r) in t.rules.iter().enumerate() {
            r.check().map_err(|e| format!("rule {} ({}): {e}", i + 1, r.kind()))?;
        }
        Ok(())
    }
}

fn validate_source(s: &SourceDef) -> Result<(), String> {
    if s.kind == SourceKind::Realtime {
        if s.url.is_some() || s.path.is_some() || s.query.is_some() || s.cursor.is_some() {
            return Err("a realtime source is filled by realtime-compact from the key-value store: \
                        it takes no url, path, query or cursor (only fields)"
                .into());
        }
    } else if s.kind == SourceKind::Dynamodb {
        if s.table.as_deref().is_none_or(str::is_empty) {
            return Err("a dynamodb source needs table (the DynamoDB table to scan)".into());
        }
        if s.url.is_some() || s.path.is_some() || s.query.is_some() {
            return Err("a dynamodb source is read by scan: it takes table, not url, path or query".into());
        }
        if s.mode == ExtractMode::Incremental && s.cursor.is_none() {
            return Err("incremental dynamodb extraction needs a cursor attribute that only grows \
                        (an update time, as a number or ISO-8601 text), or mode = \"snapshot\""
                .into());
        }
        if !(1..=MAX_SCAN_SEGMENTS).contains(&s.segments) {
            return Err(format!("segments must be between 1 and {MAX_SCAN_SEGMENTS}, not {}", s.segments));
        }
    } else if s.kind.is_database() {
        if s.url.is_none() || s.query.is_none() {
            return Err("a database source needs url and query".into());
        }
        if s.mode == ExtractMode::Incremental && s.cursor.is_none() {
            return Err("incremental database extraction needs a cursor column (or mode = \"snapshot\")".into());
        }
    } else {
        if s.path.is_none() {
            return Err("a file source needs a path".into());
        }
        if s.cursor.is_some() {
            return Err("files are read incrementally by byte offset; cursor applies to databases".into());
        }
    }
    if matches!(s.kind, SourceKind::Jsonl | SourceKind::Dynamodb) && s.fields.is_empty() {
        return Err(format!(
            "a {} source lists the fields to read (dotted paths for nested documents)",
            if s.kind == SourceKind::Jsonl { "JSON lines" } else { "dynamodb" }
        ));
    }
    if s.kind != SourceKind::Dynamodb && s.table.is_some() {
        return Err("table names the DynamoDB table of a dynamodb source".into());
    }
    if s.part_rows == 0 {
        return Err("part_rows must be at least 1".into());
    }
    Ok(())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// `${VAR}` and `${VAR:-default}` references in a source URL, replaced by `lookup`
/// (the environment, read at the edge).
/// A `${VAR}` reference that cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("unclosed ${{ in {0:?}")]
    Unclosed(String),
    #[error("environment variable {0} is not set")]
    Unset(String),
}

pub fn expand_vars(s: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, VarError> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or_else(|| VarError::Unclosed(s.to_owned()))? + start;
        let inner = &rest[start + 2..end];
        let (var, default) = match inner.split_once(":-") {
            Some((v, d)) => (v, Some(d)),
            None => (inner, None),
        };
        let value = lookup(var).filter(|v| !v.is_empty()).or(default.map(str::to_string));
        out.push_str(&value.ok_or_else(|| VarError::Unset(var.to_owned()))?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_take_variables_with_defaults() {
        let env = |v: &str| (v == "PG").then(|| "postgres://db".to_string());
        assert_eq!(expand_vars("${PG}/x", env).unwrap(), "postgres://db/x");
        assert_eq!(expand_vars("${NOPE:-mysql://local}", env).unwrap(), "mysql://local");
        assert_eq!(expand_vars("${NOPE}", env).unwrap_err(), VarError::Unset("NOPE".into()));
        assert_eq!(expand_vars("${PG", env).unwrap_err(), VarError::Unclosed("${PG".into()));
    }
}

#[cfg(test)]
mod precision_tests {
    use super::*;

    fn pipeline(table_extra: &str, time_type: &str, report_time: &str) -> Result<Pipeline, PipelineError> {
        Pipeline::parse(&format!(
            r#"
[[source]]
name = "orders"
kind = "csv"
path = "orders.csv"

[[table]]
name = "orders"
source = "orders"
event_time = "day"
load = "append"
{table_extra}
columns = [{{ name = "day", type = "{time_type}" }}, {{ name = "other", type = "timestamp" }}, {{ name = "amount", type = "double" }}]

[[report]]
name = "sales"
batch = {{ table = "orders", time = "{report_time}", value = "amount" }}
realtime = {{ event_type = "purchase", value = "amount" }}
"#
        ))
    }

    #[test]
    fn a_date_column_records_days_and_the_report_learns_it() {
        let p = pipeline("", "date", "day").unwrap();
        assert_eq!(p.tables[0].event_time_precision(), Some(Period::Day));
        assert_eq!(p.reports[0].precision, Some(Period::Day));
        let p = pipeline("", "timestamp", "day").unwrap();
        assert_eq!(p.reports[0].precision, None, "a timestamp records instants");
    }

    #[test]
    fn a_timestamp_column_can_declare_what_it_records() {
        let p = pipeline(r#"event_time_grain = "month""#, "timestamp", "day").unwrap();
        assert_eq!(p.reports[0].precision, Some(Period::Month));
    }

    #[test]
    fn precision_rules_are_checked_when_the_file_is_read() {
        let err = pipeline(r#"event_time_grain = "hour""#, "date", "day").unwrap_err().to_string();
        assert!(err.contains("table orders: event_time_grain \"hour\" is finer than a date column"), "{err}");
        let err = pipeline("", "date", "other").unwrap_err().to_string();
        assert!(err.contains("report sales: batch.time \"other\" must be the event_time of table orders"), "{err}");
        let err = Pipeline::parse(
            "[[source]]\nname = \"s\"\nkind = \"csv\"\npath = \"x\"\n[[table]]\nname = \"t\"\nsource = \"s\"\n\
             load = \"append\"\nevent_time_grain = \"day\"\ncolumns = [{ name = \"a\", type = \"date\" }]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("event_time_grain needs an event_time column"), "{err}");
    }
}

#[cfg(test)]
mod dynamodb_source_tests {
    use super::*;

    fn source(lines: &str) -> Result<Pipeline, PipelineError> {
        Pipeline::parse(&format!("[[source]]\nname = \"carts\"\nkind = \"dynamodb\"\n{lines}\n"))
    }

    #[test]
    fn a_dynamodb_source_names_its_table_fields_and_cursor() {
        let p = source("table = \"Carts\"\ncursor = \"updated_at\"\nfields = [\"id\", \"customer.id\"]").unwrap();
        let s = &p.sources[0];
        assert_eq!((s.kind, s.table.as_deref(), s.segments), (SourceKind::Dynamodb, Some("Carts"), 4));
        assert_eq!(s.kind.extension(), "jsonl", "items are kept as DynamoDB JSON lines");
    }

    #[test]
    fn what_a_dynamodb_source_cannot_take_is_refused_naming_the_rule() {
        let refused = |lines: &str, rule: &str| {
            let err = source(lines).unwrap_err().to_string();
            assert!(err.contains("source carts") && err.contains(rule), "{lines}: {err}");
        };
        refused("fields = [\"id\"]\nmode = \"snapshot\"", "needs table");
        refused("table = \"Carts\"\nfields = [\"id\"]", "needs a cursor attribute");
        refused("table = \"Carts\"\nmode = \"snapshot\"", "lists the fields to read");
        refused(
            "table = \"Carts\"\nmode = \"snapshot\"\nfields = [\"id\"]\nsegments = 0",
            "segments must be between 1 and 64",
        );
        refused("table = \"Carts\"\nmode = \"snapshot\"\nfields = [\"id\"]\nsegments = 1000", "not 1000");
        refused("table = \"Carts\"\nmode = \"snapshot\"\nfields = [\"id\"]\nurl = \"x\"", "takes table, not url");
        let err = Pipeline::parse("[[source]]\nname = \"f\"\nkind = \"csv\"\npath = \"x\"\ntable = \"T\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("table names the DynamoDB table"), "{err}");
    }
}
