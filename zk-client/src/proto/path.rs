//! Path validation with ZooKeeper's rules (`PathUtils.validatePath`).
//!
//! The server applies them to create, setData, setACL and check; the client
//! applies them before sending so a bad path fails fast.

use std::fmt;

/// Why a path is not a valid znode path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPath {
    /// The offending path.
    pub path: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for InvalidPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid path {:?}: {}", self.path, self.reason)
    }
}

impl std::error::Error for InvalidPath {}

fn forbidden_char(c: char) -> bool {
    let c = c as u32;
    (0x01..=0x1f).contains(&c)
        || (0x7f..=0x9f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c)
        // Java sees these as surrogate pairs, which fall in the range above.
        || c > 0xffff
}

/// Checks `path` against ZooKeeper's path rules.
pub fn validate_path(path: &str) -> Result<(), InvalidPath> {
    let fail = |reason| {
        Err(InvalidPath {
            path: path.to_string(),
            reason,
        })
    };
    if path.is_empty() {
        return fail("path length must be > 0");
    }
    if !path.starts_with('/') {
        return fail("path must start with / character");
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return fail("path must not end with / character");
    }
    // Fast path: printable ASCII (the usual case) can only be wrong in its
    // structure; anything else takes the character-by-character loop below.
    if path.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        for segment in path[1..].split('/') {
            if segment.is_empty() {
                return fail("empty node name specified");
            }
            if segment == "." || segment == ".." {
                return fail("relative paths not allowed");
            }
        }
        return Ok(());
    }
    for segment in path[1..].split('/') {
        if segment.is_empty() {
            return fail("empty node name specified");
        }
        if segment == "." || segment == ".." {
            return fail("relative paths not allowed");
        }
        for c in segment.chars() {
            if c == '\0' {
                return fail("null character not allowed");
            }
            if forbidden_char(c) {
                return fail("invalid character");
            }
        }
    }
    Ok(())
}

/// Checks a create path; a sequential create may end in `/` because the
/// server appends the suffix before the final check.
pub fn validate_create_path(path: &str, sequential: bool) -> Result<(), InvalidPath> {
    if sequential {
        validate_path(&format!("{path}1")).map_err(|e| InvalidPath {
            path: path.to_string(),
            reason: e.reason,
        })
    } else {
        validate_path(path)
    }
}

/// The parent of an absolute path (`"/"` for top-level nodes and for `"/"`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last segment of an absolute path (`""` for `"/"`).
pub fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zookeeper_path_rules() {
        for ok in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/..a",
            "/a../b",
            "/zookeeper",
            "/ü",
        ] {
            assert!(validate_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/./b",
            "/a/..",
            "/a\0b",
            "/a\u{1}",
            "/\u{7f}",
            "/\u{9f}",
            "/\u{e000}",
            "/\u{fff0}",
            "/\u{1f600}",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
        assert!(validate_create_path("/a/", true).is_ok());
        assert!(validate_create_path("/a/", false).is_err());
        assert!(validate_create_path("/a//", true).is_err());
    }

    #[test]
    fn parent_and_basename() {
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/"), "/");
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(basename("/"), "");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
