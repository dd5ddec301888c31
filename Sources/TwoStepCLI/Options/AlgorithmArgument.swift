import ArgumentParser
import TwoStepCore

/// An OTP hash named on the command line.
struct AlgorithmArgument: ExpressibleByArgument {
    let algorithm: OTPAlgorithm

    init?(argument: String) {
        guard let algorithm = OTPAlgorithm(name: argument) else { return nil }
        self.algorithm = algorithm
    }

    static var allValueStrings: [String] { OTPAlgorithm.allCases.map(\.rawValue) }
}
