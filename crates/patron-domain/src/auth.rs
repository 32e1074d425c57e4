//! Users' roles and the permissions each role grants.
//!
//! A role is a named set of permissions. The three built-in roles are fixed in
//! code, so a role can never be edited into a state that locks every
//! administrator out; a chain's own roles are data (HQ stores and replicates
//! them) but a permission check is the same pure function on every node.

use crate::error::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    CustomersView,
    CustomersCreate,
    CustomersEdit,
    CustomersDeactivate,
    UsersManage,
    SettingsManage,
    GroupsManage,
    LoyaltyManage,
    OrdersCreate,
    OrdersRefund,
    /// Proceed with a sale past a purchase limit set to "warn" (audited).
    LimitsOverride,
    ReportsView,
    StoresManage,
    /// Erase a person's data on a privacy request (irreversible).
    CustomersErase,
    /// Merge records of one person into one.
    CustomersMerge,
    /// Download the customer list as CSV (with `customers.view`).
    CustomersExport,
}

impl Permission {
    pub const ALL: [Permission; 16] = [
        Permission::CustomersView,
        Permission::CustomersCreate,
        Permission::CustomersEdit,
        Permission::CustomersDeactivate,
        Permission::UsersManage,
        Permission::SettingsManage,
        Permission::GroupsManage,
        Permission::LoyaltyManage,
        Permission::OrdersCreate,
        Permission::OrdersRefund,
        Permission::LimitsOverride,
        Permission::ReportsView,
        Permission::StoresManage,
        Permission::CustomersErase,
        Permission::CustomersMerge,
        Permission::CustomersExport,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::CustomersView => "customers.view",
            Permission::CustomersCreate => "customers.create",
            Permission::CustomersEdit => "customers.edit",
            Permission::CustomersDeactivate => "customers.deactivate",
            Permission::UsersManage => "users.manage",
            Permission::SettingsManage => "settings.manage",
            Permission::GroupsManage => "groups.manage",
            Permission::LoyaltyManage => "loyalty.manage",
            Permission::OrdersCreate => "orders.create",
            Permission::OrdersRefund => "orders.refund",
            Permission::LimitsOverride => "limits.override",
            Permission::ReportsView => "reports.view",
            Permission::StoresManage => "stores.manage",
            Permission::CustomersErase => "customers.erase",
            Permission::CustomersMerge => "customers.merge",
            Permission::CustomersExport => "customers.export",
        }
    }
}

/// A set of permissions, one bit each: copied freely, compared cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub const fn of(list: &[Permission]) -> Self {
        let mut bits = 0u32;
        let mut i = 0;
        while i < list.len() {
            bits |= 1 << list[i] as u32;
            i += 1;
        }
        PermissionSet(bits)
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & (1 << p as u32) != 0
    }

    /// Whether every permission of `other` is in this set.
    pub fn covers(self, other: PermissionSet) -> bool {
        other.0 & !self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// Parses permission names (`customers.view`); the error names the first
    /// unknown one, on the field `permissions[i]`.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, FieldError> {
        let mut set = PermissionSet::default();
        for (i, n) in names.iter().enumerate() {
            let n = n.as_ref().trim();
            match Permission::ALL.iter().find(|p| p.name() == n) {
                Some(p) => set.0 |= 1 << *p as u32,
                None => {
                    return Err(FieldError::new(
                        format!("permissions[{i}]"),
                        format!("{n:?} is not a permission"),
                    ));
                }
            }
        }
        Ok(set)
    }
}

/// A named set of permissions. Three are built in and fixed in code (admin,
/// manager, cashier), so no edit can lock every administrator out; a chain
/// adds its own ("view-only", "shift lead"), stored at HQ and replicated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Role {
    name: Cow<'static, str>,
    permissions: PermissionSet,
}

use std::borrow::Cow;

const MANAGER_PERMISSIONS: PermissionSet = {
    use Permission::*;
    PermissionSet::of(&[
        CustomersView,
        CustomersCreate,
        CustomersEdit,
        CustomersDeactivate,
        CustomersMerge,
        CustomersExport,
        GroupsManage,
        LoyaltyManage,
        OrdersCreate,
        OrdersRefund,
        LimitsOverride,
        ReportsView,
    ])
};

impl Role {
    /// Everything, including users, settings and stores.
    pub const ADMIN: Role = Role {
        name: Cow::Borrowed("admin"),
        permissions: PermissionSet::of(&Permission::ALL),
    };
    /// Runs the customer base: every customer permission.
    pub const MANAGER: Role = Role {
        name: Cow::Borrowed("manager"),
        permissions: MANAGER_PERMISSIONS,
    };
    /// Works the register: finds, creates and corrects customers; cannot deactivate.
    pub const CASHIER: Role = Role {
        name: Cow::Borrowed("cashier"),
        permissions: PermissionSet::of(&[
            Permission::CustomersView,
            Permission::CustomersCreate,
            Permission::CustomersEdit,
            Permission::OrdersCreate,
        ]),
    };

    pub const BUILT_IN: [Role; 3] = [Role::ADMIN, Role::MANAGER, Role::CASHIER];

