#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "CNVML.h"

// NVML's types and structures, as its header nvml.h lays them out.
typedef int nvml_return;
typedef struct nvml_device_st *nvml_device;
typedef struct {
    unsigned int environment;
    unsigned int cc_feature;
    unsigned int dev_tools_mode;
} nvml_cc_system_state;
typedef struct {
    unsigned int is_cec_report_present;
    unsigned int report_size;
    unsigned int cec_report_size;
    unsigned char nonce[AA_NVML_NONCE_SIZE];
    unsigned char report[AA_NVML_REPORT_CAPACITY];
    unsigned char cec_report[0x1000];
} nvml_attestation_report;
typedef struct {
    unsigned int cert_chain_size;
    unsigned int attestation_cert_chain_size;
    unsigned char cert_chain[0x1000];
    unsigned char attestation_cert_chain[AA_NVML_CERT_CHAIN_CAPACITY];
} nvml_certificate;

static struct {
    nvml_return (*init)(void);
    nvml_return (*shutdown)(void);
    const char *(*error_string)(nvml_return);
    nvml_return (*cc_state)(nvml_cc_system_state *);
    nvml_return (*device_count)(unsigned int *);
    nvml_return (*device_by_index)(unsigned int, nvml_device *);
    nvml_return (*device_uuid)(nvml_device, char *, unsigned int);
    nvml_return (*device_architecture)(nvml_device, unsigned int *);
    nvml_return (*attestation_report)(nvml_device, nvml_attestation_report *);
    nvml_return (*certificate)(nvml_device, nvml_certificate *);
} nvml;

static char load_error[512];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(load_error, sizeof load_error, "NVIDIA's management library libnvidia-ml.so.1 cannot be loaded: %s",
                 dlerror());
        return;
    }
    struct { void **slot; const char *name; } symbols[] = {
        {(void **)&nvml.init, "nvmlInit_v2"},
        {(void **)&nvml.shutdown, "nvmlShutdown"},
        {(void **)&nvml.error_string, "nvmlErrorString"},
        {(void **)&nvml.cc_state, "nvmlSystemGetConfComputeState"},
        {(void **)&nvml.device_count, "nvmlDeviceGetCount_v2"},
        {(void **)&nvml.device_by_index, "nvmlDeviceGetHandleByIndex_v2"},
        {(void **)&nvml.device_uuid, "nvmlDeviceGetUUID"},
        {(void **)&nvml.device_architecture, "nvmlDeviceGetArchitecture"},
        {(void **)&nvml.attestation_report, "nvmlDeviceGetConfComputeGpuAttestationReport"},
        {(void **)&nvml.certificate, "nvmlDeviceGetConfComputeGpuCertificate"},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(library, symbols[i].name);
        if (!*symbols[i].slot) {
            snprintf(load_error, sizeof load_error,
                     "libnvidia-ml.so.1 lacks %s (a driver without confidential computing?)", symbols[i].name);
            memset(&nvml, 0, sizeof nvml);
            return;
        }
    }
}

static int failed(const char *call, nvml_return code, int *nvml_code, char *error, size_t error_size) {
    *nvml_code = code;
    const char *name = nvml.error_string ? nvml.error_string(code) : NULL;
    snprintf(error, error_size, "%s failed: NVML error %d (%s)", call, code, name ? name : "no description");
    return AA_NVML_CALL_FAILED;
}

int aa_nvml_load(char *error, size_t error_size) {
    pthread_once(&load_once, load);
    if (nvml.init) return AA_NVML_OK;
    snprintf(error, error_size, "%s", load_error);
    return AA_NVML_NO_LIBRARY;
}

int aa_nvml_init(int *nvml_code, char *error, size_t error_size) {
    int status = aa_nvml_load(error, error_size);
    if (status != AA_NVML_OK) return status;
    nvml_return code = nvml.init();
    return code == 0 ? AA_NVML_OK : failed("nvmlInit_v2", code, nvml_code, error, error_size);
}

void aa_nvml_shutdown(void) {
    if (nvml.shutdown) nvml.shutdown();
}

