//! The batch-load job for one table: read the extract runs it has not loaded, apply its
//! rules, stage the rows, then commit rows + load record + watermark in one transaction.
//!
//! The load id is derived from the runs it consumes, so re-running it is a no-op, and a
//! crash before the commit leaves the table and the watermark as they were.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::Serialize;

use super::extract::{self, ExtractError};
use super::manifest::Manifest;
use super::parse::{self, parse_part, unpack_origin, Parsed};
use super::pipeline::{ExtractMode, InputMode, Pipeline, SourceDef, TableDef};
use super::progress::Progress;
use super::quarantine::{self, QuarantineRecord};
use super::rules::dedupe::Dedupe;
use super::rules::{EvalContext, JoinInput, Program, Row, RuleDef, RuleError};
use super::schema::Schema;
use super::value::Value;
use crate::clock::Clock;
use crate::ports::{CommitOutcome, LoadCommit, ObjectStore, ObjectStoreError, Warehouse, WarehouseError};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] ObjectStoreError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error("source {0} is not declared")]
    UnknownSource(String),
    #[error(
        "table {table}: {bad} of {total} rows failed the rules ({ratio:.2}% > max_error_ratio {max:.2}%); \
         nothing was loaded; see {quarantine_key}"
    )]
    TooManyErrors { table: String, bad: u64, total: u64, ratio: f64, max: f64, quarantine_key: String },
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadSummary {
    pub table: String,
    pub load_id: Option<String>,
    pub extract_runs: usize,
    pub rows_in: u64,
    pub rows_loaded: u64,
    pub rows_discarded: u64,
    pub rows_quarantined: u64,
    pub high_water: Option<chrono::DateTime<chrono::Utc>>,
    pub quarantine_key: Option<String>,
    pub elapsed_ms: u64,
    pub note: String,
}

/// Rows per staging call.
const STAGE_CHUNK: usize = 100_000;

pub struct LoadJob<'a> {
    pub pipeline: &'a Pipeline,
    pub store: &'a dyn ObjectStore,
    pub warehouse: &'a dyn Warehouse,
    pub clock: &'a dyn Clock,
    pub progress: &'a dyn Progress,
}

/// Parts read so far in this load, to resolve a row's origin into source/run/part.
type PartIndex = Vec<(String, String, String)>;

/// What one load consumes and reads: the runs it has not loaded (which name the load)
/// and the runs its rules read (the same, or a snapshot table's whole current state).
struct LoadPlan<'m> {
    load_id: String,
    pending: Vec<&'m Manifest>,
    input: Vec<&'m Manifest>,
}

/// One pass over a load's input: the parts read, the rules compiled for the current
/// schema, rows held for rules over the whole input, rows waiting to be staged, and the
/// quarantine.
#[derive(Default)]
struct Pass {
    parts: PartIndex,
    bad: Vec<QuarantineRecord>,
    compiled: Option<(Schema, Program)>,
    held: Vec<Row>,
    held_schema: Option<Schema>,
    staged_rows: Option<Vec<Vec<Value>>>,
}

