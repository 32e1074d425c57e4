//! Rewrites a rule into an equivalent one that costs SQLite fewer steps per
//! customer. Each rewrite holds in three-valued logic, unknown included (the
//! agreement test runs every compiled rule against the domain's evaluator):
//!
//! - `type = "a" or type = "b"` is `type in ["a", "b"]`: one lookup in a list
//!   SQLite indexes once per query, instead of one comparison per value. Both
//!   are unknown when the type is, true when it is one of them, false otherwise.
//!   Likewise `city != "a" and city != "b"` is `city not in ["a", "b"]`.
//! - `a or (b or c)` is `a or b or c` (and the same for `and`), which lets the
//!   merge above see through parentheses.
//! - `not not x` is `x`.

use std::collections::HashMap;

use patron_domain::rules::{CmpOp, Expr, Field, Literal};

pub(crate) fn normalize(expr: &Expr) -> Expr {
    match expr {
        Expr::Not(inner) => match &**inner {
            Expr::Not(x) => normalize(x),
            other => Expr::Not(Box::new(normalize(other))),
        },
        Expr::Or(items) => chain(items, true),
        Expr::And(items) => chain(items, false),
        leaf => leaf.clone(),
    }
}

/// An `or` (`is_or`) or `and` chain, flattened, with the conditions a list
/// can replace merged into one list per field.
fn chain(items: &[Expr], is_or: bool) -> Expr {
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match normalize(item) {
            Expr::Or(inner) if is_or => flat.extend(inner),
            Expr::And(inner) if !is_or => flat.extend(inner),
            other => flat.push(other),
        }
    }
    let mut per_field: HashMap<Field, usize> = HashMap::new();
    for e in &flat {
        if let Some((field, _)) = as_list(e, is_or) {
            *per_field.entry(field).or_default() += 1;
        }
    }
    // Where the merged list of a field sits in `out`: its first occurrence.
    let mut slot: HashMap<Field, usize> = HashMap::new();
    let mut out: Vec<Expr> = Vec::with_capacity(flat.len());
    for e in flat {
        let mergeable =
            as_list(&e, is_or).filter(|(f, _)| per_field.get(f).is_some_and(|&n| n > 1));
        let Some((field, values)) = mergeable else {
            out.push(e);
            continue;
        };
        match slot.get(&field).and_then(|&i| out.get_mut(i)) {
            Some(Expr::In { values: merged, .. }) => merged.extend(values),
            _ => {
                slot.insert(field, out.len());
                out.push(Expr::In {
                    field,
                    negated: !is_or,
                    values,
                });
            }
        }
    }
    if out.len() == 1
        && let Some(only) = out.pop()
    {
        return only;
    }
    if is_or { Expr::Or(out) } else { Expr::And(out) }
}

/// The field and values of a condition that is one `in` list in this chain:
/// equalities and `in` in an `or`, inequalities and `not in` in an `and`.
fn as_list(e: &Expr, is_or: bool) -> Option<(Field, Vec<Literal>)> {
    let wanted = if is_or { CmpOp::Eq } else { CmpOp::Ne };
    match e {
        Expr::Compare { field, op, value } if *op == wanted => Some((*field, vec![value.clone()])),
        Expr::In {
            field,
            negated,
            values,
        } if *negated != is_or => Some((*field, values.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patron_domain::rules::Rule;

    fn n(src: &str) -> String {
        normalize(Rule::parse(src).unwrap().expr()).to_string()
    }

    #[test]
    fn equalities_in_an_or_become_one_list() {
        assert_eq!(
            n(r#"type = "a" or age > 3 or type = "b" or type in ["c", "d"]"#),
            r#"type in ["a", "b", "c", "d"] or age > 3"#
        );
        assert_eq!(n(r#"type = "x" or type = "x""#), r#"type in ["x", "x"]"#);
        assert_eq!(
            n(r#"city = "a" or (visits = 1 or city = "b")"#),
            r#"city in ["a", "b"] or visits = 1"#
        );
        // One of a kind stays as written.
        assert_eq!(
            n(r#"type = "a" or city = "b""#),
            r#"type = "a" or city = "b""#
        );
    }

    #[test]
    fn inequalities_in_an_and_become_one_negated_list() {
        assert_eq!(
            n(r#"city != "a" and has_email and city not in ["b"]"#),
            r#"city not in ["a", "b"] and has_email"#
        );
        // Not the other way round: `or` of inequalities is not a list.
        assert_eq!(
            n("visits != 1 or visits != 2"),
            "visits != 1 or visits != 2"
        );
        assert_eq!(n("visits = 1 and visits = 2"), "visits = 1 and visits = 2");
        assert_eq!(
            n("visits in [1] and visits in [2]"),
            "visits in [1] and visits in [2]"
        );
    }

    #[test]
    fn double_negations_cancel() {
        assert_eq!(n("not not has_email"), "has_email");
        assert_eq!(n("not not not has_email"), "not has_email");
        assert_eq!(
            n(r#"not not (type = "a" or type = "b")"#),
            r#"type in ["a", "b"]"#
        );
    }

    #[test]
    fn nested_chains_flatten() {
        assert_eq!(
            n("(has_email and visits > 1) and (age > 2 and visits < 9)"),
            "has_email and visits > 1 and age > 2 and visits < 9"
        );
        assert_eq!(
            n("has_email or (visits > 1 and age > 2)"),
            "has_email or visits > 1 and age > 2"
        );
    }
}
