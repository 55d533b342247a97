use super::*;
use crate::clock::FixedClock;
use crate::memory::MemoryKv;
use crate::reconcile::ReconcileError;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

struct Fixture {
    kv: Arc<MemoryKv>,
    clock: Arc<FixedClock>,
}

impl Fixture {
    fn new() -> Self {
        Self { kv: Arc::new(MemoryKv::default()), clock: Arc::new(FixedClock::new(at("2026-12-03T10:00:00Z"))) }
    }

    fn history(&self, stale_after: Option<Duration>) -> RunHistory {
        RunHistory::new(self.kv.clone(), self.clock.clone(), stale_after)
    }
}

fn views_done() -> Result<JobOutcome, JobRunError> {
    Ok(JobOutcome::Views(Vec::new()))
}

#[test]
fn a_run_is_recorded_from_start_to_end() {
    futures::executor::block_on(async {
        let f = Fixture::new();
        let history = f.history(None);
        let options = JobOptions { only: Some("orders".into()), ..JobOptions::default() };
        let run = history.begin(Job::BatchLoad, &options, Trigger::Console).await.unwrap();
        let listed = history.runs(Job::BatchLoad, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].status, listed[0].trigger), (RunStatus::Running, Trigger::Console));
        assert_eq!(listed[0].options, options);
        f.clock.set(at("2026-12-03T10:00:05Z"));
        let ended = history.finish(run, &Ok(JobOutcome::Extract(Vec::new()))).await.unwrap();
        assert_eq!((ended.status, ended.rows), (RunStatus::Succeeded, Some(0)));
        assert_eq!(ended.seconds(f.clock.now()), 5.0);
        assert_eq!(history.runs(Job::BatchLoad, 10).await.unwrap(), vec![ended.clone()]);
        assert_eq!(history.running(Job::BatchLoad).await.unwrap(), None, "the lock is released");
        assert_eq!(history.run(Job::BatchLoad, &ended.id).await.unwrap(), Some(ended));
    })
}