    /// One of the built-in roles, by name.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let name = input.trim().to_ascii_lowercase();
        Role::BUILT_IN
            .into_iter()
            .find(|r| r.name == name.as_str())
            .ok_or_else(|| FieldError::new("role", "must be one of admin, manager, cashier"))
    }

    /// A chain's own role: 3–32 characters of lowercase letters, digits, `-`,
    /// `_` and spaces, not a built-in name.
    pub fn custom(name: &str, permissions: PermissionSet) -> Result<Self, FieldError> {
        let name = Role::parse_name(name)?;
        if Role::BUILT_IN.iter().any(|r| r.name == name.as_str()) {
            return Err(FieldError::new(
                "name",
                "is a built-in role, which cannot be redefined",
            ));
        }
        Ok(Role {
            name: Cow::Owned(name),
            permissions,
        })
    }

    /// A role name as stored: trimmed, lowercased, checked.
    pub fn parse_name(input: &str) -> Result<String, FieldError> {
        let name = input.trim().to_ascii_lowercase();
        if !(3..=32).contains(&name.len()) {
            return Err(FieldError::new("name", "must be 3 to 32 characters"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_ ".contains(c))
        {
            return Err(FieldError::new(
                "name",
                "may contain only letters, digits, '-', '_' and spaces",
            ));
        }
        Ok(name)
    }

    /// A stored role whose definition is gone holds no permission at all.
    pub fn unknown(name: &str) -> Self {
        Role {
            name: Cow::Owned(name.to_owned()),
            permissions: PermissionSet::default(),
        }
    }

    pub fn is_built_in(&self) -> bool {
        Role::BUILT_IN.iter().any(|r| r.name == self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn permission_set(&self) -> PermissionSet {
        self.permissions
    }

    pub fn permissions(&self) -> Vec<Permission> {
        self.permissions.iter().collect()
    }

    pub fn allows(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }
}

/// A login name: 3–64 characters of ASCII letters, digits, `.`, `_`, `-`, `@`;
/// compared case-insensitively (stored lowercased).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim().to_ascii_lowercase();
        if !(3..=64).contains(&s.len()) {
            return Err(FieldError::new("username", "must be 3 to 64 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c))
        {
            return Err(FieldError::new(
                "username",
                "may contain only letters, digits, '.', '-', '_' and '@'",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shortest password accepted (NIST SP 800-63B's floor for user-chosen secrets).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Passwords people pick first and attackers try first: the 8-character-or-longer
/// entries of zxcvbn's list of the 30,000 most common passwords (MIT licence,
/// from leaked-password corpora), lowercased, sorted, one per line.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Whether `lower` (already lowercased) is on the common-passwords list.
fn is_common(lower: &str) -> bool {
    static LIST: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        let mut v: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        v.sort_unstable();
        v
    })
    .binary_search(&lower)
    .is_ok()
}

/// NIST SP 800-63B's rules for a chosen password: long enough, not the
/// username, not blank, not one of the most common ones.
pub fn check_password_policy(username: &str, password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > 1024 {
        return Err(FieldError::new(
            "password",
            "must be at most 1024 characters",
        ));
    }
    if password.trim().is_empty() {
        return Err(FieldError::new("password", "must not be only spaces"));
    }
    let lower = password.to_lowercase();
    if lower == username.trim().to_lowercase() {
        return Err(FieldError::new("password", "must not be the username"));
    }
    if is_common(&lower) {
        return Err(FieldError::new(
            "password",
            "is one of the most commonly used passwords; choose another",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_nested_permissions() {
        for p in Permission::ALL {
            assert!(Role::ADMIN.allows(p));
        }
        assert!(Role::MANAGER.allows(Permission::CustomersDeactivate));
        assert!(!Role::MANAGER.allows(Permission::UsersManage));
        assert!(Role::CASHIER.allows(Permission::CustomersCreate));
        assert!(!Role::CASHIER.allows(Permission::CustomersDeactivate));
        for r in Role::BUILT_IN {
            assert_eq!(Role::parse(r.name()), Ok(r.clone()));
        }
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn custom_roles_are_permission_sets() {
        let set = PermissionSet::parse(&["customers.view", " reports.view"]).unwrap();
        let r = Role::custom(" View-Only ", set).unwrap();
        assert_eq!(r.name(), "view-only");
        assert!(r.allows(Permission::ReportsView));
        assert!(!r.allows(Permission::CustomersEdit));
        assert!(!r.is_built_in());
        assert_eq!(r.permissions().len(), 2);
        assert!(Role::ADMIN.permission_set().covers(set));
        assert!(!set.covers(Role::CASHIER.permission_set()));
        let err = PermissionSet::parse(&["customers.view", "root"]).unwrap_err();
        assert_eq!(err.field, "permissions[1]");
        assert!(Role::custom("admin", set).is_err());
        assert!(Role::custom("x", set).is_err());
        assert!(Role::custom("no<script>", set).is_err());
        assert!(!Role::unknown("gone").allows(Permission::CustomersView));
    }

    #[test]
    fn the_common_password_list_is_loaded_and_searched() {
        assert!(is_common("password"));
        assert!(is_common("1qaz2wsx"));
        assert!(is_common("trustno1"));
        assert!(!is_common("correct horse battery staple"));
        assert!(COMMON_PASSWORDS.lines().count() > 10_000);
    }

    #[test]
    fn usernames_and_passwords() {
        assert_eq!(
            Username::parse(" Ann.Lee ").map(|u| u.0),
            Ok("ann.lee".into())
        );
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("ann lee").is_err());
        assert!(check_password_policy("ann", "short").is_err());
        assert!(check_password_policy("ann", "long enough").is_ok());
        for weak in ["password", "12345678", "        ", "PassWord1", "annalee1"] {
            assert!(check_password_policy("annalee1", weak).is_err(), "{weak:?}");
        }
    }
}
