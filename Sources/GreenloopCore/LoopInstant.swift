#if canImport(Glibc)
import Glibc
#endif

/// A point on the monotonic clock (CLOCK_MONOTONIC), as the loop sees time.
///
/// ``Loop/now`` is cached: it is read once per loop iteration, just after the loop wakes up, so
/// that every callback of one iteration sees the same time, and reading it costs nothing.
@frozen
public struct LoopInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since an unspecified point in the past (the machine's boot, on Linux).
    public var nanoseconds: UInt64

    @inlinable
    /// The instant `nanoseconds` after the clock's origin.
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The monotonic clock now, read afresh (a vDSO call, ~20 ns).
    public static func monotonicNow() -> LoopInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return LoopInstant(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }

    /// Whether `lhs` comes first.
    public static func < (lhs: LoopInstant, rhs: LoopInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// `self` moved later by `nanoseconds`, saturating.
    @inlinable
    public func advanced(byNanoseconds nanoseconds: UInt64) -> LoopInstant {
        let (sum, overflow) = self.nanoseconds.addingReportingOverflow(nanoseconds)
        return LoopInstant(nanoseconds: overflow ? .max : sum)
    }

    /// The time from `self` to `later`; zero when `later` is not later.
    public func duration(to later: LoopInstant) -> Duration {
        later > self ? .nanoseconds(Int64(clamping: later.nanoseconds - nanoseconds)) : .zero
    }

    /// Seconds since the clock's origin.
    public var description: String { "\(Double(nanoseconds) / 1e9) s" }
}

extension Duration {
    /// The whole nanoseconds in a non-negative duration, saturating at `UInt64.max`: what every
    /// timer, sleep and timeout is set with.
    ///
    /// - Throws: ``LoopError/invalidDuration(_:)`` when negative.
    package func timerNanoseconds() throws(LoopError) -> UInt64 {
        // Under about 18 s (the frozen 128-bit attosecond count fits its low half): one 64-bit
        // division, where `components` divides 128-bit integers (a twentieth of a timer's start).
        if _high == 0 { return _low / 1_000_000_000 }
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds < 0) { throw .invalidDuration(self) }
        let (scaled, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow2 ? .max : sum
    }
}
