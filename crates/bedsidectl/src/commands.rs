//! Each command: read input, call the core, print.

use std::io::{BufRead, Read};
use std::sync::Arc;

use bedside_core::clock::SystemClock;
use bedside_core::{
    CoreError, KdfChoice, NewProfile, Policy, Profiles, Unlocked, invites, session,
};
use bedside_store::time::{parse_date, parse_duration_minutes, parse_instant, parse_tz};
use bedside_store::{
    AppointmentId, AuditVerdict, NewAppointment, NewPatient, PatientId, StoreError,
};
use bedside_vault::{EscrowPrivateKey, EscrowPublicKey, Password, SystemKeychain};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::json;

use crate::cli::*;
use crate::output::print;

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// From the core.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Bad usage.
    #[error("{0}")]
    Usage(String),
    /// The environment.
    #[error("{0}")]
    Env(String),
    /// The audit chain is broken.
    #[error("audit chain broken at event {seq}")]
    AuditBroken {
        /// First broken event.
        seq: i64,
    },
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self::Core(e.into())
    }
}

impl CliError {
    /// Stable code for `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Core(e) => e.code(),
            Self::Usage(_) => "usage",
            Self::Env(_) => "environment",
            Self::AuditBroken { .. } => "audit_broken",
        }
    }

    /// 1 for the user's errors, 2 for the environment's.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Core(e) if e.is_environment() => 2,
            Self::Env(_) => 2,
            _ => 1,
        }
    }
}

type Result<T> = std::result::Result<T, CliError>;

fn usage(s: impl Into<String>) -> CliError {
    CliError::Usage(s.into())
}

struct Ctx {
    profiles: Profiles,
    profile: Option<String>,
    json: bool,
}

impl Ctx {
    fn unlocked(&self) -> Result<Unlocked> {
        let token = std::env::var("BEDSIDE_SESSION").map_err(|_| CoreError::NotSignedIn)?;
        let u = session::resume(&self.profiles, &token)?;
        self.check_profile(&u)?;
        Ok(u)
    }

    /// A session opens only its own profile: `--profile` must agree with it.
    fn check_profile(&self, u: &Unlocked) -> Result<()> {
        match &self.profile {
            Some(p) if *p != u.profile().meta.username => Err(usage(format!(
                "BEDSIDE_SESSION belongs to profile {:?}, not {p:?}; sign in to {p:?} first",
                u.profile().meta.username
            ))),
            _ => Ok(()),
        }
    }
}

fn read_lines(n: usize) -> Result<Vec<Password>> {
    let stdin = std::io::stdin();
    let mut out = Vec::with_capacity(n);
    let mut lines = stdin.lock().lines();
    for i in 0..n {
        let line = lines
            .next()
            .ok_or_else(|| usage(format!("expected {n} line(s) on standard input, got {i}")))?
            .map_err(|e| CliError::Env(format!("could not read standard input: {e}")))?;
        out.push(Password::new(line.trim_end_matches('\r')));
    }
    Ok(out)
}

fn read_password() -> Result<Password> {
    read_lines(1)?
        .pop()
        .ok_or_else(|| usage("expected a password on standard input"))
}

fn parse_id<T: std::str::FromStr>(what: &str, s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| usage(format!("{what} id {s:?} is not a number")))
}

