//! Operations: what a store's user did, as the store sends it to HQ
//! (docs/sync.md, "Trust").
//!
//! A store never sends derived state (balances, totals, ledger entries an order
//! implies). It records each operation its users perform, in the same
//! transaction as the local write, signs it with the acting user's operation key
//! and pushes it. HQ checks the signature, the user's rights at that store, and
//! re-applies the operation through the same code as its own API, against its
//! own data. These are the typed shapes: anything a store adds or misspells is
//! refused, never dropped.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

use patron_domain::replication::OpKind;

/// One operation as recorded at the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Op {
    /// Chosen by the store; HQ applies an operation id once.
    pub id: Uuid,
    pub store: String,
    /// The username of the user who did it.
    pub actor: String,
    /// When it was done (unix microseconds, the store's corrected clock).
    pub at: i64,
    /// The store's clock stamp for what the operation writes.
    pub hlc: String,
    /// The newest stamp of HQ's the store had applied when the user did it:
    /// the operation was made after that moment, whatever the store's clock
    /// said (docs/sync.md, "Clock skew").
    #[serde(default)]
    pub seen: Option<String>,
    pub body: OpBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum OpBody {
    /// A customer signed up at the store, under a code from its leases or overflow series.
    CreateCustomer {
        id: Uuid,
        code: String,
        /// Field name (as the API names it) → value; absent fields are empty.
        fields: BTreeMap<String, String>,
    },
    /// Only the fields the user changed; `null` clears one.
    EditCustomer {
        id: Uuid,
        fields: BTreeMap<String, Option<String>>,
    },
    SetActive {
        id: Uuid,
        active: bool,
    },
    SetType {
        id: Uuid,
        type_id: Option<Uuid>,
    },
    /// Manual group membership; `groups: null` means every manual group.
    Members {
        groups: Option<Vec<Uuid>>,
        customers: Vec<Uuid>,
        add: bool,
    },
    /// A manual adjustment or a store-credit top-up.
    Entry {
        entry_id: Uuid,
        customer: Uuid,
        account: String,
        kind: String,
        amount: i64,
        reason: String,
        idempotency_key: Option<String>,
    },
    /// A sale, as the cashier rang it up: HQ prices it again.
    Order {
        id: String,
        fingerprint: String,
        customer: Uuid,
        lines: Vec<OpLine>,
        redeem_points: i64,
        redeem_credit: i64,
        override_limits: bool,
    },
    Return {
        id: String,
        fingerprint: String,
        order_id: String,
        lines: Vec<OpReturnLine>,
    },
}

impl OpBody {
    pub fn kind(&self) -> OpKind {
        match self {
            OpBody::CreateCustomer { .. } => OpKind::CreateCustomer,
            OpBody::EditCustomer { .. } => OpKind::EditCustomer,
            OpBody::SetActive { .. } => OpKind::SetActive,
            OpBody::SetType { .. } => OpKind::SetType,
            OpBody::Members { .. } => OpKind::Members,
            OpBody::Entry { .. } => OpKind::Entry,
            OpBody::Order { .. } => OpKind::Order,
            OpBody::Return { .. } => OpKind::Return,
        }
    }

    /// The entity the operation is about, for refusal reports.
    pub fn entity(&self) -> String {
        match self {
            OpBody::CreateCustomer { id, .. }
            | OpBody::EditCustomer { id, .. }
            | OpBody::SetActive { id, .. }
            | OpBody::SetType { id, .. } => id.to_string(),
            OpBody::Members { customers, .. } => {
                customers.first().map(Uuid::to_string).unwrap_or_default()
            }
            OpBody::Entry { customer, .. } => customer.to_string(),
            OpBody::Order { id, .. } | OpBody::Return { id, .. } => id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpLine {
    pub sku: String,
    pub name: String,
    pub category: String,
    /// Thousandths of `unit`.
    pub quantity: i64,
    pub unit: String,
    pub unit_price: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpReturnLine {
    pub line: u32,
    /// Thousandths.
    pub quantity: i64,
}

/// An operation as it travels: its JSON text, exactly as signed, and the
/// signature. HQ parses the text only after checking the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedOp {
    /// The store's outbox position.
    pub seq: i64,
    pub op: String,
    /// Hex HMAC-SHA256 of `op` under the acting user's operation key.
    pub sig: String,
}

/// A page of a store's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxPage {
    pub ops: Vec<SignedOp>,
    /// The position the page reaches.
    pub last: i64,
}

/// What HQ did with one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpResult {
    pub seq: i64,
    /// `None` when the text could not even be read.
    pub id: Option<Uuid>,
    /// Why HQ refused it; `None` when applied (or already applied).
    pub refused: Option<String>,
}

/// A refused operation, kept at HQ (with the store it came from) and at the
/// store (so its users see what did not count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub op_id: Option<Uuid>,
    pub store: String,
    pub kind: String,
    pub entity: String,
    pub actor: String,
    pub reason: String,
    pub at: time::OffsetDateTime,
}

