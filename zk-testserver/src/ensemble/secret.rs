//! The session secret of an ensemble kept in its data directory, so that a
//! restarted ensemble accepts the passwords it handed out before.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

/// The file, directly in the data directory (next to `member<k>`).
const FILE: &str = "session-secret";

/// Reads the secret kept in `dir`, or draws one and keeps it there (readable
/// by the owner only).
pub(super) fn load_or_create(dir: &Path) -> io::Result<u64> {
    let path = dir.join(FILE);
    match fs::read_to_string(&path) {
        Ok(text) => u64::from_str_radix(text.trim(), 16).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not a session secret ({e})", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            let secret: u64 = rand::random();
            let tmp = dir.join(format!("{FILE}.tmp"));
            let mut f = private_file(&tmp)?;
            writeln!(f, "{secret:016x}")?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}

fn private_file(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_across_loads_and_refused_when_damaged() {
        let dir = std::env::temp_dir().join(format!("zk-secret-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let a = load_or_create(&dir).unwrap();
        assert_eq!(load_or_create(&dir).unwrap(), a);
        fs::write(dir.join(FILE), "zz\n").unwrap();
        assert!(load_or_create(&dir).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
