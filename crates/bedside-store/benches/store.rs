//! Store benchmark (issue 1/5): the encrypted store (SQLCipher) against plain
//! SQLite with the same schema and the same repository code, in the same run;
//! then unlock (Argon2id + wrap) and the first day view after unlock.
//!
//! Run with `cargo xtask bench store` (= `cargo bench -p bedside-store --bench
//! store`). Options after `--`: `--rounds N` (default 3), `--quick` (a tenth
//! of the workload, for smoke tests only), `--json PATH` (append the result
//! line to a file). `BEDSIDE_BENCH_ENFORCE=1` makes a missed goal exit 1.
//!
//! Method, and why:
//! - The workload (10,000 patients, 50,000 appointments, then a mixed phase of
//!   day views, note edits and patient searches) is generated once from a
//!   fixed-seed xorshift, so both sides do identical work; the rows they read
//!   are counted and must match.
//! - Every write goes through the real repository code: one IMMEDIATE
//!   transaction with its audit event, `synchronous = FULL`.
//! - Plain and encrypted run side by side in one process: they take turns in
//!   chunks (250 writes, 100 mixed operations...), swapping who goes first, so
//!   both see the same background load. The box has 2 cores and other work on
//!   it; back-to-back whole runs differed by 2x, paired chunks do not.
//!   Rounds repeat the whole build in fresh directories; totals pool them.
//! - The full workload runs on tmpfs (`/dev/shm`). On this machine's disk
//!   every commit waits ~1–3 ms for fsync, so 60,000 durable commits would
//!   take minutes and hide the cipher's cost behind the disk: tmpfs is the
//!   strict comparison. The mixed phase is then repeated on copies on the
//!   real disk (the temp dir), which is what a clinician feels.
//! - Appointments are booked latest-first. `find_overlap` scans every active
//!   appointment that starts before the new one, so booking in time order is
//!   quadratic (50,000 would take minutes); the "booking after history" row
//!   measures that cost separately, as it is what a clinician with a year of
//!   history pays for each new booking.

use std::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bedside_store::{AppointmentId, NewAppointment, NewPatient, PatientId, Store};
use bedside_vault::{DbKey, KdfParams, KeychainSecret, Password, WrapFile, kdf};
use chrono::{DateTime, Duration as Span, NaiveDate, TimeZone, Utc};

type Res<T> = Result<T, Box<dyn Error>>;

/// Throughput goal: encrypted ops/s over plain ops/s.
const RATIO_GOAL: f64 = 0.90;
/// First day view after unlock, in milliseconds.
const FIRST_VIEW_GOAL_MS: f64 = 50.0;
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
/// Appointments start every 10 minutes (5–10 minutes long), so none overlap;
/// 50,000 of them cover 347 days.
const SLOT_MIN: i64 = 10;
const ZONES: [&str; 5] = [
    "Europe/London",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
];
const VIEW_TZ: &str = "Europe/London";
/// The 25-hour day (clocks go back) holds the most appointments in London.
const BUSY_DAY: (i32, u32, u32) = (2026, 10, 25);
const UNLOCK_REPEATS: usize = 5;

