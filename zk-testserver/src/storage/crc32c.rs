//! CRC-32C (Castagnoli), the checksum of every record and file written by
//! [`DirStorage`](super::DirStorage), computed by the `crc32c` crate (SSE 4.2
//! or ARMv8 CRC instructions where the CPU has them, so recovery of a large
//! log is not bound by checksumming).

/// Incremental CRC-32C over several byte slices.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Crc32c(u32);

impl Crc32c {
    /// A checksum over no bytes yet.
    pub(crate) fn new() -> Self {
        Crc32c(0)
    }

    /// Feeds `bytes` into the checksum.
    pub(crate) fn update(self, bytes: &[u8]) -> Self {
        Crc32c(crc32c::crc32c_append(self.0, bytes))
    }

    /// The checksum of everything fed so far.
    pub(crate) fn finish(self) -> u32 {
        self.0
    }
}

/// CRC-32C of one byte slice.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn known_vectors() {
        // Check value from the CRC catalogue and RFC 3720 (iSCSI) test vectors.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data = b"the quick brown fox jumps over the lazy dog";
        let (a, b) = data.split_at(17);
        assert_eq!(Crc32c::new().update(a).update(b).finish(), crc32c(data));
    }

    /// The bitwise definition (reflected polynomial 0x82F63B78) the files
    /// written before the crate was used were checked with.
    fn bitwise(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn files_written_before_still_check() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(19);
        for len in [0, 1, 7, 8, 15, 16, 63, 64, 100, 1000, 4097] {
            let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            assert_eq!(crc32c(&data), bitwise(&data), "{len} bytes");
        }
    }
}
