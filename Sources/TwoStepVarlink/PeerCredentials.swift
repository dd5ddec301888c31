/// Who is at the other end of a Unix socket, as the kernel tells it
/// (`SO_PEERCRED`: the credentials the peer had when it called `connect`).
/// It is the only identity twostepd trusts: nothing a client sends can
/// change it.
public struct PeerCredentials: Sendable, Hashable {
    public let uid: UInt32
    public let gid: UInt32
    public let pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }

    /// uid 0: may name any user.
    public var isRoot: Bool { uid == 0 }
}
