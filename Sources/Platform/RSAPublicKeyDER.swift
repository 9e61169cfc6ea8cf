import PlatformInterface

/// An RSA public key as DER SubjectPublicKeyInfo (RFC 5280, RFC 8017), the
/// form upstream's TPM evidence carries the attestation key in.
enum RSAPublicKeyDER {
    static func subjectPublicKeyInfo(modulus: [UInt8], exponent: UInt32) -> [UInt8] {
        let rsaEncryption: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
        let algorithm = tlv(0x30, rsaEncryption + [0x05, 0x00])
        var exponentBytes = withUnsafeBytes(of: exponent.bigEndian, Array.init)
        while exponentBytes.count > 1 && exponentBytes[0] == 0 { exponentBytes.removeFirst() }
        let key = tlv(0x30, integer(modulus) + integer(exponentBytes))
        return tlv(0x30, algorithm + tlv(0x03, [0x00] + key))
    }

    /// A positive INTEGER: leading zeros dropped, one added if the top bit is set.
    private static func integer(_ bytes: [UInt8]) -> [UInt8] {
        var value = Array(bytes.drop { $0 == 0 })
        if value.isEmpty || value[0] & 0x80 != 0 { value.insert(0, at: 0) }
        return tlv(0x02, value)
    }

    private static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        let count = content.count
        if count < 0x80 { return [tag, UInt8(count)] + content }
        var length = withUnsafeBytes(of: UInt32(count).bigEndian, Array.init)
        while length[0] == 0 { length.removeFirst() }
        return [tag, 0x80 | UInt8(length.count)] + length + content
    }
}
