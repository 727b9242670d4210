//! TURN credentials from Cloudflare's TURN service, as plain rules.
//!
//! A browser behind a strict NAT or a corporate firewall needs a relay. The
//! long-lived TURN key stays in the Worker's secrets; browsers only ever get
//! short-lived credentials minted with it. Minting costs a round trip to the
//! TURN API, so an isolate keeps the answer and hands it out until half its
//! lifetime is gone: every browser gets credentials valid for at least
//! `ttl / 2`. When the service fails or is slow, the page still gets STUN.
//! The HTTP call itself is in `api.rs`; here are the request, the parsing and
//! the cache rule, tested natively.

use crate::config::IceServers;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Where the TURN API lives (the `TURN_API_BASE` var overrides it for tests).
pub const DEFAULT_API_BASE: &str = "https://rtc.live.cloudflare.com/v1";
/// Lifetime of minted credentials (`TURN_TTL_SECONDS`): 4 hours.
pub const DEFAULT_TTL_SECONDS: u64 = 4 * 60 * 60;
/// How long the Worker waits for the TURN API before falling back to STUN.
pub const TIMEOUT_MS: u64 = 3_000;

/// The URL that mints ICE servers for a key.
pub fn generate_url(api_base: &str, key_id: &str) -> String {
    format!("{}/turn/keys/{}/credentials/generate-ice-servers", api_base.trim_end_matches('/'), key_id)
}

/// The JSON body of the mint request.
pub fn request_body(ttl_seconds: u64) -> String {
    format!(r#"{{"ttl":{ttl_seconds}}}"#)
}

/// Why minting failed (logged; the page gets the fallback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnError {
    Status(u16),
    BadBody,
    Network(String),
}

impl std::fmt::Display for TurnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(code) => write!(f, "TURN API answered {code}"),
            Self::BadBody => write!(f, "TURN API answer has no iceServers array"),
            Self::Network(e) => write!(f, "TURN API unreachable: {e}"),
        }
    }
}

/// Takes `iceServers` from the API's answer: a non-empty array of objects
/// each with `urls`. The entries are passed on as the API wrote them.
pub fn parse_response(body: &str) -> Result<IceServers, TurnError> {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow, rename = "iceServers")]
        ice_servers: Vec<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Server<'a> {
        #[serde(borrow)]
        urls: Option<&'a RawValue>,
    }
    let answer: Answer = serde_json::from_str(body).map_err(|_| TurnError::BadBody)?;
    let has_urls = |s: &&RawValue| serde_json::from_str::<Server>(s.get()).is_ok_and(|s| s.urls.is_some());
    if answer.ice_servers.is_empty() || !answer.ice_servers.iter().all(has_urls) {
        return Err(TurnError::BadBody);
    }
    let entries: Vec<&str> = answer.ice_servers.iter().map(|s| s.get()).collect();
    RawValue::from_string(format!("[{}]", entries.join(","))).map_err(|_| TurnError::BadBody)
}

/// Minted ICE servers and when to stop handing them out.
#[derive(Debug, Clone)]
pub struct CachedServers {
    pub servers: IceServers,
    pub fresh_until_ms: u64,
}

impl CachedServers {
    /// Credentials minted at `now` with `ttl_seconds` are served for half that.
    pub fn new(servers: IceServers, now_ms: u64, ttl_seconds: u64) -> Self {
        Self { servers, fresh_until_ms: now_ms.saturating_add(ttl_seconds * 1000 / 2) }
    }

    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.fresh_until_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_body() {
        assert_eq!(
            generate_url("https://rtc.live.cloudflare.com/v1/", "abc"),
            "https://rtc.live.cloudflare.com/v1/turn/keys/abc/credentials/generate-ice-servers"
        );
        assert_eq!(request_body(14400), r#"{"ttl":14400}"#);
    }

    #[test]
    fn parses_the_documented_answer() {
        let body = r#"{"iceServers":[{"urls":["stun:stun.cloudflare.com:3478"]},{"urls":["turn:turn.cloudflare.com:3478?transport=udp"],"username":"u","credential":"c"}]}"#;
        let servers: serde_json::Value = serde_json::from_str(parse_response(body).unwrap().get()).unwrap();
        assert_eq!(servers[1]["username"], "u");
        assert_eq!(servers.as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn rejects_answers_without_servers() {
        for body in ["", "{}", r#"{"iceServers":{}}"#, r#"{"iceServers":[]}"#, r#"{"iceServers":[{"username":"u"}]}"#, r#"{"iceServers":[1]}"#] {
            assert_eq!(parse_response(body).err(), Some(TurnError::BadBody), "{body}");
        }
    }

    #[test]
    fn cache_serves_for_half_the_ttl() {
        let c = CachedServers::new(RawValue::from_string("[]".into()).unwrap(), 1_000, 3600);
        assert!(c.is_fresh(1_000 + 1_799_999));
        assert!(!c.is_fresh(1_000 + 1_800_000));
    }
}
