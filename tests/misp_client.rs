//! The MISP client's settings as MISP (or a proxy) sees them on the wire: headers, User-Agent, proxy,
//! TLS verification and CA file, timeout, redirects; and secrets never reaching logs or Debug output.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ADMIN_KEY, Fault, MiniMisp};
use misp_connector::error::{Classify, ErrorClass};
use misp_connector::fake_misp::{FakeConfig, FakeMisp};
use misp_connector::misp::client::{ClientSettings, MispClient, MispErrorKind};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn settings(url: &str) -> ClientSettings {
    let mut s = ClientSettings::new(url, SecretString::from(ADMIN_KEY.to_owned()));
    s.timeout = Duration::from_secs(5);
    s
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls")).join(name)
}

#[tokio::test]
async fn user_agent_auth_and_additional_headers_are_on_the_wire() {
    let fake = FakeMisp::start(FakeConfig::default()).await.unwrap();
    let mut s = ClientSettings::new(fake.url(), SecretString::from(fake.admin_key().to_owned()));
    s.user_agent = "tester/1.0".into();
    s.additional_headers =
        BTreeMap::from([("X-Gateway-Token".to_owned(), "gw-secret-123".to_owned())]);
    let client = MispClient::new(&s).unwrap();
    assert_eq!(client.get_version().await.unwrap().version, "2.5.1");
    let seen = fake.state().requests();
    let r = seen.last().unwrap();
    assert_eq!(r.header("user-agent"), Some("tester/1.0"));
    assert_eq!(r.header("x-gateway-token"), Some("gw-secret-123"));
    assert_eq!(
        r.header("authorization"),
        Some("<admin key>"),
        "the fake recognised our key"
    );
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    // Default User-Agent names the connector.
    let client = MispClient::new(&ClientSettings::new(
        fake.url(),
        SecretString::from(fake.admin_key().to_owned()),
    ))
    .unwrap();
    client.whoami().await.unwrap();
    let seen = fake.state().requests();
    let ua = seen
        .last()
        .unwrap()
        .header("user-agent")
        .unwrap_or_default()
        .to_owned();
    assert!(ua.starts_with("misp-connector/"), "{ua}");
}

#[test]
fn bad_settings_are_config_errors_naming_the_key() {
    let check = |s: ClientSettings, needle: &str| {
        let e = MispClient::new(&s).unwrap_err();
        assert_eq!(e.kind, MispErrorKind::Config);
        assert!(
            e.message.contains(needle),
            "{} does not mention {needle}",
            e.message
        );
        assert!(!e.to_string().contains(ADMIN_KEY));
    };
    check(settings("not a url"), "misp.url");
    check(settings("ftp://misp.example"), "misp.url");
    check(settings("https://user:pw@misp.example"), "misp.url");
    let mut s = settings("https://misp.example");
    s.additional_headers
        .insert("Authorization".into(), "x".into());
    check(s, "misp.additional_headers");
    let mut s = settings("https://misp.example");
    s.additional_headers.insert("bad header".into(), "x".into());
    check(s, "misp.additional_headers");
    let mut s = settings("https://misp.example");
    s.ca_file = Some(fixture("does-not-exist.pem"));
    check(s, "misp.ca_file");
    let mut s = settings("https://misp.example");
    s.ca_file = Some(fixture("README.md"));
    check(s, "misp.ca_file");
    let mut s = settings("https://misp.example");
    s.proxy = Some("::not a proxy::".into());
    check(s, "misp.proxy_server");
    check(
        ClientSettings::new("https://misp.example", SecretString::from(String::new())),
        "misp.api_key",
    );
}

/// A one-shot HTTP proxy: records the request head and answers with getVersion JSON.
async fn tiny_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let h = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let mut n = 0;
            while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf[n..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
            }
            h.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let body = r#"{"version":"2.5.1-via-proxy"}"#;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (format!("http://{addr}"), heads)
}

#[tokio::test]
async fn configured_proxy_carries_the_requests() {
    let (proxy, heads) = tiny_proxy().await;
    // Nothing listens on this MISP address: only the proxy can answer.
    let mut s = settings("http://misp.invalid:8080");
    s.proxy = Some(proxy);
    let client = MispClient::new(&s).unwrap();
    assert_eq!(
        client.get_version().await.unwrap().version,
        "2.5.1-via-proxy"
    );
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].starts_with("GET http://misp.invalid:8080/servers/getVersion HTTP/1.1"),
        "{}",
        heads[0]
    );
}

#[tokio::test]
async fn no_proxy_means_direct_connection() {
    let fake = MiniMisp::start().await;
    let client = MispClient::new(&settings(&fake.url())).unwrap();
    client.get_version().await.unwrap();
    assert_eq!(fake.seen().len(), 1);
}

