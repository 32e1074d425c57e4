//! SQLite's dialect of the auto-group rule language: compiles a rule to a
//! condition over one `customers` row. The domain says what a rule means
//! (`patron_domain::rules`, its evaluator); each backend says how its SQL
//! computes the same thing, and `tests/rule_sql_agreement.rs` checks that
//! the two agree.
//!
//! Every sub-expression yields 0, 1 or NULL exactly where `eval.rs` yields
//! false, true or unknown, and the connectives are SQLite's own `AND`/`OR`/`NOT`,
//! which are Kleene. Values from the rule and today's date are bound as `?`
//! parameters, never spliced into the text.
//!
//! What a rule costs per customer is what made long rules slow, so the
//! compiler keeps it down: the rule is first rewritten into an equivalent,
//! cheaper one (`normalize`: repeated equalities become one `IN` list), and an
//! operand that is computed rather than read (an age, a day count, a lowered
//! city, the type's name) and used more than once is computed once per
//! customer in a subquery instead of at every use. SQLite shares no common
//! subexpressions, and the type's name is a correlated subquery: each use
//! opened a cursor, and a few hundred uses made each row cost quadratic time
//! (26 s for one preview over 10,000 customers; figures in `BENCHMARKS.md`).

mod normalize;

use std::collections::{BTreeSet, HashMap};

use rusqlite::types::Value;
use time::Date;

use patron_domain::rules::{CmpOp, Expr, Field, Literal, Rule, iso_date};

/// A compiled rule: build a query with [`CompiledRule::select_matching`].
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRule {
    /// A boolean over a row of `customers`: the table itself, or the subquery
    /// standing for it when operands are hoisted.
    cond: String,
    cond_params: Vec<Value>,
    /// Operands computed once per row, as columns of the subquery.
    hoisted: Vec<Hoisted>,
    /// The `customers` columns the condition reads itself.
    columns: BTreeSet<&'static str>,
    /// Whether today's date is among the parameters, i.e. the answer for an
    /// unchanged row can change from one day to the next.
    pub needs_today: bool,
}

/// A query and its parameters, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub sql: String,
    pub params: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
struct Hoisted {
    alias: String,
    sql: String,
    params: Vec<Value>,
}

impl CompiledRule {
    /// The condition alone, for tests and query plans.
    pub fn condition(&self) -> &str {
        &self.cond
    }

    /// Whether some operand is computed once per row in a subquery.
    pub fn hoists(&self) -> bool {
        !self.hoisted.is_empty()
    }

    /// A `SELECT` of the `keep` columns of `customers` for the customers the
    /// rule is true for, among those `filter` admits: a condition on
    /// `customers` columns (`"1"` for all) with `?` placeholders for
    /// `filter_params`.
    pub fn select_matching(&self, keep: &[&str], filter: &str, filter_params: Vec<Value>) -> Query {
        let (source, outer) = self.source(keep, filter);
        // Placeholders in text order: the hoisted operands' (in the
        // subquery's select list), the filter's, the condition's.
        let params = self
            .hoisted_params()
            .chain(filter_params)
            .chain(self.cond_params.iter().cloned())
            .collect();
        Query {
            sql: format!(
                "SELECT {} FROM {source} WHERE {outer}({}) IS 1",
                qualified(keep),
                self.cond
            ),
            params,
        }
    }

    /// `SELECT <keep>, (<rule>)` over every customer: the rule's value, 1, 0
    /// or NULL, as the last column.
    pub fn select_truth(&self, keep: &[&str]) -> Query {
        let (source, _) = self.source(keep, "1");
        // Here the condition comes before the subquery.
        let params = self
            .cond_params
            .iter()
            .cloned()
            .chain(self.hoisted_params())
            .collect();
        Query {
            sql: format!("SELECT {}, ({}) FROM {source}", qualified(keep), self.cond),
            params,
        }
    }

