//! How MailFerry logs in to a server, over IMAP or POP3: as the user with
//! their own password, or as an admin acting for the user. One type for
//! both protocols and both sides, so the source and the destination log in
//! as admins the same way.

use std::borrow::Cow;

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub enum Login {
    /// The user's own password: IMAP LOGIN; POP3 APOP, AUTH PLAIN or
    /// USER/PASS, whichever the server and the connection allow.
    Password { user: String, password: Secret },
    /// SASL PLAIN: `authcid` proves itself with `password` and acts as
    /// `authzid` (an admin acting for a user; RFC 4616, and RFC 5034 for
    /// POP3's AUTH).
    SaslPlain {
        authzid: String,
        authcid: String,
        password: Secret,
    },
    /// Dovecot's master-user form: the name `user<separator>admin` with the
    /// admin's password (IMAP LOGIN; POP3 USER and PASS).
    Separator {
        user: String,
        separator: String,
        admin: String,
        password: Secret,
    },
    /// OAuth 2.0: SASL OAUTHBEARER (RFC 7628) or XOAUTH2, whichever the
    /// server offers, for `user` with a bearer `token`.
    OAuth { user: String, token: Secret },
}

impl Login {
    /// The mailbox this login is for, for messages.
    pub fn user(&self) -> &str {
        match self {
            Login::Password { user, .. }
            | Login::Separator { user, .. }
            | Login::OAuth { user, .. } => user,
            Login::SaslPlain { authzid, .. } => authzid,
        }
    }

    /// The admin acting for the user, when it is an admin's login.
    pub fn admin(&self) -> Option<&str> {
        match self {
            Login::Password { .. } | Login::OAuth { .. } => None,
            Login::SaslPlain { authcid, .. } => Some(authcid),
            Login::Separator { admin, .. } => Some(admin),
        }
    }

    /// The name that proves itself with the password: what IMAP LOGIN,
    /// POP3 USER and APOP send, and SASL's authentication identity.
    pub fn login_name(&self) -> Cow<'_, str> {
        match self {
            Login::Password { user, .. } | Login::OAuth { user, .. } => user.into(),
            Login::SaslPlain { authcid, .. } => authcid.into(),
            Login::Separator {
                user,
                separator,
                admin,
                ..
            } => format!("{user}{separator}{admin}").into(),
        }
    }

    /// The authorization identity SASL sends: the user an admin acts for,
    /// empty for the user's own login.
    pub fn authzid(&self) -> &str {
        match self {
            Login::SaslPlain { authzid, .. } => authzid,
            Login::Password { .. } | Login::Separator { .. } | Login::OAuth { .. } => "",
        }
    }

    /// The password, or the OAuth token.
    pub fn password(&self) -> &Secret {
        match self {
            Login::Password { password, .. }
            | Login::SaslPlain { password, .. }
            | Login::Separator { password, .. } => password,
            Login::OAuth { token, .. } => token,
        }
    }

    pub fn is_oauth(&self) -> bool {
        matches!(self, Login::OAuth { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admins_login_names_the_user_it_is_for_and_never_shows_the_password() {
        let sep = Login::Separator {
            user: "jane".into(),
            separator: "*".into(),
            admin: "root".into(),
            password: Secret::new("rootpw"),
        };
        assert_eq!(
            (sep.user(), sep.admin(), &*sep.login_name(), sep.authzid()),
            ("jane", Some("root"), "jane*root", "")
        );
        let sasl = Login::SaslPlain {
            authzid: "jane".into(),
            authcid: "root".into(),
            password: Secret::new("rootpw"),
        };
        assert_eq!(
            (
                sasl.user(),
                sasl.admin(),
                &*sasl.login_name(),
                sasl.authzid()
            ),
            ("jane", Some("root"), "root", "jane")
        );
        let own = Login::Password {
            user: "jane".into(),
            password: Secret::new("janepw"),
        };
        assert_eq!((own.user(), own.admin()), ("jane", None));
        for l in [&sep, &sasl, &own] {
            assert!(!format!("{l:?}").contains("pw"), "{l:?}");
        }
    }
}
