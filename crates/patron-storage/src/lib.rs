//! The storage interface. The server depends on [`Storage`] only; `main` picks a
//! backend (embedded SQLite now, PostgreSQL later). Every behaviour a backend must
//! have is pinned by the [`conformance`] suite, which each backend runs against
//! itself, so the backends cannot drift apart.

mod cursor;
mod types;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use cursor::{Cursor, Tier};
pub use types::*;

use async_trait::async_trait;
use patron_domain::{Username, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken (an email already in use, a taken username).
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("the cursor is not one this server issued")]
    BadCursor,
    /// The database itself failed (I/O, corruption, a bug). Not the caller's fault.
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Everything the server asks of a database. Each method is one transaction:
/// it either happens completely or not at all.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    // --- settings -------------------------------------------------------------
    async fn settings(&self) -> Result<Settings>;
    async fn update_settings(&self, actor: &Actor, settings: &Settings) -> Result<Settings>;

    // --- customers ------------------------------------------------------------
    /// Creates a customer, drawing the next code in the same transaction.
    async fn create_customer(&self, actor: &Actor, new: NewCustomer) -> Result<Customer>;
    /// Creates many customers in one transaction, pulling rows from `rows` as
    /// they are parsed. Rows whose email is already taken (in the database or
    /// earlier in the stream) are skipped and reported by line; every other row is
    /// inserted. If the stream yields an error, or anything fails, nothing is written.
    async fn import_customers(&self, actor: &Actor, rows: ImportStream) -> Result<ImportOutcome>;
    async fn customer(&self, key: &CustomerKey) -> Result<Customer>;
    async fn update_customer(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        patch: CustomerPatch,
        ctx: ParseContext,
    ) -> Result<Customer>;
    /// Deactivates (`active = false`) or reactivates a customer; a no-op if it is
    /// already in that state (and then nothing is audited).
    async fn set_customer_active(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        active: bool,
    ) -> Result<Customer>;
    async fn customer_audit(&self, key: &CustomerKey) -> Result<Vec<AuditEntry>>;
    /// Alphabetical (last, first) listing or query-box search, one page at a time.
    async fn list_customers(&self, query: &CustomerQuery) -> Result<Page<Customer>>;
    async fn count_customers(&self) -> Result<u64>;

    // --- users and sessions ---------------------------------------------------
    async fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User>;
    async fn users(&self) -> Result<Vec<User>>;
    /// The user and their password hash, for a login attempt.
    async fn user_credentials(&self, username: &Username) -> Result<Option<(User, String)>>;
    async fn create_session(&self, session: NewSession) -> Result<()>;
    /// The active user owning an unexpired session.
    async fn session_user(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<User>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
}

impl From<ValidationErrors> for StorageError {
    fn from(e: ValidationErrors) -> Self {
        StorageError::Invalid(e)
    }
}
