//! The Redshift Data API client on the SDK's mocks: polling until FINISHED, FAILED with
//! Redshift's error text (and, for a batch, the failing statement), paginated results
//! typed by column.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_sdk_redshiftdata::operation::batch_execute_statement::BatchExecuteStatementOutput;
use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
use aws_sdk_redshiftdata::operation::execute_statement::ExecuteStatementOutput;
use aws_sdk_redshiftdata::operation::get_statement_result::GetStatementResultOutput;
use aws_sdk_redshiftdata::types::{ColumnMetadata, Field, StatusString, SubStatementData};
use aws_sdk_redshiftdata::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use chrono::{TimeZone, Utc};
use tidemark_aws::retry::RetryPolicy;
use tidemark_aws::DataApi;
use tidemark_core::batch::Value;
use tidemark_core::ports::WarehouseError;

fn api(rules: &[&Rule]) -> DataApi {
    let client: Client = mock_client!(aws_sdk_redshiftdata, RuleMode::Sequential, rules);
    DataApi::new(client, "tidemark-prod", "tidemark")
        .with_poll(RetryPolicy::immediate(usize::MAX), Duration::from_secs(5))
}

fn status(s: StatusString, has_result: bool) -> DescribeStatementOutput {
    DescribeStatementOutput::builder().id("st-1").status(s).has_result_set(has_result).build().unwrap()
}

#[tokio::test]
async fn a_query_polls_until_finished_and_reads_every_page() {
    let submit = mock!(Client::execute_statement)
        .match_requests(|r| r.workgroup_name() == Some("tidemark-prod") && r.database() == Some("tidemark"))
        .then_output(|| ExecuteStatementOutput::builder().id("st-1").build());
    let submitted = mock!(Client::describe_statement).then_output(|| status(StatusString::Submitted, false));
    let started = mock!(Client::describe_statement).then_output(|| status(StatusString::Started, false));
    let finished = mock!(Client::describe_statement).then_output(|| status(StatusString::Finished, true));
    let column = |n: &str, t: &str| ColumnMetadata::builder().name(n).type_name(t).build();
    let page1 =
        mock!(Client::get_statement_result).match_requests(|r| r.next_token().is_none()).then_output(move || {
            GetStatementResultOutput::builder()
                .column_metadata(column("source", "varchar"))
                .column_metadata(column("high_water", "timestamp"))
                .column_metadata(column("rows_loaded", "int8"))
                .column_metadata(column("amount", "numeric"))
                .records(vec![
                    Field::StringValue("shop".into()),
                    Field::StringValue("2026-11-24 18:00:00".into()),
                    Field::LongValue(2400),
                    Field::StringValue("59.90".into()),
                ])
                .next_token("page-2")
                .build()
                .unwrap()
        });
    let page2 =
        mock!(Client::get_statement_result).match_requests(|r| r.next_token() == Some("page-2")).then_output(|| {
            GetStatementResultOutput::builder()
                .records(vec![
                    Field::StringValue("web".into()),
                    Field::IsNull(true),
                    Field::LongValue(0),
                    Field::IsNull(true),
                ])
                .build()
                .unwrap()
        });
    let rules = [&submit, &submitted, &started, &finished, &page1, &page2];
    let result = api(&rules)
        .query(&tidemark_core::ports::Query::new("SELECT source, high_water, rows_loaded, amount FROM w"))
        .await
        .unwrap();
    assert_eq!(result.columns, vec!["source", "high_water", "rows_loaded", "amount"]);
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 18, 0, 0).unwrap();
    assert_eq!(
        result.rows,
        vec![
            vec![Value::str("shop"), Value::Timestamp(at), Value::Int(2400), Value::Float(59.9)],
            vec![Value::str("web"), Value::Null, Value::Int(0), Value::Null],
        ]
    );
}

