//! Merging a customer's state from HQ's feed into a store's copy: per field,
//! last writer wins on hybrid-logical-clock stamps, and the losing value is
//! kept for the audit trail. The rule for two stamps is
//! `patron_domain::replication::newer`; this is the rule for a whole record.

use patron_domain::replication::newer;

/// One field (a customer field by its API name, `active` or `type`) on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSides {
    pub name: String,
    pub remote: Option<String>,
    pub remote_clock: String,
    pub local: Option<String>,
    pub local_clock: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergePlan {
    /// Fields whose remote value wins: (name, value, its clock).
    pub take: Vec<(String, Option<String>, String)>,
    /// Same value on both sides, newer clock: only the clock moves.
    pub clocks: Vec<(String, String)>,
    /// Remote values that lose to newer local ones: (name, theirs, ours).
    pub lost: Vec<(String, Option<String>, Option<String>)>,
}

impl MergePlan {
    pub fn changes_anything(&self) -> bool {
        !self.take.is_empty() || !self.clocks.is_empty()
    }
}

/// Decides every field at once. `bound` is the latest sane clock (this node's
/// wall clock plus the skew bound): a stamp beyond it loses to any sane one.
pub fn merge_fields(fields: impl IntoIterator<Item = FieldSides>, bound: u64) -> MergePlan {
    let mut plan = MergePlan::default();
    for f in fields {
        let remote_newer = newer(&f.remote_clock, &f.local_clock, bound);
        if f.remote == f.local {
            if remote_newer {
                plan.clocks.push((f.name, f.remote_clock));
            }
        } else if remote_newer {
            plan.take.push((f.name, f.remote, f.remote_clock));
        } else {
            plan.lost.push((f.name, f.remote, f.local));
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(ms: u64, node: &str) -> String {
        format!("{ms:016}-000000000-{node}")
    }

    fn sides(
        name: &str,
        remote: Option<&str>,
        rc: u64,
        local: Option<&str>,
        lc: u64,
    ) -> FieldSides {
        FieldSides {
            name: name.into(),
            remote: remote.map(str::to_owned),
            remote_clock: stamp(rc, "HQ"),
            local: local.map(str::to_owned),
            local_clock: stamp(lc, "S01"),
        }
    }

    #[test]
    fn each_field_goes_its_own_way() {
        let plan = merge_fields(
            [
                sides("notes", Some("new"), 20, Some("old"), 10),
                sides("email", Some("a@x.io"), 10, Some("b@x.io"), 20),
                sides("phone", None, 30, None, 10),
                sides("tax_id", Some("1"), 5, Some("1"), 10),
            ],
            1_000_000,
        );
        assert_eq!(
            plan.take,
            vec![("notes".into(), Some("new".into()), stamp(20, "HQ"))]
        );
        assert_eq!(
            plan.lost,
            vec![("email".into(), Some("a@x.io".into()), Some("b@x.io".into()))]
        );
        assert_eq!(plan.clocks, vec![("phone".into(), stamp(30, "HQ"))]);
        assert!(plan.changes_anything());
    }

    #[test]
    fn merging_is_idempotent() {
        let f = sides("notes", Some("new"), 20, Some("new"), 20);
        let plan = merge_fields([f], 1_000_000);
        assert!(!plan.changes_anything());
        assert!(plan.lost.is_empty());
    }
}
