import ArgumentParser

/// `twostep trust`: devices that skip the code.
struct Trust: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or revoke trusted devices (logins from them skip the code until the trust expires).",
        subcommands: [TrustList.self, TrustRevoke.self],
        defaultSubcommand: TrustList.self)
}