impl LoadJob<'_> {
    /// Loads `table`: plan, transform and stage, quarantine within the table's error
    /// ratio, then commit rows, load record and watermark in one transaction.
    pub async fn run(&self, table: &TableDef) -> Result<LoadSummary, LoadError> {
        let started = Instant::now();
        let mut summary = LoadSummary { table: table.name.clone(), ..LoadSummary::default() };
        let source = self.source(&table.source)?;
        let runs = extract::runs(self.store, &source.name).await?;
        let Some(plan) = self.plan(table, source, &runs).await? else {
            summary.note = "up to date: no new extract runs".into();
            return Ok(summary);
        };
        summary.extract_runs = plan.pending.len();
        self.progress.start(&format!("load {}", table.name), Some(plan.input.iter().map(|m| m.rows).sum()));

        self.warehouse.begin_stage(table).await?;
        let mut pass = Pass::default();
        if let Err(e) = self.transform_and_stage(table, source, &plan, &mut pass, &mut summary).await {
            self.warehouse.abort(table).await?;
            return Err(e);
        }
        self.quarantine_within_ratio(table, &plan.load_id, &pass.bad, &mut summary).await?;
        summary.note = self.commit(table, &plan, &summary).await?;
        summary.load_id = Some(plan.load_id);
        summary.elapsed_ms = started.elapsed().as_millis() as u64;
        self.progress.finish(&summary.note);
        Ok(summary)
    }

    /// `None` when every run of the source is loaded into `table` already.
    async fn plan<'m>(
        &self,
        table: &TableDef,
        source: &SourceDef,
        runs: &'m [Manifest],
    ) -> Result<Option<LoadPlan<'m>>, LoadError> {
        let loaded: HashSet<(String, String)> = self.warehouse.loaded_runs(&table.name).await?.into_iter().collect();
        let pending: Vec<&Manifest> = runs.iter().filter(|m| !m.loaded_in(&loaded)).collect();
        let (Some(first), Some(last)) = (pending.first(), pending.last()) else { return Ok(None) };
        let load_id = format!("{}:{}..{}", table.name, first.run_id, last.run_id);
        let input = match table.input {
            InputMode::New => pending.clone(),
            InputMode::Snapshot => current_state(runs, source),
        };
        Ok(Some(LoadPlan { load_id, pending, input }))
    }

    /// Every part of the input through the rules into the stage. Streaming rules run
    /// part by part, staging the previous part meanwhile; rules over the whole input
    /// (and a snapshot's last-row-per-key) run once on the held rows at the end.
    async fn transform_and_stage(
        &self,
        table: &TableDef,
        source: &SourceDef,
        plan: &LoadPlan<'_>,
        pass: &mut Pass,
        summary: &mut LoadSummary,
    ) -> Result<(), LoadError> {
        let joins = self.join_inputs(table).await?;
        let ctx = EvalContext { now: self.clock.now() };
        let et_slot = table.event_time.as_ref().and_then(|et| table.columns.iter().position(|c| &c.name == et));
        let snapshot_key = (table.input == InputMode::Snapshot && !source.key.is_empty()).then_some(&source.key);
        for m in &plan.input {
            for part in &m.parts {
                let bytes = self.store.get(&part.key).await?.unwrap_or_default();
                let part_no = pass.parts.len();
                pass.parts.push((m.source.clone(), m.run_id.clone(), part.key.clone()));
                let Parsed { schema, rows, rejected } = parse_part(source, m, part_no, &bytes);
                summary.rows_in += (rows.len() + rejected.len()) as u64;
                self.quarantine(table, &pass.parts, rejected, &mut pass.bad);
                let program = self.program(table, &schema, &joins, ctx, &mut pass.compiled)?;
                if !program.is_streaming() || snapshot_key.is_some() {
                    // Rules over the whole input: hold the rows (in the first part's schema).
                    let target = pass.held_schema.get_or_insert_with(|| schema.clone());
                    pass.held.extend(remap(rows, &schema, target));
                    self.progress.advance(0);
                    continue;
                }
                let n = rows.len() as u64;
                // Stage the previous part while this one runs through the rules: the
                // warehouse works on the other core.
                let previous = pass.staged_rows.take();
                let (staged, out) = futures::join!(self.stage_opt(table, previous), async { program.run(rows) });
                staged?;
                summary.rows_discarded += out.discarded;
                self.quarantine(table, &pass.parts, out.rejected, &mut pass.bad);
                track(summary, &out.rows, et_slot);
                pass.staged_rows = Some(out.rows);
                self.progress.advance(n);
            }
        }
        self.stage_opt(table, pass.staged_rows.take()).await?;
        let Some(schema) = pass.held_schema.take() else { return Ok(()) };
        let mut rows = std::mem::take(&mut pass.held);
        if let Some(key) = snapshot_key {
            rows = latest_by_key(rows, &schema, key);
        }
        let n = rows.len() as u64;
        let program = self.program(table, &schema, &joins, ctx, &mut pass.compiled)?;
        let out = program.run(rows);
        summary.rows_discarded += out.discarded;
        self.quarantine(table, &pass.parts, out.rejected, &mut pass.bad);
        track(summary, &out.rows, et_slot);
        let mut rows = out.rows;
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(STAGE_CHUNK));
            self.warehouse.stage(table, rows).await?;
            rows = rest;
        }
        self.progress.advance(n);
        Ok(())
    }

    /// Writes the rows that failed the rules to the quarantine; more of them than the
    /// table's `max_error_ratio` aborts the stage, so nothing of the load shows.
    async fn quarantine_within_ratio(
        &self,
        table: &TableDef,
        load_id: &str,
        bad: &[QuarantineRecord],
        summary: &mut LoadSummary,
    ) -> Result<(), LoadError> {
        summary.rows_quarantined = bad.len() as u64;
        if !bad.is_empty() {
            let key = quarantine::key(&table.name, load_id);
            self.store.put(&key, quarantine::to_jsonl(bad)).await?;
            summary.quarantine_key = Some(key);
        }
        let ratio = if summary.rows_in == 0 { 0.0 } else { summary.rows_quarantined as f64 / summary.rows_in as f64 };
        if ratio <= table.max_error_ratio {
            return Ok(());
        }
        self.warehouse.abort(table).await?;
        Err(LoadError::TooManyErrors {
            table: table.name.clone(),
            bad: summary.rows_quarantined,
            total: summary.rows_in,
            ratio: ratio * 100.0,
            max: table.max_error_ratio * 100.0,
            quarantine_key: summary.quarantine_key.clone().unwrap_or_default(),
        })
    }

    /// Rows, load record and watermark in one transaction; the note says what happened.
    async fn commit(&self, table: &TableDef, plan: &LoadPlan<'_>, summary: &LoadSummary) -> Result<String, LoadError> {
        let commit = LoadCommit {
            load_id: plan.load_id.clone(),
            extract_runs: plan.pending.iter().map(|m| (m.source.clone(), m.run_id.clone())).collect(),
            rows_loaded: summary.rows_loaded,
            rows_quarantined: summary.rows_quarantined,
            high_water: summary.high_water,
            loaded_at: self.clock.now(),
        };
        Ok(match self.warehouse.commit(table, &commit).await? {
            CommitOutcome::Committed { rows } => format!("{rows} rows committed"),
            CommitOutcome::AlreadyLoaded => format!("load {} was already committed: nothing changed", plan.load_id),
        })
    }

    fn source(&self, name: &str) -> Result<&SourceDef, LoadError> {
        self.pipeline.source(name).ok_or_else(|| LoadError::UnknownSource(name.to_owned()))
    }

    fn program<'p>(
        &self,
        table: &TableDef,
        schema: &Schema,
        joins: &HashMap<String, JoinInput>,
        ctx: EvalContext,
        cache: &'p mut Option<(Schema, Program)>,
    ) -> Result<&'p Program, LoadError> {
        if cache.as_ref().is_none_or(|(compiled_for, _)| compiled_for != schema) {
            *cache = None;
        }
        let (_, program) = match cache {
            Some(compiled) => compiled,
            empty => empty.insert((schema.clone(), Program::compile(table, schema, joins, ctx)?)),
        };
        Ok(program)
    }

    async fn stage_opt(&self, table: &TableDef, rows: Option<Vec<Vec<Value>>>) -> Result<(), LoadError> {
        match rows {
            Some(rows) if !rows.is_empty() => Ok(self.warehouse.stage(table, rows).await?),
            _ => Ok(()),
        }
    }

    fn quarantine(
        &self,
        table: &TableDef,
        parts: &PartIndex,
        rejected: Vec<(u64, super::rules::RowError)>,
        out: &mut Vec<QuarantineRecord>,
    ) {
        for (origin, e) in rejected {
            let (part, line) = unpack_origin(origin);
            if let Some(p) = parts.get(part) {
                out.push(QuarantineRecord::new(&table.name, p, line, e));
            }
        }
    }

    /// The latest state of every joined source: all its runs, the last row per key.
    async fn join_inputs(&self, table: &TableDef) -> Result<HashMap<String, JoinInput>, LoadError> {
        let mut out = HashMap::new();
        for rule in &table.rules {
            let RuleDef::Join(j) = rule else { continue };
            let source = self.source(&j.source)?;
            let mut schema: Option<Schema> = None;
            let mut rows = Vec::new();
            let mut part_no = 0;
            let runs = extract::runs(self.store, &source.name).await?;
            for m in current_state(&runs, source) {
                for part in &m.parts {
                    let bytes = self.store.get(&part.key).await?.unwrap_or_default();
                    let parsed = parse::parse_part(source, m, part_no, &bytes);
                    part_no += 1;
                    let target = schema.get_or_insert_with(|| parsed.schema.clone());
                    rows.extend(remap(parsed.rows, &parsed.schema, target));
                }
            }
            let schema = schema.unwrap_or_default();
            if !source.key.is_empty() {
                rows = latest_by_key(rows, &schema, &source.key);
            }
            out.insert(j.source.clone(), JoinInput { schema, rows });
        }
        Ok(out)
    }
}