/// xorshift64*: tiny, deterministic, good enough to spread a workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Ana", "Ben", "Chloé", "David", "Élodie", "Fatima", "George", "Hana", "Ibrahim", "Jana",
    "Kofi", "Léa", "Mateo", "Nora", "Oscar", "Priya", "Quentin", "Rosa", "Søren", "Tomás", "Uma",
    "Victor", "Wei", "Ximena", "Yusuf", "Zoë", "Łukasz", "Amira", "Björn", "Siobhán",
];
const LAST: &[&str] = &[
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Taylor",
    "Davies",
    "Evans",
    "Müller",
    "Schmidt",
    "Dubois",
    "Moreau",
    "García",
    "Fernández",
    "Rossi",
    "Russo",
    "Nowak",
    "Kowalski",
    "Novák",
    "Jansen",
    "de Vries",
    "Andersson",
    "Nielsen",
    "O'Brien",
    "Murphy",
    "Kelly",
    "Patel",
    "Sharma",
    "Singh",
    "Khan",
    "Ahmed",
    "Nguyen",
    "Tran",
    "Kim",
    "Park",
    "Chen",
    "Wang",
    "Sato",
    "Suzuki",
    "Okafor",
    "Mensah",
];
const WORDS: &[&str] = &[
    "patient",
    "reports",
    "mild",
    "headache",
    "since",
    "monday",
    "no",
    "fever",
    "blood",
    "pressure",
    "stable",
    "review",
    "medication",
    "dose",
    "unchanged",
    "follow-up",
    "in",
    "two",
    "weeks",
    "advised",
    "rest",
    "fluids",
    "sleep",
    "improved",
    "discussed",
    "results",
    "plan",
    "refer",
    "physiotherapy",
    "knee",
    "pain",
    "on",
    "stairs",
    "mood",
    "better",
    "than",
    "last",
    "visit",
];
const REASONS: &[&str] = &[
    "follow-up",
    "new symptoms",
    "medication review",
    "test results",
    "repeat prescription",
    "mental health check-in",
];

/// What the mixed phase does, one operation at a time.
enum Op {
    DayView(NaiveDate),
    /// Index into the booked appointments, and the note text.
    Note(usize, String),
    Search(String),
}

/// The whole workload, generated once.
struct Workload {
    patients: Vec<NewPatient>,
    /// Appointments as (patient index, appointment); patient ids are
    /// filled in per run.
    appointments: Vec<(usize, NewAppointment)>,
    ops: Vec<Op>,
    /// Bookings after the last appointment (each one scans the history).
    bookings: Vec<(usize, NewAppointment)>,
    /// The London day the unlock phase views.
    busy_day: NaiveDate,
}

struct Sizes {
    patients: usize,
    appointments: usize,
    day_views: usize,
    note_edits: usize,
    searches: usize,
    bookings: usize,
}

