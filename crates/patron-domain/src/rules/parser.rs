//! Recursive descent over the grammar in `docs/rules.md`, type-checking each
//! comparison as it is read so a type error points at the offending literal.
//!
//! ```text
//! or    = and { "or" and }
//! and   = not { "and" not }
//! not   = "not" not | primary
//! primary = "(" or ")" | condition
//! ```
//!
//! Only `(` and `not` recurse; `and`/`or` chains are loops. Counting those two
//! against [`MAX_DEPTH`] bounds the recursion here and in every later walk of
//! the tree.

use super::lexer::{Lexer, Number, Token, TokenKind};
use super::{
    CmpOp, Expr, Field, FieldType, Literal, MAX_CONDITIONS, MAX_DEPTH, MAX_LIST_ITEMS,
    MAX_RULE_CHARS, MAX_TOTAL_LIST_ITEMS, RuleError, line_column,
};

/// Whether the complexity budget ([`MAX_CONDITIONS`], [`MAX_TOTAL_LIST_ITEMS`])
/// applies; see `Rule::parse_stored` for when it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Budget {
    Enforced,
    Waived,
}

const CONDITION_START: [&str; 3] = ["a field name", "not", "("];
const ALL_OPS: [&str; 8] = ["=", "!=", "<", "<=", ">", ">=", "in", "not in"];
const TEXT_OPS: [&str; 4] = ["=", "!=", "in", "not in"];

pub(crate) fn parse(src: &str, budget: Budget) -> Result<Expr, RuleError> {
    let count = src.chars().count();
    if count > MAX_RULE_CHARS {
        let head: Vec<char> = src.chars().take(MAX_RULE_CHARS).collect();
        return Err(RuleError::new(
            &head,
            MAX_RULE_CHARS,
            Vec::new(),
            format!("{count} characters"),
            format!("the rule is {count} characters long; at most {MAX_RULE_CHARS} are allowed"),
        ));
    }
    let chars: Vec<char> = src.chars().collect();
    let mut parser = Parser {
        chars: &chars,
        lexer: Lexer::new(&chars),
        peeked: None,
        depth: 0,
        budget,
        conditions: 0,
        list_items: 0,
    };
    let expr = parser.or()?;
    let tok = parser.next()?;
    match tok.kind {
        TokenKind::End => Ok(expr),
        TokenKind::RParen => Err(parser.error(
            &tok,
            &["and", "or", "end of input"],
            "found `)` without a matching `(`".to_owned(),
        )),
        _ => Err(parser.error(
            &tok,
            &["and", "or", "end of input"],
            format!(
                "expected `and`, `or` or the end of the rule, found {}",
                tok.describe()
            ),
        )),
    }
}