/// RFC 3339, or a local time in `tz`.
fn parse_start(s: &str, tz: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = parse_instant("start", s) {
        return Ok(t);
    }
    let zone = parse_tz(tz)?;
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s.trim(), fmt) {
            return zone
                .from_local_datetime(&naive)
                .earliest()
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(|| {
                    usage(format!(
                        "{s} does not exist in {tz} (a daylight-saving gap)"
                    ))
                });
        }
    }
    Err(usage(format!(
        "start: {s:?} is not a time such as 2026-12-01T09:00:00Z or 2026-12-01T09:00"
    )))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let data_dir = match cli.data_dir {
        Some(d) => d,
        None => bedside_core::default_data_dir()?,
    };
    let loaded = Policy::load_platform(Some(&data_dir));
    let (policy, effective, problems) = (loaded.policy, loaded.effective, loaded.problems);
    if let Command::Policy { action } = &cli.command
        && !matches!(action, PolicyCmd::Show)
    {
        return policy_admin(cli.json, action);
    }
    if let Command::Policy {
        action: PolicyCmd::Show,
    } = cli.command
    {
        // Needs no keychain and no profile: admins run it on a fresh install.
        let out = json!({ "policies": effective.entries, "ignored": effective.problems,
            "unreadable_files": problems.iter().map(|p| json!({ "path": p.path, "reason": p.reason })).collect::<Vec<_>>(),
            "bundle": loaded.bundle });
        print(cli.json, &out, || {
            let mut t = String::new();
            for e in &effective.entries {
                let src = match &e.source {
                    bedside_policy::Source::Platform { location } => location.clone(),
                    bedside_policy::Source::SignedBundle { version } => {
                        format!("signed bundle v{version}")
                    }
                    bedside_policy::Source::User => "user".into(),
                    _ => "default".into(),
                };
                t.push_str(&format!("{}\t{}\t{}\n", e.name, e.value, src));
            }
            for p in &effective.problems {
                t.push_str(&format!(
                    "ignored: {} = {} ({:?})\n",
                    p.name, p.value, p.status
                ));
            }
            for p in &problems {
                t.push_str(&format!("unreadable: {}: {}\n", p.path.display(), p.reason));
            }
            if let Some(a) = &loaded.bundle.applied {
                t.push_str(&format!(
                    "signed bundle v{} in force ({})\n",
                    a.version, a.location
                ));
            }
            for r in &loaded.bundle.refused {
                t.push_str(&format!("bundle refused: {}: {}\n", r.location, r.reason));
            }
            t.trim_end().to_owned()
        });
        return Ok(());
    }
    let keychain = Arc::new(SystemKeychain::new().map_err(CoreError::from)?);
    let profiles = Profiles::new(
        data_dir,
        keychain,
        Arc::new(SystemClock),
        policy,
        KdfChoice::Tuned,
    );
    let ctx = Ctx {
        profiles,
        profile: cli.profile,
        json: cli.json,
    };
    let json = ctx.json;
    match cli.command {
        Command::Init {
            username,
            display_name,
            password_stdin: _,
            qr,
            escrow_public_key,
        } => {
            let password = read_password()?;
            let escrow = escrow_public_key
                .as_deref()
                .map(EscrowPublicKey::parse)
                .transpose()
                .map_err(CoreError::from)?;
            // Open the QR file first: a bad path must not strand a half-enrolled profile.
            let qr_file = qr.as_deref().map(open_for_writing).transpose()?;
            let e = ctx.profiles.create(
                &NewProfile {
                    username,
                    display_name,
                    password,
                },
                escrow.as_ref(),
            )?;
            show_enrolment(json, &e, qr_file)?;
        }
        Command::Totp {
            action: TotpCmd::Show { qr, .. },
        } => {
            let password = read_password()?;
            let qr_file = qr.as_deref().map(open_for_writing).transpose()?;
            let e = ctx
                .profiles
                .pending_enrolment(ctx.profile.as_deref(), &password)?;
            show_enrolment(json, &e, qr_file)?;
        }
        Command::Totp {
            action: TotpCmd::Confirm { code, .. },
        } => {
            let password = read_password()?;
            ctx.profiles
                .confirm_totp(ctx.profile.as_deref(), &password, &code)?
                .lock();
            print(json, &json!({ "totp_enabled": true }), || {
                "Two-step sign-in is on.".into()
            });
        }
        Command::Signin { totp, .. } => {
            let password = read_password()?;
            let mut u =
                ctx.profiles
                    .sign_in(ctx.profile.as_deref(), &password, Some(&totp), false)?;
            let token = session::start(&ctx.profiles, &mut u)?;
            print(json, &json!({ "session": token }), || token.clone());
        }
        Command::Lock => {
            let profile = match std::env::var("BEDSIDE_SESSION")
                .ok()
                .map(|t| session::resume(&ctx.profiles, &t))
            {
                Some(Ok(u)) => {
                    ctx.check_profile(&u)?;
                    let p = u.profile().clone();
                    u.lock();
                    p
                }
                _ => ctx.profiles.find(ctx.profile.as_deref())?,
            };
            let n = session::end_all(&profile)?;
            print(json, &json!({ "sessions_ended": n }), || {
                format!("Locked ({n} session(s) ended).")
            });
        }
        Command::Profiles => {
            let list: Vec<_> = ctx.profiles.list()?.into_iter().map(|p| p.meta).collect();
            print(json, &list, || {
                list.iter()
                    .map(|p| format!("{}\t{}", p.username, p.display_name))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Patient { action } => patient(&ctx, action)?,
        Command::Appointment { action } => appointment(&ctx, action)?,
        Command::Note { action } => note(&ctx, action)?,
        Command::Audit { action } => audit(&ctx, action)?,
        Command::Password {
            action: PasswordCmd::Change { .. },
        } => {
            let mut u = ctx.unlocked()?;
            let mut pw = read_lines(2)?;
            let new = pw.pop().ok_or_else(|| usage("expected the new password"))?;
            let old = pw.pop().ok_or_else(|| usage("expected the old password"))?;
            ctx.profiles.change_password(&mut u, &old, &new)?;
            print(json, &json!({ "changed": true }), || {
                "Password changed; sign in again.".into()
            });
        }
        Command::Recover { escrow_key, .. } => {
            let text = std::fs::read_to_string(&escrow_key).map_err(|e| {
                CliError::Env(format!("could not read {}: {e}", escrow_key.display()))
            })?;
            let sk = EscrowPrivateKey::parse(&text).map_err(CoreError::from)?;
            let new = read_password()?;
            ctx.profiles.recover(ctx.profile.as_deref(), &sk, &new)?;
            print(json, &json!({ "recovered": true }), || {
                "New password set; sign in with it.".into()
            });
        }
        Command::Invite { action } => invite(&ctx, action)?,
        Command::Policy { .. } => {}
        Command::Relay {
            action: RelayCmd::Enroll { relay, .. },
        } => {
            let mut u = ctx.unlocked()?;
            let token = read_password()?;
            let public_key = invites::clinic_public_key(&ctx.profiles, &mut u)?;
            let name = u.profile().meta.display_name.clone();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Env(format!("could not start the network runtime: {e}")))?;
            runtime
                .block_on(bedside_host::enroll(
                    &relay,
                    token.expose(),
                    &name,
                    &public_key,
                ))
                .map_err(|e| match e {
                    bedside_host::HostError::Unauthorized(_) => {
                        usage("the relay refused the admin token")
                    }
                    other => CliError::Env(other.to_string()),
                })?;
            u.store().audit("relay.enroll", json!({}))?;
            print(
                json,
                &json!({ "enrolled": true, "public_key": public_key }),
                || format!("This clinic's key is enrolled with {relay}."),
            );
        }
        Command::Visit {
            action:
                VisitCmd::Host {
                    appointment_id,
                    relay,
                    auto_admit,
                    show_phi,
                    media,
                    duration,
                    stats_json,
                    udp_addrs,
                    video,
                    ice_policy,
                    turn_urls,
                    microphone,
                    speaker,
                    camera,
                },
        } => {
            // AllowH264 comes from the effective policy, as in the desktop app (no flag:
            // a clinician cannot widen what the organisation allows).
            let allow_h264 = effective.bool("AllowH264");
            let media = media
                .map(|m| {
                    let devices = bedside_media::DeviceSelection {
                        microphone: microphone.as_deref().map(Into::into),
                        speaker: speaker.as_deref().map(Into::into),
                        camera: camera.as_deref().map(Into::into),
                    };
                    crate::visit_media::options(m, udp_addrs, &video, ice_policy, turn_urls).map(
                        |mut o| {
                            o.peer.allow_h264 = allow_h264;
                            o.peer.devices = devices;
                            o
                        },
                    )
                })
                .transpose()?;
            host(
                &ctx,
                &appointment_id,
                relay,
                auto_admit,
                show_phi,
                media.map(|m| (m, duration, stats_json)),
            )?
        }
        Command::ClinicKey {
            action: ClinicKeyCmd::Show,
        } => {
            let mut u = ctx.unlocked()?;
            let pk = invites::clinic_public_key(&ctx.profiles, &mut u)?;
            print(json, &json!({ "public_key": pk }), || pk.clone());
        }
        Command::Escrow {
            action: EscrowCmd::Keygen { private_out },
        } => {
            let (sk, pk) = EscrowPrivateKey::generate().map_err(CoreError::from)?;
            write_private(&private_out, sk.encode().as_bytes())?;
            print(json, &json!({ "public_key": pk.encode() }), || pk.encode());
        }
    }
    Ok(())
}

fn open_for_writing(path: &std::path::Path) -> Result<(std::fs::File, std::path::PathBuf)> {
    std::fs::File::create(path)
        .map(|f| (f, path.to_owned()))
        .map_err(|e| CliError::Env(format!("could not create {}: {e}", path.display())))
}

/// Prints a TOTP enrolment (the URI first, so a failed QR write loses nothing).
fn show_enrolment(
    json: bool,
    e: &bedside_core::TotpEnrolment,
    qr_file: Option<(std::fs::File, std::path::PathBuf)>,
) -> Result<()> {
    print(
        json,
        &json!({ "otpauth_uri": e.otpauth_uri, "secret": e.secret_base32 }),
        || e.otpauth_uri.clone(),
    );
    if let Some((mut f, path)) = qr_file {
        write_qr(&mut f, &path, &e.qr_png)?;
    }
    Ok(())
}

fn write_qr(f: &mut std::fs::File, path: &std::path::Path, png: &[u8]) -> Result<()> {
    use std::io::Write;
    f.write_all(png)
        .map_err(|e| CliError::Env(format!("could not write {}: {e}", path.display())))
}

const POLICY_KEY_PREFIX: &str = "BEDSIDE-POLICY-SIGNING-KEY-V1:";

/// `policy validate|keygen|sign`: admin tools that need no profile or keychain.
fn policy_admin(json_out: bool, action: &PolicyCmd) -> Result<()> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| CliError::Env(format!("could not read {}: {e}", p.display())))
    };
    let parse_object = |p: &std::path::Path| -> Result<serde_json::Map<String, serde_json::Value>> {
        match serde_json::from_slice::<serde_json::Value>(&read(p)?) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            Ok(_) => Err(usage(format!(
                "{}: expected a JSON object of policy names to values",
                p.display()
            ))),
            Err(e) => Err(usage(format!(
                "{}: not valid JSON (line {}, column {})",
                p.display(),
                e.line(),
                e.column()
            ))),
        }
    };
    match action {
        PolicyCmd::Show => Ok(()),
        PolicyCmd::Validate { file } => {
            let values = parse_object(file)?;
            let layer = bedside_policy::Layer {
                source: bedside_policy::Source::Platform {
                    location: file.display().to_string(),
                },
                level: bedside_policy::Level::Mandatory,
                values,
            };
            let e = bedside_policy::merge(&serde_json::Map::new(), &[layer]);
            print(
                json_out,
                &json!({ "ok": e.problems.is_empty(), "problems": e.problems }),
                || {
                    if e.problems.is_empty() {
                        "OK".into()
                    } else {
                        e.problems
                            .iter()
                            .map(|p| format!("{}: {:?}", p.name, p.status))
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                },
            );
            if e.problems.is_empty() {
                Ok(())
            } else {
                Err(usage(format!(
                    "{} problem(s) in {}",
                    e.problems.len(),
                    file.display()
                )))
            }
        }
        PolicyCmd::Keygen { private_out } => {
            let pkcs8 =
                ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                    .map_err(|_| CliError::Env("the random number generator failed".into()))?;
            let key = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|_| CliError::Env("could not create the key".into()))?;
            let text = format!(
                "{POLICY_KEY_PREFIX}{}\n",
                data_encoding::BASE64URL_NOPAD.encode(pkcs8.as_ref())
            );
            write_private(private_out, text.as_bytes())?;
            let public = data_encoding::BASE64URL_NOPAD
                .encode(ring::signature::KeyPair::public_key(&key).as_ref());
            print(json_out, &json!({ "public_key": public }), || {
                public.clone()
            });
            Ok(())
        }
        PolicyCmd::Templates { out } => {
            let mut written = Vec::new();
            for (name, text) in bedside_policy::templates::all() {
                let path = out.join(name);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        CliError::Env(format!("could not create {}: {e}", dir.display()))
                    })?;
                }
                std::fs::write(&path, text).map_err(|e| {
                    CliError::Env(format!("could not write {}: {e}", path.display()))
                })?;
                written.push(path.display().to_string());
            }
            print(json_out, &json!({ "written": written }), || {
                written.join("\n")
            });
            Ok(())
        }
        PolicyCmd::Sign { file, key, version } => {
            let values = parse_object(file)?;
            let text = String::from_utf8(read(key)?)
                .map_err(|_| usage("the key file is not a Bedside policy key"))?;
            let pkcs8 = text
                .trim()
                .strip_prefix(POLICY_KEY_PREFIX)
                .and_then(|b| data_encoding::BASE64URL_NOPAD.decode(b.as_bytes()).ok())
                .ok_or_else(|| usage("the key file is not a Bedside policy key"))?;
            let key = ring::signature::Ed25519KeyPair::from_pkcs8(&pkcs8)
                .map_err(|_| usage("the key file is not a Bedside policy key"))?;
            crate::output::line(&bedside_policy::bundle::sign(&key, *version, values));
            Ok(())
        }
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| CliError::Env(format!("could not create {}: {e}", path.display())))?;
    f.write_all(bytes)
        .map_err(|e| CliError::Env(format!("could not write {}: {e}", path.display())))
}

