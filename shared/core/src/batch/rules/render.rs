//! A compiled expression written back as SQL, for the warehouse to run (a report's
//! `batch.filter` in its queries and BI view).
//!
//! The SQL is rendered from the parsed tree, never pasted from the pipeline file: only
//! the node kinds below exist, column names are quoted identifiers, and every operator
//! and function is written out in a spelling DuckDB, Redshift and PostgreSQL share.
//! A view definition cannot take bound parameters, so literals are written inline;
//! a string literal with a backslash or a control character is refused, because
//! Redshift reads `\` as an escape where DuckDB and PostgreSQL do not.

use super::super::schema::Schema;
use super::super::sql::{ident, timestamp};
use super::super::value::Value;
use super::error::RuleError;
use super::expr::{BinOp, Expr, Func, LikeCase, Sense};

/// `expr` as SQL over the columns of `schema`.
pub fn to_sql(expr: &Expr, schema: &Schema) -> Result<String, RuleError> {
    let names: Vec<Option<&str>> = (0..schema.width()).map(|slot| schema.name_of(slot)).collect();
    Renderer { names: &names }.expr(expr)
}

struct Renderer<'a> {
    names: &'a [Option<&'a str>],
}

impl Renderer<'_> {
    fn expr(&self, e: &Expr) -> Result<String, RuleError> {
        Ok(match e {
            Expr::Column(slot) => ident(self.names.get(*slot).copied().flatten().ok_or(RuleError::NoSlot(*slot))?),
            Expr::Literal(v) => literal(v)?,
            Expr::Binary(l, op, r) => format!("({} {} {})", self.expr(l)?, operator(*op), self.expr(r)?),
            Expr::Not(x) => format!("(NOT {})", self.expr(x)?),
            Expr::Neg(x) => format!("(- {})", self.expr(x)?),
            Expr::IsNull(x, sense) => format!("({} IS {}NULL)", self.expr(x)?, not(*sense)),
            Expr::InList(x, list, sense) => {
                format!("({} {}IN ({}))", self.expr(x)?, not(*sense), self.list(list)?)
            }
            Expr::Between(x, lo, hi, sense) => {
                format!("({} {}BETWEEN {} AND {})", self.expr(x)?, not(*sense), self.expr(lo)?, self.expr(hi)?)
            }
            Expr::Like(x, pattern, sense, case) => {
                let like = match case {
                    LikeCase::Insensitive => "ILIKE",
                    LikeCase::Sensitive => "LIKE",
                };
                format!("({} {}{like} {})", self.expr(x)?, not(*sense), self.expr(pattern)?)
            }
            Expr::Case(operand, branches, otherwise) => {
                let mut out = String::from("(CASE");
                if let Some(operand) = operand {
                    out.push_str(&format!(" {}", self.expr(operand)?));
                }
                for (when, then) in branches {
                    out.push_str(&format!(" WHEN {} THEN {}", self.expr(when)?, self.expr(then)?));
                }
                if let Some(otherwise) = otherwise {
                    out.push_str(&format!(" ELSE {}", self.expr(otherwise)?));
                }
                out.push_str(" END)");
                out
            }
            Expr::Cast(x, ty) => format!("CAST({} AS {})", self.expr(x)?, ty.sql()),
            Expr::Call(func, args) => self.call(*func, args)?,
        })
    }

    fn list(&self, items: &[Expr]) -> Result<String, RuleError> {
        Ok(items.iter().map(|item| self.expr(item)).collect::<Result<Vec<_>, _>>()?.join(", "))
    }

    fn call(&self, func: Func, args: &[Expr]) -> Result<String, RuleError> {
        let name = match func {
            Func::Lower => "LOWER",
            Func::Upper => "UPPER",
            Func::Trim => "TRIM",
            Func::Length => "LENGTH",
            Func::Coalesce => "COALESCE",
            Func::NullIf => "NULLIF",
            Func::Round => "ROUND",
            Func::Abs => "ABS",
            Func::Floor => "FLOOR",
            Func::Ceil => "CEIL",
            Func::Substr => "SUBSTRING",
            Func::DateTrunc => "DATE_TRUNC",
            Func::DatePart => "DATE_PART",
            // Redshift's CONCAT takes exactly two arguments; `||` takes any number.
            Func::Concat => {
                let parts: Vec<String> = args.iter().map(|a| self.expr(a)).collect::<Result<_, _>>()?;
                return Ok(format!("({})", parts.join(" || ")));
            }
            Func::Age | Func::Now => {
                return Err(RuleError::Requires(
                    "age() and now() depend on when a query runs; a warehouse filter cannot use them",
                ))
            }
        };
        Ok(format!("{name}({})", self.list(args)?))
    }
}

fn not(sense: Sense) -> &'static str {
    match sense {
        Sense::Negated => "NOT ",
        Sense::Holds => "",
    }
}

fn operator(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
        BinOp::Concat => "||",
        BinOp::Eq => "=",
        BinOp::NotEq => "<>",
        BinOp::Lt => "<",
        BinOp::LtEq => "<=",
        BinOp::Gt => ">",
        BinOp::GtEq => ">=",
        BinOp::And => "AND",
        BinOp::Or => "OR",
    }
}

fn literal(v: &Value) -> Result<String, RuleError> {
    Ok(match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_finite() => format!("{f:?}"),
        Value::Float(_) => return Err(RuleError::NotFinite),
        Value::Str(s) => {
            if s.chars().any(|c| c == '\\' || c.is_control()) {
                return Err(RuleError::UnsafeString(s.to_string()));
            }
            format!("'{}'", s.replace('\'', "''"))
        }
        Value::Date(d) => format!("CAST('{}' AS DATE)", d.format("%Y-%m-%d")),
        Value::Timestamp(t) => timestamp(*t),
    })
}

#[cfg(test)]
mod tests {
    use super::super::expr::compile;
    use super::*;

    fn render(sql: &str) -> Result<String, RuleError> {
        let schema = Schema::new(["status", "amount", "ordered_at", "region"]);
        to_sql(&compile(sql, &schema)?, &schema)
    }

    #[test]
    fn renders_from_the_tree_not_the_text() {
        assert_eq!(render("status <> 'cancelled'").unwrap(), r#"("status" <> 'cancelled')"#);
        assert_eq!(
            render("status IN ('a', 'b''c') AND NOT amount BETWEEN 1 AND 2.5").unwrap(),
            r#"(("status" IN ('a', 'b''c')) AND (NOT ("amount" BETWEEN 1 AND 2.5)))"#
        );
        assert_eq!(
            render("date_trunc('day', ordered_at) IS NOT NULL OR region ILIKE 'e%'").unwrap(),
            r#"((DATE_TRUNC('day', "ordered_at") IS NOT NULL) OR ("region" ILIKE 'e%'))"#
        );
        assert_eq!(render("concat(status, '-', region) = 'x'").unwrap(), r#"(("status" || '-' || "region") = 'x')"#);
    }

    #[test]
    fn refuses_what_engines_read_differently_or_at_run_time() {
        assert_eq!(render(r"status = 'EU\'"), Err(RuleError::UnsafeString(r"EU\".into())));
        assert!(render("ordered_at > now()").unwrap_err().to_string().contains("now()"));
    }
}
