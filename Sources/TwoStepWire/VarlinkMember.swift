/// A method or an error of one Varlink interface, by its short name (an
/// enum's raw value): `LoginProtocol.Method`, `ManageProtocol.ErrorName`.
/// The interface description interpolates the short names, calls and
/// replies carry the qualified ones.
public protocol VarlinkMember: RawRepresentable, CaseIterable, Hashable, Sendable, CustomStringConvertible
where RawValue == String {
    /// The interface the member belongs to, e.g. `io.twostep.Login`.
    static var interface: String { get }
}

extension VarlinkMember {
    /// The fully qualified name, e.g. `io.twostep.Login.Fetch`.
    public var qualifiedName: String { Self.interface + "." + rawValue }

    /// The short name, as the interface description spells it.
    public var description: String { rawValue }

    /// The member a qualified name names; nil for any other (another
    /// interface's, org.varlink.service's, an unknown one).
    public init?(qualifiedName: String) {
        let prefix = Self.interface + "."
        guard qualifiedName.hasPrefix(prefix) else { return nil }
        self.init(rawValue: String(qualifiedName.dropFirst(prefix.count)))
    }
}
