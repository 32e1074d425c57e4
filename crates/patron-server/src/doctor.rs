//! `patron doctor`: looks a node over without changing it, and says what to do
//! about anything wrong. Exit status 1 when any check fails.

use crate::config::{Effective, ServeArgs};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One finding: what was looked at, what was seen, what to do.
#[derive(Debug)]
pub struct Finding {
    pub level: Level,
    pub what: &'static str,
    pub seen: String,
    pub advice: Option<String>,
}

fn ok(what: &'static str, seen: String) -> Finding {
    Finding {
        level: Level::Ok,
        what,
        seen,
        advice: None,
    }
}

fn bad(level: Level, what: &'static str, seen: String, advice: impl Into<String>) -> Finding {
    Finding {
        level,
        what,
        seen,
        advice: Some(advice.into()),
    }
}

/// Free space below this warns; below a tenth of it fails.
const LOW_DISK_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// A certificate expiring within this many days warns.
const CERT_WARN_DAYS: i64 = 30;
/// A clock this far from HQ's warns (the Date header has 1 s resolution).
const CLOCK_WARN: Duration = Duration::from_secs(2);
/// The bound docs/sync.md uses when none is configured.
const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(120);

pub async fn run(args: ServeArgs, sources: Option<&clap::ArgMatches>) -> anyhow::Result<ExitCode> {
    let settings = crate::config::resolve(&args, sources)?;
    let findings = examine(&settings).await;
    let mut failed = false;
    for f in &findings {
        let tag = match f.level {
            Level::Ok => "ok  ",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        failed |= f.level == Level::Fail;
        match &f.advice {
            Some(a) => println!("{tag} {}: {} — {a}", f.what, f.seen),
            None => println!("{tag} {}: {}", f.what, f.seen),
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn examine(settings: &Effective) -> Vec<Finding> {
    let dir = &settings.data;
    let db = dir.join(patron_sqlite::DB_FILE);
    let mut out = Vec::new();
    if !db.is_file() {
        out.push(bad(
            Level::Fail,
            "database",
            format!("no database in {}", dir.display()),
            "check --data / `data` in the configuration, or start the node once to create it",
        ));
        return out;
    }
    out.push(running(dir));
    let check = match patron_sqlite::check_file(&db) {
        Ok(c) => c,
        Err(e) => {
            out.push(bad(
                Level::Fail,
                "database",
                e.to_string(),
                "restore the latest backup (patron restore)",
            ));
            return out;
        }
    };
    out.push(database(&check));
    out.push(files(&db));
    out.push(disk(dir));
    out.extend(backlog(&check));
    if let Some((cert, _)) = &settings.tls {
        out.push(certificate(cert));
    }
    if let Some(store) = &settings.store {
        out.push(clock(store, settings.max_skew_ms).await);
    }
    out
}

fn running(dir: &Path) -> Finding {
    if crate::backup::node_running(dir) {
        ok("node", "running on this directory".into())
    } else {
        ok("node", "not running on this directory".into())
    }
}

fn database(c: &patron_sqlite::FileCheck) -> Finding {
    if !c.problems.is_empty() {
        return bad(
            Level::Fail,
            "database",
            format!("damaged: {}", c.problems.join("; ")),
            "stop the node and restore the latest backup (patron restore); keep the damaged file",
        );
    }
    if c.schema > c.known_schema {
        return bad(
            Level::Fail,
            "database",
            format!(
                "schema {} is newer than this build's {}",
                c.schema, c.known_schema
            ),
            "run the Patron version that wrote it, or a newer one",
        );
    }
    let seen = format!(
        "integrity ok; {} ({} customers, {} orders); schema {}",
        c.node, c.customers, c.orders, c.schema
    );
    if c.schema < c.known_schema {
        return bad(
            Level::Warn,
            "database",
            seen,
            format!(
                "the next start upgrades it to schema {}; take a backup first",
                c.known_schema
            ),
        );
    }
    ok("database", seen)
}

fn files(db: &Path) -> Finding {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let (main, wal) = (size(db), size(Path::new(&wal)));
    let seen = format!("database {}, write-ahead log {}", human(main), human(wal));
    let limit = u64::try_from(patron_sqlite::WAL_LIMIT_BYTES).unwrap_or(u64::MAX);
    if wal > limit.saturating_mul(4) {
        return bad(
            Level::Warn,
            "files",
            seen,
            "the log is folded back at the next checkpoint; a long-running reader (a backup, \
             a report) may be holding it — it shrinks when that finishes or the node restarts",
        );
    }
    ok("files", seen)
}

fn disk(dir: &Path) -> Finding {
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let free = s.f_bavail.saturating_mul(s.f_frsize);
            let total = s.f_blocks.saturating_mul(s.f_frsize).max(1);
            let seen = format!(
                "{} free of {} ({}%)",
                human(free),
                human(total),
                free.saturating_mul(100) / total
            );
            if free < LOW_DISK_BYTES / 10 {
                bad(
                    Level::Fail,
                    "disk",
                    seen,
                    "writes will fail with 507: free space on this disk now",
                )
            } else if free < LOW_DISK_BYTES {
                bad(
                    Level::Warn,
                    "disk",
                    seen,
                    "free space soon, or move the data directory to a larger disk",
                )
            } else {
                ok("disk", seen)
            }
        }
        Err(e) => bad(
            Level::Warn,
            "disk",
            format!("cannot read the free space: {e}"),
            "check the data directory's file system",
        ),
    }
}

fn backlog(c: &patron_sqlite::FileCheck) -> Vec<Finding> {
    let mut out = Vec::new();
    if c.node != "HQ" {
        let seen = format!("{} changes not yet confirmed by HQ", c.pending_outbound);
        out.push(if c.pending_outbound > 10_000 {
            bad(
                Level::Warn,
                "pending changes",
                seen,
                "the store has not reached HQ for a while: check its network and token",
            )
        } else {
            ok("pending changes", seen)
        });
        return out;
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for (store, last_seen, behind) in &c.stores {
        let silent = last_seen.map(|t| now - t);
        let seen = match silent {
            Some(s) => format!("last heard {s} s ago, {behind} changes behind"),
            None => "never connected".to_owned(),
        };
        let what = "store";
        out.push(match silent {
            Some(s) if s <= 300 => ok(what, format!("{store}: {seen}")),
            _ => bad(
                Level::Warn,
                what,
                format!("{store}: {seen}"),
                "the store is offline or cannot reach HQ: it keeps selling and catches up later",
            ),
        });
    }
    out
}

fn certificate(path: &Path) -> Finding {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let der = match tokio_rustls::rustls::pki_types::CertificateDer::pem_file_iter(path)
        .ok()
        .and_then(|mut certs| certs.next())
        .and_then(Result::ok)
    {
        Some(d) => d,
        None => {
            return bad(
                Level::Fail,
                "certificate",
                format!("{} holds no PEM certificate", path.display()),
                "point tls.cert at the certificate chain",
            );
        }
    };
    let Some(not_after) = not_after(&der) else {
        return bad(
            Level::Warn,
            "certificate",
            format!("cannot read the expiry of {}", path.display()),
            "check the certificate with openssl x509 -noout -enddate",
        );
    };
    let days = (not_after - time::OffsetDateTime::now_utc()).whole_days();
    let seen = format!(
        "{} expires {} ({days} days)",
        path.display(),
        not_after.date()
    );
    if days < 0 {
        bad(
            Level::Fail,
            "certificate",
            seen,
            "renew it now: clients refuse this node",
        )
    } else if days < CERT_WARN_DAYS {
        bad(
            Level::Warn,
            "certificate",
            seen,
            "renew it, then restart the node",
        )
    } else {
        ok("certificate", seen)
    }
}

/// The `notAfter` of an X.509 certificate (DER). The walk is this short —
/// Certificate → TBSCertificate → [version] serial signature issuer validity —
/// and a parser crate for it would be the heaviest dependency of this command.
pub fn not_after(der: &[u8]) -> Option<time::OffsetDateTime> {
    /// One TLV: (tag, contents, rest).
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, b) = b.split_first()?;
        let (&first, mut b) = b.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || b.len() < n {
                return None;
            }
            let mut len = 0usize;
            for &x in &b[..n] {
                len = (len << 8) | usize::from(x);
            }
            b = &b[n..];
            len
        };
        (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
    }
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // the explicit version
    }
    for _ in 0..3 {
        rest = tlv(rest)?.2; // serial, signature algorithm, issuer
    }
    let (_, validity, _) = tlv(rest)?;
    let (_, _, r) = tlv(validity)?; // notBefore
    let (tag, when, _) = tlv(r)?;
    let text = std::str::from_utf8(when).ok()?;
    let full = match tag {
        // UTCTime: YYMMDDHHMMSSZ, years 1950–2049 (RFC 5280).
        0x17 => {
            let yy: i32 = text.get(..2)?.parse().ok()?;
            format!(
                "{}{}",
                if yy < 50 { 2000 + yy } else { 1900 + yy },
                text.get(2..)?
            )
        }
        0x18 => text.to_owned(),
        _ => return None,
    };
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    time::PrimitiveDateTime::parse(&full, format)
        .ok()
        .map(|t| t.assume_utc())
}

