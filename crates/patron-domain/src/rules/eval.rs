//! In-memory evaluation with SQL's three-valued (Kleene) logic, `None` standing
//! for NULL. Every choice here mirrors `sql.rs`; change them together.

use std::cmp::Ordering;

use time::Date;

use super::{Expr, Field, Literal, RuleFacts};

pub(crate) fn truth(expr: &Expr, facts: &RuleFacts) -> Option<bool> {
    match expr {
        Expr::Or(items) => {
            let mut unknown = false;
            for item in items {
                match truth(item, facts) {
                    Some(true) => return Some(true),
                    Some(false) => {}
                    None => unknown = true,
                }
            }
            if unknown { None } else { Some(false) }
        }
        Expr::And(items) => {
            let mut unknown = false;
            for item in items {
                match truth(item, facts) {
                    Some(false) => return Some(false),
                    Some(true) => {}
                    None => unknown = true,
                }
            }
            if unknown { None } else { Some(true) }
        }
        Expr::Not(inner) => truth(inner, facts).map(|b| !b),
        Expr::Flag { field, value } => flag(*field, facts).map(|b| b == *value),
        Expr::Compare { field, op, value } => {
            let actual = fact(*field, facts)?;
            compare(*field, &actual, value).map(|ord| op.holds(ord))
        }
        Expr::In {
            field,
            negated,
            values,
        } => {
            let actual = fact(*field, facts)?;
            // The parser type-checks lists, so a comparison never fails here;
            // were one to, SQL's `IN` would say unknown, and so do we.
            let mut found = false;
            for v in values {
                match compare(*field, &actual, v)? {
                    Ordering::Equal => found = true,
                    Ordering::Less | Ordering::Greater => {}
                }
            }
            Some(found != *negated)
        }
    }
}

/// A field's value for one customer, `None` when unknown.
enum Fact<'a> {
    Int(i64),
    Date(Date),
    Text(&'a str),
}

fn fact(field: Field, f: &RuleFacts) -> Option<Fact<'_>> {
    Some(match field {
        Field::TotalSpent => Fact::Int(f.total_spent),
        Field::PointsBalance => Fact::Int(f.points_balance),
        Field::Visits => Fact::Int(f.visits),
        Field::LastVisitDays => Fact::Int(days_between(f.last_visit?, f.today)),
        Field::CreatedDays => Fact::Int(days_between(f.created, f.today)),
        Field::Age => Fact::Int(age(f.date_of_birth?, f.today)),
        Field::BirthMonth => Fact::Int(i64::from(u8::from(f.date_of_birth?.month()))),
        Field::Created => Fact::Date(f.created),
        Field::OriginStore => Fact::Text(f.origin_store.as_deref()?),
        Field::City => Fact::Text(f.city.as_deref()?),
        Field::Type => Fact::Text(f.customer_type.as_deref()?),
        Field::HasEmail | Field::HasMedicalCard | Field::MarketingConsent => {
            Fact::Int(i64::from(flag(field, f)?))
        }
    })
}

fn flag(field: Field, f: &RuleFacts) -> Option<bool> {
    match field {
        Field::HasEmail => Some(f.has_email),
        Field::HasMedicalCard => Some(f.has_medical_card),
        Field::MarketingConsent => Some(f.marketing_consent),
        _ => None,
    }
}

