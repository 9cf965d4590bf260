//! Pattern_V1 ([MS-SMB2] §2.2.42.2.2, SMB2_COMPRESSION_PATTERN_PAYLOAD_V1): one byte repeated.
//!
//! Layout (8 bytes): Pattern u8, Reserved1 u8, Reserved2 u16, Repetitions u32 (LE).

use super::DecompressError;

/// Length of SMB2_COMPRESSION_PATTERN_PAYLOAD_V1.
pub const PAYLOAD_LEN: usize = 8;

/// Appends `Repetitions` copies of `Pattern` to `out`; fails with
/// [`DecompressError::TooLarge`] (before writing anything) if that is more than `limit` bytes.
/// Reserved fields are ignored; bytes after the 8-byte payload are an error.
pub fn decompress(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), DecompressError> {
    let (pattern, reps) = parse(input)?;
    let reps = usize::try_from(reps).map_err(|_| DecompressError::TooLarge)?;
    let new_len = out
        .len()
        .checked_add(reps)
        .ok_or(DecompressError::TooLarge)?;
    if reps > limit {
        return Err(DecompressError::TooLarge);
    }
    out.resize(new_len, pattern);
    Ok(())
}

/// (Pattern, Repetitions) of an 8-byte payload.
pub fn parse(input: &[u8]) -> Result<(u8, u32), DecompressError> {
    let p: &[u8; PAYLOAD_LEN] = input.first_chunk().ok_or(DecompressError::Truncated)?;
    if input.len() != PAYLOAD_LEN {
        return Err(DecompressError::Corrupt(
            "Pattern_V1 payload is not 8 bytes",
        ));
    }
    Ok((p[0], u32::from_le_bytes([p[4], p[5], p[6], p[7]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats() {
        let mut out = vec![1];
        decompress(&[0xAA, 0, 0, 0, 3, 0, 0, 0], &mut out, 3).unwrap();
        assert_eq!(out, [1, 0xAA, 0xAA, 0xAA]);
        decompress(&[0x55, 0, 0, 0, 0, 0, 0, 0], &mut out, 0).unwrap();
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn bounded() {
        let mut out = Vec::new();
        let bomb = [0xAA, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(
            decompress(&bomb, &mut out, 1 << 20),
            Err(DecompressError::TooLarge)
        );
        assert!(out.capacity() < 1 << 20);
        for n in 0..PAYLOAD_LEN {
            assert_eq!(
                decompress(&bomb[..n], &mut out, 100),
                Err(DecompressError::Truncated)
            );
        }
        assert!(decompress(&[0; 9], &mut out, 100).is_err());
        assert!(out.is_empty());
    }
}