#[test]
fn a_second_run_of_the_same_job_is_refused_while_one_runs() {
    futures::executor::block_on(async {
        let f = Fixture::new();
        let history = f.history(None);
        let first = history.begin(Job::Reconcile, &JobOptions::default(), Trigger::Schedule).await.unwrap();
        let refused = history.begin(Job::Reconcile, &JobOptions::default(), Trigger::Console).await;
        match refused {
            Err(BeginError::Running(holder)) => assert_eq!(holder.id, first.id),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(history.begin(Job::Analyze, &JobOptions::default(), Trigger::Console).await.is_ok(), "other jobs run");
        history.finish(first, &views_done()).await.unwrap();
        assert!(history.begin(Job::Reconcile, &JobOptions::default(), Trigger::Console).await.is_ok());
    })
}

#[test]
fn a_failed_run_keeps_its_error() {
    futures::executor::block_on(async {
        let f = Fixture::new();
        let history = f.history(None);
        let run = history.begin(Job::Reconcile, &JobOptions::default(), Trigger::Cli).await.unwrap();
        let error = JobRunError::Reconcile(ReconcileError::UnknownReport("nope".into()));
        let ended = history.finish(run, &Err(error)).await.unwrap();
        assert_eq!(ended.status, RunStatus::Failed);
        assert!(ended.error.as_deref().unwrap().contains("nope"), "{:?}", ended.error);
    })
}

#[test]
fn a_stale_lock_is_taken_over_and_its_run_marked_interrupted() {
    futures::executor::block_on(async {
        let f = Fixture::new();
        let history = f.history(Some(Duration::minutes(20)));
        let lost = history.begin(Job::BatchLoad, &JobOptions::default(), Trigger::Schedule).await.unwrap();
        f.clock.set(at("2026-12-03T10:10:00Z"));
        assert!(matches!(
            history.begin(Job::BatchLoad, &JobOptions::default(), Trigger::Console).await,
            Err(BeginError::Running(_))
        ));
        f.clock.set(at("2026-12-03T10:30:00Z"));
        let next = history.begin(Job::BatchLoad, &JobOptions::default(), Trigger::Console).await.unwrap();
        let runs = history.runs(Job::BatchLoad, 10).await.unwrap();
        assert_eq!(
            runs.iter().map(|r| (r.id.clone(), r.status)).collect::<Vec<_>>(),
            vec![(next.id, RunStatus::Running), (lost.id, RunStatus::Interrupted)]
        );
    })
}

#[test]
fn recover_releases_what_a_stopped_process_left() {
    futures::executor::block_on(async {
        let f = Fixture::new();
        let before = f.history(None);
        let lost = before.begin(Job::Analyze, &JobOptions::default(), Trigger::Schedule).await.unwrap();
        let after = f.history(None);
        let marked = after.recover().await.unwrap();
        assert_eq!(marked.iter().map(|r| &r.id).collect::<Vec<_>>(), vec![&lost.id]);
        assert_eq!(after.runs(Job::Analyze, 1).await.unwrap()[0].status, RunStatus::Interrupted);
        assert!(after.begin(Job::Analyze, &JobOptions::default(), Trigger::Console).await.is_ok());
    })
}

#[test]
fn the_history_keeps_the_latest_runs_only() {
    futures::executor::block_on(async {
        let f = Fixture::new();
        let history = f.history(None);
        let start = at("2026-12-03T00:00:00Z");
        for n in 0..(KEEP_RUNS as i64 + 5) {
            f.clock.set(start + Duration::seconds(n));
            let run = history.begin(Job::ReportViews, &JobOptions::default(), Trigger::Schedule).await.unwrap();
            history.finish(run, &views_done()).await.unwrap();
        }
        let runs = history.runs(Job::ReportViews, usize::MAX).await.unwrap();
        assert_eq!(runs.len(), KEEP_RUNS);
        assert_eq!(runs[0].started_at, start + Duration::seconds(KEEP_RUNS as i64 + 4), "newest first");
        assert_eq!(runs[KEEP_RUNS - 1].started_at, start + Duration::seconds(5), "the oldest five are gone");
    })
}

#[test]
fn a_large_summary_is_replaced_by_a_note() {
    let big = serde_json::json!({ "lines": "x".repeat(MAX_SUMMARY_BYTES) });
    assert!(bounded_summary(big)["note"].as_str().unwrap().contains("not kept"));
    let small = serde_json::json!({ "rows": 3 });
    assert_eq!(bounded_summary(small.clone()), small);
}

#[test]
fn a_run_begun_elsewhere_is_adopted_once() {
    futures::executor::block_on(async {
        let f = Fixture::new();
        let history = f.history(Some(Duration::minutes(20)));
        let begun = history.begin(Job::BatchLoad, &JobOptions::default(), Trigger::Console).await.unwrap();
        let adopted = history.adopt(Job::BatchLoad, &begun.id).await.unwrap();
        assert_eq!(adopted, begun);
        history.finish(adopted, &views_done()).await.unwrap();
        let again = history.adopt(Job::BatchLoad, &begun.id).await;
        assert!(matches!(again, Err(BeginError::NotBegun { .. })), "{again:?}");
    })
}

#[test]
fn a_run_ending_is_never_missing_from_the_history() {
    futures::executor::block_on(async {
        let f = Fixture::new();
        let history = f.history(None);
        let run = history.begin(Job::BatchLoad, &JobOptions::default(), Trigger::Console).await.unwrap();
        // Halfway through recording the end: the ended record is written, the running
        // one not yet removed. A reader sees the run once, ended.
        let mut ended = run.clone();
        ended.status = RunStatus::Succeeded;
        f.kv.put_items(vec![ended.item(ended.key_at(true))]).await.unwrap();
        let runs = history.runs(Job::BatchLoad, 10).await.unwrap();
        assert_eq!(
            runs.iter().map(|r| (r.id.as_str(), r.status)).collect::<Vec<_>>(),
            vec![(run.id.as_str(), RunStatus::Succeeded)]
        );
        assert_eq!(history.run(Job::BatchLoad, &run.id).await.unwrap().map(|r| r.status), Some(RunStatus::Succeeded));
    })
}
