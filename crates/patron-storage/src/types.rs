use patron_domain::search::SearchQuery;
use patron_domain::{CodeFormat, CustomerDraft, PhoneRegion, Role, StoreId, Username};
use uuid::Uuid;

pub use patron_domain::customer::ParseContext;
pub use patron_domain::{Customer, CustomerPatch};
pub use time::OffsetDateTime;

/// Who is making a change, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub username: String,
    /// At a store: the key the user's operations are signed with for HQ,
    /// derived from their password when they signed in there.
    pub op_key: Option<OpKey>,
}

impl Actor {
    pub fn new(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            op_key: None,
        }
    }

    pub fn with_op_key(mut self, key: Option<OpKey>) -> Self {
        self.op_key = key;
        self
    }
}

/// A user's operation key (docs/sync.md, "Trust"). Never printed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OpKey(pub [u8; 32]);

impl std::fmt::Debug for OpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpKey(..)")
    }
}

/// Node-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub code_format: CodeFormat,
    /// Region that phone numbers without `+country` are read in.
    pub phone_region: PhoneRegion,
}

#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub data: CustomerDraft,
    pub origin_store: Option<StoreId>,
}

/// How a caller names a customer: by id, or by the code a cashier types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerKey {
    Id(Uuid),
    Code(String),
}

impl CustomerKey {
    /// A UUID is an id; anything else is read as a code (case-insensitive).
    pub fn parse(s: &str) -> Self {
        match Uuid::parse_str(s.trim()) {
            Ok(id) => CustomerKey::Id(id),
            Err(_) => CustomerKey::Code(patron_domain::CustomerCode::normalise(s)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActiveFilter {
    #[default]
    Active,
    Inactive,
    All,
}

/// Which stores' customers to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OriginFilter {
    #[default]
    Any,
    /// Created at HQ.
    Hq,
    Store(StoreId),
}

#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    /// `None` lists everyone in `order`.
    pub search: Option<SearchQuery>,
    /// The order of a listing without a search (a search lists best matches first).
    pub order: ListOrder,
    pub active: ActiveFilter,
    pub origin: OriginFilter,
    /// Only customers of this customer type.
    pub customer_type: Option<uuid::Uuid>,
    /// Only members of this group (a manual, auto or system group; the Common
    /// group is everyone and needs no filter).
    pub group: Option<uuid::Uuid>,
    pub limit: usize,
    pub cursor: Option<crate::Cursor>,
}

/// How a customer listing without a search is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOrder {
    /// Last name, then first name.
    #[default]
    Name,
    /// Customer code.
    Code,
    /// Newest first.
    Newest,
    /// Lifetime spend, highest first.
    Spent,
}

impl ListOrder {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "name" => Some(Self::Name),
            "code" => Some(Self::Code),
            "newest" => Some(Self::Newest),
            "spent" => Some(Self::Spent),
            _ => None,
        }
    }
}

/// The largest page a caller may ask for.
pub const MAX_PAGE_SIZE: usize = 500;

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<crate::Cursor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    pub actor: String,
    /// `create`, `update`, `deactivate`, `reactivate`, `import`.
    pub action: String,
    pub field: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// One parsed row of an import, with the line it came from (for error reports).
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub customer: NewCustomer,
    /// What the customer brings from the system they come from.
    pub opening: Opening,
    /// Manual groups the customer is in, by name.
    pub groups: Vec<String>,
    /// The row's identity in its source (the source system's customer id, or
    /// a digest of the row): a row whose key was imported before is skipped,
    /// so running the same import again changes nothing.
    pub source_key: Option<String>,
}

impl ImportRow {
    pub fn new(line: u64, customer: NewCustomer) -> Self {
        Self {
            line,
            customer,
            opening: Opening::default(),
            groups: Vec::new(),
            source_key: None,
        }
    }
}

/// Balances and totals a customer had in the system they are imported from.
/// Balances become opening ledger entries, so balances still equal the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Opening {
    /// Hundredths of a point, ≥ 0.
    pub points: i64,
    /// Store credit in minor units, ≥ 0.
    pub credit: i64,
    /// Lifetime spend in minor units, ≥ 0.
    pub spent: i64,
    pub visits: i64,
}

impl Opening {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How an import runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Nothing is written if any row is rejected.
    pub strict: bool,
    /// Everything is checked and reported as if imported, then nothing is written.
    pub dry_run: bool,
    /// Group names not found become new manual groups (otherwise such rows are rejected).
    pub create_groups: bool,
    /// About how many rows the stream holds, if known: a large import into a
    /// small table rebuilds the indexes once instead of updating them per row.
    pub expected_rows: Option<u64>,
}

