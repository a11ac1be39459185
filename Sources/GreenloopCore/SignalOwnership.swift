import Synchronization

/// Which loop owns each watched signal, process-wide. A signal has one owning loop at a time,
/// because the kernel has one disposition per signal.
enum SignalOwnership {
    private static let owners = Mutex<[CInt: ObjectIdentifier]>([:])

    /// Claims `signal` for `loop`; false when another loop owns it.
    static func claim(_ signal: CInt, for loop: ObjectIdentifier) -> Bool {
        owners.withLock { owners in
            if let owner = owners[signal], owner != loop { return false }
            owners[signal] = loop
            return true
        }
    }

    /// Gives `signal` up, if `loop` owns it.
    static func release(_ signal: CInt, from loop: ObjectIdentifier) {
        owners.withLock { owners in
            if owners[signal] == loop { owners[signal] = nil }
        }
    }
}
