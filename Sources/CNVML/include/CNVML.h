// The few calls of NVIDIA's management library (NVML) that GPU attestation
// needs, with plain byte buffers so that Swift never touches NVML's
// structures. The library (libnvidia-ml.so.1, the driver's) is loaded with
// dlopen on first use, so the agent has no build or run dependency on it and
// runs unchanged where there is no GPU or no driver.
// Every function returns an aa_nvml_status and, unless AA_NVML_OK, writes a
// reason to `error`.
#ifndef CNVML_H
#define CNVML_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AA_NVML_OK = 0,
    /// libnvidia-ml.so.1 could not be loaded, or lacks a function.
    AA_NVML_NO_LIBRARY = 1,
    /// An NVML call answered an error; `nvml_code` holds NVML's return code.
    AA_NVML_CALL_FAILED = 2,
    /// NVML answered more bytes than its own buffer holds.
    AA_NVML_TOO_LARGE = 3,
} aa_nvml_status;

/// NVML's architecture numbers for the GPUs with confidential computing.
enum { AA_NVML_ARCH_HOPPER = 9, AA_NVML_ARCH_BLACKWELL = 10 };
/// NVML's buffers: the attestation report and the attestation certificate chain.
enum { AA_NVML_REPORT_CAPACITY = 0x2000, AA_NVML_CERT_CHAIN_CAPACITY = 0x1400, AA_NVML_NONCE_SIZE = 32 };

/// Loads the library (once): AA_NVML_OK, or AA_NVML_NO_LIBRARY and why.
int aa_nvml_load(char *error, size_t error_size);

/// Loads the library (once) and initialises NVML (nvmlInit_v2; reference
/// counted by NVML, so every aa_nvml_init is paired with aa_nvml_shutdown).
int aa_nvml_init(int *nvml_code, char *error, size_t error_size);
void aa_nvml_shutdown(void);

/// Whether confidential computing is on for this system's GPUs
/// (nvmlSystemGetConfComputeState's ccFeature).
int aa_nvml_cc_enabled(int *enabled, int *nvml_code, char *error, size_t error_size);

int aa_nvml_device_count(unsigned int *count, int *nvml_code, char *error, size_t error_size);

/// The GPU at `index`: its UUID (NUL-terminated) and NVML architecture number.
int aa_nvml_device_identity(unsigned int index, char *uuid, size_t uuid_size, unsigned int *architecture,
                            int *nvml_code, char *error, size_t error_size);

/// The GPU's attestation report (an SPDM GET_MEASUREMENTS request and its
/// signed response) for a 32-byte nonce, at most AA_NVML_REPORT_CAPACITY bytes.
int aa_nvml_attestation_report(unsigned int index, const uint8_t nonce[32], uint8_t *report, size_t *report_size,
                               int *nvml_code, char *error, size_t error_size);

/// The GPU's attestation certificate chain (PEM, leaf first), at most
/// AA_NVML_CERT_CHAIN_CAPACITY bytes.
int aa_nvml_certificate_chain(unsigned int index, uint8_t *chain, size_t *chain_size, int *nvml_code, char *error,
                              size_t error_size);
#endif
