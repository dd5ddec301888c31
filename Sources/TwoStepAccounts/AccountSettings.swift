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
    /// Who may enrol a security key (`security_key_enrol=`, SPEC §11).
    public var securityKeyEnrol: SystemConfiguration.SecurityKeyEnrol

    public init(policy: VerificationPolicy = .standard, sendPolicy: SendPolicy = .standard,
                channels: String = ModuleOptions().channels, securityKeyEnrol: SystemConfiguration.SecurityKeyEnrol = .user) {
        self.policy = policy
        self.sendPolicy = sendPolicy
        self.channels = channels
        self.securityKeyEnrol = securityKeyEnrol
    }

    /// The settings of these module options (`security_key_enrol` is a
    /// twostep.conf key only: its default).
    public init(options: ModuleOptions) {
        self.init(policy: options.policy, sendPolicy: options.sendPolicy, channels: options.channels)
    }

    /// The settings of twostep.conf: its module options and `security_key_enrol=`.
    public init(configuration: SystemConfiguration) {
        self.init(options: configuration.options)
        securityKeyEnrol = configuration.securityKeyEnrol
    }
}
