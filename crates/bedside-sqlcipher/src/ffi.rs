//! SQLCipher's C provider interface: the `sqlcipher_provider` table of
//! function pointers, the callbacks that turn its pointers into slices for
//! [`crate::crypto`], and registration.
//!
//! **Boundary:** the only module in this crate with `unsafe` code. Every
//! callback checks each pointer and length before making a slice, refuses
//! overlapping buffers, catches panics, and answers `SQLITE_ERROR` to bad
//! input; none keeps state between calls.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use rusqlite::ffi::{SQLITE_ERROR, SQLITE_OK};

use crate::RegisterError;
use crate::crypto::{self, BLOCK_LEN, Digest, Failed, IV_LEN, KEY_LEN, Mode};

/// `struct sqlcipher_provider` from SQLCipher 4.20's `sqlcipher.h`, field
/// for field and in the same order.
#[repr(C)]
pub(crate) struct Provider {
    init: Option<unsafe extern "C" fn() -> c_int>,
    shutdown: Option<unsafe extern "C" fn()>,
    get_provider_name: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    add_random: Option<unsafe extern "C" fn(*mut c_void, *const c_void, c_int) -> c_int>,
    random: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int>,
    hmac: Option<HmacFn>,
    kdf: Option<KdfFn>,
    cipher: Option<CipherFn>,
    get_cipher: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    get_key_sz: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_iv_sz: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_block_sz: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_hmac_sz: Option<unsafe extern "C" fn(*mut c_void, c_int) -> c_int>,
    ctx_init: Option<unsafe extern "C" fn(*mut *mut c_void) -> c_int>,
    ctx_free: Option<unsafe extern "C" fn(*mut *mut c_void) -> c_int>,
    fips_status: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_provider_version: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    next: *mut Provider,
}

type HmacFn = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    *const u8,
    c_int,
    *const u8,
    c_int,
    *const u8,
    c_int,
    *mut u8,
) -> c_int;
type KdfFn = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    *const u8,
    c_int,
    *const u8,
    c_int,
    c_int,
    c_int,
    *mut u8,
) -> c_int;
type CipherFn = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    *const u8,
    c_int,
    *const u8,
    *const u8,
    c_int,
    *mut u8,
) -> c_int;

// Non-static functions of the SQLCipher amalgamation that libsqlite3-sys
// compiles into the binary (rusqlite's `bundled-sqlcipher*` features).
unsafe extern "C" {
    fn sqlcipher_register_provider(p: *mut Provider) -> c_int;
    fn sqlcipher_get_provider() -> *mut Provider;
    fn sqlcipher_malloc(size: u64) -> *mut c_void;
    fn sqlcipher_free(p: *mut c_void, size: u64);
    fn sqlcipher_extra_init(arg: *const c_char) -> c_int;
}

const NAME: &CStr = c"bedside";
const CIPHER: &CStr = c"AES-256-CBC";
const VERSION: &CStr = match CStr::from_bytes_with_nul(
    concat!(
        "bedside-sqlcipher ",
        env!("CARGO_PKG_VERSION"),
        " (ring: HMAC, PBKDF2, OS random; RustCrypto aes + cbc: AES-256-CBC)\0"
    )
    .as_bytes(),
) {
    Ok(v) => v,
    Err(_) => panic!("the version string ends in one NUL"),
};

/// The provider table Bedside registers. SQLCipher links `next` itself.
const fn table() -> Provider {
    Provider {
        init: None,
        shutdown: None,
        get_provider_name: Some(get_provider_name),
        add_random: Some(add_random),
        random: Some(random),
        hmac: Some(hmac),
        kdf: Some(kdf),
        cipher: Some(cipher),
        get_cipher: Some(get_cipher),
        get_key_sz: Some(get_key_sz),
        get_iv_sz: Some(get_iv_sz),
        get_block_sz: Some(get_block_sz),
        get_hmac_sz: Some(get_hmac_sz),
        ctx_init: Some(ctx_init),
        ctx_free: Some(ctx_free),
        fips_status: Some(fips_status),
        get_provider_version: Some(get_provider_version),
        next: ptr::null_mut(),
    }
}

/// The provider name SQLCipher reports for `PRAGMA cipher_provider`.
pub(crate) fn name() -> &'static str {
    // A literal of ASCII letters.
    NAME.to_str().unwrap_or("bedside")
}

