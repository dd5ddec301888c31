/// A Varlink error reply: `{"error": name, "parameters": {...}}`.
///
/// Interfaces throw it from `VarlinkInterface.call`; `VarlinkClient` hands
/// it back as `VarlinkClientError.reply`. The parameters explain the error
/// to the caller: never put a secret, a code or a hash in them.
///
///     throw VarlinkError(name: "io.twostep.Manage.CodeRefused",
///                        parameters: ["message": "wrong code", "failures": 2])
public struct VarlinkError: Error, Sendable, Hashable {
    /// The fully qualified error name, e.g. `io.twostep.Manage.CodeRefused`.
    public let name: String
    /// The error's parameters (an empty object when it has none).
    public let parameters: [String: VarlinkValue]

    public init(name: String, parameters: [String: VarlinkValue] = [:]) {
        self.name = name
        self.parameters = parameters
    }
}

// The errors of org.varlink.service, which every service may answer.
extension VarlinkError {
    public static let interfaceNotFoundName = "org.varlink.service.InterfaceNotFound"
    public static let methodNotFoundName = "org.varlink.service.MethodNotFound"
    public static let methodNotImplementedName = "org.varlink.service.MethodNotImplemented"
    public static let invalidParameterName = "org.varlink.service.InvalidParameter"
    public static let permissionDeniedName = "org.varlink.service.PermissionDenied"
    public static let expectedMoreName = "org.varlink.service.ExpectedMore"

    /// No interface `interface` on this socket.
    public static func interfaceNotFound(_ interface: String) -> VarlinkError {
        VarlinkError(name: interfaceNotFoundName, parameters: ["interface": .string(interface)])
    }

    /// No method `method` (fully qualified) in its interface.
    public static func methodNotFound(_ method: String) -> VarlinkError {
        VarlinkError(name: methodNotFoundName, parameters: ["method": .string(method)])
    }

    /// The method exists but not in the form asked for (`more`, `upgrade`).
    public static func methodNotImplemented(_ method: String) -> VarlinkError {
        VarlinkError(name: methodNotImplementedName, parameters: ["method": .string(method)])
    }

    /// The parameter (or part of the message) named `parameter` is missing,
    /// unknown, of the wrong type or out of range.
    public static func invalidParameter(_ parameter: String) -> VarlinkError {
        VarlinkError(name: invalidParameterName, parameters: ["parameter": .string(parameter)])
    }

    public static let permissionDenied = VarlinkError(name: permissionDeniedName)
}

extension VarlinkError: CustomStringConvertible {
    /// The name and the parameters' keys and values, for a person reading a
    /// CLI's message; the daemon logs only `name`.
    public var description: String {
        if parameters.isEmpty { return name }
        return name + " " + String(decoding: JSONText.serialize(.object(parameters)), as: UTF8.self)
    }
}
