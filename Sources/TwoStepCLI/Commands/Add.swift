import ArgumentParser

/// `twostep add`: another method.
struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add another method: an authenticator app or a phone.",
        subcommands: [AddTOTP.self, AddPhone.self])
}