impl Sizes {
    const FULL: Self = Self {
        patients: 10_000,
        appointments: 50_000,
        day_views: 2_000,
        note_edits: 1_000,
        searches: 500,
        bookings: 100,
    };
    const QUICK: Self = Self {
        patients: 1_000,
        appointments: 5_000,
        day_views: 200,
        note_edits: 100,
        searches: 50,
        bookings: 10,
    };
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn text(rng: &mut Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(if rng.below(12) == 0 { '.' } else { ' ' });
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    s
}

fn appointment(rng: &mut Rng, patients: usize, slot: i64) -> (usize, NewAppointment) {
    let p = rng.below(patients);
    let a = NewAppointment {
        // Replaced by the real id at booking time.
        patient: PatientId(0),
        start: base() + Span::minutes(slot * SLOT_MIN),
        tz: rng.pick(&ZONES).to_owned(),
        duration_min: [5, 8, 10][rng.below(3)],
        reason: (rng.below(10) < 7).then(|| rng.pick(REASONS).to_owned()),
    };
    (p, a)
}

impl Workload {
    fn generate(sizes: &Sizes) -> Res<Self> {
        let mut rng = Rng(SEED);
        let patients = (0..sizes.patients)
            .map(|i| {
                let name = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
                let dob = NaiveDate::from_ymd_opt(1930, 1, 1)
                    .ok_or("date")?
                    .checked_add_days(chrono::Days::new(rng.below(32_000) as u64))
                    .ok_or("date")?;
                Ok(NewPatient {
                    name,
                    dob: Some(dob),
                    phone: (rng.below(10) < 8)
                        .then(|| format!("+44 7700 {:06}", rng.below(1_000_000))),
                    email: (rng.below(10) < 6).then(|| format!("patient{i}@example.org")),
                    mrn: Some(format!("MRN-{:07}", i + 1)),
                })
            })
            .collect::<Res<Vec<_>>>()?;
        let appointments = (0..sizes.appointments as i64)
            .map(|slot| appointment(&mut rng, sizes.patients, slot))
            .collect();
        let bookings = (0..sizes.bookings as i64)
            .map(|i| appointment(&mut rng, sizes.patients, sizes.appointments as i64 + 1 + i))
            .collect();
        let days = (sizes.appointments as i64 * SLOT_MIN / (24 * 60)).max(1) as usize;
        let first_day = base().date_naive();
        let mut ops: Vec<Op> = Vec::new();
        for _ in 0..sizes.day_views {
            let d = first_day + Span::days(rng.below(days) as i64);
            ops.push(Op::DayView(d));
        }
        for _ in 0..sizes.note_edits {
            let words = 30 + rng.below(200);
            ops.push(Op::Note(
                rng.below(sizes.appointments),
                text(&mut rng, words),
            ));
        }
        for _ in 0..sizes.searches {
            let last = rng.pick(LAST).to_lowercase();
            let chars: Vec<char> = last.chars().collect();
            let len = (3 + rng.below(3)).min(chars.len());
            let at = rng.below(chars.len() - len + 1);
            ops.push(Op::Search(chars[at..at + len].iter().collect()));
        }
        // Fisher–Yates, so reads and writes interleave as in a clinic day.
        for i in (1..ops.len()).rev() {
            ops.swap(i, rng.below(i + 1));
        }
        let busy = NaiveDate::from_ymd_opt(BUSY_DAY.0, BUSY_DAY.1, BUSY_DAY.2).ok_or("date")?;
        // A shorter (quick) workload ends before the busy day: use its middle.
        let busy_day = if busy < first_day + Span::days(days as i64) {
            busy
        } else {
            first_day + Span::days(days as i64 / 2)
        };
        Ok(Self {
            patients,
            appointments,
            ops,
            bookings,
            busy_day,
        })
    }
}

#[derive(Clone, Copy, Default)]
struct Tally {
    ops: u64,
    secs: f64,
}

impl Tally {
    fn add(&mut self, ops: usize, d: Duration) {
        self.ops += ops as u64;
        self.secs += d.as_secs_f64();
    }

    fn rate(self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }

