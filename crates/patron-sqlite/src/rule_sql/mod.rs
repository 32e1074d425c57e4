//! SQLite's dialect of the auto-group rule language: compiles a rule to an
//! expression over one `customers` row. The domain says what a rule means
//! (`patron_domain::rules`, its evaluator); each backend says how its SQL
//! computes the same thing, and `tests/rule_sql_agreement.rs` checks that
//! the two agree.
//!
//! Every sub-expression yields 0, 1 or NULL exactly where `eval.rs` yields
//! false, true or unknown, and the connectives are SQLite's own `AND`/`OR`/`NOT`,
//! which are Kleene. Values from the rule and today's date are bound as `?`
//! parameters, never spliced into the text.

use time::Date;

use patron_domain::rules::{CmpOp, Expr, Field, Literal, Rule, iso_date};

/// One bound value, in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlParam {
    Int(i64),
    Text(String),
}

/// A boolean SQL expression and its parameters. Use it as `WHERE (<sql>)`;
/// `(<sql>) IS 1` gives the same answer as a 0/1 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlCondition {
    pub sql: String,
    pub params: Vec<SqlParam>,
    /// Whether today's date is among the parameters, i.e. the answer for an
    /// unchanged row can change from one day to the next.
    pub needs_today: bool,
}

/// `created_at` is unix microseconds. SQLite's `/` truncates toward zero, so the
/// remainder is subtracted first to round down, matching the Rust side for
/// instants before 1970 too; dividing by 1e6 as a float instead would let
/// `date()` round 23:59:59.9996 up to the next day.
const CREATED_DATE: &str = "date((customers.created_at - (customers.created_at % 1000000 + 1000000) % 1000000) / 1000000, 'unixepoch')";

/// A SQLite boolean expression over a row of `customers` (referenced by that
/// name, not an alias) that is 1 exactly when [`Rule::evaluate`] is true, 0
/// when the rule is false and NULL when unknown.
pub fn compile(rule: &Rule, today: Date) -> SqlCondition {
    compile_expr(rule.expr(), today)
}

fn compile_expr(expr: &Expr, today: Date) -> SqlCondition {
    let mut c = Compiler {
        sql: String::new(),
        params: Vec::new(),
        today,
        needs_today: false,
    };
    c.expr(expr);
    SqlCondition {
        sql: c.sql,
        params: c.params,
        needs_today: c.needs_today,
    }
}

struct Compiler {
    sql: String,
    params: Vec<SqlParam>,
    today: Date,
    needs_today: bool,
}

impl Compiler {
    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    fn bind(&mut self, p: SqlParam) {
        self.sql.push('?');
        self.params.push(p);
    }

    fn bind_today(&mut self) {
        self.needs_today = true;
        self.bind(SqlParam::Text(iso_date(self.today)));
    }

    fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::Or(items) => self.chain(items, " OR ", "0"),
            Expr::And(items) => self.chain(items, " AND ", "1"),
            Expr::Not(inner) => {
                self.push("(NOT ");
                self.expr(inner);
                self.push(")");
            }
            Expr::Flag { field, value } => {
                if *value {
                    self.flag(*field);
                } else {
                    self.push("(NOT ");
                    self.flag(*field);
                    self.push(")");
                }
            }
            Expr::Compare { field, op, value } => {
                self.push("(");
                self.operand(*field);
                self.push(match op {
                    CmpOp::Eq => " = ",
                    CmpOp::Ne => " <> ",
                    CmpOp::Lt => " < ",
                    CmpOp::Le => " <= ",
                    CmpOp::Gt => " > ",
                    CmpOp::Ge => " >= ",
                });
                self.literal(*field, value);
                self.push(")");
            }
            Expr::In {
                field,
                negated,
                values,
            } => {
                self.push("(");
                self.operand(*field);
                self.push(if *negated { " NOT IN (" } else { " IN (" });
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.literal(*field, v);
                }
                self.push("))");
            }
        }
    }

    /// `empty` is the identity of the connective; the parser never builds an
    /// empty chain, but `()` would not be valid SQL.
    fn chain(&mut self, items: &[Expr], connective: &str, empty: &str) {
        if items.is_empty() {
            self.push(empty);
            return;
        }
        self.push("(");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(connective);
            }
            self.expr(item);
        }
        self.push(")");
    }

    /// Boolean fields, always 0 or 1.
    fn flag(&mut self, field: Field) {
        match field {
            Field::HasEmail => self.push("(customers.email IS NOT NULL)"),
            Field::MarketingConsent => self.push("(customers.marketing_consent <> 0)"),
            Field::HasMedicalCard => {
                // Never NULL: when the expiry is NULL the `IS NULL` arm is 1.
                self.push(
                    "(customers.medical_card_number IS NOT NULL AND (customers.medical_expiry IS NULL OR customers.medical_expiry >= ",
                );
                self.bind_today();
                self.push("))");
            }
            _ => self.operand(field),
        }
    }

    /// The value a comparison's left side stands for, NULL when unknown.
    fn operand(&mut self, field: Field) {
        match field {
            Field::TotalSpent => self.push("customers.total_spent"),
            Field::PointsBalance => self.push("customers.points_balance"),
            Field::Visits => self.push("customers.visits"),
            Field::LastVisitDays => {
                // Both julianday()s are midnights (x.5), so the difference is
                // an exact whole number of days, negative for a future visit.
                self.push("CAST(julianday(");
                self.bind_today();
                self.push(") - julianday(customers.last_visit) AS INTEGER)");
            }
            Field::CreatedDays => {
                self.push("CAST(julianday(");
                self.bind_today();
                self.push(") - julianday(");
                self.push(CREATED_DATE);
                self.push(") AS INTEGER)");
            }
            Field::Age => {
                // Year difference, minus one before the birthday; comparing
                // 'MM-DD' text is what makes 29 February complete on 1 March.
                self.needs_today = true;
                self.push("(");
                self.bind(SqlParam::Int(i64::from(self.today.year())));
                self.push(" - CAST(strftime('%Y', customers.date_of_birth) AS INTEGER) - (");
                let month_day = format!(
                    "{:02}-{:02}",
                    u8::from(self.today.month()),
                    self.today.day()
                );
                self.bind(SqlParam::Text(month_day));
                self.push(" < strftime('%m-%d', customers.date_of_birth)))");
            }
            Field::BirthMonth => {
                self.push("CAST(strftime('%m', customers.date_of_birth) AS INTEGER)");
            }
            Field::Created => self.push(CREATED_DATE),
            Field::OriginStore => self.push("customers.origin_store"),
            Field::City => self.push("lower(customers.address_city)"),
            // A scalar subquery is NULL when no row matches, which covers both
            // a NULL type_id and a dangling one.
            Field::Type => self.push(
                "(SELECT lower(t.name) FROM customer_types AS t WHERE t.id = customers.type_id)",
            ),
            Field::HasEmail | Field::HasMedicalCard | Field::MarketingConsent => self.flag(field),
        }
    }

    fn literal(&mut self, field: Field, value: &Literal) {
        let param = match value {
            Literal::Money(n) | Literal::Integer(n) => SqlParam::Int(*n),
            Literal::Date(d) => SqlParam::Text(iso_date(*d)),
            // Lowered here rather than with lower(?) in SQL: same ASCII-only
            // folding, one call fewer per row.
            Literal::Text(s) if field.ignores_case() => SqlParam::Text(s.to_ascii_lowercase()),
            Literal::Text(s) => SqlParam::Text(s.clone()),
        };
        self.bind(param);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn sql(src: &str) -> SqlCondition {
        compile(&Rule::parse(src).unwrap(), date!(2024 - 03 - 01))
    }

    fn text(s: &str) -> SqlParam {
        SqlParam::Text(s.to_owned())
    }

    #[test]
    fn comparisons_bind_values() {
        let c = sql("total_spent >= 499.99 and visits in [1, 2]");
        assert_eq!(
            c.sql,
            "((customers.total_spent >= ?) AND (customers.visits IN (?, ?)))"
        );
        assert_eq!(
            c.params,
            vec![SqlParam::Int(49_999), SqlParam::Int(1), SqlParam::Int(2)]
        );
        assert!(!c.needs_today);
    }

    #[test]
    fn text_fields() {
        let c = sql(r#"city = "Denver" or origin_store != "S01" or type not in ["Vet"]"#);
        assert_eq!(
            c.sql,
            "((lower(customers.address_city) = ?) OR (customers.origin_store <> ?) OR \
             ((SELECT lower(t.name) FROM customer_types AS t WHERE t.id = customers.type_id) NOT IN (?)))"
        );
        assert_eq!(c.params, vec![text("denver"), text("S01"), text("vet")]);
    }

    #[test]
    fn flags() {
        let c = sql("has_email and not marketing_consent and has_email = false");
        assert_eq!(
            c.sql,
            "((customers.email IS NOT NULL) AND (NOT (customers.marketing_consent <> 0)) AND \
             (NOT (customers.email IS NOT NULL)))"
        );
        let c = sql("has_medical_card");
        assert!(c.needs_today);
        assert_eq!(c.params, vec![text("2024-03-01")]);
    }

    #[test]
    fn today_is_bound_for_time_fields() {
        let c = sql("age >= 21");
        assert!(c.needs_today);
        assert_eq!(
            c.params,
            vec![SqlParam::Int(2024), text("03-01"), SqlParam::Int(21)]
        );
        for src in ["last_visit_days > 90", "created_days < 30"] {
            let c = sql(src);
            assert!(c.needs_today, "{src}");
            assert_eq!(c.params.first(), Some(&text("2024-03-01")), "{src}");
        }
        let c = sql("birth_month = 3 and created >= 2024-01-01");
        assert!(!c.needs_today);
        assert_eq!(c.params, vec![SqlParam::Int(3), text("2024-01-01")]);
    }

    #[test]
    fn placeholders_match_params() {
        let c = sql(
            r#"(age > 1 or city in ["a", "b"]) and not (created_days = 2 or has_medical_card) and type = "x""#,
        );
        assert_eq!(c.sql.matches('?').count(), c.params.len());
    }
}
