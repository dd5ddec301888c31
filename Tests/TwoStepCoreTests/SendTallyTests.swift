import Testing
import TwoStepCore

@Suite("SendTally (root's send count, SPEC §5) and SendPolicy.admit")
struct SendTallyTests {
    let number = try! PhoneNumber(parsing: "+966501234534")

    @Test("text round trip: sends and confirmed numbers")
    func roundTrip() throws {
        var tally = SendTally(sends: SendLog(times: [100, 200]))
        tally.confirm(number, at: 50)
        tally.confirm(number, at: 60)  // once: the first time stays
        let text = tally.text
        #expect(text == "twostep-sends 1\nsends times=100,200\nconfirmed number=+966501234534 time=50\n")
        let parsed = try SendTally(parsing: Array(text.utf8))
        #expect(parsed == tally)
        #expect(parsed.isConfirmed(number))
        #expect(!parsed.isConfirmed(try PhoneNumber(parsing: "+14155550100")))
        #expect(try SendTally(parsing: []) == SendTally())
    }

    @Test("strict: another header, an unknown line or field, two sends lines, a bad number or time", arguments: [
        "twostep-sends 2\n",
        "twostep 1\n",
        "twostep-sends 1\nsends times=1\nsends times=2\n",
        "twostep-sends 1\nphone number=+966501234534\n",
        "twostep-sends 1\nconfirmed number=0501234534 time=1\n",
        "twostep-sends 1\nconfirmed number=+966501234534\n",
        "twostep-sends 1\nconfirmed number=+966501234534 time=-1\n",
        "twostep-sends 1\nconfirmed number=+966501234534 time=1 extra=1\n",
        "twostep-sends 1\nsends times=x\n",
    ])
    func strict(text: String) {
        #expect(throws: TwoStepError.self) { try SendTally(parsing: Array(text.utf8)) }
    }

    @Test("admit: the account's and the number's limits both hold; a refusal records nothing")
    func admit() {
        let policy = SendPolicy(limit: 2, window: 900)
        var account = SendLog(), phone = SendLog(times: [1000])
        #expect(policy.admit(account: &account, number: &phone, at: 1010) == nil)
        #expect(account.times == [1010] && phone.times == [1000, 1010])
        // The number is at its limit (another account's sends count too).
        #expect(policy.admit(account: &account, number: &phone, at: 1020) == 1900)
        #expect(account.times == [1010] && phone.times == [1000, 1010])
        // Past the window of the number's first send: allowed again.
        #expect(policy.admit(account: &account, number: &phone, at: 1901) == nil)
        #expect(account.times == [1010, 1901])
        var other = SendLog()
        #expect(policy.admit(account: &account, number: &other, at: 1902) == 1910)  // the account's limit
    }
}
