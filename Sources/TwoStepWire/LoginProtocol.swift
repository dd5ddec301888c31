/// `io.twostep.Login` (SPEC §9), defined once: its name, its socket, its
/// methods and its error. twostepd's `LoginInterface` is keyed by `Method`,
/// the module's `DaemonRecordBackend` calls `Method`s; the interface
/// description twostepd serves, which declares each method's parameters
/// and reply, is `LoginProtocol.idl` (TwoStepVarlink: the module has no use
/// for the text). The unit tests check that it declares exactly these.
public enum LoginProtocol {
    /// The interface name.
    public static let interface = "io.twostep.Login"
    /// The socket's file name in the socket directory (and its name under
    /// socket activation, FileDescriptorName=).
    public static let socketName = interface

    /// The methods, by their short names.
    public enum Method: String, VarlinkMember {
        case fetch = "Fetch"
        case store = "Store"
        case delete = "Delete"
        case admitSend = "AdmitSend"

        public static var interface: String { LoginProtocol.interface }
    }

    /// The interface's one error, by its short name: the database (or
    /// twostepd's store) could not be used in time. Its parameter is `reason`.
    public static let unavailableName = "Unavailable"
    /// `unavailableName`, fully qualified.
    public static let unavailable = interface + "." + unavailableName
}