async fn clock(store: &crate::config::StoreLink, max_skew_ms: Option<u64>) -> Finding {
    let link = match store.hq_link() {
        Ok(l) => l,
        Err(e) => {
            return bad(
                Level::Fail,
                "HQ",
                e.to_string(),
                "check store.hq and store.hq_ca",
            );
        }
    };
    let url = format!("{}/healthz", link.url());
    let sent = time::OffsetDateTime::now_utc();
    let resp = match link
        .http()
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return bad(
                Level::Warn,
                "HQ",
                format!("{url} did not answer: {e}"),
                "the store sells offline meanwhile; check the network, DNS and store.hq",
            );
        }
    };
    let back = time::OffsetDateTime::now_utc();
    let Some(hq_time): Option<time::OffsetDateTime> = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| {
            time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc2822).ok()
        })
    else {
        return bad(
            Level::Warn,
            "clock",
            "HQ's answer has no Date".into(),
            "check that store.hq is a Patron HQ",
        );
    };
    let took: time::Duration = back - sent;
    let here = sent + took / 2;
    let diff: time::Duration = hq_time - here;
    let offset = diff.abs();
    let offset_std: Duration = offset.try_into().unwrap_or(Duration::MAX);
    let bound = max_skew_ms.map_or(DEFAULT_MAX_SKEW, Duration::from_millis);
    let seen = format!(
        "{:.1} s from HQ's (±1 s; the bound is {} s)",
        offset.as_seconds_f64(),
        bound.as_secs()
    );
    if offset_std > bound {
        bad(
            Level::Fail,
            "clock",
            seen,
            "set this machine's clock (enable NTP: timedatectl set-ntp true); stamps beyond the \
             bound are cut back",
        )
    } else if offset_std > CLOCK_WARN {
        bad(
            Level::Warn,
            "clock",
            seen,
            "enable time synchronisation (NTP) on this machine",
        )
    } else {
        ok("clock", seen)
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_certificates_expiry_is_read() {
        let mut params = rcgen::CertificateParams::new(vec!["node.example".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 7, 9);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let t = not_after(cert.der()).unwrap();
        assert_eq!(t.date(), time::macros::date!(2031 - 07 - 09));
        // Past 2049 the certificate switches to GeneralizedTime.
        params.not_after = rcgen::date_time_ymd(2061, 1, 2);
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            not_after(cert.der()).unwrap().date(),
            time::macros::date!(2061 - 01 - 02)
        );
        // Garbage never panics.
        for n in 0..cert.der().len() {
            let _ = not_after(&cert.der()[..n]);
        }
        assert_eq!(not_after(b"\x30\x84\xff\xff\xff\xff"), None);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
