//! Each rule kind on small tables, and properties of dedupe, join and aggregate
//! against naive reference implementations.

use std::collections::{BTreeMap, HashMap};

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::batch::pipeline::Pipeline;

fn ctx() -> EvalContext {
    EvalContext { now: Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() }
}

/// A pipeline with one CSV source and one table of `columns` and `rules` (TOML).
fn table(columns: &str, rules: &str) -> Pipeline {
    let text = format!(
        r#"
[[source]]
name = "src"
kind = "csv"
path = "x.csv"

[[source]]
name = "customers"
kind = "csv"
path = "c.csv"
key = ["id"]

[[table]]
name = "t"
source = "src"
load = "append"
columns = [{columns}]
{rules}
"#
    );
    Pipeline::parse(&text).unwrap()
}

fn rows(cells: Vec<Vec<Value>>) -> Vec<Row> {
    cells.into_iter().enumerate().map(|(i, cells)| Row { cells, origin: i as u64 + 2 }).collect()
}

fn s(x: &str) -> Value {
    Value::str(x)
}

fn run(p: &Pipeline, input: &[&str], data: Vec<Vec<Value>>, joins: &HashMap<String, JoinInput>) -> Output {
    let prog = Program::compile(&p.tables[0], &Schema::new(input.iter().copied()), joins, ctx()).unwrap();
    prog.run(rows(data))
}

#[test]
fn discard_translate_cast_and_require() {
    let p = table(
        r#"{ name = "id", type = "bigint" }, { name = "gender", type = "integer" }, { name = "amount", type = "decimal(10,2)" }"#,
        r#"
[[table.rule]]
discard = "status = 'test'"
[[table.rule]]
require = ["id"]
[[table.rule]]
translate = { column = "gender", map = { F = 1, M = 2 }, otherwise = "error" }
[[table.rule]]
cast = { amount = "decimal(10,2)" }
"#,
    );
    let out = run(
        &p,
        &["id", "status", "gender", "amount"],
        vec![
            vec![s("1"), s("ok"), s("F"), s("10.005")],
            vec![s("2"), s("test"), s("M"), s("1")],
            vec![Value::Null, s("ok"), s("M"), s("1")],
            vec![s("4"), s("ok"), s("X"), s("1")],
            vec![s("5"), s("ok"), s("M"), s("ten")],
        ],
        &HashMap::new(),
    );
    assert_eq!(out.rows, vec![vec![Value::Int(1), Value::Int(1), Value::Float(10.01)]]);
    assert_eq!(out.discarded, 1);
    let why: Vec<(u64, &str, &str)> = out.rejected.iter().map(|(o, e)| (*o, e.rule, e.field.as_str())).collect();
    assert_eq!(why, [(4, "require", "id"), (5, "translate", "gender"), (6, "cast", "amount")]);
}

#[test]
fn rename_drop_derive_timezone_and_currency() {
    let p = table(
        r#"{ name = "order_id", type = "bigint" }, { name = "ordered_at", type = "timestamp" },
           { name = "order_day", type = "date" }, { name = "amount", type = "decimal(10,2)" },
           { name = "currency", type = "varchar" }, { name = "age", type = "integer" }"#,
        r#"
[[table.rule]]
rename = { id = "order_id", at = "ordered_at" }
[[table.rule]]
drop = ["secret"]
[[table.rule]]
timezone = { column = "ordered_at", zone = "Europe/Berlin" }
[[table.rule]]
derive = { column = "order_day", expr = "date_trunc('day', ordered_at)" }
[[table.rule]]
derive = { column = "age", expr = "age(birth_date)" }
[[table.rule]]
currency = { amount = "amount", currency = "currency", to = "EUR", rates = { USD = 0.5 } }
"#,
    );
    let out = run(
        &p,
        &["id", "at", "secret", "birth_date", "amount", "currency"],
        vec![
            vec![s("7"), s("2026-11-25 00:30:00"), s("x"), s("2000-11-25"), s("10"), s("USD")],
            vec![s("8"), s("2026-11-25 12:00:00"), s("x"), s("2000-11-26"), s("3"), s("EUR")],
            vec![s("9"), s("2026-11-25 12:00:00"), s("x"), s("2000-01-01"), s("3"), s("JPY")],
        ],
        &HashMap::new(),
    );
    assert_eq!(out.rows.len(), 2);
    let r = &out.rows[0];
    // 00:30 in Berlin is 23:30 UTC the day before.
    assert_eq!(r[1], Value::Timestamp(Utc.with_ymd_and_hms(2026, 11, 24, 23, 30, 0).unwrap()));
    assert_eq!(r[2], Value::Date(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()));
    assert_eq!((r[3].clone(), r[4].clone(), r[5].clone()), (Value::Float(5.0), s("EUR"), Value::Int(26)));
    assert_eq!(out.rows[1][5], Value::Int(25));
    assert_eq!(out.rejected[0].1.rule, "currency");
    assert!(out.rejected[0].1.reason.contains("JPY"));
}

