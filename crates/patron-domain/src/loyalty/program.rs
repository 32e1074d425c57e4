//! Loyalty programs, customer types and the global loyalty settings, and how
//! several of them combine for one customer.

use super::money::Percent;
use time::{Date, Duration, Month};

/// What membership of a group earns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Program {
    #[default]
    None,
    /// N % off the order.
    Discount { percent: Percent },
    /// N % of the amount paid accrues to the points account, spendable later.
    Cashback { percent: Percent },
    /// N % of the amount paid is earned as points; bonuses on birthdays and
    /// sign-up; at most `max_redeem` of an order may be paid with points.
    Points {
        percent: Percent,
        birthday_bonus: i64,
        registration_bonus: i64,
        max_redeem: Option<Percent>,
    },
}

impl Program {
    pub fn kind(&self) -> &'static str {
        match self {
            Program::None => "none",
            Program::Discount { .. } => "discount",
            Program::Cashback { .. } => "cashback",
            Program::Points { .. } => "points",
        }
    }
}

/// A calendar period for spend and purchase limits, in the node's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            "year" => Some(Period::Year),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    /// The first day of the period holding `today` (weeks start on Monday).
    pub fn start(self, today: Date) -> Date {
        match self {
            Period::Day => today,
            Period::Week => {
                today - Duration::days(i64::from(today.weekday().number_days_from_monday()))
            }
            Period::Month => today.replace_day(1).unwrap_or(today),
            Period::Year => {
                Date::from_calendar_date(today.year(), Month::January, 1).unwrap_or(today)
            }
        }
    }
}

/// A cap on points redeemed per period, set on a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendLimit {
    pub amount: i64,
    pub period: Period,
}

/// What the checkout needs to know about one group the customer belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTerms {
    pub id: String,
    pub name: String,
    pub program: Program,
    pub spend_limit: Option<SpendLimit>,
    pub min_age: Option<u32>,
}

/// A customer type's terms (veteran, employee…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeTerms {
    pub id: String,
    pub name: String,
    pub tax_exempt: bool,
    pub discount: TypeDiscount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TypeDiscount {
    #[default]
    None,
    Percent(Percent),
    /// A fixed amount off every order (never more than the order).
    Fixed(i64),
}

/// A move to a group once total purchases reach a threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub threshold: i64,
    pub group_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoyaltySettings {
    /// The most of an order payable with points, whatever a group allows.
    pub max_redeem: Percent,
    /// Points given once when a customer signs up.
    pub registration_bonus: i64,
    pub transitions_enabled: bool,
    /// Sorted by threshold.
    pub transitions: Vec<Transition>,
    /// Points expire this many days after they were earned; `None`: never.
    pub points_lifetime_days: Option<u32>,
    /// Points earned on an order cannot be spent for this many days.
    pub return_window_days: u32,
    /// false: the larger of the group and type discounts applies; true: both,
    /// the type's applied to what is left after the group's.
    pub stack_discounts: bool,
    /// The node's offset from UTC, for "today", periods and midnight.
    pub utc_offset_minutes: i32,
    /// What a store may let one customer redeem (points and credit together)
    /// while it cannot reach HQ to authorise redemptions.
    pub offline_redeem_cap: i64,
    /// The most store credit one store may top up in 24 hours (all its
    /// customers together). HQ's own top-ups are not limited.
    pub store_topup_daily_cap: i64,
    /// The customer type (its id) a licence's veteran indicator suggests
    /// when a customer is added from an ID scan; `None`: no suggestion.
    pub veteran_type: Option<String>,
}

impl Default for LoyaltySettings {
    fn default() -> Self {
        Self {
            max_redeem: Percent::from_bp(5_000).unwrap_or(Percent::HUNDRED),
            registration_bonus: 0,
            transitions_enabled: false,
            transitions: Vec::new(),
            points_lifetime_days: None,
            return_window_days: 14,
            stack_discounts: false,
            utc_offset_minutes: 0,
            offline_redeem_cap: 5_000,
            store_topup_daily_cap: 100_000,
            veteran_type: None,
        }
    }
}

impl LoyaltySettings {
    /// The transition group a customer with `total_spent` belongs in, if any:
    /// the one with the highest threshold reached.
    pub fn transition_for(&self, total_spent: i64) -> Option<&Transition> {
        if !self.transitions_enabled {
            return None;
        }
        self.transitions
            .iter()
            .filter(|t| total_spent >= t.threshold)
            .max_by_key(|t| t.threshold)
    }
}

