use crate::{db_err, from_micros, micros};
use patron_domain::{Permission, PermissionSet, Role, Username};
use patron_storage::{
    Credential, NewSession, NewUser, OffsetDateTime, Result, StorageError, User, UserChange,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// A user with their role's permissions: built-in roles from code, a chain's
/// own from the `roles` table (a deleted or unknown role grants nothing).
const USER_COLUMNS: &str =
    "u.id, u.username, u.role, u.active, u.created_at, u.store, r.permissions";
const USERS_WITH_ROLES: &str = "users u LEFT JOIN roles r ON r.name = u.role AND r.deleted = 0";

fn bad(col: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, what.into())
}

fn resolve_role(name: &str, permissions: Option<&str>) -> Role {
    if let Ok(r) = Role::parse(name) {
        return r;
    }
    let set = permissions
        .map(|p| p.split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>())
        .and_then(|names| PermissionSet::parse(&names).ok());
    match set.and_then(|set| Role::custom(name, set).ok()) {
        Some(r) => r,
        None => Role::unknown(name),
    }
}

fn row_to_user(r: &Row<'_>) -> rusqlite::Result<User> {
    let username: String = r.get(1)?;
    let role: String = r.get(2)?;
    let permissions: Option<String> = r.get(6)?;
    Ok(User {
        id: r.get(0)?,
        username: Username::parse(&username).map_err(|e| bad(1, e.to_string()))?,
        role: resolve_role(&role, permissions.as_deref()),
        active: r.get(3)?,
        created_at: from_micros(r.get(4)?),
        store: r.get(5)?,
    })
}

fn by_name(c: &Connection, username: &str) -> Result<Option<User>> {
    c.query_row(
        &format!("SELECT {USER_COLUMNS} FROM {USERS_WITH_ROLES} WHERE u.username = ?1"),
        [username],
        row_to_user,
    )
    .optional()
    .map_err(db_err)
}

pub fn create(c: &Connection, new: NewUser) -> Result<User> {
    if by_name(c, new.username.as_str())?.is_some() {
        return Err(StorageError::Conflict {
            field: "username".into(),
            message: format!("{} is already taken", new.username),
        });
    }
    check_role_exists(c, &new.role)?;
    if let Some(s) = &new.store {
        check_store_registered(c, s.as_str())?;
    }
    let now = micros(OffsetDateTime::now_utc());
    c.execute(
        "INSERT INTO users (username, password_hash, role, active, created_at, store, op_key) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)",
        params![new.username.as_str(), new.password_hash, new.role.name(), now, new.store.as_ref().map(|s| s.as_str()), new.op_key],
    )
    .map_err(db_err)?;
    crate::sync::mark(c, "user", new.username.as_str())?;
    by_name(c, new.username.as_str())?.ok_or(StorageError::NotFound)
}

fn check_role_exists(c: &Connection, role: &Role) -> Result<()> {
    if role.is_built_in() || find_role(c, role.name())?.is_some() {
        Ok(())
    } else {
        Err(crate::invalid(
            "role",
            &format!("there is no role named {:?}", role.name()),
        ))
    }
}

