//! The business core of Patron: what every write that moves value decides,
//! written once.
//!
//! A storage backend loads the facts a decision needs (a customer's groups and
//! balances, an order's lines, what HQ already authorised), calls a `plan_*`
//! function here, and persists the plan it returns: rows, ledger entries, and
//! nothing it decided itself. The same plan is made for an API call at HQ, an
//! API call at a store, and a store's operation re-applied at HQ, on SQLite
//! today and on any other backend tomorrow.
//!
//! Architecture invariant: no I/O, no async, no clock (time is passed in), no
//! SQL. The pure money maths (quotes, returns, lots) is `patron_domain::loyalty`;
//! this crate turns it into what to write.

pub mod customer;
pub mod ledger;
pub mod merge;
pub mod order;
pub mod redemption;
pub mod schedule;

pub use ledger::{
    PlannedEntry, expiry, overdraft_reason, plan_manual_entry, plan_registration, topup_within_cap,
};
pub use order::{
    Authorisation, OrderFacts, OrderPlan, ReturnFacts, ReturnPlan, plan_order, plan_return,
};
pub use redemption::{AuthorisationState, plan_authorisation};
pub use schedule::{TransitionPlan, plan_birthday, plan_expiry, plan_transition};
