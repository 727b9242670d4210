//! Noom: a video meeting app on Cloudflare's edge.
//!
//! A request enters at [`fetch`] (the Worker), which routes `/api/...` to the
//! handlers in `api` and hands each room's WebSocket to the `room` Durable
//! Object. The room is thin glue around [`core`], the pure state machine that
//! holds the rules of the wire contract ([`protocol`]). Everything except
//! `api`, `room` and `lobby` is plain Rust, tested natively with `cargo test`.

pub mod codes;
pub mod config;
pub mod core;
pub mod limits;
pub mod listing;
pub mod protocol;
pub mod turn;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod lobby;
#[cfg(target_arch = "wasm32")]
mod room;

/// The Worker's entry point: the contract's route table, nothing else.
#[cfg(target_arch = "wasm32")]
mod worker_entry {
    use crate::api;
    use worker::worker_sys::web_sys;
    use worker::{event, Context, Env, Method, Request, Result};

    #[event(start)]
    fn start() {
        console_error_panic_hook::set_once();
    }

    /// Answers are `web_sys::Response`s so that the two that come from elsewhere
    /// (the room's WebSocket upgrade, the static files) are passed on exactly as
    /// they came: the `worker` crate's `Response` would rebuild each one.
    #[event(fetch)]
    async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
        if !api::origin_allowed(&req, &env)? {
            return api::json_error(403, "forbidden_origin").map(api::finish);
        }
        let path = req.path();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let response = match (req.method(), segments.as_slice()) {
            (Method::Get, ["api", "health"]) => api::health(),
            (Method::Post, ["api", "rooms"]) => api::create_room(req, &env).await,
            (Method::Get, ["api", "rooms"]) => api::list_rooms(&env).await,
            (_, ["api", "rooms", room, "ws"]) => return api::room_socket(req, &env, room).await,
            (Method::Get, ["api", "ice-servers"]) => api::ice_servers(&env).await,
            (_, ["api", ..]) => api::json_error(404, "not_found"),
            (_, ["r", room]) => api::meeting_page(req, &env, room).await,
            (_, ["r", ..]) => api::json_error(400, "bad_room"),
            _ => return api::pass_through(env.assets("ASSETS")?.into_rpc(), &req).await,
        };
        response.map(api::finish)
    }
}
