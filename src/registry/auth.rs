//! Registry credentials and the token dance: what `X-Registry-Auth` carries (base64url JSON
//! of docker's AuthConfig), HTTP basic, and bearer tokens obtained from the realm a
//! `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge names.

use crate::error::Result;

/// Docker's AuthConfig, as the CLI sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// A refresh token from an earlier login (`identitytoken`).
    #[serde(default, rename = "identitytoken")]
    pub identity_token: String,
    /// A bearer token to use as is (`registrytoken`).
    #[serde(default, rename = "registrytoken")]
    pub registry_token: String,
    #[serde(default, rename = "serveraddress")]
    pub server_address: String,
}

impl Credentials {
    /// Decodes an `X-Registry-Auth` header (base64url or base64, padded or not). `e30=`
    /// (`{}`) and empty mean anonymous: None.
    pub fn from_header(value: &str) -> Result<Option<Credentials>> {
        todo!()
    }

    /// Encodes for `X-Registry-Auth`.
    pub fn to_header(&self) -> String {
        todo!()
    }
}
