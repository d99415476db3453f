//! Where a runtime listens, told to whoever started it.
//!
//! A parent that picks a free port, releases it and hands it to a child races every
//! other process on the machine for that port (another test's anvil can take it in the
//! gap). So runtimes started by a supervisor listen on port 0 and, once their sockets
//! are bound, write the addresses the kernel gave them to the file named by
//! [`READY_FILE_ENV`], in the spirit of systemd's `sd_notify`: the file appearing means
//! "bound; here is where". The file is written whole (temporary file, then rename), so
//! a reader never sees half of it.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The environment variable naming the file a runtime announces its addresses in.
pub const READY_FILE_ENV: &str = "BULWARK_READY_FILE";

/// The addresses a runtime has bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listening {
    /// The gRPC endpoint (aggregators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<SocketAddr>,
    /// The HTTP endpoint with `/health` (and `/metrics` for runtimes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<SocketAddr>,
}

impl Listening {
    /// Writes these addresses to `$BULWARK_READY_FILE`; does nothing when it is unset
    /// (a runtime started by hand has nobody to tell).
    pub fn announce(&self) -> io::Result<()> {
        match std::env::var_os(READY_FILE_ENV) {
            Some(path) if !path.is_empty() => self.write_to(Path::new(&path)),
            _ => Ok(()),
        }
    }

    /// Writes these addresses to `path`, atomically.
    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let json = serde_json::to_vec(self).map_err(io::Error::other)?;
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        std::fs::write(&partial, json)?;
        std::fs::rename(&partial, path)
    }

    /// The addresses announced in `path`: `None` while the file does not exist yet.
    pub fn read_from(path: &Path) -> io::Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip_and_absent_files_are_not_errors() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("runtime.ready.json");
        assert_eq!(Listening::read_from(&path).expect("read"), None);
        let listening = Listening {
            grpc: Some("127.0.0.1:4100".parse().expect("addr")),
            http: None,
        };
        listening.write_to(&path).expect("write");
        assert_eq!(Listening::read_from(&path).expect("read"), Some(listening));
        std::fs::write(&path, b"{\"grpc\": 7}").expect("garbage");
        assert!(Listening::read_from(&path).is_err());
    }
}