/// At HQ, a store must be registered before it has users. (A store node
/// holds no store list; HQ checked when it made the user.)
fn check_store_registered(c: &Connection, store: &str) -> Result<()> {
    if crate::sync::node(c)?.role != patron_storage::NodeRole::Hq {
        return Ok(());
    }
    let known: Option<i64> = c
        .query_row("SELECT 1 FROM stores WHERE id = ?1", [store], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    match known {
        Some(_) => Ok(()),
        None => Err(crate::invalid(
            "store",
            &format!("store {store} is not registered"),
        )),
    }
}

pub fn update(c: &Connection, username: &Username, change: UserChange) -> Result<User> {
    let before = by_name(c, username.as_str())?.ok_or(StorageError::NotFound)?;
    if let Some(role) = &change.role {
        check_role_exists(c, role)?;
        c.execute(
            "UPDATE users SET role = ?1 WHERE id = ?2",
            params![role.name(), before.id],
        )
        .map_err(db_err)?;
    }
    if let Some(store) = &change.store {
        if let Some(s) = store {
            check_store_registered(c, s.as_str())?;
        }
        c.execute(
            "UPDATE users SET store = ?1 WHERE id = ?2",
            params![store.as_ref().map(|s| s.as_str()), before.id],
        )
        .map_err(db_err)?;
    }
    if let Some(active) = change.active {
        c.execute(
            "UPDATE users SET active = ?1 WHERE id = ?2",
            params![active, before.id],
        )
        .map_err(db_err)?;
    }
    if let Some(p) = &change.password {
        c.execute(
            "UPDATE users SET password_hash = ?1, op_key = ?2 WHERE id = ?3",
            params![p.hash, p.op_key, before.id],
        )
        .map_err(db_err)?;
    }
    // Whoever loses access, loses it now: no session outlives a deactivation,
    // a new password, or a move to another store.
    let store_moved = change
        .store
        .as_ref()
        .is_some_and(|s| s.as_ref().map(|s| s.as_str()) != before.store.as_deref() && s.is_some());
    if change.active == Some(false) || change.password.is_some() || store_moved {
        end_sessions(c, before.id)?;
    }
    ensure_someone_manages_users(c)?;
    crate::sync::mark(c, "user", username.as_str())?;
    by_name(c, username.as_str())?.ok_or(StorageError::NotFound)
}

pub fn end_sessions(c: &Connection, user_id: i64) -> Result<()> {
    c.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])
        .map(|_| ())
        .map_err(db_err)
}

/// No change may leave the chain without an active user who can manage users
/// (and so undo the change).
fn ensure_someone_manages_users(c: &Connection) -> Result<()> {
    if all(c)?
        .iter()
        .any(|u| u.active && u.store.is_none() && u.role.allows(Permission::UsersManage))
    {
        return Ok(());
    }
    Err(StorageError::Conflict {
        field: "role".into(),
        message: "this would leave no active HQ user who can manage users".into(),
    })
}

/// The user and the operation key HQ holds for them.
pub fn with_op_key(c: &Connection, username: &Username) -> Result<Option<(User, Option<String>)>> {
    c.query_row(
        &format!("SELECT {USER_COLUMNS}, u.op_key FROM {USERS_WITH_ROLES} WHERE u.username = ?1"),
        [username.as_str()],
        |r| Ok((row_to_user(r)?, r.get::<_, Option<String>>(7)?)),
    )
    .optional()
    .map_err(db_err)
}

pub fn all(c: &Connection) -> Result<Vec<User>> {
    let mut st = c
        .prepare(&format!(
            "SELECT {USER_COLUMNS} FROM {USERS_WITH_ROLES} ORDER BY u.username"
        ))
        .map_err(db_err)?;
    let rows = st.query_map([], row_to_user).map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

pub fn credentials(c: &Connection, username: &Username) -> Result<Option<(User, String)>> {
    c.query_row(
        &format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM {USERS_WITH_ROLES} WHERE u.username = ?1"
        ),
        [username.as_str()],
        |r| Ok((row_to_user(r)?, r.get(7)?)),
    )
    .optional()
    .map_err(db_err)
}

pub fn create_session(c: &Connection, s: &NewSession) -> Result<()> {
    // Expired sessions are swept whenever a new one starts, so the table stays small.
    c.execute(
        "DELETE FROM sessions WHERE expires_at < ?1",
        [micros(s.created_at)],
    )
    .map_err(db_err)?;
    c.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![s.token_hash, s.user_id, micros(s.created_at), micros(s.expires_at)],
    )
    .map(|_| ())
    .map_err(db_err)
}

pub fn session_user(c: &Connection, token_hash: &str, now: OffsetDateTime) -> Result<Option<User>> {
    c.prepare_cached(
        "SELECT u.id, u.username, u.role, u.active, u.created_at, u.store, r.permissions
         FROM sessions s JOIN users u ON u.id = s.user_id
         LEFT JOIN roles r ON r.name = u.role AND r.deleted = 0
         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.active = 1",
    )
    .map_err(db_err)?
    .query_row(params![token_hash, micros(now)], row_to_user)
    .optional()
    .map_err(db_err)
}

