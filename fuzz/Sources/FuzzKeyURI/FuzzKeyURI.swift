import FuzzSupport
import TwoStepCore

/// otpauth:// URIs (what `twostep enroll --uri` and imports read). A URI
/// that parses is written back (`KeyURI.uri`) to one that parses to the same
/// key, account, issuer and parameters.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let text = String(decoding: input.rest(), as: UTF8.self)
    guard let key = try? KeyURI(parsing: text) else { return 0 }
    require(key.secret.count >= 10, "a secret shorter than 10 bytes was accepted")
    require(OTPParameters.digitRange.contains(key.parameters.digits), "digits out of range")
    require(OTPParameters.periodRange.contains(key.parameters.period), "period out of range")
    let uri = key.uri
    let again: KeyURI
    do { again = try KeyURI(parsing: uri) } catch {
        require(false, "written URI does not parse: \(error): \(uri)")
        return 0
    }
    require(again.secret == key.secret, "secret changed in a round trip: \(uri)")
    require(again.parameters == key.parameters, "parameters changed in a round trip: \(uri)")
    require(again.account == key.account && again.issuer == key.issuer,
            "label changed in a round trip: account '\(key.account)' issuer '\(key.issuer)' → '\(again.account)' '\(again.issuer)' via \(uri)")
    return 0
}