    fn plus(self, o: Self) -> Self {
        Self {
            ops: self.ops + o.ops,
            secs: self.secs + o.secs,
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Mixed {
    day_views: Tally,
    note_edits: Tally,
    searches: Tally,
    /// Rows read (and note versions), so the two sides can be shown to do
    /// the same work.
    rows: u64,
}

impl Mixed {
    fn total(&self) -> Tally {
        self.day_views.plus(self.note_edits).plus(self.searches)
    }

    fn plus(self, o: Self) -> Self {
        Self {
            day_views: self.day_views.plus(o.day_views),
            note_edits: self.note_edits.plus(o.note_edits),
            searches: self.searches.plus(o.searches),
            rows: self.rows + o.rows,
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Run {
    patients: Tally,
    appointments: Tally,
    mixed: Mixed,
    bookings: Tally,
}

impl Run {
    /// The workload the issue names: patients, appointments, mixed phase.
    fn overall(&self) -> Tally {
        self.patients
            .plus(self.appointments)
            .plus(self.mixed.total())
    }

    fn plus(self, o: Self) -> Self {
        Self {
            patients: self.patients.plus(o.patients),
            appointments: self.appointments.plus(o.appointments),
            mixed: self.mixed.plus(o.mixed),
            bookings: self.bookings.plus(o.bookings),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Plain,
    Encrypted,
}

const DB: &str = "bench.db";

/// One side of the comparison: its database and what it has booked.
struct Side {
    store: Store,
    dir: tempfile::TempDir,
    patients: Vec<PatientId>,
    appts: Vec<AppointmentId>,
    run: Run,
}

impl Side {
    /// Opens a fresh database in a new directory under `parent`, or a copy
    /// of `template`'s.
    fn new(variant: Variant, parent: &Path, key: &DbKey, template: Option<&Path>) -> Res<Self> {
        let dir = tempfile::Builder::new()
            .prefix("bedside-bench")
            .tempdir_in(parent)?;
        let path = dir.path().join(DB);
        if let Some(t) = template {
            std::fs::copy(t.join(DB), &path)?;
        }
        let store = match variant {
            Variant::Plain => Store::danger_open_unencrypted(&path, "bench")?,
            Variant::Encrypted => Store::open(&path, key, "bench")?,
        };
        Ok(Self {
            store,
            dir,
            patients: Vec::new(),
            appts: Vec::new(),
            run: Run::default(),
        })
    }

    /// Closes the store (checkpointing the WAL into the file) and keeps the
    /// directory as a template.
    fn close(self) -> Built {
        drop(self.store);
        Built {
            dir: self.dir,
            appts: self.appts,
        }
    }
}

/// A built, closed database.
struct Built {
    dir: tempfile::TempDir,
    appts: Vec<AppointmentId>,
}

/// Runs `f` over `0..n` in chunks, the two sides taking turns chunk by chunk
/// (and swapping who goes first), so both see the same background load.
fn paired(
    sides: &mut [Side; 2],
    n: usize,
    chunk: usize,
    mut f: impl FnMut(&mut Side, Range<usize>) -> Res<()>,
) -> Res<()> {
    let mut start = 0;
    let mut turn = 0;
    while start < n {
        let end = (start + chunk).min(n);
        for j in 0..2 {
            f(&mut sides[(j + turn) % 2], start..end)?;
        }
        start = end;
        turn += 1;
    }
    Ok(())
}

/// Part of the mixed phase, each operation timed on its own.
fn mixed(s: &mut Side, w: &Workload, range: Range<usize>) -> Res<()> {
    let m = &mut s.run.mixed;
    for op in &w.ops[range] {
        let t = Instant::now();
        match op {
            Op::DayView(d) => {
                m.rows += s.store.list_day(*d, VIEW_TZ)?.len() as u64;
                m.day_views.add(1, t.elapsed());
            }
            Op::Note(i, text) => {
                m.rows += s.store.set_note(s.appts[*i], text)? as u64;
                m.note_edits.add(1, t.elapsed());
            }
            Op::Search(needle) => {
                m.rows += s.store.search_patients(needle)?.len() as u64;
                m.searches.add(1, t.elapsed());
            }
        }
    }
    Ok(())
}

/// Builds the workload in two fresh databases under `parent`, plain and
/// encrypted side by side, and runs every phase.
fn run_full(parent: &Path, key: &DbKey, w: &Workload) -> Res<[Side; 2]> {
    let mut sides = [
        Side::new(Variant::Plain, parent, key, None)?,
        Side::new(Variant::Encrypted, parent, key, None)?,
    ];
    paired(&mut sides, w.patients.len(), 250, |s, r| {
        let t = Instant::now();
        for p in &w.patients[r.clone()] {
            let id = s.store.add_patient(p)?;
            s.patients.push(id);
        }
        s.run.patients.add(r.len(), t.elapsed());
        Ok(())
    })?;

    // Latest first: see the module docs on `find_overlap`.
    let n = w.appointments.len();
    for s in &mut sides {
        s.appts = vec![AppointmentId(0); n];
    }
    paired(&mut sides, n, 250, |s, r| {
        let t = Instant::now();
        for j in r.clone() {
            let i = n - 1 - j;
            let (p, a) = &w.appointments[i];
            let a = NewAppointment {
                patient: s.patients[*p],
                ..a.clone()
            };
            s.appts[i] = s.store.add_appointment(&a, false)?;
        }
        s.run.appointments.add(r.len(), t.elapsed());
        Ok(())
    })?;

    paired(&mut sides, w.ops.len(), 100, |s, r| mixed(s, w, r))?;

    paired(&mut sides, w.bookings.len(), 10, |s, r| {
        let t = Instant::now();
        for (p, a) in &w.bookings[r.clone()] {
            let a = NewAppointment {
                patient: s.patients[*p],
                ..a.clone()
            };
            s.store.add_appointment(&a, false)?;
        }
        s.run.bookings.add(r.len(), t.elapsed());
        Ok(())
    })?;
    Ok(sides)
}

/// Re-runs the mixed phase on copies of the built databases on the real disk.
fn run_durable(built: &[Built; 2], disk: &Path, key: &DbKey, w: &Workload) -> Res<[Mixed; 2]> {
    let mut sides = [
        Side::new(Variant::Plain, disk, key, Some(built[0].dir.path()))?,
        Side::new(Variant::Encrypted, disk, key, Some(built[1].dir.path()))?,
    ];
    for (s, b) in sides.iter_mut().zip(built) {
        s.appts.clone_from(&b.appts);
    }
    paired(&mut sides, w.ops.len(), 50, |s, r| mixed(s, w, r))?;
    Ok([sides[0].run.mixed, sides[1].run.mixed])
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Unlock {
    params: KdfParams,
    tune_ms: f64,
    /// Argon2id at the tuned memory: (passes, median ms).
    per_passes: Vec<(u32, f64)>,
    seal_ms: f64,
    open_ms: Vec<f64>,
    store_open_ms: Vec<f64>,
    first_view_ms: Vec<f64>,
    first_view_rows: usize,
    second_view_ms: f64,
    plain_first_view_ms: Vec<f64>,
    /// [`SETTINGS`] as (plain, encrypted).
    settings: Vec<(String, String)>,
}

/// Pragmas printed with the results, to show both sides run alike.
const SETTINGS: [&str; 9] = [
    "cipher_version",
    "cipher_provider",
    "cipher_provider_version",
    "page_size",
    "cache_size",
    "mmap_size",
    "journal_mode",
    "synchronous",
    "secure_delete",
];

fn settings(s: &Store) -> Vec<String> {
    SETTINGS
        .iter()
        .map(|n| s.pragma(n).unwrap_or_else(|_| "-".to_owned()))
        .collect()
}

/// Unlock as the app does it: Argon2id + HKDF + AES-GCM opens the wrap, the
/// key opens the store (a copy on the real disk), the first day view decrypts
/// what it reads. The file is in the OS page cache (it was just copied), as it
/// usually is when a clinician unlocks again; SQLCipher's own cache is cold.
fn unlock(templates: [&Path; 2], disk: &Path, key: &DbKey, day: NaiveDate) -> Res<Unlock> {
    let dir = tempfile::Builder::new()
        .prefix("bedside-bench-unlock")
        .tempdir_in(disk)?;
    let (enc, plain) = (dir.path().join("enc.db"), dir.path().join("plain.db"));
    std::fs::copy(templates[1].join(DB), &enc)?;
    std::fs::copy(templates[0].join(DB), &plain)?;

    let t = Instant::now();
    let params = KdfParams::tune()?;
    let tune_ms = ms(t.elapsed());

    // How Argon2id's cost grows with passes at the tuned memory, to check
    // that `tune`'s one-pass probe extrapolates.
    let mut per_passes = Vec::new();
    for t_cost in [1, 2, 4] {
        let p = KdfParams { t_cost, ..params };
        let times = (0..3)
            .map(|_| {
                let t = Instant::now();
                kdf::argon2id(&Password::new("calibration"), &[0u8; 16], &p)?;
                Ok(ms(t.elapsed()))
            })
            .collect::<Res<Vec<f64>>>()?;
        per_passes.push((t_cost, median(times)));
    }

    let password = Password::new("correct horse battery staple");
    let keychain = KeychainSecret::generate()?;
    let t = Instant::now();
    let wrap = WrapFile::seal(key, &password, &keychain, params, None)?;
    let seal_ms = ms(t.elapsed());

    let mut out = Unlock {
        params,
        tune_ms,
        per_passes,
        seal_ms,
        open_ms: Vec::new(),
        store_open_ms: Vec::new(),
        first_view_ms: Vec::new(),
        first_view_rows: 0,
        second_view_ms: 0.0,
        plain_first_view_ms: Vec::new(),
        settings: Vec::new(),
    };
    let mut enc_settings = Vec::new();
    for _ in 0..UNLOCK_REPEATS {
        let t = Instant::now();
        let unwrapped = wrap.open(&password, &keychain)?;
        out.open_ms.push(ms(t.elapsed()));
        if unwrapped != *key {
            return Err("the wrap returned a different key".into());
        }
        let t = Instant::now();
        let store = Store::open(&enc, &unwrapped, "bench")?;
        out.store_open_ms.push(ms(t.elapsed()));
        let t = Instant::now();
        out.first_view_rows = store.list_day(day, VIEW_TZ)?.len();
        out.first_view_ms.push(ms(t.elapsed()));
        let t = Instant::now();
        store.list_day(day, VIEW_TZ)?;
        out.second_view_ms = ms(t.elapsed());
        enc_settings = settings(&store);
    }
    for _ in 0..UNLOCK_REPEATS {
        let store = Store::danger_open_unencrypted(&plain, "bench")?;
        let t = Instant::now();
        store.list_day(day, VIEW_TZ)?;
        out.plain_first_view_ms.push(ms(t.elapsed()));
        out.settings = settings(&store)
            .into_iter()
            .zip(enc_settings.clone())
            .collect();
    }
    Ok(out)
}

struct Args {
    rounds: usize,
    quick: bool,
    json: Option<PathBuf>,
    /// Run the full workload on the real disk too (durable commits; minutes).
    full_on_disk: bool,
}

fn args() -> Res<Args> {
    let mut a = Args {
        rounds: 3,
        quick: false,
        json: None,
        full_on_disk: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // `cargo bench` passes this to every bench binary.
            "--bench" => {}
            "--quick" => a.quick = true,
            "--full-on-disk" => a.full_on_disk = true,
            "--rounds" => {
                a.rounds = it.next().ok_or("--rounds needs a number")?.parse()?;
                if a.rounds == 0 {
                    return Err("--rounds must be at least 1".into());
                }
            }
            "--json" => a.json = Some(it.next().ok_or("--json needs a path")?.into()),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    match bench() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench store: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ratio(p: Tally, e: Tally) -> f64 {
    if p.rate() > 0.0 {
        e.rate() / p.rate()
    } else {
        0.0
    }
}

type Row<T> = (&'static str, fn(&T) -> Tally);

fn bench() -> Res<bool> {
    let args = args()?;
    let sizes = if args.quick {
        Sizes::QUICK
    } else {
        Sizes::FULL
    };
    let started = Instant::now();
    let mem = Path::new("/dev/shm");
    let mem = if mem.is_dir() && !args.full_on_disk {
        mem.to_owned()
    } else {
        std::env::temp_dir()
    };
    let disk = std::env::temp_dir();
    println!(
        "bench store: {} patients, {} appointments, mixed phase {} day views / {} note edits / {} searches, \
         {} bookings after history; {} round(s); full workload in {}, mixed phase again on disk in {}",
        sizes.patients,
        sizes.appointments,
        sizes.day_views,
        sizes.note_edits,
        sizes.searches,
        sizes.bookings,
        args.rounds,
        mem.display(),
        disk.display()
    );
    let w = Workload::generate(&sizes)?;
    let key = DbKey::generate()?;

    // Each round builds both databases side by side; totals pool the rounds.
    let mut full = [Run::default(); 2];
    let mut round_ratios = Vec::new();
    let mut rows = std::collections::BTreeSet::new();
    let mut built: Option<[Built; 2]> = None;
    for round in 0..args.rounds {
        let [p, e] = run_full(&mem, &key, &w)?;
        let r = ratio(p.run.overall(), e.run.overall());
        println!(
            "  round {}: overall plain {:.0} ops/s ({:.1} s), encrypted {:.0} ops/s ({:.1} s), ratio {r:.3}",
            round + 1,
            p.run.overall().rate(),
            p.run.overall().secs,
            e.run.overall().rate(),
            e.run.overall().secs,
        );
        round_ratios.push(r);
        full = [full[0].plus(p.run), full[1].plus(e.run)];
        rows.extend([p.run.mixed.rows, e.run.mixed.rows]);
        built = Some([p.close(), e.close()]);
    }
    if rows.len() != 1 {
        return Err(format!("the sides read different numbers of rows: {rows:?}").into());
    }
    let built = built.ok_or("no rounds ran")?;

    let mut durable = [Mixed::default(); 2];
    for round in 0..args.rounds {
        let [p, e] = run_durable(&built, &disk, &key, &w)?;
        println!(
            "  disk round {}: mixed plain {:.0} ops/s, encrypted {:.0} ops/s, ratio {:.3}",
            round + 1,
            p.total().rate(),
            e.total().rate(),
            ratio(p.total(), e.total())
        );
        durable = [durable[0].plus(p), durable[1].plus(e)];
    }

    let u = unlock(
        [built[0].dir.path(), built[1].dir.path()],
        &disk,
        &key,
        w.busy_day,
    )?;

    // The table.
    let full_rows: [Row<Run>; 8] = [
        ("patients (add)", |r| r.patients),
        ("appointments (add)", |r| r.appointments),
        ("day views", |r| r.mixed.day_views),
        ("note edits", |r| r.mixed.note_edits),
        ("patient searches", |r| r.mixed.searches),
        ("mixed phase", |r| r.mixed.total()),
        ("overall", Run::overall),
        ("booking after history", |r| r.bookings),
    ];
    let disk_rows: [Row<Mixed>; 4] = [
        ("day views", |m| m.day_views),
        ("note edits", |m| m.note_edits),
        ("patient searches", |m| m.searches),
        ("mixed phase", Mixed::total),
    ];
    let mut json_phases = serde_json::Map::new();
    println!();
    println!(
        "{:<32}{:>14}{:>16}{:>9}",
        "phase (all rounds)", "plain ops/s", "encrypted ops/s", "ratio"
    );
    let mut line = |label: String, p: Tally, e: Tally| {
        let r = ratio(p, e);
        println!("{label:<32}{:>14.1}{:>16.1}{r:>9.3}", p.rate(), e.rate());
        json_phases.insert(
            label,
            serde_json::json!({
                "ops": p.ops, "plain_s": p.secs, "encrypted_s": e.secs,
                "plain_ops_s": p.rate(), "encrypted_ops_s": e.rate(), "ratio": r,
            }),
        );
        r
    };
    let mut overall = 0.0;
    for (label, f) in full_rows {
        let place = if args.full_on_disk { "disk" } else { "tmpfs" };
        let r = line(format!("{place}: {label}"), f(&full[0]), f(&full[1]));
        if label == "overall" {
            overall = r;
        }
    }
    let mut durable_ratio = 0.0;
    for (label, f) in disk_rows {
        durable_ratio = line(format!("disk: {label}"), f(&durable[0]), f(&durable[1]));
    }

    let first_view = median(u.first_view_ms.clone());
    let first_view_max = u.first_view_ms.iter().copied().fold(0.0, f64::max);
    let open_med = median(u.open_ms.clone());
    let store_open = median(u.store_open_ms.clone());
    println!();
    println!("overall ratio per round: {}", fmt_list(&round_ratios, 3));
    println!(
        "pragmas (plain / encrypted): {}",
        SETTINGS
            .iter()
            .zip(&u.settings)
            .map(|(n, (p, e))| if p == e {
                format!("{n} {p}")
            } else {
                format!("{n} {p} / {e}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "KdfParams::tune: {:.0} ms -> m = {} MiB, t = {}, p = {}",
        u.tune_ms,
        u.params.m_cost_kib / 1024,
        u.params.t_cost,
        u.params.p_cost
    );
    println!(
        "Argon2id at {} MiB by passes (median of 3): {}",
        u.params.m_cost_kib / 1024,
        u.per_passes
            .iter()
            .map(|(t, ms)| format!("t={t} {ms:.0} ms"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("WrapFile::seal: {:.0} ms", u.seal_ms);
    println!(
        "unlock (WrapFile::open, median of {UNLOCK_REPEATS}): {open_med:.0} ms  [{}]",
        fmt_list(&u.open_ms, 0)
    );
    println!(
        "Store::open, {} appointments, encrypted (median): {store_open:.1} ms  [{}]",
        sizes.appointments,
        fmt_list(&u.store_open_ms, 1)
    );
    println!(
        "first day view after unlock, {} rows on {} (median / max): {first_view:.1} / {first_view_max:.1} ms  [{}]; \
         second view {:.1} ms; plain first view (median) {:.1} ms",
        u.first_view_rows,
        w.busy_day,
        fmt_list(&u.first_view_ms, 1),
        u.second_view_ms,
        median(u.plain_first_view_ms.clone())
    );
    println!(
        "unlock to first day view (sum of medians): {:.0} ms",
        open_med + store_open + first_view
    );
    let ratio_ok = overall >= RATIO_GOAL;
    let view_ok = first_view < FIRST_VIEW_GOAL_MS;
    println!(
        "goals: overall ratio {overall:.3} {} {RATIO_GOAL}; first day view {first_view:.1} ms {} {FIRST_VIEW_GOAL_MS} ms; \
         bench took {:.0} s",
        if ratio_ok { ">=" } else { "<" },
        if view_ok { "<" } else { ">=" },
        started.elapsed().as_secs_f64()
    );

    let json = serde_json::json!({
        "bench": "store",
        "quick": args.quick,
        "rounds": args.rounds,
        "sizes": {
            "patients": sizes.patients,
            "appointments": sizes.appointments,
            "day_views": sizes.day_views,
            "note_edits": sizes.note_edits,
            "searches": sizes.searches,
            "bookings": sizes.bookings,
        },
        "phases": json_phases,
        "overall_ratio": overall,
        "overall_ratio_per_round": round_ratios,
        "durable_mixed_ratio": durable_ratio,
        "kdf": {
            "tune_ms": u.tune_ms,
            "m_cost_kib": u.params.m_cost_kib,
            "t_cost": u.params.t_cost,
            "p_cost": u.params.p_cost,
            "seal_ms": u.seal_ms,
            "argon2id_ms_by_passes": u.per_passes,
            "unlock_ms": u.open_ms,
            "unlock_median_ms": open_med,
        },
        "store_open_ms": u.store_open_ms,
        "first_day_view_ms": u.first_view_ms,
        "first_day_view_median_ms": first_view,
        "first_day_view_rows": u.first_view_rows,
        "plain_first_day_view_ms": u.plain_first_view_ms,
        "pragmas": SETTINGS.iter().zip(&u.settings)
            .map(|(n, (p, e))| (n.to_string(), serde_json::json!([p, e])))
            .collect::<serde_json::Map<_, _>>(),
        "goals": { "ratio": RATIO_GOAL, "first_day_view_ms": FIRST_VIEW_GOAL_MS,
                   "ratio_met": ratio_ok, "first_day_view_met": view_ok },
        "total_s": started.elapsed().as_secs_f64(),
    });
    println!("{json}");
    if let Some(path) = &args.json {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(f, "{json}")?;
    }

    let enforce = std::env::var("BEDSIDE_BENCH_ENFORCE").is_ok_and(|v| v == "1");
    if enforce && !(ratio_ok && view_ok) {
        eprintln!("bench store: a goal was missed (BEDSIDE_BENCH_ENFORCE=1)");
        return Ok(false);
    }
    Ok(true)
}

fn fmt_list(v: &[f64], decimals: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.decimals$}"))
        .collect::<Vec<_>>()
        .join(", ")
}
