/*
 * ProcessPrng for Wine 8, which lacks bcryptprimitives.dll (Windows 10 has it, and Rust's
 * standard library takes its random numbers from it). `cargo xtask test` builds this with
 * MinGW beside the Windows camera test (xtask/src/camera_vm.rs); it only runs under Wine in
 * the camera VM. The bytes come from the system's RNG (advapi32's RtlGenRandom).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
