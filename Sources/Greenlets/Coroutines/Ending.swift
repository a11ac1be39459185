/// How a plain greenlet's body ended, or what the first switch into it carried: passed between
/// the frames that start and end a greenlet, never stored (``Greenlet`` records the ending in
/// fields of its own). Spawned greenlets do without it.
///
/// A concrete enum rather than `Result<Any?, any Error>`: the compiler writes out its copies and
/// destructions, where a `Result` of existentials goes through the runtime's generic value
/// witnesses.
enum Ending {
    /// Returned `nil`, or `Void`; for a switch, carried nothing.
    case returnedNothing
    case returned(Any)
    case threw(any Error)

    init(_ value: Any?) {
        if let value { self = .returned(value) } else { self = .returnedNothing }
    }
}
