/*
 * A pattern scan, not a disassembler: Go's code for these functions is small and the
 * patterns are checked against every supported release by the tests. ModRM with mod=00
 * and r/m=101 is RIP-relative addressing on x86-64; the displacement is relative to
 * the end of the instruction.
 */
#include "codescan.h"

#include <string.h>

size_t x86_rip_loads(const uint8_t *code, size_t n, uint64_t va, int wide, uint64_t *targets,
		     size_t max)
{
	size_t found = 0;

	for (size_t i = 0; i + 6 <= n && found < max; i++) {
		size_t len, op;
		int32_t disp;

		if (wide) {
			/* REX.W (0x48..0x4f) 8B modrm disp32 */
			if (i + 7 > n || (code[i] & 0xf8) != 0x48 || code[i + 1] != 0x8b)
				continue;
			op = i + 1;
			len = 7;
		} else if ((code[i] & 0xf8) == 0x40 && i + 7 <= n && code[i + 1] == 0x8b) {
			/* REX without W, then 8B */
			op = i + 1;
			len = 7;
		} else if (code[i] == 0x8b && (i == 0 || (code[i - 1] & 0xf0) != 0x40)) {
			op = i;
			len = 6;
		} else {
			continue;
		}
		if ((code[op + 1] & 0xc7) != 0x05)
			continue;
		memcpy(&disp, code + op + 2, 4);
		targets[found++] = va + i + len + (uint64_t)(int64_t)disp;
		i += len - 1;
	}
	return found;
}
