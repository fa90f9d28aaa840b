//! Invite links for appointments: the clinic's Ed25519 signing key (private
//! half in the OS keychain), token claims from the appointment and policy,
//! and the stored secret.

use bedside_store::{AppointmentId, Invite, NewInvite};
use bedside_visit::invite::{self, Claims, VisitId};
use ring::signature::Ed25519KeyPair;
use serde::Serialize;
use serde_json::json;

use crate::CoreError;
use crate::profiles::{Profiles, Unlocked};

/// A link to send to the patient.
#[derive(Clone, Serialize)]
pub struct InviteLink {
    /// `https://<relay>/j/<token>#<secret>`
    pub link: String,
    /// When the link starts working (Unix seconds).
    pub not_before: i64,
    /// When it stops (Unix seconds).
    pub expires: i64,
    /// Token id (for revocation).
    pub token_id: u32,
    /// The visit id, hex.
    pub visit: String,
}

impl std::fmt::Debug for InviteLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InviteLink")
            .field("token_id", &self.token_id)
            .finish_non_exhaustive()
    }
}

fn keychain_item(u: &Unlocked) -> String {
    format!("profile/{}/clinic-signing-key", u.profile().meta.id)
}

/// The clinic signing key, created on first use.
pub fn clinic_key(profiles: &Profiles, u: &mut Unlocked) -> Result<Ed25519KeyPair, CoreError> {
    let item = keychain_item(u);
    match profiles.keychain.get(&item) {
        Ok(pkcs8) => {
            let key = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| CoreError::Invalid {
                field: "clinic key",
                problem: "the signing key in the keychain is damaged".into(),
            })?;
            if u.profile().meta.clinic_public_key.is_none() {
                let public = data_encoding::BASE64URL_NOPAD.encode(&invite::public_key(&key));
                u.profile_mut().meta.clinic_public_key = Some(public);
                u.profile().save_meta()?;
            }
            Ok(key)
        }
        Err(bedside_vault::KeychainError::Missing { .. }) => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .map_err(|_| CoreError::Vault(bedside_vault::VaultError::Rng))?;
            profiles.keychain.set(&item, pkcs8.as_ref())?;
            let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|_| CoreError::Vault(bedside_vault::VaultError::Rng))?;
            let public = data_encoding::BASE64URL_NOPAD.encode(&invite::public_key(&key));
            u.store().set_setting("clinic_public_key", &public)?;
            u.profile_mut().meta.clinic_public_key = Some(public);
            u.profile().save_meta()?;
            u.store().audit(
                "clinic_key.create",
                json!({ "key_id": invite::key_id(&invite::public_key(&key)) }),
            )?;
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

/// The clinic's public key, base64url (for relay enrolment).
pub fn clinic_public_key(profiles: &Profiles, u: &mut Unlocked) -> Result<String, CoreError> {
    let key = clinic_key(profiles, u)?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&invite::public_key(&key)))
}

/// Checks a relay origin: `https://host[:port]`, or plain HTTP on loopback only.
pub fn parse_relay_origin(s: &str) -> Result<String, CoreError> {
    let bad = |p: &str| CoreError::Invalid {
        field: "relay",
        problem: p.into(),
    };
    let s = s.trim().trim_end_matches('/');
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| bad("use a URL such as https://relay.example.org"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad(
            "use just the origin, such as https://relay.example.org",
        ));
    }
    let host =
        rest.rsplit_once(':').map_or(
            rest,
            |(h, port)| if port.parse::<u16>().is_ok() { h } else { rest },
        );
    match scheme {
        "https" => Ok(s.to_owned()),
        "http" if matches!(host, "127.0.0.1" | "localhost" | "[::1]") => Ok(s.to_owned()),
        "http" => Err(bad(
            "plain http is only allowed on this computer (127.0.0.1); use https",
        )),
        _ => Err(bad("use an https:// URL")),
    }
}

