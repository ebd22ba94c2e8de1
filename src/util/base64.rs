//! Base64 (RFC 4648) in its two alphabets: standard (`+/`, config.json `auth` fields, HTTP
//! basic) and URL-safe (`-_`, `X-Registry-Auth`, JWT parts). Encoding pads with `=`;
//! decoding takes padded or unpadded input. Nothing else: no line wrapping, no whitespace.

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes with the standard alphabet, padded.
pub fn encode(data: &[u8]) -> String {
    encode_with(data, STANDARD)
}

/// Encodes with the URL-safe alphabet, padded (what docker's `base64.URLEncoding` writes).
pub fn encode_url(data: &[u8]) -> String {
    encode_with(data, URL_SAFE)
}

/// Decodes the standard alphabet, padded or not.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    decode_with(text, STANDARD)
}

/// Decodes the URL-safe alphabet, padded or not.
pub fn decode_url(text: &str) -> Option<Vec<u8>> {
    decode_with(text, URL_SAFE)
}

fn encode_with(data: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn decode_with(text: &str, alphabet: &[u8; 64]) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    // At most two pad characters, and only where padding belongs.
    if text.len() - body.len() > 2 || (text.len() != body.len() && text.len() % 4 != 0) {
        return None;
    }
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in body.bytes() {
        let v = alphabet.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits of a final partial group must be zero (canonical encoding).
    if acc != 0 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        for (plain, enc) in cases {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc).unwrap(), plain.as_bytes());
            assert_eq!(decode(enc.trim_end_matches('=')).unwrap(), plain.as_bytes(), "unpadded {enc}");
        }
    }

    #[test]
    fn alphabets_differ_only_in_two_characters() {
        let data = [0xfb, 0xff, 0xbf];
        assert_eq!(encode(&data), "+/+/");
        assert_eq!(encode_url(&data), "-_-_");
        assert_eq!(decode_url("-_-_").unwrap(), data);
        assert!(decode("-_-_").is_none());
        assert!(decode_url("+/+/").is_none());
    }

    #[test]
    fn docker_auth_strings() {
        assert_eq!(decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_url("e30=").unwrap(), b"{}");
        assert_eq!(decode_url("e30").unwrap(), b"{}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode("a").is_none());
        assert!(decode("Zm9v!").is_none());
        assert!(decode("Zg===").is_none());
        assert!(decode("Zg=").is_none());
        assert!(decode("Zh==").is_none(), "non-zero trailing bits");
        assert!(decode("Zm=9v").is_none());
    }

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..data.len() {
            assert_eq!(decode(&encode(&data[..n])).unwrap(), &data[..n]);
            assert_eq!(decode_url(&encode_url(&data[..n])).unwrap(), &data[..n]);
        }
    }
}
