import Testing
import TwoStepCore

@Suite("Codes sent to phones: pending codes, delivery, send limit")
struct PendingCodeTests {
    static let now: Int64 = 1_764_220_800
    static let phone = Phone(id: "phone-1", number: try! PhoneNumber(parsing: "+966501234534"), channel: .sms,
                             label: "mobile", created: 1_764_000_000)

    static func phoneOnlyFile() -> FactorFile { FactorFile(factors: [phone]) }

    /// Reserves a send and returns the code (fails the test when limited).
    static func send(_ file: inout FactorFile, at time: Int64, policy: SendPolicy = .standard) throws -> String {
        let reservation = try CodeDelivery.reserve(phoneID: "phone-1", in: &file, policy: policy, at: time)
        guard case .send(let code, let phone, _) = reservation else {
            Issue.record("expected a send, got \(reservation)")
            return ""
        }
        #expect(phone.id == "phone-1")
        return code
    }

    @Test("generated codes: 6 digits, salted HMAC-SHA256 stored, never the code")
    func generated() throws {
        var seen = Set<String>()
        for _ in 0..<50 {
            let (code, factor) = try PendingCode.generate(id: "pending-1", phoneID: "phone-1", now: Self.now)
            #expect(code.count == 6 && code.allSatisfy(\.isASCII) && code.allSatisfy(\.isNumber))
            #expect(factor.expires == Self.now + 300)
            #expect(factor.salt.count == 16)
            #expect(factor.hash == HMAC.authenticate(.sha256, key: SecretBytes(factor.salt), message: Array(code.utf8)))
            let text = FactorFile(factors: [Self.phone, factor]).text
            #expect(!text.contains(code))
            seen.insert(code)
        }
        #expect(seen.count > 40)
    }

    @Test("the Verifier accepts a sent code once; the line is gone after")
    func acceptedOnce() throws {
        var file = Self.phoneOnlyFile()
        let code = try Self.send(&file, at: Self.now)
        let file2 = try FactorFile(parsing: file.text)   // survives a round trip
        let verifier = Verifier()
        let first = verifier.verify(code, in: file2, at: Self.now + 10)
        guard case .accepted(let acceptance) = first.decision else {
            Issue.record("refused: \(first.decision)")
            return
        }
        #expect(acceptance.kind == .pendingCode)
        #expect(first.file.pendingCodes.isEmpty)
        #expect(first.file.phones.count == 1)
        let second = verifier.verify(code, in: first.file, at: Self.now + 20)
        guard case .refused = second.decision else {
            Issue.record("a used code was accepted again")
            return
        }
    }

    @Test("a code is refused at and after its expiry, accepted just before")
    func expiry() throws {
        var file = Self.phoneOnlyFile()
        let code = try Self.send(&file, at: Self.now)
        let verifier = Verifier()
        guard case .accepted = verifier.verify(code, in: file, at: Self.now + 299).decision else {
            Issue.record("refused before expiry")
            return
        }
        for late in [Self.now + 300, Self.now + 301, Self.now + 86_400] {
            guard case .refused = verifier.verify(code, in: file, at: late).decision else {
                Issue.record("accepted at \(late - Self.now) s")
                return
            }
        }
    }

    @Test("a newer send supersedes the earlier code")
    func superseded() throws {
        var file = Self.phoneOnlyFile()
        let old = try Self.send(&file, at: Self.now)
        var new = try Self.send(&file, at: Self.now + 30)
        while new == old { new = try Self.send(&file, at: Self.now + 31) }   // 1 in a million
        #expect(file.pendingCodes.count == 1)
        let verifier = Verifier()
        guard case .refused = verifier.verify(old, in: file, at: Self.now + 40).decision else {
            Issue.record("the superseded code was accepted")
            return
        }
        guard case .accepted = verifier.verify(new, in: file, at: Self.now + 40).decision else {
            Issue.record("the newer code was refused")
            return
        }
    }

    @Test("wrong or malformed answers do not match a pending code", arguments: ["", "12345", "1234567", "abcdef", "?"])
    func malformed(answer: String) throws {
        var file = Self.phoneOnlyFile()
        _ = try Self.send(&file, at: Self.now)
        let pending = try #require(file.pendingCodes.first)
        guard case .noMatch = pending.check(answer, context: VerificationContext(now: Self.now, window: 1)) else {
            Issue.record("'\(answer)' matched")
            return
        }
    }

    @Test("a cancelled send leaves no working code but still counts")
    func cancelled() throws {
        var file = Self.phoneOnlyFile()
        let reservation = try CodeDelivery.reserve(phoneID: "phone-1", in: &file, policy: .standard, at: Self.now)
        guard case .send(let code, _, let pendingID) = reservation else { Issue.record("limited"); return }
        CodeDelivery.cancel(pendingID: pendingID, in: &file)
        #expect(file.pendingCodes.isEmpty)
        #expect(file.sends.times == [Self.now])
        guard case .refused = Verifier().verify(code, in: file, at: Self.now + 1).decision else {
            Issue.record("a cancelled code was accepted")
            return
        }
    }

