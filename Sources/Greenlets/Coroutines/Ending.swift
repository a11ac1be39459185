/// How a greenlet's body ended, or what a switch into it carried.
///
/// A concrete enum rather than `Result<Any?, any Error>`: the compiler writes out its copies and
/// destructions, where a `Result` of existentials goes through the runtime's generic value
/// witnesses (measured: a fifth of a spawn+join).
enum Ending {
    /// Returned `nil`, or `Void`; for a switch, carried nothing.
    case returnedNothing
    case returned(Any)
    case threw(any Error)

    init(_ value: Any?) {
        if let value { self = .returned(value) } else { self = .returnedNothing }
    }

    /// The same, as a `Result`.
    var result: Result<Any?, any Error> {
        switch self {
        case .returnedNothing: return .success(nil)
        case .returned(let value): return .success(value)
        case .threw(let error): return .failure(error)
        }
    }

    /// What a parent receives when a child ends so: its value, or its error (``GreenletExit`` is
    /// not an error: nothing).
    var delivery: (value: Any?, error: (any Error)?) {
        switch self {
        case .returnedNothing: return (nil, nil)
        case .returned(let value): return (value, nil)
        case .threw(let error) where error is GreenletExit: return (nil, nil)
        case .threw(let error): return (nil, error)
        }
    }
}
