//! No acknowledged write is lost: the final state of each register is at
//! least as new as every acknowledged write, and shows the value of the
//! newest one when their versions meet.

use super::history::{Call, History, HistoryOp, Ret};
use super::violation::Violation;
use std::collections::BTreeMap;

const NAME: &str = "lost-writes";

/// Checks each register's final (value, version) against the acknowledged
/// writes of `history`; registers absent from `finals` are not checked.
pub fn check(history: &History, finals: &BTreeMap<String, (u64, i32)>) -> Result<usize, Violation> {
    let mut newest: BTreeMap<&str, (i32, u64, &HistoryOp)> = BTreeMap::new();
    for op in history.ops() {
        let (key, value) = match &op.call {
            Call::Write { key, value } | Call::Cas { key, value, .. } => (key.as_str(), *value),
            _ => continue,
        };
        if let Ret::Register { version, .. } = op.ret {
            let e = newest.entry(key).or_insert((version, value, op));
            if version > e.0 {
                *e = (version, value, op);
            }
        }
    }
    let mut checked = 0;
    for (key, (version, value, op)) in newest {
        let Some(&(final_value, final_version)) = finals.get(key) else {
            continue;
        };
        checked += 1;
        if final_version < version || (final_version == version && final_value != value) {
            return Err(Violation::new(
                NAME,
                format!(
                    "register {key} ends at version {final_version} (value {final_value}), but \
                     version {version} (value {value}) was acknowledged"
                ),
            )
            .with_ops([op]));
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_final_state_holds_the_newest_acknowledged_write() {
        let mut h = History::new();
        let w = |value| Call::Write {
            key: "r".into(),
            value,
        };
        let t = Duration::ZERO;
        h.record(
            1,
            1,
            w(10),
            t,
            Ret::Register {
                value: 10,
                version: 1,
            },
            Some(1),
        );
        h.record(
            1,
            1,
            w(20),
            t,
            Ret::Register {
                value: 20,
                version: 2,
            },
            Some(2),
        );
        h.record(1, 1, w(30), t, Ret::Unknown, None);
        let finals = |v, ver| BTreeMap::from([("r".to_string(), (v, ver))]);
        assert_eq!(check(&h, &finals(20, 2)), Ok(1));
        assert_eq!(
            check(&h, &finals(30, 3)),
            Ok(1),
            "the unknown write happened"
        );
        assert!(check(&h, &finals(10, 1)).is_err(), "version 2 lost");
        assert!(
            check(&h, &finals(99, 2)).is_err(),
            "version 2 overwritten in place"
        );
    }
}
