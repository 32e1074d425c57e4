//! Likely-same-person lookups and the duplicates report, on the key columns
//! `id_key`, `phone_rev`, `email_key` and `person_key` (each indexed).

use crate::customers::{COLUMNS, by_seq, row_to_customer};
use crate::db_err;
use patron_domain::{DuplicateKeys, SameBy};
use patron_storage::{DuplicateCluster, DuplicateReport, LikelySame, Result};
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

fn column(by: SameBy) -> &'static str {
    match by {
        SameBy::IdDocument => "id_key",
        SameBy::Phone => "phone_rev",
        SameBy::Email => "email_key",
        SameBy::NameAndBirth => "person_key",
    }
}

/// A key shared by more customers than this is not a person's (a shop's own
/// phone typed for every walk-in, say): the lookup stops there.
const MAX_PER_KEY: usize = 50;

pub fn likely_same(
    c: &Connection,
    keys: &DuplicateKeys,
    except: Option<Uuid>,
    limit: usize,
) -> Result<Vec<LikelySame>> {
    let except = except.map(|u| u.to_string());
    let mut found: BTreeMap<i64, Vec<SameBy>> = BTreeMap::new();
    for by in SameBy::ALL {
        let Some(key) = keys.get(by) else { continue };
        let mut st = c
            .prepare_cached(&format!(
                "SELECT seq, id FROM customers WHERE {} = ?1 AND merged_into IS NULL LIMIT {MAX_PER_KEY}",
                column(by)
            ))
            .map_err(db_err)?;
        let rows = st
            .query_map([key], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(db_err)?;
        for row in rows {
            let (seq, id) = row.map_err(db_err)?;
            if except.as_deref() != Some(id.as_str()) {
                found.entry(seq).or_default().push(by);
            }
        }
    }
    let mut ranked: Vec<(i64, Vec<SameBy>)> = found.into_iter().collect();
    // Strongest shared key first (SameBy's order), then more keys shared, then oldest.
    ranked.sort_by(|a, b| {
        a.1.first()
            .cmp(&b.1.first())
            .then(b.1.len().cmp(&a.1.len()))
            .then(a.0.cmp(&b.0))
    });
    ranked
        .into_iter()
        .take(limit)
        .map(|(seq, by)| {
            Ok(LikelySame {
                customer: by_seq(c, seq)?,
                by,
            })
        })
        .collect()
}

/// Union-find over customer seqs.
#[derive(Default)]
struct Clusters {
    parent: HashMap<i64, i64>,
}

impl Clusters {
    fn root(&mut self, x: i64) -> i64 {
        let mut r = x;
        while let Some(&p) = self.parent.get(&r) {
            if p == r {
                break;
            }
            r = p;
        }
        // Path compression.
        let mut y = x;
        while y != r {
            let next = self.parent.get(&y).copied().unwrap_or(r);
            self.parent.insert(y, r);
            y = next;
        }
        r
    }

    fn join(&mut self, a: i64, b: i64) {
        self.parent.entry(a).or_insert(a);
        self.parent.entry(b).or_insert(b);
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            self.parent.insert(ra.max(rb), ra.min(rb));
        }
    }
}

/// Rows merged into another customer: never a likely duplicate any more.
fn merged_away(c: &Connection) -> Result<std::collections::HashSet<i64>> {
    c.prepare_cached("SELECT seq FROM customers WHERE merged_into IS NOT NULL")
        .map_err(db_err)?
        .query_map([], |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)
}

/// Pairs (new row, other row, what they share) for every row from
/// `first_seq` on that shares a key with another customer (not merged away).
pub fn involving_new(c: &Connection, first_seq: i64) -> Result<Vec<(i64, i64, SameBy)>> {
    // Read from the key's index alone; the few merged-away rows are dropped after.
    let merged = merged_away(c)?;
    let mut out = Vec::new();
    for by in SameBy::ALL {
        let col = column(by);
        let mut st = c
            .prepare(&format!(
                "SELECT group_concat(seq) FROM customers WHERE {col} IS NOT NULL
                 GROUP BY {col} HAVING count(*) BETWEEN 2 AND {MAX_PER_KEY} AND max(seq) >= ?1"
            ))
            .map_err(db_err)?;
        let rows = st
            .query_map([first_seq], |r| r.get::<_, String>(0))
            .map_err(db_err)?;
        for row in rows {
            let seqs: Vec<i64> = row
                .map_err(db_err)?
                .split(',')
                .filter_map(|s| s.parse().ok())
                .filter(|s| !merged.contains(s))
                .collect();
            for &s in seqs.iter().filter(|s| **s >= first_seq) {
                for &o in seqs.iter().filter(|o| **o != s) {
                    out.push((s, o, by));
                }
            }
        }
    }
    Ok(out)
}

pub fn clusters(c: &Connection, limit: usize, offset: usize) -> Result<DuplicateReport> {
    // Merged-away records are their survivor already: not duplicates of it.
    let merged = merged_away(c)?;
    let mut uf = Clusters::default();
    let mut links: Vec<(i64, SameBy)> = Vec::new();
    for by in SameBy::ALL {
        let col = column(by);
        // Each GROUP BY reads the key's partial index in order.
        let mut st = c
            .prepare_cached(&format!(
                "SELECT group_concat(seq) FROM customers WHERE {col} IS NOT NULL
                 GROUP BY {col} HAVING count(*) BETWEEN 2 AND {MAX_PER_KEY}"
            ))
            .map_err(db_err)?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(db_err)?;
        for row in rows {
            let seqs: Vec<i64> = row
                .map_err(db_err)?
                .split(',')
                .filter_map(|s| s.parse().ok())
                .filter(|s| !merged.contains(s))
                .collect();
            if let Some((&first, rest)) = seqs.split_first()
                && !rest.is_empty()
            {
                for &s in rest {
                    uf.join(first, s);
                }
                links.push((first, by));
            }
        }
    }
    let seqs: Vec<i64> = uf.parent.keys().copied().collect();
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    for s in seqs {
        let r = uf.root(s);
        members.entry(r).or_default().push(s);
    }
    let mut kinds: HashMap<i64, BTreeSet<SameBy>> = HashMap::new();
    for (s, by) in links {
        let r = uf.root(s);
        kinds.entry(r).or_default().insert(by);
    }
    let mut all: Vec<(i64, Vec<i64>)> = members.into_iter().collect();
    for (_, m) in &mut all {
        m.sort_unstable();
    }
    // Biggest first; among equals, the one holding the oldest record.
    all.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.1[0].cmp(&b.1[0])));
    let total_customers = all.iter().map(|(_, m)| m.len()).sum();
    let total_clusters = all.len();
    let mut page = Vec::new();
    let mut read = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM customers WHERE seq = ?1"))
        .map_err(db_err)?;
    for (root, seqs) in all.into_iter().skip(offset).take(limit) {
        let mut customers = Vec::with_capacity(seqs.len());
        for s in seqs {
            let (_, cust) = read.query_row([s], row_to_customer).map_err(db_err)?;
            customers.push(cust);
        }
        customers.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
        page.push(DuplicateCluster {
            customers,
            by: kinds
                .remove(&root)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        });
    }
    Ok(DuplicateReport {
        clusters: page,
        total_clusters,
        total_customers,
    })
}
