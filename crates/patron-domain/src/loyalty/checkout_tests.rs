use super::*;
use proptest::prelude::*;

fn pct(s: &str) -> Percent {
    Percent::parse(s).unwrap()
}

fn line(category: &str, qty: i64, unit: &str, price: i64) -> CartLine {
    CartLine {
        sku: format!("sku-{category}"),
        name: category.into(),
        category: category.into(),
        quantity: qty,
        unit: unit.into(),
        unit_price: price,
    }
}

fn group(name: &str, program: Program) -> GroupTerms {
    GroupTerms {
        id: name.into(),
        name: name.into(),
        program,
        spend_limit: None,
        min_age: None,
    }
}

fn input<'a>(
    lines: &'a [CartLine],
    groups: &'a [GroupTerms],
    settings: &'a LoyaltySettings,
) -> QuoteInput<'a> {
    QuoteInput {
        lines,
        groups,
        customer_type: None,
        age: Some(30),
        points_available: 0,
        credit_available: 0,
        redeemed: RedeemedSoFar::default(),
        limits: &[],
        settings,
        redeem_points: 0,
        redeem_credit: 0,
        already_made: false,
    }
}

#[test]
fn group_discount_then_earn_on_what_was_paid() {
    let lines = [
        line("flower", 3_500, "g", 1_000),
        line("accessories", 1_000, "ea", 1_999),
    ];
    let groups = [
        group("Silver", Program::Discount { percent: pct("5") }),
        group(
            "Points",
            Program::Points {
                percent: pct("2"),
                birthday_bonus: 0,
                registration_bonus: 0,
                max_redeem: None,
            },
        ),
    ];
    let settings = LoyaltySettings::default();
    let mut i = input(&lines, &groups, &settings);
    i.points_available = 10_000;
    i.redeem_points = 1_000;
    let q = quote(&i);
    assert_eq!(q.subtotal, 3_500 + 1_999);
    assert_eq!(q.discount_total, 275); // 5 % of 54.99 = 2.7495 → 2.75
    assert_eq!(q.total, 5_224);
    assert_eq!(q.line_net.iter().sum::<i64>(), q.total);
    assert_eq!(q.max_points, 2_612); // 50 % of 52.24, rounded down
    assert_eq!(q.points_redeemed, 1_000);
    assert_eq!(q.amount_due, 4_224);
    assert_eq!(q.earn, 84); // 2 % of 42.24 = 0.8448 → 0.84
    assert!(q.errors.is_empty() && q.refusals.is_empty());
}

#[test]
fn larger_discount_applies_unless_stacking() {
    let lines = [line("x", 1_000, "ea", 10_000)];
    let groups = [group("G", Program::Discount { percent: pct("10") })];
    let t = TypeTerms {
        id: "t".into(),
        name: "Veteran".into(),
        tax_exempt: true,
        discount: TypeDiscount::Fixed(1_500),
    };
    let settings = LoyaltySettings::default();
    let mut i = input(&lines, &groups, &settings);
    i.customer_type = Some(&t);
    let q = quote(&i);
    assert_eq!(q.discount_total, 1_500);
    assert!(matches!(q.discounts[0].source, DiscountSource::Type { .. }));
    assert!(q.tax_exempt);
    let stacked = LoyaltySettings {
        stack_discounts: true,
        ..LoyaltySettings::default()
    };
    let mut i = input(&lines, &groups, &stacked);
    i.customer_type = Some(&t);
    assert_eq!(quote(&i).discount_total, 1_000 + 1_500);
    // A fixed discount never exceeds the order.
    let small = [line("x", 1_000, "ea", 500)];
    let mut i = input(&small, &[], &settings);
    i.customer_type = Some(&t);
    assert_eq!(quote(&i).total, 0);
}

#[test]
fn redemption_is_capped_by_balance_percent_and_spend_limit() {
    let lines = [line("x", 1_000, "ea", 10_000)];
    let mut g = group(
        "P",
        Program::Points {
            percent: pct("5"),
            birthday_bonus: 0,
            registration_bonus: 0,
            max_redeem: Some(pct("30")),
        },
    );
    g.spend_limit = Some(SpendLimit {
        amount: 2_000,
        period: Period::Week,
    });
    let groups = [g];
    let settings = LoyaltySettings::default();
    let mut i = input(&lines, &groups, &settings);
    i.points_available = 100_000;
    assert_eq!(quote(&i).max_points, 2_000);
    i.redeemed.week = 1_500;
    let q = quote(&i);
    assert_eq!(q.max_points, 500);
    i.redeem_points = 501;
    let q = quote(&i);
    assert_eq!(q.errors.len(), 1);
    assert_eq!(q.errors[0].field, "redeem_points");
    i.redeemed.week = 0;
    i.redeem_points = 0;
    i.points_available = 100;
    assert_eq!(quote(&i).max_points, 100);
    groups_without_limit_use_global_max();
}

fn groups_without_limit_use_global_max() {
    let lines = [line("x", 1_000, "ea", 10_000)];
    let settings = LoyaltySettings {
        max_redeem: pct("20"),
        ..LoyaltySettings::default()
    };
    let mut i = input(&lines, &[], &settings);
    i.points_available = 100_000;
    assert_eq!(quote(&i).max_points, 2_000);
}

