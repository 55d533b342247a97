//! Conditions and derived values are written as SQL expressions
//! (`status = 'test' OR amount < 0`, `date_trunc('day', ordered_at)`).
//!
//! `sqlparser` parses them; this module compiles the AST into a small tree over column
//! indexes. Written by hand because the expression crates (evalexpr and kin) look
//! variables up by name in a map per evaluation, which costs more than the whole
//! five-rule budget of 2 µs a row; and we want SQL's null semantics.

use chrono::{Datelike, Duration, NaiveDate, Timelike};
use sqlparser::ast::{self, BinaryOperator, CastKind, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::super::schema::Schema;
use super::super::value::{midnight, parse_timestamp, ColumnType, Value};
use super::error::{EvalError, RuleError};

/// What an expression sees besides the row: the load's clock, for `age()` and `now()`.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext {
    pub now: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Column(usize),
    Literal(Value),
    Binary(Box<Expr>, BinOp, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    IsNull(Box<Expr>, Sense),
    InList(Box<Expr>, Vec<Expr>, Sense),
    Between(Box<Expr>, Box<Expr>, Box<Expr>, Sense),
    Like(Box<Expr>, Box<Expr>, Sense, LikeCase),
    Case(Option<Box<Expr>>, Vec<(Expr, Expr)>, Option<Box<Expr>>),
    Cast(Box<Expr>, ColumnType),
    Call(Func, Vec<Expr>),
}

/// A predicate as written, or negated: `IS NOT NULL`, `NOT IN`, `NOT BETWEEN`, `NOT LIKE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sense {
    Holds,
    Negated,
}

impl Sense {
    fn of(negated: bool) -> Sense {
        if negated {
            Sense::Negated
        } else {
            Sense::Holds
        }
    }

    /// The predicate's value in this sense, given whether it holds as written.
    pub fn apply(self, holds: bool) -> bool {
        match self {
            Sense::Holds => holds,
            Sense::Negated => !holds,
        }
    }
}

/// `LIKE` compares as written, `ILIKE` ignoring case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeCase {
    Sensitive,
    Insensitive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Lower,
    Upper,
    Trim,
    Length,
    Coalesce,
    NullIf,
    Round,
    Abs,
    Floor,
    Ceil,
    Concat,
    Substr,
    DateTrunc,
    DatePart,
    Age,
    Now,
}

impl Func {
    fn lookup(name: &str) -> Option<(Func, usize, usize)> {
        Some(match name {
            "lower" => (Func::Lower, 1, 1),
            "upper" => (Func::Upper, 1, 1),
            "trim" | "btrim" => (Func::Trim, 1, 1),
            "length" | "len" | "char_length" => (Func::Length, 1, 1),
            "coalesce" | "nvl" => (Func::Coalesce, 1, usize::MAX),
            "nullif" => (Func::NullIf, 2, 2),
            "round" => (Func::Round, 1, 2),
            "abs" => (Func::Abs, 1, 1),
            "floor" => (Func::Floor, 1, 1),
            "ceil" | "ceiling" => (Func::Ceil, 1, 1),
            "concat" => (Func::Concat, 1, usize::MAX),
            "substr" | "substring" => (Func::Substr, 2, 3),
            "date_trunc" => (Func::DateTrunc, 2, 2),
            "date_part" => (Func::DatePart, 2, 2),
            "age" => (Func::Age, 1, 1),
            "now" | "getdate" | "current_timestamp" => (Func::Now, 0, 0),
            _ => return None,
        })
    }
}

/// Parses and compiles `sql` against the columns of `schema`. The whole text must be
/// one expression: anything after it (`status = 'x'; DROP TABLE t`) is an error.
pub fn compile(sql: &str, schema: &Schema) -> Result<Expr, RuleError> {
    let dialect = GenericDialect {};
    let cannot_parse = |e: ParserError| RuleError::Parse { sql: sql.to_owned(), reason: e.to_string() };
    let mut parser = Parser::new(&dialect).try_with_sql(sql).map_err(cannot_parse)?;
    let ast = parser.parse_expr().map_err(cannot_parse)?;
    let rest = parser.peek_token();
    if rest.token != Token::EOF {
        return Err(RuleError::Trailing { sql: sql.to_owned(), token: rest.token.to_string() });
    }
    Compiler { schema }.expr(&ast)
}

