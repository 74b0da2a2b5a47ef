/*
 * Finding runtime variables in stripped Go binaries by reading the code that uses them.
 *
 * Without .symtab, runtime.mbuckets, runtime.MemProfileRate and runtime.mProfCycle have
 * no names, but the functions that use them keep theirs in .gopclntab. On amd64 every
 * Go release from 1.19 to 1.27 loads them with RIP-relative MOVs:
 *   runtime.mProf_FlushLocked: the first 64-bit load is mbuckets;
 *   runtime.profilealloc: the second 64-bit load is MemProfileRate (the first, mcache0);
 *   runtime.mProf_Flush: the first 32-bit load is mProfCycle.
 * The caller validates the results (writable data, plausible values at run time).
 */
#ifndef PODPROF_CODESCAN_H
#define PODPROF_CODESCAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Collects the targets of RIP-relative loads "MOV disp32(%rip), reg" in code (n bytes
 * at link-time address va), in order: 64-bit loads (REX.W 8B /r) when wide, else 32-bit
 * loads (8B /r with an optional REX without W). Returns the number found (up to max).
 */
size_t x86_rip_loads(const uint8_t *code, size_t n, uint64_t va, int wide, uint64_t *targets,
		     size_t max);

#endif
