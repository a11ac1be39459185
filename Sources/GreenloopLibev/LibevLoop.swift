import CLibev
@_spi(Backend) import GreenloopCore
import Logging

/// The libev backend: a ``GreenloopCore/EventLoop`` whose io watchers and timers are libev's.
///
/// libev is loaded at run time from `libev.so.4` and never linked, so that its libevent
/// emulation cannot take libevent's names (see CLibev.h). Each loop is a separate `ev_loop_new`
/// (never libev's default loop, which would install a SIGCHLD handler), made with
/// `EVFLAG_NOENV` so that `LIBEV_FLAGS` cannot change the method behind the program's back.
public enum Libev {
    /// Makes a loop on libev.
    ///
    /// - Parameters:
    ///   - method: the I/O method, or `nil` for libev's recommended one on this machine (epoll
    ///     on Linux).
    ///   - logger: where the loop reports errors thrown by callbacks.
    /// - Throws: ``GreenloopCore/LoopError/backendUnavailable(_:reason:)`` when libev.so.4 cannot
    ///   be loaded, or this machine does not provide `method`: never a silent substitute.
    public static func makeLoop(method: IOMethod? = nil, logger: Logger) throws(LoopError) -> EventLoop {
        try EventLoop(native: LibevNativeLoop(method: method), logger: logger)
    }

    /// libev's version, as "4.33", or `nil` when libev.so.4 cannot be loaded.
    public static var version: String? {
        guard greenloop_ev_load(nil) == 0 else { return nil }
        return "\(greenloop_ev_version_major()).\(greenloop_ev_version_minor())"
    }

    /// The methods this machine's libev supports (before asking the kernel).
    public static var supportedMethods: [IOMethod] {
        guard greenloop_ev_load(nil) == 0 else { return [] }
        let mask = greenloop_ev_supported_backends()
        return BackendKind.libev.methods.filter { mask & LibevNativeLoop.flag(for: $0) != 0 }
    }
}
