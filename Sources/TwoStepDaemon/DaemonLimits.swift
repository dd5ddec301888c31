import NIOCore

/// The bounds that keep one client from costing the others (SPEC §8:
/// hostile clients get an error or a closed connection, never a hang).
enum DaemonLimits {
    /// The longest message read: 64 KiB without its NUL. A longer one gets
    /// `org.varlink.service.InvalidParameter(parameter: "message")` and the
    /// connection is closed.
    static let messageBytes = 64 * 1024
    /// A connection with no complete message for this long, while no call
    /// of its own runs, is closed (silent, slow, or not reading replies).
    static let idleTimeout = TimeAmount.seconds(10)
    /// Connections open at once; those beyond are closed on accept.
    static let connections = 1024
    /// Interface calls running at once (each may block on a lock or a
    /// channel plugin); the rest wait. org.varlink.service and errors are
    /// answered on the event loop, without a thread.
    static let callThreads = 8
    /// On SIGTERM, how long calls that are running may take to finish
    /// before their connections are closed anyway.
    static let shutdownGrace = TimeAmount.seconds(30)
    /// The listen backlog asked for (the kernel caps it at somaxconn).
    static let backlog: Int32 = 4096
    /// The file-descriptor soft limit raised to (at most the hard limit):
    /// room for every connection.
    static let openFiles = 4096
}