/// Makes this provider SQLCipher's default unless it already is. The caller
/// serialises calls (see [`crate::register`]).
pub(crate) fn register_if_needed() -> Result<(), RegisterError> {
    // SAFETY: sqlite3_initialize may be called any number of times from any
    // thread; the first call runs SQLCipher's own set-up (mutexes, private
    // heap, the OpenSSL provider), but see below.
    let rc = unsafe { rusqlite::ffi::sqlite3_initialize() };
    if rc != SQLITE_OK {
        return Err(RegisterError::Initialize(rc));
    }
    // SQLite marks itself initialised before it runs SQLCipher's set-up
    // (SQLITE_EXTRA_INIT, outside SQLite's init mutex), so the call above
    // returns early on a thread that races another thread's first call,
    // while SQLCipher's private heap and default provider are half made.
    // SQLCipher's set-up runs under SQLite's main mutex and returns at once
    // when already done: calling it again waits for the other thread's.
    // SAFETY: SQLite is initialised (checked above), so its main mutex,
    // which this function takes first, exists; the argument is unused
    // (SQLite itself passes NULL).
    let rc = unsafe { sqlcipher_extra_init(ptr::null()) };
    if rc != SQLITE_OK {
        return Err(RegisterError::Initialize(rc));
    }
    if default_is_ours() {
        return Ok(());
    }
    let size = std::mem::size_of::<Provider>() as u64;
    // SAFETY: SQLCipher frees every registered provider at shutdown with
    // sqlcipher_free(p, sizeof(sqlcipher_provider)), so the table must come
    // from its allocator. The call takes a size and returns memory or NULL.
    let p = unsafe { sqlcipher_malloc(size) }.cast::<Provider>();
    if p.is_null() {
        return Err(RegisterError::NoMemory);
    }
    if !p.is_aligned() {
        // SAFETY: p came from sqlcipher_malloc with this size and was not
        // handed to SQLCipher.
        unsafe { sqlcipher_free(p.cast(), size) };
        return Err(RegisterError::NoMemory);
    }
    // SAFETY: p is non-null, aligned (checked above) and points to `size`
    // writable bytes that nothing else references yet; `write` initialises
    // the whole table without reading the old bytes.
    unsafe { p.write(table()) };
    // SAFETY: p is a fully initialised table whose function pointers live
    // for the whole program; SQLCipher takes ownership (it links `next` and
    // frees the table at shutdown).
    let rc = unsafe { sqlcipher_register_provider(p) };
    if rc != SQLITE_OK {
        // SAFETY: registration failed, so SQLCipher did not keep p (it only
        // links a provider whose `init`, here none, succeeded).
        unsafe { sqlcipher_free(p.cast(), size) };
        return Err(RegisterError::Register(rc));
    }
    Ok(())
}

/// Whether SQLCipher's current default provider is this one, by its name.
fn default_is_ours() -> bool {
    // SAFETY: reads SQLCipher's default-provider pointer, set during
    // sqlite3_initialize (done by the caller) and changed only by
    // registration, which the caller serialises.
    let current = unsafe { sqlcipher_get_provider() };
    if current.is_null() {
        return false;
    }
    // SAFETY: a non-null default provider is a table SQLCipher keeps alive
    // until shutdown; reading one field of it is sound.
    let Some(get_name) = (unsafe { (*current).get_provider_name }) else {
        return false;
    };
    // SAFETY: every provider's get_provider_name ignores or accepts a NULL
    // context (SQLCipher's own ones ignore it) and returns a static C string.
    let name = unsafe { get_name(ptr::null_mut()) };
    // SAFETY: checked non-null; a provider name is a NUL-terminated static.
    !name.is_null() && unsafe { CStr::from_ptr(name) } == NAME
}

/// Runs a callback body, mapping its failure — or a panic, which must not
/// cross into C — to `SQLITE_ERROR`.
fn guard(f: impl FnOnce() -> Result<(), Failed>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => SQLITE_OK,
        _ => SQLITE_ERROR,
    }
}

fn len(n: c_int) -> Result<usize, Failed> {
    usize::try_from(n).map_err(|_| Failed)
}

