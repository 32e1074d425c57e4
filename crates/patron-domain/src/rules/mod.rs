//! Membership rules for auto-filled customer groups: a small boolean language over
//! customer facts, e.g. `total_spent >= 1000 and visits >= 10`.
//!
//! This module says what a rule means: [`Rule::evaluate`] for one customer in
//! memory (when a customer changes), in SQL's three-valued logic. Each storage
//! backend compiles the same tree ([`Rule::expr`]) to its own SQL dialect for
//! the whole table (when the rule changes, or nightly for rules whose answer
//! moves with the date), e.g. `patron-sqlite/src/rule_sql.rs`; the agreement
//! is checked by `patron-sqlite/tests/rule_sql_agreement.rs`.
//!
//! The language is described for users in `docs/rules.md`.

mod eval;
mod lexer;
mod parser;

use std::fmt;
use std::str::FromStr;

use time::{Date, OffsetDateTime};

/// Longest accepted rule text, in characters.
pub const MAX_RULE_CHARS: usize = 4_000;
/// Deepest accepted nesting of parentheses and `not`s; keeps the recursive
/// parser and evaluator far from the stack limit.
pub const MAX_DEPTH: usize = 64;
/// Most values accepted in one `in [...]` list.
pub const MAX_LIST_ITEMS: usize = 1_000;

// The complexity budget. Evaluating a rule over the customers costs about one
// step per condition per customer (and one lookup per list), so these bound
// the dearest rule the parser accepts; `BENCHMARKS.md` has what that costs.
// Only rules being written are held to it: a stored rule is read back with
// [`Rule::parse_stored`], so one saved before the budget existed keeps working.

/// Most conditions (comparisons, `in` lists and true/false fields) in a rule.
pub const MAX_CONDITIONS: usize = 100;
/// Most values in all of a rule's `in` lists together.
pub const MAX_TOTAL_LIST_ITEMS: usize = 1_000;

/// A parsed, type-checked rule. Only [`Rule::parse`] builds one, so every rule in
/// hand is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    expr: Expr,
    source: String,
}

impl Rule {
    /// Parses a rule being written, held to the complexity budget
    /// ([`MAX_CONDITIONS`], [`MAX_TOTAL_LIST_ITEMS`]).
    pub fn parse(src: &str) -> Result<Rule, RuleError> {
        Self::parse_with(src, parser::Budget::Enforced)
    }

    /// Parses a rule read back from storage. The length and depth limits still
    /// apply (they protect the parser itself), the complexity budget does not:
    /// a rule accepted before the budget existed must not make every write that
    /// re-checks group membership fail. Its evaluation stays bounded in time by
    /// the storage backend.
    pub fn parse_stored(src: &str) -> Result<Rule, RuleError> {
        Self::parse_with(src, parser::Budget::Waived)
    }

    fn parse_with(src: &str, budget: parser::Budget) -> Result<Rule, RuleError> {
        let expr = parser::parse(src, budget)?;
        Ok(Rule {
            expr,
            source: src.trim().to_owned(),
        })
    }

    /// The text as the user wrote it, minus surrounding whitespace; it keeps
    /// their line breaks and spelling so an editor can show it back unchanged.
    /// `to_string()` gives the canonical form instead.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether membership can change with no change to the customer, only to
    /// the date, so groups using the rule must be re-checked as days pass.
    ///
    /// Besides the age and day-count fields this includes `has_medical_card`,
    /// because a card stops counting the day after it expires.
    pub fn depends_on_time(&self) -> bool {
        self.expr.any_field(&mut |f| f.depends_on_time())
    }

    /// True iff the rule is TRUE for these facts; unknown counts as no.
    pub fn evaluate(&self, facts: &RuleFacts) -> bool {
        self.truth(facts) == Some(true)
    }

    /// The three-valued answer: `None` is SQL's NULL ("unknown").
    pub fn truth(&self, facts: &RuleFacts) -> Option<bool> {
        eval::truth(&self.expr, facts)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl FromStr for Rule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::parse(s)
    }
}

/// Why a rule text was rejected, located precisely enough for an editor to
/// underline it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct RuleError {
    /// 0-based character (not byte) offset where the problem starts.
    pub position: usize,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// What would have been accepted here, e.g. `["a field name", "not", "("]`.
    pub expected: Vec<String>,
    /// The offending token as written, or `end of input`.
    pub found: String,
    /// One sentence for a human.
    pub message: String,
}