/// A TLS MISP with a certificate signed by the test CA, answering getVersion.
async fn tls_server() -> String {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let body = r#"{"version":"2.5.1-tls"}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{}", addr.port())
}

#[tokio::test]
async fn tls_verification_refuses_an_unknown_issuer_and_accepts_the_configured_ca() {
    let url = tls_server().await;
    // Verification on (the default), CA unknown: refused, transient connect error naming the certificate.
    let client = MispClient::new(&settings(&url)).unwrap();
    let e = client.get_version().await.unwrap_err();
    assert_eq!(e.kind, MispErrorKind::Connect, "{e}");
    assert_eq!(e.class(), ErrorClass::Transient);
    assert!(e.message.to_lowercase().contains("certificate"), "{e}");
    // The CA file makes it trusted.
    let mut s = settings(&url);
    s.ca_file = Some(fixture("ca.pem"));
    let client = MispClient::new(&s).unwrap();
    assert_eq!(client.get_version().await.unwrap().version, "2.5.1-tls");
    // SSL_CHECK off accepts it too (and warns).
    let mut s = settings(&url);
    s.verify_tls = false;
    let client = MispClient::new(&s).unwrap();
    assert_eq!(client.get_version().await.unwrap().version, "2.5.1-tls");
}

#[tokio::test]
async fn a_peer_that_does_not_speak_tls_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let _ = sock.write_all(b"garbage, not TLS\r\n\r\n").await;
        }
    });
    let client = MispClient::new(&settings(&format!("https://127.0.0.1:{port}"))).unwrap();
    let e = client.get_version().await.unwrap_err();
    assert_eq!(e.kind, MispErrorKind::Connect, "{e}");
}

