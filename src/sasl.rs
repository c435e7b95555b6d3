//! SASL for OAuth 2.0 bearer tokens, shared by the IMAP and POP3 clients:
//! OAUTHBEARER (RFC 7628) and Google's and Microsoft's XOAUTH2. Choosing a
//! mechanism, the client's first message, its answer to an error
//! challenge, and what that challenge's JSON says about the token.

use base64::Engine as _;

use crate::error::TokenProblem;
use crate::secret::Secret;

/// An OAuth SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthMechanism {
    /// RFC 7628: the standard one.
    OAuthBearer,
    /// The older one Google and Microsoft introduced.
    XOAuth2,
}

impl OAuthMechanism {
    /// Its SASL name.
    pub fn name(self) -> &'static str {
        match self {
            OAuthMechanism::OAuthBearer => "OAUTHBEARER",
            OAuthMechanism::XOAuth2 => "XOAUTH2",
        }
    }

    /// The mechanism to use among those `offers` says the server has
    /// (asked with upper-case names): the standard OAUTHBEARER first.
    pub fn choose(offers: impl Fn(&str) -> bool) -> Option<OAuthMechanism> {
        [OAuthMechanism::OAuthBearer, OAuthMechanism::XOAuth2]
            .into_iter()
            .find(|m| offers(m.name()))
    }

    /// The client's first message, before base64 (it holds the token):
    /// OAUTHBEARER `n,a=<user>,^Aauth=Bearer <token>^A^A` (RFC 7628 §3.1),
    /// XOAUTH2 `user=<user>^Aauth=Bearer <token>^A^A`. `None` when the user
    /// name or token holds a character the message cannot carry (^A frames
    /// it; a bearer token has no spaces). Blanks around a pasted token go.
    pub fn initial_response(self, user: &str, token: &Secret) -> Option<Secret> {
        let token = token.expose().trim();
        if user.contains('\x01') || token.contains('\x01') || token.contains(char::is_whitespace) {
            return None;
        }
        Some(Secret::new(match self {
            OAuthMechanism::OAuthBearer => {
                format!(
                    "n,a={},\x01auth=Bearer {token}\x01\x01",
                    escape_saslname(user)
                )
            }
            OAuthMechanism::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
        }))
    }

    /// What the client answers to an error challenge, before base64, so
    /// that the server ends the exchange with its NO / -ERR: RFC 7628
    /// §3.2.3 wants a lone ^A; XOAUTH2 an empty response. (POP3's `*`
    /// would cancel too, but Dovecot then says "Authentication aborted by
    /// client." instead of its real refusal.)
    pub fn answer_to_error(self) -> &'static [u8] {
        match self {
            OAuthMechanism::OAuthBearer => b"\x01",
            OAuthMechanism::XOAuth2 => b"",
        }
    }
}

/// A user name as a GS2 `saslname` (RFC 5801): `,` and `=` escaped.
pub fn escape_saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

/// Base64 as SASL sends it.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What a server's error challenge said (RFC 7628 §3.2.2: a JSON object
/// with `status`, `scope` and `openid-configuration`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// `invalid_token`, `insufficient_scope`, `invalid_request`, or an HTTP
    /// code (`401`, `403`, `400`) as Google's XOAUTH2 sends it.
    pub status: Option<String>,
    /// The scope(s) the server wants, space-separated.
    pub scope: Option<String>,
    /// The challenge as sent (decoded, made printable and short), for the
    /// server's words in a message.
    pub text: String,
}

impl Challenge {
    /// Reads a decoded challenge. Anything that is not a JSON object (or
    /// fields that are not strings or numbers) is kept only as text.
    pub fn read(raw: &[u8]) -> Challenge {
        let text = printable(&String::from_utf8_lossy(raw));
        let json: Option<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_slice(raw).ok();
        let field = |name: &str| {
            let value = match json.as_ref()?.get(name)? {
                serde_json::Value::String(s) => s.trim().to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(printable(&value)).filter(|v| !v.is_empty())
        };
        Challenge {
            status: field("status"),
            scope: field("scope"),
            text,
        }
    }

    /// Reads a challenge still in base64 (what follows POP3's `+ `); bytes
    /// that are not base64 are kept as the text, with nothing understood.
    pub fn read_base64(b64: &str) -> Challenge {
        match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
            Ok(raw) => Challenge::read(&raw),
            Err(_) => Challenge {
                text: printable(b64.trim()),
                ..Challenge::default()
            },
        }
    }

