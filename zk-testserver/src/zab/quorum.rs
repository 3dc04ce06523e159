//! Majority arithmetic.

use std::collections::BTreeSet;

use super::MemberId;
use crate::storage::Zxid;

/// True if `voters` (members only) form a majority of `members`.
pub(crate) fn is_quorum(voters: &BTreeSet<MemberId>, members: &[MemberId]) -> bool {
    let count = voters.iter().filter(|v| members.contains(v)).count();
    count > members.len() / 2
}

/// The highest zxid that at least `quorum` of the `marks` (one per member) reach.
pub(crate) fn watermark(mut marks: Vec<Zxid>, quorum: usize) -> Option<Zxid> {
    if quorum == 0 || marks.len() < quorum {
        return None;
    }
    marks.sort_unstable_by(|a, b| b.cmp(a));
    marks.get(quorum - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_and_watermark() {
        let members = [1, 2, 3, 4, 5];
        let set = |v: &[u64]| v.iter().copied().collect::<BTreeSet<_>>();
        assert!(!is_quorum(&set(&[1, 2]), &members));
        assert!(is_quorum(&set(&[1, 2, 5]), &members));
        assert!(!is_quorum(&set(&[1, 2, 9]), &members));
        assert_eq!(watermark(vec![5, 9, 7], 2), Some(7));
        assert_eq!(watermark(vec![5], 2), None);
    }
}
