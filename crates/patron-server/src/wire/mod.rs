//! The JSON shapes of the HTTP API, converted by hand to and from domain types so
//! the domain never bends to serde or HTTP.

use patron_domain::customer::Field;
use patron_domain::{Customer, Patch};
use patron_storage::{AuditEntry, User};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

mod duplicates;
mod id_scan;
mod privacy;
mod sales;
mod sync_status;
pub use duplicates::*;
pub use id_scan::*;
pub use privacy::*;
pub use sales::*;
pub use sync_status::*;

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Distinguishes an absent member (`None`) from an explicit `null` (`Some(None)`),
/// which a partial update needs: absent keeps a field, null clears it.
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressView {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MedicalView {
    pub card_number: Option<String>,
    pub issuing_state: Option<String>,
    /// YYYY-MM-DD
    pub expiry: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdDocumentView {
    pub number: Option<String>,
    pub issuing_state: Option<String>,
    pub issuing_country: Option<String>,
    /// YYYY-MM-DD
    pub expiry: Option<String>,
}

/// A customer as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: Uuid,
    /// Unique human-readable code, e.g. `CUST-00042`.
    pub code: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    /// E.164, e.g. `+12015550123`.
    pub phone: Option<String>,
    /// The phone as shown: national in the chain's region (`(201) 555-0123`),
    /// international otherwise; made when the number was written.
    pub phone_display: Option<String>,
    pub tax_id: Option<String>,
    pub address: AddressView,
    /// YYYY-MM-DD
    pub date_of_birth: Option<String>,
    /// Internal; never printed on receipts.
    pub notes: Option<String>,
    /// Store where the record was created; null when created at HQ.
    pub origin_store: Option<String>,
    pub active: bool,
    pub marketing_consent: bool,
    pub medical: MedicalView,
    pub id_document: IdDocumentView,
    pub created_at: String,
    pub updated_at: String,
    /// When the person's data was erased on a privacy request; absent if never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<String>,
    /// The customer this record was merged into; absent if it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<Uuid>,
    /// Points and store credit, on single-customer reads: balance, available,
    /// locked (return window) and next expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balances: Option<BalancesView>,
    /// On single-customer reads, when HQ refused a change made to this
    /// customer at a store: what and why (docs/sync.md, "Trust").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusalView>,
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        let d = &c.data;
        let g = |f: Field| d.get(f);
        CustomerView {
            id: c.id,
            code: c.code.as_str().to_owned(),
            first_name: d.first_name.clone(),
            last_name: d.last_name.clone(),
            email: g(Field::Email),
            phone: g(Field::Phone),
            phone_display: d.phone.as_ref().map(|p| p.display().to_owned()),
            tax_id: g(Field::TaxId),
            address: AddressView {
                line1: g(Field::AddressLine1),
                line2: g(Field::AddressLine2),
                city: g(Field::AddressCity),
                region: g(Field::AddressRegion),
                postal_code: g(Field::AddressPostalCode),
                country: g(Field::AddressCountry),
            },
            date_of_birth: g(Field::DateOfBirth),
            notes: g(Field::Notes),
            origin_store: c.origin_store.as_ref().map(|s| s.as_str().to_owned()),
            active: c.active,
            marketing_consent: d.marketing_consent,
            medical: MedicalView {
                card_number: g(Field::MedicalCardNumber),
                issuing_state: g(Field::MedicalIssuingState),
                expiry: g(Field::MedicalExpiry),
            },
            id_document: IdDocumentView {
                number: g(Field::IdNumber),
                issuing_state: g(Field::IdIssuingState),
                issuing_country: g(Field::IdIssuingCountry),
                expiry: g(Field::IdExpiry),
            },
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            erased_at: c.erased_at.map(rfc3339),
            merged_into: c.merged_into,
            balances: None,
            refused: Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 200)]
    pub line1: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 200)]
    pub line2: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 100)]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 100)]
    pub region: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 20)]
    pub postal_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(pattern = "^([A-Za-z]{2})?$")]
    pub country: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicalInput {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 50)]
    pub card_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 50)]
    pub issuing_state: Option<Option<String>>,
    /// YYYY-MM-DD
    #[serde(default, deserialize_with = "double_option")]
    #[schema(format = Date)]
    pub expiry: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdDocumentInput {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 50)]
    pub number: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 50)]
    pub issuing_state: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(pattern = "^([A-Za-z]{2})?$")]
    pub issuing_country: Option<Option<String>>,
    /// YYYY-MM-DD
    #[serde(default, deserialize_with = "double_option")]
    #[schema(format = Date)]
    pub expiry: Option<Option<String>>,
}

