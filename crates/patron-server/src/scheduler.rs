//! Loyalty work that depends on the calendar: birthday bonuses, points expiry and
//! auto groups whose rules use ages or days. Runs 30 s after start, every 15 minutes, and
//! just after local midnight (the node's configured UTC offset), so a birthday or
//! an age change takes effect within seconds of the day starting.

use patron_storage::Storage;
use std::sync::Arc;
use std::time::Duration;
use time::{OffsetDateTime, UtcOffset};

pub const INTERVAL: Duration = Duration::from_secs(15 * 60);

/// How long until the next run: the interval, or less if local midnight comes first.
fn until_next(now: OffsetDateTime, utc_offset_minutes: i32) -> Duration {
    let offset = UtcOffset::from_whole_seconds(utc_offset_minutes.saturating_mul(60))
        .unwrap_or(UtcOffset::UTC);
    let local = now.to_offset(offset);
    let midnight = local
        .date()
        .next_day()
        .map(|d| d.midnight().assume_offset(offset));
    let to_midnight = midnight
        .map(|m| (m - local).unsigned_abs() + Duration::from_secs(1))
        .unwrap_or(INTERVAL);
    to_midnight.min(INTERVAL)
}

/// The first run waits a little: a node that just started has a sync backlog
/// to apply first, and the scans over every customer would hold its writer.
pub const FIRST_RUN: Duration = Duration::from_secs(30);

pub fn spawn(storage: Arc<dyn Storage>) {
    tokio::spawn(async move {
        tokio::time::sleep(FIRST_RUN).await;
        loop {
            match storage.run_maintenance(OffsetDateTime::now_utc()).await {
                Ok(r) => tracing::info!(
                    birthday_bonuses = r.birthday_bonuses,
                    expired = r.expired_entries,
                    groups = r.groups_refreshed,
                    changes = r.membership_changes,
                    "scheduled loyalty work done"
                ),
                Err(e) => tracing::error!(error = %e, "scheduled loyalty work failed"),
            }
            let offset = storage
                .loyalty_settings()
                .await
                .map(|s| s.utc_offset_minutes)
                .unwrap_or(0);
            tokio::time::sleep(until_next(OffsetDateTime::now_utc(), offset)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn wakes_at_local_midnight_when_it_comes_first() {
        let d = until_next(datetime!(2026-11-23 23:50 UTC), 0);
        assert_eq!(d, Duration::from_secs(10 * 60 + 1));
        assert_eq!(until_next(datetime!(2026-11-23 12:00 UTC), 0), INTERVAL);
        // UTC-5: local midnight is 05:00 UTC.
        assert_eq!(
            until_next(datetime!(2026-11-24 04:55 UTC), -300),
            Duration::from_secs(5 * 60 + 1)
        );
    }
}
