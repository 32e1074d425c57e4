use crate::db_err;
use patron_domain::{CodeFormat, PhoneRegion};
use patron_storage::{Result, Settings, StorageError};
use rusqlite::{Connection, OptionalExtension, params};

fn get(c: &Connection, key: &str) -> Result<Option<String>> {
    c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
    .map_err(db_err)
}

fn put(c: &Connection, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )
    .map(|_| ())
    .map_err(db_err)
}

pub fn load(c: &Connection) -> Result<Settings> {
    let d = Settings::default();
    let prefix = get(c, "code_prefix")?.unwrap_or_else(|| d.code_format.prefix().to_owned());
    let width = match get(c, "code_width")? {
        Some(w) => w
            .parse()
            .map_err(|_| StorageError::Backend("bad code_width setting".into()))?,
        None => d.code_format.width(),
    };
    let code_format =
        CodeFormat::new(&prefix, width).map_err(|e| StorageError::Backend(e.to_string()))?;
    let phone_region = match get(c, "phone_region")? {
        Some(r) => PhoneRegion::parse(&r).map_err(|e| StorageError::Backend(e.to_string()))?,
        None => d.phone_region,
    };
    Ok(Settings {
        code_format,
        phone_region,
    })
}

pub fn save(c: &Connection, s: &Settings) -> Result<()> {
    put(c, "code_prefix", s.code_format.prefix())?;
    put(c, "code_width", &s.code_format.width().to_string())?;
    put(c, "phone_region", s.phone_region.code())?;
    for key in ["code_prefix", "code_width", "phone_region"] {
        crate::sync::mark(c, "setting", key)?;
    }
    Ok(())
}

/// Takes `n` consecutive code numbers; call inside the transaction that uses them,
/// so a rolled-back create gives its number back and a committed one never repeats.
pub fn take_code_numbers(c: &Connection, n: u64) -> Result<u64> {
    let next: u64 = match get(c, "code_next")? {
        Some(v) => v
            .parse()
            .map_err(|_| StorageError::Backend("bad code_next setting".into()))?,
        None => 1,
    };
    put(c, "code_next", &(next + n).to_string())?;
    Ok(next)
}