struct Parser<'a> {
    chars: &'a [char],
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    depth: usize,
    budget: Budget,
    /// Conditions and list values read so far, against the budget.
    conditions: usize,
    list_items: usize,
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<&Token, RuleError> {
        let tok = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next_token()?,
        };
        Ok(self.peeked.insert(tok))
    }

    fn next(&mut self) -> Result<Token, RuleError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token(),
        }
    }

    fn error(&self, at: &Token, expected: &[&str], message: String) -> RuleError {
        RuleError::new(
            self.chars,
            at.start,
            expected.iter().map(|s| (*s).to_owned()).collect(),
            at.text.clone(),
            message,
        )
    }

    fn enter(&mut self, at: &Token) -> Result<(), RuleError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(
                at,
                &[],
                format!("conditions are nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        let first = self.and()?;
        if !self.peek()?.is_keyword("or") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek()?.is_keyword("or") {
            self.next()?;
            items.push(self.and()?);
        }
        Ok(Expr::Or(items))
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let first = self.not()?;
        if !self.peek()?.is_keyword("and") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek()?.is_keyword("and") {
            self.next()?;
            items.push(self.not()?);
        }
        Ok(Expr::And(items))
    }

    fn not(&mut self) -> Result<Expr, RuleError> {
        if !self.peek()?.is_keyword("not") {
            return self.primary();
        }
        let tok = self.next()?;
        self.enter(&tok)?;
        let inner = self.not()?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(inner)))
    }

    fn primary(&mut self) -> Result<Expr, RuleError> {
        let tok = self.next()?;
        match &tok.kind {
            TokenKind::LParen => {
                self.enter(&tok)?;
                let inner = self.or()?;
                let close = self.next()?;
                if close.kind != TokenKind::RParen {
                    let (line, column) = line_column(self.chars, tok.start);
                    return Err(self.error(
                        &close,
                        &[")", "and", "or"],
                        format!(
                            "expected `)` to close the `(` at line {}, column {}, found {}",
                            line,
                            column,
                            close.describe()
                        ),
                    ));
                }
                self.depth -= 1;
                Ok(inner)
            }
            TokenKind::Ident(name) => {
                let is_keyword = ["and", "or", "not", "in", "true", "false"]
                    .iter()
                    .any(|k| name.eq_ignore_ascii_case(k));
                if is_keyword {
                    return Err(self.error(
                        &tok,
                        &CONDITION_START,
                        format!("expected a condition, found the keyword {}", tok.describe()),
                    ));
                }
                match Field::from_name(name) {
                    Some(field) => self.condition(field, &tok),
                    None => Err(self.unknown_field(&tok, name)),
                }
            }
            _ => Err(self.error(
                &tok,
                &CONDITION_START,
                format!("expected a condition, found {}", tok.describe()),
            )),
        }
    }

    fn unknown_field(&self, tok: &Token, name: &str) -> RuleError {
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        let lowered = name.to_ascii_lowercase();
        let suggestion = Field::ALL
            .iter()
            .map(|f| (edit_distance(&lowered, f.name()), f.name()))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d);
        let message = match suggestion {
            Some((_, near)) => format!("unknown field `{name}`; did you mean `{near}`?"),
            None => format!("unknown field `{name}`"),
        };
        self.error(tok, &names, message)
    }

    fn condition(&mut self, field: Field, field_tok: &Token) -> Result<Expr, RuleError> {
        if self.budget == Budget::Enforced && self.conditions == MAX_CONDITIONS {
            return Err(self.error(
                field_tok,
                &[],
                format!(
                    "a rule can test at most {MAX_CONDITIONS} conditions; \
                     list the values of one field with `in [...]` instead of repeating it"
                ),
            ));
        }
        self.conditions += 1;
        let ty = field.field_type();
        if ty == FieldType::Boolean {
            return self.flag(field);
        }
        let tok = self.next()?;
        let expected: &[&str] = if ty == FieldType::Text {
            &TEXT_OPS
        } else {
            &ALL_OPS
        };
        match tok.kind {
            TokenKind::Op(op) => {
                if ty == FieldType::Text && !op.is_equality() {
                    return Err(self.error(
                        &tok,
                        expected,
                        format!(
                            "`{field}` is text and can only be compared with =, !=, in or not in"
                        ),
                    ));
                }
                let value = self.literal(field, &tok)?;
                Ok(Expr::Compare { field, op, value })
            }
            _ if tok.is_keyword("in") => Ok(Expr::In {
                field,
                negated: false,
                values: self.list(field, &tok)?,
            }),
            _ if tok.is_keyword("not") => {
                let in_tok = self.next()?;
                if !in_tok.is_keyword("in") {
                    return Err(self.error(
                        &in_tok,
                        &["in"],
                        format!(
                            "expected `in` after `{field} not`, found {}",
                            in_tok.describe()
                        ),
                    ));
                }
                Ok(Expr::In {
                    field,
                    negated: true,
                    values: self.list(field, &in_tok)?,
                })
            }
            _ => Err(self.error(
                &tok,
                expected,
                format!(
                    "expected a comparison after `{}`, found {}",
                    field_tok.text,
                    tok.describe()
                ),
            )),
        }
    }

    /// A boolean field stands alone or is compared with `true`/`false` by
    /// `=`/`!=`; anything after a bare one is left for the caller to judge.
    fn flag(&mut self, field: Field) -> Result<Expr, RuleError> {
        let next = self.peek()?;
        let (op, is_in) = match next.kind {
            TokenKind::Op(op) => (Some(op), false),
            _ => (None, next.is_keyword("in")),
        };
        let op = match op {
            Some(op) => op,
            None if is_in => {
                let tok = self.next()?;
                return Err(self.error(
                    &tok,
                    &["=", "!="],
                    format!("`{field}` is true or false; write `{field}` or `not {field}` instead of a list"),
                ));
            }
            None => return Ok(Expr::Flag { field, value: true }),
        };
        let op_tok = self.next()?;
        if !op.is_equality() {
            return Err(self.error(
                &op_tok,
                &["=", "!="],
                format!("`{field}` is true or false and can only be compared with = or !="),
            ));
        }
        let tok = self.next()?;
        let literal = if tok.is_keyword("true") {
            true
        } else if tok.is_keyword("false") {
            false
        } else {
            let message = if is_literal(&tok) {
                format!(
                    "`{field}` is true or false, so it cannot be compared with {}",
                    tok.describe()
                )
            } else {
                format!(
                    "expected a value after `{}`, found {}",
                    op_tok.text,
                    tok.describe()
                )
            };
            return Err(self.error(&tok, &["true", "false"], message));
        };
        Ok(Expr::Flag {
            field,
            value: literal == (op == CmpOp::Eq),
        })
    }

    fn list(&mut self, field: Field, in_tok: &Token) -> Result<Vec<Literal>, RuleError> {
        let open = self.next()?;
        if open.kind != TokenKind::LBracket {
            return Err(self.error(
                &open,
                &["["],
                format!(
                    "expected `[` after `{}`, found {}",
                    in_tok.text,
                    open.describe()
                ),
            ));
        }
        let mut values = Vec::new();
        let mut after = open;
        loop {
            if values.len() == MAX_LIST_ITEMS {
                let tok = self.next()?;
                return Err(self.error(
                    &tok,
                    &["]"],
                    format!("a list can hold at most {MAX_LIST_ITEMS} values"),
                ));
            }
            if self.budget == Budget::Enforced && self.list_items == MAX_TOTAL_LIST_ITEMS {
                let tok = self.next()?;
                return Err(self.error(
                    &tok,
                    &["]"],
                    format!(
                        "the lists of a rule can hold at most {MAX_TOTAL_LIST_ITEMS} values in all"
                    ),
                ));
            }
            self.list_items += 1;
            values.push(self.literal(field, &after)?);
            let sep = self.next()?;
            match sep.kind {
                TokenKind::Comma => after = sep,
                TokenKind::RBracket => return Ok(values),
                _ => {
                    return Err(self.error(
                        &sep,
                        &[",", "]"],
                        format!("expected `,` or `]` in the list, found {}", sep.describe()),
                    ));
                }
            }
        }
    }

    /// Reads the literal after `after` (an operator, `[` or `,`) and checks it
    /// against the field's type.
    fn literal(&mut self, field: Field, after: &Token) -> Result<Literal, RuleError> {
        let tok = self.next()?;
        let ty = field.field_type();
        let noun = type_noun(ty);
        let value = match (&tok.kind, ty) {
            (TokenKind::Number(n), FieldType::Money) => Literal::Money(self.money(n, &tok)?),
            (TokenKind::Number(n), FieldType::Integer) => {
                let v = self.whole(field, n, &tok)?;
                if field == Field::BirthMonth && !(1..=12).contains(&v) {
                    return Err(self.error(
                        &tok,
                        &[noun],
                        format!("`birth_month` is a month from 1 to 12, found {v}"),
                    ));
                }
                Literal::Integer(v)
            }
            (TokenKind::Date(d), FieldType::Date) => Literal::Date(*d),
            (TokenKind::Str(s), FieldType::Text) => Literal::Text(s.clone()),
            _ if is_literal(&tok) => {
                return Err(self.error(
                    &tok,
                    &[noun],
                    format!(
                        "`{field}` is {}, so it cannot be compared with {}",
                        noun,
                        describe_literal(&tok)
                    ),
                ));
            }
            _ => {
                return Err(self.error(
                    &tok,
                    &[noun],
                    format!(
                        "expected a value after `{}`, found {}",
                        after.text,
                        tok.describe()
                    ),
                ));
            }
        };
        Ok(value)
    }

    fn too_large(&self, tok: &Token) -> RuleError {
        self.error(tok, &[], format!("{} is too large", tok.describe()))
    }

    fn whole(&self, field: Field, n: &Number, tok: &Token) -> Result<i64, RuleError> {
        if n.fraction.is_some() {
            return Err(self.error(
                tok,
                &["a whole number"],
                format!(
                    "`{field}` is a whole number, so it cannot be compared with {}",
                    tok.describe()
                ),
            ));
        }
        let magnitude = digits_value(&n.whole).ok_or_else(|| self.too_large(tok))?;
        signed(n.negative, magnitude).ok_or_else(|| self.too_large(tok))
    }

    /// Currency units to minor units on the decimal text itself: `0.1` is
    /// exactly 10, which a float round trip cannot promise.
    fn money(&self, n: &Number, tok: &Token) -> Result<i64, RuleError> {
        let cents = match n.fraction.as_deref() {
            None => 0,
            Some(f) if f.len() <= 2 => {
                let v = digits_value(f).ok_or_else(|| self.too_large(tok))?;
                if f.len() == 1 { v * 10 } else { v }
            }
            Some(_) => {
                return Err(self.error(
                    tok,
                    &["a number"],
                    format!(
                        "{} has more than two decimal places; amounts are in currency units with at most two",
                        tok.describe()
                    ),
                ));
            }
        };
        let magnitude = digits_value(&n.whole)
            .and_then(|w| w.checked_mul(100))
            .and_then(|w| w.checked_add(cents))
            .ok_or_else(|| self.too_large(tok))?;
        signed(n.negative, magnitude).ok_or_else(|| self.too_large(tok))
    }
}

