//! The Patron domain: customers and their validated parts, search keys, roles and
//! permissions. Pure logic: no I/O, no async, no serialisation formats. Every type
//! that crosses in from the outside world is built by a `parse` constructor, so an
//! invalid value cannot exist past the edge.

pub mod auth;
pub mod code;
pub mod customer;
pub mod duplicates;
pub mod email;
pub mod error;
pub mod hlc;
pub mod id_scan;
pub mod loyalty;
pub mod phone;
pub mod replication;
pub mod rules;
pub mod search;
pub mod text;

pub use auth::{Permission, PermissionSet, Role, Username};
pub use code::{CodeFormat, CustomerCode};
pub use customer::{
    Address, Customer, CustomerDraft, CustomerPatch, Field, FieldChange, IdDocument, MedicalInfo,
    ParseContext, Patch,
};
pub use duplicates::{DuplicateKeys, SameBy};
pub use email::Email;
pub use error::{FieldError, ValidationErrors};
pub use id_scan::{DocumentKind, IdScanError, LicenceData, Sex, parse_aamva};
pub use phone::{Phone, PhoneRegion};
pub use rules::{Rule, RuleError, RuleFacts};
pub use search::{SearchKeys, SearchQuery};
pub use text::StoreId;