// --- roles -------------------------------------------------------------------

pub fn find_role(c: &Connection, name: &str) -> Result<Option<Role>> {
    if let Ok(r) = Role::parse(name) {
        return Ok(Some(r));
    }
    let Ok(name) = Role::parse_name(name) else {
        return Ok(None);
    };
    let perms: Option<String> = c
        .query_row(
            "SELECT permissions FROM roles WHERE name = ?1 AND deleted = 0",
            [&name],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    Ok(perms.map(|p| resolve_role(&name, Some(&p))))
}

pub fn custom_roles(c: &Connection) -> Result<Vec<Role>> {
    let mut st = c
        .prepare("SELECT name, permissions FROM roles WHERE deleted = 0 ORDER BY name")
        .map_err(db_err)?;
    let rows = st
        .query_map([], |r| {
            let name: String = r.get(0)?;
            let perms: String = r.get(1)?;
            Ok(resolve_role(&name, Some(&perms)))
        })
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

pub fn put_role(c: &Connection, role: &Role) -> Result<Role> {
    if role.is_built_in() {
        return Err(crate::invalid(
            "name",
            "is a built-in role, which cannot be redefined",
        ));
    }
    let perms: Vec<&str> = role.permissions().iter().map(|p| p.name()).collect();
    c.execute(
        "INSERT INTO roles (name, permissions, deleted, updated_at) VALUES (?1, ?2, 0, ?3)
         ON CONFLICT (name) DO UPDATE SET permissions = excluded.permissions, deleted = 0, updated_at = excluded.updated_at",
        params![role.name(), perms.join(","), micros(OffsetDateTime::now_utc())],
    )
    .map_err(db_err)?;
    ensure_someone_manages_users(c)?;
    crate::sync::mark(c, "role", role.name())?;
    find_role(c, role.name())?.ok_or(StorageError::NotFound)
}

pub fn delete_role(c: &Connection, name: &str) -> Result<()> {
    let Some(role) = find_role(c, name)? else {
        return Err(StorageError::NotFound);
    };
    if role.is_built_in() {
        return Err(crate::invalid("name", "a built-in role cannot be deleted"));
    }
    let holders: i64 = c
        .query_row(
            "SELECT count(*) FROM users WHERE role = ?1",
            [role.name()],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if holders > 0 {
        return Err(StorageError::Conflict {
            field: "name".into(),
            message: format!(
                "{holders} user(s) hold the role {}; give them another first",
                role.name()
            ),
        });
    }
    c.execute(
        "UPDATE roles SET deleted = 1, updated_at = ?2 WHERE name = ?1",
        params![role.name(), micros(OffsetDateTime::now_utc())],
    )
    .map_err(db_err)?;
    crate::sync::mark(c, "role", role.name())
}

// --- credentials for stores ----------------------------------------------------

/// HQ: the password hashes a store needs, of the active users who may sign in there.
pub fn store_credentials(c: &Connection, store: &str) -> Result<Vec<Credential>> {
    let mut st = c
        .prepare(
            "SELECT username, password_hash FROM users
             WHERE active = 1 AND (store IS NULL OR store = ?1) ORDER BY username",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([store], |r| {
            Ok(Credential {
                username: r.get(0)?,
                password_hash: r.get(1)?,
            })
        })
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

/// A store: takes the hashes HQ sent, clears every other, and ends the
/// sessions of whoever's hash changed or went.
pub fn adopt_credentials(c: &Connection, creds: &[Credential]) -> Result<Vec<String>> {
    let given: std::collections::HashMap<&str, &str> = creds
        .iter()
        .map(|c| (c.username.as_str(), c.password_hash.as_str()))
        .collect();
    let mut st = c
        .prepare("SELECT id, username, password_hash FROM users")
        .map_err(db_err)?;
    let current = st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    let mut ended = Vec::new();
    for (id, name, hash) in current {
        let new = given.get(name.as_str()).copied().unwrap_or("");
        if new != hash {
            c.execute(
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![new, id],
            )
            .map_err(db_err)?;
            end_sessions(c, id)?;
            ended.push(name);
        }
    }
    Ok(ended)
}
