use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use tidemark_aws::jobs::JobRequest;
use tidemark_core::job::{eventbridge_expression, Job};

/// Actions that have no resource type in IAM: `Resource: "*"` is their only form.
const NO_RESOURCE_TYPE: &[&str] = &[
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "redshift-data:DescribeStatement",
    "redshift-data:GetStatementResult",
    "redshift-data:CancelStatement",
    "cloudwatch:GetMetricData",
];

/// The job functions EventBridge runs (forget, also a job function, runs when invoked).
fn scheduled_jobs() -> [&'static str; Job::ALL.len()] {
    Job::ALL.map(Job::function)
}

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn resources(t: &Value) -> BTreeMap<String, Value> {
    t["Resources"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn of_type<'a>(r: &'a BTreeMap<String, Value>, ty: &str) -> Vec<(&'a String, &'a Value)> {
    r.iter().filter(|(_, v)| v["Type"] == ty).collect()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_function_is_a_cargo_lambda_build_for_the_chosen_architecture_with_a_trigger() {
    let t = template();
    assert_eq!(t["Globals"]["Function"]["Architectures"][0]["Ref"], "Architecture");
    let architecture = &t["Parameters"]["Architecture"];
    assert_eq!(architecture["Default"], "arm64");
    assert_eq!(architecture["AllowedValues"], json!(["arm64", "x86_64"]));
    assert_eq!(t["Globals"]["Function"]["Runtime"], "provided.al2023");
    let r = resources(&t);
    let functions = of_type(&r, "AWS::Serverless::Function");
    let binaries: Vec<&str> =
        functions.iter().map(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap()).collect();
    for expected in [
        "beacon-ingest",
        "stream-index",
        "stream-store",
        "batch-extract",
        "batch-load",
        "realtime-compact",
        "reconcile",
        "report-views",
        "forget",
        "report",
    ] {
        assert!(binaries.contains(&expected), "no function builds {expected}");
    }
    // `sam build` runs `cargo lambda build --bin <Binary>` at the root: each must exist.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let declared: Vec<String> = std::fs::read_dir(root.join("functions"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path().join("Cargo.toml")).unwrap())
        .flat_map(|manifest| {
            let parsed: toml::Table = toml::from_str(&manifest).unwrap();
            parsed.get("bin").and_then(|b| b.as_array()).cloned().unwrap_or_default()
        })
        .map(|bin| bin["name"].as_str().unwrap().to_string())
        .collect();
    for binary in &binaries {
        assert!(declared.iter().any(|d| d == binary), "{binary}: no [[bin]] of that name under functions/");
    }
    for (name, f) in &functions {
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        // Forget runs when an operator invokes it, for one person: it has no trigger.
        if *name != "ForgetFunction" {
            let events = f["Properties"]["Events"].as_object().unwrap_or_else(|| panic!("{name} has no trigger"));
            assert!(!events.is_empty(), "{name} has no trigger");
        }
        assert!(f["Properties"]["Role"].is_object(), "{name} must run under its own least-privilege role");
    }
}

#[test]
fn stream_consumers_report_item_failures_bisect_retry_until_the_store_is_back_and_park_poison() {
    let t = template();
    let r = resources(&t);
    let mut consumers = 0;
    for (name, f) in of_type(&r, "AWS::Serverless::Function") {
        for (event, e) in f["Properties"]["Events"].as_object().into_iter().flatten() {
            if e["Type"] != "Kinesis" {
                continue;
            }
            consumers += 1;
            let p = &e["Properties"];
            assert_eq!(strings(&p["FunctionResponseTypes"]), vec!["ReportBatchItemFailures"], "{name}.{event}");
            assert_eq!(p["BisectBatchOnFunctionError"], true, "{name}.{event}");
            // A store that is down is retried until it is back; poison is parked by the
            // function itself, with its payload, so no record blocks the shard for ever.
            assert_eq!(p["MaximumRetryAttempts"], -1, "{name}.{event}: retried until the store is back");
            assert_eq!(p["MaximumRecordAgeInSeconds"], -1, "{name}.{event}");
            let role = f["Properties"]["Role"]["Fn::GetAtt"][0].as_str().unwrap();
            let policy = r[role]["Properties"]["Policies"].to_string();
            assert!(policy.contains("dead-letters/*"), "{name}: may park poison records");
            let destination = &p["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0];
            let queue = destination.as_str().unwrap_or_else(|| panic!("{name}.{event}: no on-failure destination"));
            assert_eq!(r[queue]["Type"], "AWS::SQS::Queue", "{name}.{event}");
        }
    }
    assert_eq!(consumers, 2, "stream-index and stream-store");
}

#[test]
fn schedules_and_routes_are_declared() {
    let t = template();
    let r = resources(&t);
    let mut schedules = Vec::new();
    let mut routes = Vec::new();
    for (name, f) in of_type(&r, "AWS::Serverless::Function") {
        for e in f["Properties"]["Events"].as_object().into_iter().flat_map(|events| events.values()) {
            let p = &e["Properties"];
            match e["Type"].as_str().unwrap() {
                "ScheduleV2" => {
                    assert!(p["DeadLetterConfig"]["Arn"].is_object(), "{name}: schedule without a dead-letter queue");
                    // The input the job handler parses, with the scheduler's time filled in.
                    let input = p["Input"].as_str().unwrap_or_else(|| panic!("{name}: schedule without an input"));
                    let filled = input.replace("<aws.scheduler.scheduled-time>", "2026-11-29T02:30:00Z");
                    let request =
                        JobRequest::parse(&serde_json::from_str(&filled).unwrap(), chrono::Utc::now()).unwrap();
                    assert_eq!(request.scheduled_at.to_rfc3339(), "2026-11-29T02:30:00+00:00", "{name}");
                    schedules.push(name.as_str());
                }
                "HttpApi" => {
                    let route = format!("{} {}", p["Method"].as_str().unwrap(), p["Path"].as_str().unwrap());
                    let signed = p["Auth"]["Authorizer"] == "AWS_IAM";
                    routes.push((route, signed));
                }
                _ => {}
            }
        }
    }
    for job in scheduled_jobs() {
        assert!(schedules.contains(&job), "{job} has no schedule");
    }
    for (route, signed) in &routes {
        let beacon =
            ["POST /v1/events", "OPTIONS /v1/events", "GET /v1/p.gif", "GET /v1/beacon.js"].contains(&route.as_str());
        let browser = route.starts_with("ANY /ui");
        assert_eq!(
            *signed,
            !beacon && !browser,
            "{route}: beacons use write keys, /ui/ the admin tokens, the other read routes IAM"
        );
    }
    let console = [
        "GET /v1/jobs",
        "ANY /v1/jobs/{job}/runs",
        "GET /v1/jobs/{job}/runs/{id}",
        "GET /v1/quarantine",
        "GET /v1/quarantine/{table}",
        "GET /v1/reconciliation/{report}/keys",
        "ANY /v1/write-keys",
        "DELETE /v1/write-keys/{id}",
        "GET /v1/stats",
        "GET /v1/settings",
        "GET /v1/dead-letters",
        "GET /v1/dead-letters/{consumer}/{sequence}",
        "POST /v1/dead-letters/{consumer}/redrive",
    ];
    for route in ["GET /v1/analysis", "GET /v1/analysis/{table}"].iter().chain(&console) {
        assert!(routes.iter().any(|(routed, _)| routed == route), "{route} is routed");
    }
    assert_eq!(routes.len(), 26);
}

/// The console's Run now invokes each job's function by the name the template gives it.
#[test]
fn run_now_names_every_job_function_and_may_invoke_it() {
    let t = template();
    let r = resources(&t);
    let report = &r["ReportFunction"]["Properties"];
    let pattern = report["Environment"]["Variables"]["TIDEMARK_JOB_FUNCTIONS"]["Fn::Sub"].as_str().unwrap();
    let statements = r["ReportRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].as_array().unwrap();
    let invokable = statements.iter().find(|s| s["Action"] == json!(["lambda:InvokeFunction"])).unwrap();
    for job in Job::ALL {
        let name = r[job.function()]["Properties"]["FunctionName"]["Fn::Sub"].as_str().unwrap();
        assert_eq!(pattern.replace("{job}", job.name()), name, "{job}");
        // By name: a reference to the function would close a cycle through the search domain.
        let arn = json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{name}") });
        assert!(invokable["Resource"].as_array().unwrap().contains(&arn), "{job}: the report role may not invoke it");
    }
}

/// The pipeline file owns the schedules: each job's schedule and the `TIDEMARK_SCHEDULE`
/// its function checks against the file come from one parameter, whose default is the
/// domain's default cron as EventBridge writes it.
#[test]
fn each_job_is_scheduled_by_one_parameter_defaulting_to_the_pipeline_default() {
    let t = template();
    let r = resources(&t);
    for job in Job::ALL {
        let parameter = job.schedule_parameter();
        let default = t["Parameters"][parameter]["Default"].as_str().unwrap_or_else(|| panic!("no {parameter}"));
        assert_eq!(default, eventbridge_expression(job.default_cron()).unwrap(), "{job}");
        let p = &r[job.function()]["Properties"];
        assert_eq!(p["Environment"]["Variables"]["TIDEMARK_SCHEDULE"], json!({ "Ref": parameter }), "{job}");
        let events: Vec<&Value> = p["Events"].as_object().unwrap().values().collect();
        assert_eq!(events.len(), 1, "{job}: one schedule");
        assert_eq!(events[0]["Properties"]["ScheduleExpression"], json!({ "Ref": parameter }), "{job}");
    }
}

/// Two database users: the jobs' creates the tables and grants the read-only role the
/// report function's user is given at sign-in (its IAM role's `RedshiftDbRoles` tag);
/// the report role cannot batch statements (the write path) either.
#[test]
fn the_report_role_only_reads_the_warehouse() {
    let t = template();
    let r = resources(&t);
    let read_role = &t["Globals"]["Function"]["Environment"]["Variables"]["TIDEMARK_REDSHIFT_READ_ROLE"];
    let tag = |role: &str| {
        let tags = r[role]["Properties"]["Tags"].as_array().cloned().unwrap_or_default();
        tags.into_iter().find(|t| t["Key"] == "RedshiftDbRoles").map(|t| t["Value"].clone())
    };
    assert_eq!(tag("ReportRole").as_ref(), Some(read_role));
    assert_eq!(tag("JobRole"), Some(json!("sys:secadmin")), "the jobs create the read-only role");
    let report = r["ReportRole"]["Properties"]["Policies"].to_string();
    assert!(report.contains("redshift-data:ExecuteStatement"), "{report}");
    assert!(!report.contains("BatchExecuteStatement"), "{report}");
}

/// batch-extract reads DynamoDB source tables only when the deployer names them, and
/// then only by scan: an empty parameter grants nothing.
#[test]
fn dynamodb_sources_are_scanned_only_where_the_deployer_says() {
    let t = template();
    let r = resources(&t);
    assert_eq!(t["Parameters"]["DynamodbSourceTableArns"]["Default"], "");
    let statements = r["JobRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].as_array().unwrap();
    let conditional: Vec<&Value> = statements.iter().filter_map(|s| s.get("Fn::If")).collect();
    assert_eq!(conditional.len(), 1, "{statements:?}");
    let [condition, granted, otherwise] = conditional[0].as_array().unwrap().as_slice() else { panic!() };
    assert_eq!(condition, "HasDynamodbSources");
    assert_eq!(strings(&granted["Action"]), ["dynamodb:Scan", "dynamodb:DescribeTable"]);
    assert_eq!(granted["Resource"], json!({"Ref": "DynamodbSourceTableArns"}));
    assert_eq!(otherwise, &json!({"Ref": "AWS::NoValue"}));
    let has = t["Conditions"]["HasDynamodbSources"].to_string();
    assert!(has.contains("DynamodbSourceTableArns"), "{has}");
}

/// Only the beacon routes answer other origins: no API-wide CORS, which would let any
/// web page read the reports; the beacon function answers its own preflight.
#[test]
fn cors_applies_to_the_beacon_routes_only() {
    let t = template();
    let r = resources(&t);
    let api = &r["HttpApi"]["Properties"];
    assert!(api.get("CorsConfiguration").is_none(), "no API-wide CORS: {api}");
    let report = &r["ReportFunction"]["Properties"];
    assert_eq!(report["Environment"]["Variables"]["TIDEMARK_ADMIN_TOKENS_SECRET"]["Ref"], "AdminTokens");
    assert_eq!(r["AdminTokens"]["Type"], "AWS::SecretsManager::Secret");
}

/// Nothing grows forever and nothing fails silently: the stream keeps a week to
/// redrive from, the bucket expires what is staged, quarantined or overwritten, every
/// function's logs expire, a job runs once at a time and its own failures reach the
/// dead-letter queue, beacons are throttled and the consumers keep their concurrency.
#[test]
fn retention_throttling_and_failure_destinations_are_declared() {
    let t = template();
    let r = resources(&t);
    let stream = &of_type(&r, "AWS::Kinesis::Stream")[0].1["Properties"];
    assert!(stream["RetentionPeriodHours"].as_u64().unwrap() >= 168, "a week to redrive");
    let rules = r["InterimBucket"]["Properties"]["LifecycleConfiguration"]["Rules"].as_array().unwrap().clone();
    for prefix in ["raw/", "staged/", "quarantine/"] {
        assert!(
            rules.iter().any(|rule| rule["Prefix"] == prefix && rule.get("ExpirationInDays").is_some()),
            "{prefix}"
        );
    }
    assert!(rules.iter().any(|rule| rule.get("Prefix").is_none() && rule["NoncurrentVersionExpiration"].is_object()));
    let raw = rules.iter().find(|rule| rule["Prefix"] == "raw/").unwrap();
    let load = &r["BatchLoadFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        (&raw["ExpirationInDays"]["Ref"], &load["TIDEMARK_RAW_RETENTION_DAYS"]["Ref"]),
        (&json!("RawRetentionDays"), &json!("RawRetentionDays")),
        "batch-load compacts raw state by the retention the bucket expires it with"
    );
    let functions: Vec<String> = of_type(&r, "AWS::Serverless::Function")
        .iter()
        .map(|(_, f)| f["Properties"]["FunctionName"]["Fn::Sub"].as_str().unwrap().to_owned())
        .collect();
    let log_groups: Vec<String> = of_type(&r, "AWS::Logs::LogGroup")
        .iter()
        .inspect(|(name, g)| assert_eq!(g["Properties"]["RetentionInDays"]["Ref"], "LogRetentionDays", "{name}"))
        .map(|(_, g)| g["Properties"]["LogGroupName"]["Fn::Sub"].as_str().unwrap().to_owned())
        .collect();
    for function in &functions {
        assert!(log_groups.contains(&format!("/aws/lambda/{function}")), "{function} has a log group with a retention");
    }
    for job in scheduled_jobs().into_iter().chain(["ForgetFunction"]) {
        let p = &r[job]["Properties"];
        assert_eq!(p["ReservedConcurrentExecutions"], 1, "{job}: one run at a time");
        let vpc = &p["VpcConfig"]["Fn::If"];
        assert_eq!(vpc[0], "UseJobVpc", "{job}: in the VPC when JobSubnetIds are given");
        assert_eq!(vpc[1]["SubnetIds"]["Ref"], "JobSubnetIds", "{job}");
        assert_eq!(vpc[2]["Ref"], "AWS::NoValue", "{job}: outside any VPC otherwise");
        assert_eq!(
            p["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0], "JobsDlq",
            "{job}"
        );
        let wait = p["Environment"]["Variables"]["TIDEMARK_SQL_TIMEOUT_SECS"].as_u64().unwrap();
        assert!(wait < p["Timeout"].as_u64().unwrap(), "{job}: the Data API wait ends before the function's timeout");
    }
    for consumer in ["StreamIndexFunction", "StreamStoreFunction"] {
        assert_eq!(r[consumer]["Properties"]["ReservedConcurrentExecutions"]["Ref"], "ConsumerConcurrency");
    }
    // Serverless: a search collection, the kind that keeps client document ids (a
    // time-series collection assigns its own, and a redelivery would count twice); it
    // takes no lifecycle policy, so stream-index may delete the expired daily indices.
    assert_eq!(r["SearchCollection"]["Properties"]["Type"], "SEARCH");
    assert!(of_type(&r, "AWS::OpenSearchServerless::LifecyclePolicy").is_empty());
    let access = r["SearchAccessPolicy"]["Properties"]["Policy"]["Fn::Sub"].as_str().unwrap();
    assert!(access.contains("aoss:DeleteIndex"), "{access}");
    let throttle = &r["HttpApi"]["Properties"]["DefaultRouteSettings"];
    assert_eq!(
        (throttle["ThrottlingRateLimit"]["Ref"].as_str(), throttle["ThrottlingBurstLimit"]["Ref"].as_str()),
        (Some("BeaconRateLimit"), Some("BeaconBurstLimit"))
    );
}

#[test]
fn stores_are_durable_private_and_on_demand() {
    let t = template();
    let r = resources(&t);
    let table = &of_type(&r, "AWS::DynamoDB::Table")[0].1["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    let keys: Vec<(&str, &str)> = table["KeySchema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["AttributeName"].as_str().unwrap(), k["KeyType"].as_str().unwrap()))
        .collect();
    assert_eq!(keys, vec![("pk", "HASH"), ("sk", "RANGE")]);

    let stream = &of_type(&r, "AWS::Kinesis::Stream")[0].1["Properties"];
    assert_eq!(stream["StreamModeDetails"]["StreamMode"], "ON_DEMAND");

    let bucket = &of_type(&r, "AWS::S3::Bucket")[0].1["Properties"];
    let block = &bucket["PublicAccessBlockConfiguration"];
    for flag in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[flag], true, "{flag}");
    }
    assert!(bucket["BucketEncryption"].is_object());
    assert!(!bucket["LifecycleConfiguration"]["Rules"].as_array().unwrap().is_empty());

    assert_eq!(of_type(&r, "AWS::RedshiftServerless::Workgroup").len(), 1);
    assert_eq!(of_type(&r, "AWS::RedshiftServerless::Namespace").len(), 1);
    assert_eq!(of_type(&r, "AWS::OpenSearchService::Domain").len(), 1);
    assert_eq!(of_type(&r, "AWS::OpenSearchServerless::Collection")[0].1["Properties"]["Type"], "SEARCH");
}

#[test]
fn iam_statements_name_their_resources() {
    let t = template();
    let r = resources(&t);
    let mut checked = 0;
    for (name, role) in of_type(&r, "AWS::IAM::Role") {
        for policy in role["Properties"]["Policies"].as_array().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                checked += 1;
                let actions = strings(&statement["Action"]);
                assert!(actions.iter().all(|a| !a.contains('*')), "{name}: wildcard action in {actions:?}");
                if statement["Resource"] == "*" {
                    let unnamed: Vec<&String> =
                        actions.iter().filter(|a| !NO_RESOURCE_TYPE.contains(&a.as_str())).collect();
                    assert!(unnamed.is_empty(), "{name}: Resource '*' for {unnamed:?}, which can name a resource");
                }
            }
        }
    }
    assert!(checked > 20);
}

#[test]
fn alarms_watch_iterator_age_dead_letters_and_errors() {
    let t = template();
    let r = resources(&t);
    let alarms = of_type(&r, "AWS::CloudWatch::Alarm");
    let metric = |m: &str| alarms.iter().filter(|(_, a)| a["Properties"]["MetricName"] == m).count();
    assert_eq!(metric("IteratorAge"), 2);
    assert_eq!(metric("ApproximateNumberOfMessagesVisible"), of_type(&r, "AWS::SQS::Queue").len());
    assert_eq!(metric("Errors"), of_type(&r, "AWS::Serverless::Function").len());
}

/// CloudFormation refuses a stack whose resources depend on each other in a circle. The
/// functions all depend on the search domain (its endpoint is a global variable), so
/// whatever the domain's access policy names must not depend on a function.
#[test]
fn no_resource_depends_on_itself_through_others() {
    let t = template();
    let r = resources(&t);
    let names: BTreeSet<&str> = r.keys().map(String::as_str).collect();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, resource) in &r {
        let mut on = BTreeSet::new();
        if resource["Type"] == "AWS::Serverless::Function" {
            // SAM makes each of a function's events a resource of its own, which depends
            // on the function: what an event names (the scheduler's role) may name it back.
            let mut function = resource.clone();
            function["Properties"].as_object_mut().unwrap().remove("Events");
            references(&function, &mut on);
            references(&t["Globals"]["Function"], &mut on);
        } else {
            references(resource, &mut on);
        }
        on.extend(strings(&resource["DependsOn"]));
        on.retain(|n| names.contains(n.as_str()));
        edges.insert(name, on);
    }
    let mut done = BTreeSet::new();
    for start in &names {
        let mut path = vec![start.to_string()];
        assert_acyclic(&edges, &mut path, &mut done);
    }
}

