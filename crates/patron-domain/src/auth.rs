//! Users' roles and the permissions each role grants.
//!
//! Roles are fixed in code rather than stored: a permission check is then a pure
//! function, identical on every node, and a role cannot be edited into a state that
//! locks every administrator out.

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
}

impl Permission {
    pub const ALL: [Permission; 13] = [
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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including users and settings.
    Admin,
    /// Runs the customer base: every customer permission.
    Manager,
    /// Works the register: finds, creates and corrects customers; cannot deactivate.
    Cashier,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Manager, Role::Cashier];

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "manager" => Ok(Role::Manager),
            "cashier" => Ok(Role::Cashier),
            _ => Err(FieldError::new(
                "role",
                "must be one of admin, manager, cashier",
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Cashier => "cashier",
        }
    }

    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Admin => &Permission::ALL,
            Role::Manager => &[
                CustomersView,
                CustomersCreate,
                CustomersEdit,
                CustomersDeactivate,
                GroupsManage,
                LoyaltyManage,
                OrdersCreate,
                OrdersRefund,
                LimitsOverride,
                ReportsView,
            ],
            Role::Cashier => &[CustomersView, CustomersCreate, CustomersEdit, OrdersCreate],
        }
    }

    pub fn allows(self, p: Permission) -> bool {
        self.permissions().contains(&p)
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

/// Passwords people pick first and attackers try first (8 characters or more,
/// from published lists of the most common passwords), compared ignoring case.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "12345678",
    "123456789",
    "1234567890",
    "11111111",
    "00000000",
    "88888888",
    "87654321",
    "987654321",
    "12341234",
    "11223344",
    "123123123",
    "qwertyuiop",
    "qwertyui",
    "qwerty123",
    "qwerty12",
    "1qaz2wsx",
    "zaq12wsx",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "q1w2e3r4",
    "qwer1234",
    "asdfghjk",
    "asdfghjkl",
    "zxcvbnm1",
    "password1",
    "password12",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "starwars",
    "trustno1",
    "whatever",
    "letmein1",
    "welcome1",
    "welcome123",
    "changeme",
    "computer",
    "internet",
    "michelle",
    "jennifer",
    "abcd1234",
    "abc12345",
    "aa123456",
    "a1234567",
    "admin123",
    "administrator",
    "master123",
    "monkey123",
    "dragon123",
    "shadow123",
    "football1",
    "baseball1",
    "1password",
    "secret123",
    "default1",
    "letmein123",
    "welcomewelcome",
    "passwordpassword",
    "administrator1",
];

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
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
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
            assert!(Role::Admin.allows(p));
        }
        assert!(Role::Manager.allows(Permission::CustomersDeactivate));
        assert!(!Role::Manager.allows(Permission::UsersManage));
        assert!(Role::Cashier.allows(Permission::CustomersCreate));
        assert!(!Role::Cashier.allows(Permission::CustomersDeactivate));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
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