fn digits_value(digits: &str) -> Option<u64> {
    digits.chars().try_fold(0u64, |acc, c| {
        acc.checked_mul(10)?.checked_add(u64::from(c.to_digit(10)?))
    })
}

fn signed(negative: bool, magnitude: u64) -> Option<i64> {
    let v = i128::from(magnitude);
    i64::try_from(if negative { -v } else { v }).ok()
}

fn is_literal(tok: &Token) -> bool {
    matches!(
        tok.kind,
        TokenKind::Number(_) | TokenKind::Date(_) | TokenKind::Str(_)
    ) || tok.is_keyword("true")
        || tok.is_keyword("false")
}

fn describe_literal(tok: &Token) -> String {
    let kind = match tok.kind {
        TokenKind::Number(_) => "the number",
        TokenKind::Date(_) => "the date",
        TokenKind::Str(_) => "the text",
        _ => "the boolean",
    };
    format!("{kind} {}", tok.describe())
}

fn type_noun(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Money => "a number",
        FieldType::Integer => "a whole number",
        FieldType::Date => "a date (YYYY-MM-DD)",
        FieldType::Text => "a quoted string",
        FieldType::Boolean => "true or false",
    }
}

/// Levenshtein distance, only used to suggest a field for a typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let delete = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let insert = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(substitute.min(delete).min(insert));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn parse(src: &str) -> Result<Expr, RuleError> {
        super::parse(src, Budget::Enforced)
    }

    fn p(src: &str) -> Expr {
        parse(src).unwrap_or_else(|e| panic!("{src:?}: {e:?}"))
    }

    fn err(src: &str) -> RuleError {
        match parse(src) {
            Ok(e) => panic!("{src:?} parsed as {e:?}"),
            Err(e) => e,
        }
    }

    fn cmp(field: Field, op: CmpOp, value: Literal) -> Expr {
        Expr::Compare { field, op, value }
    }

    fn flag(field: Field) -> Expr {
        Expr::Flag { field, value: true }
    }

    fn strs(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_comparison_operator() {
        for op in CmpOp::ALL {
            assert_eq!(
                p(&format!("visits {op} 3")),
                cmp(Field::Visits, op, Literal::Integer(3))
            );
        }
    }

    #[test]
    fn money_is_exact_minor_units() {
        let money = |src: &str| match p(src) {
            Expr::Compare {
                value: Literal::Money(m),
                ..
            } => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(money("total_spent >= 500"), 50_000);
        assert_eq!(money("total_spent >= 499.99"), 49_999);
        assert_eq!(money("total_spent >= 0.1"), 10);
        assert_eq!(money("total_spent >= 0.05"), 5);
        assert_eq!(money("points_balance < -12.5"), -1_250);
        assert_eq!(money("points_balance = -0"), 0);
        assert_eq!(money("total_spent = 92233720368547758.07"), i64::MAX);
        assert_eq!(money("total_spent = -92233720368547758.08"), i64::MIN);
        assert!(
            err("total_spent = 92233720368547758.08")
                .message
                .contains("too large")
        );
    }

    #[test]
    fn whole_numbers_dates_and_strings() {
        assert_eq!(
            p("age >= 21"),
            cmp(Field::Age, CmpOp::Ge, Literal::Integer(21))
        );
        assert_eq!(
            p("last_visit_days > -1"),
            cmp(Field::LastVisitDays, CmpOp::Gt, Literal::Integer(-1))
        );
        assert_eq!(
            p("visits = -9223372036854775808"),
            cmp(Field::Visits, CmpOp::Eq, Literal::Integer(i64::MIN))
        );
        assert_eq!(
            p("created < 2024-05-01"),
            cmp(
                Field::Created,
                CmpOp::Lt,
                Literal::Date(date!(2024 - 05 - 01))
            )
        );
        assert_eq!(
            p(r#"origin_store = "S01""#),
            cmp(Field::OriginStore, CmpOp::Eq, Literal::Text("S01".into()))
        );
        assert_eq!(
            p(r#"city != "Say \"hi\" \\ there""#),
            cmp(
                Field::City,
                CmpOp::Ne,
                Literal::Text(r#"Say "hi" \ there"#.into())
            )
        );
    }

    #[test]
    fn lists() {
        assert_eq!(
            p(r#"city in ["Denver", "Boulder"]"#),
            Expr::In {
                field: Field::City,
                negated: false,
                values: vec![
                    Literal::Text("Denver".into()),
                    Literal::Text("Boulder".into())
                ],
            }
        );
        assert_eq!(
            p("birth_month NOT IN [1,2 , 12]"),
            Expr::In {
                field: Field::BirthMonth,
                negated: true,
                values: vec![
                    Literal::Integer(1),
                    Literal::Integer(2),
                    Literal::Integer(12)
                ],
            }
        );
        let thousand = vec!["1"; MAX_LIST_ITEMS].join(",");
        assert!(parse(&format!("visits in [{thousand}]")).is_ok());
        let e = err(&format!("visits in [{thousand},1]"));
        let position = "visits in [".len() + thousand.len() + 1;
        assert_eq!((e.position, e.found.as_str()), (position, "1"));
        assert!(e.message.contains("at most 1000"));
    }

    #[test]
    fn boolean_fields() {
        let f = |value| Expr::Flag {
            field: Field::HasEmail,
            value,
        };
        assert_eq!(p("has_email"), f(true));
        assert_eq!(p("has_email = true"), f(true));
        assert_eq!(p("has_email = TRUE"), f(true));
        assert_eq!(p("has_email != true"), f(false));
        assert_eq!(p("has_email = false"), f(false));
        assert_eq!(p("has_email != False"), f(true));
        assert_eq!(
            p("not has_medical_card"),
            Expr::Not(Box::new(flag(Field::HasMedicalCard)))
        );
    }

    #[test]
    fn precedence_or_and_not() {
        let (a, b, c) = (
            flag(Field::HasEmail),
            flag(Field::HasMedicalCard),
            flag(Field::MarketingConsent),
        );
        assert_eq!(
            p("has_email or has_medical_card and marketing_consent"),
            Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
        );
        assert_eq!(
            p("has_email and has_medical_card or marketing_consent"),
            Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(
            p("not has_email and has_medical_card"),
            Expr::And(vec![Expr::Not(Box::new(a.clone())), b.clone()])
        );
        assert_eq!(
            p("not (has_email or has_medical_card)"),
            Expr::Not(Box::new(Expr::Or(vec![a.clone(), b.clone()])))
        );
        assert_eq!(
            p("(has_email or has_medical_card) and marketing_consent"),
            Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(
            p("has_email or has_medical_card or marketing_consent"),
            Expr::Or(vec![a.clone(), b.clone(), c.clone()])
        );
        // `not` binds looser than a comparison.
        assert_eq!(
            p("not age > 3"),
            Expr::Not(Box::new(cmp(Field::Age, CmpOp::Gt, Literal::Integer(3))))
        );
    }

    #[test]
    fn keywords_and_fields_ignore_case() {
        assert_eq!(
            p("AGE > 3 AND Has_Email OR NoT visits = 1"),
            p("age > 3 and has_email or not visits = 1")
        );
        assert_eq!(p("city In [\"x\"]"), p("city in [\"x\"]"));
    }

    #[test]
    fn whitespace_is_free() {
        assert_eq!(
            p("\n  (age>3)and\tvisits<=2  \r\n"),
            p("(age > 3) and visits <= 2")
        );
    }

    #[test]
    fn missing_value_at_end() {
        let e = err("age >= ");
        assert_eq!(e.position, 7);
        assert_eq!((e.line, e.column), (1, 8));
        assert_eq!(e.found, "end of input");
        assert_eq!(e.expected, strs(&["a whole number"]));
        assert_eq!(e.message, "expected a value after `>=`, found end of input");
        assert_eq!(
            e.to_string(),
            "expected a value after `>=`, found end of input at position 7"
        );
    }

    #[test]
    fn unknown_field_lists_fields() {
        let e = err("agee > 3");
        assert_eq!((e.position, e.line, e.column), (0, 1, 1));
        assert_eq!(e.found, "agee");
        assert_eq!(e.message, "unknown field `agee`; did you mean `age`?");
        let names: Vec<String> = Field::ALL.iter().map(|f| f.name().to_owned()).collect();
        assert_eq!(e.expected, names);
        assert_eq!(err("visits > 1 and zzz").message, "unknown field `zzz`");
    }

    #[test]
    fn unclosed_parenthesis() {
        let e = err("(age > 3");
        assert_eq!((e.position, e.found.as_str()), (8, "end of input"));
        assert_eq!(e.expected, strs(&[")", "and", "or"]));
        assert_eq!(
            e.message,
            "expected `)` to close the `(` at line 1, column 1, found end of input"
        );
        let e = err("(age > 3 visits");
        assert_eq!((e.position, e.found.as_str()), (9, "visits"));
    }

    #[test]
    fn stray_tokens() {
        let e = err("age > 3)");
        assert_eq!((e.position, e.found.as_str()), (7, ")"));
        assert!(e.message.contains("without a matching `(`"));

        let e = err("age > 3 visits > 2");
        assert_eq!(e.position, 8);
        assert_eq!(e.expected, strs(&["and", "or", "end of input"]));

        for (src, pos, found) in [
            ("", 0, "end of input"),
            ("   ", 3, "end of input"),
            ("and", 0, "and"),
            ("age > 3 and", 11, "end of input"),
            ("not", 3, "end of input"),
            (")", 0, ")"),
            ("3 > age", 0, "3"),
            ("true", 0, "true"),
        ] {
            let e = err(src);
            assert_eq!((e.position, e.found.as_str()), (pos, found), "{src:?}");
            assert_eq!(e.expected, strs(&CONDITION_START), "{src:?}");
        }
    }

    #[test]
    fn missing_comparison() {
        let e = err("age");
        assert_eq!((e.position, e.found.as_str()), (3, "end of input"));
        assert_eq!(e.expected, strs(&ALL_OPS));
        let e = err("city 3");
        assert_eq!(e.expected, strs(&TEXT_OPS));
        let e = err("city not [\"x\"]");
        assert_eq!((e.position, e.expected.clone()), (9, strs(&["in"])));
        let e = err("city in \"x\"");
        assert_eq!((e.position, e.expected.clone()), (8, strs(&["["])));
        let e = err("visits in []");
        assert_eq!((e.position, e.found.as_str()), (11, "]"));
        assert_eq!(e.message, "expected a value after `[`, found `]`");
        let e = err("visits in [1 2]");
        assert_eq!((e.position, e.expected.clone()), (13, strs(&[",", "]"])));
        let e = err("visits in [1,]");
        assert_eq!(e.message, "expected a value after `,`, found `]`");
    }

    #[test]
    fn type_errors() {
        let e = err(r#"age = "x""#);
        assert_eq!((e.position, e.found.as_str()), (6, "\"x\""));
        assert_eq!(e.expected, strs(&["a whole number"]));
        assert_eq!(
            e.message,
            "`age` is a whole number, so it cannot be compared with the text `\"x\"`"
        );

        let e = err("city > 3");
        assert_eq!((e.position, e.found.as_str()), (5, ">"));
        assert_eq!(e.expected, strs(&TEXT_OPS));

        let e = err("city = 3");
        assert_eq!(
            (e.position, e.expected.clone()),
            (7, strs(&["a quoted string"]))
        );

        let e = err("has_email < 1");
        assert_eq!((e.position, e.found.as_str()), (10, "<"));
        assert_eq!(e.expected, strs(&["=", "!="]));

        let e = err("has_email = 1");
        assert_eq!(
            (e.position, e.expected.clone()),
            (12, strs(&["true", "false"]))
        );

        let e = err("has_email in [true]");
        assert_eq!(e.position, 10);

        let e = err("age = true");
        assert_eq!(e.position, 6);
        assert!(e.message.contains("the boolean `true`"));

        let e = err("visits > 2.5");
        assert_eq!((e.position, e.found.as_str()), (9, "2.5"));

        let e = err("created > 2024");
        assert_eq!(e.expected, strs(&["a date (YYYY-MM-DD)"]));

        let e = err("total_spent > 1.999");
        assert_eq!((e.position, e.found.as_str()), (14, "1.999"));
        assert!(e.message.contains("two decimal places"));

        let e = err("age > 99999999999999999999");
        assert!(e.message.contains("too large"));

        let e = err(r#"type in ["a", 1]"#);
        assert_eq!(e.position, 14);
    }

    #[test]
    fn birth_month_range() {
        assert!(parse("birth_month = 1").is_ok());
        assert!(parse("birth_month in [12]").is_ok());
        for (src, pos) in [
            ("birth_month = 13", 14),
            ("birth_month = 0", 14),
            ("birth_month in [1, 13]", 19),
        ] {
            let e = err(src);
            assert_eq!(e.position, pos, "{src}");
            assert!(e.message.contains("from 1 to 12"), "{}", e.message);
        }
    }

    #[test]
    fn positions_count_characters_and_lines() {
        let e = err("city = \"Zürich\" and\n  ägë > 3");
        assert_eq!((e.position, e.line, e.column), (22, 2, 3));
        assert_eq!(e.found, "ä");
        let e = err("age > 3\nand\n(visits >");
        assert_eq!((e.position, e.line, e.column), (21, 3, 10));
    }

    #[test]
    fn depth_limit() {
        let nested = |n: usize| format!("{}age > 1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        let e = err(&nested(MAX_DEPTH + 1));
        assert_eq!((e.position, e.found.as_str()), (MAX_DEPTH, "("));
        assert!(e.message.contains("nested"));

        let nots = |n: usize| format!("{}has_email", "not ".repeat(n));
        assert!(parse(&nots(MAX_DEPTH)).is_ok());
        let e = err(&nots(MAX_DEPTH + 1));
        assert_eq!(e.position, 4 * MAX_DEPTH);

        // A deep input is refused quickly however deep it goes, not by the stack.
        let e = err(&"(".repeat(MAX_RULE_CHARS));
        assert_eq!(e.position, MAX_DEPTH);
    }

    #[test]
    fn condition_budget() {
        let chain = |n: usize, clause: &str, sep: &str| vec![clause; n].join(sep);
        assert!(parse(&chain(MAX_CONDITIONS, "age > 1", " or ")).is_ok());
        let over = chain(MAX_CONDITIONS + 1, "age > 1", " or ");
        let e = err(&over);
        // At the field of the first condition too many.
        assert_eq!(e.position, MAX_CONDITIONS * "age > 1 or ".len());
        assert_eq!(e.found, "age");
        assert_eq!(
            e.message,
            "a rule can test at most 100 conditions; \
             list the values of one field with `in [...]` instead of repeating it"
        );

        // Every kind of condition counts, wherever it is nested.
        let mixed = (0..=MAX_CONDITIONS)
            .map(|i| match i % 4 {
                0 => "has_email".to_owned(),
                1 => "not (visits in [1, 2])".to_owned(),
                2 => r#"(type = "x" and city != "y")"#.to_owned(),
                _ => "created < 2024-01-01".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" or ");
        assert!(err(&mixed).message.contains("at most 100 conditions"));

        // The testers' rule: nearly 4,000 characters of `type = "x"` alternatives.
        let testers = chain(284, r#"type = "x""#, " or ");
        assert!(testers.len() <= MAX_RULE_CHARS);
        assert!(err(&testers).message.contains("at most 100 conditions"));
    }

    #[test]
    fn list_items_budget() {
        let list = |n: usize| format!("visits in [{}]", vec!["1"; n].join(","));
        let half = MAX_TOTAL_LIST_ITEMS / 2;
        assert!(parse(&format!("{} or {}", list(half), list(half))).is_ok());
        let src = format!("{} or {}", list(half), list(half + 1));
        let e = err(&src);
        // At the first value too many, the last of the second list.
        assert_eq!(e.position, src.len() - 2);
        assert_eq!(e.found, "1");
        assert_eq!(
            e.message,
            "the lists of a rule can hold at most 1000 values in all"
        );
    }

    #[test]
    fn stored_rules_skip_the_budget_only() {
        let stored = |src: &str| super::parse(src, Budget::Waived);
        let long_chain = vec![r#"type = "x""#; 284].join(" or ");
        assert!(stored(&long_chain).is_ok());
        let lists = format!(
            "visits in [{0}] or visits in [{0}]",
            vec!["1"; 900].join(",")
        );
        assert!(stored(&lists).is_ok());
        // The limits that protect the parser itself still hold.
        let deep = format!(
            "{}age > 1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(stored(&deep).is_err());
        assert!(stored(&"x".repeat(MAX_RULE_CHARS + 1)).is_err());
    }

    #[test]
    fn length_limit() {
        let long = format!("visits in [{}]", vec!["1"; 2_000].join(","));
        let e = err(&long);
        assert_eq!(e.position, MAX_RULE_CHARS);
        assert!(e.message.contains("4000"));
        let fits = format!("city = \"{}\"", "é".repeat(MAX_RULE_CHARS - 9));
        assert_eq!(fits.chars().count(), MAX_RULE_CHARS);
        assert!(parse(&fits).is_ok());
    }

    /// The examples in docs/rules.md, word for word.
    #[test]
    fn documented_errors() {
        for (src, position, message) in [
            (
                "age >=",
                6,
                "expected a value after `>=`, found end of input",
            ),
            ("agee > 3", 0, "unknown field `agee`; did you mean `age`?"),
            (
                "(age > 3",
                8,
                "expected `)` to close the `(` at line 1, column 1, found end of input",
            ),
            (
                r#"age = "x""#,
                6,
                "`age` is a whole number, so it cannot be compared with the text `\"x\"`",
            ),
            (
                "city > 3",
                5,
                "`city` is text and can only be compared with =, !=, in or not in",
            ),
            (
                "birth_month = 13",
                14,
                "`birth_month` is a month from 1 to 12, found 13",
            ),
            (
                "total_spent > 1.999",
                14,
                "`1.999` has more than two decimal places; amounts are in currency units with at most two",
            ),
        ] {
            let e = err(src);
            assert_eq!(
                (e.position, e.message.as_str()),
                (position, message),
                "{src}"
            );
        }
    }

    #[test]
    fn suggestions_use_edit_distance() {
        assert_eq!(edit_distance("agee", "age"), 1);
        assert_eq!(edit_distance("", "age"), 3);
        assert_eq!(edit_distance("vists", "visits"), 1);
        assert_eq!(
            err("has_emial").message,
            "unknown field `has_emial`; did you mean `has_email`?"
        );
    }
}