fn patient(ctx: &Ctx, action: PatientCmd) -> Result<()> {
    let mut u = ctx.unlocked()?;
    let s = u.store();
    match action {
        PatientCmd::Add { name, dob, fields } => {
            let dob = parse_date("date of birth", &dob)?;
            let id = s.add_patient(&NewPatient {
                name,
                dob: Some(dob),
                phone: fields.phone,
                email: fields.email,
                mrn: fields.mrn,
            })?;
            print(ctx.json, &json!({ "id": id }), || id.to_string());
        }
        PatientCmd::List { search } => {
            let list = s.search_patients(search.as_deref().unwrap_or(""))?;
            s.audit("patient.list", json!({ "count": list.len() }))?;
            print(ctx.json, &list, || {
                list.iter()
                    .map(|p| format!("{}\t{}\t{}", p.id, p.name, p.dob))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        PatientCmd::Show { id } => {
            let id: PatientId = parse_id("patient", &id)?;
            let p = s.patient(id)?;
            s.audit("patient.view", json!({ "patient": id }))?;
            print(ctx.json, &p, || {
                let mut t = format!("id: {}\nname: {}\ndate of birth: {}", p.id, p.name, p.dob);
                for (k, v) in [("phone", &p.phone), ("email", &p.email), ("mrn", &p.mrn)] {
                    if let Some(v) = v {
                        t.push_str(&format!("\n{k}: {v}"));
                    }
                }
                t
            });
        }
    }
    Ok(())
}

fn appointment(ctx: &Ctx, action: AppointmentCmd) -> Result<()> {
    let mut u = ctx.unlocked()?;
    let s = u.store();
    match action {
        AppointmentCmd::Add {
            patient,
            start,
            tz,
            duration,
            reason,
            force,
        } => {
            let a = NewAppointment {
                patient: parse_id("patient", &patient)?,
                start: parse_start(&start, &tz)?,
                tz: parse_tz(&tz)?.name().to_owned(),
                duration_min: parse_duration_minutes(&duration)?,
                reason,
            };
            let id = s.add_appointment(&a, force)?;
            print(ctx.json, &json!({ "id": id }), || id.to_string());
        }
        AppointmentCmd::List { day, tz, week } => {
            let date = parse_date("day", &day)?;
            let list = if week {
                s.list_week(date, &tz)?
            } else {
                s.list_day(date, &tz)?
            };
            s.audit("schedule.view", json!({ "count": list.len() }))?;
            print(ctx.json, &list, || {
                list.iter()
                    .map(|v| {
                        let a = &v.appointment;
                        format!(
                            "{}\t{}\t{}m\t{}\t{}",
                            a.id, v.local_start, a.duration_min, a.status, v.patient_name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        AppointmentCmd::Show { id } => {
            let id: AppointmentId = parse_id("appointment", &id)?;
            let a = s.appointment(id)?;
            s.audit("appointment.view", json!({ "appointment": id }))?;
            print(ctx.json, &a, || {
                format!(
                    "id: {}\npatient: {}\nstart: {}\ntime zone: {}\nduration: {}m\nstatus: {}{}",
                    a.id,
                    a.patient,
                    a.start.to_rfc3339(),
                    a.tz,
                    a.duration_min,
                    a.status,
                    a.reason
                        .as_ref()
                        .map(|r| format!("\nreason: {r}"))
                        .unwrap_or_default()
                )
            });
        }
        AppointmentCmd::Reschedule {
            id,
            start,
            tz,
            duration,
            force,
        } => {
            let id: AppointmentId = parse_id("appointment", &id)?;
            let current = s.appointment(id)?;
            let start = parse_start(&start, tz.as_deref().unwrap_or(&current.tz))?;
            let duration = duration
                .as_deref()
                .map(parse_duration_minutes)
                .transpose()?;
            s.reschedule(id, start, duration, force)?;
            print(ctx.json, &json!({ "id": id, "rescheduled": true }), || {
                format!("Appointment {id} moved.")
            });
        }
        AppointmentCmd::Cancel { id } => {
            let id: AppointmentId = parse_id("appointment", &id)?;
            s.cancel(id)?;
            print(
                ctx.json,
                &json!({ "id": id, "status": "cancelled" }),
                || format!("Appointment {id} cancelled."),
            );
        }
        AppointmentCmd::NoShow { id } => {
            let id: AppointmentId = parse_id("appointment", &id)?;
            s.no_show(id)?;
            print(ctx.json, &json!({ "id": id, "status": "no_show" }), || {
                format!("Appointment {id} marked no-show.")
            });
        }
    }
    Ok(())
}

fn note(ctx: &Ctx, action: NoteCmd) -> Result<()> {
    let mut u = ctx.unlocked()?;
    let s = u.store();
    match action {
        NoteCmd::Set { appointment_id, .. } => {
            let id: AppointmentId = parse_id("appointment", &appointment_id)?;
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                usage(format!(
                    "the note must be UTF-8 text on standard input ({e})"
                ))
            })?;
            let version = s.set_note(id, &text)?;
            print(
                ctx.json,
                &json!({ "appointment": id, "version": version }),
                || format!("Saved version {version}."),
            );
        }
        NoteCmd::Show { appointment_id } => {
            let id: AppointmentId = parse_id("appointment", &appointment_id)?;
            let n = s.note(id)?;
            s.audit("note.view", json!({ "appointment": id }))?;
            print(ctx.json, &n, || {
                n.as_ref().map(|n| n.text.clone()).unwrap_or_default()
            });
        }
        NoteCmd::History { appointment_id } => {
            let id: AppointmentId = parse_id("appointment", &appointment_id)?;
            let h = s.note_history(id)?;
            s.audit("note.view", json!({ "appointment": id, "history": true }))?;
            print(ctx.json, &h, || {
                h.iter()
                    .map(|n| {
                        format!(
                            "--- version {} ({})\n{}",
                            n.version,
                            n.saved_at.to_rfc3339(),
                            n.text
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

fn invite(ctx: &Ctx, action: InviteCmd) -> Result<()> {
    let mut u = ctx.unlocked()?;
    match action {
        InviteCmd::Create {
            appointment_id,
            relay,
        } => {
            let id: AppointmentId = parse_id("appointment", &appointment_id)?;
            let relay = match relay {
                Some(r) => r,
                None => u.store_ref().setting("relay_url")?.ok_or_else(|| {
                    usage("no relay configured: pass --relay https://relay.example.org (or set BEDSIDE_RELAY)")
                })?,
            };
            let replaced = u.store_ref().active_invites(id)?;
            let l = invites::create(&ctx.profiles, &mut u, id, &relay)?;
            print(ctx.json, &l, || l.link.clone());
            tell_relay(ctx, &mut u, &replaced);
        }
        InviteCmd::Show { appointment_id } => {
            let id: AppointmentId = parse_id("appointment", &appointment_id)?;
            let l = invites::current(&u, id)?;
            u.store()
                .audit("invite.view", json!({ "appointment": id }))?;
            match l {
                Some(l) => print(ctx.json, &l, || l.link.clone()),
                None => {
                    return Err(usage(format!(
                        "appointment {id} has no active link; create one with `bedsidectl invite create {id}`"
                    )));
                }
            }
        }
        InviteCmd::Revoke { appointment_id } => {
            let id: AppointmentId = parse_id("appointment", &appointment_id)?;
            let active = u.store_ref().active_invites(id)?;
            let revoked = invites::revoke(&mut u, id)?;
            let told = tell_relay(ctx, &mut u, &active);
            print(
                ctx.json,
                &json!({ "appointment": id, "revoked_tokens": revoked, "relay_told": told }),
                || format!("{} link(s) withdrawn.", revoked.len()),
            );
        }
    }
    Ok(())
}

/// Tells each invite's relay that it is withdrawn, so the link stops at once.
/// The local revocation already stands; an unreachable relay is a warning
/// (the link then stops at its expiry). Returns how many relays confirmed.
fn tell_relay(ctx: &Ctx, u: &mut Unlocked, withdrawn: &[bedside_store::Invite]) -> usize {
    if withdrawn.is_empty() {
        return 0;
    }
    let Ok(key) = invites::clinic_key(&ctx.profiles, u) else {
        return 0;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return 0;
    };
    let mut told = 0;
    for i in withdrawn {
        let r = runtime.block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                bedside_host::revoke(&i.relay_origin, &key, &i.visit_id, i.token_id),
            )
            .await
        });
        match r {
            Ok(Ok(())) => told += 1,
            Ok(Err(e)) => {
                eprintln!("bedsidectl: warning: {e}; the old link stops at its expiry instead")
            }
            Err(_) => eprintln!(
                "bedsidectl: warning: the relay did not answer; the old link stops at its expiry instead"
            ),
        }
    }
    told
}

/// `visit host`: the clinician side of the waiting room, headless.
fn host(
    ctx: &Ctx,
    appointment_id: &str,
    relay: Option<String>,
    auto_admit: bool,
    show_phi: bool,
    media: Option<(
        bedside_host::MediaOptions,
        Option<u64>,
        Option<std::path::PathBuf>,
    )>,
) -> Result<()> {
    let mut u = ctx.unlocked()?;
    let id: AppointmentId = parse_id("appointment", appointment_id)?;
    let invite = u.store_ref().active_invite(id)?.ok_or_else(|| {
        usage(format!(
            "appointment {id} has no active link; create one with `bedsidectl invite create {id}`"
        ))
    })?;
    let key = invites::clinic_key(&ctx.profiles, &mut u)?;
    let cfg = bedside_host::HostConfig {
        relay_origin: relay.unwrap_or_else(|| invite.relay_origin.clone()),
        key: std::sync::Arc::new(key),
        visit: invite.visit_id,
        secret: zeroize_secret(invite.secret),
        auto_admit,
    };
    // Media runs encoder/decoder threads that feed the runtime: give it workers.
    let runtime = if media.is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .map_err(|e| CliError::Env(format!("could not start the network runtime: {e}")))?;
    let store = u.store();
    let (media, duration, stats_json) = match media {
        Some((m, d, s)) => (Some(m), d, s),
        None => (None, None, None),
    };
    let mut report = crate::visit_media::Report::default();
    let (connected_tx, mut connected_rx) = tokio::sync::watch::channel(false);
    let on_event = |e: bedside_host::HostEvent| {
        // Subjects are ids; a refusal also names its reason (a closed list, no PHI).
        let subject = match &e {
            bedside_host::HostEvent::CallRefusedByPatient { reason, .. } => {
                json!({ "appointment": id, "reason": reason })
            }
            _ => json!({ "appointment": id }),
        };
        if let Some(action) = e.audit_action()
            && let Err(err) = store.audit(action, subject)
        {
            tracing::warn!(error = %err, "could not audit a visit event");
        }
        if matches!(&e, bedside_host::HostEvent::CallState { state, .. } if state == "connected") {
            let _ = connected_tx.send(true);
        }
        // Device problems (no camera → audio-only, a microphone that went
        // away) on stderr, once each: fixed texts, no PHI.
        for notice in report.new_device_notices(&e) {
            eprintln!("bedsidectl: {notice}");
        }
        report.observe(&e);
        crate::output::line(&crate::output::host_event(&e, show_phi));
    };
    let shutdown = async {
        let media_done = async {
            match duration {
                Some(secs) => {
                    let _ = connected_rx.wait_for(|c| *c).await;
                    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = media_done => {}
        }
    };
    let result = runtime
        .block_on(bedside_host::run_with_media(cfg, media, on_event, shutdown))
        .map_err(|e| CliError::Env(e.to_string()));
    if let Some(path) = stats_json {
        std::fs::write(&path, report.to_json())
            .map_err(|e| CliError::Env(format!("could not write {}: {e}", path.display())))?;
    }
    result
}

fn zeroize_secret(s: [u8; 32]) -> bedside_host::Secret {
    bedside_host::Secret::new(s)
}

fn audit(ctx: &Ctx, action: AuditCmd) -> Result<()> {
    let mut u = ctx.unlocked()?;
    match action {
        AuditCmd::Verify => {
            let v = u.store_ref().audit_verify()?;
            print(ctx.json, &v, || match v {
                AuditVerdict::Ok { count } => format!("OK {count} events"),
                AuditVerdict::Broken { seq } => format!("BROKEN at event {seq}"),
                AuditVerdict::CheckpointMismatch { seq: 0 } => {
                    "BROKEN: the audit checkpoint file is damaged".into()
                }
                AuditVerdict::CheckpointMismatch { seq } => format!(
                    "BROKEN: checkpointed event {seq} is missing or changed (log truncated or rolled back)"
                ),
            });
            if let AuditVerdict::Broken { seq } | AuditVerdict::CheckpointMismatch { seq } = v {
                // Already printed on stdout; the error line goes to stderr.
                return Err(CliError::AuditBroken { seq });
            }
        }
        AuditCmd::Export => {
            let events = u.store_ref().audit_export()?;
            if ctx.json {
                print(true, &events, String::new);
            } else {
                for e in &events {
                    crate::output::line(&serde_json::to_string(e).unwrap_or_default());
                }
            }
            u.store()
                .audit("audit.export", json!({ "count": events.len() }))?;
        }
    }
    Ok(())
}