/// The runs that together hold a source's current state: the latest run of a snapshot
/// source, every run of an incremental one (the caller keeps the last row per key).
pub(super) fn current_state<'m>(runs: &'m [Manifest], source: &SourceDef) -> Vec<&'m Manifest> {
    match source.mode {
        ExtractMode::Snapshot => runs.last().into_iter().collect(),
        ExtractMode::Incremental => runs.iter().collect(),
    }
}

fn track(summary: &mut LoadSummary, rows: &[Vec<Value>], et_slot: Option<usize>) {
    summary.rows_loaded += rows.len() as u64;
    if let Some(slot) = et_slot {
        for r in rows {
            let t = match &r[slot] {
                Value::Timestamp(t) => Some(*t),
                Value::Date(d) => Some(super::value::midnight(*d)),
                _ => None,
            };
            if t > summary.high_water {
                summary.high_water = t;
            }
        }
    }
}

/// Rows of a part whose columns differ from the first part's (a CSV whose header
/// changed order), rearranged by name.
pub(super) fn remap(rows: Vec<Row>, from: &Schema, to: &Schema) -> Vec<Row> {
    if from == to {
        return rows;
    }
    let map: Vec<Option<usize>> = to.names().map(|n| from.index(n)).collect();
    rows.into_iter()
        .map(|r| Row {
            cells: map.iter().map(|i| i.map_or(Value::Null, |i| r.cells[i].clone())).collect(),
            origin: r.origin,
        })
        .collect()
}

/// Keeps the last row per source key (later runs carry newer versions), in first-seen
/// order: the dedupe rule without `order_by`. A key column the data lacks keeps all rows.
pub(super) fn latest_by_key(rows: Vec<Row>, schema: &Schema, key: &[String]) -> Vec<Row> {
    match Dedupe::compile(key, None, schema) {
        Ok(dedupe) => dedupe.apply(rows),
        Err(_) => rows,
    }
}
