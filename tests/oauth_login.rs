//! OAuth logins (SASL XOAUTH2 and OAUTHBEARER) of the IMAP and POP3 clients
//! against a private Dovecot whose `oauth2` passdb asks the test identity
//! provider about each token: both mechanisms log in over both protocols
//! (with and without SASL-IR), refused tokens are told in plain words, and a
//! server without OAuth says so.
//!
//! What Dovecot 2.3 sends on a refused token, whatever the reason (expired,
//! revoked, wrong scope, another user's token): the error challenge
//! `{"status":"401","schemes":"bearer","scope":"mail"}` for XOAUTH2 and
//! `{"status":"invalid_token"}` for OAUTHBEARER (the `scope` is always
//! `mail`, not its `scope` setting), then `NO [AUTHENTICATIONFAILED]
//! Authentication failed.` (IMAP) or `-ERR [AUTH] Authentication failed.`
//! (POP3). The reason is only in its log.

mod support;

use std::future::Future;
use std::time::{Duration, Instant};

use mailferry::compress::CompressMode;
use mailferry::error::{ErrorClass, MailError, Side, TokenProblem};
use mailferry::imap::{Endpoint, ImapClient, Transport};
use mailferry::login::Login;
use mailferry::net::CertPolicy;
use mailferry::pop3::{Pop3Client, Pop3Endpoint, Pop3Transport};
use mailferry::secret::Secret;
use support::dovecot::{Dovecot, Layout, ServerOptions};
use support::oauth::{Idp, SCOPE};

const USER: &str = "alice";
const PASSWORD: &str = "secret1";
const HOUR: Duration = Duration::from_secs(3600);

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A Dovecot checking tokens with `idp` (requiring [`SCOPE`]), with
/// `extra` appended to its configuration, and the user [`USER`].
fn server(idp: &Idp, extra: &str) -> Dovecot {
    let server = Dovecot::start_with(&ServerOptions {
        oauth: Some(idp.dovecot()),
        extra_config: extra.to_string(),
        ..ServerOptions::new(Layout::Slash)
    });
    server.add_user(USER, PASSWORD);
    server
}

/// Only XOAUTH2 offered (a later setting wins in Dovecot's configuration).
const XOAUTH2_ONLY: &str = "auth_mechanisms = plain login xoauth2\n";
/// Only OAUTHBEARER offered.
const OAUTHBEARER_ONLY: &str = "auth_mechanisms = plain login oauthbearer\n";
/// Dovecot logs why it refused a login.
const VERBOSE: &str = "auth_verbose = yes\n";
/// Capabilities without SASL-IR: the initial response answers the first `+`.
const NO_SASL_IR: &str = "imap_capability = IMAP4rev1 LITERAL+ NAMESPACE\n";

fn imaps(server: &Dovecot) -> Endpoint {
    Endpoint {
        side: Side::Source,
        host: server.host().into(),
        ports: vec![server.imaps_port()],
        transport: Transport::Tls,
        certs: CertPolicy::CaFile(server.ca_file()),
        protocol: "IMAP4S",
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(30),
        compress: CompressMode::Never,
    }
}

fn pop3s(server: &Dovecot) -> Pop3Endpoint {
    Pop3Endpoint {
        side: Side::Source,
        host: server.host().into(),
        ports: vec![server.pop3s_port()],
        transport: Pop3Transport::Tls,
        certs: CertPolicy::CaFile(server.ca_file()),
        protocol: "POP3S",
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(30),
    }
}

fn oauth(token: &str) -> Login {
    Login::OAuth {
        user: USER.into(),
        token: Secret::new(token),
    }
}

async fn imap_login(server: &Dovecot, token: &str) -> Result<ImapClient, MailError> {
    ImapClient::connect(&imaps(server), &oauth(token)).await
}

async fn pop3_login(server: &Dovecot, token: &str) -> Result<Pop3Client, MailError> {
    Pop3Client::connect_as(&pop3s(server), &oauth(token)).await
}