#[tokio::test]
async fn a_failed_batch_names_the_failing_statement_and_redshifts_error() {
    let submit = mock!(Client::batch_execute_statement)
        .match_requests(|r| r.sqls().len() == 3)
        .then_output(|| BatchExecuteStatementOutput::builder().id("st-1").build());
    let failed = mock!(Client::describe_statement).then_output(|| {
        DescribeStatementOutput::builder()
            .id("st-1")
            .status(StatusString::Failed)
            .error("a sub-statement failed")
            .sub_statements(SubStatementData::builder().id("st-1:1").query_string("BEGIN").build().unwrap())
            .sub_statements(
                SubStatementData::builder()
                    .id("st-1:2")
                    .query_string("INSERT INTO orders SELECT * FROM tidemark_stage_orders")
                    .error("ERROR: column \"amount\" is of type numeric but expression is of type character varying")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let statements =
        vec!["BEGIN".to_string(), "INSERT INTO orders SELECT * FROM tidemark_stage_orders".into(), "x".into()];
    let err = api(&[&submit, &failed]).run(&statements).await.unwrap_err();
    match err {
        WarehouseError::Sql { context, message } => {
            assert!(context.starts_with("INSERT INTO orders"), "{context}");
            assert!(message.contains("is of type numeric"), "{message}");
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn an_aborted_statement_is_an_error_and_one_statement_goes_alone() {
    let submit = mock!(Client::execute_statement)
        .match_requests(|r| r.sql() == Some("VACUUM orders"))
        .then_output(|| ExecuteStatementOutput::builder().id("st-1").build());
    let aborted = mock!(Client::describe_statement).then_output(|| status(StatusString::Aborted, false));
    let err = api(&[&submit, &aborted]).run(&["VACUUM orders".to_string()]).await.unwrap_err();
    assert!(err.to_string().contains("aborted"), "{err}");
}

/// A Redshift load: staged rows go to S3 as JSON lines, and the commit is one batch that
/// creates the stage, COPYs the parts with the role, merges, records and drops.
#[tokio::test]
async fn a_redshift_load_stages_in_s3_and_commits_in_one_batch() {
    use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use aws_sdk_s3::types::Object;
    use std::sync::{Arc, Mutex};
    use tidemark_aws::{Dialect, RedshiftWarehouse, S3ObjectStore, S3Staging};
    use tidemark_core::batch::pipeline::Pipeline;
    use tidemark_core::ports::{CommitOutcome, LoadCommit, Warehouse};

    let uploaded: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = uploaded.clone();
    let put = mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |req| {
        let body = String::from_utf8(req.body().bytes().unwrap().to_vec()).unwrap();
        seen.lock().unwrap().push((req.key().unwrap().to_string(), body));
        PutObjectOutput::builder().build()
    });
    let listed = uploaded.clone();
    let list = mock!(aws_sdk_s3::Client::list_objects_v2).then_compute_output(move |_| {
        let keys = listed.lock().unwrap().iter().map(|(k, _)| Object::builder().key(k).build()).collect();
        ListObjectsV2Output::builder().set_contents(Some(keys)).build()
    });
    let delete = mock!(aws_sdk_s3::Client::delete_object).then_output(|| DeleteObjectOutput::builder().build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put, &list, &delete]);
    let staging = S3Staging::new(
        S3ObjectStore::new(s3, "tidemark-interim", "interim"),
        "s3://tidemark-interim/interim/",
        "arn:aws:iam::123456789012:role/tidemark-copy",
    );

    let check = mock!(Client::execute_statement).then_output(|| ExecuteStatementOutput::builder().id("q").build());
    let check_done = mock!(Client::describe_statement).then_output(|| status(StatusString::Finished, true));
    let check_rows = mock!(Client::get_statement_result).then_output(|| {
        GetStatementResultOutput::builder()
            .column_metadata(ColumnMetadata::builder().name("count").type_name("int8").build())
            .records(vec![Field::LongValue(0)])
            .build()
            .unwrap()
    });
    let batch = mock!(Client::batch_execute_statement)
        .match_requests(|r| {
            let sqls = r.sqls();
            // Each load stages under its own prefix: staged/<table>/<load's stage id>/.
            sqls.iter().any(|s| {
                s.starts_with("COPY tidemark_stage_facts FROM 's3://tidemark-interim/interim/staged/facts/")
                    && s.ends_with(
                        "/' IAM_ROLE 'arn:aws:iam::123456789012:role/tidemark-copy' FORMAT AS JSON 'auto' \
                         TIMEFORMAT 'auto' DATEFORMAT 'auto'",
                    )
            }) && sqls.first().is_some_and(|s| s.starts_with("DROP TABLE IF EXISTS tidemark_stage_facts"))
                && sqls.last().is_some_and(|s| s == "DROP TABLE IF EXISTS tidemark_stage_facts")
                && sqls.iter().any(|s| s.starts_with("INSERT INTO tidemark_watermarks"))
        })
        .then_output(|| BatchExecuteStatementOutput::builder().id("b").build());
    let batch_done = mock!(Client::describe_statement).then_output(|| status(StatusString::Finished, false));
    let wh = RedshiftWarehouse::new(
        api(&[&check, &check_done, &check_rows, &batch, &batch_done]),
        staging,
        Dialect::Redshift,
    );

    let p = Pipeline::parse(
        r#"
[[source]]
name = "s"
kind = "csv"
path = "s.csv"

[[table]]
name = "facts"
source = "s"
key = ["id"]
load = "merge"
columns = [{ name = "id", type = "bigint" }, { name = "note", type = "varchar" }]
"#,
    )
    .unwrap();
    let table = &p.tables[0];
    wh.begin_stage(table).await.unwrap();
    wh.stage(table, vec![vec![Value::Int(1), Value::str("a")], vec![Value::Int(2), Value::str("b")]]).await.unwrap();
    wh.stage(table, vec![vec![Value::Int(1), Value::str("c")]]).await.unwrap();
    let parts = uploaded.lock().unwrap().clone();
    assert_eq!(parts.len(), 2);
    let (prefix, file) = parts[0].0.rsplit_once('/').unwrap();
    assert!(prefix.starts_with("interim/staged/facts/") && prefix.len() > "interim/staged/facts/".len(), "{prefix}");
    assert_eq!((file, parts[1].0.rsplit_once('/').unwrap().0), ("part-000000.jsonl", prefix), "one prefix per load");
    assert_eq!(parts[1].1, "{\"id\":1,\"note\":\"c\",\"tidemark_seq\":2}\n", "sequence numbers run across parts");

    let commit = LoadCommit {
        load_id: "load-1".into(),
        extract_runs: vec![("s".into(), "run-1".into())],
        rows_loaded: 3,
        rows_quarantined: 0,
        high_water: None,
        loaded_at: Utc::now(),
    };
    assert_eq!(wh.commit(table, &commit).await.unwrap(), CommitOutcome::Committed { rows: 3 });
    assert_eq!(batch.num_calls(), 1);
    assert_eq!(delete.num_calls(), 2, "the staged parts are removed after the commit");
}