/// Creates (or regenerates) the invite for an appointment. Any earlier link
/// for it stops working.
pub fn create(
    profiles: &Profiles,
    u: &mut Unlocked,
    appointment: AppointmentId,
    relay_origin: &str,
) -> Result<InviteLink, CoreError> {
    let origin = parse_relay_origin(relay_origin)?;
    let policy = profiles.policy().clone();
    // An outdated app starts no visit: no new invite links.
    policy.check_version(env!("CARGO_PKG_VERSION"))?;
    if let Some(allowed) = &policy.allowed_relay_origins
        && !allowed
            .iter()
            .filter_map(|a| parse_relay_origin(a).ok())
            .any(|a| a.eq_ignore_ascii_case(&origin))
    {
        return Err(CoreError::Invalid {
            field: "relay",
            problem:
                "is not one of the relays your organisation allows (policy AllowedRelayOrigins)"
                    .into(),
        });
    }
    let a = u.store_ref().appointment(appointment)?;
    if !a.status.is_active() {
        return Err(CoreError::Invalid {
            field: "appointment",
            problem: format!("is {}; no invite can be sent", a.status),
        });
    }
    let now = profiles.now();
    let start = a.start.timestamp();
    let end = start + i64::from(a.duration_min) * 60;
    let not_before = (start - i64::from(policy.invite_lead_minutes) * 60).max(now.min(start));
    // Valid until an hour after the scheduled end, never longer than policy allows.
    let expires = (end + 3600).min(not_before + i64::from(policy.invite_max_lifetime_hours) * 3600);
    if expires <= now {
        return Err(CoreError::Invalid {
            field: "appointment",
            problem: "is in the past; reschedule it first".into(),
        });
    }
    let key = clinic_key(profiles, u)?;
    let visit = bedside_vault::rng::bytes::<16>()?;
    let token_id = u32::from_be_bytes(bedside_vault::rng::bytes::<4>()?);
    let secret = bedside_vault::rng::bytes::<32>()?;
    let claims = Claims {
        visit: VisitId(visit),
        key_id: invite::key_id(&invite::public_key(&key)),
        not_before: u32::try_from(not_before).map_err(|_| CoreError::Invalid {
            field: "start",
            problem: "out of range".into(),
        })?,
        lifetime_min: u16::try_from((expires - not_before).div_euclid(60)).unwrap_or(u16::MAX),
        max_devices: policy.invite_max_devices,
        token_id,
        knock_requires_dob: policy.knock_requires_dob,
    };
    let token = invite::sign(&key, &claims);
    u.store().add_invite(&NewInvite {
        appointment,
        visit_id: visit,
        token_id,
        token: token.clone(),
        secret,
        relay_origin: origin.clone(),
        not_before,
        expires: claims.expires() as i64,
        max_devices: claims.max_devices,
    })?;
    tracing::info!(
        appointment = appointment.0,
        token = token_id,
        "invite created"
    );
    Ok(InviteLink {
        link: invite::link(&origin, &token, &secret),
        not_before,
        expires: claims.expires() as i64,
        token_id,
        visit: VisitId(visit).to_hex(),
    })
}

/// The current link of an appointment, if any.
pub fn current(u: &Unlocked, appointment: AppointmentId) -> Result<Option<InviteLink>, CoreError> {
    Ok(u.store_ref()
        .active_invite(appointment)?
        .map(|i: Invite| InviteLink {
            link: invite::link(&i.relay_origin, &i.token, &i.secret),
            not_before: i.not_before,
            expires: i.expires,
            token_id: i.token_id,
            visit: VisitId(i.visit_id).to_hex(),
        }))
}

/// Revokes every link of an appointment; returns the token ids (to tell the relay).
pub fn revoke(u: &mut Unlocked, appointment: AppointmentId) -> Result<Vec<u32>, CoreError> {
    Ok(u.store().revoke_invites(appointment)?)
}