/// Waits (a few seconds at most: Dovecot's log process writes late) for a
/// line of Dovecot's log holding every one of `words`.
fn logged(server: &Dovecot, words: &[&str]) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        if server
            .log()
            .lines()
            .any(|l| words.iter().all(|w| l.contains(w)))
        {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The refusal's problem and server text, after the checks every refused
/// token passes: told apart for the retry with a fresh token, fatal for the
/// mailbox like a refused password, and the token nowhere in its words.
fn refusal(err: &MailError, token: &str) -> (TokenProblem, String) {
    assert!(err.is_token_refused(), "{err}");
    assert_eq!(err.code(), "token-refused");
    assert_eq!(err.class(), ErrorClass::FatalForMailbox);
    let text = format!("{err} {err:?}");
    assert!(!text.contains(token), "the token leaked: {text}");
    match err {
        MailError::TokenRefused {
            user,
            problem,
            server_text,
            ..
        } => {
            assert_eq!(user, USER);
            ((**problem).clone(), server_text.clone())
        }
        other => panic!("{other}"),
    }
}

#[test]
fn imap_logs_in_by_xoauth2_when_it_is_the_only_oauth_mechanism() {
    let idp = Idp::start();
    let server = server(&idp, XOAUTH2_ONLY);
    let token = idp.mint(USER, SCOPE, HOUR);
    block_on(async {
        let mut client = imap_login(&server, &token).await.unwrap();
        assert_eq!(client.user(), USER);
        // A working session: the server answers after the login.
        client.noop().await.unwrap();
        client.logout().await;
    });
    assert!(logged(
        &server,
        &["imap-login", "Login: user=<alice>", "method=XOAUTH2"]
    ));
}

#[test]
fn imap_prefers_oauthbearer_when_both_are_offered() {
    let idp = Idp::start();
    let server = server(&idp, "");
    let token = idp.mint(USER, SCOPE, HOUR);
    block_on(async {
        let mut client = imap_login(&server, &token).await.unwrap();
        client.noop().await.unwrap();
        client.logout().await;
    });
    assert!(logged(
        &server,
        &["imap-login", "Login: user=<alice>", "method=OAUTHBEARER"]
    ));
}

/// Without SASL-IR the initial response goes after the server's `+`, for
/// both mechanisms; a refusal reads the same.
#[test]
fn imap_oauth_works_without_sasl_ir() {
    let idp = Idp::start();
    for (extra, method) in [
        (OAUTHBEARER_ONLY, "method=OAUTHBEARER"),
        (XOAUTH2_ONLY, "method=XOAUTH2"),
    ] {
        let server = server(&idp, &format!("{extra}{NO_SASL_IR}"));
        let token = idp.mint(USER, SCOPE, HOUR);
        block_on(async {
            let mut client = imap_login(&server, &token).await.unwrap();
            client.noop().await.unwrap();
            client.logout().await;
            idp.revoke(&token);
            let err = imap_login(&server, &token).await.unwrap_err();
            let (problem, _) = refusal(&err, &token);
            assert!(matches!(problem, TokenProblem::Invalid { .. }), "{err}");
        });
        assert!(
            logged(&server, &["Login: user=<alice>", method]),
            "{method}"
        );
    }
}

#[test]
fn pop3_logs_in_by_oauthbearer_and_by_xoauth2() {
    let idp = Idp::start();
    for (extra, method) in [("", "method=OAUTHBEARER"), (XOAUTH2_ONLY, "method=XOAUTH2")] {
        let server = server(&idp, extra);
        let token = idp.mint(USER, SCOPE, HOUR);
        block_on(async {
            let mut client = pop3_login(&server, &token).await.unwrap();
            assert_eq!(client.user(), USER);
            assert_eq!(client.stat().await.unwrap(), (0, 0));
            client.quit().await;
        });
        assert!(
            logged(&server, &["pop3-login", "Login: user=<alice>", method]),
            "{method}"
        );
    }
}

/// A revoked token, by each mechanism and protocol: the words say expired
/// or revoked and what to do; Dovecot's JSON and refusal are in brackets.
#[test]
fn a_revoked_token_is_refused_as_expired_or_revoked() {
    let idp = Idp::start();
    let both = server(&idp, "");
    let xoauth2 = server(&idp, XOAUTH2_ONLY);
    let token = idp.mint(USER, SCOPE, HOUR);
    idp.revoke(&token);
    block_on(async {
        let err = imap_login(&both, &token).await.unwrap_err();
        let (problem, text) = refusal(&err, &token);
        assert_eq!(problem, TokenProblem::Invalid { scope: None });
        assert_eq!(
            text,
            r#"{"status":"invalid_token"} NO [AUTHENTICATIONFAILED] Authentication failed."#
        );
        let words = err.to_string();
        assert!(words.contains("as alice with OAuth: the server refused the access token. It has expired or was revoked. Sign in to the account again"), "{words}");

        let err = imap_login(&xoauth2, &token).await.unwrap_err();
        let (problem, text) = refusal(&err, &token);
        assert_eq!(
            problem,
            TokenProblem::Invalid {
                scope: Some("mail".into())
            }
        );
        assert_eq!(
            text,
            r#"{"status":"401","schemes":"bearer","scope":"mail"} NO [AUTHENTICATIONFAILED] Authentication failed."#
        );
        assert!(err.to_string().contains("It has expired or was revoked, or it lacks the permission (scope) the server asks for: mail."), "{err}");

        let err = pop3_login(&both, &token).await.unwrap_err();
        let (problem, text) = refusal(&err, &token);
        assert_eq!(problem, TokenProblem::Invalid { scope: None });
        assert_eq!(
            text,
            r#"{"status":"invalid_token"} -ERR [AUTH] Authentication failed."#
        );
        assert!(err.to_string().contains("(POP3S, port"), "{err}");

        let err = pop3_login(&xoauth2, &token).await.unwrap_err();
        let (_, text) = refusal(&err, &token);
        assert_eq!(
            text,
            r#"{"status":"401","schemes":"bearer","scope":"mail"} -ERR [AUTH] Authentication failed."#
        );
    });
}

#[test]
fn an_expired_token_is_refused_and_a_fresh_one_then_logs_in() {
    let idp = Idp::start();
    let server = server(&idp, "");
    let stale = idp.mint(USER, SCOPE, Duration::from_millis(1));
    std::thread::sleep(Duration::from_millis(20));
    block_on(async {
        let err = imap_login(&server, &stale).await.unwrap_err();
        let (problem, _) = refusal(&err, &stale);
        assert_eq!(problem, TokenProblem::Invalid { scope: None });
        assert!(err.to_string().contains("expired"), "{err}");
        // What the connection layer does on this error: a new token.
        let fresh = idp.mint(USER, SCOPE, HOUR);
        imap_login(&server, &fresh).await.unwrap().logout().await;
    });
}

/// Dovecot checks the token's scope (its `scope` setting) but says no more
/// than for any other refusal: the same JSON, so the words are those of an
/// invalid token; its log names the scope.
#[test]
fn a_token_without_the_required_scope_is_refused() {
    let idp = Idp::start();
    let both = server(&idp, VERBOSE);
    let xoauth2 = server(&idp, &format!("{XOAUTH2_ONLY}{VERBOSE}"));
    let token = idp.mint(USER, "https://mail.test/calendar", HOUR);
    block_on(async {
        for s in [&both, &xoauth2] {
            let err = imap_login(s, &token).await.unwrap_err();
            let (problem, _) = refusal(&err, &token);
            assert!(matches!(problem, TokenProblem::Invalid { .. }), "{err}");
            let err = pop3_login(s, &token).await.unwrap_err();
            refusal(&err, &token);
        }
    });
    assert!(logged(&both, &["Token is not valid for scope", SCOPE]));
}

/// Another user's valid token: refused like a bad one (Dovecot's log says
/// the names differ).
#[test]
fn another_users_token_is_refused() {
    let idp = Idp::start();
    let server = server(&idp, VERBOSE);
    server.add_user("bob", "secret2");
    let token = idp.mint("bob", SCOPE, HOUR);
    block_on(async {
        let err = imap_login(&server, &token).await.unwrap_err();
        refusal(&err, &token);
    });
    assert!(logged(&server, &["did not match"]));
}

#[test]
fn a_server_without_oauth_mechanisms_says_it_does_not_offer_oauth() {
    let server = Dovecot::start(Layout::Slash);
    server.add_user(USER, PASSWORD);
    let token = "at-never-sent";
    block_on(async {
        let err = imap_login(&server, token).await.unwrap_err();
        assert!(matches!(err, MailError::OAuthNotOffered { .. }), "{err}");
        assert_eq!(err.code(), "oauth-not-offered");
        assert!(!err.is_token_refused());
        assert_eq!(err.class(), ErrorClass::FatalForMailbox);
        assert!(
            err.to_string()
                .contains("the server does not offer OAuth sign-in"),
            "{err}"
        );
        assert!(
            err.to_string().contains("Log in with the password instead"),
            "{err}"
        );
        let err = pop3_login(&server, token).await.unwrap_err();
        assert!(matches!(err, MailError::OAuthNotOffered { .. }), "{err}");
    });
    // Nothing was tried.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !server.log().contains("user=<alice>"),
        "{}",
        server.log_tail()
    );
}
