//! Modified UTF-7 mailbox names (RFC 3501 §5.1.3).
//!
//! Printable US-ASCII (0x20..=0x7e) stands for itself, except `&`, which is
//! written `&-`. Everything else is UTF-16 (surrogate pairs outside the BMP)
//! in base64 with `,` for `/` and no padding, between `&` and `-`.
//!
//! `decode` is strict: it accepts only the one encoding `encode` would
//! produce, so a name read from a server maps to exactly one Unicode name and
//! back again. Servers are trusted to send names byte for byte; a name that
//! fails to decode should be used as raw bytes rather than "repaired".

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Encodes a Unicode folder name as modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_literal(c) {
            flush_run(&mut run, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_run(&mut run, &mut out);
    out
}

/// Decodes a modified UTF-7 folder name; `None` when it is not valid.
pub fn decode(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    // True right after a base64 run closed: a second run there should have
    // been part of the first one.
    let mut after_run = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'&' {
            // Raw non-ASCII or control bytes must have been encoded.
            if !is_literal(char::from(b)) {
                return None;
            }
            out.push(char::from(b));
            after_run = false;
            i += 1;
            continue;
        }
        let start = i + 1;
        let len = bytes[start..].iter().position(|&b| b == b'-')?;
        let end = start + len;
        if len == 0 {
            out.push('&');
            after_run = false;
        } else {
            if after_run {
                return None;
            }
            let units = decode_base64_utf16(&bytes[start..end])?;
            for c in char::decode_utf16(units) {
                let c = c.ok()?;
                // Printable ASCII must be literal; encoding it is not canonical.
                if is_literal(c) {
                    return None;
                }
                out.push(c);
            }
            after_run = true;
        }
        i = end + 1;
    }
    Some(out)
}

/// Characters that represent themselves (plus `&`, which becomes `&-`).
fn is_literal(c: char) -> bool {
    matches!(c, '\x20'..='\x7e')
}

fn flush_run(run: &mut Vec<u16>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    out.push('&');
    let mut bits: u32 = 0;
    let mut nbits = 0;
    for unit in run.drain(..) {
        bits = (bits << 16) | u32::from(unit);
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            out.push(char::from(ALPHABET[((bits >> nbits) & 0x3f) as usize]));
        }
        // Keep only the bits not yet written, so `bits` cannot overflow.
        bits &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        // Pad the last sextet with zero bits (RFC 2045 rules, no '=').
        out.push(char::from(
            ALPHABET[((bits << (6 - nbits)) & 0x3f) as usize],
        ));
    }
    out.push('-');
}