    /// What the challenge says is wrong with the token.
    pub fn problem(&self) -> TokenProblem {
        let scope = self.scope.clone();
        match self
            .status
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("invalid_token" | "401") => TokenProblem::Invalid { scope },
            Some("insufficient_scope" | "403") => TokenProblem::Scope { wanted: scope },
            _ => TokenProblem::Unexplained,
        }
    }
}

/// What a refused OAuth login tells, with or without an error challenge
/// (Microsoft 365 sends none).
pub fn problem_of(challenge: Option<&Challenge>) -> TokenProblem {
    challenge.map_or(TokenProblem::Unexplained, Challenge::problem)
}

/// The server's words for a message: its refusal, after its challenge.
pub fn server_text(challenge: Option<&Challenge>, refusal: &str) -> String {
    match challenge {
        Some(c) if !c.text.is_empty() => format!("{} {refusal}", c.text),
        _ => refusal.to_string(),
    }
}

/// At most 300 characters, control characters shown as `\u{..}`: the
/// server's text goes into one line of a message.
fn printable(s: &str) -> String {
    let mut out: String = s
        .trim()
        .chars()
        .take(300)
        .flat_map(|c| match c.is_control() {
            true => c.escape_unicode().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect();
    if s.trim().chars().count() > 300 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauthbearer_is_preferred_then_xoauth2_then_nothing() {
        let offers = |list: &'static [&'static str]| move |m: &str| list.contains(&m);
        assert_eq!(
            OAuthMechanism::choose(offers(&["PLAIN", "XOAUTH2", "OAUTHBEARER"])),
            Some(OAuthMechanism::OAuthBearer)
        );
        assert_eq!(
            OAuthMechanism::choose(offers(&["XOAUTH2", "PLAIN"])),
            Some(OAuthMechanism::XOAuth2)
        );
        assert_eq!(OAuthMechanism::choose(offers(&["PLAIN", "LOGIN"])), None);
    }

    #[test]
    fn initial_responses_follow_rfc_7628_and_xoauth2() {
        let token = Secret::new("ya29.a0-Tok_en~/+==");
        let bearer = OAuthMechanism::OAuthBearer
            .initial_response("jane@example.com", &token)
            .unwrap();
        assert_eq!(
            bearer.expose(),
            "n,a=jane@example.com,\x01auth=Bearer ya29.a0-Tok_en~/+==\x01\x01"
        );
        let x = OAuthMechanism::XOAuth2
            .initial_response("jane@example.com", &token)
            .unwrap();
        assert_eq!(
            x.expose(),
            "user=jane@example.com\x01auth=Bearer ya29.a0-Tok_en~/+==\x01\x01"
        );
        // Google's documented example.
        let google = OAuthMechanism::XOAuth2
            .initial_response(
                "someuser@example.com",
                &Secret::new("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            )
            .unwrap();
        assert_eq!(base64(google.expose().as_bytes()), "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
        // Neither prints the token.
        assert_eq!(format!("{bearer:?} {x}"), "*** ***");
    }

    #[test]
    fn the_authzid_escapes_commas_and_equals_signs() {
        assert_eq!(escape_saslname("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(escape_saslname("=2C"), "=3D2C");
        assert_eq!(escape_saslname("plain@x"), "plain@x");
        let r = OAuthMechanism::OAuthBearer
            .initial_response("o,dd=user", &Secret::new("t"))
            .unwrap();
        assert!(r.expose().starts_with("n,a=o=2Cdd=3Duser,\x01"));
    }

    #[test]
    fn a_user_or_token_that_would_break_the_framing_is_not_sent() {
        for (user, token) in [
            ("a\x01b", "t"),
            ("a", "t\x01"),
            ("a", "t t"),
            ("a", "t\r\nu"),
        ] {
            for m in [OAuthMechanism::OAuthBearer, OAuthMechanism::XOAuth2] {
                assert!(
                    m.initial_response(user, &Secret::new(token)).is_none(),
                    "{user:?} {token:?}"
                );
            }
        }
        let pasted = OAuthMechanism::XOAuth2.initial_response("a", &Secret::new(" t\r\n"));
        assert_eq!(pasted.unwrap().expose(), "user=a\x01auth=Bearer t\x01\x01");
    }

    #[test]
    fn answers_to_an_error_challenge() {
        assert_eq!(
            base64(OAuthMechanism::OAuthBearer.answer_to_error()),
            "AQ=="
        );
        assert_eq!(base64(OAuthMechanism::XOAuth2.answer_to_error()), "");
    }

    #[test]
    fn dovecots_and_googles_challenges_are_understood() {
        // What Dovecot 2.3 sends for XOAUTH2 and OAUTHBEARER.
        let x = Challenge::read_base64(
            "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=",
        );
        assert_eq!(x.status.as_deref(), Some("401"));
        assert_eq!(x.scope.as_deref(), Some("mail"));
        assert_eq!(
            x.text,
            r#"{"status":"401","schemes":"bearer","scope":"mail"}"#
        );
        assert_eq!(
            x.problem(),
            TokenProblem::Invalid {
                scope: Some("mail".into())
            }
        );
        let b = Challenge::read_base64("eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=");
        assert_eq!(b.problem(), TokenProblem::Invalid { scope: None });
        let scope = Challenge::read(
            br#"{"status":"insufficient_scope","scope":"https://mail.google.com/","openid-configuration":"https://x/.well-known/openid-configuration"}"#,
        );
        assert_eq!(
            scope.problem(),
            TokenProblem::Scope {
                wanted: Some("https://mail.google.com/".into())
            }
        );
        assert_eq!(
            Challenge::read(br#"{"status":403}"#).problem(),
            TokenProblem::Scope { wanted: None }
        );
        assert_eq!(
            Challenge::read(br#"{"status":"INVALID_TOKEN"}"#).problem(),
            TokenProblem::Invalid { scope: None }
        );
    }

    #[test]
    fn odd_or_missing_fields_say_nothing_rather_than_something_wrong() {
        for raw in [
            &br#"{}"#[..],
            br#"{"status":"invalid_request"}"#,
            br#"{"status":"400","scope":"x"}"#,
            br#"{"status":null}"#,
            br#"{"status":["invalid_token"]}"#,
            br#"{"status":""}"#,
            br#"[1,2]"#,
            br#""invalid_token""#,
            b"",
            b"\xff\xfe",
            br#"{"status":"invalid_token""#,
        ] {
            assert_eq!(
                Challenge::read(raw).problem(),
                TokenProblem::Unexplained,
                "{raw:?}"
            );
        }
        let c = Challenge::read(br#"{"status":"401","scope":{"a":1}}"#);
        assert_eq!(c.problem(), TokenProblem::Invalid { scope: None });
        assert_eq!(problem_of(None), TokenProblem::Unexplained);
    }

    #[test]
    fn garbage_base64_is_kept_as_text_only() {
        let c = Challenge::read_base64("not base64 at all!");
        assert_eq!(c.status, None);
        assert_eq!(c.text, "not base64 at all!");
        assert_eq!(c.problem(), TokenProblem::Unexplained);
        let c = Challenge::read_base64("");
        assert_eq!(c, Challenge::default());
    }

    #[test]
    fn challenge_text_is_one_short_printable_line() {
        let c = Challenge::read(b"{\"status\":\"401\"}\r\n\x1b[31m");
        assert!(!c.text.chars().any(char::is_control), "{}", c.text);
        let long = Challenge::read(format!("{{\"x\":\"{}\"}}", "a".repeat(1000)).as_bytes());
        assert_eq!(long.text.chars().count(), 301);
        assert_eq!(
            server_text(
                Some(&Challenge::read(br#"{"status":"invalid_token"}"#)),
                "NO no"
            ),
            r#"{"status":"invalid_token"} NO no"#
        );
        assert_eq!(
            server_text(None, "NO AUTHENTICATE failed."),
            "NO AUTHENTICATE failed."
        );
    }
}
