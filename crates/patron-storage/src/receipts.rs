//! What a receipt prints beyond the sale itself, and the outbox its email
//! copy waits in: written with the sale, sent later, so a mail server that
//! is slow or away never holds up or fails a checkout.

use time::OffsetDateTime;

/// Whether this node emails receipts, and to which customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptMail {
    /// No mail server configured: nothing is queued.
    #[default]
    Off,
    /// Every customer with an email.
    All,
    /// Only customers who consented to email.
    Consented,
}

impl ReceiptMail {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(Self::Off),
            "all" => Some(Self::All),
            "consented" => Some(Self::Consented),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    Order,
    Return,
}

impl ReceiptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Return => "return",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "order" => Some(Self::Order),
            "return" => Some(Self::Return),
            _ => None,
        }
    }
}

/// The customer as a receipt names them, and their balances right after the
/// sale or return (every ledger entry up to that moment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptFacts {
    pub name: String,
    pub code: String,
    pub tax_id: Option<String>,
    /// Hundredths of a point.
    pub points_after: i64,
    pub credit_after: i64,
}

/// A receipt email waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReceipt {
    pub id: i64,
    pub kind: ReceiptKind,
    /// The order's or the return's id.
    pub reference: String,
    pub to: String,
    pub attempts: u32,
}

/// How the outbox stands: what waits, what went, what was given up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptOutboxStatus {
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
    pub last_error: Option<String>,
}

/// After this many failed tries (about two days with the back-off below) a
/// receipt is marked failed and no longer retried.
pub const RECEIPT_MAX_ATTEMPTS: u32 = 40;

/// When to try again after `attempts` failures: `base` (30 s in service)
/// doubling, at most 120 times `base` (an hour).
pub fn receipt_retry_at(
    now: OffsetDateTime,
    attempts: u32,
    base: time::Duration,
) -> OffsetDateTime {
    let first = attempts.saturating_sub(1).min(7);
    now + (base * (1i32 << first)).min(base * 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let gap = |n| (receipt_retry_at(now, n, time::Duration::seconds(30)) - now).whole_seconds();
        assert_eq!(gap(1), 30);
        assert_eq!(gap(2), 60);
        assert_eq!(gap(7), 1_920);
        assert_eq!(gap(8), 3_600);
        assert_eq!(gap(u32::MAX), 3_600);
    }
}
