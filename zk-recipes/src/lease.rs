//! kazoo's time-limited leases (`NonBlockingLease`,
//! `MultiNonBlockingLease`), same layout and format.

use crate::error::{Error, Result};
use crate::kazoo_lock::KazooLock;
use crate::nodes::{ensure_dir, join};
use serde::Deserialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zk_client::{Client, CreateMode};

/// kazoo's holder node name.
const HOLDER: &str = "lease_holder";
/// kazoo's storage format version.
const FORMAT_VERSION: i64 = 1;

/// A lease that is held for a duration, not for a session (kazoo's
/// `NonBlockingLease`): at most one identifier holds `path` until the end
/// time stored in `<path>/lease_holder`; obtaining it again with the same
/// identifier renews it. A task that must run on one host at a time, with
/// failover once the holder stops renewing, is the typical use.
///
/// Layout and format are kazoo's, so Python services share leases: the
/// holder node holds `{"version": 1, "holder": <id>, "end":
/// "YYYY-MM-DDTHH:MM:SS"}` (UTC, whole seconds), and it is read and written
/// under a kazoo-layout lock on `path` (`<uuid hex>__lock__<seq>` nodes).
/// Like kazoo's, the lease compares client clocks: they must be roughly in
/// sync.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use std::time::Duration;
/// use zk_recipes::NonBlockingLease;
/// let hour = Duration::from_secs(3600);
/// if NonBlockingLease::obtain(&client, "/leases/cleanup", hour, "host-a").await? {
///     // do the hourly cleanup
/// }
/// assert!(!NonBlockingLease::obtain(&client, "/leases/cleanup", hour, "host-b").await?);
/// # Ok(()) }
/// ```
///
/// # Cancel safety
///
/// The holder node is replaced by a delete and a create under the lock;
/// dropped between them, the lease is free (nobody holds it) until someone
/// obtains it. The lock node of a dropped call is removed in the
/// background.
#[derive(Debug, Clone, Copy)]
pub struct NonBlockingLease;

#[derive(Deserialize)]
struct Holder {
    version: i64,
    holder: String,
    end: String,
}

impl NonBlockingLease {
    /// Tries to obtain (or, for the same `identifier`, renew) the lease
    /// at `path` for `duration` from now; whether it was obtained. Does
    /// not wait for a holder to give it up.
    ///
    /// # Cancel safety
    ///
    /// As the type's: dropped between the holder's delete and create, the
    /// lease is free until someone obtains it; the lock node of a dropped call
    /// is removed in the background.
    pub async fn obtain(
        client: &Client,
        path: &str,
        duration: Duration,
        identifier: &str,
    ) -> Result<bool> {
        ensure_dir(client, path, false).await?;
        let lock = KazooLock::new(client, path, identifier);
        let Some(guard) = lock.acquire(None).await? else {
            return Ok(false);
        };
        let result = Self::obtain_locked(client, path, duration, identifier).await;
        guard.release().await?;
        result
    }

    async fn obtain_locked(
        client: &Client,
        path: &str,
        duration: Duration,
        identifier: &str,
    ) -> Result<bool> {
        let holder_path = join(path, HOLDER);
        let now = unix_seconds(SystemTime::now());
        match client.get_data(&holder_path).await {
            Ok((raw, stat)) => {
                let held: Holder =
                    serde_json::from_slice(&raw).map_err(|e| Error::bad_data(&holder_path, e))?;
                if held.version != FORMAT_VERSION {
                    return Ok(false); // a newer format: leave it to its writers
                }
                let end = parse_utc(&held.end).ok_or_else(|| {
                    Error::bad_data(&holder_path, format!("bad end {:?}", held.end))
                })?;
                if held.holder != identifier && now < end {
                    return Ok(false);
                }
                match client.delete(&holder_path, Some(stat.version)).await {
                    Ok(()) => {}
                    Err(e) if e.is_no_node() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) if e.is_no_node() => {}
            Err(e) => return Err(e.into()),
        }
        let end =
            format_utc(now.saturating_add(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)));
        let data = format!(
            "{{\"version\": {FORMAT_VERSION}, \"holder\": {}, \"end\": \"{end}\"}}",
            serde_json::Value::String(identifier.to_string())
        );
        match client
            .create(&holder_path, data.clone(), CreateMode::Persistent)
            .await
        {
            Ok(_) => Ok(true),
            // Retried after a lost reply: did the first attempt write ours?
            Err(e) if e.is_node_exists() && e.after_retry() => {
                let (found, _) = client.get_data(&holder_path).await?;
                Ok(found.as_ref() == data.as_bytes())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// kazoo's `MultiNonBlockingLease`: tries the leases `<path>/0` ..
    /// `<path>/<count - 1>` in turn and returns the number of the one
    /// obtained, if any (up to `count` holders at once).
    ///
    /// # Cancel safety
    ///
    /// As [`NonBlockingLease::obtain`], for the lease it was trying when
    /// dropped; leases obtained earlier in the same call are not (it stops at
    /// the first one obtained).
    pub async fn obtain_any(
        client: &Client,
        path: &str,
        count: usize,
        duration: Duration,
        identifier: &str,
    ) -> Result<Option<usize>> {
        for n in 0..count {
            if NonBlockingLease::obtain(client, &join(path, &n.to_string()), duration, identifier)
                .await?
            {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `%Y-%m-%dT%H:%M:%S` in UTC.
fn format_utc(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn parse_utc(text: &str) -> Option<i64> {
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let mut time = time.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (date.next()??, date.next()??, date.next()??);
    let (hh, mm, ss) = (time.next()??, time.next()??, time.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kazoo_time_format_round_trips() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00");
        // date -u -d @1796537562 +%Y-%m-%dT%H:%M:%S
        assert_eq!(format_utc(1_796_537_562), "2026-12-06T06:12:42");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00");
        for t in [0, 951_782_400, 1_796_537_562, 4_102_444_799] {
            assert_eq!(parse_utc(&format_utc(t)), Some(t));
        }
        assert_eq!(parse_utc("2026-13-01T00:00:00"), None);
        assert_eq!(parse_utc("nonsense"), None);
    }
}
