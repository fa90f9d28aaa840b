//! End-to-end tests of the relay: the HTTP surface through
//! `tower::ServiceExt::oneshot`, the WebSocket flows over real sockets on
//! 127.0.0.1 with tokio-tungstenite as the patient and the clinician.

mod common;
mod flood;
mod http;
mod limits;
mod tls;
mod ws;
