import TwoStepChannels
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// The policy a service applies: what a login on this host applies
/// (twostep.conf and the module's defaults), so that a code checked by a
/// command counts exactly as one checked at a login.
public struct AccountSettings: Sendable, Equatable {
    public var policy: VerificationPolicy
    public var sendPolicy: SendPolicy
    /// The channel plugins' directory.
    public var channels: String

    public init(policy: VerificationPolicy = .standard, sendPolicy: SendPolicy = .standard,
                channels: String = ModuleOptions().channels) {
        self.policy = policy
        self.sendPolicy = sendPolicy
        self.channels = channels
    }

    /// The settings of these module options.
    public init(options: ModuleOptions) {
        self.init(policy: options.policy, sendPolicy: options.sendPolicy, channels: options.channels)
    }
}