struct Compiler<'a> {
    schema: &'a Schema,
}

impl Compiler<'_> {
    fn expr(&self, e: &ast::Expr) -> Result<Expr, RuleError> {
        use ast::Expr as A;
        let b = |e: &ast::Expr| self.expr(e).map(Box::new);
        Ok(match e {
            A::Identifier(id) => self.column(&id.value)?,
            A::CompoundIdentifier(parts) => {
                self.column(&parts.iter().map(|p| p.value.as_str()).collect::<Vec<_>>().join("."))?
            }
            A::Value(v) => Expr::Literal(literal(&v.value)?),
            A::Nested(inner) => self.expr(inner)?,
            A::BinaryOp { left, op, right } => Expr::Binary(b(left)?, bin_op(op)?, b(right)?),
            A::UnaryOp { op: UnaryOperator::Not, expr } => Expr::Not(b(expr)?),
            A::UnaryOp { op: UnaryOperator::Minus, expr } => Expr::Neg(b(expr)?),
            A::UnaryOp { op: UnaryOperator::Plus, expr } => self.expr(expr)?,
            A::IsNull(x) => Expr::IsNull(b(x)?, Sense::Holds),
            A::IsNotNull(x) => Expr::IsNull(b(x)?, Sense::Negated),
            A::In { expr, target: ast::InTarget::List(list), negated, .. } => {
                let list = list.iter().map(|x| self.expr(x)).collect::<Result<_, _>>()?;
                Expr::InList(b(expr)?, list, Sense::of(*negated))
            }
            A::Between { expr, negated, low, high } => Expr::Between(b(expr)?, b(low)?, b(high)?, Sense::of(*negated)),
            A::Like { negated, expr, pattern, .. } => {
                Expr::Like(b(expr)?, b(pattern)?, Sense::of(*negated), LikeCase::Sensitive)
            }
            A::ILike { negated, expr, pattern, .. } => {
                Expr::Like(b(expr)?, b(pattern)?, Sense::of(*negated), LikeCase::Insensitive)
            }
            A::Case { operand, conditions, else_result, .. } => Expr::Case(
                operand.as_deref().map(|o| self.expr(o).map(Box::new)).transpose()?,
                conditions
                    .iter()
                    .map(|w| Ok((self.expr(&w.condition)?, self.expr(&w.result)?)))
                    .collect::<Result<_, RuleError>>()?,
                else_result.as_deref().map(|o| self.expr(o).map(Box::new)).transpose()?,
            ),
            A::Cast { kind: CastKind::Cast | CastKind::DoubleColon, expr, data_type, .. } => {
                Expr::Cast(b(expr)?, data_type.to_string().parse()?)
            }
            A::Extract { field, expr, .. } => Expr::Call(
                Func::DatePart,
                vec![Expr::Literal(Value::str(field.to_string().to_lowercase())), self.expr(expr)?],
            ),
            A::Function(f) => self.call(f)?,
            A::Trim { expr, trim_where: None, trim_what: None, trim_characters: None } => {
                Expr::Call(Func::Trim, vec![self.expr(expr)?])
            }
            A::Substring { expr, substring_from: Some(from), substring_for, .. } => {
                let mut args = vec![self.expr(expr)?, self.expr(from)?];
                if let Some(len) = substring_for {
                    args.push(self.expr(len)?);
                }
                Expr::Call(Func::Substr, args)
            }
            other => return Err(RuleError::Unsupported { what: "expression", text: other.to_string() }),
        })
    }

    fn column(&self, name: &str) -> Result<Expr, RuleError> {
        super::row::slot(self.schema, name).map(Expr::Column)
    }

    fn call(&self, f: &ast::Function) -> Result<Expr, RuleError> {
        let name = f.name.to_string().to_lowercase();
        let (func, min, max) = Func::lookup(&name).ok_or_else(|| RuleError::UnknownFunction(name.clone()))?;
        let args: Vec<Expr> = match &f.args {
            FunctionArguments::None => Vec::new(),
            FunctionArguments::List(list) => list
                .args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => self.expr(e),
                    other => Err(RuleError::Unsupported { what: "argument", text: format!("{other} to {name}()") }),
                })
                .collect::<Result<_, _>>()?,
            FunctionArguments::Subquery(_) => {
                return Err(RuleError::Unsupported { what: "subquery", text: format!("in {name}()") })
            }
        };
        if args.len() < min || args.len() > max {
            return Err(RuleError::Arity { function: name, expected: arity(min, max), got: args.len() });
        }
        if matches!(func, Func::DateTrunc | Func::DatePart) && !matches!(args[0], Expr::Literal(Value::Str(_))) {
            return Err(RuleError::UnitNotLiteral { function: name });
        }
        Ok(Expr::Call(func, args))
    }
}

