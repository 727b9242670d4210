//! HTTP handlers: small functions between a request and a response.

use crate::{codes, config, protocol};
use serde::Serialize;
use worker::{wasm_bindgen, Env, Request, Response, Result};

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The runtime's CSPRNG (Web Crypto).
    #[wasm_bindgen::prelude::wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// Fills `buf` with cryptographically strong random bytes.
pub fn random_bytes(buf: &mut [u8]) {
    get_random_values(buf);
}

/// A plain string var, `None` when unset.
pub fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

/// The contract's Origin rule (see [`config::origin_allowed`]).
pub fn origin_allowed(req: &Request, env: &Env) -> Result<bool> {
    let origin = req.headers().get("Origin")?;
    let url = req.url()?;
    let own = url.origin().ascii_serialization();
    Ok(config::origin_allowed(origin.as_deref(), &own, var(env, "ALLOWED_ORIGINS").as_deref()))
}

/// `{"error":"<code>"}` with a status.
pub fn json_error(status: u16, code: &str) -> Result<Response> {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: &'a str,
    }
    Ok(Response::from_json(&ErrorBody { error: code })?.with_status(status))
}

/// `GET /api/health`
pub fn health() -> Result<Response> {
    Response::from_json(&serde_json::json!({ "ok": true }))
}

/// `POST /api/rooms`: a fresh unguessable meeting code.
pub fn create_room() -> Result<Response> {
    let code = loop {
        let mut random = [0u8; codes::MEETING_CODE_RANDOM_BYTES];
        random_bytes(&mut random);
        if let Some(code) = codes::meeting_code(&random) {
            break code;
        }
    };
    Ok(Response::from_json(&serde_json::json!({ "room": code }))?.with_status(201))
}

/// `GET /api/rooms`: asks the Lobby object.
pub async fn list_rooms(env: &Env) -> Result<Response> {
    let lobby = env.durable_object("LOBBY")?.get_by_name(crate::lobby::LOBBY_NAME)?;
    lobby.fetch_with_str("https://lobby/rooms").await
}

/// `GET /api/rooms/<room>/ws`: checks, then hands the upgrade to the room.
pub async fn room_socket(req: Request, env: &Env, room: &str) -> Result<Response> {
    if !protocol::is_valid_room_name(room) {
        return json_error(400, "bad_room");
    }
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return json_error(426, "upgrade_required");
    }
    let stub = env.durable_object("ROOM")?.get_by_name(room)?;
    stub.fetch_with_request(req).await
}

/// `GET /api/ice-servers`: STUN by default, `ICE_SERVERS` when set.
/// TURN credentials (issue: TURN) will be minted here from the secrets.
pub async fn ice_servers(env: &Env) -> Result<Response> {
    let servers = match config::ice_servers(var(env, "ICE_SERVERS").as_deref()) {
        Ok(servers) => servers,
        Err(reason) => {
            worker::console_error!("{reason}; using the default");
            config::ice_servers(None).unwrap_or_default()
        }
    };
    Response::from_json(&serde_json::json!({ "iceServers": servers }))
}

/// `GET /r/<room>`: the meeting page, once the name is known to be valid.
pub async fn meeting_page(req: Request, env: &Env, room: &str) -> Result<Response> {
    if !protocol::is_valid_room_name(room) {
        return json_error(400, "bad_room");
    }
    let mut url = req.url()?;
    url.set_path("/room");
    url.set_query(None);
    env.assets("ASSETS")?.fetch(url.to_string(), None).await
}
