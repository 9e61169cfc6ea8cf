"""Checks `tpm` evidence the way trustee's TPM verifier does
(deps/verifier/src/tpm), written from its rules and not from the agent's
code; the test KBS (Tests/KBS/test_kbs.py) applies it with `check`:

1. The evidence is {"tpm_quote": {signature, message (base64), pcrs (hex)},
   "ak_public": base64 DER SubjectPublicKeyInfo}.
2. The signature is a marshalled TPMT_SIGNATURE of RSASSA; its raw
   signature verifies, PKCS #1 v1.5 with SHA-256, over the message with
   ak_public (the verifier trusts that key; pinning it is policy's job).
3. SHA-256 over the 24 PCRs in order is the quote's PCR digest.
4. The quote's nonce is the expected report data cut or zero-padded to 32
   bytes.
5. PCR 8 is SHA-256(32 zero bytes || init-data digest), when one is expected.
`check` raises Broken with the first rule broken.
"""
import base64
import hashlib
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from azure_vtpm import Broken, parse_attest

TPM_ALG_RSASSA = 0x0014


def raw_signature(marshalled):
    algorithm, _hash, size = struct.unpack_from(">HHH", marshalled, 0)
    if algorithm != TPM_ALG_RSASSA or len(marshalled) != 6 + size:
        raise Broken(f"the signature is not RSASSA (algorithm {algorithm:#x})")
    return marshalled[6:]


def check(evidence, report_data, init_data_digest=None):
    quote = evidence["tpm_quote"]
    message = base64.b64decode(quote["message"])
    signature = raw_signature(base64.b64decode(quote["signature"]))
    pcrs = [bytes.fromhex(p) for p in quote["pcrs"]]
    key = serialization.load_der_public_key(base64.b64decode(evidence["ak_public"]))
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except Exception as error:
        raise Broken(f"the quote is not signed by ak_public: {error!r}")
    nonce, pcr_digest = parse_attest(message)
    if len(pcrs) != 24 or any(len(p) != 32 for p in pcrs):
        raise Broken("the evidence does not carry 24 SHA-256 PCRs")
    if hashlib.sha256(b"".join(pcrs)).digest() != pcr_digest:
        raise Broken("the PCRs do not hash to the quote's PCR digest")
    expected = (report_data + bytes(32))[:32]
    if nonce != expected:
        raise Broken(f"the quote's nonce {nonce.hex()} is not the report data fitted to 32 bytes {expected.hex()}")
    if init_data_digest is not None and hashlib.sha256(bytes(32) + init_data_digest).digest() != pcrs[8]:
        raise Broken(f"PCR 8 {pcrs[8].hex()} is not the init-data digest extended into zeros")
