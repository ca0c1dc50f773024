//! Configs from the JSON the JS API sends (ts/net/tls.ts builds it from node:tls's options,
//! after validating them): PEM as strings, ALPN names as strings. The binding passes the text
//! through; parsing and building happen here, without napi.

use serde::Deserialize;

use crate::{
    ClientConfig, ClientOptions, ServerConfig, ServerOptions, SniContext, TlsError, TlsSession,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsSni {
    servername: String,
    cert: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct JsServer {
    cert: String,
    key: String,
    ca: Option<String>,
    request_cert: bool,
    reject_unauthorized: bool,
    alpn_protocols: Vec<String>,
    sni: Vec<JsSni>,
}

impl Default for JsServer {
    fn default() -> Self {
        Self {
            cert: String::new(),
            key: String::new(),
            ca: None,
            request_cert: false,
            reject_unauthorized: true,
            alpn_protocols: Vec::new(),
            sni: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct JsClient {
    ca: Option<String>,
    reject_unauthorized: bool,
    alpn_protocols: Vec<String>,
    cert: Option<String>,
    key: Option<String>,
}

impl Default for JsClient {
    fn default() -> Self {
        Self {
            ca: None,
            reject_unauthorized: true,
            alpn_protocols: Vec::new(),
            cert: None,
            key: None,
        }
    }
}

fn parse<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, TlsError> {
    serde_json::from_str(json).map_err(|e| TlsError::InvalidOption(format!("tls options: {e}")))
}

fn alpn(list: &[String]) -> Vec<Vec<u8>> {
    list.iter().map(|p| p.as_bytes().to_vec()).collect()
}

impl ServerConfig {
    /// [`ServerConfig::new`] from `{ cert, key, ca?, requestCert, rejectUnauthorized,
    /// alpnProtocols, sni: [{ servername, cert, key }] }` (PEM strings).
    pub fn from_json(json: &str) -> Result<Self, TlsError> {
        let o: JsServer = parse(json)?;
        Self::new(&ServerOptions {
            cert: o.cert.as_bytes(),
            key: o.key.as_bytes(),
            ca: o.ca.as_deref().map(str::as_bytes),
            request_cert: o.request_cert,
            reject_unauthorized: o.reject_unauthorized,
            alpn_protocols: alpn(&o.alpn_protocols),
            sni: o
                .sni
                .iter()
                .map(|c| SniContext {
                    servername: &c.servername,
                    cert: c.cert.as_bytes(),
                    key: c.key.as_bytes(),
                })
                .collect(),
        })
    }
}

impl ClientConfig {
    /// [`ClientConfig::new`] from `{ ca?, rejectUnauthorized, alpnProtocols, cert?, key? }`.
    pub fn from_json(json: &str) -> Result<Self, TlsError> {
        let o: JsClient = parse(json)?;
        Self::new(&ClientOptions {
            ca: o.ca.as_deref().map(str::as_bytes),
            reject_unauthorized: o.reject_unauthorized,
            alpn_protocols: alpn(&o.alpn_protocols),
            cert: o.cert.as_deref().map(str::as_bytes),
            key: o.key.as_deref().map(str::as_bytes),
        })
    }
}

/// A `{ code, message }` object, or null.
fn coded(e: Option<(&str, String)>) -> serde_json::Value {
    e.map_or(
        serde_json::Value::Null,
        |(code, message)| serde_json::json!({ "code": code, "message": message }),
    )
}

impl TlsSession {
    /// What JS reads after the handshake (or a failure), as JSON: `{ authorized,
    /// authorizationError: { code, message } | null, alpnProtocol: string | false, protocol,
    /// cipher, error: { code, message } | null }` — node:tls's names.
    pub fn info_json(&self) -> String {
        let alpn = self
            .alpn_protocol()
            .map_or(serde_json::Value::Bool(false), |p| {
                String::from_utf8_lossy(p).into_owned().into()
            });
        serde_json::json!({
            "authorized": self.authorized(),
            "authorizationError": coded(self.authorization_error().map(|e| (e.code(), e.to_string()))),
            "alpnProtocol": alpn,
            "servername": self.servername().map_or(serde_json::Value::Bool(false), Into::into),
            "protocol": self.protocol(),
            "cipher": self.cipher_suite(),
            "error": coded(self.error().map(|e| (e.code(), e.to_string()))),
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_json_are_invalid_options() {
        for bad in [
            "{\"cert\":\"x\",\"nope\":1}",
            "not json",
            "{\"requestCert\":3}",
        ] {
            let e = ServerConfig::from_json(bad).unwrap_err();
            assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE", "{bad}: {e}");
        }
        let e = ClientConfig::from_json("{\"servername\":\"x\"}").unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
    }

    #[test]
    fn a_client_config_with_defaults_builds() {
        ClientConfig::from_json("{}").unwrap();
        ClientConfig::from_json("{\"rejectUnauthorized\":false,\"alpnProtocols\":[\"h2\"]}")
            .unwrap();
    }

    #[test]
    fn bad_pem_keeps_its_code() {
        let e = ServerConfig::from_json("{\"cert\":\"junk\",\"key\":\"junk\"}").unwrap_err();
        assert_eq!(e.code(), "ERR_OSSL_PEM_NO_START_LINE");
    }
}
