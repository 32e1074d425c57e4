//! Keyset-pagination cursors. A cursor names the last row of a page by its sort
//! key and sequence number, so the next page starts right after it even if rows
//! are inserted meanwhile (offsets would skip or repeat rows).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Search results come in tiers: prefix matches first, then substring matches.
/// Each tier is alphabetical; a plain listing is a single tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Prefix = 1,
    Substring = 2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub tier: Tier,
    /// The listing order it continues (a search's tiers are by name).
    pub order: crate::ListOrder,
    pub sort_key: String,
    pub seq: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        use crate::ListOrder;
        let head = match self.order {
            ListOrder::Name => (self.tier as u8).to_string(),
            ListOrder::Code => "c".to_owned(),
            ListOrder::Newest => "n".to_owned(),
            ListOrder::Spent => "s".to_owned(),
        };
        let raw = format!("{head}:{}:{}", self.seq, self.sort_key);
        URL_SAFE_NO_PAD.encode(raw.as_bytes())
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        if s.len() > 1024 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(s.as_bytes()).ok()?;
        let raw = String::from_utf8(bytes).ok()?;
        let mut parts = raw.splitn(3, ':');
        use crate::ListOrder;
        let (tier, order) = match parts.next()? {
            "1" => (Tier::Prefix, ListOrder::Name),
            "2" => (Tier::Substring, ListOrder::Name),
            "c" => (Tier::Prefix, ListOrder::Code),
            "n" => (Tier::Prefix, ListOrder::Newest),
            "s" => (Tier::Prefix, ListOrder::Spent),
            _ => return None,
        };
        let seq = parts.next()?.parse().ok()?;
        let sort_key = parts.next()?.to_owned();
        Some(Cursor {
            tier,
            order,
            sort_key,
            seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let c = Cursor {
            tier: Tier::Substring,
            order: crate::ListOrder::Name,
            sort_key: "lee\u{1}ann:x".into(),
            seq: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for order in [
            crate::ListOrder::Code,
            crate::ListOrder::Newest,
            crate::ListOrder::Spent,
        ] {
            let c = Cursor {
                tier: Tier::Prefix,
                order,
                sort_key: "12345".into(),
                seq: 7,
            };
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        for bad in ["", "!!!", "MTox", "OTo0Mjp4", &"A".repeat(2000)] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