    fn hoisted_params(&self) -> impl Iterator<Item = Value> + '_ {
        self.hoisted.iter().flat_map(|h| h.params.iter().cloned())
    }

    /// What the query reads `customers` from, and the filter left for its
    /// own `WHERE`.
    fn source(&self, keep: &[&str], filter: &str) -> (String, String) {
        if self.hoisted.is_empty() {
            return ("customers".to_owned(), format!("({filter}) AND "));
        }
        let columns: BTreeSet<&str> = keep.iter().copied().chain(self.columns.clone()).collect();
        let mut items: Vec<String> = columns
            .iter()
            .map(|c| format!("customers.{c} AS {c}"))
            .collect();
        items.extend(
            self.hoisted
                .iter()
                .map(|h| format!("{} AS {}", h.sql, h.alias)),
        );
        // `LIMIT -1` (no limit) keeps SQLite from flattening the subquery
        // into the query, which would copy each operand back into every use.
        // Unflattened and first in its FROM, it runs as a co-routine handing
        // over one row at a time, so nothing is materialized. Its alias is
        // `customers`, so the condition's own column references still hold.
        let source = format!(
            "(SELECT {} FROM customers WHERE {filter} LIMIT -1) AS customers",
            items.join(", ")
        );
        (source, String::new())
    }
}

fn qualified(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("customers.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `created_at` is unix microseconds. SQLite's `/` truncates toward zero, so the
/// remainder is subtracted first to round down, matching the Rust side for
/// instants before 1970 too; dividing by 1e6 as a float instead would let
/// `date()` round 23:59:59.9996 up to the next day.
const CREATED_DATE: &str = "date((customers.created_at - (customers.created_at % 1000000 + 1000000) % 1000000) / 1000000, 'unixepoch')";

/// Compiles `rule` as of `today` (ages and day counts are relative to it).
pub fn compile(rule: &Rule, today: Date) -> CompiledRule {
    let expr = normalize::normalize(rule.expr());
    let mut uses: HashMap<Field, usize> = HashMap::new();
    count_uses(&expr, &mut uses);
    let used = |f: &Field| uses.get(f).copied().unwrap_or(0);
    let hoist: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| is_computed(*f) && used(f) > 1)
        .collect();
    let mut needs_today = false;
    let hoisted = hoist
        .iter()
        .map(|&field| {
            let mut c = Compiler::new(today, &[]);
            c.operand(field);
            needs_today |= c.needs_today;
            Hoisted {
                alias: hoisted_alias(field),
                sql: c.sql,
                params: c.params,
            }
        })
        .collect();
    let mut c = Compiler::new(today, &hoist);
    c.expr(&expr);
    let columns = Field::ALL
        .into_iter()
        .filter(|f| used(f) > 0 && !hoist.contains(f))
        .flat_map(|f| base_columns(f).iter().copied())
        .collect();
    CompiledRule {
        cond: c.sql,
        cond_params: c.params,
        hoisted,
        columns,
        needs_today: needs_today || c.needs_today,
    }
}

fn count_uses(expr: &Expr, uses: &mut HashMap<Field, usize>) {
    match expr {
        Expr::Or(items) | Expr::And(items) => items.iter().for_each(|e| count_uses(e, uses)),
        Expr::Not(inner) => count_uses(inner, uses),
        Expr::Compare { field, .. } | Expr::In { field, .. } | Expr::Flag { field, .. } => {
            *uses.entry(*field).or_default() += 1;
        }
    }
}

/// Fields whose value is an expression rather than a column read: worth
/// computing once when used more than once.
fn is_computed(field: Field) -> bool {
    !matches!(
        field,
        Field::TotalSpent
            | Field::PointsBalance
            | Field::Visits
            | Field::OriginStore
            | Field::HasEmail
            | Field::MarketingConsent
    )
}

fn hoisted_alias(field: Field) -> String {
    format!("rule_{}", field.name())
}

/// The `customers` columns a field's operand reads.
fn base_columns(field: Field) -> &'static [&'static str] {
    match field {
        Field::TotalSpent => &["total_spent"],
        Field::PointsBalance => &["points_balance"],
        Field::Visits => &["visits"],
        Field::LastVisitDays => &["last_visit"],
        Field::CreatedDays | Field::Created => &["created_at"],
        Field::Age | Field::BirthMonth => &["date_of_birth"],
        Field::OriginStore => &["origin_store"],
        Field::City => &["address_city"],
        Field::Type => &["type_id"],
        Field::HasEmail => &["email"],
        Field::HasMedicalCard => &["medical_card_number", "medical_expiry"],
        Field::MarketingConsent => &["marketing_consent"],
    }
}

