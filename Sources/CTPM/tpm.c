#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>
#include "CTPM.h"

// tpm2-tss (and the libcrypto it links) is loaded with dlopen the first time
// a TPM is opened, not at exec: most guests have no TPM, and those libraries
// would cost every launch their loading time and memory. Each function is
// called through a pointer of the header's own type.
#define TSS_FUNCTIONS(X) \
    X(esys, Esys_Initialize) X(esys, Esys_Finalize) X(esys, Esys_Free) X(esys, Esys_NV_Read) \
    X(esys, Esys_NV_ReadPublic) X(esys, Esys_PCR_Extend) X(esys, Esys_NV_DefineSpace) X(esys, Esys_NV_UndefineSpace) \
    X(esys, Esys_NV_Write) \
    X(esys, Esys_PCR_Read) X(esys, Esys_Quote) X(esys, Esys_ReadPublic) X(esys, Esys_TR_FromTPMPublic) \
    X(mu, Tss2_MU_TPMT_SIGNATURE_Marshal) X(rc, Tss2_RC_Decode) \
    X(tctildr, Tss2_TctiLdr_Initialize) X(tctildr, Tss2_TctiLdr_Finalize)

static struct {
#define DECLARE(library, name) __typeof__(&name) name;
    TSS_FUNCTIONS(DECLARE)
#undef DECLARE
} tss;

static const char *const tss_libraries[] = {"libtss2-esys.so.0", "libtss2-mu.so.0", "libtss2-rc.so.0", "libtss2-tctildr.so.0"};
static char tss_load_error[512];
static pthread_once_t tss_once = PTHREAD_ONCE_INIT;

