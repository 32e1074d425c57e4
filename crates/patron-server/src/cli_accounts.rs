//! `patron user ...`, `patron role ...`, `patron store rotate-token/revoke`:
//! the operator's way to give access and take it back, on the data directory
//! (beside a running node too: every request reads sessions afresh).

use crate::{DataArgs, auth, open_storage};
use anyhow::{Context, anyhow, bail};
use patron_domain::auth::check_password_policy;
use patron_domain::{PermissionSet, Role, StoreId, Username};
use patron_storage::{Actor, NewPassword, SecurityEvent, Storage, UserChange};
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum RoleCommand {
    /// Define a role (or redefine one) as a set of permissions.
    Set {
        #[command(flatten)]
        data: DataArgs,
        name: String,
        /// Comma-separated permission names, e.g. customers.view,reports.view.
        #[arg(long, value_delimiter = ',')]
        permissions: Vec<String>,
    },
    /// List the built-in roles and the chain's own.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Delete a role no user holds.
    Remove {
        #[command(flatten)]
        data: DataArgs,
        name: String,
    },
}

fn cli_actor() -> Actor {
    Actor::new("cli")
}

async fn log(storage: &Arc<dyn Storage>, kind: &str, detail: String) {
    let event = SecurityEvent {
        id: 0,
        at: patron_storage::OffsetDateTime::now_utc(),
        kind: kind.to_owned(),
        username: Some("cli".into()),
        client: Some("local command".into()),
        detail,
    };
    if let Err(e) = storage.record_security_events(vec![event]).await {
        tracing::warn!(error = %e, "could not write the security log");
    }
}

fn username(name: &str) -> anyhow::Result<Username> {
    Username::parse(name).map_err(|e| anyhow!("{e}"))
}

pub async fn set_active(data: DataArgs, name: &str, active: bool) -> anyhow::Result<ExitCode> {
    let storage = open_storage(&data)?;
    let u = storage
        .update_user(
            &cli_actor(),
            &username(name)?,
            UserChange {
                active: Some(active),
                ..UserChange::default()
            },
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let what = if active {
        "reactivated"
    } else {
        "deactivated; their sessions ended"
    };
    log(&storage, "user-changed", format!("{}: {what}", u.username)).await;
    println!("{} {what}", u.username);
    Ok(ExitCode::SUCCESS)
}

/// The first line of standard input, as the password.
pub fn password_from_stdin() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .context("cannot read the password from standard input")?;
    Ok(input.lines().next().unwrap_or("").to_owned())
}

pub async fn set_password(data: DataArgs, name: &str) -> anyhow::Result<ExitCode> {
    let name = username(name)?;
    let password = password_from_stdin()?;
    check_password_policy(name.as_str(), &password).map_err(|e| anyhow!("{e}"))?;
    let storage = open_storage(&data)?;
    let hash = auth::hash_password(&password)?;
    let op_key = auth::op_key_hex(name.as_str(), &password);
    storage
        .update_user(
            &cli_actor(),
            &name,
            UserChange {
                password: Some(NewPassword { hash, op_key }),
                ..UserChange::default()
            },
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    log(
        &storage,
        "password-reset",
        format!("reset the password of {name}"),
    )
    .await;
    println!("password of {name} set; their sessions ended");
    Ok(ExitCode::SUCCESS)
}

pub async fn set_user(
    data: DataArgs,
    name: &str,
    role: Option<&str>,
    store: Option<&str>,
    hq: bool,
) -> anyhow::Result<ExitCode> {
    let name = username(name)?;
    let storage = open_storage(&data)?;
    let role = match role {
        Some(r) => Some(
            storage
                .role(r)
                .await
                .map_err(|e| anyhow!("{e}"))?
                .ok_or_else(|| anyhow!("there is no role named {r:?}"))?,
        ),
        None => None,
    };
    let store = match (store, hq) {
        (Some(s), _) => Some(Some(StoreId::parse(s).map_err(|e| anyhow!("{e}"))?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    if role.is_none() && store.is_none() {
        bail!("nothing to change: give --role, --store or --hq");
    }
    let u = storage
        .update_user(
            &cli_actor(),
            &name,
            UserChange {
                role,
                store,
                ..UserChange::default()
            },
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let at = u.store.as_deref().unwrap_or("HQ");
    log(
        &storage,
        "user-changed",
        format!("{}: role {}, at {at}", u.username, u.role.name()),
    )
    .await;
    println!("{}: role {}, at {at}", u.username, u.role.name());
    Ok(ExitCode::SUCCESS)
}

pub async fn role(command: RoleCommand) -> anyhow::Result<ExitCode> {
    match command {
        RoleCommand::Set {
            data,
            name,
            permissions,
        } => {
            let set = PermissionSet::parse(&permissions).map_err(|e| anyhow!("{e}"))?;
            let role = Role::custom(&name, set).map_err(|e| anyhow!("{e}"))?;
            let storage = open_storage(&data)?;
            let saved = storage
                .put_role(&cli_actor(), role)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let names: Vec<&str> = saved.permissions().iter().map(|p| p.name()).collect();
            log(
                &storage,
                "role-defined",
                format!("role {}: {}", saved.name(), names.join(", ")),
            )
            .await;
            println!("role {}: {}", saved.name(), names.join(","));
        }
        RoleCommand::List { data } => {
            let storage = open_storage(&data)?;
            let custom = storage.custom_roles().await.map_err(|e| anyhow!("{e}"))?;
            for r in Role::BUILT_IN.iter().chain(custom.iter()) {
                let names: Vec<&str> = r.permissions().iter().map(|p| p.name()).collect();
                println!(
                    "{}\t{}\t{}",
                    r.name(),
                    if r.is_built_in() {
                        "built-in"
                    } else {
                        "custom"
                    },
                    names.join(",")
                );
            }
        }
        RoleCommand::Remove { data, name } => {
            let storage = open_storage(&data)?;
            storage
                .delete_role(&cli_actor(), &name)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            log(&storage, "role-deleted", format!("role {}", name.trim())).await;
            println!("role {} deleted", name.trim());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A store command's error, naming the store when it is not registered.
fn store_error(e: patron_storage::StorageError, id: &str) -> anyhow::Error {
    match e {
        patron_storage::StorageError::NotFound => {
            anyhow!("store {} is not registered", id.trim())
        }
        e => anyhow!("{e}"),
    }
}

pub async fn rotate_token(data: DataArgs, id: &str) -> anyhow::Result<ExitCode> {
    let storage = open_storage(&data)?;
    let token = crate::http::sync::new_store_token()?;
    let s = storage
        .rotate_store_token(&cli_actor(), id.trim(), &auth::hash_token(&token))
        .await
        .map_err(|e| store_error(e, id))?;
    log(
        &storage,
        "store-token",
        format!("rotated the sync token of store {}", s.id),
    )
    .await;
    println!(
        "new sync token for store {} ({}); the old one no longer works",
        s.id, s.name
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(data: DataArgs, id: &str) -> anyhow::Result<ExitCode> {
    let storage = open_storage(&data)?;
    let s = storage
        .revoke_store(&cli_actor(), id.trim())
        .await
        .map_err(|e| store_error(e, id))?;
    log(
        &storage,
        "store-token",
        format!("revoked the sync token of store {}", s.id),
    )
    .await;
    println!(
        "store {} revoked: HQ answers nothing it sends until `patron store rotate-token {}`",
        s.id, s.id
    );
    Ok(ExitCode::SUCCESS)
}
