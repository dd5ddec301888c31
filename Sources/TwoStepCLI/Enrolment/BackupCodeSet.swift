import TwoStepCore

/// Showing a set of backup codes (`enroll`, `codes`, `import`): the
/// service makes them (`LocalAccountService`) and keeps only their hashes.
enum BackupCodeSet {
    /// Prints the codes on standard output with what to do with them.
    static func show(_ codes: [String]) {
        Console.out("Backup codes (each works once; this is the only time they are shown):")
        for code in codes { Console.out("  \(code)") }
        Console.out()
        Console.out("Keep them somewhere safe, away from your phone. Enter one instead of a code from")
        Console.out("your app when the app is not at hand. 'twostep codes' makes a new set.")
    }
}
