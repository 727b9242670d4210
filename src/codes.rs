//! Random identifiers: meeting codes and peer ids, made from bytes the caller
//! supplies (the Worker passes `crypto.getRandomValues`), so the rules are
//! tested natively with fixed bytes.

const LETTERS: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";
const ID_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// Random bytes a code is cut from: 32 is plenty for 10 letters even after the
/// rejection sampling below throws some away (each byte is kept with p = 234/256).
pub const MEETING_CODE_RANDOM_BYTES: usize = 32;
/// Characters in a peer id (6 bits each: 96 bits).
pub const PEER_ID_LEN: usize = 16;

/// A meeting code `abc-defg-hij`: 10 letters, log2(26^10) ≈ 47 bits.
///
/// Bytes of 234 and above are skipped so every letter is equally likely
/// (234 = 9 × 26). Returns `None` if the bytes ran out, which with 32 bytes
/// happens with probability below 10^-12; the caller asks again.
pub fn meeting_code(random: &[u8]) -> Option<String> {
    let mut letters = random.iter().filter(|&&b| b < 234).map(|&b| LETTERS[usize::from(b % 26)] as char);
    let mut code = String::with_capacity(12);
    for (i, group) in [3, 4, 3].into_iter().enumerate() {
        if i > 0 {
            code.push('-');
        }
        for _ in 0..group {
            code.push(letters.next()?);
        }
    }
    Some(code)
}

/// Whether a string is shaped like a meeting code.
pub fn is_meeting_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    parts.len() == 3
        && parts.iter().zip([3, 4, 3]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// A peer id of [`PEER_ID_LEN`] characters of `[A-Za-z0-9_-]` (64 symbols, so
/// each byte's low 6 bits map without bias).
pub fn peer_id(random: &[u8; PEER_ID_LEN]) -> String {
    random.iter().map(|&b| ID_ALPHABET[usize::from(b & 63)] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meeting_code_has_the_contract_shape() {
        let bytes: Vec<u8> = (0..32).map(|i| (i * 37 % 256) as u8).collect();
        let code = meeting_code(&bytes).unwrap();
        assert!(is_meeting_code(&code), "{code}");
        assert_eq!(code.len(), 12);
    }

    #[test]
    fn high_bytes_are_skipped_for_uniform_letters() {
        let mut bytes = vec![255u8, 240, 234];
        bytes.extend([0u8; 10]);
        assert_eq!(meeting_code(&bytes).unwrap(), "aaa-aaaa-aaa");
        let bytes: Vec<u8> = (0..10).map(|i| 233 - i).collect();
        // 233 % 26 = 25 ('z'), 232 % 26 = 24 ('y'), ...
        assert_eq!(meeting_code(&bytes).unwrap(), "zyx-wvut-srq");
    }

    #[test]
    fn too_few_usable_bytes_give_none() {
        assert_eq!(meeting_code(&[250u8; 32]), None);
        assert_eq!(meeting_code(&[1u8; 9]), None);
    }

    #[test]
    fn code_shape_check() {
        assert!(is_meeting_code("abc-defg-hij"));
        assert!(!is_meeting_code("abc-def-hij"));
        assert!(!is_meeting_code("ABC-defg-hij"));
        assert!(!is_meeting_code("abc-defg-hij-"));
    }

    #[test]
    fn peer_id_uses_the_contract_alphabet() {
        let id = peer_id(&[0, 1, 25, 26, 51, 52, 61, 62, 63, 64, 127, 128, 200, 255, 7, 9]);
        assert_eq!(id.len(), PEER_ID_LEN);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        assert!(id.starts_with("ABZa"));
    }
}