#[test]
fn a_dropped_column_is_gone_for_later_rules() {
    let p = table(
        r#"{ name = "a", type = "varchar" }"#,
        "[[table.rule]]\ndrop = [\"b\"]\n[[table.rule]]\ndiscard = \"b = 1\"",
    );
    let err = Program::compile(&p.tables[0], &Schema::new(["a", "b"]), &HashMap::new(), ctx()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("rule 2 (discard)") && text.contains("unknown column \"b\""), "{text}");
}

#[test]
fn dedupe_keeps_the_latest_by_order_and_sort_orders() {
    let p = table(
        r#"{ name = "id", type = "bigint" }, { name = "v", type = "varchar" }"#,
        r#"
[[table.rule]]
dedupe = { key = ["id"], order_by = "ts" }
[[table.rule]]
sort = ["id desc"]
"#,
    );
    let out = run(
        &p,
        &["id", "v", "ts"],
        vec![
            vec![Value::Int(1), s("old"), Value::Int(1)],
            vec![Value::Int(2), s("only"), Value::Int(1)],
            vec![Value::Int(1), s("new"), Value::Int(3)],
            vec![Value::Int(1), s("stale"), Value::Int(2)],
        ],
        &HashMap::new(),
    );
    assert_eq!(out.rows, vec![vec![Value::Int(2), s("only")], vec![Value::Int(1), s("new")]]);
}

fn customers(rows_: Vec<(i64, &str)>) -> HashMap<String, JoinInput> {
    let data = rows_.into_iter().map(|(id, r)| vec![Value::Int(id), s(r)]).collect();
    HashMap::from([("customers".to_string(), JoinInput { schema: Schema::new(["id", "region"]), rows: rows(data) })])
}

fn join_table(kind: &str) -> Pipeline {
    table(
        r#"{ name = "order_id", type = "bigint" }, { name = "region", type = "varchar" }"#,
        &format!(
            "[[table.rule]]\njoin = {{ source = \"customers\", kind = \"{kind}\", on = {{ customer_id = \"id\" }}, columns = [\"region\"] }}"
        ),
    )
}

#[test]
fn joins_inner_left_and_duplicate_keys() {
    let orders = vec![
        vec![Value::Int(1), Value::Int(10)],
        vec![Value::Int(2), Value::Int(20)],
        vec![Value::Int(3), Value::Null],
        vec![Value::Int(4), Value::Int(30)],
    ];
    // Customer 30 appears twice: SQL semantics give two rows for order 4.
    let right = customers(vec![(10, "EU"), (30, "US"), (30, "APAC")]);
    let inner = run(&join_table("inner"), &["order_id", "customer_id"], orders.clone(), &right);
    assert_eq!(
        inner.rows,
        vec![vec![Value::Int(1), s("EU")], vec![Value::Int(4), s("US")], vec![Value::Int(4), s("APAC")]]
    );
    let left = run(&join_table("left"), &["order_id", "customer_id"], orders, &right);
    assert_eq!(left.rows.len(), 5);
    assert_eq!(left.rows[1], vec![Value::Int(2), Value::Null]);
    assert_eq!(left.rows[2], vec![Value::Int(3), Value::Null]);
}

#[test]
fn rollups_group_and_aggregate() {
    let p = table(
        r#"{ name = "region", type = "varchar" }, { name = "orders", type = "bigint" }, { name = "revenue", type = "decimal(12,2)" },
           { name = "biggest", type = "decimal(12,2)" }, { name = "average", type = "double" }, { name = "with_coupon", type = "bigint" }"#,
        r#"
[[table.rule]]
aggregate = { group_by = ["region"], measures = { orders = "count(*)", revenue = "sum(amount)", biggest = "max(amount)", average = "avg(amount)", with_coupon = "count(coupon)" } }
"#,
    );
    let out = run(
        &p,
        &["region", "amount", "coupon"],
        vec![
            vec![s("EU"), Value::Float(10.0), Value::Null],
            vec![s("US"), Value::Float(5.0), s("X")],
            vec![s("EU"), Value::Float(2.5), s("Y")],
        ],
        &HashMap::new(),
    );
    assert_eq!(
        out.rows,
        vec![
            vec![s("EU"), Value::Int(2), Value::Float(12.5), Value::Float(10.0), Value::Float(6.25), Value::Int(1)],
            vec![s("US"), Value::Int(1), Value::Float(5.0), Value::Float(5.0), Value::Float(5.0), Value::Int(1)],
        ]
    );
}

#[test]
fn pipeline_errors_name_what_is_wrong() {
    let bad = |rules: &str| {
        let text = format!(
            "[[source]]\nname = \"s\"\nkind = \"csv\"\npath = \"x\"\n[[table]]\nname = \"t\"\nsource = \"s\"\nkey = [\"id\"]\ncolumns = [{{ name = \"id\", type = \"bigint\" }}]\n{rules}"
        );
        Pipeline::parse(&text).unwrap_err().to_string()
    };
    assert!(bad("[[table.rule]]\ntimezone = { column = \"id\", zone = \"Mars/Base\" }")
        .contains("rule 1 (timezone): unknown time zone"));
    assert!(bad("[[table.rule]]\naggregate = { group_by = [], measures = { x = \"median(a)\" } }")
        .contains("unknown aggregate median()"));
    assert!(bad("[[table.rule]]\nfrobnicate = 1").contains("unknown variant `frobnicate`"));
    assert!(bad("[[table.rule]]\njoin = { source = \"nope\", on = { a = \"b\" }, columns = [] }")
        .contains("source \"nope\" is not declared"));
}

