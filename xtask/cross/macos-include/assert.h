/* Stub header for `cargo xtask test`'s macOS compile check (xtask/src/cross.rs): C objects built with it are never linked. */
#define assert(x) ((void)0)