/// A customer to create (`POST`) or the members to change (`PATCH`, as a JSON
/// merge patch: an absent member is kept, `null` clears it, nested objects merge).
/// `first_name` and `last_name` are required on create and cannot be cleared.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// On create only: an id the client chose (UUID), so that a create sent
    /// again after a lost answer returns the first result instead of making a
    /// second customer.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 254)]
    pub email: Option<Option<String>>,
    /// Any common format; normalised to E.164 in the configured default region.
    #[serde(default, deserialize_with = "double_option")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 50)]
    pub tax_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub address: Option<Option<AddressInput>>,
    /// YYYY-MM-DD
    #[serde(default, deserialize_with = "double_option")]
    #[schema(format = Date)]
    pub date_of_birth: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 4000)]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub marketing_consent: Option<Option<bool>>,
    #[serde(default, deserialize_with = "double_option")]
    pub medical: Option<Option<MedicalInput>>,
    #[serde(default, deserialize_with = "double_option")]
    pub id_document: Option<Option<IdDocumentInput>>,
}

type Patches = Vec<(Field, Patch<String>)>;

fn push(out: &mut Patches, field: Field, v: Option<Option<String>>) {
    match v {
        None => {}
        Some(None) => out.push((field, Patch::Clear)),
        Some(Some(s)) => out.push((field, Patch::Set(s))),
    }
}

/// A nested object: `null` clears all its fields, an object merges member-wise.
fn push_nested<T>(
    out: &mut Patches,
    v: Option<Option<T>>,
    fields: &[Field],
    split: impl FnOnce(T) -> Vec<Option<Option<String>>>,
) {
    match v {
        None => {}
        Some(None) => out.extend(fields.iter().map(|f| (*f, Patch::Clear))),
        Some(Some(inner)) => {
            for (f, value) in fields.iter().zip(split(inner)) {
                push(out, *f, value);
            }
        }
    }
}

impl CustomerInput {
    /// The fields this input sets or clears, by domain field name.
    pub fn into_patch(self) -> Patches {
        let mut out = Vec::new();
        push(&mut out, Field::FirstName, self.first_name);
        push(&mut out, Field::LastName, self.last_name);
        push(&mut out, Field::Email, self.email);
        push(&mut out, Field::Phone, self.phone);
        push(&mut out, Field::TaxId, self.tax_id);
        push_nested(
            &mut out,
            self.address,
            &[
                Field::AddressLine1,
                Field::AddressLine2,
                Field::AddressCity,
                Field::AddressRegion,
                Field::AddressPostalCode,
                Field::AddressCountry,
            ],
            |a| vec![a.line1, a.line2, a.city, a.region, a.postal_code, a.country],
        );
        push(&mut out, Field::DateOfBirth, self.date_of_birth);
        push(&mut out, Field::Notes, self.notes);
        push(
            &mut out,
            Field::MarketingConsent,
            self.marketing_consent.map(|o| o.map(|b| b.to_string())),
        );
        push_nested(
            &mut out,
            self.medical,
            &[
                Field::MedicalCardNumber,
                Field::MedicalIssuingState,
                Field::MedicalExpiry,
            ],
            |m| vec![m.card_number, m.issuing_state, m.expiry],
        );
        push_nested(
            &mut out,
            self.id_document,
            &[
                Field::IdNumber,
                Field::IdIssuingState,
                Field::IdIssuingCountry,
                Field::IdExpiry,
            ],
            |d| vec![d.number, d.issuing_state, d.issuing_country, d.expiry],
        );
        out
    }

