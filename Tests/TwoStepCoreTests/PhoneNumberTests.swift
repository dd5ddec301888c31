import Testing
import TwoStepCore

@Suite("PhoneNumber (E.164) and masking")
struct PhoneNumberTests {
    static func error(_ text: String) -> String? {
        do throws(TwoStepError) {
            _ = try PhoneNumber(parsing: text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("valid numbers are stored as + and digits", arguments: [
        ("+966501234534", "+966501234534"),
        ("+966 50 123 4534", "+966501234534"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+44 7700.900123", "+447700900123"),
        ("  +4915112345678", "+4915112345678"),
        ("+12345678", "+12345678"),                    // 8 digits: the shortest
        ("+123456789012345", "+123456789012345"),      // 15 digits: the longest
    ])
    func valid(input: String, stored: String) throws {
        #expect(try PhoneNumber(parsing: input).e164 == stored)
    }

    @Test("invalid numbers are refused and the message says to include the region code", arguments: [
        "", "   ", "0501234534", "966501234534", "00966501234534", "+", "+0501234534",
        "+1234567", "+1234567890123456", "+966 50 123 453x", "+966-50-123-4534\n", "+966_501234534",
        "++966501234534", "+٩٦٦٥٠١٢٣٤٥٣٤",
    ])
    func invalid(input: String) throws {
        let message = try #require(Self.error(input), "'\(input)' was accepted")
        #expect(message.contains("include the region code") || message.contains("region code"), "\(message)")
        #expect(message.contains("region code"))
    }

    @Test("a number without + says why")
    func noPlus() throws {
        let message = try #require(Self.error("0501234534"))
        #expect(message.contains("does not start with '+'"))
        #expect(message.contains("include the region code"))
    }

    @Test("too short and too long say the digit range")
    func lengths() throws {
        #expect(try #require(Self.error("+1234567")).contains("too short"))
        #expect(try #require(Self.error("+1234567890123456")).contains("too long"))
        #expect(try #require(Self.error("+1234567")).contains("8 to 15 digits"))
    }

    @Test("country codes of one, two and three digits", arguments: [
        ("+14155550100", "1"), ("+79161234567", "7"), ("+447700900123", "44"), ("+4915112345678", "49"),
        ("+201001234567", "20"), ("+966501234534", "966"), ("+971501234567", "971"), ("+35312345678", "353"),
        ("+886912345678", "886"), ("+919876543210", "91"),
    ])
    func countryCode(number: String, code: String) throws {
        #expect(try PhoneNumber(parsing: number).countryCode == code)
    }

    @Test("masking shows the region code and the last two digits only, at a fixed width", arguments: [
        ("+966501234534", "+966 ••• ••34"),
        ("+14155550100", "+1 ••• ••00"),
        ("+447700900123", "+44 ••• ••23"),
        ("+12345678", "+1 ••• ••78"),
    ])
    func masking(number: String, masked: String) throws {
        let n = try PhoneNumber(parsing: number)
        #expect(n.masked == masked)
        // Nothing of the middle digits shows.
        let middle = n.e164.dropFirst(1 + n.countryCode.count).dropLast(2)
        #expect(!n.masked.contains(String(middle)))
    }

    @Test("a phone's menu text and file line")
    func phoneLine() throws {
        let phone = Phone(id: "phone-1", number: try PhoneNumber(parsing: "+966501234534"), channel: .voice,
                          label: "Office desk", created: 1_764_220_800)
        #expect(phone.menuText == "voice call to +966 ••• ••34")
        let file = FactorFile(factors: [phone])
        #expect(file.text.contains("phone id=phone-1 number=+966501234534 channel=voice label=Office%20desk created=1764220800\n"))
        let parsed = try FactorFile(parsing: file.text)
        #expect(parsed.phones == [phone])
        #expect(parsed.isEnabled)
    }

    @Test("malformed phone lines are refused with the line number", arguments: [
        "phone id=phone-1 number=0501234534 channel=sms label=x created=1",
        "phone id=phone-1 number=+966%20501234534 channel=sms label=x created=1",
        "phone id=phone-1 number=+966501234534 channel=email label=x created=1",
        "phone id=phone-1 number=+966501234534 label=x created=1",
        "phone id=phone-1 number=+966501234534 channel=sms label=x created=1 extra=1",
        "pending id=pending-1 phone=phone-1 salt=00 hash=00 created=1 expires=2",
        "pending id=pending-1 phone=phone-1 salt=\(String(repeating: "0", count: 32)) hash=\(String(repeating: "0", count: 64)) created=5 expires=2",
        "sends times=",
        "sends times=1,,2",
        "sends times=1,x",
        "sends",
    ])
    func malformed(line: String) throws {
        let error = try #require(malformedFileError("twostep 1\n\(line)\n"), "accepted: \(line)")
        #expect(error.line == 2)
    }

    @Test("a second sends line is an error")
    func twoSendsLines() throws {
        let error = try #require(malformedFileError("twostep 1\nsends times=1\nsends times=2\n"))
        #expect(error.line == 3 && error.reason.contains("second 'sends'"))
    }
}
