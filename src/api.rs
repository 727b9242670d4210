//! HTTP handlers: small functions between a request and a response.

use crate::config::IceServers;
use crate::turn::{self, CachedServers, TurnError};
use crate::{codes, config, protocol};
use serde::Serialize;
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::time::Duration;
use worker::wasm_bindgen::JsCast;
use worker::worker_sys::web_sys;
use worker::{wasm_bindgen, AbortController, Date, Delay, Env, Fetch, Request, Response, Result};

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The runtime's CSPRNG (Web Crypto).
    #[wasm_bindgen::prelude::wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);

    /// Anything with `fetch(request)` (a Durable Object stub, the ASSETS
    /// binding), seen raw so that its answer can be passed on untouched.
    pub type RawFetcher;
    #[wasm_bindgen::prelude::wasm_bindgen(method, js_name = fetch)]
    fn fetch_raw(this: &RawFetcher, req: &web_sys::Request) -> worker::js_sys::Promise;
}

/// Forwards the request and returns the answer exactly as it came. For the
/// WebSocket upgrade that matters: the room's 101 response reaches the runtime
/// as the room made it, instead of being rebuilt around its socket.
pub async fn pass_through(fetcher: RawFetcher, req: &Request) -> Result<web_sys::Response> {
    let answer = worker::wasm_bindgen_futures::JsFuture::from(fetcher.fetch_raw(req.inner())).await?;
    Ok(answer.unchecked_into())
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
    let url = req.inner().url();
    Ok(config::origin_allowed(origin.as_deref(), config::origin_of(&url), var(env, "ALLOWED_ORIGINS").as_deref()))
}

/// Headers on every answer the Worker makes itself (the static files get theirs
/// from `public/_headers`): no sniffing, no caching of API answers. A
/// WebSocket upgrade (101) is passed through untouched.
pub fn with_api_headers(mut response: Response) -> Response {
    if response.status_code() != 101 {
        let headers = response.headers_mut();
        let _ = headers.set("X-Content-Type-Options", "nosniff");
        if headers.get("Cache-Control").ok().flatten().is_none() {
            let _ = headers.set("Cache-Control", "no-store");
        }
    }
    response
}

/// An answer made here, with its headers, as the runtime takes it.
pub fn finish(response: Response) -> web_sys::Response {
    with_api_headers(response).into()
}

/// `{"error":"<code>"}` with a status.
pub fn json_error(status: u16, code: &str) -> Result<Response> {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: &'a str,
    }
    Ok(Response::from_json(&ErrorBody { error: code })?.with_status(status))
}

/// A `POST` with a body and headers, built on the runtime's own `RequestInit`
/// (the `worker` crate's richer one links a converter for every option, about
/// 12 KB of WebAssembly, for the two requests the Worker makes itself).
pub fn post_request(url: &str, body: &str, headers: &[(&str, &str)]) -> Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&body.into());
    if !headers.is_empty() {
        let list = web_sys::Headers::new()?;
        for (name, value) in headers {
            list.set(name, value)?;
        }
        init.set_headers(&list);
    }
    Ok(Request::from(web_sys::Request::new_with_str_and_init(url, &init)?))
}

/// `GET /api/health`
pub fn health() -> Result<Response> {
    #[derive(Serialize)]
    struct Health {
        ok: bool,
    }
    Response::from_json(&Health { ok: true })
}

/// Per-IP limits on the two calls that cost the server something: opening a
/// socket and minting a meeting code. They use the runtime's Rate Limiting
/// bindings (`[[ratelimits]]` in wrangler.toml: counted near the client, no
/// round trip to a Durable Object). If a binding is missing or fails, the
/// request goes through: the limit protects the service, it never breaks it.
pub async fn over_limit(req: &Request, env: &Env, binding: &str) -> bool {
    let ip = req.headers().get("CF-Connecting-IP").ok().flatten().unwrap_or_else(|| "local".to_owned());
    let outcome = async { env.rate_limiter(binding)?.limit(ip).await }.await;
    match outcome {
        Ok(outcome) => !outcome.success,
        Err(e) => {
            worker::console_warn!("rate limiter {binding} unavailable: {e}");
            false
        }
    }
}

/// `429 {"error":"rate_limited"}` with a hint of when to retry.
pub fn too_many_requests() -> Result<Response> {
    let mut response = json_error(429, "rate_limited")?;
    response.headers_mut().set("Retry-After", "60")?;
    Ok(response)
}

/// `POST /api/rooms`: a fresh unguessable meeting code.
pub async fn create_room(req: Request, env: &Env) -> Result<Response> {
    if over_limit(&req, env, "CREATE_LIMITER").await {
        return too_many_requests();
    }
    let code = loop {
        let mut random = [0u8; codes::MEETING_CODE_RANDOM_BYTES];
        random_bytes(&mut random);
        if let Some(code) = codes::meeting_code(&random) {
            break code;
        }
    };
    #[derive(Serialize)]
    struct Created {
        room: String,
    }
    Ok(Response::from_json(&Created { room: code })?.with_status(201))
}

