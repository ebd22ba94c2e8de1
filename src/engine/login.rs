//! `RegistryLogin`: checks credentials against a registry (what `docker login` asks the
//! daemon to do). The daemon stores nothing: the client keeps credentials and sends them
//! with each pull and push.

use super::{Engine, Job};
use crate::error::Result;
use crate::registry::Credentials;

pub struct RegistryLogin {
    pub creds: Credentials,
}

impl Job for RegistryLogin {
    type Output = ();
    const NAME: &'static str = "RegistryLogin";

    fn target(&self) -> String {
        format!("{}@{}", self.creds.username, self.creds.server_address)
    }

    fn run(self, e: &Engine) -> Result<()> {
        let server = match self.creds.server_address.as_str() {
            "" | "https://index.docker.io/v1/" | "index.docker.io" => "docker.io".to_string(),
            s => s.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_string(),
        };
        e.registry()?.login(&server, &self.creds)
    }
}
