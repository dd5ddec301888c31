import ArgumentParser
import TwoStepAccounts
import TwoStepCore
import TwoStepStore
import TwoStepWire
#if canImport(Glibc)
import Glibc
#endif

/// `twostep migrate --from TEMPLATE` (SPEC §9): copies every account's
/// factor file from a file store into the configured store (twostepd's
/// database), checking each one. Safe to re-run: a record already in the
/// store is never overwritten.
struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Root only: copy every account's factor file from a file store into twostepd's store (store=twostepd).",
        discussion: """
            For each account with a login shell (the rule of 'twostep report'), the file \
            --from names (%u the user name, %h the home directory) is read as 'twostep status \
            --user' reads it and checked: it must parse and hold an authenticator or backup \
            code. It is then created in the configured store through twostepd's \
            io.twostep.Login socket, as one atomic create: a record already there (from an \
            earlier run, or an enrolment made since) is left as it is and reported, so \
            running migrate again copies only what is missing. The files are not changed; \
            remove them once every host uses store=twostepd.

            One line per account that has a file; exit status 0 when every file found was \
            copied or was already there, 1 when some could not be (each one named with the \
            reason), 2 for a usage error, 3 when twostepd cannot be reached.
            """)

    @Option(name: .long, help: ArgumentHelp("The file store to copy from, e.g. /var/lib/twostep/%u or %h/.twostep.", valueName: "template"))
    var from: String

    func validate() throws {
        guard geteuid() == 0 else { throw ValidationError("migrate is for root only: it reads every user's factor file") }
        let template: StorePathTemplate
        do { template = try StorePathTemplate(from) } catch { throw ValidationError("--from: \(error)") }
        if template.isDaemon { throw ValidationError("--from names the file store to copy from, not twostepd") }
    }

    func run() throws {
        let configuration = try SystemSettings.load()
        guard configuration.options.store.isDaemon else {
            throw CLIError.usage("twostep.conf keeps the records in files (store=\(configuration.options.store.template)); migrate copies into store=twostepd (backend=postgresql)")
        }
        let template = try StorePathTemplate(from)
        let backend = DaemonRecordBackend(socketDirectory: SystemSettings.socketDirectory(configuration),
                                          timeout: Double(configuration.databaseTimeout) + 1)
        var counts = (copied: 0, present: 0, failed: 0)
        for login in LoginAccount.all() {
            let account = login.account
            let record: AccountFile
            do {
                // validate() refused --from twostepd: the location is a file.
                guard case .file(let file) = try RecordLocation(of: account, in: template) else { continue }
                record = file
            } catch {
                Console.out("\(account.name): not copied: \(error)")
                counts.failed += 1
                continue
            }
            let file: FactorFile
            do {
                guard let found = try record.run({ () -> FactorFile? in
                    do { return try record.file.read() } catch StoreError.notEnrolled { return nil }
                }) else { continue }
                file = found
            } catch {
                Console.out("\(account.name): not copied: \(error)")
                counts.failed += 1
                continue
            }
            guard file.isEnabled else {
                Console.out("\(account.name): not copied: \(record.path) holds no authenticator or backup code")
                counts.failed += 1
                continue
            }
            let target = VersionedRecordStore(backend: backend, user: account.name)
            do {
                try target.create(file)
                Console.out("\(account.name): copied from \(record.path)")
                counts.copied += 1
            } catch StoreError.alreadyExists {
                let same = (try? target.read().text) == file.text
                Console.out("\(account.name): already in the store\(same ? "" : " (with other content: left as it is)")")
                counts.present += 1
            } catch StoreError.unavailable(_, let reason) {
                throw CLIError.failure("twostepd cannot store the records: \(reason)")
            } catch {
                Console.out("\(account.name): not copied: \(error)")
                counts.failed += 1
            }
        }
        Console.out("\(counts.copied) copied, \(counts.present) already in the store, \(counts.failed) not copied")
        if counts.failed > 0 { throw ExitCode(1) }
    }
}