/// Depth first from the last resource of `path`; a resource met again on the path is a cycle.
fn assert_acyclic(edges: &BTreeMap<&str, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) {
    let at = path.last().unwrap().clone();
    if done.contains(&at) {
        return;
    }
    for next in &edges[at.as_str()] {
        assert!(!path.contains(next), "a dependency cycle: {} -> {next}", path.join(" -> "));
        path.push(next.clone());
        assert_acyclic(edges, path, done);
        path.pop();
    }
    done.insert(at);
}

/// The names a piece of template refers to: `Ref`, `Fn::GetAtt` and `${Name}` or
/// `${Name.Attribute}` in `Fn::Sub` (pseudo parameters and the Sub's own variables aside).
fn references(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            if let Some(name) = o.get("Ref").and_then(Value::as_str) {
                out.insert(name.to_owned());
            }
            match o.get("Fn::GetAtt") {
                Some(Value::Array(a)) => out.extend(a.first().and_then(Value::as_str).map(str::to_owned)),
                Some(Value::String(s)) => out.extend(s.split('.').next().map(str::to_owned)),
                _ => {}
            }
            let (text, own) = match o.get("Fn::Sub") {
                Some(Value::String(s)) => (Some(s.as_str()), None),
                Some(Value::Array(a)) => (a.first().and_then(Value::as_str), a.get(1).and_then(Value::as_object)),
                _ => (None, None),
            };
            for var in text.map(|t| t.split("${").skip(1)).into_iter().flatten() {
                let name = var.split('}').next().unwrap_or_default().split('.').next().unwrap_or_default();
                if !name.starts_with("AWS::") && !name.starts_with('!') && !own.is_some_and(|m| m.contains_key(name)) {
                    out.insert(name.to_owned());
                }
            }
            o.values().for_each(|x| references(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}