type HmacSha256 = Hmac<Sha256>;

/// A key's signature of an operation's text, in hex.
pub fn sign(key: &[u8; 32], text: &str) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return String::new();
    };
    mac.update(text.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Checks a signature in constant time.
pub fn verify(key: &[u8; 32], text: &str, sig: &str) -> bool {
    let Some(bytes) = unhex(sig) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return false;
    };
    mac.update(text.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 256 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A 32-byte key from its hex form.
pub fn key_from_hex(s: &str) -> Option<[u8; 32]> {
    unhex(s)?.try_into().ok()
}

/// An id every node derives from the same name: the ledger entries an order,
/// a return or a once-only bonus implies get the same ids wherever they are
/// computed, so a store's provisional entry and HQ's meet as one.
pub fn derived_id(name: &str) -> Uuid {
    let digest = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    // RFC 9562 version 8 (custom), variant 10.
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    Uuid::from_bytes(b)
}

/// [`derived_id`] whose first 48 bits are `at`'s milliseconds, like a version 7
/// UUID: ids made in time order land at the end of an index instead of at
/// random places in it.
pub fn derived_id_at(name: &str, at: time::OffsetDateTime) -> Uuid {
    let mut b = *derived_id(name).as_bytes();
    let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    Uuid::from_bytes(b)
}

/// The id of an order's redemption from `account` (`points` or `credit`): the
/// same at the store, in HQ's authorisation and in HQ's copy of the order.
pub fn redemption_id(order_id: &str, account: &str) -> Uuid {
    derived_id(&format!("order:{order_id}:redeem:{account}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_the_text_and_the_key() {
        let k = [7u8; 32];
        let s = sign(&k, "{\"a\":1}");
        assert!(verify(&k, "{\"a\":1}", &s));
        assert!(!verify(&k, "{\"a\":2}", &s));
        assert!(!verify(&[8u8; 32], "{\"a\":1}", &s));
        assert!(!verify(&k, "{\"a\":1}", ""));
        assert!(!verify(&k, "{\"a\":1}", "zz"));
        assert!(!verify(&k, "{\"a\":1}", &s[..10]));
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let ok = r#"{"id":"0190f5d2-0000-7000-8000-000000000000","store":"S01","actor":"ann","at":1,"hlc":"x",
            "body":{"op":"set_active","id":"0190f5d2-0000-7000-8000-000000000000","active":false}}"#;
        assert!(serde_json::from_str::<Op>(ok).is_ok());
        let extra = ok.replace("\"active\":false", "\"active\":false,\"balance\":5");
        assert!(serde_json::from_str::<Op>(&extra).is_err());
        let wrong_type = ok.replace("\"active\":false", "\"active\":\"yes\"");
        assert!(serde_json::from_str::<Op>(&wrong_type).is_err());
        let kind = ok.replace("set_active", "birthday");
        assert!(serde_json::from_str::<Op>(&kind).is_err());
        let top = ok.replace("\"at\":1", "\"at\":1,\"sudo\":true");
        assert!(serde_json::from_str::<Op>(&top).is_err());
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        assert_eq!(derived_id("order:1:earn"), derived_id("order:1:earn"));
        assert_ne!(derived_id("order:1:earn"), derived_id("order:2:earn"));
        assert_eq!(derived_id("x").get_version_num(), 8);
    }
}
