/* Stub header for `cargo xtask test`'s macOS compile check (xtask/src/cross.rs): C objects built with it are never linked. */
#include <stddef.h>
void *malloc(size_t);
void free(void *);
void abort(void);
int posix_memalign(void **, size_t, size_t);