fn arb_rows() -> impl Strategy<Value = Vec<(i64, i64, i64)>> {
    // (key, version, amount) with few keys, so duplicates are common.
    prop::collection::vec((0i64..8, 0i64..5, -100i64..100), 0..60)
}

proptest! {
    #[test]
    fn dedupe_matches_a_reference(input in arb_rows()) {
        let p = table(r#"{ name = "k", type = "bigint" }, { name = "ver", type = "bigint" }, { name = "amt", type = "bigint" }"#,
            "[[table.rule]]\ndedupe = { key = [\"k\"], order_by = \"ver\" }");
        let data: Vec<Vec<Value>> = input.iter().map(|(k, v, a)| vec![Value::Int(*k), Value::Int(*v), Value::Int(*a)]).collect();
        let out = run(&p, &["k", "ver", "amt"], data, &HashMap::new());
        // Reference: the last row with the highest version, per key.
        let mut want: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for (k, v, a) in &input {
            let e = want.entry(*k).or_insert((*v, *a));
            if *v >= e.0 { *e = (*v, *a); }
        }
        let mut got: Vec<(i64, i64, i64)> = out.rows.iter().map(|r| match (&r[0], &r[1], &r[2]) {
            (Value::Int(k), Value::Int(v), Value::Int(a)) => (*k, *v, *a),
            _ => (0, 0, 0),
        }).collect();
        got.sort();
        let want: Vec<(i64, i64, i64)> = want.into_iter().map(|(k, (v, a))| (k, v, a)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn aggregate_sums_match_a_reference(input in arb_rows()) {
        let p = table(r#"{ name = "k", type = "bigint" }, { name = "n", type = "bigint" }, { name = "total", type = "bigint" }"#,
            "[[table.rule]]\naggregate = { group_by = [\"k\"], measures = { n = \"count(*)\", total = \"sum(amt)\" } }");
        let data: Vec<Vec<Value>> = input.iter().map(|(k, v, a)| vec![Value::Int(*k), Value::Int(*v), Value::Int(*a)]).collect();
        let out = run(&p, &["k", "ver", "amt"], data, &HashMap::new());
        let mut want: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for (k, _, a) in &input {
            let e = want.entry(*k).or_insert((0, 0));
            e.0 += 1;
            e.1 += a;
        }
        let got: BTreeMap<i64, (i64, i64)> = out.rows.iter().filter_map(|r| match (&r[0], &r[1], &r[2]) {
            (Value::Int(k), Value::Int(n), Value::Int(t)) => Some((*k, (*n, *t))),
            _ => None,
        }).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn join_row_counts_match_a_nested_loop(left in prop::collection::vec(0i64..6, 0..30), right in prop::collection::vec(0i64..6, 0..12)) {
        let right_in = customers(right.iter().map(|k| (*k, "r")).collect());
        let data: Vec<Vec<Value>> = left.iter().enumerate().map(|(i, k)| vec![Value::Int(i as i64), Value::Int(*k)]).collect();
        let matches = |k: &i64| right.iter().filter(|r| *r == k).count();
        let inner = run(&join_table("inner"), &["order_id", "customer_id"], data.clone(), &right_in);
        prop_assert_eq!(inner.rows.len(), left.iter().map(matches).sum::<usize>());
        let left_out = run(&join_table("left"), &["order_id", "customer_id"], data, &right_in);
        prop_assert_eq!(left_out.rows.len(), left.iter().map(|k| matches(k).max(1)).sum::<usize>());
    }
}

/// A batch row dated after the load's clock (plus the five-minute skew allowance) is
/// quarantined: it would carry the watermark, and the tidemark with it, into hours
/// that have not happened.
#[test]
fn event_times_in_the_future_are_quarantined() {
    let p = Pipeline::parse(
        r#"
[[source]]
name = "src"
kind = "csv"
path = "x.csv"

[[table]]
name = "t"
source = "src"
load = "append"
event_time = "at"
columns = [{ name = "id", type = "bigint" }, { name = "at", type = "timestamp" }]
"#,
    )
    .unwrap();
    let out = run(
        &p,
        &["id", "at"],
        vec![
            vec![s("1"), s("2026-11-25 12:04:00")],
            vec![s("2"), s("2026-11-25 12:06:00")],
            vec![s("3"), Value::Int(1_795_604_400_000)],
            vec![s("4"), s("2099-01-01 00:00:00")],
        ],
        &HashMap::new(),
    );
    assert_eq!(out.rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), vec![Value::Int(1), Value::Int(3)]);
    let reasons: Vec<(u64, &str, &str)> = out.rejected.iter().map(|(o, e)| (*o, e.rule, e.field.as_str())).collect();
    assert_eq!(reasons, vec![(3, "future", "at"), (5, "future", "at")]);
}