struct Compiler<'a> {
    sql: String,
    params: Vec<Value>,
    today: Date,
    needs_today: bool,
    /// Fields read from the subquery's column instead of computed in place.
    hoisted: &'a [Field],
}

impl<'a> Compiler<'a> {
    fn new(today: Date, hoisted: &'a [Field]) -> Self {
        Compiler {
            sql: String::new(),
            params: Vec::new(),
            today,
            needs_today: false,
            hoisted,
        }
    }

    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    fn bind(&mut self, p: Value) {
        self.sql.push('?');
        self.params.push(p);
    }

    fn bind_today(&mut self) {
        self.needs_today = true;
        self.bind(Value::Text(iso_date(self.today)));
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
        if self.hoisted.contains(&field) {
            self.push(&format!("customers.{}", hoisted_alias(field)));
            return;
        }
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
        if self.hoisted.contains(&field) {
            self.push(&format!("customers.{}", hoisted_alias(field)));
            return;
        }
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
                self.bind(Value::Integer(i64::from(self.today.year())));
                self.push(" - CAST(strftime('%Y', customers.date_of_birth) AS INTEGER) - (");
                let month_day = format!(
                    "{:02}-{:02}",
                    u8::from(self.today.month()),
                    self.today.day()
                );
                self.bind(Value::Text(month_day));
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
            Literal::Money(n) | Literal::Integer(n) => Value::Integer(*n),
            Literal::Date(d) => Value::Text(iso_date(*d)),
            // Lowered here rather than with lower(?) in SQL: same ASCII-only
            // folding, one call fewer per row.
            Literal::Text(s) if field.ignores_case() => Value::Text(s.to_ascii_lowercase()),
            Literal::Text(s) => Value::Text(s.clone()),
        };
        self.bind(param);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn sql(src: &str) -> CompiledRule {
        compile(&Rule::parse(src).unwrap(), date!(2024 - 03 - 01))
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    /// The parameters of the rule alone.
    fn params(c: &CompiledRule) -> Vec<Value> {
        c.select_matching(&["seq"], "1", vec![]).params
    }

    #[test]
    fn comparisons_bind_values() {
        let c = sql("total_spent >= 499.99 and visits in [1, 2]");
        assert_eq!(
            c.condition(),
            "((customers.total_spent >= ?) AND (customers.visits IN (?, ?)))"
        );
        assert_eq!(
            params(&c),
            vec![Value::Integer(49_999), Value::Integer(1), Value::Integer(2)]
        );
        assert!(!c.needs_today);
        assert!(!c.hoists());
    }

    #[test]
    fn text_fields() {
        let c = sql(r#"city = "Denver" or origin_store != "S01" or type not in ["Vet"]"#);
        assert_eq!(
            c.condition(),
            "((lower(customers.address_city) = ?) OR (customers.origin_store <> ?) OR \
             ((SELECT lower(t.name) FROM customer_types AS t WHERE t.id = customers.type_id) NOT IN (?)))"
        );
        assert_eq!(params(&c), vec![text("denver"), text("S01"), text("vet")]);
    }

    #[test]
    fn flags() {
        let c = sql("has_email and not marketing_consent and has_email = false");
        assert_eq!(
            c.condition(),
            "((customers.email IS NOT NULL) AND (NOT (customers.marketing_consent <> 0)) AND \
             (NOT (customers.email IS NOT NULL)))"
        );
        let c = sql("has_medical_card");
        assert!(c.needs_today);
        assert_eq!(params(&c), vec![text("2024-03-01")]);
    }

    #[test]
    fn today_is_bound_for_time_fields() {
        let c = sql("age >= 21");
        assert!(c.needs_today);
        assert_eq!(
            params(&c),
            vec![Value::Integer(2024), text("03-01"), Value::Integer(21)]
        );
        for src in ["last_visit_days > 90", "created_days < 30"] {
            let c = sql(src);
            assert!(c.needs_today, "{src}");
            assert_eq!(params(&c).first(), Some(&text("2024-03-01")), "{src}");
        }
        let c = sql("birth_month = 3 and created >= 2024-01-01");
        assert!(!c.needs_today);
        assert_eq!(params(&c), vec![Value::Integer(3), text("2024-01-01")]);
    }

    #[test]
    fn placeholders_match_params() {
        for src in [
            r#"(age > 1 or city in ["a", "b"]) and not (created_days = 2 or has_medical_card) and type = "x""#,
            r#"(age > 1 or age < 0) and (type = "a" or has_medical_card) and (type != "b" or has_medical_card)"#,
        ] {
            let c = sql(src);
            let q = c.select_matching(&["seq"], "customers.seq > ?", vec![Value::Integer(0)]);
            assert_eq!(q.sql.matches('?').count(), q.params.len(), "{src}");
            let q = c.select_truth(&["seq"]);
            assert_eq!(q.sql.matches('?').count(), q.params.len(), "{src}");
        }
    }

    #[test]
    fn equalities_become_one_list() {
        let c = sql(r#"type = "a" or type = "B" or type = "c""#);
        assert_eq!(
            c.condition(),
            "((SELECT lower(t.name) FROM customer_types AS t WHERE t.id = customers.type_id) IN (?, ?, ?))"
        );
        assert!(!c.hoists());
        assert_eq!(params(&c), vec![text("a"), text("b"), text("c")]);
    }

    #[test]
    fn repeated_computed_operands_are_computed_once() {
        let c = sql(r#"(age > 20 and type = "a") or (age < 10 and type = "b") or visits > 3"#);
        assert!(c.hoists());
        assert_eq!(
            c.condition(),
            "(((customers.rule_age > ?) AND (customers.rule_type = ?)) OR \
             ((customers.rule_age < ?) AND (customers.rule_type = ?)) OR (customers.visits > ?))"
        );
        let q = c.select_matching(&["seq"], "customers.active = ?", vec![Value::Integer(7)]);
        assert_eq!(
            q.sql,
            "SELECT customers.seq FROM (SELECT customers.seq AS seq, customers.visits AS visits, \
             (? - CAST(strftime('%Y', customers.date_of_birth) AS INTEGER) - (? < strftime('%m-%d', customers.date_of_birth))) AS rule_age, \
             (SELECT lower(t.name) FROM customer_types AS t WHERE t.id = customers.type_id) AS rule_type \
             FROM customers WHERE customers.active = ? LIMIT -1) AS customers WHERE ((((customers.rule_age > ?) \
             AND (customers.rule_type = ?)) OR ((customers.rule_age < ?) AND (customers.rule_type = ?)) OR \
             (customers.visits > ?))) IS 1"
        );
        // Hoisted operands' values first, then the filter's, then the rest.
        assert_eq!(
            q.params,
            vec![
                Value::Integer(2024),
                text("03-01"),
                Value::Integer(7),
                Value::Integer(20),
                text("a"),
                Value::Integer(10),
                text("b"),
                Value::Integer(3),
            ]
        );
        assert!(c.needs_today);
        // Columns read in place are plain reads, not worth a subquery.
        assert!(!sql("visits > 1 or visits < 0 or has_email or has_email").hoists());
    }
}
