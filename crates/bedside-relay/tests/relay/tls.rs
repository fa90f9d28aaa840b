//! TLS: the relay terminates TLS with rustls on ring, serves HTTP and
//! WebSocket through it, and refuses plain HTTP off loopback.

use std::net::SocketAddr;
use std::sync::Arc;

use bedside_protocol::{PROTOCOL_VERSION, PatientToRelay, RelayToPatient, decode, encode};
use bedside_relay::{Config, TlsConfig, check_listen, serve_tls, tls_config};
use futures_util::{SinkExt as _, StreamExt as _};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message as Ws;

use crate::common::Fixture;

fn fixture_tls() -> TlsConfig {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/relay/fixtures");
    TlsConfig {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    }
}

async fn tls_connect(addr: SocketAddr) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&fixture_tls().cert).expect("pem") {
        roots.add(cert.expect("cert")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake")
}

#[tokio::test]
async fn serves_https_and_wss_with_rustls_on_ring() {
    let f = Fixture::new();
    let tls = tls_config(&fixture_tls()).expect("tls config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_tls(
        listener,
        f.state.clone(),
        tls,
        std::future::pending(),
    ));

    let mut s = tls_connect(addr).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut reply = String::new();
    s.read_to_string(&mut reply).await.expect("read");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("ok"), "{reply}");

    let s = tls_connect(addr).await;
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/ws/patient", s)
        .await
        .expect("wss upgrade");
    let key = crate::common::device_key("d");
    ws.send(Ws::text(encode(&PatientToRelay::Hello {
        v: PROTOCOL_VERSION,
        token: f.token([9; 16], 1),
        device_id: key.id(),
        public_key: data_encoding::BASE64URL_NOPAD.encode(key.public_key()),
    })))
    .await
    .expect("send");
    let Some(Ok(Ws::Text(t))) = ws.next().await else {
        panic!("no reply");
    };
    assert!(matches!(
        decode::<RelayToPatient>(t.as_bytes()),
        Ok(RelayToPatient::Challenge { .. })
    ));
}

#[test]
fn plain_http_is_refused_off_loopback_and_bad_pem_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Config::new(dir.path().to_path_buf(), vec![]);
    assert!(check_listen(&c).is_ok());
    c.listen = "0.0.0.0:443".parse().expect("addr");
    let e = check_listen(&c).expect_err("refused");
    assert!(e.to_string().contains("refusing to serve plain HTTP"));
    c.tls = Some(fixture_tls());
    assert!(check_listen(&c).is_ok());

    let missing = TlsConfig {
        cert: dir.path().join("nope.pem"),
        key: dir.path().join("nope.key"),
    };
    let e = tls_config(&missing).expect_err("missing files");
    assert!(e.to_string().contains("nope.pem"), "{e}");
}