fn arity(min: usize, max: usize) -> String {
    match (min, max) {
        (a, b) if a == b => a.to_string(),
        (a, usize::MAX) => format!("at least {a}"),
        (a, b) => format!("{a} to {b}"),
    }
}

fn literal(v: &ast::Value) -> Result<Value, RuleError> {
    Ok(match v {
        ast::Value::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(n.parse().map_err(|_| RuleError::BadNumber(n.clone()))?),
        },
        ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => Value::str(s.as_str()),
        ast::Value::Boolean(b) => Value::Bool(*b),
        ast::Value::Null => Value::Null,
        other => return Err(RuleError::Unsupported { what: "literal", text: other.to_string() }),
    })
}

fn bin_op(op: &BinaryOperator) -> Result<BinOp, RuleError> {
    Ok(match op {
        BinaryOperator::Plus => BinOp::Add,
        BinaryOperator::Minus => BinOp::Sub,
        BinaryOperator::Multiply => BinOp::Mul,
        BinaryOperator::Divide => BinOp::Div,
        BinaryOperator::Modulo => BinOp::Mod,
        BinaryOperator::StringConcat => BinOp::Concat,
        BinaryOperator::Eq => BinOp::Eq,
        BinaryOperator::NotEq => BinOp::NotEq,
        BinaryOperator::Lt => BinOp::Lt,
        BinaryOperator::LtEq => BinOp::LtEq,
        BinaryOperator::Gt => BinOp::Gt,
        BinaryOperator::GtEq => BinOp::GtEq,
        BinaryOperator::And => BinOp::And,
        BinaryOperator::Or => BinOp::Or,
        other => return Err(RuleError::Unsupported { what: "operator", text: other.to_string() }),
    })
}