    @Test("an unknown phone id sends nothing")
    func unknownPhone() throws {
        var file = Self.phoneOnlyFile()
        let before = file.text
        #expect(try CodeDelivery.reserve(phoneID: "phone-9", in: &file, policy: .standard, at: Self.now) == .unknownPhone)
        #expect(file.text == before)
    }

    @Test("the send limit: 3 in 15 minutes by default, then refused until the oldest leaves the window")
    func rateLimit() throws {
        var file = Self.phoneOnlyFile()
        _ = try Self.send(&file, at: Self.now)
        _ = try Self.send(&file, at: Self.now + 100)
        _ = try Self.send(&file, at: Self.now + 200)
        let pendingBefore = file.pendingCodes
        let limited = try CodeDelivery.reserve(phoneID: "phone-1", in: &file, policy: .standard, at: Self.now + 300)
        #expect(limited == .limited(until: Self.now + 900))
        #expect(file.pendingCodes == pendingBefore, "a refused send must not touch the pending code")
        #expect(file.sends.times == [Self.now, Self.now + 100, Self.now + 200])
        // Still limited one second before the first send leaves the window.
        #expect(try CodeDelivery.reserve(phoneID: "phone-1", in: &file, policy: .standard, at: Self.now + 899) == .limited(until: Self.now + 900))
        _ = try Self.send(&file, at: Self.now + 900)
        #expect(file.sends.times == [Self.now + 100, Self.now + 200, Self.now + 900], "old sends are forgotten")
    }

    @Test("the send log survives the file round trip, so the limit holds across processes")
    func rateLimitAcrossProcesses() throws {
        var file = Self.phoneOnlyFile()
        let policy = SendPolicy(limit: 2, window: 600)
        _ = try Self.send(&file, at: Self.now, policy: policy)
        var reread = try FactorFile(parsing: file.text)
        _ = try Self.send(&reread, at: Self.now + 1, policy: policy)
        #expect(reread.text.contains("sends times=\(Self.now),\(Self.now + 1)\n"))
        var again = try FactorFile(parsing: reread.text)
        #expect(try CodeDelivery.reserve(phoneID: "phone-1", in: &again, policy: policy, at: Self.now + 2) == .limited(until: Self.now + 600))
    }

    @Test("sends dated in the future (clock set back) count as sent now: the limit ends a window from now at the latest")
    func futureSends() {
        let policy = SendPolicy(limit: 1, window: 60)
        #expect(policy.nextAllowed(after: SendLog(times: [Self.now + 1000]), at: Self.now) == Self.now + 60)
        #expect(policy.nextAllowed(after: SendLog(times: [Self.now - 60]), at: Self.now) == nil)
        #expect(policy.nextAllowed(after: SendLog(times: [Self.now - 59]), at: Self.now) == Self.now + 1)
    }

    @Test("a file with only a pending code is not enabled; removing a phone removes its code")
    func pendingIsNotAMethod() throws {
        var file = Self.phoneOnlyFile()
        _ = try Self.send(&file, at: Self.now)
        #expect(file.isEnabled)
        file.removeFactor(id: "phone-1")
        #expect(file.factors.isEmpty)
        let lonely = try FactorFile(parsing: "twostep 1\npending id=pending-1 phone=phone-1 salt=\(String(repeating: "ab", count: 16)) hash=\(String(repeating: "cd", count: 32)) created=1 expires=301\n")
        #expect(!lonely.isEnabled)
    }
}

@Suite("Module options for channels")
struct ChannelOptionsTests {
    @Test("send_limit and send_window: defaults 3 and 900")
    func defaults() throws {
        let o = try ModuleOptions(arguments: [])
        #expect(o.sendPolicy == SendPolicy(limit: 3, window: 900))
        let set = try ModuleOptions(arguments: ["send_limit=5", "send_window=3600", "channels=/etc/twostep/channels"])
        #expect(set.sendPolicy == SendPolicy(limit: 5, window: 3600))
        #expect(set.channels == "/etc/twostep/channels")
    }

    @Test("bad values are configuration errors", arguments: [
        "send_limit=0", "send_limit=101", "send_limit=-1", "send_limit=x", "send_limit", "send_limit=",
        "send_window=59", "send_window=86401", "send_window=1e3", "send_window", "send_limit=3 send_limit=3",
    ])
    func malformed(option: String) {
        let error = thrownError { () throws(TwoStepError) in try ModuleOptions(arguments: option.split(separator: " ").map(String.init)) }
        #expect(error != nil, "accepted: \(option)")
    }
}