static void tss_load(void) {
    void *handles[4] = {0};
    for (int i = 0; i < 4; i++) {
        handles[i] = dlopen(tss_libraries[i], RTLD_NOW | RTLD_LOCAL);
        if (!handles[i]) {
            snprintf(tss_load_error, sizeof tss_load_error,
                     "a TPM needs tpm2-tss, which could not be loaded (the guest image needs libtss2-esys.so.0, "
                     "libtss2-mu.so.0, libtss2-rc.so.0, libtss2-tctildr.so.0 and their libraries): %s", dlerror());
            return;
        }
    }
    void *esys = handles[0], *mu = handles[1], *rc = handles[2], *tctildr = handles[3];
#define RESOLVE(library, name) \
    tss.name = (__typeof__(tss.name))dlsym(library, #name); \
    if (!tss.name) { \
        snprintf(tss_load_error, sizeof tss_load_error, "tpm2-tss lacks %s: %s", #name, dlerror()); \
        return; \
    }
    TSS_FUNCTIONS(RESOLVE)
#undef RESOLVE
}

// From here on, the TSS names call through the loaded pointers.
#define Esys_Initialize tss.Esys_Initialize
#define Esys_Finalize tss.Esys_Finalize
#define Esys_Free tss.Esys_Free
#define Esys_NV_Read tss.Esys_NV_Read
#define Esys_NV_ReadPublic tss.Esys_NV_ReadPublic
#define Esys_NV_DefineSpace tss.Esys_NV_DefineSpace
#define Esys_NV_UndefineSpace tss.Esys_NV_UndefineSpace
#define Esys_NV_Write tss.Esys_NV_Write
#define Esys_PCR_Extend tss.Esys_PCR_Extend
#define Esys_PCR_Read tss.Esys_PCR_Read
#define Esys_Quote tss.Esys_Quote
#define Esys_ReadPublic tss.Esys_ReadPublic
#define Esys_TR_FromTPMPublic tss.Esys_TR_FromTPMPublic
#define Tss2_MU_TPMT_SIGNATURE_Marshal tss.Tss2_MU_TPMT_SIGNATURE_Marshal
#define Tss2_RC_Decode tss.Tss2_RC_Decode
#define Tss2_TctiLdr_Initialize tss.Tss2_TctiLdr_Initialize
#define Tss2_TctiLdr_Finalize tss.Tss2_TctiLdr_Finalize

struct aa_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
};

static int fail(char *error, size_t size, const char *what, TSS2_RC rc) {
    snprintf(error, size, "%s: %s (0x%x)", what, Tss2_RC_Decode(rc), rc);
    return -1;
}

int aa_tpm_open(const char *tcti, aa_tpm **tpm, char *error, size_t error_size) {
    // tpm2-tss logs expected failures (an absent NV index while looking for
    // Azure's HCL report) to stderr; every failure comes back in `error`
    // instead. A TSS2_LOG the user set still wins.
    setenv("TSS2_LOG", "all+NONE", 0);
    pthread_once(&tss_once, tss_load);
    if (tss_load_error[0]) {
        snprintf(error, error_size, "%s", tss_load_error);
        return -1;
    }
    aa_tpm *t = calloc(1, sizeof *t);
    if (!t) return fail(error, error_size, "out of memory", 0);
    TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
    if (rc != TSS2_RC_SUCCESS) { free(t); return fail(error, error_size, "cannot reach the TPM", rc); }
    rc = Esys_Initialize(&t->esys, t->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Tss2_TctiLdr_Finalize(&t->tcti);
        free(t);
        return fail(error, error_size, "cannot start an ESAPI context", rc);
    }
    *tpm = t;
    return 0;
}

void aa_tpm_close(aa_tpm *tpm) {
    if (!tpm) return;
    Esys_Finalize(&tpm->esys);
    Tss2_TctiLdr_Finalize(&tpm->tcti);
    free(tpm);
}

int aa_tpm_extend_sha256(aa_tpm *tpm, uint32_t index, const uint8_t digest[32], char *error, size_t error_size) {
    if (index > 23) return fail(error, error_size, "PCR index out of range 0-23", 0);
    TPML_DIGEST_VALUES values = { .count = 1 };
    values.digests[0].hashAlg = TPM2_ALG_SHA256;
    memcpy(values.digests[0].digest.sha256, digest, 32);
    TSS2_RC rc = Esys_PCR_Extend(tpm->esys, ESYS_TR_PCR0 + index, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &values);
    return rc == TSS2_RC_SUCCESS ? 0 : fail(error, error_size, "PCR extend failed", rc);
}

static TPML_PCR_SELECTION all_sha256(void) {
    TPML_PCR_SELECTION selection = { .count = 1 };
    selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
    selection.pcrSelections[0].sizeofSelect = 3;
    selection.pcrSelections[0].pcrSelect[0] = 0xFF;
    selection.pcrSelections[0].pcrSelect[1] = 0xFF;
    selection.pcrSelections[0].pcrSelect[2] = 0xFF;
    return selection;
}

int aa_tpm_read_sha256(aa_tpm *tpm, uint8_t values[24 * 32], char *error, size_t error_size) {
    // A TPM answers at most 8 digests per PCR_Read: ask bank by bank of 8.
    for (int group = 0; group < 3; group++) {
        TPML_PCR_SELECTION wanted = { .count = 1 };
        wanted.pcrSelections[0].hash = TPM2_ALG_SHA256;
        wanted.pcrSelections[0].sizeofSelect = 3;
        wanted.pcrSelections[0].pcrSelect[group] = 0xFF;
        UINT32 counter;
        TPML_PCR_SELECTION *read = NULL;
        TPML_DIGEST *digests = NULL;
        TSS2_RC rc = Esys_PCR_Read(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &wanted, &counter, &read, &digests);
        if (rc != TSS2_RC_SUCCESS) return fail(error, error_size, "PCR read failed", rc);
        int ok = digests->count == 8;
        for (UINT32 i = 0; ok && i < 8; i++) {
            ok = digests->digests[i].size == 32;
            if (ok) memcpy(values + (group * 8 + i) * 32, digests->digests[i].buffer, 32);
        }
        Esys_Free(read);
        Esys_Free(digests);
        if (!ok) return fail(error, error_size, "PCR read returned an unexpected selection", 0);
    }
    return 0;
}

/// The attestation key: the key provisioned at the persistent handle, and no
/// other (a key made for one quote proves nothing to a verifier that pins
/// the machine's key). Returns 2 when there is none.
static int load_ak(aa_tpm *tpm, uint32_t ak_handle, ESYS_TR *ak, char *error, size_t error_size) {
    if (Esys_TR_FromTPMPublic(tpm->esys, ak_handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ak) == TSS2_RC_SUCCESS)
        return 0;
    snprintf(error, error_size, "no attestation key at persistent handle 0x%x", ak_handle);
    return 2;
}

int aa_tpm_quote(aa_tpm *tpm, uint32_t ak_handle, const uint8_t *qualifying, size_t qualifying_size,
                 uint8_t *message, size_t *message_size, uint8_t *signature, size_t *signature_size,
                 uint8_t *modulus, size_t *modulus_size, uint32_t *exponent, char *error, size_t error_size) {
    TPM2B_DATA extra = { 0 };
    if (qualifying_size > sizeof extra.buffer) return fail(error, error_size, "qualifying data too long", 0);
    extra.size = (UINT16)qualifying_size;
    memcpy(extra.buffer, qualifying, qualifying_size);

    ESYS_TR ak;
    int loaded = load_ak(tpm, ak_handle, &ak, error, error_size);
    if (loaded != 0) return loaded;

    int result = -1;
    TPM2B_PUBLIC *public = NULL;
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_RSASSA, .details.rsassa.hashAlg = TPM2_ALG_SHA256 };
    TPML_PCR_SELECTION selection = all_sha256();
    TSS2_RC rc = Esys_ReadPublic(tpm->esys, ak, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &public, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) { fail(error, error_size, "cannot read the attestation key", rc); goto done; }
    if (public->publicArea.type != TPM2_ALG_RSA) { fail(error, error_size, "the attestation key is not RSA", 0); goto done; }
    rc = Esys_Quote(tpm->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &extra, &scheme, &selection, &quoted, &sig);
    if (rc != TSS2_RC_SUCCESS) { fail(error, error_size, "TPM quote failed", rc); goto done; }

    if (quoted->size > *message_size) { fail(error, error_size, "quote larger than its buffer", 0); goto done; }
    memcpy(message, quoted->attestationData, quoted->size);
    *message_size = quoted->size;
    size_t offset = 0;
    rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, signature, *signature_size, &offset);
    if (rc != TSS2_RC_SUCCESS) { fail(error, error_size, "cannot marshal the signature", rc); goto done; }
    *signature_size = offset;
    const TPM2B_PUBLIC_KEY_RSA *n = &public->publicArea.unique.rsa;
    if (n->size > *modulus_size) { fail(error, error_size, "modulus larger than its buffer", 0); goto done; }
    memcpy(modulus, n->buffer, n->size);
    *modulus_size = n->size;
    *exponent = public->publicArea.parameters.rsaDetail.exponent ? public->publicArea.parameters.rsaDetail.exponent : 65537;
    result = 0;
