import GreenloopCore

/// The end of a wait that may take several turns (a retry after a hand-off fell through), on the
/// monotonic clock: each turn waits only for what is left of the caller's timeout.
struct WaitDeadline {
    /// Nanoseconds on the monotonic clock; `nil` for no limit.
    private let end: UInt64?

    /// `timeout` from now; `nil` for no limit. A negative timeout is already over.
    init(_ timeout: Duration?) {
        guard let timeout else {
            end = nil
            return
        }
        let nanoseconds = (try? timeout.timerNanoseconds()) ?? 0
        let (sum, overflow) = LoopInstant.monotonicNow().nanoseconds.addingReportingOverflow(nanoseconds)
        end = overflow ? .max : sum
    }

    /// What is left: `nil` for no limit, `.zero` once the end has passed.
    var remaining: Duration? {
        guard let end else { return nil }
        let now = LoopInstant.monotonicNow().nanoseconds
        return now >= end ? .zero : .nanoseconds(Int64(clamping: end - now))
    }
}