impl Expr {
    /// Evaluates with SQL semantics: null in, null out; `AND`/`OR` three-valued.
    pub fn eval(&self, row: &[Value], ctx: &EvalContext) -> Result<Value, EvalError> {
        Ok(match self {
            Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Literal(v) => v.clone(),
            Expr::Binary(l, BinOp::And, r) => {
                let a = truth(&l.eval(row, ctx)?);
                if a == Some(false) {
                    return Ok(Value::Bool(false));
                }
                match (a, truth(&r.eval(row, ctx)?)) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                }
            }
            Expr::Binary(l, BinOp::Or, r) => {
                let a = truth(&l.eval(row, ctx)?);
                if a == Some(true) {
                    return Ok(Value::Bool(true));
                }
                match (a, truth(&r.eval(row, ctx)?)) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            Expr::Binary(l, op, r) => binary(&l.eval(row, ctx)?, *op, &r.eval(row, ctx)?)?,
            Expr::Not(x) => truth(&x.eval(row, ctx)?).map_or(Value::Null, |b| Value::Bool(!b)),
            Expr::Neg(x) => match x.eval(row, ctx)? {
                Value::Null => Value::Null,
                Value::Int(i) => Value::Int(-i),
                v => Value::Float(-v.as_f64().ok_or_else(|| EvalError::Negate(v.to_string()))?),
            },
            Expr::IsNull(x, sense) => Value::Bool(sense.apply(x.eval(row, ctx)?.is_null())),
            Expr::InList(x, list, sense) => {
                let v = x.eval(row, ctx)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut found = false;
                for item in list {
                    if compare(&v, &item.eval(row, ctx)?).is_some_and(|o| o.is_eq()) {
                        found = true;
                        break;
                    }
                }
                Value::Bool(sense.apply(found))
            }
            Expr::Between(x, lo, hi, sense) => {
                let v = x.eval(row, ctx)?;
                match (compare(&v, &lo.eval(row, ctx)?), compare(&v, &hi.eval(row, ctx)?)) {
                    (Some(a), Some(b)) => Value::Bool(sense.apply(a.is_ge() && b.is_le())),
                    _ => Value::Null,
                }
            }
            Expr::Like(x, pattern, sense, case) => match (x.eval(row, ctx)?, pattern.eval(row, ctx)?) {
                (Value::Null, _) | (_, Value::Null) => Value::Null,
                (v, p) => {
                    let (v, p) = (v.to_string(), p.to_string());
                    let hit = match case {
                        LikeCase::Insensitive => like(&v.to_lowercase(), &p.to_lowercase()),
                        LikeCase::Sensitive => like(&v, &p),
                    };
                    Value::Bool(sense.apply(hit))
                }
            },
            Expr::Case(operand, branches, otherwise) => {
                let subject = operand.as_ref().map(|o| o.eval(row, ctx)).transpose()?;
                for (when, then) in branches {
                    let w = when.eval(row, ctx)?;
                    let hit = match &subject {
                        Some(s) => compare(s, &w).is_some_and(|o| o.is_eq()),
                        None => truth(&w) == Some(true),
                    };
                    if hit {
                        return then.eval(row, ctx);
                    }
                }
                otherwise.as_ref().map(|o| o.eval(row, ctx)).transpose()?.unwrap_or(Value::Null)
            }
            Expr::Cast(x, ty) => ty.cast(&x.eval(row, ctx)?)?,
            Expr::Call(f, args) => call(*f, args, row, ctx)?,
        })
    }
}

/// SQL truth of a value: null is unknown.
pub fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        other => Some(!other.to_string().is_empty()),
    }
}

/// Compares across the spellings sources mix: a timestamp column against a string
/// literal (`ordered_at >= '2026-11-01'`), a numeric string against a number.
pub fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    use Value::*;
    match (a, b) {
        (Null, _) | (_, Null) => None,
        (Timestamp(_) | Date(_), Str(s)) => ColumnType::Timestamp.cast(&Str(s.clone())).ok().map(|t| a.total_cmp(&t)),
        (Str(s), Timestamp(_) | Date(_)) => ColumnType::Timestamp.cast(&Str(s.clone())).ok().map(|t| t.total_cmp(b)),
        (Int(_) | Float(_), Str(s)) => s.trim().parse::<f64>().ok().map(|x| a.total_cmp(&Float(x))),
        (Str(s), Int(_) | Float(_)) => s.trim().parse::<f64>().ok().map(|x| Float(x).total_cmp(b)),
        (Bool(x), Int(i)) | (Int(i), Bool(x)) => Some(i64::from(*x).cmp(i)),
        _ => Some(a.total_cmp(b)),
    }
}

