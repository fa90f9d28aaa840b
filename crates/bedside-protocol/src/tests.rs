//! Tests: serde's output matches the generated TypeScript, the decoder's
//! limits, and that no input makes it panic.

use super::*;
use proptest::prelude::*;

/// The keys of each `| { ... }` member of a generated union, in order.
fn ts_members(ts: &str) -> Vec<Vec<String>> {
    ts.lines()
        .filter_map(|l| l.trim().strip_prefix("| { "))
        .map(|m| {
            m.trim_end_matches(" }")
                .split("; ")
                .filter_map(|kv| kv.split(':').next())
                .map(|k| k.trim().to_owned())
                .collect()
        })
        .collect()
}

fn check_matches_serde<T: Message + std::fmt::Debug + PartialEq>() {
    let members = ts_members(&T::typescript());
    let samples = T::samples();
    assert_eq!(members.len(), samples.len());
    assert_eq!(T::type_names().len(), samples.len());
    for ((sample, keys), name) in samples.iter().zip(&members).zip(T::type_names()) {
        let json = serde_json::to_value(sample).expect("serialize");
        let obj = json.as_object().expect("object");
        assert_eq!(
            obj.get("type").and_then(|t| t.as_str()),
            Some(name.as_str())
        );
        let mut serde_keys: Vec<_> = obj.keys().cloned().collect();
        let mut ts_keys = keys.clone();
        serde_keys.sort();
        ts_keys.sort();
        assert_eq!(serde_keys, ts_keys, "{}", sample.type_name());
        assert!(T::typescript().contains(&format!("type: \"{name}\"")));
        let back: T = decode(encode(sample).as_bytes()).expect("round trip");
        assert_eq!(&back, sample);
    }
}

#[test]
fn typescript_matches_serde_for_every_variant() {
    check_matches_serde::<PatientToRelay>();
    check_matches_serde::<RelayToPatient>();
    check_matches_serde::<ClinicianToRelay>();
    check_matches_serde::<RelayToClinician>();
    for c in ErrorCode::ALL {
        assert_eq!(
            serde_json::to_string(c).expect("ser"),
            format!("\"{}\"", c.as_str())
        );
    }
    for r in CallRefusal::ALL {
        assert_eq!(
            serde_json::to_string(r).expect("ser"),
            format!("\"{}\"", r.as_str())
        );
        assert!(CallRefusal::typescript().contains(&format!("\"{}\"", r.as_str())));
    }
    for s in DeviceStateName::ALL {
        assert_eq!(
            serde_json::to_string(s).expect("ser"),
            format!("\"{}\"", s.as_str())
        );
    }
    let turn = serde_json::to_value(TurnCredentials::default()).expect("ser");
    for k in ["urls", "username", "credential"] {
        assert!(turn.get(k).is_some());
        assert!(TurnCredentials::typescript().contains(&format!("  {k}: ")));
    }
}