/// Base64 (`,` variant) to UTF-16 units; `None` on a character outside the
/// alphabet, an odd byte count, a stray sextet or non-zero padding bits.
fn decode_base64_utf16(input: &[u8]) -> Option<Vec<u16>> {
    let mut bytes = Vec::with_capacity(input.len() * 3 / 4);
    let mut bits: u32 = 0;
    let mut nbits = 0;
    for &b in input {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b',' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    // Leftover bits are padding: fewer than a full sextet, and all zero.
    if nbits >= 6 || bits != 0 || bytes.len() % 2 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both_ways(unicode: &str, wire: &str) {
        assert_eq!(encode(unicode), wire, "encode {unicode:?}");
        assert_eq!(decode(wire).as_deref(), Some(unicode), "decode {wire:?}");
    }

    #[test]
    fn rfc_3501_example() {
        both_ways("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    }

    #[test]
    fn german_umlaut() {
        both_ways("Entwürfe", "Entw&APw-rfe");
    }

    #[test]
    fn mixed_accents_ampersand_and_cjk() {
        both_ways(
            "Projects/Résumé & Co 日本",
            "Projects/R&AOk-sum&AOk- &- Co &ZeVnLA-",
        );
    }

    #[test]
    fn emoji_goes_as_surrogate_pair() {
        // U+1F4E7 = D83D DCE7.
        both_ways("📧", "&2D3c5w-");
        both_ways("Mail 📧 Inbox", "Mail &2D3c5w- Inbox");
        both_ways("😀😀", "&2D3eANg93gA-");
    }

    #[test]
    fn ampersand_alone() {
        both_ways("&", "&-");
        both_ways("&&", "&-&-");
    }

    #[test]
    fn empty_string() {
        both_ways("", "");
    }

    #[test]
    fn plain_ascii_is_unchanged() {
        both_ways("INBOX/Sent Items-2024", "INBOX/Sent Items-2024");
    }

    #[test]
    fn control_characters_are_encoded() {
        both_ways("a\tb", "a&AAk-b");
        both_ways("\u{7f}", "&AH8-");
    }

    #[test]
    fn run_followed_by_literal_ampersand_is_valid() {
        both_ways("ü&", "&APw-&-");
    }

    /// Small deterministic PRNG (xorshift64*), so the test needs no crates.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn random_char(rng: &mut Rng) -> char {
        const EDGES: &[char] = &[
            '&',
            '-',
            '+',
            ',',
            '/',
            ' ',
            '~',
            '\0',
            '\u{1f}',
            '\u{7f}',
            '\u{80}',
            'ü',
            '€',
            '\u{d7ff}',
            '\u{e000}',
            '\u{fffd}',
            '\u{ffff}',
            '\u{10000}',
            '📧',
            '\u{10ffff}',
        ];
        match rng.below(4) {
            0 => char::from(0x20 + rng.below(0x5f) as u8),
            1 => EDGES[rng.below(EDGES.len())],
            2 => char::from_u32(0x80 + rng.below(0xd800 - 0x80) as u32).unwrap(),
            _ => loop {
                if let Some(c) = char::from_u32(rng.below(0x11_0000) as u32) {
                    break c;
                }
            },
        }
    }

    #[test]
    fn round_trip_over_generated_names() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let len = rng.below(12);
            let name: String = (0..len).map(|_| random_char(&mut rng)).collect();
            let wire = encode(&name);
            assert!(
                wire.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                "{wire:?} is not printable ASCII"
            );
            assert_eq!(decode(&wire).as_deref(), Some(name.as_str()), "{name:?}");
        }
    }

    #[test]
    fn every_decodable_string_is_canonical() {
        // Random strings over the wire alphabet: whatever decodes must
        // re-encode to the same bytes, so one name has one spelling.
        const WIRE: &[u8] = b"&-&-AAPwU,+9aZz-x ";
        let mut rng = Rng(42);
        let mut decoded = 0;
        for _ in 0..50_000 {
            let len = 1 + rng.below(10);
            let wire: String = (0..len)
                .map(|_| char::from(WIRE[rng.below(WIRE.len())]))
                .collect();
            if let Some(name) = decode(&wire) {
                decoded += 1;
                assert_eq!(encode(&name), wire, "{wire:?} decoded to {name:?}");
            }
        }
        assert!(decoded > 1000, "generator too weak: {decoded}");
    }

    #[test]
    fn rejects_bad_base64_characters() {
        assert_eq!(decode("&U/BTFw-"), None); // '/' is ',' here
        assert_eq!(decode("&APw=-"), None);
        assert_eq!(decode("&AP w-"), None);
    }

    #[test]
    fn rejects_unterminated_ampersand() {
        assert_eq!(decode("&"), None);
        assert_eq!(decode("abc&APw"), None);
        assert_eq!(decode("&APw-rfe&"), None);
    }

    #[test]
    fn rejects_nonzero_padding_bits() {
        // "&APw-" is ü; the last sextet 'w' has two low padding bits = 0.
        assert_eq!(decode("&APx-"), None);
        assert_eq!(decode("&APz-"), None);
    }

    #[test]
    fn rejects_encoded_printable_ascii() {
        assert_eq!(decode("&AGE-"), None); // "a"
        assert_eq!(decode("&ACY-"), None); // "&" must be "&-"
        assert_eq!(decode("&ACA-"), None); // " "
        assert_eq!(decode("&APwAYQ-"), None); // "üa"
    }

    #[test]
    fn rejects_adjacent_encoded_runs() {
        assert_eq!(decode("&APw-&APw-"), None);
        assert_eq!(decode("&APwA,A-"), Some("üü".to_string()));
    }

    #[test]
    fn rejects_odd_utf16_byte_count() {
        assert_eq!(decode("&AA-"), None); // 1 byte + 4 padding bits
        assert_eq!(decode("&APwA-"), None); // 3 bytes
        assert_eq!(decode("&A-"), None); // a lone sextet
    }

    #[test]
    fn rejects_unpaired_surrogates() {
        assert_eq!(decode("&2D0-"), None); // lone high D83D
        assert_eq!(decode("&3Oc-"), None); // lone low DCE7
        assert_eq!(decode("&3OfYPQ-"), None); // low then high
        assert_eq!(decode("&2D0-&3Oc-"), None); // pair split across runs
    }

    #[test]
    fn rejects_raw_non_ascii_and_control_bytes() {
        assert_eq!(decode("Entwürfe"), None);
        assert_eq!(decode("日本"), None);
        assert_eq!(decode("a\tb"), None);
        assert_eq!(decode("a\0"), None);
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Any name survives the round trip; encoded names are printable ASCII;
    /// whatever decodes (random text, near-misses of real encodings) encodes
    /// back to exactly the same bytes, so a server's name maps to one
    /// Unicode name and back.
    #[test]
    fn fuzz_modified_utf7() {
        let near_misses = "([ -%'-~]|&[A-Za-z0-9+,/=]{0,10}-?|&-){0,8}";
        crate::fuzzing::fuzz(
            "modified UTF-7",
            (any::<String>(), near_misses, any::<Vec<u8>>()),
            |(name, wire, bytes)| {
                let encoded = encode(&name);
                prop_assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)));
                prop_assert_eq!(decode(&encoded), Some(name));
                for candidate in [wire, String::from_utf8_lossy(&bytes).into_owned()] {
                    if let Some(d) = decode(&candidate) {
                        prop_assert_eq!(encode(&d), candidate);
                    }
                }
                Ok(())
            },
        );
    }
}