impl RuleError {
    pub(crate) fn new(
        chars: &[char],
        position: usize,
        expected: Vec<String>,
        found: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = line_column(chars, position);
        RuleError {
            position,
            line,
            column,
            expected,
            found: found.into(),
            message: message.into(),
        }
    }
}

/// 1-based line and column (in characters) of a character offset.
pub(crate) fn line_column(chars: &[char], position: usize) -> (usize, usize) {
    let (mut line, mut column) = (1, 1);
    for &c in chars.iter().take(position) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// What a rule can see of one customer, as of `today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFacts {
    pub today: Date,
    /// Minor units (cents).
    pub total_spent: i64,
    /// Minor units (cents).
    pub points_balance: i64,
    pub visits: i64,
    pub last_visit: Option<Date>,
    /// The UTC date of the creation timestamp; see [`utc_date_from_micros`].
    pub created: Date,
    pub date_of_birth: Option<Date>,
    pub origin_store: Option<String>,
    pub city: Option<String>,
    /// The name of the customer's type, not its id.
    pub customer_type: Option<String>,
    pub has_email: bool,
    /// A card on file that has not expired as of `today`; see
    /// [`has_valid_medical_card`].
    pub has_medical_card: bool,
    pub marketing_consent: bool,
}

impl RuleFacts {
    /// What a rule would see of a customer about to be created with `data`
    /// at `origin_store`: no purchases, no balance, no type yet.
    pub fn of_new_customer(
        data: &crate::customer::CustomerDraft,
        origin_store: Option<&str>,
        today: Date,
    ) -> Self {
        RuleFacts {
            today,
            created: today,
            date_of_birth: data.date_of_birth,
            origin_store: origin_store.map(str::to_owned),
            city: data.address.city.clone(),
            has_email: data.email.is_some(),
            has_medical_card: has_valid_medical_card(
                data.medical.card_number.is_some(),
                data.medical.expiry,
                today,
            ),
            marketing_consent: data.marketing_consent,
            ..RuleFacts::default()
        }
    }
}

impl Default for RuleFacts {
    fn default() -> Self {
        let epoch = OffsetDateTime::UNIX_EPOCH.date();
        RuleFacts {
            today: epoch,
            total_spent: 0,
            points_balance: 0,
            visits: 0,
            last_visit: None,
            created: epoch,
            date_of_birth: None,
            origin_store: None,
            city: None,
            customer_type: None,
            has_email: false,
            has_medical_card: false,
            marketing_consent: false,
        }
    }
}

/// The UTC calendar date of a timestamp in unix microseconds, the same date the
/// compiled SQL derives from `customers.created_at` (rounded down, also before 1970).
pub fn utc_date_from_micros(micros: i64) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .ok()
        .map(OffsetDateTime::date)
}

/// `has_medical_card` as the compiled SQL computes it: a card number on file and
/// no expiry date, or one that is today or later.
pub fn has_valid_medical_card(has_number: bool, expiry: Option<Date>, today: Date) -> bool {
    has_number && expiry.is_none_or(|e| e >= today)
}

/// The fields a rule can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    TotalSpent,
    PointsBalance,
    Visits,
    LastVisitDays,
    CreatedDays,
    Age,
    BirthMonth,
    Created,
    OriginStore,
    City,
    Type,
    HasEmail,
    HasMedicalCard,
    MarketingConsent,
}

/// What kind of literal a field is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Written in currency units with up to two decimals, held in minor units.
    Money,
    Integer,
    Date,
    Text,
    Boolean,
}

