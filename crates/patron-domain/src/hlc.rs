//! Hybrid logical clocks: wall-clock milliseconds, a counter for events in the
//! same millisecond (or while the wall clock lags a peer's), and the node that
//! stamped them, so any two stamps are ordered the same way on every node.
//!
//! Skew is bounded, not trusted: a stamp from a peer can move this node's clock
//! forward by at most `max_skew_ms` beyond its own wall clock, so one shop PC set
//! hours ahead cannot drag every node into its future; its stamps are still
//! accepted (never rejected), and HQ dates an operation stamped too far ahead
//! from the last HQ stamp the store had seen (`replication::merge_field`,
//! docs/sync.md).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hlc {
    pub millis: u64,
    pub counter: u32,
    pub node: String,
}

impl Hlc {
    pub fn zero(node: &str) -> Self {
        Self {
            millis: 0,
            counter: 0,
            node: node.to_owned(),
        }
    }

    /// Parses the text form `0001732368000000-000000003-S01`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, '-');
        let millis = parts.next()?.parse().ok()?;
        let counter = parts.next()?.parse().ok()?;
        let node = parts.next()?.to_owned();
        if node.is_empty() || node.len() > 32 {
            return None;
        }
        Some(Self {
            millis,
            counter,
            node,
        })
    }
}

/// Fixed-width, so the text forms sort exactly as the clocks do.
impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016}-{:09}-{}", self.millis, self.counter, self.node)
    }
}

/// A node's clock state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub last: Hlc,
    pub max_skew_ms: u64,
}

impl Clock {
    pub fn new(node: &str, max_skew_ms: u64) -> Self {
        Self {
            last: Hlc::zero(node),
            max_skew_ms,
        }
    }

    /// A stamp for a local event at wall time `now_ms`.
    pub fn tick(&mut self, now_ms: u64) -> Hlc {
        if now_ms > self.last.millis {
            self.last.millis = now_ms;
            self.last.counter = 0;
        } else {
            self.last.counter = self.last.counter.saturating_add(1);
        }
        self.last.clone()
    }

    /// Takes a peer's stamp into account: later local stamps sort after it,
    /// unless it is more than `max_skew_ms` ahead of `now_ms`, in which case the
    /// clock advances only to that bound.
    pub fn observe(&mut self, remote: &Hlc, now_ms: u64) {
        let bound = now_ms.saturating_add(self.max_skew_ms);
        let millis = remote.millis.min(bound);
        if millis > self.last.millis {
            self.last.millis = millis;
            self.last.counter = if remote.millis <= bound {
                remote.counter
            } else {
                0
            };
        } else if millis == self.last.millis && remote.millis <= bound {
            self.last.counter = self.last.counter.max(remote.counter);
        }
    }

    /// Whether `remote` is further ahead of `now_ms` than the bound allows.
    pub fn too_far_ahead(&self, remote: &Hlc, now_ms: u64) -> bool {
        remote.millis > now_ms.saturating_add(self.max_skew_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_form_sorts_like_the_clock() {
        let a = Hlc {
            millis: 5,
            counter: 10,
            node: "S01".into(),
        };
        let b = Hlc {
            millis: 12,
            counter: 0,
            node: "HQ".into(),
        };
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(Hlc::parse(&a.to_string()), Some(a));
        assert_eq!(Hlc::parse("x-1-S"), None);
        assert_eq!(Hlc::parse("1-1-"), None);
    }

    #[test]
    fn ticks_are_strictly_increasing_even_when_the_wall_clock_goes_back() {
        let mut c = Clock::new("S01", 60_000);
        let a = c.tick(1_000);
        let b = c.tick(900);
        let d = c.tick(1_000);
        assert!(a < b && b < d);
    }

    #[test]
    fn a_peer_far_ahead_moves_the_clock_only_to_the_bound() {
        let mut c = Clock::new("HQ", 60_000);
        let hours_ahead = Hlc {
            millis: 1_000 + 3 * 3_600_000,
            counter: 0,
            node: "S02".into(),
        };
        assert!(c.too_far_ahead(&hours_ahead, 1_000));
        c.observe(&hours_ahead, 1_000);
        assert_eq!(c.last.millis, 61_000);
        let next = c.tick(1_001);
        assert!(next.millis <= 61_000);
        // A near peer is followed exactly.
        let near = Hlc {
            millis: 70_000,
            counter: 4,
            node: "S01".into(),
        };
        c.observe(&near, 30_000);
        assert!(c.tick(30_000) > near);
    }

    proptest! {
        #[test]
        fn text_order_equals_clock_order(a in (0u64..1 << 50, 0u32..999_999_999, "[A-Z0-9]{1,8}"), b in (0u64..1 << 50, 0u32..999_999_999, "[A-Z0-9]{1,8}")) {
            let x = Hlc { millis: a.0, counter: a.1, node: a.2 };
            let y = Hlc { millis: b.0, counter: b.1, node: b.2 };
            prop_assert_eq!(x.cmp(&y), x.to_string().cmp(&y.to_string()));
        }
    }
}
