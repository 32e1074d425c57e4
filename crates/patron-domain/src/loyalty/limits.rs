//! Purchase limits with equivalences between categories, as cannabis regulators
//! write them: "28 g of flower, or 8 g of concentrate, or 800 mg of THC in
//! edibles, per day". Each allowance says how much of one category uses up the
//! whole limit; a purchase uses the sum of its fractions, and the limit is
//! breached when that sum passes 1.
//!
//! Fractions are kept in parts per billion, each rounded **up**, so rounding can
//! only make a check stricter, never let a breach through.

use super::program::Period;

/// Quantities are thousandths of their unit (1.5 g = 1500).
pub type Milli = i64;

pub const WHOLE: i64 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    pub category: String,
    pub unit: String,
    /// This much of the category alone uses up the limit.
    pub max_quantity: Milli,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// The sale is refused.
    Hard,
    /// The sale needs a manager's override, which is audited.
    Warn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseLimit {
    pub name: String,
    pub period: Period,
    pub enforcement: Enforcement,
    pub allowances: Vec<Allowance>,
}

/// A quantity bought, for limit counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bought {
    pub category: String,
    pub unit: String,
    pub quantity: Milli,
}

/// The outcome of checking one limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCheck {
    pub limit: String,
    pub enforcement: Enforcement,
    /// Parts per billion of the limit used before this cart and with it.
    pub used_before: i64,
    pub used_after: i64,
    /// Lines whose category is limited but whose unit is not the allowance's:
    /// they cannot be counted, so the check cannot pass.
    pub unit_mismatch: Vec<String>,
}

impl LimitCheck {
    pub fn breached(&self) -> bool {
        self.used_after > WHOLE || !self.unit_mismatch.is_empty()
    }

    /// "42.5 %", for messages.
    pub fn percent_after(&self) -> String {
        let tenths =
            (i128::from(self.used_after) * 1000 + i128::from(WHOLE) - 1) / i128::from(WHOLE);
        format!("{}.{} %", tenths / 10, tenths % 10)
    }
}

fn fraction(a: &Allowance, quantity: Milli) -> i64 {
    if a.max_quantity <= 0 || quantity <= 0 {
        return 0;
    }
    let num = i128::from(quantity) * i128::from(WHOLE);
    let den = i128::from(a.max_quantity);
    i64::try_from((num + den - 1) / den).unwrap_or(i64::MAX)
}

impl PurchaseLimit {
    fn allowance(&self, category: &str) -> Option<&Allowance> {
        self.allowances
            .iter()
            .find(|a| a.category.eq_ignore_ascii_case(category))
    }

    /// Parts per billion of this limit that `items` use; lines in a limited
    /// category with another unit are returned separately.
    pub fn usage<'a>(&self, items: impl IntoIterator<Item = &'a Bought>) -> (i64, Vec<String>) {
        let mut used: i64 = 0;
        let mut mismatch = Vec::new();
        for b in items {
            if let Some(a) = self.allowance(&b.category) {
                if a.unit.eq_ignore_ascii_case(&b.unit) {
                    used = used.saturating_add(fraction(a, b.quantity));
                } else {
                    mismatch.push(format!(
                        "{} is limited in {} but was sold in {}",
                        b.category, a.unit, b.unit
                    ));
                }
            }
        }
        (used, mismatch)
    }

    /// Checks a cart against the purchases already made in this limit's period.
    pub fn check(&self, earlier: &[Bought], cart: &[Bought]) -> LimitCheck {
        let (before, _) = self.usage(earlier);
        let (now, unit_mismatch) = self.usage(cart);
        LimitCheck {
            limit: self.name.clone(),
            enforcement: self.enforcement,
            used_before: before,
            used_after: before.saturating_add(now),
            unit_mismatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily() -> PurchaseLimit {
        PurchaseLimit {
            name: "Daily THC".into(),
            period: Period::Day,
            enforcement: Enforcement::Hard,
            allowances: vec![
                Allowance {
                    category: "flower".into(),
                    unit: "g".into(),
                    max_quantity: 28_000,
                },
                Allowance {
                    category: "concentrate".into(),
                    unit: "g".into(),
                    max_quantity: 8_000,
                },
                Allowance {
                    category: "edible".into(),
                    unit: "mg".into(),
                    max_quantity: 800_000,
                },
            ],
        }
    }

    fn bought(c: &str, u: &str, q: Milli) -> Bought {
        Bought {
            category: c.into(),
            unit: u.into(),
            quantity: q,
        }
    }

    #[test]
    fn equivalences_add_up_to_the_limit() {
        let l = daily();
        // 14 g flower (1/2) + 4 g concentrate (1/2) = exactly the limit.
        let c = l.check(
            &[bought("flower", "g", 14_000)],
            &[bought("concentrate", "g", 4_000)],
        );
        assert_eq!(c.used_after, WHOLE);
        assert!(!c.breached());
        // One more milligram of edible breaks it.
        let c = l.check(
            &[
                bought("flower", "g", 14_000),
                bought("concentrate", "g", 4_000),
            ],
            &[bought("edible", "mg", 1)],
        );
        assert!(c.breached());
        assert_eq!(c.percent_after(), "100.1 %");
    }

    #[test]
    fn other_categories_do_not_count_and_units_must_match() {
        let l = daily();
        let c = l.check(&[], &[bought("Accessories", "ea", 5_000)]);
        assert_eq!(c.used_after, 0);
        let c = l.check(&[], &[bought("Flower", "oz", 1_000)]);
        assert!(c.breached());
        assert_eq!(c.unit_mismatch.len(), 1);
    }

    #[test]
    fn rounding_only_makes_checks_stricter() {
        let l = PurchaseLimit {
            allowances: vec![Allowance {
                category: "x".into(),
                unit: "g".into(),
                max_quantity: 3,
            }],
            ..daily()
        };
        // Three thirds, each rounded up, exceed the whole by 2 ppb: refused.
        let c = l.check(
            &[bought("x", "g", 1), bought("x", "g", 1)],
            &[bought("x", "g", 1)],
        );
        assert!(c.used_after >= WHOLE);
    }
}