#[tokio::test]
async fn request_timeout_is_a_transient_timeout() {
    let fake = FakeMisp::start(FakeConfig::default()).await.unwrap();
    fake.faults().set_latency(Duration::from_secs(3));
    let mut s = ClientSettings::new(fake.url(), SecretString::from(fake.admin_key().to_owned()));
    s.timeout = Duration::from_millis(200);
    let client = MispClient::new(&s).unwrap();
    let e = client.get_version().await.unwrap_err();
    assert_eq!(e.kind, MispErrorKind::Timeout, "{e}");
    assert_eq!(e.class(), ErrorClass::Transient);
    assert!(e.to_string().contains("GET /servers/getVersion"), "{e}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let fake = MiniMisp::start().await;
    fake.fault(Fault {
        path_prefix: "/servers/getVersion".into(),
        status: 302,
        headers: vec![("location", "http://elsewhere.invalid/steal".into())],
        body: "{}".into(),
        delay: Duration::ZERO,
    });
    let client = MispClient::new(&settings(&fake.url())).unwrap();
    let e = client.get_version().await.unwrap_err();
    assert_eq!(e.status, Some(302));
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn rate_limit_and_server_errors() {
    let fake = MiniMisp::start().await;
    let client = MispClient::new(&settings(&fake.url())).unwrap();
    fake.fault(Fault {
        path_prefix: "/servers/getVersion".into(),
        status: 429,
        headers: vec![("retry-after", "12".into())],
        body: r#"{"name":"Rate limit exceeded."}"#.into(),
        delay: Duration::ZERO,
    });
    let e = client.get_version().await.unwrap_err();
    assert_eq!(
        (e.kind, e.class()),
        (MispErrorKind::RateLimited, ErrorClass::Transient)
    );
    assert_eq!(e.retry_after, Some(Duration::from_secs(12)));
    fake.fault(Fault {
        path_prefix: "/servers/getVersion".into(),
        status: 502,
        headers: vec![],
        body: "<html>Bad gateway</html>".into(),
        delay: Duration::ZERO,
    });
    let e = client.get_version().await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient);
    assert!(
        e.to_string().contains("HTTP 502") && e.to_string().contains("Bad gateway"),
        "{e}"
    );
    // A 200 that is not JSON (a proxy's maintenance page) is an invalid response.
    fake.fault(Fault {
        path_prefix: "/servers/getVersion".into(),
        status: 200,
        headers: vec![],
        body: "maintenance".into(),
        delay: Duration::ZERO,
    });
    let e = client.get_version().await.unwrap_err();
    assert_eq!(e.kind, MispErrorKind::InvalidResponse);
    // Unknown event: None, not an error.
    assert!(
        client
            .view_event(uuid::Uuid::nil())
            .await
            .unwrap()
            .is_none()
    );
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_debug_logs() {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let writer = Capture(buf.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = MiniMisp::start().await;
    let (proxy, _) = tiny_proxy().await;
    let mut s = settings(&fake.url());
    s.additional_headers =
        BTreeMap::from([("X-Gateway-Token".to_owned(), "gw-secret-123".to_owned())]);
    s.proxy = Some(proxy.replace("http://", "http://proxyuser:proxy-pass-456@"));
    tracing::debug!(settings = ?s, "settings");
    let mut direct = s.clone();
    direct.proxy = None;
    let client = MispClient::new(&direct).unwrap();
    tracing::debug!(client = ?client, "client");
    client.get_version().await.unwrap();
    fake.fault(Fault {
        path_prefix: "/events/add".into(),
        status: 403,
        headers: vec![],
        body: r#"{"errors":"nope"}"#.into(),
        delay: Duration::ZERO,
    });
    let e = client
        .add_event(&serde_json::json!({"Event": {}}))
        .await
        .unwrap_err();
    tracing::debug!(error = %e, error_debug = ?e, "failed");
    let bad = MispClient::new(&ClientSettings::new(
        fake.url(),
        SecretString::from("WrongKey0123".to_owned()),
    ))
    .unwrap();
    let e = bad.get_version().await.unwrap_err();
    tracing::debug!(error = %e, "auth failed");

    let out = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert!(
        out.contains("servers/getVersion"),
        "nothing was logged: {out}"
    );
    for secret in [ADMIN_KEY, "gw-secret-123", "proxy-pass-456", "WrongKey0123"] {
        assert!(
            !out.contains(secret),
            "{secret} leaked into the logs:\n{out}"
        );
    }
}

#[tokio::test]
async fn the_observer_sees_every_request_with_a_bounded_label() {
    let fake = FakeMisp::start(FakeConfig::default()).await.unwrap();
    type Seen = Vec<(String, Option<u16>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s2 = seen.clone();
    let client = MispClient::new(&ClientSettings::new(
        fake.url(),
        SecretString::from(fake.admin_key().to_owned()),
    ))
    .unwrap()
    .with_observer(Arc::new(move |label, status, _elapsed| {
        s2.lock().unwrap().push((label.to_owned(), status));
    }));
    client.get_version().await.unwrap();
    assert!(
        client
            .view_event(uuid::Uuid::nil())
            .await
            .unwrap()
            .is_none()
    );
    fake.faults().fail_next(1, 503, None);
    client.whoami().await.unwrap_err();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("GET /servers/getVersion".to_owned(), Some(200)),
            ("GET /events/view".to_owned(), Some(404)),
            ("GET /users/view".to_owned(), Some(503)),
        ]
    );
}

#[tokio::test]
async fn proxy_credentials_and_keys_are_scrubbed_from_errors() {
    // A proxy that does not answer (closed port) and a MISP that echoes our headers in its error body.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = settings("http://misp.invalid");
    s.proxy = Some(format!(
        "http://proxyuser:proxy-pass-456@127.0.0.1:{closed}"
    ));
    let e = MispClient::new(&s)
        .unwrap()
        .get_version()
        .await
        .unwrap_err();
    assert_eq!(e.kind, MispErrorKind::Connect, "{e}");
    assert!(!e.to_string().contains("proxy-pass-456"), "{e}");

    let fake = MiniMisp::start().await;
    fake.fault(Fault {
        path_prefix: "/servers/getVersion".into(),
        status: 400,
        headers: vec![],
        body: format!("bad request, headers were: Authorization: {ADMIN_KEY}"),
        delay: Duration::ZERO,
    });
    let e = MispClient::new(&settings(&fake.url()))
        .unwrap()
        .get_version()
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("[REDACTED]") && !e.to_string().contains(ADMIN_KEY),
        "{e}"
    );
}

/// Serve the recorded answer of transcript `name` for the next request under `prefix`.
fn replay(fake: &MiniMisp, prefix: &str, name: &str) {
    let path = format!(
        "{}/../shared/reference/misp/transcripts/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut headers = vec![];
    if let Some(loc) = t["response_headers"]["Location"].as_str() {
        headers.push(("location", loc.to_owned()));
    }
    fake.fault(Fault {
        path_prefix: prefix.into(),
        status: t["status"].as_u64().unwrap() as u16,
        headers,
        body: t["response_body"].to_string(),
        delay: Duration::ZERO,
    });
}

/// The client against MISP 2.5.1's recorded answers (ground truth): decoding and error kinds.
#[tokio::test]
async fn recorded_misp_answers_decode_and_classify() {
    let fake = MiniMisp::start().await;
    let client = MispClient::new(&settings(&fake.url())).unwrap();
    let ev_uuid: uuid::Uuid = "5f0c2b1e-7a3d-4c1e-9b2a-0d1e2f3a4b5c".parse().unwrap();
    let body = serde_json::json!({"Event": {"uuid": ev_uuid}});

    replay(&fake, "/servers/getVersion", "01_getVersion_admin.json");
    assert_eq!(client.get_version().await.unwrap().version, "2.5.1");

    replay(&fake, "/events/add", "02_events_add_with_uuid.json");
    let ev = client.add_event(&body).await.unwrap();
    assert_eq!((ev.id.as_str(), ev.uuid), ("1", ev_uuid));

    replay(&fake, "/events/add", "03_events_add_duplicate_uuid.json");
    let e = client.add_event(&body).await.unwrap_err();
    assert_eq!(
        (e.kind, e.class()),
        (MispErrorKind::AlreadyExists, ErrorClass::Conflict)
    );
    assert_eq!(e.location_id.as_deref(), Some("1"));

    replay(&fake, "/events/view/", "04_events_view_by_uuid.json");
    let ev = client.view_event(ev_uuid).await.unwrap().unwrap();
    assert!(ev.is_owned_by("1") && !ev.attributes.is_empty() && !ev.tags.is_empty());

    replay(&fake, "/events/view/", "06_events_view_unknown_uuid.json");
    assert!(
        client
            .view_event(uuid::Uuid::nil())
            .await
            .unwrap()
            .is_none()
    );

    replay(
        &fake,
        "/events/edit/",
        "07_events_edit_newer_timestamp.json",
    );
    assert_eq!(
        client.edit_event(ev_uuid, &body).await.unwrap().timestamp,
        1_795_370_382
    );

    replay(
        &fake,
        "/events/edit/",
        "09_events_edit_older_timestamp.json",
    );
    let e = client.edit_event(ev_uuid, &body).await.unwrap_err();
    assert_eq!(
        (e.kind, e.class()),
        (MispErrorKind::NotNewer, ErrorClass::Conflict)
    );

    replay(
        &fake,
        "/events/edit/",
        "41_orgB_events_edit_foreign_event.json",
    );
    let e = client.edit_event(ev_uuid, &body).await.unwrap_err();
    assert_eq!((e.status, e.class()), (Some(403), ErrorClass::Permanent));
    assert!(e.message.contains("not authorised"), "{e}");

    replay(&fake, "/events/add", "68_malformed_json_events_add.json");
    let e = client.add_event(&body).await.unwrap_err();
    assert_eq!((e.status, e.class()), (Some(405), ErrorClass::Permanent));

    replay(&fake, "/events/add", "73_events_add_missing_info.json");
    let e = client.add_event(&body).await.unwrap_err();
    assert_eq!((e.status, e.class()), (Some(403), ErrorClass::Permanent));
    assert!(e.message.contains("valueNotEmpty"), "{e}");

    replay(
        &fake,
        "/servers/getVersion",
        "64_bad_api_key_getVersion.json",
    );
    let e = client.get_version().await.unwrap_err();
    assert_eq!(e.kind, MispErrorKind::Auth);

    replay(
        &fake,
        "/shadow_attributes/add/",
        "44_orgB_shadow_attributes_add.json",
    );
    let p = client
        .propose_add("1", &serde_json::json!({"type": "ip-dst"}))
        .await
        .unwrap();
    assert!(p.is_new_attribute());

    replay(
        &fake,
        "/shadow_attributes/add/",
        "46_orgB_shadow_attributes_add_unknown_type.json",
    );
    let e = client
        .propose_add("1", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!((e.status, e.class()), (Some(500), ErrorClass::Transient));

    replay(
        &fake,
        "/shadow_attributes/edit/",
        "48_orgB_shadow_attributes_edit_existing_attribute.json",
    );
    let p = client
        .propose_edit("1", &serde_json::json!({"value": "x"}))
        .await
        .unwrap();
    assert_eq!(p.old_id, "1");

    replay(
        &fake,
        "/shadow_attributes/delete/",
        "49_orgB_shadow_attributes_delete_proposal_for_attribute.json",
    );
    client.propose_delete("1").await.unwrap();

    replay(
        &fake,
        "/shadow_attributes/index/",
        "55_admin_shadow_attributes_index_event.json",
    );
    assert_eq!(client.proposals("1").await.unwrap().len(), 4);

    replay(
        &fake,
        "/sharing_groups/view/",
        "84_sharing_groups_view.json",
    );
    assert_eq!(
        client.sharing_group(1).await.unwrap().unwrap().name,
        "SG A+B"
    );

    replay(
        &fake,
        "/tags/removeTagFromObject",
        "115_p2_tags_removeTagFromObject_event_uuid.json",
    );
    client.remove_tag(ev_uuid, "tlp:green").await.unwrap();

    // 200 with {"saved": false} is a failure (MISP's habit on tag and proposal-delete endpoints).
    fake.fault(Fault {
        path_prefix: "/tags/removeTagFromObject".into(),
        status: 200,
        headers: vec![],
        body: r#"{"saved":false,"errors":"Invalid Tag."}"#.into(),
        delay: Duration::ZERO,
    });
    let e = client.remove_tag(ev_uuid, "nope").await.unwrap_err();
    assert!(e.message.contains("Invalid Tag."), "{e}");
}
