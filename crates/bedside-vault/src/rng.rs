//! Random bytes from the operating system, through ring.

use ring::rand::{SecureRandom, SystemRandom};

use crate::VaultError;

/// Fills `buf` with random bytes from the OS generator.
pub fn fill(buf: &mut [u8]) -> Result<(), VaultError> {
    SystemRandom::new().fill(buf).map_err(|_| VaultError::Rng)
}

/// Returns `N` random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut b = [0u8; N];
    fill(&mut b)?;
    Ok(b)
}
