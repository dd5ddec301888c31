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
    /// A connection open this long is closed once its running call (if
    /// any) is answered, however busy it keeps: nobody holds a slot for
    /// ever. twostep's clients make one connection per call.
    static let connectionLifetime = TimeAmount.seconds(60)
    /// io.twostep.Manage (every user): 1024 connections at once; one uid
    /// other than root may hold 16 of them, and the last 64 are root's.
    static let manageConnections = ConnectionTracker.Budget(total: 1024, perUser: 16, reservedForRoot: 64)
    /// Each root-only socket (io.twostep.Login) has a budget of its own,
    /// which the users of io.twostep.Manage cannot touch.
    static let rootOnlyConnections = ConnectionTracker.Budget(total: 256, perUser: 0, reservedForRoot: 256)
    /// Interface calls of io.twostep.Manage running at once (each may
    /// block on a lock, at most `FactorStore.LockWait.standard`, or on a
    /// channel plugin); the rest wait. org.varlink.service and errors are
    /// answered on the event loop, without a thread.
    static let callThreads = 8
    /// Threads of their own for the root-only sockets (io.twostep.Login,
    /// the module's in fleet mode): calls on io.twostep.Manage, which every
    /// user can make, never hold them.
    static let rootOnlyCallThreads = 8
    /// Calls of one uid other than root on io.twostep.Manage running or
    /// waiting for a thread at once: a further call is answered at once
    /// with `io.twostep.Manage.Busy`. A user whose calls block (they hold
    /// their own record's lock) thus holds at most this many of the
    /// `callThreads`, each for at most the lock's wait.
    static let callsPerUser = 2
    /// On SIGTERM, how long calls that are running may take to finish
    /// before their connections are closed anyway.
    static let shutdownGrace = TimeAmount.seconds(30)
    /// While no connection is open but an interface holds state (a phone
    /// confirmation waiting for its answer), how often the idle exit looks
    /// again.
    static let holdPoll = TimeAmount.seconds(1)
    /// The listen backlog asked for (the kernel caps it at somaxconn).
    static let backlog: Int32 = 4096
    /// The file-descriptor soft limit raised to (at most the hard limit):
    /// room for every connection of every socket.
    static let openFiles = 4096
}
