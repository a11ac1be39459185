#if canImport(Glibc)
import Glibc
#endif
import CGreenloopSystem

/// A POSIX signal number, as a type of its own.
///
/// The value is not checked here; ``Loop/makeSignalWatcher(_:_:)`` rejects numbers that cannot be
/// watched.
@frozen
public struct Signal: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The C signal number.
    public var rawValue: CInt

    @inlinable
    /// A signal from its C number.
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// SIGHUP
    public static var hangup: Signal { Signal(rawValue: SIGHUP) }
    /// SIGINT
    public static var interrupt: Signal { Signal(rawValue: SIGINT) }
    /// SIGQUIT
    public static var quit: Signal { Signal(rawValue: SIGQUIT) }
    /// SIGKILL (cannot be watched)
    public static var kill: Signal { Signal(rawValue: SIGKILL) }
    /// SIGUSR1
    public static var user1: Signal { Signal(rawValue: SIGUSR1) }
    /// SIGUSR2
    public static var user2: Signal { Signal(rawValue: SIGUSR2) }
    /// SIGPIPE
    public static var brokenPipe: Signal { Signal(rawValue: SIGPIPE) }
    /// SIGALRM
    public static var alarm: Signal { Signal(rawValue: SIGALRM) }
    /// SIGTERM
    public static var terminate: Signal { Signal(rawValue: SIGTERM) }
    /// SIGCHLD
    public static var childStatusChanged: Signal { Signal(rawValue: SIGCHLD) }
    /// SIGCONT
    public static var `continue`: Signal { Signal(rawValue: SIGCONT) }
    /// SIGSTOP (cannot be watched)
    public static var stop: Signal { Signal(rawValue: SIGSTOP) }
    /// SIGWINCH
    public static var windowChanged: Signal { Signal(rawValue: SIGWINCH) }

    /// The real-time signal `SIGRTMIN + offset`.
    public static func realTime(_ offset: CInt) -> Signal {
        Signal(rawValue: __libc_current_sigrtmin() + offset)
    }

    /// The synchronous fault signals, which no loop can watch.
    static let faults: Set<CInt> = [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP]

    /// One more than the highest signal number on this system.
    public static var limit: CInt { greenloop_signal_limit() }

    /// Why this signal cannot be watched, or `nil` when it can.
    var unwatchableReason: String? {
        if rawValue <= 0 || rawValue >= Signal.limit {
            return "signal numbers run from 1 to \(Signal.limit - 1)"
        }
        if rawValue == SIGKILL || rawValue == SIGSTOP {
            return "SIGKILL and SIGSTOP cannot be caught"
        }
        // A fault is raised again by the instruction that caused it as soon as its handler
        // returns: the loop's handler only notes it for a later iteration, so the thread would
        // fault forever and the report never come. Faults stay fatal, as the system makes them.
        if Signal.faults.contains(rawValue) {
            return "\(self) reports a fault in the running code; it cannot be delivered through the loop "
                + "(SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGTRAP are refused)"
        }
        return nil
    }

    /// `SIGINT (2)`, or `signal 40` for numbers without a short name here.
    public var description: String {
        let names: [CInt: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
            SIGABRT: "SIGABRT", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV",
            SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGUSR1: "SIGUSR1",
            SIGUSR2: "SIGUSR2", SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP",
            SIGTSTP: "SIGTSTP", SIGWINCH: "SIGWINCH", SIGBUS: "SIGBUS", SIGTRAP: "SIGTRAP",
        ]
        return names[rawValue].map { "\($0) (\(rawValue))" } ?? "signal \(rawValue)"
    }
}
