/// Reads the SSH wire encoding of a public key blob (RFC 4251 §5): each
/// field a `string`, a 32-bit big-endian length and that many bytes. Every
/// read is bounds-checked; a length past the end is a truncated blob.
struct SSHWireReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Bytes not read yet.
    var remaining: Int { bytes.count - position }

    /// The next `string` field; `field` names it in the error.
    mutating func string(_ field: String) throws(SecurityKeyError) -> ArraySlice<UInt8> {
        guard remaining >= 4 else { throw .truncatedBlob(field: field + "'s length") }
        var length = 0
        for i in 0..<4 { length = length << 8 | Int(bytes[position + i]) }
        position += 4
        guard length <= remaining else { throw .truncatedBlob(field: field) }
        defer { position += length }
        return bytes[position..<position + length]
    }

    /// Throws unless every byte has been read.
    func end() throws(SecurityKeyError) {
        guard remaining == 0 else { throw .trailingBytes(count: remaining) }
    }
}
