/* Stub header for `cargo xtask test`'s macOS compile check (xtask/src/cross.rs): C objects built with it are never linked. */
#include <stddef.h>
void *memcpy(void *, const void *, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
size_t strlen(const char *);