done:
    Esys_Free(public);
    Esys_Free(quoted);
    Esys_Free(sig);
    return result;
}

/// TPM_RC_HANDLE (format 1, any handle number) while reading: the index was
/// undefined after it was looked up, which is "not defined", not a failure.
static int undefined_meanwhile(TSS2_RC rc, uint32_t index, char *error, size_t error_size) {
    if ((rc >> 16) != 0 || (rc & 0xBF) != TPM2_RC_HANDLE) return 0;
    snprintf(error, error_size, "NV index 0x%x is not defined", index);
    return 1;
}

int aa_tpm_nv_read(aa_tpm *tpm, uint32_t index, uint8_t *data, size_t *size, char *error, size_t error_size) {
    ESYS_TR nv;
    TSS2_RC rc = Esys_TR_FromTPMPublic(tpm->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
    if (rc != TSS2_RC_SUCCESS) {
        snprintf(error, error_size, "NV index 0x%x is not defined", index);
        return 1;
    }
    TPM2B_NV_PUBLIC *public = NULL;
    rc = Esys_NV_ReadPublic(tpm->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &public, NULL);
    if (undefined_meanwhile(rc, index, error, error_size)) return 1;
    if (rc != TSS2_RC_SUCCESS) return fail(error, error_size, "cannot read the NV index's public area", rc);
    size_t total = public->nvPublic.dataSize;
    Esys_Free(public);
    if (total > *size) return fail(error, error_size, "NV index larger than its buffer", 0);
    // Read with owner authorization, as Azure's tooling does; TPMs cap one
    // NV_Read (TPM2_PT_NV_BUFFER_MAX, 1024 or more): read in pieces of 512.
    for (size_t offset = 0; offset < total; offset += 512) {
        UINT16 chunk = (UINT16)(total - offset < 512 ? total - offset : 512);
        TPM2B_MAX_NV_BUFFER *piece = NULL;
        rc = Esys_NV_Read(tpm->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk, (UINT16)offset, &piece);
        if (undefined_meanwhile(rc, index, error, error_size)) return 1;
        if (rc != TSS2_RC_SUCCESS) return fail(error, error_size, "NV read failed", rc);
        memcpy(data + offset, piece->buffer, piece->size);
        Esys_Free(piece);
    }
    *size = total;
    return 0;
}

int aa_tpm_nv_write(aa_tpm *tpm, uint32_t index, const uint8_t *data, size_t size, char *error, size_t error_size) {
    if (size == 0 || size > 1024) return fail(error, error_size, "NV data must be 1 to 1024 bytes", 0);
    ESYS_TR nv;
    TSS2_RC rc = Esys_TR_FromTPMPublic(tpm->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
    int defined = rc == TSS2_RC_SUCCESS;
    if (defined) {
        TPM2B_NV_PUBLIC *public = NULL;
        rc = Esys_NV_ReadPublic(tpm->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &public, NULL);
        if (rc != TSS2_RC_SUCCESS) return fail(error, error_size, "cannot read the NV index's public area", rc);
        size_t defined_size = public->nvPublic.dataSize;
        Esys_Free(public);
        // A partial write would leave old bytes after the new ones: an index
        // of another size is defined again with this one.
        if (defined_size != size) {
            rc = Esys_NV_UndefineSpace(tpm->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
            if (rc != TSS2_RC_SUCCESS) return fail(error, error_size, "cannot undefine the NV index", rc);
            defined = 0;
        }
    }
    if (!defined) {
        TPM2B_AUTH auth = { 0 };
        TPM2B_NV_PUBLIC public = { .nvPublic = {
            .nvIndex = index,
            .nameAlg = TPM2_ALG_SHA256,
            .attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD,
            .dataSize = (UINT16)size,
        } };
        rc = Esys_NV_DefineSpace(tpm->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &auth, &public, &nv);
        if (rc != TSS2_RC_SUCCESS) return fail(error, error_size, "cannot define the NV index", rc);
    }
    TPM2B_MAX_NV_BUFFER buffer = { .size = (UINT16)size };
    memcpy(buffer.buffer, data, size);
    rc = Esys_NV_Write(tpm->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buffer, 0);
    return rc == TSS2_RC_SUCCESS ? 0 : fail(error, error_size, "NV write failed", rc);
}
