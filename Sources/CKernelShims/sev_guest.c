#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include "CKernelShims.h"

// The layouts of linux/sev-guest.h (uapi), kept here so that the build does
// not need kernel headers.
struct snp_report_req { uint8_t user_data[64]; uint32_t vmpl; uint8_t rsvd[28]; };
struct snp_report_resp { uint8_t data[4000]; };
struct snp_guest_request_ioctl {
    uint8_t msg_version;
    uint64_t req_data;
    uint64_t resp_data;
    uint64_t exitinfo2;
};
// The firmware's MSG_REPORT_RSP inside the response data.
struct snp_msg_report_resp { uint32_t status; uint32_t report_size; uint8_t rsvd[24]; uint8_t report[1184]; };

#define SNP_GET_REPORT _IOWR('S', 0x0, struct snp_guest_request_ioctl)

int aa_snp_get_report(int fd, const uint8_t report_data[64], uint8_t report[1184], uint64_t *firmware_error) {
    struct snp_report_req request;
    struct snp_report_resp response;
    memset(&request, 0, sizeof request);
    memset(&response, 0, sizeof response);
    memcpy(request.user_data, report_data, 64);
    struct snp_guest_request_ioctl guest = {
        .msg_version = 1, .req_data = (uint64_t)(uintptr_t)&request, .resp_data = (uint64_t)(uintptr_t)&response,
    };
    int result = ioctl(fd, SNP_GET_REPORT, &guest);
    *firmware_error = guest.exitinfo2;
    if (result != 0) return -1;
    const struct snp_msg_report_resp *message = (const struct snp_msg_report_resp *)response.data;
    if (message->status != 0 || message->report_size != 1184) {
        *firmware_error = message->status;
        errno = EIO;
        return -1;
    }
    memcpy(report, message->report, 1184);
    return 0;
}
