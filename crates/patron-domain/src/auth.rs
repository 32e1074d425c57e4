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

pub fn check_password_policy(password: &str) -> Result<(), FieldError> {
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
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("long enough").is_ok());
    }
}