/// `GET /api/rooms`: asks the Lobby object.
pub async fn list_rooms(env: &Env) -> Result<Response> {
    let lobby = env.durable_object("LOBBY")?.get_by_name(crate::lobby::LOBBY_NAME)?;
    lobby.fetch_with_str("https://lobby/rooms").await
}

/// `GET /api/rooms/<room>/ws`: checks, then hands the upgrade to the room,
/// whose answer goes back untouched.
pub async fn room_socket(req: Request, env: &Env, room: &str) -> Result<web_sys::Response> {
    if !protocol::is_valid_room_name(room) {
        return json_error(400, "bad_room").map(finish);
    }
    if over_limit(&req, env, "CONNECT_LIMITER").await {
        return too_many_requests().map(finish);
    }
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return json_error(426, "upgrade_required").map(finish);
    }
    let stub = env.durable_object("ROOM")?.get_by_name(room)?;
    pass_through(stub.into_rpc(), &req).await
}

/// `GET /api/ice-servers`: minted TURN credentials when the TURN secrets are
/// set, else `ICE_SERVERS`, else the default STUN server.
pub async fn ice_servers(env: &Env) -> Result<Response> {
    let fallback = match config::ice_servers(var(env, "ICE_SERVERS").as_deref()) {
        Ok(servers) => servers,
        Err(reason) => {
            worker::console_error!("{reason}; using the default");
            config::ice_servers(None).map_err(worker::Error::RustError)?
        }
    };
    let servers = match (var(env, "TURN_KEY_ID"), var(env, "TURN_KEY_API_TOKEN")) {
        (Some(key_id), Some(token)) if !key_id.is_empty() && !token.is_empty() => {
            match turn_servers(env, &key_id, &token).await {
                Ok(servers) => servers,
                Err(e) => {
                    worker::console_error!("{e}; answering without TURN");
                    fallback
                }
            }
        }
        _ => fallback,
    };
    #[derive(Serialize)]
    struct Answer<'a> {
        #[serde(rename = "iceServers")]
        ice_servers: &'a RawValue,
    }
    let mut response = Response::from_json(&Answer { ice_servers: &servers })?;
    // Credentials are per answer: never cached by a browser or proxy.
    response.headers_mut().set("Cache-Control", "no-store")?;
    Ok(response)
}

thread_local! {
    /// Minted TURN servers, kept per isolate (see `turn.rs` for the rule).
    static TURN_CACHE: RefCell<Option<CachedServers>> = const { RefCell::new(None) };
}

/// Cached TURN servers, or fresh ones from the TURN API (bounded by a timeout).
async fn turn_servers(env: &Env, key_id: &str, token: &str) -> std::result::Result<IceServers, TurnError> {
    let now = Date::now().as_millis();
    if let Some(cached) = TURN_CACHE.with(|c| c.borrow().clone()).filter(|c| c.is_fresh(now)) {
        return Ok(cached.servers);
    }
    let ttl = var(env, "TURN_TTL_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(turn::DEFAULT_TTL_SECONDS);
    let base = var(env, "TURN_API_BASE").filter(|b| !b.is_empty()).unwrap_or_else(|| turn::DEFAULT_API_BASE.to_owned());
    let network = |e: worker::Error| TurnError::Network(e.to_string());

    let authorization = format!("Bearer {token}");
    let request = post_request(
        &turn::generate_url(&base, key_id),
        &turn::request_body(ttl),
        &[("Authorization", &authorization), ("Content-Type", "application/json")],
    )
    .map_err(network)?;

    let controller = AbortController::default();
    let signal = controller.signal();
    worker::wasm_bindgen_futures::spawn_local(async move {
        Delay::from(Duration::from_millis(turn::TIMEOUT_MS)).await;
        controller.abort();
    });
    let mut response = Fetch::Request(request).send_with_signal(&signal).await.map_err(network)?;
    let status = response.status_code();
    if !(200..300).contains(&status) {
        return Err(TurnError::Status(status));
    }
    let body = response.text().await.map_err(network)?;
    let servers = turn::parse_response(&body)?;
    TURN_CACHE.with(|c| *c.borrow_mut() = Some(CachedServers::new(servers.clone(), now, ttl)));
    Ok(servers)
}

/// `GET /r/<room>`: the meeting page, once the name is known to be valid.
pub async fn meeting_page(req: Request, env: &Env, room: &str) -> Result<Response> {
    if !protocol::is_valid_room_name(room) {
        return json_error(400, "bad_room");
    }
    let page = format!("{}/room", config::origin_of(&req.inner().url()));
    // A plain `Request`: `fetch(url, None)` would link the converter for every
    // `RequestInit` option (see `post_request`).
    env.assets("ASSETS")?.fetch_request(Request::new(&page, worker::Method::Get)?).await
}