#[test]
fn age_and_purchase_limits_refuse() {
    let lines = [
        line("flower", 20_000, "g", 1_000),
        line("concentrate", 3_000, "g", 4_000),
    ];
    let mut rec = group("Recreational", Program::None);
    rec.min_age = Some(21);
    let groups = [rec];
    let settings = LoyaltySettings::default();
    let limit = PurchaseLimit {
        name: "Daily".into(),
        period: Period::Day,
        enforcement: Enforcement::Warn,
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
        ],
    };
    let limits = [(limit, vec![])];
    let mut i = input(&lines, &groups, &settings);
    i.limits = &limits;
    i.age = Some(19);
    let q = quote(&i);
    let codes: Vec<_> = q.refusals.iter().map(|r| (r.code, r.overridable)).collect();
    // 20/28 + 3/8 = 1.089 of the limit.
    assert_eq!(codes, vec![("age", false), ("purchase_limit", true)]);
    assert!(q.blocked(true));
    i.age = Some(21);
    let q = quote(&i);
    assert!(q.blocked(false));
    assert!(!q.blocked(true));
    i.age = None;
    assert!(quote(&i).refusals.iter().any(|r| r.code == "age"));
}

#[test]
fn a_full_return_gives_back_exactly_what_was_paid_and_earned() {
    let sold = vec![
        SoldLine {
            quantity: 3_000,
            returned: 0,
            net: 1_000,
        },
        SoldLine {
            quantity: 1_000,
            returned: 0,
            net: 333,
        },
    ];
    let money = OrderMoney {
        total: 1_333,
        points_redeemed: 400,
        credit_redeemed: 101,
        earned: 47,
        ..OrderMoney::default()
    };
    let r1 = return_amounts(&sold, &money, &[(0, 1_000)]).unwrap();
    assert_eq!(r1.net, 333);
    assert_eq!(r1.points_refund, 99); // floor(400 × 333 / 1333)
    let after = |m: OrderMoney, r: &ReturnAmounts| OrderMoney {
        refunded_net: m.refunded_net + r.net,
        points_refunded: m.points_refunded + r.points_refund,
        credit_refunded: m.credit_refunded + r.credit_refund,
        earned_reversed: m.earned_reversed + r.earned_reversal,
        ..m
    };
    let m2 = after(money, &r1);
    let sold2 = vec![
        SoldLine {
            returned: 1_000,
            ..sold[0].clone()
        },
        sold[1].clone(),
    ];
    let r2 = return_amounts(&sold2, &m2, &[(0, 2_000), (1, 1_000)]).unwrap();
    let m3 = after(m2, &r2);
    assert_eq!(m3.refunded_net, 1_333);
    assert_eq!(m3.points_refunded, 400);
    assert_eq!(m3.credit_refunded, 101);
    assert_eq!(m3.earned_reversed, 47);
    // Nothing is left to return.
    let sold3 = vec![
        SoldLine {
            returned: 3_000,
            ..sold[0].clone()
        },
        SoldLine {
            returned: 1_000,
            ..sold[1].clone()
        },
    ];
    let err = return_amounts(&sold3, &m3, &[(1, 1)]).unwrap_err();
    assert_eq!(err[0].field, "lines[0].quantity");
    assert!(return_amounts(&sold3, &m3, &[(7, 1)]).is_err());
    assert!(return_amounts(&sold3, &m3, &[]).is_err());
}

proptest! {
    #[test]
    fn returns_never_give_back_more_than_was_sold(
        qtys in proptest::collection::vec(1i64..5_000, 1..5),
        prices in proptest::collection::vec(1i64..10_000, 5),
        redeem_pct in 0i64..=100, credit_pct in 0i64..=100, earned in 0i64..5_000,
        steps in proptest::collection::vec((0usize..5, 1i64..3_000), 1..12),
    ) {
        let nets: Vec<i64> = qtys.iter().zip(&prices).map(|(q, p)| q * p / 1000 + 1).collect();
        let total: i64 = nets.iter().sum();
        let points = total * redeem_pct / 100;
        let credit = (total - points) * credit_pct / 100;
        let mut sold: Vec<SoldLine> = qtys.iter().zip(&nets).map(|(q, n)| SoldLine { quantity: *q, returned: 0, net: *n }).collect();
        let mut m = OrderMoney { total, points_redeemed: points, credit_redeemed: credit, earned, ..OrderMoney::default() };
        let mut returned_all = false;
        for (idx, q) in steps.iter().copied().chain(sold.iter().enumerate().map(|(i, l)| (i, l.quantity)).collect::<Vec<_>>()) {
            let idx = idx % sold.len();
            let left = sold[idx].quantity - sold[idx].returned;
            let q = q.min(left);
            if q == 0 { continue; }
            let r = return_amounts(&sold, &m, &[(idx, q)]).unwrap();
            prop_assert!(r.money_refund >= 0 && r.points_refund >= 0 && r.credit_refund >= 0 && r.earned_reversal >= 0);
            sold[idx].returned += q;
            m.refunded_net += r.net;
            m.points_refunded += r.points_refund;
            m.credit_refunded += r.credit_refund;
            m.earned_reversed += r.earned_reversal;
            prop_assert!(m.refunded_net <= total && m.points_refunded <= points && m.credit_refunded <= credit && m.earned_reversed <= earned);
            returned_all = sold.iter().all(|l| l.returned == l.quantity);
        }
        prop_assert!(returned_all);
        prop_assert_eq!((m.refunded_net, m.points_refunded, m.credit_refunded, m.earned_reversed), (total, points, credit, earned));
    }
}
