import Testing
import TwoStepCore
@testable import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// Writes `text` to `path` with `mode`, owned by `owner` (root by default;
/// the tests that need another owner run as root).
private func write(_ text: String, to path: String, mode: mode_t = 0o644, owner: uid_t = 0) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    precondition(fd >= 0, "cannot create \(path)")
    let bytes = Array(text.utf8)
    bytes.withUnsafeBytes { precondition(Glibc.write(fd, $0.baseAddress, $0.count) == $0.count) }
    close(fd)
    if getuid() == 0 { chown(path, owner, 0) }
    chmod(path, mode)
}

private let asRoot = getuid() == 0

/// The error loading `path` throws, nil when it loads.
private func loadError(_ path: String) -> ConfigurationError? {
    do throws(ConfigurationError) {
        _ = try ConfigurationFile.load(path: path)
        return nil
    } catch {
        return error
    }
}

@Suite struct ConfigurationFileTests {
    @Test func theDefaultPath() {
        #expect(ConfigurationFile.defaultPath == "/etc/twostep/twostep.conf")
        #expect(ConfigurationFile.maxSize == 65_536)
    }

    @Test func aMissingFileIsTheDefaults() throws {
        let s = Scratch()
        #expect(try ConfigurationFile.load(path: s.dir + "/twostep.conf") == SystemConfiguration())
        #expect(try ConfigurationFile.load(path: s.dir + "/no-such-dir/twostep.conf") == SystemConfiguration())
    }

    @Test(.enabled(if: asRoot)) func aRootOwnedFileIsRead() throws {
        let s = Scratch()
        let path = s.dir + "/twostep.conf"
        for mode: mode_t in [0o644, 0o600, 0o444, 0o400, 0o640] {
            write("store=/var/lib/twostep/%u\nmax_failures=3\n", to: path, mode: mode)
            let c = try ConfigurationFile.load(path: path)
            #expect(c.options.store.template == "/var/lib/twostep/%u" && c.options.policy.maxFailures == 3, "mode \(mode)")
        }
    }

    @Test(.enabled(if: asRoot)) func notOwnedByRootIsRefused() {
        let s = Scratch()
        let path = s.dir + "/twostep.conf"
        write("window=2\n", to: path, owner: 65_534)
        #expect(loadError(path) == .unsafe(path: path, reason:
            "it is owned by uid 65534, not by root; it must be owned by root and not writable by group or others"))
    }

    @Test(.enabled(if: asRoot), arguments: [0o664 as mode_t, 0o646, 0o666, 0o620, 0o602])
    func writableByGroupOrOthersIsRefused(_ mode: mode_t) {
        let s = Scratch()
        let path = s.dir + "/twostep.conf"
        write("window=2\n", to: path, mode: mode)
        let error = loadError(path)
        #expect(error == .unsafe(path: path, reason: "it is writable by group or others (mode \(String(mode, radix: 8))); "
            + "it must be owned by root and not writable by group or others"))
        #expect(error?.description.hasPrefix("\(path): it is writable by group or others") == true)
    }

    @Test(.enabled(if: asRoot)) func symbolicLinksAreFollowedAndTheTargetChecked() throws {
        let s = Scratch()
        let target = s.dir + "/real.conf", link = s.dir + "/twostep.conf"
        write("window=3\n", to: target)
        symlink(target, link)
        #expect(try ConfigurationFile.load(path: link).options.policy.window == 3)
        // A link to a file that fails the checks: the target's failure.
        chmod(target, 0o666)
        #expect(loadError(link)?.description.contains("writable by group or others") == true)
        chmod(target, 0o644)
        chown(target, 65_534, 0)
        #expect(loadError(link)?.description.contains("owned by uid 65534") == true)
        // A link to a link to the file.
        chown(target, 0, 0)
        let second = s.dir + "/second.conf"
        symlink(link, second)
        #expect(try ConfigurationFile.load(path: second).options.policy.window == 3)
    }

    @Test func aDanglingLinkIsAnErrorNotTheDefaults() {
        let s = Scratch()
        let link = s.dir + "/twostep.conf"
        symlink(s.dir + "/gone.conf", link)
        #expect(loadError(link) == .unsafe(path: link, reason: "it is a symbolic link to a file that does not exist"))
    }

    @Test func notARegularFileIsRefused() {
        let s = Scratch()
        #expect(loadError(s.dir) == .unsafe(path: s.dir, reason: "it is not a regular file"))
        // A FIFO neither hangs the open nor is read.
        let fifo = s.dir + "/fifo.conf"
        mkfifo(fifo, 0o644)
        #expect(loadError(fifo) == .unsafe(path: fifo, reason: "it is not a regular file"))
        #expect(loadError("/dev/null") == .unsafe(path: "/dev/null", reason: "it is not a regular file"))
    }

    @Test(.enabled(if: asRoot)) func theSizeLimit() throws {
        let s = Scratch()
        let path = s.dir + "/twostep.conf"
        let line = "# " + String(repeating: "x", count: 1021) + "\n"  // 1024 bytes
        let full = String(repeating: line, count: 63) + "# " + String(repeating: "y", count: 1013) + "\nwindow=4"
        #expect(full.utf8.count == 65_536)
        write(full, to: path)
        #expect(try ConfigurationFile.load(path: path).options.policy.window == 4)
        write(full + "\n", to: path)
        #expect(loadError(path) == .unsafe(path: path, reason: "it is larger than 65536 bytes"))
    }

    @Test(.enabled(if: asRoot)) func parseErrorsNameTheFileAndLine() {
        let s = Scratch()
        let path = s.dir + "/twostep.conf"
        write("# fleet\nstore=/var/lib/twostep/%u\nstore=/srv/%u\n", to: path)
        let error = loadError(path)
        #expect(error == .invalidLine(path: path, line: 3, reason: "key 'store' is given twice (first on line 2)"))
        #expect(error?.description == "\(path):3: key 'store' is given twice (first on line 2)")
    }

    @Test func otherSystemErrorsNameTheFile() {
        let error = loadError("/etc/passwd/twostep.conf")
        #expect(error == .io(path: "/etc/passwd/twostep.conf", operation: "open", errno: ENOTDIR))
        #expect(error?.description == "/etc/passwd/twostep.conf: open: Not a directory")
    }

    @Test(.enabled(if: asRoot)) func anEmptyFileIsTheDefaults() throws {
        let s = Scratch()
        let path = s.dir + "/twostep.conf"
        write("", to: path)
        #expect(try ConfigurationFile.load(path: path) == SystemConfiguration())
    }
}
