//! The framing of Curator's `DistributedQueue` items (its
//! `ItemSerializer`): a version word, then per item an opcode byte, a
//! length word and the bytes, then an end opcode; all big-endian. One node
//! can hold several items (Curator's `putMulti`).

use bytes::{BufMut, Bytes, BytesMut};

/// The format version Curator writes and accepts.
const VERSION: i32 = 0x0001_0001;
const ITEM: u8 = 0x01;
const END: u8 = 0x02;

/// The node data for `items`.
pub(crate) fn encode(items: &[&[u8]]) -> Bytes {
    let size = 4 + 1 + items.iter().map(|i| 5 + i.len()).sum::<usize>();
    let mut out = BytesMut::with_capacity(size);
    out.put_i32(VERSION);
    for item in items {
        out.put_u8(ITEM);
        // Node data is far below 2 GiB (ZooKeeper's jute.maxbuffer).
        out.put_i32(i32::try_from(item.len()).unwrap_or(i32::MAX));
        out.put_slice(item);
    }
    out.put_u8(END);
    out.freeze()
}

/// The items of a node, or `None` if the data is not in Curator's format.
pub(crate) fn decode(data: &Bytes) -> Option<Vec<Bytes>> {
    let version = i32::from_be_bytes(data.get(..4)?.try_into().ok()?);
    if version != VERSION {
        return None;
    }
    let mut items = Vec::new();
    let mut at = 4;
    loop {
        match *data.get(at)? {
            END => return (at + 1 == data.len()).then_some(items),
            ITEM => {
                let len = i32::from_be_bytes(data.get(at + 1..at + 5)?.try_into().ok()?);
                let len = usize::try_from(len).ok()?;
                let start = at + 5;
                let end = start.checked_add(len)?;
                if end > data.len() {
                    return None;
                }
                items.push(data.slice(start..end));
                at = end;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curators_item_serializer_format() {
        // What Curator 5.4 wrote for the item b"p-0:" (captured by
        // scripts/interop, queue scenario).
        let curator = Bytes::from_static(&[0, 1, 0, 1, 1, 0, 0, 0, 4, b'p', b'-', b'0', b':', 2]);
        assert_eq!(decode(&curator), Some(vec![Bytes::from_static(b"p-0:")]));
        assert_eq!(encode(&[b"p-0:"]), curator);
        let empty = encode(&[b""]);
        assert_eq!(empty.as_ref(), [0, 1, 0, 1, 1, 0, 0, 0, 0, 2]);
        assert_eq!(decode(&empty), Some(vec![Bytes::new()]));
        let multi = encode(&[b"a", b"bc"]);
        assert_eq!(
            decode(&multi),
            Some(vec![Bytes::from_static(b"a"), Bytes::from_static(b"bc")])
        );
        for bad in [
            &b"raw bytes"[..],
            &[0, 1, 0, 1],
            &[0, 1, 0, 1, 1, 0, 0, 0, 9, 2],
            &[0, 1, 0, 1, 2, 0],
        ] {
            assert_eq!(decode(&Bytes::copy_from_slice(bad)), None, "{bad:?}");
        }
    }
}
