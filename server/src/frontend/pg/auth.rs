//! Who a PostgreSQL client is, checked against the configured users before
//! its first statement: SCRAM-SHA-256 for a user whose password the
//! configuration gives in clear (the password never crosses the wire), a
//! clear-text password message for one kept as a hash (which only a hash
//! of the password can be checked against; use it on loopback or a trusted
//! network), nothing for a user without a password. A failure is
//! ClickHouse's `Code: 516` (SQLSTATE 28P01), after a delay, whatever went
//! wrong. Uses pgwire's authentication driver and the executor's users.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::cleartext::CleartextPasswordAuth;
use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::auth::sasl::scram::{gen_salted_password, ScramAuth};
use pgwire::api::auth::{
    protocol_negotiation, save_startup_parameters_to_metadata, AuthDriver, AuthOutcome, AuthSource,
    DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::{ClientInfo, METADATA_USER};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::executor::Executor;
use crate::users::Grant;

/// PBKDF2 rounds of SCRAM (PostgreSQL's default).
const SCRAM_ITERATIONS: usize = 4096;

/// The startup handler of every PostgreSQL connection.
pub struct PgAuth {
    executor: Arc<Executor>,
    driver: AuthDriver<DefaultServerParameterProvider>,
    cleartext: CleartextPasswordAuth<Source>,
    scram: ScramAuth,
}

impl PgAuth {
    pub fn new(executor: Arc<Executor>) -> PgAuth {
        let source = Arc::new(Source {
            users: executor.users().clone(),
        });
        let mut scram = ScramAuth::new(source.clone());
        scram.set_iterations(SCRAM_ITERATIONS);
        PgAuth {
            executor,
            driver: AuthDriver::new(DefaultServerParameterProvider::default()),
            cleartext: CleartextPasswordAuth::new(source),
            scram,
        }
    }
}

/// The grant of a connection, kept with it for the session it opens.
#[derive(Default)]
pub struct GrantSlot(std::sync::Mutex<Option<Grant>>);

/// The grant `client` authenticated as (none before it did).
pub fn grant_of<C: ClientInfo>(client: &C) -> Option<Grant> {
    client
        .session_extensions()
        .get_or_insert_with(GrantSlot::default)
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

fn keep_grant<C: ClientInfo>(client: &C, grant: Grant) {
    *client
        .session_extensions()
        .get_or_insert_with(GrantSlot::default)
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(grant);
}

/// Passwords as pgwire's mechanisms ask for them.
#[derive(Debug)]
struct Source {
    users: crate::users::Users,
}

#[async_trait]
impl AuthSource for Source {
    /// SCRAM's salted password, from the clear-text one the configuration
    /// gives (a fresh salt each time: SCRAM lets the server choose).
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = user_of(login.user());
        let plain = self
            .users
            .plain_password(&user)
            .ok_or_else(|| refusal(&user))?
            .to_string();
        let salt = uuid::Uuid::new_v4().as_bytes().to_vec();
        let salted = gen_salted_password(&plain, &salt, SCRAM_ITERATIONS);
        Ok(Password::new(Some(salt), salted))
    }

    /// A clear-text password, checked against the configured hash.
    async fn verify_password(
        &self,
        login: &LoginInfo,
        presented: &[u8],
    ) -> PgWireResult<Option<()>> {
        let user = user_of(login.user());
        let peer = login.host().parse().map_err(|_| refusal(&user))?;
        let password = String::from_utf8_lossy(presented);
        // The delay comes once, from the handler.
        match self.users.check(&user, &password, peer) {
            Ok(_) => Ok(None),
            Err(e) => Err(error(e)),
        }
    }
}

fn user_of(user: Option<&str>) -> String {
    match user {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => "default".to_string(),
    }
}

fn error(e: crate::error::ChError) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_string(),
        e.sqlstate().to_string(),
        e.to_string(),
    )))
}

fn refusal(user: &str) -> PgWireError {
    error(crate::users::failed(user))
}

#[async_trait]
impl StartupHandler for PgAuth {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let user = user_of(client.metadata().get(METADATA_USER).map(String::as_str));
        let peer = client.socket_addr().ip();
        let users = self.executor.users();
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                let user = user_of(client.metadata().get(METADATA_USER).map(String::as_str));
                if users.is_passwordless(&user) {
                    let grant = self.executor.login(&user, "", peer).await.map_err(error)?;
                    keep_grant(client, grant);
                    return self.driver.complete_authentication(client, None).await;
                }
                let mechanism = if users.plain_password(&user).is_some() {
                    self.scram.create()
                } else {
                    self.cleartext.create()
                };
                match self.driver.begin_authentication(client, mechanism).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(self.failed(&user, e).await),
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                match self.driver.advance_authentication(client, message).await {
                    Ok(AuthOutcome::Authenticated { final_message, .. }) => {
                        // The password is proven; the user's network and
                        // profile decide the rest.
                        let grant = match users.plain_password(&user) {
                            Some(plain) => self.executor.login(&user, plain, peer).await,
                            None => users.grant(&user, peer),
                        }
                        .map_err(error)?;
                        keep_grant(client, grant);
                        self.driver
                            .complete_authentication(client, final_message)
                            .await
                    }
                    Ok(AuthOutcome::InProgress) => Ok(()),
                    Err(e) => Err(self.failed(&user, e).await),
                }
            }
            _ => Ok(()),
        }
    }
}

impl PgAuth {
    /// ClickHouse's answer to a failed login, after the delay.
    async fn failed(&self, user: &str, why: PgWireError) -> PgWireError {
        tracing::warn!(user, reason = %why, "PostgreSQL authentication failed");
        tokio::time::sleep(crate::users::FAILURE_DELAY).await;
        refusal(user)
    }
}