#[test]
fn wire_examples() {
    let m: PatientToRelay =
        decode(br#"{"type":"hello","v":2,"token":"abc","device_id":"d1","public_key":"BA"}"#)
            .expect("hello");
    assert_eq!(
        m,
        PatientToRelay::Hello {
            v: 2,
            token: "abc".into(),
            device_id: "d1".into(),
            public_key: "BA".into(),
        }
    );
    assert_eq!(
        decode::<PatientToRelay>(br#"{"type":"hello","v":2,"token":"abc","device_id":"d1"}"#),
        Err(ProtocolError::Malformed),
        "a hello without the device key is refused"
    );
    assert_eq!(
        encode(&RelayToPatient::Challenge { nonce: "AA".into() }),
        r#"{"type":"challenge","nonce":"AA"}"#
    );
    assert_eq!(
        decode::<PatientToRelay>(br#"{"type":"leave"}"#),
        Ok(PatientToRelay::Leave)
    );
    assert_eq!(
        encode(&RelayToPatient::BackToLobby),
        r#"{"type":"back_to_lobby"}"#
    );
    assert_eq!(
        encode(&RelayToClinician::DeviceState {
            visit: "00".into(),
            device: "d".into(),
            state: DeviceStateName::InCall
        }),
        r#"{"type":"device_state","visit":"00","device":"d","state":"in_call"}"#
    );
    assert_eq!(
        decode::<PatientToRelay>(br#"{"type":"call_refused","reason":"answer_tag_mismatch"}"#),
        Ok(PatientToRelay::CallRefused {
            reason: CallRefusal::AnswerTagMismatch
        })
    );
    assert_eq!(
        decode::<PatientToRelay>(br#"{"type":"call_refused","reason":"my name is Zoe"}"#),
        Err(ProtocolError::Malformed),
        "only reasons from the closed list"
    );
    assert_eq!(
        encode(&RelayToPatient::Admitted { turn: None }),
        r#"{"type":"admitted","turn":null}"#
    );
}

#[test]
fn decoder_limits_and_errors() {
    let big = format!(
        r#"{{"type":"knock","sealed":"{}"}}"#,
        "A".repeat(MAX_MESSAGE)
    );
    assert_eq!(
        decode::<PatientToRelay>(big.as_bytes()),
        Err(ProtocolError::TooLarge(big.len()))
    );
    // Exactly at the limit is fine.
    let mut exact = String::from(r#"{"type":"ping"}"#);
    exact.push_str(&" ".repeat(MAX_MESSAGE - exact.len()));
    assert_eq!(
        decode::<PatientToRelay>(exact.as_bytes()),
        Ok(PatientToRelay::Ping)
    );
    for bad in [
        &b""[..],
        b"null",
        b"[]",
        b"{",
        b"{\"type\":1}",
        b"{\"v\":1}",
        b"{\"type\":\"hello\",\"v\":\"one\"}",
        b"{\"type\":\"knock\"}",
        b"\xff\xfe",
    ] {
        assert_eq!(
            decode::<PatientToRelay>(bad),
            Err(ProtocolError::Malformed),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    for unknown in [
        &br#"{"type":"admit","visit":"a","device":"b"}"#[..],
        br#"{"type":"Hello"}"#,
        br#"{"type":""}"#,
    ] {
        assert_eq!(
            decode::<PatientToRelay>(unknown),
            Err(ProtocolError::UnknownType)
        );
    }
    // Deep nesting hits serde_json's recursion limit, not the stack.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        decode::<ClinicianToRelay>(deep.as_bytes()),
        Err(ProtocolError::Malformed)
    );
}

#[test]
fn signed_messages_are_domain_separated() {
    assert!(auth_message(b"n").starts_with(b"bedside relay auth v1"));
    let r = revoke_message(&[1; 16], 0x0102_0304);
    assert_eq!(r.len(), REVOKE_DOMAIN.len() + 16 + 4);
    assert!(r.ends_with(&[1, 2, 3, 4]));
}

#[test]
fn generated_typescript_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("generated/protocol.ts");
    let fresh = typescript();
    if std::env::var_os("BEDSIDE_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write generated/protocol.ts");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "crates/bedside-protocol/generated/protocol.ts is stale; regenerate it with \
         `BEDSIDE_BLESS=1 cargo test -p bedside-protocol`"
    );
}

proptest! {
    #[test]
    fn decoder_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<PatientToRelay>(&bytes);
        let _ = decode::<ClinicianToRelay>(&bytes);
        let _ = decode::<RelayToPatient>(&bytes);
        let _ = decode::<RelayToClinician>(&bytes);
    }

    #[test]
    fn decoder_never_panics_on_strings(s in "\\PC{0,300}") {
        let _ = decode::<PatientToRelay>(s.as_bytes());
        let _ = decode::<ClinicianToRelay>(s.as_bytes());
    }

    #[test]
    fn decoder_never_panics_on_near_messages(
        kind in prop::sample::select(vec![
            "hello", "knock", "offer", "ice", "leave", "ping", "admit", "deny",
            "watch", "auth", "answer", "lock", "send_back", "end", "x",
        ]),
        body in "[\\PC\"{}:,0-9a-z\\[\\]\\\\ ]{0,120}",
    ) {
        let text = format!(r#"{{"type":"{kind}",{body}"#);
        let _ = decode::<PatientToRelay>(text.as_bytes());
        let _ = decode::<ClinicianToRelay>(text.as_bytes());
        let text = format!(r#"{{"type":"{kind}",{body}}}"#);
        let _ = decode::<PatientToRelay>(text.as_bytes());
        let _ = decode::<ClinicianToRelay>(text.as_bytes());
    }
}
