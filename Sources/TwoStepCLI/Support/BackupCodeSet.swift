import TwoStepCore

/// Making and showing a set of backup codes (`enroll`, `codes`).
enum BackupCodeSet {
    /// Removes every backup code from `file`, adds `count` new ones and
    /// returns them in clear, to be shown once (the file keeps hashes only).
    static func replace(in file: inout FactorFile, count: Int, at now: Int64) throws -> [String] {
        file.factors.removeAll { $0 is BackupCode }
        var codes = [String]()
        for _ in 0..<count {
            let made = try BackupCode.generate(id: file.nextID(prefix: BackupCode.idPrefix), created: now)
            file.factors.append(made.factor)
            codes.append(made.code)
        }
        return codes
    }

    /// Prints the codes on standard output with what to do with them.
    static func show(_ codes: [String]) {
        Console.out("Backup codes (each works once; this is the only time they are shown):")
        for code in codes { Console.out("  \(code)") }
        Console.out()
        Console.out("Keep them somewhere safe, away from your phone. Enter one instead of a code from")
        Console.out("your app when the app is not at hand. 'twostep codes' makes a new set.")
    }
}
