//! The rule preview: how many active customers a rule matches and the first
//! few of them in list order, from one evaluation of the rule (a count and a
//! sorted sample as two queries would evaluate it twice).

use crate::rule_sql::CompiledRule;
use crate::{customers, db_err};
use patron_storage::{Customer, Result};
use rusqlite::{Connection, params_from_iter};
use std::collections::BinaryHeap;

/// Most customers a preview shows.
pub(crate) const MAX_SAMPLE: usize = 100;

pub(crate) fn run(
    c: &Connection,
    rule: &CompiledRule,
    sample: usize,
) -> Result<(u64, Vec<Customer>)> {
    let sample = sample.min(MAX_SAMPLE);
    let q = rule.select_matching(&["seq", "sort_key"], "customers.active = 1", Vec::new());
    let mut st = c.prepare(&q.sql).map_err(db_err)?;
    let mut rows = st.query(params_from_iter(q.params)).map_err(db_err)?;
    let mut count = 0u64;
    // The `sample` smallest (sort_key, seq) so far, largest on top: the
    // customer list's order.
    let mut first: BinaryHeap<(String, i64)> = BinaryHeap::with_capacity(sample + 1);
    while let Some(r) = rows.next().map_err(db_err)? {
        count += 1;
        let seq: i64 = r.get(0).map_err(db_err)?;
        let key: &str = r.get_ref(1).and_then(|v| Ok(v.as_str()?)).map_err(db_err)?;
        let wanted = first.len() < sample
            || first
                .peek()
                .is_some_and(|(k, s)| (key, seq) < (k.as_str(), *s));
        if wanted {
            first.push((key.to_owned(), seq));
            if first.len() > sample {
                first.pop();
            }
        }
    }
    let customers = first
        .into_sorted_vec()
        .into_iter()
        .map(|(_, seq)| customers::by_seq(c, seq))
        .collect::<Result<_>>()?;
    Ok((count, customers))
}