fn binary(a: &Value, op: BinOp, b: &Value) -> Result<Value, EvalError> {
    use std::cmp::Ordering::*;
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let cmp = |want: &[std::cmp::Ordering]| compare(a, b).map_or(Value::Null, |o| Value::Bool(want.contains(&o)));
    Ok(match op {
        BinOp::Eq => cmp(&[Equal]),
        BinOp::NotEq => cmp(&[Less, Greater]),
        BinOp::Lt => cmp(&[Less]),
        BinOp::LtEq => cmp(&[Less, Equal]),
        BinOp::Gt => cmp(&[Greater]),
        BinOp::GtEq => cmp(&[Greater, Equal]),
        BinOp::Concat => Value::str(format!("{a}{b}")),
        // AND/OR short-circuit in `Expr::eval` and never get here.
        BinOp::And | BinOp::Or => Value::Null,
        _ => arithmetic(a, op, b)?,
    })
}

fn arithmetic(a: &Value, op: BinOp, b: &Value) -> Result<Value, EvalError> {
    if let (Value::Timestamp(t), Some(days)) = (a, b.as_f64()) {
        // timestamp ± days, as `ordered_at + 1`
        let d = Duration::milliseconds((days * 86_400_000.0) as i64);
        return match op {
            BinOp::Add => Ok(Value::Timestamp(*t + d)),
            BinOp::Sub => Ok(Value::Timestamp(*t - d)),
            _ => Err(EvalError::TimestampOperator(op)),
        };
    }
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        let r = match op {
            BinOp::Add => x.checked_add(*y),
            BinOp::Sub => x.checked_sub(*y),
            BinOp::Mul => x.checked_mul(*y),
            BinOp::Mod if *y != 0 => Some(x % y),
            BinOp::Div | BinOp::Mod => None,
            _ => None,
        };
        if let Some(r) = r {
            return Ok(Value::Int(r));
        }
    }
    let x = num(a)?;
    let y = num(b)?;
    Ok(match op {
        BinOp::Add => Value::Float(x + y),
        BinOp::Sub => Value::Float(x - y),
        BinOp::Mul => Value::Float(x * y),
        BinOp::Div | BinOp::Mod if y == 0.0 => return Err(EvalError::DivisionByZero),
        BinOp::Div => Value::Float(x / y),
        BinOp::Mod => Value::Float(x % y),
        _ => return Err(EvalError::Operator(op)),
    })
}

