import ArgumentParser

/// `twostep add`: another method.
struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add another method: an authenticator app, a phone or a security key.",
        subcommands: [AddTOTP.self, AddPhone.self, AddKey.self])
}
