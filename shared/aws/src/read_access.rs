//! Who may read the warehouse: the jobs' database user creates and owns every table, and
//! the schema setup grants a read-only database role `SELECT` on them (now and on every
//! table the jobs create later). The report function's user is given that role (on
//! Redshift Serverless by the `RedshiftDbRoles` tag of its IAM role, when the Data API
//! signs it in), so it reads and cannot write, and runs no DDL of its own.

use tidemark_core::batch::sql::ident;
use tidemark_core::ports::Query;

use crate::warehouse::Dialect;

/// The read-only role and the schema it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAccess {
    pub role: String,
    pub schema: String,
}

impl ReadAccess {
    /// Whether the role exists (the name bound, never spliced into the SQL).
    pub fn role_exists(&self, dialect: Dialect) -> Query {
        let sql = match dialect {
            Dialect::Redshift => "SELECT COUNT(*) FROM svv_roles WHERE role_name = $1",
            Dialect::Postgres => "SELECT COUNT(*) FROM pg_roles WHERE rolname = $1",
        };
        Query::with_params(sql, vec![self.role.clone()])
    }

    /// A role without login: only a user given it reads through it.
    pub fn create_role(&self) -> String {
        format!("CREATE ROLE {}", ident(&self.role))
    }

    /// Usage of the schema and `SELECT` on its tables, now and as the jobs create more.
    pub fn grants(&self, dialect: Dialect) -> Vec<String> {
        let grantee = match dialect {
            Dialect::Redshift => format!("ROLE {}", ident(&self.role)),
            Dialect::Postgres => ident(&self.role),
        };
        let schema = ident(&self.schema);
        vec![
            format!("GRANT USAGE ON SCHEMA {schema} TO {grantee}"),
            format!("GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {grantee}"),
            format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {grantee}"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redshift_grants_to_a_role_postgres_to_a_name() {
        let access = ReadAccess { role: "tidemark_reader".into(), schema: "public".into() };
        let redshift = access.grants(Dialect::Redshift);
        assert_eq!(redshift[1], r#"GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO ROLE "tidemark_reader""#);
        let postgres = access.grants(Dialect::Postgres);
        assert_eq!(
            postgres[2],
            r#"ALTER DEFAULT PRIVILEGES IN SCHEMA "public" GRANT SELECT ON TABLES TO "tidemark_reader""#
        );
        assert_eq!(access.role_exists(Dialect::Redshift).params, ["tidemark_reader"]);
    }

    #[test]
    fn a_hostile_role_name_stays_one_identifier() {
        let access = ReadAccess { role: "r\"; DROP TABLE orders; --".into(), schema: "public".into() };
        assert_eq!(access.create_role(), r#"CREATE ROLE "r""; DROP TABLE orders; --""#);
    }
}