/// SQL LIKE: `%` any run, `_` one character.
fn like(s: &str, p: &str) -> bool {
    let (s, p): (Vec<char>, Vec<char>) = (s.chars().collect(), p.chars().collect());
    let (mut si, mut pi, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

fn call(f: Func, args: &[Expr], row: &[Value], ctx: &EvalContext) -> Result<Value, EvalError> {
    let arg = |i: usize| args[i].eval(row, ctx);
    if f == Func::Coalesce {
        for a in args {
            let v = a.eval(row, ctx)?;
            if !v.is_null() {
                return Ok(v);
            }
        }
        return Ok(Value::Null);
    }
    if f == Func::Now {
        return Ok(Value::Timestamp(ctx.now));
    }
    if f == Func::Concat {
        let mut out = String::new();
        for a in args {
            out.push_str(&a.eval(row, ctx)?.to_string());
        }
        return Ok(Value::str(out));
    }
    let v = arg(0)?;
    if f == Func::NullIf {
        let w = arg(1)?;
        return Ok(if compare(&v, &w).is_some_and(|o| o.is_eq()) { Value::Null } else { v });
    }
    if matches!(f, Func::DateTrunc | Func::DatePart) {
        let unit = v.to_string().to_lowercase();
        let t = arg(1)?;
        let t = match ColumnType::Timestamp.cast(&t)? {
            Value::Timestamp(t) => t,
            _ => return Ok(Value::Null),
        };
        return if f == Func::DateTrunc { date_trunc(&unit, t) } else { date_part(&unit, t) };
    }
    if v.is_null() {
        return Ok(Value::Null);
    }
    Ok(match f {
        Func::Lower => Value::str(v.to_string().to_lowercase()),
        Func::Upper => Value::str(v.to_string().to_uppercase()),
        Func::Trim => Value::str(v.to_string().trim()),
        Func::Length => Value::Int(v.to_string().chars().count() as i64),
        Func::Abs => match v {
            Value::Int(i) => Value::Int(i.abs()),
            v => Value::Float(num(&v)?.abs()),
        },
        Func::Floor => Value::Float(num(&v)?.floor()),
        Func::Ceil => Value::Float(num(&v)?.ceil()),
        Func::Round => {
            let digits = if args.len() > 1 { num(&arg(1)?)? as i32 } else { 0 };
            let factor = 10f64.powi(digits);
            Value::Float((num(&v)? * factor).round() / factor)
        }
        Func::Substr => {
            let s = v.to_string();
            let start = (num(&arg(1)?)? as i64 - 1).max(0) as usize;
            let len = if args.len() > 2 { num(&arg(2)?)? as usize } else { usize::MAX };
            Value::str(s.chars().skip(start).take(len).collect::<String>())
        }
        Func::Age => {
            let born = match ColumnType::Date.cast(&v)? {
                Value::Date(d) => d,
                _ => return Ok(Value::Null),
            };
            Value::Int(years_between(born, ctx.now.date_naive()))
        }
        _ => Value::Null,
    })
}

fn num(v: &Value) -> Result<f64, EvalError> {
    v.as_f64().ok_or_else(|| EvalError::NotNumber(format!("{v:?}")))
}

/// Whole years from `born` to `today`, as a person counts their age.
fn years_between(born: NaiveDate, today: NaiveDate) -> i64 {
    let mut years = i64::from(today.year() - born.year());
    if (today.month(), today.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    years
}

fn date_trunc(unit: &str, t: chrono::DateTime<chrono::Utc>) -> Result<Value, EvalError> {
    let d = t.date_naive();
    let day = |d: NaiveDate| Value::Timestamp(midnight(d));
    Ok(match unit {
        "second" => Value::Timestamp(t.with_nanosecond(0).unwrap_or(t)),
        "minute" => Value::Timestamp(
            t - Duration::nanoseconds(i64::from(t.second()) * 1_000_000_000 + i64::from(t.nanosecond())),
        ),
        "hour" => Value::Timestamp(midnight(d) + Duration::hours(i64::from(t.hour()))),
        "day" => day(d),
        "week" => day(d - Duration::days(i64::from(d.weekday().num_days_from_monday()))),
        "month" => day(d.with_day(1).unwrap_or(d)),
        "quarter" => day(NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1).unwrap_or(d)),
        "year" => day(NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d)),
        other => return Err(EvalError::Unit { what: "date_trunc unit", unit: other.to_owned() }),
    })
}

fn date_part(unit: &str, t: chrono::DateTime<chrono::Utc>) -> Result<Value, EvalError> {
    Ok(Value::Int(match unit {
        "year" => i64::from(t.year()),
        "quarter" => i64::from((t.month() - 1) / 3 + 1),
        "month" => i64::from(t.month()),
        "week" => i64::from(t.iso_week().week()),
        "day" => i64::from(t.day()),
        "dow" | "dayofweek" => i64::from(t.weekday().num_days_from_sunday()),
        "doy" | "dayofyear" => i64::from(t.ordinal()),
        "hour" => i64::from(t.hour()),
        "minute" => i64::from(t.minute()),
        "second" => i64::from(t.second()),
        "epoch" => t.timestamp(),
        other => return Err(EvalError::Unit { what: "date part", unit: other.to_owned() }),
    }))
}

/// A string that parses as a timestamp in `zone`, for the timezone rule.
pub fn localize(v: &Value, zone: &chrono_tz::Tz) -> Result<Value, EvalError> {
    let unreadable = |value: String| EvalError::Zone { value, zone: zone.to_string() };
    match v {
        Value::Str(s) => parse_timestamp(s, zone).map(Value::Timestamp).ok_or_else(|| unreadable(format!("{s:?}"))),
        Value::Null | Value::Timestamp(_) => Ok(v.clone()),
        other => Err(unreadable(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn schema() -> Schema {
        Schema::new(["status", "amount", "qty", "ordered_at", "born"])
    }

    fn eval(sql: &str, row: &[Value]) -> Value {
        let ctx = EvalContext { now: chrono::Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() };
        compile(sql, &schema()).unwrap().eval(row, &ctx).unwrap()
    }

    fn row() -> Vec<Value> {
        vec![
            Value::str("test"),
            Value::Float(19.5),
            Value::Int(3),
            Value::Timestamp(chrono::Utc.with_ymd_and_hms(2026, 11, 24, 13, 45, 10).unwrap()),
            Value::str("1990-11-26"),
        ]
    }

    #[test]
    fn conditions_have_sql_semantics() {
        assert_eq!(eval("status = 'test' OR amount < 0", &row()), Value::Bool(true));
        assert_eq!(eval("amount * qty", &row()), Value::Float(58.5));
        assert_eq!(eval("qty + 1", &row()), Value::Int(4));
        assert_eq!(eval("status IN ('a', 'b')", &row()), Value::Bool(false));
        assert_eq!(eval("status LIKE 't_s%'", &row()), Value::Bool(true));
        assert_eq!(eval("ordered_at >= '2026-11-24'", &row()), Value::Bool(true));
        assert_eq!(eval("NULL = 1", &row()), Value::Null);
        assert_eq!(eval("NULL OR true", &row()), Value::Bool(true));
        assert_eq!(eval("NULL AND false", &row()), Value::Bool(false));
        assert_eq!(eval("CASE WHEN qty > 2 THEN 'bulk' ELSE 'single' END", &row()), Value::str("bulk"));
        assert_eq!(eval("coalesce(NULL, status)", &row()), Value::str("test"));
        assert_eq!(eval("CAST(qty AS varchar) || 'x'", &row()), Value::str("3x"));
        assert_eq!(eval("upper(trim('  a b '))", &row()), Value::str("A B"));
        assert_eq!(eval("substring(status FROM 2 FOR 2)", &row()), Value::str("es"));
    }

    #[test]
    fn dates_truncate_and_ages_count_whole_years() {
        let day = eval("date_trunc('day', ordered_at)", &row());
        assert_eq!(day, Value::Timestamp(chrono::Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()));
        assert_eq!(eval("extract(hour from ordered_at)", &row()), Value::Int(13));
        assert_eq!(eval("date_part('dow', ordered_at)", &row()), Value::Int(2));
        // Born 1990-11-26, loaded 2026-11-25: still 35, the birthday is tomorrow.
        assert_eq!(eval("age(born)", &row()), Value::Int(35));
    }

    #[test]
    fn errors_name_the_problem() {
        let err = compile("statuss = 1", &schema()).unwrap_err();
        assert!(matches!(&err, RuleError::UnknownColumn { name, .. } if name == "statuss"), "{err}");
        assert!(err.to_string().contains("unknown column \"statuss\" (columns here: status, amount"), "{err}");
        let unknown = compile("frobnicate(qty)", &schema()).unwrap_err();
        assert_eq!(unknown, RuleError::UnknownFunction("frobnicate".into()));
        let unit = compile("date_trunc(status, ordered_at)", &schema()).unwrap_err();
        assert_eq!(unit, RuleError::UnitNotLiteral { function: "date_trunc".into() });
        let trailing = compile("status = 'x'; DROP TABLE orders", &schema()).unwrap_err();
        assert!(matches!(&trailing, RuleError::Trailing { token, .. } if token == ";"), "{trailing}");
        assert!(trailing.to_string().contains("unexpected ; after the expression"), "{trailing}");
        assert!(compile("status = 'x' OR 1 = 1 --", &schema()).is_ok(), "a comment is not a token");
        assert!(compile("status = 'x') OR (1 = 1", &schema()).is_err());
        assert!(matches!(compile("amount >", &schema()), Err(RuleError::Parse { .. })));
    }
}