/// How the programs of every group a customer belongs to combine. Each kind of
/// benefit is taken from the most generous group that offers it; limits from the
/// strictest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Benefits<'a> {
    pub discount: Option<(&'a GroupTerms, Percent)>,
    /// Earn rate for points and cash-back (both accrue to the points account).
    pub earn: Option<(&'a GroupTerms, Percent)>,
    pub birthday_bonus: i64,
    pub registration_bonus: i64,
    /// The most generous max-redeem among points groups, if any sets one.
    pub max_redeem: Option<Percent>,
    pub spend_limit: Option<(&'a GroupTerms, SpendLimit)>,
}

pub fn benefits(groups: &[GroupTerms]) -> Benefits<'_> {
    let mut b = Benefits::default();
    for g in groups {
        match &g.program {
            Program::None => {}
            Program::Discount { percent } => {
                if b.discount.is_none_or(|(_, p)| *percent > p) {
                    b.discount = Some((g, *percent));
                }
            }
            Program::Cashback { percent } => {
                if b.earn.is_none_or(|(_, p)| *percent > p) {
                    b.earn = Some((g, *percent));
                }
            }
            Program::Points {
                percent,
                birthday_bonus,
                registration_bonus,
                max_redeem,
            } => {
                if b.earn.is_none_or(|(_, p)| *percent > p) {
                    b.earn = Some((g, *percent));
                }
                b.birthday_bonus = b.birthday_bonus.max(*birthday_bonus);
                b.registration_bonus = b.registration_bonus.max(*registration_bonus);
                if let Some(m) = max_redeem {
                    b.max_redeem = Some(b.max_redeem.map_or(*m, |x| x.max(*m)));
                }
            }
        }
        if let Some(l) = g.spend_limit
            && b.spend_limit.is_none_or(|(_, cur)| l.amount < cur.amount)
        {
            b.spend_limit = Some((g, l));
        }
    }
    b
}

/// Whole years from `dob` to `today`; a 29 February birthday counts on 1 March
/// in other years.
pub fn age_on(dob: Date, today: Date) -> Option<u32> {
    if dob > today {
        return None;
    }
    let mut years = today.year() - dob.year();
    let before_birthday = (today.month() as u8, today.day()) < (dob.month() as u8, dob.day());
    if before_birthday {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Whether `today` is the customer's birthday (29 February → 1 March in other years).
pub fn is_birthday(dob: Date, today: Date) -> bool {
    if dob.month() == Month::February && dob.day() == 29 && !time::util::is_leap_year(today.year())
    {
        return today.month() == Month::March && today.day() == 1;
    }
    dob.month() == today.month() && dob.day() == today.day()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn group(name: &str, program: Program) -> GroupTerms {
        GroupTerms {
            id: name.into(),
            name: name.into(),
            program,
            spend_limit: None,
            min_age: None,
        }
    }

    #[test]
    fn most_generous_program_wins_per_kind() {
        let p = |s| Percent::parse(s).unwrap();
        let gs = vec![
            group("a", Program::Discount { percent: p("5") }),
            group("b", Program::Discount { percent: p("10") }),
            group("c", Program::Cashback { percent: p("2") }),
            group(
                "d",
                Program::Points {
                    percent: p("3"),
                    birthday_bonus: 500,
                    registration_bonus: 100,
                    max_redeem: Some(p("30")),
                },
            ),
        ];
        let b = benefits(&gs);
        assert_eq!(
            b.discount.map(|(g, p)| (g.name.as_str(), p.bp())),
            Some(("b", 1000))
        );
        assert_eq!(
            b.earn.map(|(g, p)| (g.name.as_str(), p.bp())),
            Some(("d", 300))
        );
        assert_eq!(b.birthday_bonus, 500);
        assert_eq!(b.max_redeem, Some(p("30")));
    }

    #[test]
    fn strictest_spend_limit_applies() {
        let mut a = group("a", Program::None);
        a.spend_limit = Some(SpendLimit {
            amount: 5000,
            period: Period::Month,
        });
        let mut b = group("b", Program::None);
        b.spend_limit = Some(SpendLimit {
            amount: 1000,
            period: Period::Day,
        });
        let gs = [a, b];
        assert_eq!(
            benefits(&gs).spend_limit.map(|(g, _)| g.name.as_str()),
            Some("b")
        );
    }

    #[test]
    fn ages_and_birthdays() {
        assert_eq!(
            age_on(date!(2000 - 06 - 15), date!(2021 - 06 - 14)),
            Some(20)
        );
        assert_eq!(
            age_on(date!(2000 - 06 - 15), date!(2021 - 06 - 15)),
            Some(21)
        );
        assert_eq!(
            age_on(date!(2004 - 02 - 29), date!(2025 - 02 - 28)),
            Some(20)
        );
        assert_eq!(
            age_on(date!(2004 - 02 - 29), date!(2025 - 03 - 01)),
            Some(21)
        );
        assert_eq!(age_on(date!(2030 - 01 - 01), date!(2025 - 03 - 01)), None);
        assert!(is_birthday(date!(2004 - 02 - 29), date!(2025 - 03 - 01)));
        assert!(is_birthday(date!(2004 - 02 - 29), date!(2028 - 02 - 29)));
        assert!(!is_birthday(date!(2004 - 02 - 29), date!(2028 - 03 - 01)));
    }

    #[test]
    fn periods_start_where_expected() {
        let d = date!(2026 - 11 - 26); // a Thursday
        assert_eq!(Period::Week.start(d), date!(2026 - 11 - 23));
        assert_eq!(Period::Month.start(d), date!(2026 - 11 - 01));
        assert_eq!(Period::Year.start(d), date!(2026 - 01 - 01));
        assert_eq!(Period::Day.start(d), d);
    }

    #[test]
    fn transitions_pick_the_highest_threshold_reached() {
        let s = LoyaltySettings {
            transitions_enabled: true,
            transitions: vec![
                Transition {
                    threshold: 10_000,
                    group_id: "silver".into(),
                },
                Transition {
                    threshold: 50_000,
                    group_id: "gold".into(),
                },
            ],
            ..LoyaltySettings::default()
        };
        assert_eq!(s.transition_for(9_999), None);
        assert_eq!(
            s.transition_for(10_000).map(|t| t.group_id.as_str()),
            Some("silver")
        );
        assert_eq!(
            s.transition_for(80_000).map(|t| t.group_id.as_str()),
            Some("gold")
        );
    }
}
