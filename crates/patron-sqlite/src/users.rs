use crate::{db_err, from_micros, micros};
use patron_domain::{Role, Username};
use patron_storage::{NewSession, NewUser, OffsetDateTime, Result, StorageError, User};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "id, username, role, active, created_at, store";

fn row_to_user(r: &Row<'_>) -> rusqlite::Result<User> {
    let username: String = r.get(1)?;
    let role: String = r.get(2)?;
    let bad = |col: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, what.into())
    };
    Ok(User {
        id: r.get(0)?,
        username: Username::parse(&username).map_err(|e| bad(1, e.to_string()))?,
        role: Role::parse(&role).map_err(|e| bad(2, e.to_string()))?,
        active: r.get(3)?,
        created_at: from_micros(r.get(4)?),
        store: r.get(5)?,
    })
}

pub fn create(c: &Connection, new: NewUser) -> Result<User> {
    let taken: bool = c
        .query_row(
            "SELECT 1 FROM users WHERE username = ?1",
            [new.username.as_str()],
            |_| Ok(true),
        )
        .optional()
        .map_err(db_err)?
        .unwrap_or(false);
    if taken {
        return Err(StorageError::Conflict {
            field: "username".into(),
            message: format!("{} is already taken", new.username),
        });
    }
    let now = micros(OffsetDateTime::now_utc());
    c.execute(
        "INSERT INTO users (username, password_hash, role, active, created_at, store, op_key) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)",
        params![new.username.as_str(), new.password_hash, new.role.name(), now, new.store.as_ref().map(|s| s.as_str()), new.op_key],
    )
    .map_err(db_err)?;
    let id = c.last_insert_rowid();
    crate::sync::mark(c, "user", new.username.as_str())?;
    c.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        [id],
        row_to_user,
    )
    .map_err(db_err)
}

/// The user and the operation key HQ holds for them.
pub fn with_op_key(c: &Connection, username: &Username) -> Result<Option<(User, Option<String>)>> {
    c.query_row(
        &format!("SELECT {COLUMNS}, op_key FROM users WHERE username = ?1"),
        [username.as_str()],
        |r| Ok((row_to_user(r)?, r.get::<_, Option<String>>(6)?)),
    )
    .optional()
    .map_err(db_err)
}

pub fn all(c: &Connection) -> Result<Vec<User>> {
    let mut st = c
        .prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))
        .map_err(db_err)?;
    let rows = st.query_map([], row_to_user).map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

pub fn credentials(c: &Connection, username: &Username) -> Result<Option<(User, String)>> {
    c.query_row(
        &format!("SELECT {COLUMNS}, password_hash FROM users WHERE username = ?1"),
        [username.as_str()],
        |r| Ok((row_to_user(r)?, r.get(6)?)),
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
    c.query_row(
        "SELECT u.id, u.username, u.role, u.active, u.created_at, u.store
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.active = 1",
        params![token_hash, micros(now)],
        row_to_user,
    )
    .optional()
    .map_err(db_err)
}