    /// The fields of a new customer (cleared fields are simply not given).
    pub fn into_fields(self) -> Vec<(Field, String)> {
        self.into_patch()
            .into_iter()
            .filter_map(|(f, p)| match p {
                Patch::Set(s) => Some((f, s)),
                Patch::Clear => None,
            })
            .collect()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPage {
    pub items: Vec<CustomerView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub at: String,
    pub actor: String,
    /// `create`, `import`, `update`, `deactivate`, `reactivate`, `erase`.
    pub action: String,
    pub field: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            at: rfc3339(e.at),
            actor: e.actor,
            action: e.action,
            field: e.field,
            old: e.old,
            new: e.new,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: String,
    pub user: UserView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub active: bool,
    pub permissions: Vec<String>,
    pub created_at: String,
    /// A store's own user signs in at that store only; `null`: an HQ user.
    pub store: Option<String>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            username: u.username.as_str().to_owned(),
            role: u.role.name().to_owned(),
            active: u.active,
            permissions: u
                .role
                .permissions()
                .iter()
                .map(|p| p.name().to_owned())
                .collect(),
            created_at: rfc3339(u.created_at),
            store: u.store.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    /// 3–64 characters: letters, digits, `.`, `-`, `_`, `@`.
    #[schema(min_length = 3, max_length = 64)]
    pub username: String,
    /// At least 8 characters, not the username, not a commonly used password.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// `admin`, `manager`, `cashier` or a role the chain defined.
    pub role: String,
    /// A registered store's id, for that store's own user; absent: an HQ user.
    #[serde(default)]
    pub store: Option<String>,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdateInput {
    #[serde(default)]
    pub role: Option<String>,
    /// A registered store's id, or `null` to make them an HQ user.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub store: Option<Option<String>>,
    /// `false` deactivates the user and ends their sessions everywhere.
    #[serde(default)]
    pub active: Option<bool>,
}

/// An administrator's reset of another user's password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetInput {
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

/// A user's change of their own password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeInput {
    pub current_password: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// A chain's own role: a name and the permissions it grants.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// 3–32 characters: letters, digits, `-`, `_`, spaces; not a built-in name.
    #[schema(min_length = 3, max_length = 32)]
    pub name: String,
    /// Permission names, e.g. `customers.view`.
    pub permissions: Vec<String>,
}

/// The permissions of a role being redefined.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePermissionsInput {
    pub permissions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub name: String,
    pub permissions: Vec<String>,
    /// Built-in roles (admin, manager, cashier) cannot be changed.
    pub built_in: bool,
}

impl From<&patron_domain::Role> for RoleView {
    fn from(r: &patron_domain::Role) -> Self {
        RoleView {
            name: r.name().to_owned(),
            permissions: r
                .permissions()
                .iter()
                .map(|p| p.name().to_owned())
                .collect(),
            built_in: r.is_built_in(),
        }
    }
}

/// One line of the security log.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityEventView {
    pub id: i64,
    pub at: String,
    /// `sign-in`, `sign-in-failed`, `sign-in-throttled`, `sign-out`,
    /// `unauthenticated`, `forbidden`, `user-created`, `user-changed`,
    /// `password-changed`, `password-reset`, `role-changed`, `store-token`.
    pub kind: String,
    pub username: Option<String>,
    /// The client's address.
    pub client: Option<String>,
    pub detail: String,
}

