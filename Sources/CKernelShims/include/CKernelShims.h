// Kernel calls Swift cannot make directly: ioctl(2) is variadic, and the
// SEV guest request needs C struct layouts.
#ifndef CKERNELSHIMS_H
#define CKERNELSHIMS_H
#include <stdint.h>

int aa_ioctl_pointer(int fd, unsigned long request, void *argument);

/// SNP_GET_REPORT on /dev/sev-guest: 64 bytes of report data in, the 1184-byte
/// attestation report out. Returns 0, or -1 with errno set and `firmware_error`
/// holding what the firmware or hypervisor said.
int aa_snp_get_report(int fd, const uint8_t report_data[64], uint8_t report[1184], uint64_t *firmware_error);
#endif
