//! Who may connect: the users of the configuration file, as ClickHouse's
//! users.xml defines them (a password as SHA-256 or double SHA-1 hex, or in
//! clear; allowed networks; the `readonly` profile), checked by all three
//! frontends. A failed check is ClickHouse's `Code: 516`
//! (AUTHENTICATION_FAILED) whatever went wrong (unknown user, wrong
//! password, network not allowed), after a delay. Without a users section,
//! user `default` has no password and may connect from loopback only.
//! Passwords are never logged: `Debug` shows names only.
//!
//! Uses sha2, sha1, ipnet, subtle and the server's errors.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{codes, ChError};

/// How long a failed login waits before it is answered (slows guessing).
pub const FAILURE_DELAY: Duration = Duration::from_millis(500);

/// How a user's password is checked.
#[derive(Clone)]
enum Password {
    /// No password: anything (or nothing) is accepted.
    None,
    Plain(String),
    Sha256([u8; 32]),
    DoubleSha1([u8; 20]),
}

/// One user of the configuration.
#[derive(Clone)]
pub struct User {
    password: Password,
    /// Where the user may connect from.
    networks: Vec<IpNet>,
    /// The `readonly` profile: no CREATE, DROP, INSERT or produce.
    pub readonly: bool,
}

/// A user as the configuration file writes it (`[users.NAME]`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub password: Option<String>,
    pub password_sha256_hex: Option<String>,
    pub password_double_sha1_hex: Option<String>,
    /// CIDR networks or addresses; ClickHouse's `<networks><ip>`.
    /// [default: anywhere]
    pub networks: Option<Vec<String>>,
    /// `readonly` or `default`.
    pub profile: Option<String>,
}

/// The configured users.
#[derive(Clone)]
pub struct Users {
    users: BTreeMap<String, User>,
    /// `false`: no users section (the loopback-only default).
    pub configured: bool,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("names", &self.users.keys().collect::<Vec<_>>())
            .field("configured", &self.configured)
            .finish()
    }
}

/// A user that passed the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user: String,
    pub readonly: bool,
}

impl Default for Users {
    /// User `default`, no password, from loopback only.
    fn default() -> Users {
        let loopback = ["127.0.0.0/8", "::1/128"]
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        Users {
            users: BTreeMap::from([(
                "default".to_string(),
                User {
                    password: Password::None,
                    networks: loopback,
                    readonly: false,
                },
            )]),
            configured: false,
        }
    }
}

impl Users {
    /// The users of a configuration file's `[users.*]` tables.
    pub fn from_config(config: BTreeMap<String, UserConfig>) -> Result<Users, String> {
        let mut users = BTreeMap::new();
        for (name, c) in config {
            let bad = |what: &str| format!("users.{name}: {what}");
            let password = match (
                c.password,
                c.password_sha256_hex,
                c.password_double_sha1_hex,
            ) {
                (None, None, None) => Password::None,
                (Some(p), None, None) => Password::Plain(p),
                (None, Some(h), None) => Password::Sha256(
                    hex::decode(h.trim())
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| bad("password_sha256_hex is not 64 hex digits"))?,
                ),
                (None, None, Some(h)) => Password::DoubleSha1(
                    hex::decode(h.trim())
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| bad("password_double_sha1_hex is not 40 hex digits"))?,
                ),
                _ => {
                    return Err(bad(
                        "give one of password, password_sha256_hex, password_double_sha1_hex",
                    ))
                }
            };
            let networks = match c.networks {
                None => vec![
                    "0.0.0.0/0".parse().map_err(|_| bad("network"))?,
                    "::/0".parse().map_err(|_| bad("network"))?,
                ],
                Some(list) => list
                    .iter()
                    .map(|n| {
                        n.parse::<IpNet>()
                            .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                            .map_err(|_| bad(&format!("{n:?} is not a network or an address")))
                    })
                    .collect::<Result<_, _>>()?,
            };
            let readonly = match c.profile.as_deref() {
                None | Some("default") => false,
                Some("readonly") => true,
                Some(other) => {
                    return Err(bad(&format!(
                        "unknown profile {other:?} (readonly or default)"
                    )))
                }
            };
            users.insert(
                name,
                User {
                    password,
                    networks,
                    readonly,
                },
            );
        }
        Ok(Users {
            users,
            configured: true,
        })
    }

    /// Checks `user` with `password` connecting from `peer`.
    pub fn check(&self, user: &str, password: &str, peer: IpAddr) -> Result<Grant, ChError> {
        self.admit(user, peer, |u| u.password.matches(password))
    }

    /// What `user` may do from `peer`, its password proven already (by
    /// SCRAM or a checked hash).
    pub fn grant(&self, user: &str, peer: IpAddr) -> Result<Grant, ChError> {
        self.admit(user, peer, |_| true)
    }

    /// `user`'s grant when it may connect from `peer` and `proven` says
    /// yes; ClickHouse's one refusal otherwise.
    fn admit(
        &self,
        user: &str,
        peer: IpAddr,
        proven: impl Fn(&User) -> bool,
    ) -> Result<Grant, ChError> {
        let name = name_of(user);
        let peer = canonical(peer);
        match self.users.get(name) {
            Some(u) if u.networks.iter().any(|n| n.contains(&peer)) && proven(u) => Ok(Grant {
                user: name.to_string(),
                readonly: u.readonly,
            }),
            _ => Err(failed(name)),
        }
    }

    /// The clear-text password of `user` (for SCRAM, which needs it), when
    /// the configuration gives one.
    pub fn plain_password(&self, user: &str) -> Option<&str> {
        match &self.users.get(user)?.password {
            Password::Plain(p) => Some(p),
            _ => None,
        }
    }

    /// Whether `user` needs no password.
    pub fn is_passwordless(&self, user: &str) -> bool {
        self.users
            .get(name_of(user))
            .is_some_and(|u| matches!(u.password, Password::None))
    }
}

impl Password {
    fn matches(&self, given: &str) -> bool {
        match self {
            Password::None => true,
            Password::Plain(p) => p.as_bytes().ct_eq(given.as_bytes()).into(),
            Password::Sha256(h) => Sha256::digest(given.as_bytes()).as_slice().ct_eq(h).into(),
            Password::DoubleSha1(h) => Sha1::digest(Sha1::digest(given.as_bytes()))
                .as_slice()
                .ct_eq(h)
                .into(),
        }
    }
}

/// An empty user name is `default`, as in ClickHouse.
fn name_of(user: &str) -> &str {
    if user.is_empty() {
        "default"
    } else {
        user
    }
}

/// An IPv4 address reached over IPv6 (`::ffff:a.b.c.d`) is that address.
fn canonical(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    }
}

/// ClickHouse's answer to every failed login, whatever failed.
pub fn failed(user: &str) -> ChError {
    ChError::new(
        codes::AUTHENTICATION_FAILED,
        format!("{user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        let mut config = BTreeMap::new();
        config.insert(
            "alice".to_string(),
            UserConfig {
                password_sha256_hex: Some(hex::encode(Sha256::digest(b"secret"))),
                ..Default::default()
            },
        );
        config.insert(
            "bob".to_string(),
            UserConfig {
                password_double_sha1_hex: Some(hex::encode(Sha1::digest(Sha1::digest(b"pw")))),
                networks: Some(vec!["10.0.0.0/8".into()]),
                profile: Some("readonly".into()),
                ..Default::default()
            },
        );
        Users::from_config(config).unwrap()
    }

    #[test]
    fn passwords_hashes_and_networks() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let inside: IpAddr = "10.1.2.3".parse().unwrap();
        let u = users();
        assert_eq!(u.check("alice", "secret", local).unwrap().user, "alice");
        let wrong = u.check("alice", "nope", local).unwrap_err();
        assert_eq!(wrong.code, 516);
        assert!(wrong.message.contains("password is incorrect"), "{wrong}");
        // Unknown user: the same words.
        assert_eq!(
            u.check("mallory", "secret", local)
                .unwrap_err()
                .message
                .replace("mallory", "alice"),
            wrong.message
        );
        assert!(u.check("bob", "pw", inside).unwrap().readonly);
        assert!(
            u.check("bob", "pw", local).is_err(),
            "outside bob's network"
        );
        assert!(u
            .check("bob", "pw", "::ffff:10.0.0.1".parse().unwrap())
            .is_ok());
        assert!(!format!("{u:?}").contains("secret"));
    }

    #[test]
    fn the_default_is_default_without_a_password_on_loopback_only() {
        let u = Users::default();
        assert!(u.check("", "", "127.0.0.1".parse().unwrap()).is_ok());
        assert!(u.check("default", "x", "::1".parse().unwrap()).is_ok());
        assert_eq!(
            u.check("default", "", "192.168.1.5".parse().unwrap())
                .unwrap_err()
                .code,
            516
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        let bad =
            |c: UserConfig| Users::from_config(BTreeMap::from([("x".to_string(), c)])).unwrap_err();
        assert!(bad(UserConfig {
            password_sha256_hex: Some("abc".into()),
            ..Default::default()
        })
        .contains("64 hex"));
        assert!(bad(UserConfig {
            networks: Some(vec!["nowhere".into()]),
            ..Default::default()
        })
        .contains("nowhere"));
        assert!(bad(UserConfig {
            profile: Some("admin".into()),
            ..Default::default()
        })
        .contains("admin"));
    }
}
