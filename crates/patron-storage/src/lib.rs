//! The storage interface. The server depends on [`Storage`] only; `main` picks a
//! backend (embedded SQLite now, PostgreSQL later). Every behaviour a backend must
//! have is pinned by the [`conformance`] suite, which each backend runs against
//! itself, so the backends cannot drift apart.

mod cursor;
mod loyalty;
pub mod ops;
mod receipts;
mod reports;
mod sync;
mod types;
mod validate;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use cursor::{Cursor, Tier};
pub use loyalty::*;
pub use ops::{OutboxPage, Refusal};
pub use receipts::*;
pub use reports::*;
pub use sync::*;
pub use types::*;
pub use validate::*;

use async_trait::async_trait;
use patron_domain::loyalty::{Account, LoyaltySettings};
use patron_domain::rules::Rule;
use patron_domain::{Role, Username, ValidationErrors};
use uuid::Uuid;

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
    /// Work whose cost the caller controls (a rule evaluated over every
    /// customer) was stopped at its deadline, or because nobody waited for it.
    #[error("{0}")]
    TimedOut(String),
    /// The disk holding the database is full: nothing was written. Writes
    /// succeed again by themselves once space is freed.
    #[error("the disk holding the database is full; nothing was written")]
    DiskFull,
    /// The database itself failed (I/O, corruption, a bug). Not the caller's fault.
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Everything the server asks of a database. Each method is one transaction:
/// it either happens completely or not at all; filling a rule-driven group is
/// the exception, done in steps after its cause is committed (see
/// [`Storage::save_group`]).
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    // --- settings -------------------------------------------------------------
    async fn settings(&self) -> Result<Settings>;
    async fn update_settings(&self, actor: &Actor, settings: &Settings) -> Result<Settings>;

    // --- customers ------------------------------------------------------------
    /// Creates a customer, drawing the next code in the same transaction.
    async fn create_customer(&self, actor: &Actor, new: NewCustomer) -> Result<Customer>;
    /// Creates a customer under the client's id; the same request again
    /// returns the first result (`true`), other details under that id are a
    /// `Conflict`.
    async fn create_customer_with_id(
        &self,
        actor: &Actor,
        id: Uuid,
        new: NewCustomer,
    ) -> Result<(Customer, bool)>;
    /// Creates many customers in one transaction, pulling rows from `rows` as
    /// they are parsed, with their opening balances (opening ledger entries),
    /// totals and manual groups. Rows that cannot be imported as they are (an
    /// email already taken in the database or earlier in the stream, a group
    /// that does not exist) are skipped and reported by line; rows whose source
    /// key was imported before are skipped and counted. If the stream yields an
    /// error, or anything fails, nothing is written. With `strict`, nothing is
    /// written either if any row was skipped; with `dry_run`, nothing is
    /// written at all, and the outcome says what would have been.
    async fn import_customers(
        &self,
        actor: &Actor,
        rows: ImportStream,
        opts: ImportOptions,
    ) -> Result<ImportOutcome>;
    async fn customer(&self, key: &CustomerKey) -> Result<Customer>;
    /// Erases the person on a privacy request (HQ only): identifying fields,
    /// search and duplicate keys, audit values; keeps orders, ledger, totals
    /// and memberships under an anonymous name, and records who erased it.
    /// The erasure replicates to every node; an erased record cannot be
    /// edited. Erasing twice changes nothing.
    async fn erase_customer(&self, actor: &Actor, key: &CustomerKey) -> Result<Customer>;
    /// Merges `others` into `survivor` (HQ only): their orders, ledger
    /// entries, manual memberships and totals move over, the survivor fills
    /// the fields it lacks from them, and their codes and ids keep finding
    /// the survivor. Replicates to every node.
    async fn merge_customers(
        &self,
        actor: &Actor,
        survivor: &CustomerKey,
        others: Vec<CustomerKey>,
        ctx: ParseContext,
    ) -> Result<Customer>;
    /// Customers likely the same person as one with `keys` (one index lookup
    /// per key), those sharing the strongest key first; `except` left out.
    async fn likely_same(
        &self,
        keys: &patron_domain::DuplicateKeys,
        except: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<LikelySame>>;
    /// Every group of customers linked by shared keys, biggest first; a page
    /// of `limit` clusters from `offset`.
    async fn duplicate_clusters(&self, limit: usize, offset: usize) -> Result<DuplicateReport>;
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
    /// Changes a user's role, store, state or password in one transaction.
    /// Deactivation and a new password end all their sessions in the same
    /// transaction. Refused with a conflict when no active user could manage
    /// users afterwards.
    async fn update_user(
        &self,
        actor: &Actor,
        username: &Username,
        change: UserChange,
    ) -> Result<User>;
    /// A built-in or chain-defined role by name.
    async fn role(&self, name: &str) -> Result<Option<Role>>;
    /// The chain's own roles (not the built-in ones).
    async fn custom_roles(&self) -> Result<Vec<Role>>;
    /// Creates or redefines a chain's role (HQ).
    async fn put_role(&self, actor: &Actor, role: Role) -> Result<Role>;
    /// Deletes a chain's role that no user holds (HQ).
    async fn delete_role(&self, actor: &Actor, name: &str) -> Result<()>;
    /// Appends to the security log.
    async fn record_security_events(&self, events: Vec<SecurityEvent>) -> Result<()>;
    async fn security_events(&self, query: &SecurityQuery) -> Result<Vec<SecurityEvent>>;
    /// HQ: password hashes of the active users who may sign in at `store`.
    async fn store_credentials(&self, store: &str) -> Result<Vec<Credential>>;
    /// A store: takes HQ's credentials for its users; everyone else's hash is
    /// cleared. Ends the sessions of users whose hash changed or went; returns
    /// their usernames.
    async fn adopt_credentials(&self, credentials: Vec<Credential>) -> Result<Vec<String>>;

    // --- loyalty settings, customer types, limit profiles -------------------------
    async fn loyalty_settings(&self) -> Result<LoyaltySettings>;
    async fn update_loyalty_settings(
        &self,
        actor: &Actor,
        settings: &LoyaltySettings,
    ) -> Result<LoyaltySettings>;
    async fn customer_types(&self) -> Result<Vec<CustomerType>>;
    /// Creates (`id` None) or replaces a customer type.
    async fn save_customer_type(
        &self,
        actor: &Actor,
        id: Option<Uuid>,
        spec: CustomerTypeSpec,
    ) -> Result<CustomerType>;
    /// Gives a customer a type (or none); re-checks their auto groups.
    async fn set_customer_type(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        type_id: Option<Uuid>,
    ) -> Result<Customer>;
    async fn limit_profiles(&self) -> Result<Vec<LimitProfile>>;
    async fn save_limit_profile(
        &self,
        actor: &Actor,
        profile: LimitProfile,
    ) -> Result<LimitProfile>;

    // --- groups ---------------------------------------------------------------
    async fn groups(&self, query: &GroupQuery) -> Result<Vec<Group>>;
    async fn group(&self, id: Uuid) -> Result<Group>;
    /// Creates (`id` None) or replaces a group. An auto group whose rule is new
    /// or changed is filled from it as of `today` before this returns, in
    /// steps short enough not to hold up other writes; a fill cut short (a
    /// crash) is completed by [`Storage::run_maintenance`].
    async fn save_group(
        &self,
        actor: &Actor,
        id: Option<Uuid>,
        spec: GroupSpec,
        today: time::Date,
    ) -> Result<Group>;
    /// Adds (`add`) or removes customers to/from manual groups, all or nothing.
    async fn change_members(
        &self,
        actor: &Actor,
        target: &MemberTarget,
        customers: &[CustomerKey],
        add: bool,
    ) -> Result<MembershipChange>;
    /// A group's members, with the same filters and cursors as customers.
    async fn group_members(&self, id: Uuid, query: &CustomerQuery) -> Result<Page<Customer>>;
    /// How many customers match `rule` today, and the first few of them.
    /// Bounded in time (`TimedOut`), and stopped when the future is dropped.
    async fn rule_preview(
        &self,
        rule: &Rule,
        today: time::Date,
        sample: usize,
    ) -> Result<(u64, Vec<Customer>)>;
    /// Re-evaluates one auto group over every customer; returns membership changes.
    async fn refresh_group(&self, id: Uuid, today: time::Date) -> Result<u64>;

    // --- ledger ---------------------------------------------------------------
    async fn ledger(&self, key: &CustomerKey, account: Option<Account>)
    -> Result<Vec<LedgerEntry>>;
    async fn balances(&self, key: &CustomerKey, now: OffsetDateTime) -> Result<Balances>;
    /// A manual adjustment or store-credit top-up. Never takes a balance below zero.
    async fn post_entry(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        entry: ManualEntry,
        now: OffsetDateTime,
    ) -> Result<LedgerEntry>;

    // --- checkout -------------------------------------------------------------
    async fn quote(&self, request: &CheckoutRequest, now: OffsetDateTime) -> Result<QuoteOutcome>;
    /// Commits an order: order, lines, ledger entries, totals and memberships in
    /// one transaction. Returns the order and whether it was already committed
    /// (a retry). A different body under a used id is a `Conflict`.
    async fn commit_order(
        &self,
        actor: &Actor,
        order: OrderRequest,
        now: OffsetDateTime,
    ) -> Result<(OrderRecord, bool)>;
    async fn order(&self, id: &str) -> Result<OrderRecord>;
    /// One return, by its id.
    async fn return_record(&self, id: &str) -> Result<ReturnRecord>;
    /// The customer's name, code and tax ID, and their balances right after
    /// `at` (a sale's or a return's moment), for its receipt.
    async fn receipt_facts(&self, customer: Uuid, at: OffsetDateTime) -> Result<ReceiptFacts>;
    /// Whether sales and returns made at this node queue an email receipt
    /// (in the same transaction as the sale). Off until a mail server is set.
    fn set_receipt_mail(&self, mode: ReceiptMail);
    /// Receipt emails due by `now`, oldest first.
    async fn receipts_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<PendingReceipt>>;
    /// Records a try: sent, or failed with why, to be tried again at
    /// `retry_at` (up to [`RECEIPT_MAX_ATTEMPTS`] tries, then failed).
    async fn receipt_tried(
        &self,
        id: i64,
        outcome: std::result::Result<(), String>,
        now: OffsetDateTime,
        retry_at: OffsetDateTime,
    ) -> Result<()>;
    async fn receipt_outbox_status(&self) -> Result<ReceiptOutboxStatus>;

    // --- reports (kept as day totals while rows are written) ---------------------
    async fn report_sales(&self, range: &ReportRange) -> Result<Vec<SalesDay>>;
    async fn report_ledger(&self, range: &ReportRange) -> Result<Vec<LedgerDay>>;
    async fn report_signups(&self, range: &ReportRange) -> Result<Vec<SignupDay>>;
    /// Group sizes as recorded at the start of each day (the maintenance run).
    async fn report_group_sizes(&self, range: &ReportRange) -> Result<Vec<GroupSizeDay>>;
    /// Every balance, summed: what the chain owes its customers now.
    async fn liability(&self) -> Result<Liability>;
    /// The customers who spent the most, active ones, biggest first.
    async fn top_customers(&self, limit: usize) -> Result<Vec<TopCustomer>>;
    async fn return_order(
        &self,
        actor: &Actor,
        request: ReturnRequest,
        now: OffsetDateTime,
    ) -> Result<(ReturnRecord, bool)>;
    async fn customer_activity(
        &self,
        key: &CustomerKey,
        now: OffsetDateTime,
    ) -> Result<CustomerActivity>;
    /// The same with every order and return (a person's data export).
    async fn customer_history(
        &self,
        key: &CustomerKey,
        now: OffsetDateTime,
    ) -> Result<CustomerActivity>;

    // --- scheduled work -------------------------------------------------------
    /// Birthday bonuses due today, expiry of points past their lifetime, and
    /// re-evaluation of time-dependent auto groups. Safe to run any number of times.
    async fn run_maintenance(&self, now: OffsetDateTime) -> Result<MaintenanceReport>;

    // --- operations ------------------------------------------------------------
    /// Figures for `/metrics`, `/readyz` and `patron doctor`; cheap, no I/O
    /// beyond a file's size.
    fn stats(&self) -> StorageStats;
    /// Writes nothing of value but goes through the writer: after a full disk,
    /// tells whether writes work again (and clears [`StorageStats::disk_full`]).
    async fn probe_write(&self) -> Result<()>;
    /// A consistent copy of the whole database into `path` (a new file), taken
    /// while the node keeps serving.
    async fn backup_into(&self, path: &std::path::Path) -> Result<()>;
    /// The database's own consistency check: empty when all is well, otherwise
    /// what is wrong, one line each (at most 100).
    async fn check_integrity(&self) -> Result<Vec<String>>;
    /// This database was just brought back from a backup: forget what may have
    /// been used after the backup was taken (a store's leased customer codes;
    /// HQ leases fresh ones), so nothing is issued twice.
    async fn after_restore(&self) -> Result<()>;

    // --- replication (docs/sync.md) ---------------------------------------------
    async fn node(&self) -> Result<NodeInfo>;
    /// Makes this database a store node's replica. Refused once it holds data of
    /// its own or belongs to another store.
    async fn become_store(&self, store: &patron_domain::StoreId) -> Result<()>;
    /// Entities changed after `after`, in order, with their current state.
    async fn feed(&self, after: i64, limit: usize) -> Result<FeedPage>;
    /// The newest feed seq, updated after every commit that changed the feed.
    fn feed_head(&self) -> tokio::sync::watch::Receiver<i64>;
    /// Applies a page of changes and, in the same transaction, saves `cursor`
    /// (a sync-state key and value), so a crash can never leave the cursor ahead
    /// of the data.
    async fn apply_changes(
        &self,
        from: &Peer,
        changes: Vec<Change>,
        cursor: Option<(String, i64)>,
    ) -> Result<ApplyReport>;
    async fn sync_value(&self, key: &str) -> Result<Option<String>>;
    async fn set_sync_value(&self, key: &str, value: &str) -> Result<()>;
    async fn register_store(
        &self,
        id: &patron_domain::StoreId,
        name: &str,
        token_hash: &str,
    ) -> Result<StoreInfo>;
    /// The store a (not revoked) sync token belongs to.
    async fn store_for_token(&self, token_hash: &str) -> Result<Option<StoreInfo>>;
    /// Replaces a store's token (and lifts a revocation).
    async fn rotate_store_token(
        &self,
        actor: &Actor,
        id: &str,
        token_hash: &str,
    ) -> Result<StoreInfo>;
    /// Revokes a store's token: nothing it sends is answered until rotated.
    async fn revoke_store(&self, actor: &Actor, id: &str) -> Result<StoreInfo>;
    async fn stores(&self) -> Result<Vec<StoreInfo>>;
    async fn touch_store(&self, id: &str, pushed: Option<i64>, pulled: Option<i64>) -> Result<()>;
    /// HQ: leases the next `count` customer numbers to `store`.
    async fn lease_codes(&self, store: &str, count: u64) -> Result<(u64, u64)>;
    /// A store: records a block leased by HQ.
    async fn add_code_block(&self, first: u64, last: u64) -> Result<()>;
    /// A store: codes left in its leased blocks.
    async fn codes_left(&self) -> Result<u64>;
    async fn overdrafts(&self) -> Result<Vec<Overdraft>>;
    /// HQ: writes a consistent copy of the whole database to `path` (a new
    /// store's snapshot).
    /// HQ: a consistent copy of the database for `store`, holding nothing
    /// the store must not have: no sessions, no other store's credentials,
    /// leases or refusals, no operation keys, password hashes only of users
    /// who may sign in there.
    async fn snapshot_into(&self, path: &std::path::Path, store: &str) -> Result<()>;
    /// A store opened on HQ's snapshot: drops what is HQ's alone (sessions,
    /// store credentials, leases, overdrafts, feed) and starts following HQ's
    /// feed from the snapshot's position.
    async fn adopt_snapshot(&self, store: &patron_domain::StoreId) -> Result<()>;
    /// HQ: authorises and records a store's redemption for an order (all or
    /// none), under the user who signed the request; asking again for the
    /// same order changes nothing.
    async fn authorize_redemption(
        &self,
        store: &str,
        actor: &str,
        customer: Uuid,
        order_id: &str,
        entries: Vec<(Account, i64)>,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// HQ: gives back an order's authorised redemption whose sale did not go
    /// through (a no-op once the sale has arrived).
    async fn release_redemption(
        &self,
        store: &str,
        actor: &str,
        order_id: &str,
        now: OffsetDateTime,
    ) -> Result<u64>;
    /// A store: what it let a customer redeem since `since`.
    async fn redeemed_since(&self, key: &CustomerKey, since: OffsetDateTime) -> Result<i64>;

    // --- operations: a store's users' work, re-applied at HQ (docs/sync.md) ----------
    /// A store: recorded operations after `after`, at most `max_ops` and about
    /// `max_bytes` of text (always at least one when there is one).
    async fn outbox(&self, after: i64, max_ops: usize, max_bytes: usize) -> Result<OutboxPage>;
    /// A store: the newest outbox position.
    async fn outbox_head(&self) -> Result<i64>;
    /// A store: HQ answered for the operations up to `up_to`; they leave the
    /// outbox and the push cursor moves, together.
    async fn acknowledge_outbox(&self, up_to: i64) -> Result<()>;
    /// HQ: applies operations `store` sent (signatures and the actors' rights
    /// already checked by the caller), each on its own: one refused leaves the
    /// others applied, and the refusal recorded. An operation id seen before is
    /// answered as it was then. One transaction for the page.
    async fn apply_ops(
        &self,
        store: &str,
        ops: Vec<ops::Op>,
        refused: Vec<Refusal>,
        now: OffsetDateTime,
    ) -> Result<Vec<ops::OpResult>>;
    /// A store: keeps the refusals HQ reported, so its users see them.
    async fn record_refusals(&self, refusals: Vec<Refusal>) -> Result<()>;
    /// Refused operations, newest first.
    async fn refusals(&self, limit: usize) -> Result<Vec<Refusal>>;
    /// How many operations were refused, per store.
    async fn refusal_counts(&self) -> Result<Vec<(String, u64)>>;
    /// Refused operations about one entity (a customer id, an order id).
    async fn refusals_of(&self, entity: &str) -> Result<Vec<Refusal>>;
    /// HQ: the user and the hex operation key HQ holds for them.
    async fn user_op_key(&self, username: &Username) -> Result<Option<(User, Option<String>)>>;
    /// HQ: stores a user's operation key (never replicated to stores).
    async fn set_user_op_key(&self, username: &Username, key_hex: &str) -> Result<()>;
}

impl From<ValidationErrors> for StorageError {
    fn from(e: ValidationErrors) -> Self {
        StorageError::Invalid(e)
    }
}
