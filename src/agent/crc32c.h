/*
 * crc32c: the Castagnoli CRC-32 (iSCSI, ext4, SCTP polynomial 0x1EDC6F41, reflected 0x82F63B78).
 *
 * Used to detect torn and corrupted records in the agent's on-disk files (spool segments, state
 * files). On x86-64 processors with SSE 4.2 it uses the crc32 instruction (checked at run time);
 * elsewhere a table-driven loop, eight bytes per step. The tables are constant data, but for the
 * few the instruction's three-lane loop uses, built once at its first use (pthread_once): both
 * are pure and safe from any thread.
 */
#ifndef TRL_AGENT_CRC32C_H
#define TRL_AGENT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC over n more bytes: pass 0 to start. trl_crc32c(0, "123456789", 9) == 0xE3069283.
 */
uint32_t trl_crc32c(uint32_t crc, const void *p, size_t n);
/* The same with the table-driven loop only, whatever the processor (tests compare the two). */
uint32_t trl_crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif
