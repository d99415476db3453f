//! Errors with exit codes scripts can rely on.

/// Exit codes of `bulwark`: stable, documented in `bulwark --help`.
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// Anything else went wrong (chain unreachable, transaction reverted, I/O).
    pub const FAILURE: u8 = 1;
    /// The command line or a config is wrong (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// A password did not open a keystore.
    pub const WRONG_PASSWORD: u8 = 3;
    /// A key, file, project or devnet that was named does not exist.
    pub const NOT_FOUND: u8 = 4;
    /// Something would be overwritten (a keystore, a non-empty folder, a running devnet).
    pub const EXISTS: u8 = 5;
}

/// An error that maps to a specific exit code; anything else exits with 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments or configuration, with what to do instead.
    #[error("{0}")]
    Usage(String),
    /// The password does not open the keystore.
    #[error("wrong password for {0}")]
    WrongPassword(String),
    /// A named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Refusing to overwrite.
    #[error("{0}")]
    Exists(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::WrongPassword(_) => exit::WRONG_PASSWORD,
            CliError::NotFound(_) => exit::NOT_FOUND,
            CliError::Exists(_) => exit::EXISTS,
        }
    }
}

/// The exit code for any error: a [`CliError`]'s own, else failure.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<CliError>())
        .map(CliError::code)
        .unwrap_or(exit::FAILURE)
}
