/// The device a login comes from, as far as PAM can tell.
public struct Device: Sendable, Equatable {
    /// The PAM service (`sshd`, `sudo` …).
    public var service: String
    /// PAM_RHOST; nil or empty for a local login.
    public var remoteHost: String?
    /// `SHA256:…` fingerprint of the SSH key that passed the first step, when known.
    public var keyFingerprint: String?

    public init(service: String, remoteHost: String?, keyFingerprint: String?) {
        self.service = service
        self.remoteHost = remoteHost.flatMap { $0.isEmpty ? nil : $0 }
        self.keyFingerprint = keyFingerprint.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The device of a login whose `SSH_AUTH_INFO_0` parsed to `authInfo`
    /// (nil: unset, or not what sshd writes): its key is that of the last
    /// completed `publickey` method.
    public init(service: String, remoteHost: String?, authInfo: SSHAuthInfo?) {
        self.init(service: service, remoteHost: remoteHost, keyFingerprint: authInfo?.lastPublicKey?.fingerprint)
    }
}

/// Decides whether a trusted-device record lets a login skip the code, and
/// makes new records ("Don't ask for codes on this device"). Pure.
public struct TrustPolicy: Sendable, Equatable {
    /// Longest trust in days; 0 turns trusted devices off.
    public var trustDays: Int
    /// What must identify the device; nil means `both` when a key is known, else `rhost`.
    public var trustBy: TrustBy?

    public init(trustDays: Int, trustBy: TrustBy?) {
        self.trustDays = trustDays
        self.trustBy = trustBy
    }

    /// The identification used for `device`.
    public func mode(for device: Device) -> TrustBy {
        trustBy ?? (device.keyFingerprint != nil ? .both : .rhost)
    }

    /// The record that lets `device` in at `now`, or nil.
    ///
    /// A record counts only for the same service; every identity it holds
    /// must equal the device's, and it must hold every identity the mode
    /// requires. It lasts until its `expires` but never beyond `trustDays`
    /// after `created`, and a record claiming to be from the future counts
    /// for nothing.
    public func trustedRecord(in file: FactorFile, for device: Device, at now: Int64) -> TrustedDevice? {
        guard trustDays > 0, canTrust(device) else { return nil }
        let mode = mode(for: device)
        return file.trustedDevices.first { trusted in
            guard trusted.service == device.service, isCurrent(trusted, at: now) else { return false }
            if let host = trusted.remoteHost, host != device.remoteHost { return false }
            if let key = trusted.keyFingerprint, key != device.keyFingerprint { return false }
            switch mode {
            case .rhost: return trusted.remoteHost != nil
            case .key: return trusted.keyFingerprint != nil
            case .both: return trusted.remoteHost != nil && trusted.keyFingerprint != nil
            }
        }
    }

    /// True when `trusted` lets its device in at `now`: not dated in the
    /// future, before its `expires` and within `trustDays` of its `created`.
    public func isCurrent(_ trusted: TrustedDevice, at now: Int64) -> Bool {
        trustDays > 0 && trusted.created <= now
            && now < min(trusted.expires, UnixTime.adding(trusted.created, UnixTime.seconds(days: trustDays)))
    }

    /// True when trust is on and the device has what the mode needs to be recognised.
    public func canTrust(_ device: Device) -> Bool {
        guard trustDays > 0 else { return false }
        switch mode(for: device) {
        case .rhost: return device.remoteHost != nil
        case .key: return device.keyFingerprint != nil
        case .both: return device.remoteHost != nil && device.keyFingerprint != nil
        }
    }

    /// A new record for `device`, valid `trustDays` from `now`, holding only
    /// the identities the mode uses. Expired records for the same service
    /// and identity are dropped from the returned file.
    public func trust(_ device: Device, in file: FactorFile, at now: Int64) -> FactorFile {
        var file = file
        let mode = mode(for: device)
        let host = mode == .key ? nil : device.remoteHost
        let key = mode == .rhost ? nil : device.keyFingerprint
        file.trustedDevices.removeAll {
            ($0.service == device.service && $0.remoteHost == host && $0.keyFingerprint == key)
                || $0.expires <= now
        }
        let trusted = TrustedDevice(
            id: file.nextID(prefix: TrustedDevice.idPrefix), service: device.service,
            remoteHost: host, keyFingerprint: key, created: now, expires: UnixTime.adding(now, UnixTime.seconds(days: trustDays)))
        file.trustedDevices.append(trusted)
        return file
    }
}