impl Field {
    pub const ALL: [Field; 14] = [
        Field::TotalSpent,
        Field::PointsBalance,
        Field::Visits,
        Field::LastVisitDays,
        Field::CreatedDays,
        Field::Age,
        Field::BirthMonth,
        Field::Created,
        Field::OriginStore,
        Field::City,
        Field::Type,
        Field::HasEmail,
        Field::HasMedicalCard,
        Field::MarketingConsent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::TotalSpent => "total_spent",
            Field::PointsBalance => "points_balance",
            Field::Visits => "visits",
            Field::LastVisitDays => "last_visit_days",
            Field::CreatedDays => "created_days",
            Field::Age => "age",
            Field::BirthMonth => "birth_month",
            Field::Created => "created",
            Field::OriginStore => "origin_store",
            Field::City => "city",
            Field::Type => "type",
            Field::HasEmail => "has_email",
            Field::HasMedicalCard => "has_medical_card",
            Field::MarketingConsent => "marketing_consent",
        }
    }

    /// Field names are matched ignoring ASCII case, like keywords.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    pub fn field_type(self) -> FieldType {
        match self {
            Field::TotalSpent | Field::PointsBalance => FieldType::Money,
            Field::Visits
            | Field::LastVisitDays
            | Field::CreatedDays
            | Field::Age
            | Field::BirthMonth => FieldType::Integer,
            Field::Created => FieldType::Date,
            Field::OriginStore | Field::City | Field::Type => FieldType::Text,
            Field::HasEmail | Field::HasMedicalCard | Field::MarketingConsent => FieldType::Boolean,
        }
    }

    /// Text fields whose comparisons ignore ASCII case. Store ids are codes
    /// where case is significant; city and type names are typed by people.
    pub fn ignores_case(self) -> bool {
        matches!(self, Field::City | Field::Type)
    }

    pub fn depends_on_time(self) -> bool {
        matches!(
            self,
            Field::Age
                | Field::BirthMonth
                | Field::LastVisitDays
                | Field::CreatedDays
                | Field::HasMedicalCard
        )
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    pub fn is_equality(self) -> bool {
        matches!(self, CmpOp::Eq | CmpOp::Ne)
    }

    pub(crate) fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering;
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A literal after type checking: the parser picks the variant from the field,
/// so a money field always holds `Money` and a whole-number field `Integer`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Literal {
    /// Minor units: `499.99` is 49999.
    Money(i64),
    Integer(i64),
    Date(Date),
    Text(String),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Money(minor) => {
                let sign = if *minor < 0 { "-" } else { "" };
                let abs = minor.unsigned_abs();
                let (units, cents) = (abs / 100, abs % 100);
                if cents == 0 {
                    write!(f, "{sign}{units}")
                } else {
                    write!(f, "{sign}{units}.{cents:02}")
                }
            }
            Literal::Integer(n) => write!(f, "{n}"),
            Literal::Date(d) => f.write_str(&iso_date(*d)),
            Literal::Text(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")
            }
        }
    }
}

/// `YYYY-MM-DD`, the form of date literals and of the dates SQLite stores.
pub fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The syntax tree. `Or` and `And` hold two or more operands as written, so a
/// long chain stays shallow and `(a and b) and c` keeps its parentheses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        field: Field,
        op: CmpOp,
        value: Literal,
    },
    In {
        field: Field,
        negated: bool,
        values: Vec<Literal>,
    },
    /// A boolean field: bare `has_email` and `has_email = true` are
    /// `value: true`; `has_email = false` and `has_email != true` are `false`.
    Flag {
        field: Field,
        value: bool,
    },
}

impl Expr {
    fn any_field(&self, pred: &mut impl FnMut(Field) -> bool) -> bool {
        match self {
            Expr::Or(items) | Expr::And(items) => items.iter().any(|e| e.any_field(pred)),
            Expr::Not(inner) => inner.any_field(pred),
            Expr::Compare { field, .. } | Expr::In { field, .. } | Expr::Flag { field, .. } => {
                pred(*field)
            }
        }
    }