impl From<&patron_storage::SecurityEvent> for SecurityEventView {
    fn from(e: &patron_storage::SecurityEvent) -> Self {
        SecurityEventView {
            id: e.id,
            at: rfc3339(e.at),
            kind: e.kind.clone(),
            username: e.username.clone(),
            client: e.client.clone(),
            detail: e.detail.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityEventList {
    pub items: Vec<SecurityEventView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsView {
    /// Customer code prefix, e.g. `CUST-`.
    pub code_prefix: String,
    /// Minimum digits of a customer code number.
    pub code_width: u8,
    /// Default region for phone numbers without `+country` (ISO 3166-1 alpha-2).
    pub phone_region: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    #[schema(max_length = 12, pattern = "^[A-Za-z0-9_-]*$")]
    pub code_prefix: Option<String>,
    #[schema(minimum = 1, maximum = 12)]
    pub code_width: Option<u8>,
    #[schema(pattern = "^([A-Za-z]{2})?$")]
    pub phone_region: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_semantics() {
        let input: CustomerInput = serde_json::from_str(
            r#"{"first_name":"Ann","email":null,"address":{"city":"Oslo","line2":null},"medical":null}"#,
        )
        .unwrap();
        let p = input.into_patch();
        assert!(p.contains(&(Field::FirstName, Patch::Set("Ann".into()))));
        assert!(p.contains(&(Field::Email, Patch::Clear)));
        assert!(p.contains(&(Field::AddressCity, Patch::Set("Oslo".into()))));
        assert!(p.contains(&(Field::AddressLine2, Patch::Clear)));
        assert!(!p.iter().any(|(f, _)| *f == Field::AddressLine1));
        assert!(p.contains(&(Field::MedicalExpiry, Patch::Clear)));
        assert!(!p.iter().any(|(f, _)| *f == Field::LastName));
    }
}

/// An operation HQ refused, and why (docs/sync.md, "Trust").
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusalView {
    pub op_id: Option<Uuid>,
    pub store: String,
    /// `create_customer`, `edit_customer`, `entry`, `order`, `return`, …
    pub kind: String,
    /// The customer or order it was about.
    pub entity: String,
    pub actor: String,
    pub reason: String,
    pub at: String,
}

impl From<&patron_storage::Refusal> for RefusalView {
    fn from(r: &patron_storage::Refusal) -> Self {
        RefusalView {
            op_id: r.op_id,
            store: r.store.clone(),
            kind: r.kind.clone(),
            entity: r.entity.clone(),
            actor: r.actor.clone(),
            reason: r.reason.clone(),
            at: r.at.format(&Rfc3339).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusalList {
    pub items: Vec<RefusalView>,
}

/// A registered store.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreView {
    /// e.g. `S01`.
    pub id: String,
    pub name: String,
    pub created_at: String,
    /// When the store last confirmed HQ's feed or sent operations.
    pub last_contact: Option<String>,
    /// When its token was revoked; a revoked store is answered nothing.
    pub revoked_at: Option<String>,
}

impl From<&patron_storage::StoreInfo> for StoreView {
    fn from(s: &patron_storage::StoreInfo) -> Self {
        StoreView {
            id: s.id.clone(),
            name: s.name.clone(),
            created_at: rfc3339(s.created_at),
            last_contact: s.last_seen.map(rfc3339),
            revoked_at: s.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoreList {
    pub items: Vec<StoreView>,
}

/// A balance below zero, or a redemption past the offline cap, that HQ
/// recorded instead of refusing a sale that happened.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdraftView {
    pub customer_id: String,
    pub code: String,
    /// `points` or `credit`.
    pub account: String,
    /// The balance after the entry, in minor units (points for `points`).
    pub balance: i64,
    pub entry_id: String,
    pub store: Option<String>,
    pub detected_at: String,
    pub reason: Option<String>,
}

impl From<&patron_storage::Overdraft> for OverdraftView {
    fn from(o: &patron_storage::Overdraft) -> Self {
        OverdraftView {
            customer_id: o.customer_id.to_string(),
            code: o.code.clone(),
            account: o.account.clone(),
            balance: o.balance,
            entry_id: o.entry_id.clone(),
            store: o.store.clone(),
            detected_at: rfc3339(o.detected_at),
            reason: o.reason.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverdraftList {
    pub items: Vec<OverdraftView>,
}

/// A user's password hash, as HQ gives it to the one store where they may sign in.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    pub username: String,
    /// An argon2id PHC string.
    pub password_hash: String,
}

/// One account's balance: all of it, what can be spent now, what is locked
/// (earned but not yet available), and the next expiry.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    pub balance: i64,
    pub available: i64,
    pub locked: i64,
    pub next_expiry: Option<NextExpiryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NextExpiryView {
    pub at: String,
    pub amount: i64,
}

/// Points and store credit (minor units; points in hundredths).
#[derive(Debug, Serialize, ToSchema)]
pub struct BalancesView {
    pub points: BalanceView,
    pub credit: BalanceView,
}

/// A ledger entry. Entries are only ever added; a balance is their sum.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub id: uuid::Uuid,
    /// `points` or `credit`.
    pub account: String,
    /// `earn`, `redeem`, `adjust`, `top-up`, `bonus`, `expire`, `return`, ...
    pub kind: String,
    pub amount: i64,
    pub at: String,
    pub order_id: Option<String>,
    pub store: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub available_at: Option<String>,
    pub expires_at: Option<String>,
}

/// A customer's balances and entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerView {
    pub balances: BalancesView,
    pub items: Vec<LedgerEntryView>,
}
