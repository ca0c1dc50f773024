//! TLS configs for JS: built from the JSON ts/net/tls.ts sends (once per server, once per set
//! of client options) and kept by id, which `setTls` names for a listener or a connecting
//! socket.

use zerosock_uring::tls::{ClientConfig, ServerConfig};
use zerosock_uring::{Engine, EngineError, SocketId};

enum TlsConfig {
    Server(ServerConfig),
    Client(ClientConfig),
}

/// The configs one session has built, by id.
#[derive(Default)]
pub struct TlsConfigs(Vec<TlsConfig>);

impl TlsConfigs {
    /// Builds a server (`server`) or client config from its JSON; returns its id. Errors:
    /// `Tls` with node's codes (bad PEM, a key that is not the certificate's, …).
    pub fn add(&mut self, json: &str, server: bool) -> Result<u32, EngineError> {
        let config = if server {
            TlsConfig::Server(ServerConfig::from_json(json)?)
        } else {
            TlsConfig::Client(ClientConfig::from_json(json)?)
        };
        self.0.push(config);
        Ok(self.0.len() as u32 - 1)
    }

    /// Sets config `config` on socket `id`: a server config on a listener, a client config
    /// (with the `servername` to check) on a connecting socket.
    pub fn apply(
        &self,
        engine: &mut Engine,
        id: SocketId,
        config: u32,
        servername: Option<&str>,
    ) -> Result<(), EngineError> {
        match (self.0.get(config as usize), servername) {
            (Some(TlsConfig::Server(c)), None) => engine.set_tls_server(id, c.clone()),
            (Some(TlsConfig::Client(c)), Some(name)) => engine.set_tls_client(id, c, name),
            _ => Err(EngineError::InvalidArgument(
                "no such TLS config for this kind of socket",
            )),
        }
    }
}