/// Whether `[a, a+a_len)` and `[b, b+b_len)` share a byte.
fn overlap(a: *const u8, a_len: usize, b: *const u8, b_len: usize) -> bool {
    let (a, b) = (a as usize, b as usize);
    a_len > 0 && b_len > 0 && a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

/// A readable slice from SQLCipher; NULL is refused.
///
/// # Safety
/// When non-null, `p` must point to `n` readable bytes that stay unchanged
/// for `'a`.
unsafe fn input<'a>(p: *const u8, n: usize) -> Result<&'a [u8], Failed> {
    if p.is_null() {
        return Err(Failed);
    }
    // SAFETY: non-null, and the caller guarantees n readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// A writable slice from SQLCipher; NULL is refused.
///
/// # Safety
/// When non-null, `p` must point to `n` writable bytes that nothing else
/// reads or writes for `'a`.
unsafe fn output<'a>(p: *mut u8, n: usize) -> Result<&'a mut [u8], Failed> {
    if p.is_null() {
        return Err(Failed);
    }
    // SAFETY: non-null, and the caller guarantees n exclusive writable bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

unsafe extern "C" fn get_provider_name(_ctx: *mut c_void) -> *const c_char {
    NAME.as_ptr()
}

unsafe extern "C" fn get_provider_version(_ctx: *mut c_void) -> *const c_char {
    VERSION.as_ptr()
}

unsafe extern "C" fn get_cipher(_ctx: *mut c_void) -> *const c_char {
    CIPHER.as_ptr()
}

/// Entropy offered by `PRAGMA cipher_add_random`. The OS generator needs
/// none; it is accepted and ignored.
unsafe extern "C" fn add_random(_ctx: *mut c_void, _buf: *const c_void, _n: c_int) -> c_int {
    SQLITE_OK
}

/// Random bytes: per-page IVs, the database salt.
unsafe extern "C" fn random(_ctx: *mut c_void, buf: *mut c_void, n: c_int) -> c_int {
    guard(|| {
        let n = len(n)?;
        // SAFETY: SQLCipher passes a buffer of n writable bytes (the page
        // reserve or the salt) that it does not touch during the call.
        let out = unsafe { output(buf.cast(), n) }?;
        crypto::random(out)
    })
}

/// The page MAC: `out = HMAC(key, in ‖ in2)`; `in2` may be NULL.
unsafe extern "C" fn hmac(
    _ctx: *mut c_void,
    algorithm: c_int,
    key: *const u8,
    key_sz: c_int,
    in1: *const u8,
    in1_sz: c_int,
    in2: *const u8,
    in2_sz: c_int,
    out: *mut u8,
) -> c_int {
    guard(|| {
        let digest = Digest::from_sqlcipher(algorithm)?;
        let (key_sz, in1_sz, out_sz) = (len(key_sz)?, len(in1_sz)?, digest.output_len());
        let in2_sz = if in2.is_null() { 0 } else { len(in2_sz)? };
        if overlap(out, out_sz, key, key_sz)
            || overlap(out, out_sz, in1, in1_sz)
            || overlap(out, out_sz, in2, in2_sz)
        {
            return Err(Failed);
        }
        // SAFETY: SQLCipher passes its key buffer of key_sz bytes, the page
        // (in1_sz bytes), the 4-byte page number and an output of the MAC
        // size it asked for with get_hmac_sz; the output overlaps none of
        // them (checked above) and nothing else touches them meanwhile.
        let (key, in1, out) = unsafe {
            (
                input(key, key_sz)?,
                input(in1, in1_sz)?,
                output(out, out_sz)?,
            )
        };
        let in2 = if in2.is_null() {
            None
        } else {
            // SAFETY: as above, in2_sz readable bytes.
            Some(unsafe { input(in2, in2_sz) }?)
        };
        crypto::hmac(digest, key, in1, in2, out)
    })
}

/// PBKDF2-HMAC: the key from a passphrase, and the HMAC key from the
/// encryption key (SQLCipher does the latter even for raw keys).
unsafe extern "C" fn kdf(
    _ctx: *mut c_void,
    algorithm: c_int,
    pass: *const u8,
    pass_sz: c_int,
    salt: *const u8,
    salt_sz: c_int,
    workfactor: c_int,
    key_sz: c_int,
    key: *mut u8,
) -> c_int {
    guard(|| {
        let digest = Digest::from_sqlcipher(algorithm)?;
        let iterations = u32::try_from(workfactor).map_err(|_| Failed)?;
        let (pass_sz, salt_sz, key_sz) = (len(pass_sz)?, len(salt_sz)?, len(key_sz)?);
        if overlap(key, key_sz, pass, pass_sz) || overlap(key, key_sz, salt, salt_sz) {
            return Err(Failed);
        }
        // SAFETY: SQLCipher passes the passphrase (or key) and salt buffers
        // with their sizes and an output of key_sz bytes, not overlapping
        // the inputs (checked above).
        let (pass, salt, key) = unsafe {
            (
                input(pass, pass_sz)?,
                input(salt, salt_sz)?,
                output(key, key_sz)?,
            )
        };
        crypto::pbkdf2(digest, iterations, salt, pass, key)
    })
}

/// AES-256-CBC, no padding, over one page's data.
unsafe extern "C" fn cipher(
    _ctx: *mut c_void,
    mode: c_int,
    key: *const u8,
    key_sz: c_int,
    iv: *const u8,
    in1: *const u8,
    in_sz: c_int,
    out: *mut u8,
) -> c_int {
    guard(|| {
        let mode = Mode::from_sqlcipher(mode)?;
        let (key_sz, n) = (len(key_sz)?, len(in_sz)?);
        if key_sz != KEY_LEN || overlap(out, n, key, key_sz) || overlap(out, n, iv, IV_LEN) {
            return Err(Failed);
        }
        // SAFETY: SQLCipher passes its key (key_sz bytes) and the page IV
        // (IV_LEN bytes, the provider's get_iv_sz), neither overlapping the
        // output (checked above).
        let (key, iv) = unsafe { (input(key, key_sz)?, input(iv, IV_LEN)?) };
        if ptr::eq(in1, out) {
            // SAFETY: input and output are the same n bytes, used in place.
            let buf = unsafe { output(out, n) }?;
            crypto::aes_256_cbc_in_place(mode, key, iv, buf)
        } else if overlap(in1, n, out, n) {
            Err(Failed)
        } else {
            // SAFETY: SQLCipher passes the page (n bytes) and a separate
            // output buffer of n bytes; they do not overlap (checked above).
            let (src, dst) = unsafe { (input(in1, n)?, output(out, n)?) };
            crypto::aes_256_cbc(mode, key, iv, src, dst)
        }
    })
}

unsafe extern "C" fn get_key_sz(_ctx: *mut c_void) -> c_int {
    KEY_LEN as c_int
}

unsafe extern "C" fn get_iv_sz(_ctx: *mut c_void) -> c_int {
    IV_LEN as c_int
}

unsafe extern "C" fn get_block_sz(_ctx: *mut c_void) -> c_int {
    BLOCK_LEN as c_int
}

unsafe extern "C" fn get_hmac_sz(_ctx: *mut c_void, algorithm: c_int) -> c_int {
    Digest::from_sqlcipher(algorithm).map_or(0, |d| d.output_len() as c_int)
}

/// The provider keeps no per-database state: the context stays NULL.
unsafe extern "C" fn ctx_init(ctx: *mut *mut c_void) -> c_int {
    if ctx.is_null() {
        return SQLITE_ERROR;
    }
    // SAFETY: SQLCipher passes the address of its codec's context slot.
    unsafe { ctx.write(ptr::null_mut()) };
    SQLITE_OK
}

unsafe extern "C" fn ctx_free(_ctx: *mut *mut c_void) -> c_int {
    SQLITE_OK
}

unsafe extern "C" fn fips_status(_ctx: *mut c_void) -> c_int {
    0
}

/// Test helpers: find SQLCipher's registered providers and choose the
/// default, so one process can compare this provider with OpenSSL's.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::PoisonError;

    use super::*;

    /// A registered provider, by name.
    pub(crate) fn find(name: &str) -> Option<&'static Provider> {
        let _serial = crate::REGISTRY
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        find_locked(name).map(|p| {
            // SAFETY: registered tables live until SQLite shuts down, which
            // these tests never do.
            unsafe { &*p }
        })
    }

    fn find_locked(name: &str) -> Option<*mut Provider> {
        // SAFETY: as in default_is_ours; the list changes only under
        // REGISTRY, which the caller holds.
        let mut p = unsafe { sqlcipher_get_provider() };
        while !p.is_null() {
            // SAFETY: p is a live registered table (see above).
            let table = unsafe { &*p };
            let get_name = table.get_provider_name?;
            // SAFETY: provider names are static C strings; the context is
            // unused by SQLCipher's providers and by this one.
            let n = unsafe { CStr::from_ptr(get_name(ptr::null_mut())) };
            if n.to_bytes() == name.as_bytes() {
                return Some(p);
            }
            p = table.next;
        }
        None
    }

    /// Makes the registered provider `name` the default for databases keyed
    /// from now on.
    pub(crate) fn make_default(name: &str) {
        let _serial = crate::REGISTRY
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let p = find_locked(name).expect("registered provider");
        // SAFETY: p is already on SQLCipher's list; registering it again
        // only moves it to the front (without calling `init` again).
        let rc = unsafe { sqlcipher_register_provider(p) };
        assert_eq!(rc, SQLITE_OK);
    }

    /// `PRAGMA`-free access to a table's callbacks for differential tests.
    pub(crate) struct Calls(pub(crate) &'static Provider);

    impl Calls {
        pub(crate) fn hmac(&self, alg: c_int, key: &[u8], a: &[u8], b: Option<&[u8]>) -> Vec<u8> {
            let f = self.0.hmac.expect("hmac");
            let g = self.0.get_hmac_sz.expect("get_hmac_sz");
            // SAFETY: the context is unused; a NULL context is what SQLCipher
            // passes to its own providers' size getters too.
            let size = unsafe { g(ptr::null_mut(), alg) };
            let mut out = vec![0u8; usize::try_from(size).expect("size")];
            let (b_ptr, b_len) = b.map_or((ptr::null(), 0), |b| (b.as_ptr(), b.len()));
            // SAFETY: every pointer and length describes a live buffer; the
            // output has the size the provider reported.
            let rc = unsafe {
                f(
                    ptr::null_mut(),
                    alg,
                    key.as_ptr(),
                    key.len() as c_int,
                    a.as_ptr(),
                    a.len() as c_int,
                    b_ptr,
                    b_len as c_int,
                    out.as_mut_ptr(),
                )
            };
            assert_eq!(rc, SQLITE_OK);
            out
        }

        pub(crate) fn kdf(
            &self,
            alg: c_int,
            pass: &[u8],
            salt: &[u8],
            iter: c_int,
            n: usize,
        ) -> Vec<u8> {
            let f = self.0.kdf.expect("kdf");
            let mut out = vec![0u8; n];
            // SAFETY: live buffers with their lengths.
            let rc = unsafe {
                f(
                    ptr::null_mut(),
                    alg,
                    pass.as_ptr(),
                    pass.len() as c_int,
                    salt.as_ptr(),
                    salt.len() as c_int,
                    iter,
                    n as c_int,
                    out.as_mut_ptr(),
                )
            };
            assert_eq!(rc, SQLITE_OK);
            out
        }

        pub(crate) fn cipher(
            &self,
            mode: c_int,
            key: &[u8],
            iv: &[u8; 16],
            input: &[u8],
        ) -> Result<Vec<u8>, c_int> {
            let f = self.0.cipher.expect("cipher");
            let mut out = vec![0u8; input.len()];
            // SAFETY: live buffers with their lengths; the IV has 16 bytes.
            let rc = unsafe {
                f(
                    ptr::null_mut(),
                    mode,
                    key.as_ptr(),
                    key.len() as c_int,
                    iv.as_ptr(),
                    input.as_ptr(),
                    input.len() as c_int,
                    out.as_mut_ptr(),
                )
            };
            if rc == SQLITE_OK { Ok(out) } else { Err(rc) }
        }

        pub(crate) fn sizes(&self) -> [c_int; 6] {
            let t = self.0;
            // SAFETY: size getters take a context they do not use.
            unsafe {
                [
                    t.get_key_sz.expect("key")(ptr::null_mut()),
                    t.get_iv_sz.expect("iv")(ptr::null_mut()),
                    t.get_block_sz.expect("block")(ptr::null_mut()),
                    t.get_hmac_sz.expect("hmac")(ptr::null_mut(), 0),
                    t.get_hmac_sz.expect("hmac")(ptr::null_mut(), 1),
                    t.get_hmac_sz.expect("hmac")(ptr::null_mut(), 2),
                ]
            }
        }

        pub(crate) fn cipher_name(&self) -> String {
            let g = self.0.get_cipher.expect("get_cipher");
            // SAFETY: returns a static C string; the context is unused.
            unsafe { CStr::from_ptr(g(ptr::null_mut())) }
                .to_string_lossy()
                .into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_sqlciphers_layout() {
        // 17 function pointers and `next`, each one pointer wide, no padding.
        assert_eq!(
            std::mem::size_of::<Provider>(),
            18 * std::mem::size_of::<*const c_void>()
        );
        assert_eq!(name(), "bedside");
    }

    #[test]
    fn callbacks_refuse_bad_input_with_sqlite_error() {
        let key = [1u8; 32];
        let iv = [2u8; 16];
        let page = [3u8; 64];
        let mut out = [0u8; 64];
        let null = ptr::null_mut();
        // SAFETY: every pointer is NULL or a live local buffer at least as
        // long as the size passed with it; the callbacks must refuse the
        // NULLs, negative sizes, unknown algorithms and overlaps before
        // touching memory.
        unsafe {
            assert_eq!(random(null, ptr::null_mut(), 16), SQLITE_ERROR);
            assert_eq!(random(null, out.as_mut_ptr().cast(), -1), SQLITE_ERROR);
            let h = |alg, k: *const u8, ks, i: *const u8, is, o: *mut u8| {
                hmac(null, alg, k, ks, i, is, ptr::null(), 0, o)
            };
            assert_eq!(
                h(9, key.as_ptr(), 32, page.as_ptr(), 64, out.as_mut_ptr()),
                SQLITE_ERROR
            );
            assert_eq!(
                h(1, ptr::null(), 32, page.as_ptr(), 64, out.as_mut_ptr()),
                SQLITE_ERROR
            );
            assert_eq!(
                h(1, key.as_ptr(), 32, ptr::null(), 64, out.as_mut_ptr()),
                SQLITE_ERROR
            );
            assert_eq!(
                h(1, key.as_ptr(), -1, page.as_ptr(), 64, out.as_mut_ptr()),
                SQLITE_ERROR
            );
            assert_eq!(
                h(1, key.as_ptr(), 32, page.as_ptr(), 64, ptr::null_mut()),
                SQLITE_ERROR
            );
            // The MAC would land on its own input.
            let mut buf = [0u8; 96];
            let p = buf.as_mut_ptr();
            assert_eq!(h(1, key.as_ptr(), 32, p, 64, p.add(32)), SQLITE_ERROR);
            assert_eq!(h(1, key.as_ptr(), 32, p, 64, p.add(64)), SQLITE_OK);

            let k = |pass: *const u8, ps, iter, ks, o: *mut u8| {
                kdf(null, 1, pass, ps, page.as_ptr(), 16, iter, ks, o)
            };
            assert_eq!(k(key.as_ptr(), 32, 0, 32, out.as_mut_ptr()), SQLITE_ERROR);
            assert_eq!(k(key.as_ptr(), 32, -5, 32, out.as_mut_ptr()), SQLITE_ERROR);
            assert_eq!(k(ptr::null(), 32, 2, 32, out.as_mut_ptr()), SQLITE_ERROR);
            assert_eq!(k(key.as_ptr(), 32, 2, 0, out.as_mut_ptr()), SQLITE_ERROR);
            assert_eq!(k(p, 32, 2, 32, p.add(16)), SQLITE_ERROR);
            assert_eq!(k(key.as_ptr(), 32, 2, 32, out.as_mut_ptr()), SQLITE_OK);

            let c = |mode, k: *const u8, ks, i: *const u8, n, o: *mut u8| {
                cipher(null, mode, k, ks, iv.as_ptr(), i, n, o)
            };
            assert_eq!(
                c(1, key.as_ptr(), 16, page.as_ptr(), 64, out.as_mut_ptr()),
                SQLITE_ERROR
            );
            assert_eq!(
                c(2, key.as_ptr(), 32, page.as_ptr(), 64, out.as_mut_ptr()),
                SQLITE_ERROR
            );
            assert_eq!(
                c(1, key.as_ptr(), 32, page.as_ptr(), 60, out.as_mut_ptr()),
                SQLITE_ERROR
            );
            assert_eq!(
                c(1, key.as_ptr(), 32, page.as_ptr(), -16, out.as_mut_ptr()),
                SQLITE_ERROR
            );
            assert_eq!(
                c(1, key.as_ptr(), 32, ptr::null(), 64, out.as_mut_ptr()),
                SQLITE_ERROR
            );
            assert_eq!(c(1, key.as_ptr(), 32, p, 64, p.add(16)), SQLITE_ERROR);
            // In place is allowed and equals buffer to buffer.
            assert_eq!(
                c(1, key.as_ptr(), 32, page.as_ptr(), 64, out.as_mut_ptr()),
                SQLITE_OK
            );
            let mut in_place = page;
            let q = in_place.as_mut_ptr();
            assert_eq!(c(1, key.as_ptr(), 32, q, 64, q), SQLITE_OK);
            assert_eq!(in_place, out);

            assert_eq!(ctx_init(ptr::null_mut()), SQLITE_ERROR);
            assert_eq!(get_hmac_sz(null, 7), 0);
        }
    }
}