fn compare(field: Field, actual: &Fact<'_>, literal: &Literal) -> Option<Ordering> {
    match (actual, literal) {
        (Fact::Int(a), Literal::Money(b) | Literal::Integer(b)) => Some(a.cmp(b)),
        (Fact::Date(a), Literal::Date(b)) => Some(a.cmp(b)),
        // SQLite's lower() folds ASCII letters only, so "É" and "é" differ on
        // both sides alike.
        (Fact::Text(a), Literal::Text(b)) if field.ignores_case() => Some(
            a.bytes()
                .map(|c| c.to_ascii_lowercase())
                .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
        ),
        // Byte order, which is also SQLite's BINARY collation on UTF-8.
        (Fact::Text(a), Literal::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        _ => None,
    }
}

/// Whole days from `from` to `to`, negative if `from` is later.
fn days_between(from: Date, to: Date) -> i64 {
    (to - from).whole_days()
}

/// Completed years of life on `today`. Comparing (month, day) pairs makes a
/// 29 February birthday complete the year on 1 March in common years.
pub(crate) fn age(date_of_birth: Date, today: Date) -> i64 {
    let years = i64::from(today.year()) - i64::from(date_of_birth.year());
    let before_birthday = (u8::from(today.month()), today.day())
        < (u8::from(date_of_birth.month()), date_of_birth.day());
    years - i64::from(before_birthday)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use time::macros::date;

    fn facts() -> RuleFacts {
        RuleFacts {
            today: date!(2024 - 06 - 15),
            total_spent: 123_456,
            points_balance: 500,
            visits: 12,
            last_visit: Some(date!(2024 - 05 - 16)),
            created: date!(2023 - 06 - 15),
            date_of_birth: Some(date!(1990 - 12 - 03)),
            origin_store: Some("S01".into()),
            city: Some("Denver".into()),
            customer_type: Some("Veteran".into()),
            has_email: true,
            has_medical_card: false,
            marketing_consent: true,
        }
    }

    fn t(src: &str, facts: &RuleFacts) -> Option<bool> {
        Rule::parse(src).unwrap().truth(facts)
    }

    #[test]
    fn each_field_on_known_facts() {
        let f = facts();
        for (src, want) in [
            ("total_spent >= 1234.56", true),
            ("total_spent > 1234.56", false),
            ("total_spent = 1234.56", true),
            ("points_balance = 5", true),
            ("points_balance in [4.99, 5.00]", true),
            ("visits >= 10", true),
            ("visits not in [12]", false),
            ("last_visit_days = 30", true),
            ("created_days = 366", true),
            ("age = 33", true),
            ("birth_month = 12", true),
            ("created = 2023-06-15", true),
            ("created < 2023-06-15", false),
            ("origin_store = \"S01\"", true),
            ("origin_store = \"s01\"", false),
            ("city = \"DENVER\"", true),
            ("city in [\"boulder\", \"denver\"]", true),
            ("city != \"denver\"", false),
            ("type = \"veteran\"", true),
            ("has_email", true),
            ("has_medical_card", false),
            ("has_medical_card = false", true),
            ("marketing_consent != true", false),
        ] {
            assert_eq!(t(src, &f), Some(want), "{src}");
            assert_eq!(Rule::parse(src).unwrap().evaluate(&f), want, "{src}");
        }
    }

    #[test]
    fn text_folding_is_ascii_only() {
        let f = RuleFacts {
            city: Some("ZÜRICH".into()),
            ..facts()
        };
        assert_eq!(t("city = \"zÜrich\"", &f), Some(true));
        assert_eq!(t("city = \"zürich\"", &f), Some(false));
    }

    #[test]
    fn unknown_values_are_null() {
        let f = RuleFacts {
            last_visit: None,
            date_of_birth: None,
            origin_store: None,
            city: None,
            customer_type: None,
            ..facts()
        };
        for src in [
            "last_visit_days > 1",
            "age >= 21",
            "not (age >= 21)",
            "birth_month in [1, 2]",
            "birth_month not in [1, 2]",
            "origin_store = \"S01\"",
            "origin_store != \"S01\"",
            "city = \"Denver\"",
            "type != \"x\"",
            "age > 1 and has_email",
            "age > 1 or has_medical_card",
        ] {
            assert_eq!(t(src, &f), None, "{src}");
            assert!(!Rule::parse(src).unwrap().evaluate(&f), "{src}");
        }
        // Kleene: a known operand can decide on its own.
        assert_eq!(t("age > 1 and has_medical_card", &f), Some(false));
        assert_eq!(t("has_medical_card and age > 1", &f), Some(false));
        assert_eq!(t("age > 1 or has_email", &f), Some(true));
        assert_eq!(t("not (age > 1 or has_email)", &f), Some(false));
        assert_eq!(t("created_days >= 0", &f), Some(true));
    }

    #[test]
    fn age_turns_on_the_birthday() {
        let dob = date!(2000 - 06 - 15);
        assert_eq!(age(dob, date!(2024 - 06 - 14)), 23);
        assert_eq!(age(dob, date!(2024 - 06 - 15)), 24);
        assert_eq!(age(dob, date!(2000 - 06 - 15)), 0);
        assert_eq!(age(dob, date!(2000 - 06 - 14)), -1);
        assert_eq!(age(date!(1999 - 12 - 31), date!(2000 - 01 - 01)), 0);
    }

    #[test]
    fn leap_day_birthdays() {
        let dob = date!(2004 - 02 - 29);
        // Common year: still 20 on 28 February, 21 on 1 March.
        assert_eq!(age(dob, date!(2025 - 02 - 28)), 20);
        assert_eq!(age(dob, date!(2025 - 03 - 01)), 21);
        // Leap year: the birthday itself exists.
        assert_eq!(age(dob, date!(2024 - 02 - 28)), 19);
        assert_eq!(age(dob, date!(2024 - 02 - 29)), 20);

        let f = RuleFacts {
            today: date!(2025 - 02 - 28),
            date_of_birth: Some(dob),
            ..facts()
        };
        assert_eq!(t("age >= 21", &f), Some(false));
        let f = RuleFacts {
            today: date!(2025 - 03 - 01),
            ..f
        };
        assert_eq!(t("age >= 21", &f), Some(true));
        assert_eq!(t("birth_month = 2", &f), Some(true));
    }

    #[test]
    fn day_counts_can_be_negative() {
        let f = RuleFacts {
            last_visit: Some(date!(2024 - 06 - 20)),
            ..facts()
        };
        assert_eq!(t("last_visit_days = -5", &f), Some(true));
        assert_eq!(
            days_between(date!(2023 - 12 - 31), date!(2024 - 03 - 01)),
            61
        );
    }
}