    fn write_operand(&self, f: &mut fmt::Formatter<'_>, parenthesize: bool) -> fmt::Result {
        if parenthesize {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

/// Canonical text: lowercase keywords and field names, single spaces, and
/// parentheses exactly where the tree nests `or`/`and`; it parses back to an
/// equal tree.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(items) | Expr::And(items) => {
                let is_or = matches!(self, Expr::Or(_));
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(if is_or { " or " } else { " and " })?;
                    }
                    let nested = match item {
                        Expr::Or(_) => true,
                        Expr::And(_) => !is_or,
                        _ => false,
                    };
                    item.write_operand(f, nested)?;
                }
                Ok(())
            }
            Expr::Not(inner) => {
                f.write_str("not ")?;
                inner.write_operand(f, matches!(**inner, Expr::Or(_) | Expr::And(_)))
            }
            Expr::Compare { field, op, value } => write!(f, "{field} {op} {value}"),
            Expr::In {
                field,
                negated,
                values,
            } => {
                write!(f, "{field} {}[", if *negated { "not in " } else { "in " })?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Expr::Flag { field, value: true } => write!(f, "{field}"),
            Expr::Flag {
                field,
                value: false,
            } => write!(f, "{field} = false"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn display_is_canonical() {
        for (src, canonical) in [
            ("AGE>=21", "age >= 21"),
            ("total_spent >= 499.9", "total_spent >= 499.90"),
            ("total_spent >= 500.00", "total_spent >= 500"),
            ("points_balance < -0.05", "points_balance < -0.05"),
            ("has_email = TRUE", "has_email"),
            ("has_email != true", "has_email = false"),
            (
                "city IN [\"a\\\"b\",\"c\\\\\"]",
                "city in [\"a\\\"b\", \"c\\\\\"]",
            ),
            ("visits NOT in [1]", "visits not in [1]"),
            ("created = 0099-01-01", "created = 0099-01-01"),
            (
                "(has_email or visits > 1) and (age < 3 and visits = 2)",
                "(has_email or visits > 1) and (age < 3 and visits = 2)",
            ),
            (
                "((has_email)) or (visits > 1 or age = 2)",
                "has_email or (visits > 1 or age = 2)",
            ),
            ("not (not has_email)", "not not has_email"),
            ("not (has_email and age > 1)", "not (has_email and age > 1)"),
        ] {
            let rule = Rule::parse(src).unwrap();
            assert_eq!(rule.to_string(), canonical, "{src}");
            assert_eq!(Rule::parse(canonical).unwrap().expr(), rule.expr());
        }
    }

    #[test]
    fn source_keeps_the_text_as_written() {
        let rule: Rule = "  visits > 3\n  AND has_email \n".parse().unwrap();
        assert_eq!(rule.source(), "visits > 3\n  AND has_email");
        assert_eq!(rule.to_string(), "visits > 3 and has_email");
    }

    #[test]
    fn time_dependence() {
        for (src, depends) in [
            (
                "total_spent > 1 and visits > 2 and created > 2024-01-01",
                false,
            ),
            (
                "city = \"x\" or type = \"y\" or origin_store = \"z\"",
                false,
            ),
            ("has_email or marketing_consent", false),
            ("visits > 1 or age > 20", true),
            ("not birth_month = 2", true),
            ("last_visit_days in [1]", true),
            ("created_days > 1", true),
            ("has_medical_card", true),
        ] {
            assert_eq!(
                Rule::parse(src).unwrap().depends_on_time(),
                depends,
                "{src}"
            );
        }
    }

    #[test]
    fn helpers_match_the_sql_definitions() {
        assert_eq!(utc_date_from_micros(0), Some(date!(1970 - 01 - 01)));
        assert_eq!(utc_date_from_micros(-1), Some(date!(1969 - 12 - 31)));
        assert_eq!(
            utc_date_from_micros(86_400_000_000 - 1),
            Some(date!(1970 - 01 - 01))
        );
        assert_eq!(utc_date_from_micros(i64::MAX), None);
        let today = date!(2024 - 03 - 01);
        assert!(has_valid_medical_card(true, None, today));
        assert!(has_valid_medical_card(true, Some(today), today));
        assert!(!has_valid_medical_card(
            true,
            Some(date!(2024 - 02 - 29)),
            today
        ));
        assert!(!has_valid_medical_card(false, None, today));
    }

    #[test]
    fn default_facts_match_nothing_unknown() {
        let f = RuleFacts::default();
        assert!(Rule::parse("visits = 0").unwrap().evaluate(&f));
        assert!(!Rule::parse("age >= 0").unwrap().evaluate(&f));
        assert!(Rule::parse("created_days = 0").unwrap().evaluate(&f));
    }

    fn literal(field: Field) -> BoxedStrategy<Literal> {
        match field.field_type() {
            FieldType::Money => any::<i64>().prop_map(Literal::Money).boxed(),
            FieldType::Integer if field == Field::BirthMonth => {
                (1i64..=12).prop_map(Literal::Integer).boxed()
            }
            FieldType::Integer => any::<i64>().prop_map(Literal::Integer).boxed(),
            FieldType::Date => {
                let (lo, hi) = (
                    date!(0000 - 01 - 01).to_julian_day(),
                    date!(9999 - 12 - 31).to_julian_day(),
                );
                (lo..=hi)
                    .prop_map(|j| Literal::Date(Date::from_julian_day(j).unwrap()))
                    .boxed()
            }
            FieldType::Text | FieldType::Boolean => "(?s).{0,12}".prop_map(Literal::Text).boxed(),
        }
    }

    fn condition() -> impl Strategy<Value = Expr> {
        prop::sample::select(Field::ALL.to_vec()).prop_flat_map(|field| {
            let ty = field.field_type();
            if ty == FieldType::Boolean {
                return any::<bool>()
                    .prop_map(move |value| Expr::Flag { field, value })
                    .boxed();
            }
            let ops: Vec<CmpOp> = CmpOp::ALL
                .into_iter()
                .filter(|op| ty != FieldType::Text || op.is_equality())
                .collect();
            prop_oneof![
                (prop::sample::select(ops), literal(field))
                    .prop_map(move |(op, value)| Expr::Compare { field, op, value }),
                (any::<bool>(), prop::collection::vec(literal(field), 1..4)).prop_map(
                    move |(negated, values)| Expr::In {
                        field,
                        negated,
                        values
                    }
                ),
            ]
            .boxed()
        })
    }

    fn expr() -> impl Strategy<Value = Expr> {
        condition().prop_recursive(5, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                inner.prop_map(|e| Expr::Not(Box::new(e))),
            ]
        })
    }

    /// Tokens of the language, valid and broken, glued into random sequences.
    fn token_soup() -> impl Strategy<Value = String> {
        let tokens = prop::sample::select(vec![
            "age",
            "AGE",
            "city",
            "type",
            "has_email",
            "birth_month",
            "created",
            "total_spent",
            "agee",
            "and",
            "OR",
            "Not",
            "in",
            "true",
            "false",
            "(",
            ")",
            "[",
            "]",
            ",",
            "=",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "!",
            "-",
            "\"",
            "\"x\"",
            "\"a\\\"b\"",
            "\"\\",
            "\\",
            "12",
            "-3",
            "499.99",
            "1.999",
            "1.",
            "2024-05-01",
            "2023-02-29",
            "2024-5-1",
            "13",
            "é",
            "\n",
            "\u{3000}",
            "99999999999999999999",
        ]);
        (
            prop::collection::vec(tokens, 0..24),
            prop::sample::select(vec!["", " ", "\n"]),
        )
            .prop_map(|(toks, sep)| toks.join(sep))
    }

    /// A valid rule's canonical text with a few words dropped, repeated or
    /// replaced, so that errors also arise deep inside otherwise sound rules.
    fn mutated_rule() -> impl Strategy<Value = String> {
        let edits =
            prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, token_soup()), 1..4);
        (expr(), edits).prop_map(|(e, edits)| {
            let text = e.to_string();
            let mut words: Vec<String> = text.split(' ').map(str::to_owned).collect();
            for (at, kind, soup) in edits {
                let i = at.index(words.len());
                match kind {
                    0 => {
                        words.remove(i);
                    }
                    1 => words.insert(i, words[i].clone()),
                    _ => words[i] = soup,
                }
                if words.is_empty() {
                    break;
                }
            }
            words.join(" ")
        })
    }

    fn check_error(src: &str, e: &RuleError) {
        let chars: Vec<char> = src.chars().collect();
        assert!(e.position <= chars.len(), "{src:?}: {e:?}");
        let before = chars.get(..e.position).unwrap();
        let line = 1 + before.iter().filter(|c| **c == '\n').count();
        assert_eq!(e.line, line, "{src:?}: {e:?}");
        assert!(e.column >= 1);
        assert!(!e.message.is_empty());
    }

    fn conditions(e: &Expr) -> usize {
        match e {
            Expr::Or(items) | Expr::And(items) => items.iter().map(conditions).sum(),
            Expr::Not(inner) => conditions(inner),
            _ => 1,
        }
    }

    proptest! {
        #[test]
        fn canonical_text_round_trips(e in expr()) {
            // A tree this strategy can build may, rarely, exceed the budget.
            prop_assume!(conditions(&e) <= MAX_CONDITIONS);
            let text = e.to_string();
            let rule = Rule::parse(&text).map_err(|err| TestCaseError::fail(format!("{text:?}: {err:?}")))?;
            prop_assert_eq!(rule.expr(), &e);
            prop_assert_eq!(rule.to_string(), text);
        }

        #[test]
        fn any_text_parses_or_fails_cleanly(src in "(?s).{0,80}") {
            match Rule::parse(&src) {
                Ok(rule) => {
                    let again = Rule::parse(&rule.to_string()).unwrap();
                    prop_assert_eq!(again.expr(), rule.expr());
                }
                Err(e) => check_error(&src, &e),
            }
        }

        #[test]
        fn token_soup_parses_or_fails_cleanly(src in prop_oneof![token_soup(), mutated_rule()]) {
            match Rule::parse(&src) {
                Ok(rule) => {
                    let again = Rule::parse(&rule.to_string()).unwrap();
                    prop_assert_eq!(again.expr(), rule.expr());
                    let _ = rule.evaluate(&RuleFacts::default());
                }
                Err(e) => check_error(&src, &e),
            }
        }
    }
}
