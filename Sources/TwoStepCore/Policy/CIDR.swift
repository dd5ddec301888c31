/// An IPv4 or IPv6 network (`192.0.2.0/24`, `2001:db8::/32`, or a single
/// address), for the `exempt_rhost=` module option.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    /// The network address, 4 or 16 bytes.
    public let address: [UInt8]
    /// The prefix length in bits.
    public let prefixLength: Int

    public var description: String { "\(IPAddress.format(address))/\(prefixLength)" }

    /// Parses `ADDRESS[/BITS]`; throws `invalidParameter` saying what is wrong.
    public init(parsing text: String) throws(TwoStepError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress.parse(String(parts[0])) else {
            throw .invalidParameter("'\(text)' is not an IPv4 or IPv6 address or network")
        }
        let bits = address.count * 8
        var length = bits
        if parts.count == 2 {
            guard let n = Int(parts[1]), (0...bits).contains(n), parts[1].allSatisfy(\.isASCII) else {
                throw .invalidParameter("'\(text)': the prefix length must be 0 to \(bits)")
            }
            length = n
        }
        self.address = address
        self.prefixLength = length
    }

    /// True when `host` (an address in text form, as PAM_RHOST holds it) is
    /// in this network. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`)
    /// matches IPv4 networks. A host name never matches.
    public func contains(_ host: String) -> Bool {
        guard var candidate = IPAddress.parse(host) else { return false }
        if address.count == 4, candidate.count == 16,
           candidate[0..<10].allSatisfy({ $0 == 0 }), candidate[10] == 0xff, candidate[11] == 0xff {
            candidate = Array(candidate[12...])
        }
        guard candidate.count == address.count else { return false }
        var remaining = prefixLength
        for i in 0..<address.count where remaining > 0 {
            let take = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - take))
            if candidate[i] & mask != address[i] & mask { return false }
            remaining -= take
        }
        return true
    }
}

/// Text ↔ bytes for IP addresses, with `inet_pton`'s rules.
public enum IPAddress {
    /// 4 bytes for IPv4, 16 for IPv6, nil for anything else (host names too).
    public static func parse(_ text: String) -> [UInt8]? {
        if let v4 = parseIPv4(Substring(text)) { return v4 }
        return parseIPv6(text)
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out = [UInt8]()
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                  !(p.count > 1 && p.first == "0"), let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        var text = Substring(text)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone id
        guard !text.isEmpty else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: Substring) -> [UInt8]? {
            if s.isEmpty { return [] }
            var out = [UInt8]()
            let items = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, item) in items.enumerated() {
                if i == items.count - 1, item.contains(".") {
                    guard let v4 = parseIPv4(item) else { return nil }
                    out += v4
                    continue
                }
                guard (1...4).contains(item.count), let v = UInt16(item, radix: 16) else { return nil }
                out += [UInt8(v >> 8), UInt8(v & 0xff)]
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    /// Text form (IPv6 without `::` compression, which is enough for messages).
    public static func format(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: bytes.count, by: 2).map {
            String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
        }.joined(separator: ":")
    }
}

extension Substring {
    func components(separatedBy separator: String) -> [Substring] {
        var result = [Substring]()
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            result.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        result.append(rest)
        return result
    }
}
