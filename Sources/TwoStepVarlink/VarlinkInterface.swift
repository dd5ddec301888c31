import FoundationEssentials

/// One Varlink interface served on a socket (e.g. `io.twostep.Manage`).
///
/// The server answers `org.varlink.service` itself, checks that a method is
/// declared in `description` before calling, and runs `call` on a thread
/// pool: it may block (file locks, channel plugins) for several seconds
/// without delaying other clients. Calls on one connection come one at a
/// time; calls on different connections may run at the same time.
public protocol VarlinkInterface: Sendable {
    /// The interface name, e.g. `io.twostep.Manage`.
    var name: String { get }
    /// The interface's IDL text (`interface io.twostep.Manage` then its
    /// types, methods and errors), returned by GetInterfaceDescription.
    var description: String { get }
    /// Runs `method` (the short name, e.g. `Status`) for `peer`.
    ///
    /// - Parameter parameters: the JSON object text of the call's
    ///   parameters (`{}` when the call had none). `VarlinkCoding.decode`
    ///   turns it into a typed value.
    /// - Returns: the JSON object text of the reply's parameters
    ///   (`VarlinkCoding.encode`).
    /// - Throws: the error reply to send.
    func call(method: String, parameters: Data, peer: PeerCredentials) throws(VarlinkError) -> Data
    /// Whether the interface holds state in memory that an exit would lose
    /// (a phone confirmation waiting for its answer, sends counted against
    /// a limit): a socket-activated daemon does not exit for idleness while
    /// it does. Read from another thread than the calls; must not block.
    /// Default: false.
    var holdsState: Bool { get }
}

extension VarlinkInterface {
    public var holdsState: Bool { false }

    /// The short names of the methods the IDL declares (`method Name(`).
    public var declaredMethods: Set<String> {
        VarlinkIDL.methodNames(in: description)
    }
}

