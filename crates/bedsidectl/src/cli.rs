//! The command-line contract. Scripts rely on these names and flags: add,
//! never rename.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Bedside's headless CLI.
#[derive(Debug, Parser)]
#[command(
    name = "bedsidectl",
    version,
    about = "Bedside's headless CLI for admins, scripts and tests"
)]
pub struct Cli {
    /// Data directory (default: the platform's per-user data directory).
    #[arg(long, global = true, env = "BEDSIDE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Which profile, when several exist on this computer.
    #[arg(long, global = true, env = "BEDSIDE_PROFILE")]
    pub profile: Option<String>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a profile; prints the otpauth:// URI for an authenticator app.
    Init {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// Name shown to patients and colleagues.
        #[arg(long)]
        display_name: String,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Also write the QR code to this PNG file.
        #[arg(long)]
        qr: Option<PathBuf>,
        /// Seal the database key to this escrow public key (base64url) too.
        /// A base64url key may begin with `-`, so hyphen values are allowed.
        #[arg(long, allow_hyphen_values = true)]
        escrow_public_key: Option<String>,
    },
    /// TOTP enrolment.
    Totp {
        /// What to do.
        #[command(subcommand)]
        action: TotpCmd,
    },
    /// Sign in with password and TOTP; prints a session token for BEDSIDE_SESSION.
    Signin {
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The 6-digit code from the authenticator app.
        #[arg(long)]
        totp: String,
    },
    /// End every session of the profile.
    Lock,
    /// Profiles on this computer.
    Profiles,
    /// Patients.
    Patient {
        /// What to do.
        #[command(subcommand)]
        action: PatientCmd,
    },
    /// Appointments.
    Appointment {
        /// What to do.
        #[command(subcommand)]
        action: AppointmentCmd,
    },
    /// Visit notes.
    Note {
        /// What to do.
        #[command(subcommand)]
        action: NoteCmd,
    },
    /// The audit log.
    Audit {
        /// What to do.
        #[command(subcommand)]
        action: AuditCmd,
    },
    /// Password.
    Password {
        /// What to do.
        #[command(subcommand)]
        action: PasswordCmd,
    },
    /// Set a new password with the escrow private key (admin recovery).
    Recover {
        /// The escrow private key file.
        #[arg(long)]
        escrow_key: PathBuf,
        /// Read the new password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Invite links for appointments.
    Invite {
        /// What to do.
        #[command(subcommand)]
        action: InviteCmd,
    },
    /// The relay.
    Relay {
        /// What to do.
        #[command(subcommand)]
        action: RelayCmd,
    },
    /// Organisation policy.
    Policy {
        /// What to do.
        #[command(subcommand)]
        action: PolicyCmd,
    },
    /// Run a visit's waiting room from the terminal.
    Visit {
        /// What to do.
        #[command(subcommand)]
        action: VisitCmd,
    },
    /// The clinic's signing key (its public half goes to the relay).
    ClinicKey {
        /// What to do.
        #[command(subcommand)]
        action: ClinicKeyCmd,
    },
    /// Escrow keys.
    Escrow {
        /// What to do.
        #[command(subcommand)]
        action: EscrowCmd,
    },
}

/// `totp ...`
#[derive(Debug, Subcommand)]
pub enum TotpCmd {
    /// Turn TOTP on with a code from the authenticator app.
    Confirm {
        /// The 6-digit code.
        #[arg(long)]
        code: String,
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Show the pending enrolment again (otpauth:// URI, optional QR PNG).
    Show {
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Also write the QR code to this PNG file.
        #[arg(long)]
        qr: Option<PathBuf>,
    },
}

/// Patient fields.
#[derive(Debug, Args)]
pub struct PatientFields {
    /// Phone number.
    #[arg(long)]
    pub phone: Option<String>,
    /// E-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// Medical record number.
    #[arg(long)]
    pub mrn: Option<String>,
}

/// `patient ...`
#[derive(Debug, Subcommand)]
pub enum PatientCmd {
    /// Add a patient; prints the new id.
    Add {
        /// Full name.
        #[arg(long)]
        name: String,
        /// Date of birth, YYYY-MM-DD.
        #[arg(long)]
        dob: String,
        /// Optional fields.
        #[command(flatten)]
        fields: PatientFields,
    },
    /// List patients, optionally searching by name.
    List {
        /// Part of the name.
        #[arg(long)]
        search: Option<String>,
    },
    /// Show one patient.
    Show {
        /// Patient id.
        id: String,
    },
}

/// `appointment ...`
#[derive(Debug, Subcommand)]
pub enum AppointmentCmd {
    /// Book an appointment; prints the id.
    Add {
        /// Patient id.
        #[arg(long)]
        patient: String,
        /// Start: RFC 3339 (2026-12-01T09:00:00Z), or local time in --tz (2026-12-01T09:00).
        #[arg(long)]
        start: String,
        /// IANA time zone, e.g. Europe/London.
        #[arg(long)]
        tz: String,
        /// Duration: 20m, 1h, 1h30m.
        #[arg(long)]
        duration: String,
        /// Reason for the visit.
        #[arg(long)]
        reason: Option<String>,
        /// Book even if it overlaps another appointment.
        #[arg(long)]
        force: bool,
    },
    /// A day's (or week's) appointments.
    List {
        /// The day, YYYY-MM-DD.
        #[arg(long)]
        day: String,
        /// IANA time zone for the day (default: BEDSIDE_TZ or UTC).
        #[arg(long, env = "BEDSIDE_TZ", default_value = "UTC")]
        tz: String,
        /// The whole Monday-to-Sunday week containing the day.
        #[arg(long)]
        week: bool,
    },
    /// Show one appointment.
    Show {
        /// Appointment id.
        id: String,
    },
    /// Move an appointment.
    Reschedule {
        /// Appointment id.
        id: String,
        /// New start (as for add).
        #[arg(long)]
        start: String,
        /// Time zone for a local --start (default: the appointment's).
        #[arg(long)]
        tz: Option<String>,
        /// New duration.
        #[arg(long)]
        duration: Option<String>,
        /// Move even if it overlaps another appointment.
        #[arg(long)]
        force: bool,
    },
    /// Cancel an appointment.
    Cancel {
        /// Appointment id.
        id: String,
    },
    /// Mark a no-show.
    NoShow {
        /// Appointment id.
        id: String,
    },
}

/// `note ...`
#[derive(Debug, Subcommand)]
pub enum NoteCmd {
    /// Save a new version of the note from standard input.
    Set {
        /// Appointment id.
        appointment_id: String,
        /// Read the text from standard input.
        #[arg(long, required = true)]
        text_stdin: bool,
    },
    /// Show the latest version.
    Show {
        /// Appointment id.
        appointment_id: String,
    },
    /// Every version.
    History {
        /// Appointment id.
        appointment_id: String,
    },
}

/// `audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Recompute the hash chain: OK with the count, or the first broken link (exit 1).
    Verify,
    /// Every event (JSON lines; `--json` for one array).
    Export,
}

/// `password ...`
#[derive(Debug, Subcommand)]
pub enum PasswordCmd {
    /// Change the password: old, then new, one per line on standard input.
    Change {
        /// Read both passwords from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// `escrow ...`
#[derive(Debug, Subcommand)]
pub enum EscrowCmd {
    /// Make an escrow key pair: writes the private key file, prints the public key.
    Keygen {
        /// Where to write the private key (mode 0600). Keep it offline.
        #[arg(long)]
        private_out: PathBuf,
    },
}

/// `invite ...`
#[derive(Debug, Subcommand)]
pub enum InviteCmd {
    /// Create (or regenerate) the appointment's link; prints it. Earlier links stop working.
    Create {
        /// Appointment id.
        appointment_id: String,
        /// Relay origin, e.g. https://relay.example.org (default: BEDSIDE_RELAY, then the saved setting).
        #[arg(long, env = "BEDSIDE_RELAY")]
        relay: Option<String>,
    },
    /// Show the appointment's current link.
    Show {
        /// Appointment id.
        appointment_id: String,
    },
    /// Withdraw every link of the appointment.
    Revoke {
        /// Appointment id.
        appointment_id: String,
    },
}

/// `clinic-key ...`
#[derive(Debug, Subcommand)]
pub enum ClinicKeyCmd {
    /// Print the public key (base64url), creating the key pair on first use.
    Show,
}

/// `visit ...`
#[derive(Debug, Subcommand)]
pub enum VisitCmd {
    /// Connect to the relay as the clinician and print knocks and state changes as JSON lines.
    Host {
        /// Appointment id (its current invite link names the visit).
        appointment_id: String,
        /// Relay origin (default: the one in the invite link).
        #[arg(long)]
        relay: Option<String>,
        /// Admit the first knock that opens with this visit's secret.
        #[arg(long)]
        auto_admit: bool,
        /// Print the patient's name and date of birth in `knock` events and the
        /// text of `chat` events. Off by default: these lines often end up in files
        /// and terminals' scrollback, so they carry lengths instead.
        #[arg(long)]
        show_phi: bool,
        /// Answer the admitted patient's call with this media (`synthetic`: a
        /// test pattern and a tone; `devices`: camera and microphone).
        #[arg(long, value_enum)]
        media: Option<MediaArg>,
        /// With --media: end the call and exit 0 after this many seconds of connected media.
        #[arg(long, requires = "media")]
        duration: Option<u64>,
        /// With --media: write the call's stats as JSON to this file when the call ends.
        #[arg(long, requires = "media")]
        stats_json: Option<PathBuf>,
        /// With --media: local UDP address to bind (repeatable; default 0.0.0.0:0).
        #[arg(long = "udp-addr", requires = "media")]
        udp_addrs: Vec<std::net::SocketAddr>,
        /// With --media: video size and rate we send, `WIDTHxHEIGHT@FPS`.
        #[arg(long, requires = "media", default_value = "640x480@30")]
        video: String,
        /// With --media: which ICE candidates to use (`relay` = TURN only, with the
        /// credentials the relay hands out after admission).
        #[arg(long, value_enum, requires = "media", default_value = "all")]
        ice_policy: IcePolicyArg,
        /// With --media: use this TURN URL (`turn:HOST:PORT`, repeatable) instead of
        /// the relay's, with the relay's time-limited credentials (e.g. the same
        /// coturn at an address inside the clinic). No secret is needed here.
        #[arg(long = "turn-url", requires = "media")]
        turn_urls: Vec<String>,
        /// With --media devices: the microphone's id (default: the system's).
        #[arg(long, requires = "media")]
        microphone: Option<String>,
        /// With --media devices: the speaker's id (default: the system's).
        #[arg(long, requires = "media")]
        speaker: Option<String>,
        /// With --media devices: the camera's id (default: the first camera;
        /// none means an audio-only visit).
        #[arg(long, requires = "media")]
        camera: Option<String>,
    },
}

/// `--media`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MediaArg {
    /// Test pattern and tone.
    Synthetic,
    /// Camera and microphone.
    Devices,
}

/// `--ice-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IcePolicyArg {
    /// Host, server-reflexive and relay candidates.
    All,
    /// TURN relay candidates only.
    Relay,
}

/// `policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// The effective policy: every value with its source, and what was ignored.
    Show,
    /// Check a policy file (a JSON object of policy names to values); exit 1 on any problem.
    Validate {
        /// The file.
        file: PathBuf,
    },
    /// Make an organisation policy-signing key pair: writes the private key, prints the public key.
    Keygen {
        /// Where to write the private key (mode 0600). Keep it offline.
        #[arg(long)]
        private_out: PathBuf,
    },
    /// Sign a policy file into a bundle (printed on standard output).
    Sign {
        /// The policy file.
        file: PathBuf,
        /// The private key file from `policy keygen`.
        #[arg(long)]
        key: PathBuf,
        /// The bundle version; must grow with every bundle you publish.
        #[arg(long)]
        version: u64,
    },
    /// Write the admin templates (ADMX/ADML, .mobileconfig, Linux JSON example, JSON schema).
    Templates {
        /// The output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `relay ...`
#[derive(Debug, Subcommand)]
pub enum RelayCmd {
    /// Enrol this profile's clinic key with a relay, using the relay administrator's token.
    Enroll {
        /// Relay origin, e.g. https://relay.example.org.
        #[arg(long)]
        relay: String,
        /// Read the admin token from standard input.
        #[arg(long, required = true)]
        admin_token_stdin: bool,
    },
}
