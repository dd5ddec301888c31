/// Splits a byte stream into Varlink messages: each message is the bytes
/// before a NUL. Used by the server (bytes as they arrive) and the client.
///
/// Bounded: a message longer than `limit` bytes (its NUL not among the
/// first `limit + 1` bytes) is an error as soon as that many bytes are
/// buffered, so a peer that never sends a NUL costs at most `limit` bytes
/// plus one read. Each byte is searched for a NUL once, however the
/// stream is cut into reads.
public struct VarlinkFramer: Sendable {
    /// 64 KiB: the longest message twostepd accepts.
    public static let defaultLimit = 64 * 1024

    public let limit: Int
    private var bytes: [UInt8] = []
    private var start = 0
    /// Bytes from `start` up to here hold no NUL.
    private var scanned = 0

    public init(limit: Int = VarlinkFramer.defaultLimit) {
        self.limit = limit
    }

    /// Bytes received and not yet returned as a message.
    public var bufferedCount: Int { bytes.count - start }

    /// Whether a complete message is buffered (nextMessage() returns one).
    public var hasCompleteMessage: Bool {
        bytes[scanned...].contains(0)
    }

    public mutating func append<Bytes: Sequence<UInt8>>(_ newBytes: Bytes) {
        if start > 0 && start == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            start = 0
            scanned = 0
        }
        bytes.append(contentsOf: newBytes)
    }

    /// The next complete message without its NUL, or nil when the next one
    /// has not been received whole yet.
    /// - Throws: `.messageTooLarge` once the pending message exceeds `limit`.
    public mutating func nextMessage() throws(VarlinkFramingError) -> [UInt8]? {
        guard let end = bytes[scanned...].firstIndex(of: 0) else {
            scanned = bytes.count
            if bytes.count - start > limit { throw .messageTooLarge(limit: limit) }
            return nil
        }
        if end - start > limit { throw .messageTooLarge(limit: limit) }
        let message = Array(bytes[start..<end])
        start = end + 1
        scanned = start
        if start > 4096 && start * 2 > bytes.count {
            bytes.removeSubrange(0..<start)
            start = 0
            scanned = 0
        }
        return message
    }
}

public enum VarlinkFramingError: Error, Sendable, Hashable, CustomStringConvertible {
    case messageTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .messageTooLarge(let limit): "message longer than \(limit) bytes"
        }
    }
}
