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
    pub sort_key: String,
    pub seq: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = format!("{}:{}:{}", self.tier as u8, self.seq, self.sort_key);
        URL_SAFE_NO_PAD.encode(raw.as_bytes())
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        if s.len() > 1024 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(s.as_bytes()).ok()?;
        let raw = String::from_utf8(bytes).ok()?;
        let mut parts = raw.splitn(3, ':');
        let tier = match parts.next()? {
            "1" => Tier::Prefix,
            "2" => Tier::Substring,
            _ => return None,
        };
        let seq = parts.next()?.parse().ok()?;
        let sort_key = parts.next()?.to_owned();
        Some(Cursor {
            tier,
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
            sort_key: "lee\u{1}ann:x".into(),
            seq: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "!!!", "MTox", "OTo0Mjp4", &"A".repeat(2000)] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
