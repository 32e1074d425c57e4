//! Loyalty: money and rates, programs and how they combine, the ledger and its
//! lots, purchase limits, and the checkout and return maths. Pure functions over
//! values the storage layer loads; the storage layer writes what they decide.

pub mod checkout;
pub mod ledger;
pub mod limits;
pub mod money;
pub mod program;

#[cfg(test)]
mod checkout_tests;

pub use checkout::{
    CartLine, Discount, DiscountSource, OrderMoney, Quote, QuoteInput, RedeemedSoFar, Refusal,
    ReturnAmounts, SoldLine, quote, return_amounts,
};
pub use ledger::{Account, Entry, EntryKind, Lot, Summary, summarize};
pub use limits::{Allowance, Bought, Enforcement, PurchaseLimit};
pub use money::Percent;
pub use program::{
    GroupTerms, LoyaltySettings, Period, Program, SpendLimit, Transition, TypeDiscount, TypeTerms,
    age_on, benefits, is_birthday,
};
