//! Sign-up, sign-in and sign-out.

use std::sync::Arc;

use boxoffice_common::events::{SessionRevoked, UserSignedOutEverywhere};
use boxoffice_common::{Clock, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::http::revocation::session_started_ms;
use boxoffice_platform::http::{Claims, SessionKeys};
use time::OffsetDateTime;

use crate::domain::{EMAIL_INVALID, Email, PASSWORD_INVALID, Password, User};
use crate::limiter;
use crate::password;
use crate::store::{InsertUserError, UserStore};

/// The `source` of the events auth publishes.
const SOURCE: &str = "auth";

/// What sign-up and sign-in can refuse.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// One entry per bad field: `(field, message)`.
    #[error("invalid credentials format")]
    Invalid(Vec<(&'static str, &'static str)>),
    #[error("email in use")]
    EmailInUse,
    /// Unknown email or wrong password — deliberately indistinguishable.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("too many failed sign-ins")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A signed-in session: the token to hand out and what it says.
#[derive(Debug)]
pub struct Session {
    pub token: String,
    pub claims: Claims,
}

/// The auth use-cases, shared by every request. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuthService {
    store: Arc<dyn UserStore>,
    sessions: SessionKeys,
    clock: Arc<dyn Clock>,
}

impl AuthService {
    pub fn new(store: Arc<dyn UserStore>, sessions: SessionKeys, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            sessions,
            clock,
        }
    }

    /// The keys sessions are signed with.
    pub fn sessions(&self) -> &SessionKeys {
        &self.sessions
    }

    /// Creates an account and signs it in.
    pub async fn sign_up(&self, email: &str, password: String) -> Result<Session, AuthError> {
        let (email, password) = validate(email, password)?;
        let user = User {
            id: new_id(),
            email,
            password_hash: password::hash(password).await?,
            created_at: self.clock.now(),
        };
        match self.store.insert(&user).await {
            Ok(()) => {}
            Err(InsertUserError::EmailTaken) => return Err(AuthError::EmailInUse),
            Err(InsertUserError::Other(e)) => return Err(e.into()),
        }
        tracing::info!(user_id = %user.id, "user signed up");
        self.start_session(&user)
    }

    /// Checks credentials and signs the user in.
    pub async fn sign_in(&self, email: &str, password: String) -> Result<Session, AuthError> {
        let (email, _) = validate(email, password.clone())?;
        let now = self.clock.now();
        let failures = self
            .store
            .signin_failures(&email, limiter::window_start(now))
            .await?;
        if let Err(retry_after_secs) = limiter::check(&failures, now) {
            return Err(AuthError::TooManyAttempts { retry_after_secs });
        }
        let user = self.store.find_by_email(&email).await?;
        let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
        let matches = password::verify(password, stored_hash).await?;
        match user {
            Some(user) if matches => {
                self.store.clear_signin_failures(&email).await?;
                self.start_session(&user)
            }
            _ => {
                self.store
                    .record_signin_failure(&email, now, limiter::window_start(now))
                    .await?;
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Ends the session `claims` describes — or, `everywhere`, every session of its user
    /// started until now — in the store, with the event that tells every other service,
    /// and in this process at once.
    pub async fn sign_out(&self, claims: &Claims, everywhere: bool) -> Result<(), AuthError> {
        let now = self.clock.now();
        let revocations = self.sessions.revocations();
        if everywhere {
            // Never before the session that asks started, whatever the clock says.
            let started = session_started_ms(claims.sid)
                .and_then(|ms| {
                    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
                })
                .unwrap_or(now);
            let signed_out = UserSignedOutEverywhere {
                user_id: claims.id,
                valid_after: now.max(started),
            };
            let event = Envelope::new(SOURCE, now, &signed_out);
            self.store.sign_out_everywhere(&signed_out, &event).await?;
            revocations.sign_out_everywhere(signed_out.user_id, signed_out.valid_after);
            tracing::info!(user_id = %claims.id, "user signed out everywhere");
        } else {
            let revoked = SessionRevoked {
                sid: claims.sid,
                user_id: claims.id,
                expires_at: OffsetDateTime::from_unix_timestamp(claims.exp)
                    .unwrap_or(now + self.sessions.ttl()),
            };
            let event = Envelope::new(SOURCE, now, &revoked);
            self.store.revoke_session(&revoked, &event).await?;
            revocations.revoke_session(revoked.sid, revoked.expires_at);
            tracing::info!(user_id = %claims.id, "user signed out");
        }
        Ok(())
    }

    /// Loads the sessions that ended (and have not expired) into this process's table,
    /// before it serves: a restart must not bring a signed-out session back.
    pub async fn restore_ended_sessions(&self) -> anyhow::Result<()> {
        let ended = self
            .store
            .ended_sessions(self.clock.now(), self.sessions.ttl())
            .await?;
        let revocations = self.sessions.revocations();
        for revoked in &ended.revoked {
            revocations.revoke_session(revoked.sid, revoked.expires_at);
        }
        for signed_out in &ended.signed_out {
            revocations.sign_out_everywhere(signed_out.user_id, signed_out.valid_after);
        }
        Ok(())
    }

    fn start_session(&self, user: &User) -> Result<Session, AuthError> {
        let (token, claims) =
            self.sessions
                .issue(user.id, user.email.as_str(), self.clock.now())?;
        Ok(Session { token, claims })
    }
}

/// Parses both fields, reporting every bad one.
fn validate(email: &str, password: String) -> Result<(Email, Password), AuthError> {
    match (Email::parse(email), Password::parse(password)) {
        (Some(email), Some(password)) => Ok((email, password)),
        (email, password) => {
            let mut problems = Vec::new();
            if email.is_none() {
                problems.push(("email", EMAIL_INVALID));
            }
            if password.is_none() {
                problems.push(("password", PASSWORD_INVALID));
            }
            Err(AuthError::Invalid(problems))
        }
    }
}
