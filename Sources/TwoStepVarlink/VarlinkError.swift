import FoundationEssentials

extension VarlinkError {
    /// An error whose parameters are `parameters` encoded as a JSON object.
    /// A value that does not encode as an object (a bare number, a
    /// non-finite Double) gives an error with no parameters: the name is kept.
    public init(name: String, encoding parameters: some Encodable) {
        self.init(name: name, parameters: (try? VarlinkCoding.value(of: parameters))?.objectValue ?? [:])
    }

    /// The parameters decoded as `type`, e.g. a struct of the error's fields.
    public func decodeParameters<T: Decodable>(as type: T.Type) -> T? {
        try? JSONDecoder().decode(T.self, from: VarlinkCoding.data(of: .object(parameters)))
    }
}