/// Rows to import; an `Err` aborts the whole import (e.g. the file became unreadable).
pub type ImportStream = Box<dyn Iterator<Item = Result<ImportRow, String>> + Send>;

/// An imported row likely the same person as another customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportDuplicate {
    pub line: u64,
    pub code: String,
    /// Codes of the other customers, and what they share.
    pub others: Vec<String>,
    pub by: Vec<patron_domain::SameBy>,
}

#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    /// Codes of the created customers, in input order.
    pub created: Vec<String>,
    /// Line and reason of every row skipped because it cannot be imported as is
    /// (an email already in use, a group that does not exist).
    pub rejected: Vec<(u64, patron_domain::FieldError)>,
    /// Rows skipped because their source key was imported before.
    pub already_imported: u64,
    /// Groups the import created (`create_groups`).
    pub groups_created: Vec<String>,
    /// Sums of what the imported customers brought.
    pub opening: OpeningTotals,
    /// Imported customers likely the same person as another customer.
    pub likely_duplicates: Vec<ImportDuplicate>,
}

/// Sums over an import (i128: a million rows at the per-row maximum still add up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpeningTotals {
    pub points: i128,
    pub credit: i128,
    pub spent: i128,
    pub visits: i128,
    pub memberships: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: Username,
    pub role: Role,
    pub active: bool,
    pub created_at: OffsetDateTime,
    /// A store's own user: signs in at that store only. `None`: an HQ user, who
    /// may sign in anywhere.
    pub store: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub role: Role,
    /// An argon2 PHC string; storage never sees a password.
    pub password_hash: String,
    pub store: Option<StoreId>,
    /// Hex operation key derived from the password (docs/sync.md, "Trust").
    pub op_key: Option<String>,
}

/// What an administrator changes about a user; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    /// `Some(None)`: an HQ user; `Some(Some(S01))`: S01's own user.
    pub store: Option<Option<StoreId>>,
    pub active: Option<bool>,
    pub password: Option<NewPassword>,
}

/// A new password as storage keeps it: its argon2 hash and the operation key
/// derived from it.
#[derive(Debug, Clone)]
pub struct NewPassword {
    pub hash: String,
    pub op_key: String,
}

/// A user's password hash, as HQ hands it to the one store where they may sign in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub username: String,
    pub password_hash: String,
}

/// One line of the security log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    pub id: i64,
    pub at: OffsetDateTime,
    /// `sign-in`, `sign-in-failed`, `sign-in-throttled`, `sign-out`,
    /// `unauthenticated`, `forbidden`, `user-changed`, `password-changed`,
    /// `role-changed`, `store-token`, ...
    pub kind: String,
    pub username: Option<String>,
    /// The client's address.
    pub client: Option<String>,
    pub detail: String,
}

/// Which security events to list: newest first, before an id, filtered.
#[derive(Debug, Clone, Default)]
pub struct SecurityQuery {
    pub kind: Option<String>,
    pub username: Option<String>,
    pub before: Option<i64>,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the bearer token; the token itself is never stored.
    pub token_hash: String,
    pub user_id: i64,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A customer likely the same person as the one asked about, and what they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikelySame {
    pub customer: Customer,
    /// Strongest first.
    pub by: Vec<patron_domain::SameBy>,
}

/// Customers linked, directly or through one another, by shared keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateCluster {
    /// In code order.
    pub customers: Vec<Customer>,
    /// The kinds of key that link them.
    pub by: Vec<patron_domain::SameBy>,
}

/// A page of the duplicates report: the biggest clusters first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuplicateReport {
    pub clusters: Vec<DuplicateCluster>,
    /// Clusters in all (not just this page).
    pub total_clusters: usize,
    /// Customers in all the clusters.
    pub total_customers: usize,
}

/// How the database is doing, for metrics, readiness and `patron doctor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// The database file and its write-ahead log, in bytes (0 when absent).
    pub database_bytes: u64,
    pub wal_bytes: u64,
    /// Writes waiting for the writer.
    pub writer_queue: u64,
    /// Transactions the writer ran, by how many writes each held: for each of
    /// [`WRITER_BATCH_BUCKETS`], the batches above the bucket before it and at
    /// most this one; then every batch, and the sum of their sizes.
    pub batch_buckets: Vec<u64>,
    pub batches: u64,
    pub batched_writes: u64,
    /// The last write failed because the disk was full, and none has
    /// succeeded since.
    pub disk_full: bool,
}

/// Upper bounds of the writer's batch-size histogram.
pub const WRITER_BATCH_BUCKETS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