int aa_nvml_cc_enabled(int *enabled, int *nvml_code, char *error, size_t error_size) {
    nvml_cc_system_state state = {0};
    nvml_return code = nvml.cc_state(&state);
    if (code != 0) return failed("nvmlSystemGetConfComputeState", code, nvml_code, error, error_size);
    *enabled = state.cc_feature == 1;
    return AA_NVML_OK;
}

int aa_nvml_device_count(unsigned int *count, int *nvml_code, char *error, size_t error_size) {
    nvml_return code = nvml.device_count(count);
    return code == 0 ? AA_NVML_OK : failed("nvmlDeviceGetCount_v2", code, nvml_code, error, error_size);
}

static int device(unsigned int index, nvml_device *handle, int *nvml_code, char *error, size_t error_size) {
    nvml_return code = nvml.device_by_index(index, handle);
    return code == 0 ? AA_NVML_OK : failed("nvmlDeviceGetHandleByIndex_v2", code, nvml_code, error, error_size);
}

int aa_nvml_device_identity(unsigned int index, char *uuid, size_t uuid_size, unsigned int *architecture,
                            int *nvml_code, char *error, size_t error_size) {
    nvml_device handle;
    int status = device(index, &handle, nvml_code, error, error_size);
    if (status != AA_NVML_OK) return status;
    nvml_return code = nvml.device_uuid(handle, uuid, (unsigned int)uuid_size);
    if (code != 0) return failed("nvmlDeviceGetUUID", code, nvml_code, error, error_size);
    uuid[uuid_size - 1] = 0;
    code = nvml.device_architecture(handle, architecture);
    return code == 0 ? AA_NVML_OK : failed("nvmlDeviceGetArchitecture", code, nvml_code, error, error_size);
}

int aa_nvml_attestation_report(unsigned int index, const uint8_t nonce[32], uint8_t *report, size_t *report_size,
                               int *nvml_code, char *error, size_t error_size) {
    nvml_device handle;
    int status = device(index, &handle, nvml_code, error, error_size);
    if (status != AA_NVML_OK) return status;
    // 12 KiB on this thread's stack: a static one would be shared between threads.
    nvml_attestation_report answer;
    memset(&answer, 0, sizeof answer);
    memcpy(answer.nonce, nonce, AA_NVML_NONCE_SIZE);
    nvml_return code = nvml.attestation_report(handle, &answer);
    if (code != 0) return failed("nvmlDeviceGetConfComputeGpuAttestationReport", code, nvml_code, error, error_size);
    if (answer.report_size > AA_NVML_REPORT_CAPACITY || answer.report_size > *report_size) {
        snprintf(error, error_size, "an attestation report of %u bytes, more than NVML's %d-byte buffer",
                 answer.report_size, AA_NVML_REPORT_CAPACITY);
        return AA_NVML_TOO_LARGE;
    }
    memcpy(report, answer.report, answer.report_size);
    *report_size = answer.report_size;
    return AA_NVML_OK;
}

int aa_nvml_certificate_chain(unsigned int index, uint8_t *chain, size_t *chain_size, int *nvml_code, char *error,
                              size_t error_size) {
    nvml_device handle;
    int status = device(index, &handle, nvml_code, error, error_size);
    if (status != AA_NVML_OK) return status;
    nvml_certificate answer;
    memset(&answer, 0, sizeof answer);
    nvml_return code = nvml.certificate(handle, &answer);
    if (code != 0) return failed("nvmlDeviceGetConfComputeGpuCertificate", code, nvml_code, error, error_size);
    if (answer.attestation_cert_chain_size > AA_NVML_CERT_CHAIN_CAPACITY ||
        answer.attestation_cert_chain_size > *chain_size) {
        snprintf(error, error_size, "an attestation certificate chain of %u bytes, more than NVML's %d-byte buffer",
                 answer.attestation_cert_chain_size, AA_NVML_CERT_CHAIN_CAPACITY);
        return AA_NVML_TOO_LARGE;
    }
    memcpy(chain, answer.attestation_cert_chain, answer.attestation_cert_chain_size);
    *chain_size = answer.attestation_cert_chain_size;
    return AA_NVML_OK;
}
