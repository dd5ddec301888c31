import Testing
import TwoStepWire

@Suite("NUL framing")
struct FramingTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("messages cut anywhere across reads come out whole and in order")
    func splitAcrossReads() throws {
        let stream = bytes("{\"a\":1}\0{}\0{\"method\":\"x.Y\"}\0")
        for cut in 1...stream.count {
            var framer = VarlinkFramer()
            var out: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                framer.append(stream[offset..<min(offset + cut, stream.count)])
                offset += cut
                while let message = try framer.nextMessage() { out.append(message) }
            }
            #expect(out == [bytes("{\"a\":1}"), bytes("{}"), bytes("{\"method\":\"x.Y\"}")], "cut \(cut)")
            #expect(framer.bufferedCount == 0)
        }
    }

    @Test("an incomplete message waits; an empty one is a message")
    func incompleteAndEmpty() throws {
        var framer = VarlinkFramer()
        framer.append(bytes("{\"method\""))
        #expect(try framer.nextMessage() == nil)
        #expect(!framer.hasCompleteMessage)
        framer.append([0, 0])
        #expect(framer.hasCompleteMessage)
        #expect(try framer.nextMessage() == bytes("{\"method\""))
        #expect(try framer.nextMessage() == [])
        #expect(try framer.nextMessage() == nil)
    }

    @Test("a message of exactly the limit passes; one byte more is refused, with or without its NUL")
    func limit() throws {
        var framer = VarlinkFramer(limit: 16)
        framer.append([UInt8](repeating: 0x61, count: 16) + [0])
        #expect(try framer.nextMessage()?.count == 16)

        var long = VarlinkFramer(limit: 16)
        long.append([UInt8](repeating: 0x61, count: 17) + [0])
        #expect(throws: VarlinkFramingError.messageTooLarge(limit: 16)) { try long.nextMessage() }

        var noNUL = VarlinkFramer(limit: 16)
        noNUL.append([UInt8](repeating: 0x61, count: 16))
        #expect(try noNUL.nextMessage() == nil)
        noNUL.append([0x61])
        #expect(throws: VarlinkFramingError.messageTooLarge(limit: 16)) { try noNUL.nextMessage() }
    }

    @Test("the default limit is 64 KiB")
    func defaultLimit() {
        #expect(VarlinkFramer.defaultLimit == 65536)
        #expect(VarlinkFramer().limit == 65536)
    }

    @Test("many messages through one framer: consumed bytes are dropped")
    func compaction() throws {
        var framer = VarlinkFramer(limit: 64)
        for i in 0..<10_000 {
            framer.append(bytes("{\"n\":\(i)}\0{\"n\":"))
            #expect(try framer.nextMessage() == bytes("{\"n\":\(i)}"))
            framer.append(bytes("\(i)}\0"))
            #expect(try framer.nextMessage() == bytes("{\"n\":\(i)}"))
        }
        #expect(framer.bufferedCount == 0)
    }
}
