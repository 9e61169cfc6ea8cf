// A stand-in for NVIDIA's management library (libnvidia-ml.so.1), for the
// tests of the agent's `nvidia` attester: the same exported functions and
// structure layouts as NVML (nvml.h), answering from the environment:
//
//   FAKE_NVML_GPUS       "ARCH:UUID,..." (NVML architecture numbers: 9 Hopper,
//                        10 Blackwell, 8 Ada); none when unset
//   FAKE_NVML_CC         "off": confidential computing is off
//   FAKE_NVML_REPORT     a file holding a report, answered whatever the nonce
//                        (a capture from a real GPU)
//   FAKE_NVML_REPORT_COMMAND  else a program run with the nonce in hex that
//                        prints the report in hex (a report made for it)
//   FAKE_NVML_CERTS      the attestation certificate chain (PEM)
//   FAKE_NVML_FAIL       an NVML function that answers NVML_ERROR_UNKNOWN
//   FAKE_NVML_HANG       an NVML function that never returns
//   FAKE_NVML_OVERSIZE   set: the report claims more bytes than its buffer
//   FAKE_NVML_NONCES     a file each requested nonce is appended to, in hex
//
// It is built by the tests (Tests/IntegrationTests/FakeNVML.swift) and
// loaded by the agent through LD_LIBRARY_PATH.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct fake_device *nvmlDevice_t;
enum { NVML_SUCCESS = 0, NVML_ERROR_INVALID_ARGUMENT = 2, NVML_ERROR_INSUFFICIENT_SIZE = 7, NVML_ERROR_UNKNOWN = 999 };

typedef struct {
    unsigned int environment;
    unsigned int ccFeature;
    unsigned int devToolsMode;
} nvmlConfComputeSystemState_t;

typedef struct {
    unsigned int isCecAttestationReportPresent;
    unsigned int attestationReportSize;
    unsigned int cecAttestationReportSize;
    unsigned char nonce[0x20];
    unsigned char attestationReport[0x2000];
    unsigned char cecAttestationReport[0x1000];
} nvmlConfComputeGpuAttestationReport_t;

typedef struct {
    unsigned int certChainSize;
    unsigned int attestationCertChainSize;
    unsigned char certChain[0x1000];
    unsigned char attestationCertChain[0x1400];
} nvmlConfComputeGpuCertificate_t;

struct fake_device {
    unsigned int architecture;
    char uuid[96];
};
static struct fake_device devices[8];
static unsigned int device_count;

// Every function: its scripted failure or hang first.
static int scripted(const char *function, nvmlReturn_t *code) {
    const char *hang = getenv("FAKE_NVML_HANG");
    if (hang && strcmp(hang, function) == 0)
        for (;;) pause();
    const char *fail = getenv("FAKE_NVML_FAIL");
    if (fail && strcmp(fail, function) == 0) {
        *code = NVML_ERROR_UNKNOWN;
        return 1;
    }
    return 0;
}
#define SCRIPT(name) do { nvmlReturn_t code; if (scripted(name, &code)) return code; } while (0)

nvmlReturn_t nvmlInit_v2(void) {
    SCRIPT("nvmlInit_v2");
    device_count = 0;
    const char *list = getenv("FAKE_NVML_GPUS");
    if (!list) return NVML_SUCCESS;
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *item = strtok(copy, ","); item && device_count < 8; item = strtok(NULL, ",")) {
        char *colon = strchr(item, ':');
        if (!colon) continue;
        *colon = 0;
        devices[device_count].architecture = (unsigned int)atoi(item);
        snprintf(devices[device_count].uuid, sizeof devices[device_count].uuid, "%s", colon + 1);
        device_count++;
    }
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) { return NVML_SUCCESS; }

const char *nvmlErrorString(nvmlReturn_t code) { return code == NVML_ERROR_UNKNOWN ? "Unknown Error" : "Error"; }

nvmlReturn_t nvmlSystemGetConfComputeState(nvmlConfComputeSystemState_t *state) {
    SCRIPT("nvmlSystemGetConfComputeState");
    const char *cc = getenv("FAKE_NVML_CC");
    state->environment = 2;
    state->ccFeature = cc && strcmp(cc, "off") == 0 ? 0 : 1;
    state->devToolsMode = 0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    SCRIPT("nvmlDeviceGetCount_v2");
    *count = device_count;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    SCRIPT("nvmlDeviceGetHandleByIndex_v2");
    if (index >= device_count) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &devices[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    SCRIPT("nvmlDeviceGetUUID");
    if (strlen(device->uuid) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(uuid, device->uuid);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned int *architecture) {
    SCRIPT("nvmlDeviceGetArchitecture");
    *architecture = device->architecture;
    return NVML_SUCCESS;
}

static size_t read_hex(FILE *in, unsigned char *out, size_t capacity) {
    size_t size = 0;
    unsigned int byte;
    while (size < capacity && fscanf(in, "%2x", &byte) == 1) out[size++] = (unsigned char)byte;
    return size;
}

nvmlReturn_t nvmlDeviceGetConfComputeGpuAttestationReport(nvmlDevice_t device,
                                                          nvmlConfComputeGpuAttestationReport_t *report) {
    (void)device;
    char hex[2 * 0x20 + 1];
    for (int i = 0; i < 0x20; i++) sprintf(hex + 2 * i, "%02x", report->nonce[i]);
    const char *record = getenv("FAKE_NVML_NONCES");
    if (record) {
        FILE *out = fopen(record, "a");
        if (out) {
            fprintf(out, "%s\n", hex);
            fclose(out);
        }
    }
    SCRIPT("nvmlDeviceGetConfComputeGpuAttestationReport");
    const char *file = getenv("FAKE_NVML_REPORT");
    const char *command = getenv("FAKE_NVML_REPORT_COMMAND");
    FILE *in = NULL;
    char line[4096];
    if (file) {
        in = fopen(file, "r");
    } else if (command) {
        snprintf(line, sizeof line, "%s %s", command, hex);
        in = popen(line, "r");
    }
    if (!in) return NVML_ERROR_UNKNOWN;
    report->attestationReportSize = (unsigned int)read_hex(in, report->attestationReport, 0x2000);
    if (file) fclose(in); else pclose(in);
    report->isCecAttestationReportPresent = 0;
    if (getenv("FAKE_NVML_OVERSIZE")) report->attestationReportSize = 0x2000 + 512;
    return report->attestationReportSize ? NVML_SUCCESS : NVML_ERROR_UNKNOWN;
}

nvmlReturn_t nvmlDeviceGetConfComputeGpuCertificate(nvmlDevice_t device, nvmlConfComputeGpuCertificate_t *cert) {
    (void)device;
    SCRIPT("nvmlDeviceGetConfComputeGpuCertificate");
    const char *file = getenv("FAKE_NVML_CERTS");
    FILE *in = file ? fopen(file, "r") : NULL;
    if (!in) return NVML_ERROR_UNKNOWN;
    cert->attestationCertChainSize = (unsigned int)fread(cert->attestationCertChain, 1, 0x1400, in);
    cert->certChainSize = 0;
    fclose(in);
    return NVML_SUCCESS;
}
