import TwoStepCore

/// When a change of verification state may be written over the old bytes
/// instead of replacing the file (`FactorStore.Durability.stateOnly`).
///
/// Allowed when the new text has exactly the old one's length and every
/// byte that differs lies in one aligned 512-byte block: the smallest
/// sector a disk writes whole or not at all, and inside one page of the
/// page cache, so that a crash leaves either the old or the new bytes of
/// that block and a reader holding the shared lock never sees a mix. The
/// usual changes qualify: the writer puts the fixed-width `failures` line
/// first and a TOTP step keeps its number of digits for decades.
public enum InPlacePatch {
    /// The size of the block every difference must fall in.
    public static let sectorSize = 512

    /// The byte range to write, or nil when the change must replace the file
    /// (different lengths, differences in two sectors) or there is none.
    public static func range(from old: [UInt8], to new: [UInt8]) -> Range<Int>? {
        guard old.count == new.count else { return nil }
        return old.withUnsafeBufferPointer { o in
            new.withUnsafeBufferPointer { n -> Range<Int>? in
                let first = ByteScan.firstDifference(o, n)
                guard first < o.count else { return nil }
                let last = ByteScan.lastDifference(o, n)
                guard first / sectorSize == last / sectorSize else { return nil }
                return first..<(last + 1)
            }
        }
    }
}
