// The few TPM 2.0 operations the agent needs, over tpm2-tss's ESAPI, with
// plain byte buffers so that Swift never touches the TSS structures.
// Every function returns 0 on success, or writes a reason to `error`.
#ifndef CTPM_H
#define CTPM_H
#include <stddef.h>
#include <stdint.h>

typedef struct aa_tpm aa_tpm;

/// Opens the TPM named by a TCTI configuration, e.g. "device:/dev/tpmrm0"
/// or "swtpm:host=127.0.0.1,port=2321".
int aa_tpm_open(const char *tcti, aa_tpm **tpm, char *error, size_t error_size);
void aa_tpm_close(aa_tpm *tpm);

/// Extends SHA-256 PCR `index` with a 32-byte digest.
int aa_tpm_extend_sha256(aa_tpm *tpm, uint32_t index, const uint8_t digest[32], char *error, size_t error_size);

/// Reads the 24 SHA-256 PCRs into `values` (24 x 32 bytes).
int aa_tpm_read_sha256(aa_tpm *tpm, uint8_t values[24 * 32], char *error, size_t error_size);

/// Quotes SHA-256 PCRs 0-23 with RSASSA-SHA256, `qualifying` as extra data.
/// The attestation key is the RSA key provisioned at the persistent
/// `ak_handle`, and no other; returns 2 (not -1) when there is none there.
/// Out: the marshalled TPMS_ATTEST and TPMT_SIGNATURE, the key's modulus
/// (big-endian) and public exponent.
int aa_tpm_quote(aa_tpm *tpm, uint32_t ak_handle, const uint8_t *qualifying, size_t qualifying_size,
                 uint8_t *message, size_t *message_size, uint8_t *signature, size_t *signature_size,
                 uint8_t *modulus, size_t *modulus_size, uint32_t *exponent, char *error, size_t error_size);
/// Reads NV index `index` whole (up to `*size` bytes). Returns 1, not -1,
/// when the index is not defined, so callers can tell "absent" from "broken".
int aa_tpm_nv_read(aa_tpm *tpm, uint32_t index, uint8_t *data, size_t *size, char *error, size_t error_size);
/// Writes `data` (1 to 1024 bytes) to NV index `index` with owner
/// authorization, defining the index (owner read and write) when it is not
/// defined or has another size.
int aa_tpm_nv_write(aa_tpm *tpm, uint32_t index, const uint8_t *data, size_t size, char *error, size_t error_size);
#endif
