//! A `[schedule]` cron expression as EventBridge writes it, so that the pipeline file can
//! own the schedules of both deployments: the template's schedule parameters take these
//! expressions (`tidemark pipeline check` prints them) and a job Lambda refuses to run
//! when its schedule and the file's disagree.
//!
//! By hand because no maintained crate converts between the two dialects: croner's
//! `sec min hour day month weekday` (weekdays 0-6 from Sunday) and EventBridge's
//! `cron(min hour day month weekday year)` (weekdays 1-7 from Sunday, one of day and
//! weekday must be `?`, no seconds).

/// Why an expression has no EventBridge equivalent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cron {expr:?} cannot run on EventBridge: {rule}")]
pub struct CronError {
    pub expr: String,
    pub rule: &'static str,
}

/// A step from "any" (`*/n`) becomes one from the field's first value, which is how
/// EventBridge writes it.
fn step_from(field: &str, first: &str) -> String {
    match field.strip_prefix("*/") {
        Some(step) => format!("{first}/{step}"),
        None => field.to_owned(),
    }
}

/// `0 15 2 * * *` → `cron(15 2 * * ? *)`.
pub fn eventbridge_expression(cron: &str) -> Result<String, CronError> {
    let refuse = |rule| Err(CronError { expr: cron.to_owned(), rule });
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let (sec, rest) = match fields.as_slice() {
        [sec, rest @ ..] if rest.len() == 5 => (*sec, rest),
        rest if rest.len() == 5 => ("0", rest),
        _ => return refuse("expected `sec min hour day month weekday` (or without the seconds)"),
    };
    let [min, hour, day, month, weekday] = [rest[0], rest[1], rest[2], rest[3], rest[4]];
    if sec != "0" {
        return refuse("EventBridge schedules whole minutes; the seconds field must be 0");
    }
    if weekday.chars().any(|c| c.is_ascii_digit()) && weekday != "*" {
        return refuse("name weekdays (MON-FRI): EventBridge numbers them 1-7 from Sunday, cron 0-6");
    }
    let (day, weekday) = match (day, weekday) {
        (day, "*") => (step_from(day, "1"), "?".to_owned()),
        ("*", weekday) => ("?".to_owned(), weekday.to_owned()),
        _ => return refuse("EventBridge cannot restrict both the day of the month and the weekday"),
    };
    let (min, hour, month) = (step_from(min, "0"), step_from(hour, "0"), step_from(month, "1"));
    Ok(format!("cron({min} {hour} {day} {month} {weekday} *)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Job;

    #[test]
    fn the_default_schedules_convert() {
        let converted: Vec<String> =
            Job::ALL.iter().map(|j| eventbridge_expression(j.default_cron()).unwrap()).collect();
        assert_eq!(
            converted,
            [
                "cron(0 2 * * ? *)",
                "cron(15 2 * * ? *)",
                "cron(30 2 * * ? *)",
                "cron(45 2 * * ? *)",
                "cron(0/5 * * * ? *)",
                "cron(0/15 * * * ? *)",
            ]
        );
    }

    #[test]
    fn weekdays_days_and_steps() {
        assert_eq!(eventbridge_expression("0 0 6 * * MON-FRI").as_deref(), Ok("cron(0 6 ? * MON-FRI *)"));
        assert_eq!(eventbridge_expression("30 4 1 * *").as_deref(), Ok("cron(30 4 1 * ? *)"));
        assert_eq!(eventbridge_expression("0 0 */6 */2 * *").as_deref(), Ok("cron(0 0/6 1/2 * ? *)"));
    }

    #[test]
    fn what_eventbridge_cannot_express_is_refused_with_the_reason() {
        let rule = |cron: &str| eventbridge_expression(cron).unwrap_err().rule;
        assert!(rule("30 0 2 * * *").contains("seconds"));
        assert!(rule("0 0 2 * * 1-5").contains("name weekdays"));
        assert!(rule("0 0 2 1 * MON").contains("both"));
        assert!(rule("0 0 2 * *  * *").contains("expected"));
        assert!(rule("").contains("expected"));
    }
}
